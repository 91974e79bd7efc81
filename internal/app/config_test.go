package app

import (
	"net/netip"
	"strings"
	"testing"
)

func TestCompressionClientsConfig(t *testing.T) {
	contains := func(prefixes []netip.Prefix, ip string) bool {
		for _, p := range prefixes {
			if p.Contains(netip.MustParseAddr(ip)) {
				return true
			}
		}
		return false
	}
	// Unset: loopback gets no gzip, other clients do.
	c := ServerConfig{DataDir: t.TempDir()}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !contains(c.disableCompressionFor, "127.0.0.1") || !contains(c.disableCompressionFor, "::1") || contains(c.disableCompressionFor, "10.0.0.1") {
		t.Fatalf("default exemptions: %v", c.disableCompressionFor)
	}
	// Empty: every client may get gzip, as kube-apiserver's default.
	c = ServerConfig{DataDir: t.TempDir(), DisableCompressionForClientIPs: []string{}}
	if err := c.Validate(); err != nil || len(c.disableCompressionFor) != 0 {
		t.Fatalf("empty list: %v, %v", err, c.disableCompressionFor)
	}
	c = ServerConfig{DataDir: t.TempDir(), DisableCompressionForClientIPs: []string{"10.0.0.0/8", "fd00::/8"}}
	if err := c.Validate(); err != nil || !contains(c.disableCompressionFor, "10.9.9.9") || contains(c.disableCompressionFor, "127.0.0.1") {
		t.Fatalf("explicit list: %v, %v", err, c.disableCompressionFor)
	}
	c = ServerConfig{DataDir: t.TempDir(), DisableCompressionForClientIPs: []string{"10.0.0.1"}}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "disable compression for client IPs") {
		t.Fatalf("an address without a prefix length: %v", err)
	}
}
