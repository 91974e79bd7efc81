package kubelet

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Resolver limits, as glibc and upstream's kubelet apply them.
const (
	maxDNSNameservers = 3
	maxDNSSearches    = 32
	maxDNSSearchChars = 2048
)

// resolvConf is the part of a resolv.conf the kubelet uses.
type resolvConf struct {
	nameservers, searches, options []string
}

// readResolvConf parses path; a missing file is an empty config.
func readResolvConf(path string) (*resolvConf, error) {
	f, err := os.Open(path)
	if err != nil {
		return &resolvConf{}, err
	}
	defer f.Close()
	rc := &resolvConf{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "nameserver":
			rc.nameservers = append(rc.nameservers, fields[1])
		case "search", "domain":
			rc.searches = fields[1:] // the last one wins, as in the resolver
		case "options":
			rc.options = append(rc.options, fields[1:]...)
		}
	}
	return rc, sc.Err()
}

// dnsConfig is the sandbox's resolver configuration for the pod's
// dnsPolicy:
//   - ClusterFirst (default; ClusterFirstWithHostNet for host-network
//     pods): the cluster DNS, searches <ns>.svc.<domain> svc.<domain>
//     <domain> then the host's, ndots:5;
//   - Default (and ClusterFirst on the host network): the host's
//     resolv.conf;
//   - None: only spec.dnsConfig.
//
// spec.dnsConfig is merged in last. The second result is a warning to
// post as an event (limits exceeded, no cluster DNS configured).
func (k *Kubelet) dnsConfig(pod *corev1.Pod) (*runtimeapi.DNSConfig, string) {
	policy := pod.Spec.DNSPolicy
	if policy == "" {
		policy = corev1.DNSClusterFirst
	}
	cluster := policy == corev1.DNSClusterFirstWithHostNet || policy == corev1.DNSClusterFirst && !pod.Spec.HostNetwork
	var warning string
	if cluster && len(k.cfg.ClusterDNS) == 0 {
		warning = "kubelet does not have ClusterDNS IP configured and cannot create Pod using \"ClusterFirst\" policy. Falling back to \"Default\" policy."
		cluster = false
	}
	cfg := &runtimeapi.DNSConfig{}
	switch {
	case policy == corev1.DNSNone:
	case cluster:
		d := k.cfg.ClusterDomain
		cfg.Servers = append([]string{}, k.cfg.ClusterDNS...)
		cfg.Searches = append([]string{pod.Namespace + ".svc." + d, "svc." + d, d}, k.hostDNS.searches...)
		cfg.Options = []string{"ndots:5"}
	default:
		cfg.Servers = append([]string{}, k.hostDNS.nameservers...)
		cfg.Searches = append([]string{}, k.hostDNS.searches...)
		cfg.Options = append([]string{}, k.hostDNS.options...)
	}
	if dc := pod.Spec.DNSConfig; dc != nil {
		cfg.Servers = appendUnique(cfg.Servers, dc.Nameservers...)
		cfg.Searches = appendUnique(cfg.Searches, dc.Searches...)
		cfg.Options = mergeDNSOptions(cfg.Options, dc.Options)
	}
	cfg.Searches = dedupe(cfg.Searches)
	if w := limitDNS(cfg); w != "" {
		warning = w
	}
	return cfg, warning
}

// limitDNS trims nameservers and searches to what resolvers accept.
func limitDNS(cfg *runtimeapi.DNSConfig) string {
	var warning string
	if len(cfg.Servers) > maxDNSNameservers {
		cfg.Servers = cfg.Servers[:maxDNSNameservers]
		warning = fmt.Sprintf("Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: %s", strings.Join(cfg.Servers, " "))
	}
	total, n := 0, 0
	for n < len(cfg.Searches) && n < maxDNSSearches && total+len(cfg.Searches[n]) <= maxDNSSearchChars {
		total += len(cfg.Searches[n]) + 1
		n++
	}
	if n < len(cfg.Searches) {
		cfg.Searches = cfg.Searches[:n]
		warning = fmt.Sprintf("Search Line limits were exceeded, some search paths have been omitted, the applied search line is: %s", strings.Join(cfg.Searches, " "))
	}
	return warning
}

func appendUnique(list []string, more ...string) []string {
	for _, m := range more {
		found := false
		for _, x := range list {
			found = found || x == m
		}
		if !found {
			list = append(list, m)
		}
	}
	return list
}

func dedupe(list []string) []string { return appendUnique(nil, list...) }

// mergeDNSOptions overrides options by name; a pod option without a value
// is "name", with one "name:value".
func mergeDNSOptions(base []string, extra []corev1.PodDNSConfigOption) []string {
	order := []string{}
	values := map[string]string{}
	set := func(name, opt string) {
		if _, ok := values[name]; !ok {
			order = append(order, name)
		}
		values[name] = opt
	}
	for _, o := range base {
		name, _, _ := strings.Cut(o, ":")
		set(name, o)
	}
	for _, o := range extra {
		opt := o.Name
		if o.Value != nil {
			opt += ":" + *o.Value
		}
		set(o.Name, opt)
	}
	out := make([]string, 0, len(order))
	for _, name := range order {
		out = append(out, values[name])
	}
	return out
}

// podHostname returns the pod's hostname and, with a subdomain, its
// domain: hostname is spec.hostname or the pod's name cut to 63
// characters; the domain is <subdomain>.<ns>.svc.<cluster domain>.
func (k *Kubelet) podHostname(pod *corev1.Pod) (hostname, domain string, err error) {
	hostname = pod.Spec.Hostname
	if hostname == "" {
		hostname = pod.Name
		if len(hostname) > 63 {
			hostname = strings.TrimRight(hostname[:63], "-.")
		}
	}
	if pod.Spec.Subdomain != "" {
		domain = pod.Spec.Subdomain + "." + pod.Namespace + ".svc." + k.cfg.ClusterDomain
	}
	if pod.Spec.SetHostnameAsFQDN != nil && *pod.Spec.SetHostnameAsFQDN && domain != "" {
		fqdn := hostname + "." + domain
		if len(fqdn) > 64 {
			return "", "", fmt.Errorf("failed to construct FQDN from pod hostname and cluster domain, FQDN %s is too long (64 characters is the max, %d characters requested)", fqdn, len(fqdn))
		}
		hostname = fqdn
	}
	return hostname, domain, nil
}
