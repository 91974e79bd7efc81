package dns

import (
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/miekg/dns"
)

// systemdResolvConf lists the resolvers behind systemd-resolved's stub
// (127.0.0.53), which the host's /etc/resolv.conf names on such systems.
// A variable for tests.
var systemdResolvConf = "/run/systemd/resolve/resolv.conf"

// resolvConfUpstreams reads the nameservers of a resolv.conf as
// "ip:port", leaving out loopback addresses: in a pod's or the cluster
// DNS's own network they may be the cluster DNS itself, and forwarding to
// ourselves would loop. When nothing else is left and systemd-resolved's
// own list exists, that list is used instead. skipped are the addresses
// left out, for the log.
func resolvConfUpstreams(path string) (upstreams, skipped []string, err error) {
	upstreams, skipped, err = readNameservers(path)
	if err != nil || len(upstreams) > 0 || len(skipped) == 0 || path == systemdResolvConf {
		return upstreams, skipped, err
	}
	if _, statErr := os.Stat(systemdResolvConf); statErr != nil {
		return upstreams, skipped, nil
	}
	more, moreSkipped, err := readNameservers(systemdResolvConf)
	if err != nil {
		return nil, skipped, err
	}
	return more, append(skipped, moreSkipped...), nil
}

func readNameservers(path string) (upstreams, skipped []string, err error) {
	cc, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("dns: reading upstream resolvers: %w", err)
	}
	for _, s := range cc.Servers {
		host, _, _ := strings.Cut(s, "%") // an IPv6 zone, e.g. fe80::1%eth0
		ip := net.ParseIP(host)
		if ip == nil {
			continue // not an address: resolv.conf allows only addresses
		}
		addr := net.JoinHostPort(s, cc.Port)
		if ip.IsLoopback() {
			skipped = append(skipped, addr)
			continue
		}
		upstreams = append(upstreams, addr)
	}
	return upstreams, skipped, nil
}
