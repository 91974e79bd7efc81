package kubelet

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// hostsFilePath is the pod's managed /etc/hosts on the host ("" for
// hollow nodes).
func (k *Kubelet) hostsFilePath(pod *corev1.Pod) string {
	if k.cfg.Hollow {
		return ""
	}
	return filepath.Join(k.podDir(string(pod.UID)), "etc-hosts")
}

// ensureHostsFile writes the pod's /etc/hosts: for pod-network pods the
// loopback entries, the pod's own IPs with its hostname (and FQDN with a
// subdomain), then spec.hostAliases; host-network pods get the host's
// file plus their aliases. Rewritten only when its content changes.
func (k *Kubelet) ensureHostsFile(pod *corev1.Pod, podIPs []string) error {
	path := k.hostsFilePath(pod)
	if path == "" {
		return nil
	}
	var b bytes.Buffer
	if pod.Spec.HostNetwork {
		host, err := os.ReadFile("/etc/hosts")
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		b.Write(host)
		if len(host) > 0 && host[len(host)-1] != '\n' {
			b.WriteByte('\n')
		}
	} else {
		hostname, domain, err := k.podHostname(pod)
		if err != nil {
			return err
		}
		short, _, _ := strings.Cut(hostname, ".")
		b.WriteString("# Kubernetes-managed hosts file.\n")
		b.WriteString("127.0.0.1\tlocalhost\n")
		b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
		b.WriteString("fe00::0\tip6-localnet\n")
		b.WriteString("fe00::0\tip6-mcastprefix\n")
		b.WriteString("fe00::1\tip6-allnodes\n")
		b.WriteString("fe00::2\tip6-allrouters\n")
		for _, ip := range podIPs {
			if domain != "" {
				fmt.Fprintf(&b, "%s\t%s.%s\t%s\n", ip, short, domain, short)
			} else {
				fmt.Fprintf(&b, "%s\t%s\n", ip, short)
			}
		}
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
		}
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b.Bytes()) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
