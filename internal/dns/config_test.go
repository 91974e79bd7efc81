package dns

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"
)

func TestConfigValidate(t *testing.T) {
	client := fake.NewClientset()
	for _, tc := range []struct {
		cfg  Config
		want []string // substrings of the error; none for a valid config
	}{
		{Config{Client: client, Listen: []string{"127.0.0.1:0"}}, nil},
		{Config{Client: client, Listen: []string{"10.43.0.10:53"}, Domain: "k8s.example.", Upstreams: []string{"1.1.1.1", "[2606:4700::1111]:5353"}, TTL: 30 * time.Second}, nil},
		{Config{}, []string{"Client is required", "Listen address is required"}},
		{Config{Client: client, Listen: []string{"10.43.0.10"}}, []string{`Listen "10.43.0.10"`}},
		{Config{Client: client, Listen: []string{":53"}, Domain: "bad..domain"}, []string{"not a domain name"}},
		{Config{Client: client, Listen: []string{":53"}, Domain: "."}, []string{"not a domain name"}},
		{Config{Client: client, Listen: []string{":53"}, Upstreams: []string{"dns.google"}}, []string{`"dns.google" is not an IP`}},
		{Config{Client: client, Listen: []string{":53"}, TTL: 1500 * time.Millisecond}, []string{"whole seconds"}},
		{Config{Client: client, Listen: []string{":53"}, TTL: 2 * time.Hour}, []string{"whole seconds"}},
		{Config{Client: client, Listen: []string{":53"}, CacheSize: -1}, []string{"CacheSize"}},
	} {
		err := tc.cfg.validate()
		if len(tc.want) == 0 {
			if err != nil {
				t.Errorf("%+v: %v", tc.cfg, err)
			}
			continue
		}
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("validate() = %v, want it to mention %q", err, w)
			}
		}
	}
}

func TestNewDefaults(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(conf, []byte("search example.com\nnameserver 192.0.2.53\noptions ndots:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Logger: quiet, Client: fake.NewClientset(), Listen: []string{"10.43.0.10:53"}, Domain: "Cluster.Local", ResolvConf: conf})
	if err != nil {
		t.Fatal(err)
	}
	if s.zone.origin != "cluster.local." || s.zone.ttl != 5 {
		t.Errorf("zone %q TTL %d, want cluster.local. 5", s.zone.origin, s.zone.ttl)
	}
	if !slices.Equal(s.fwd.upstreams, []string{"192.0.2.53:53"}) {
		t.Errorf("upstreams %v", s.fwd.upstreams)
	}
	if len(s.zone.nsAddrs) != 1 || s.zone.nsAddrs[0].String() != "10.43.0.10" {
		t.Errorf("NS addresses %v", s.zone.nsAddrs)
	}
	// Never forward to ourselves.
	s, err = New(Config{Logger: quiet, Client: fake.NewClientset(), Listen: []string{"192.0.2.53:53"}, ResolvConf: conf})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.fwd.upstreams) != 0 {
		t.Errorf("upstreams %v include the server itself", s.fwd.upstreams)
	}
	if _, err := New(Config{Logger: quiet, Client: fake.NewClientset(), Listen: []string{":53"}, ResolvConf: filepath.Join(dir, "missing")}); err == nil {
		t.Error("New with a missing resolv.conf and no upstreams succeeded")
	}
}

func TestResolvConfUpstreams(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	content := "nameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver ::1\nnameserver fe80::1%eth0\nnameserver 2001:db8::53\n"
	if err := os.WriteFile(conf, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	up, skipped, err := resolvConfUpstreams(conf)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.0.0.2:53", "[fe80::1%eth0]:53", "[2001:db8::53]:53"}; !slices.Equal(up, want) {
		t.Errorf("upstreams %v, want %v", up, want)
	}
	if want := []string{"127.0.0.53:53", "[::1]:53"}; !slices.Equal(skipped, want) {
		t.Errorf("skipped %v, want %v", skipped, want)
	}
}

func TestResolvConfUpstreamsBehindSystemdResolved(t *testing.T) {
	dir := t.TempDir()
	stub := filepath.Join(dir, "resolv.conf")
	real := filepath.Join(dir, "systemd-resolv.conf")
	if err := os.WriteFile(stub, []byte("nameserver 127.0.0.53\noptions edns0 trust-ad\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer func(old string) { systemdResolvConf = old }(systemdResolvConf)
	systemdResolvConf = real

	// Only loopback, and systemd-resolved's own list absent: nothing.
	up, skipped, err := resolvConfUpstreams(stub)
	if err != nil || len(up) != 0 || len(skipped) != 1 {
		t.Errorf("without systemd's list: %v %v %v", up, skipped, err)
	}
	if err := os.WriteFile(real, []byte("nameserver 192.0.2.1\nnameserver 192.0.2.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	up, skipped, err = resolvConfUpstreams(stub)
	if err != nil || !slices.Equal(up, []string{"192.0.2.1:53", "192.0.2.2:53"}) || !slices.Equal(skipped, []string{"127.0.0.53:53"}) {
		t.Errorf("with systemd's list: %v %v %v", up, skipped, err)
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
