package dns

import (
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// goldenInput is a zone's contents and the questions asked of it; the
// golden file beside it holds the answers.
type goldenInput struct {
	Domain         string                      `json:"domain"`
	NSAddrs        []string                    `json:"nsAddrs"`
	Services       []corev1.Service            `json:"services"`
	EndpointSlices []discoveryv1.EndpointSlice `json:"endpointSlices"`
	// Queries are "TYPE name", e.g. "A web.default.svc.cluster.local.".
	Queries []string `json:"queries"`
}

func loadZone(t testing.TB, path string) (*zone, []dns.Question) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var g goldenInput
	if err := yaml.UnmarshalStrict(data, &g); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	cat := catalog{
		services: cache.NewIndexer(cache.MetaNamespaceKeyFunc, serviceIndexers()),
		slices:   cache.NewIndexer(cache.MetaNamespaceKeyFunc, sliceIndexers()),
	}
	for i := range g.Services {
		if err := cat.services.Add(&g.Services[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i := range g.EndpointSlices {
		if err := cat.slices.Add(&g.EndpointSlices[i]); err != nil {
			t.Fatal(err)
		}
	}
	var nsAddrs []net.IP
	for _, a := range g.NSAddrs {
		nsAddrs = append(nsAddrs, net.ParseIP(a))
	}
	domain := g.Domain
	if domain == "" {
		domain = DefaultDomain
	}
	z := newZone(dns.CanonicalName(domain), 5, cat, nsAddrs, 2024010100)
	var qs []dns.Question
	for _, q := range g.Queries {
		typ, name, ok := strings.Cut(q, " ")
		qtype, known := dns.StringToType[typ]
		if !ok || !known {
			t.Fatalf("%s: query %q is not \"TYPE name\"", path, q)
		}
		qs = append(qs, dns.Question{Name: dns.Fqdn(name), Qtype: qtype, Qclass: dns.ClassINET})
	}
	return z, qs
}

// renderAnswers prints each question and the zone's answer in zone-file
// form, sections in order.
func renderAnswers(z *zone, qs []dns.Question) string {
	var b strings.Builder
	for _, q := range qs {
		fmt.Fprintf(&b, "? %s %s\n", dns.TypeToString[q.Qtype], q.Name)
		r, ok := z.lookup(q)
		if !ok {
			b.WriteString("forward\n\n")
			continue
		}
		fmt.Fprintf(&b, "rcode %s\n", dns.RcodeToString[r.rcode])
		for _, s := range []struct {
			name string
			rrs  []dns.RR
		}{{"answer", r.answer}, {"authority", r.ns}, {"additional", r.extra}} {
			for _, rr := range s.rrs {
				fmt.Fprintf(&b, "%s: %s\n", s.name, strings.ReplaceAll(rr.String(), "\t", " "))
			}
		}
		if r.chase != "" {
			fmt.Fprintf(&b, "chase %s\n", r.chase)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestZoneGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, path := range inputs {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			z, qs := loadZone(t, path)
			got := renderAnswers(z, qs)
			golden := strings.TrimSuffix(path, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from the answers (run with -update to accept):\n%s", golden, lineDiff(string(want), got))
			}
		})
	}
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(g, l) {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	return b.String()
}

func TestParseReverse(t *testing.T) {
	for name, want := range map[string]string{
		"1.0.43.10.in-addr.arpa.":   "10.43.0.1",
		"1.0.43.in-addr.arpa.":      "",
		"01.0.43.10.in-addr.arpa.":  "",
		"256.0.43.10.in-addr.arpa.": "",
		"a.0.43.10.in-addr.arpa.":   "",
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.": "fd00::1",
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.":   "",
		"x.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.": "",
		"example.com.": "",
	} {
		got := parseReverse(name)
		if want == "" {
			if got != nil {
				t.Errorf("parseReverse(%q) = %v, want nil", name, got)
			}
			continue
		}
		if !got.Equal(net.ParseIP(want)) {
			t.Errorf("parseReverse(%q) = %v, want %s", name, got, want)
		}
		if back, _ := dns.ReverseAddr(want); back != name {
			t.Errorf("ReverseAddr(%s) = %q, not the name parsed", want, back)
		}
	}
}
