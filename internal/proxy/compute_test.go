package proxy

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/knftables"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// goldenInput is the YAML form of an Input.
type goldenInput struct {
	Node struct {
		Name   string            `json:"name"`
		IPs    []string          `json:"ips"`
		Labels map[string]string `json:"labels"`
	} `json:"node"`
	Options struct {
		ClusterCIDR       string   `json:"clusterCIDR"`
		MasqueradeAll     bool     `json:"masqueradeAll"`
		NodePortAddresses []string `json:"nodePortAddresses"`
		NoSCTP            bool     `json:"noSCTP"`
	} `json:"options"`
	Services       []corev1.Service            `json:"services"`
	EndpointSlices []discoveryv1.EndpointSlice `json:"endpointSlices"`
}

func loadInput(t testing.TB, path string) Input {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var g goldenInput
	if err := yaml.UnmarshalStrict(data, &g); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	in := Input{Node: Node{Name: g.Node.Name, Labels: g.Node.Labels}}
	for _, s := range g.Node.IPs {
		in.Node.IPs = append(in.Node.IPs, net.ParseIP(s))
	}
	for _, s := range g.Options.NodePortAddresses {
		in.Options.NodePortAddresses = append(in.Options.NodePortAddresses, net.ParseIP(s))
	}
	if g.Options.ClusterCIDR != "" {
		_, cidr, err := net.ParseCIDR(g.Options.ClusterCIDR)
		if err != nil {
			t.Fatal(err)
		}
		in.Options.ClusterCIDR = cidr
	}
	in.Options.MasqueradeAll, in.Options.NoSCTP = g.Options.MasqueradeAll, g.Options.NoSCTP
	for i := range g.Services {
		in.Services = append(in.Services, &g.Services[i])
	}
	for i := range g.EndpointSlices {
		in.EndpointSlices = append(in.EndpointSlices, &g.EndpointSlices[i])
	}
	return in
}

// render applies rs to an in-memory nftables (which checks that every
// chain, set and map a rule or element names exists) and returns the
// table as nft commands, followed by the facts that are not rendered.
func render(t testing.TB, rs *Ruleset) string {
	t.Helper()
	fake := knftables.NewFake(knftables.IPv4Family, TableName)
	b := &backend{nft: fake}
	if _, err := b.apply(context.Background(), rs); err != nil {
		t.Fatalf("applying the ruleset: %v", err)
	}
	var out strings.Builder
	out.WriteString(fake.Dump())
	var udp []string
	for dst, eps := range rs.UDP {
		list := make([]string, len(eps))
		for i, e := range eps {
			list[i] = e.String()
		}
		udp = append(udp, fmt.Sprintf("# udp %s -> [%s]\n", dst, strings.Join(list, " ")))
	}
	slices.Sort(udp)
	out.WriteString(strings.Join(udp, ""))
	var hc []string
	for port, h := range rs.HealthChecks {
		hc = append(hc, fmt.Sprintf("# health-check-node-port %d %s/%s localEndpoints=%d\n", port, h.Namespace, h.Name, h.LocalEndpoints))
	}
	slices.Sort(hc)
	out.WriteString(strings.Join(hc, ""))
	return out.String()
}

func TestComputeGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, path := range inputs {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			in := loadInput(t, path)
			rs := Compute(in)
			got := render(t, &rs)
			if again := Compute(in); render(t, &again) != got {
				t.Fatal("Compute is not deterministic")
			}
			golden := strings.TrimSuffix(path, ".yaml") + ".nft"
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
				t.Errorf("%s differs from the computed table (run with -update to accept):\n%s", golden, lineDiff(string(want), got))
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
