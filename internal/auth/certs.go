package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

const (
	servingValidity = 365 * 24 * time.Hour
	clientValidity  = 365 * 24 * time.Hour
	// renewBefore: a certificate this close to expiry is reissued.
	renewBefore = 30 * 24 * time.Hour
)

// EnsureServingCert returns the API server's certificate from
// dir/serving.crt and dir/serving.key, issuing a new one (valid 1 year)
// unless the existing one is signed by ca, is a server certificate, does
// not expire within 30 days and covers every requested DNS name and IP.
// Names it covers beyond those requested do not force a new certificate.
//
// Callers pass the hostname, localhost, kubernetes, kubernetes.default,
// kubernetes.default.svc, kubernetes.default.svc.cluster.local, 127.0.0.1,
// the node IPs and the kubernetes service IP.
func EnsureServingCert(dir string, ca *CA, hosts []string, ips []net.IP) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, "serving.crt"), filepath.Join(dir, "serving.key")
	if certPEM, keyPEM, err := readPair(certPath, keyPath); err == nil {
		if cert, _, err := parsePair(certPEM, keyPEM); err == nil &&
			reusable(cert, ca, x509.ExtKeyUsageServerAuth) && coversSANs(cert, hosts, ips) {
			return tls.X509KeyPair(certPEM, keyPEM)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM, err := ca.SignServingCert(key.Public(), hosts, ips, servingValidity)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writePEMPair(certPath, keyPath, certPEM, keyPEM); err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// EnsureClientCert returns the client certificate dir/<name>.crt and its
// key dir/<name>.key as PEM, issuing a new one (valid 1 year) unless the
// existing one is signed by ca, is a client certificate, does not expire
// within 30 days, and names the same user (CN) and groups (O, in any
// order). The admin uses AdminUser in GroupMasters.
func EnsureClientCert(dir, name string, ca *CA, user string, groups []string) (certPEM, keyPEM []byte, err error) {
	if name == "" || strings.ContainsRune(name, filepath.Separator) {
		return nil, nil, fmt.Errorf("client certificate file name %q is not a plain name", name)
	}
	certPath, keyPath := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if certPEM, keyPEM, err := readPair(certPath, keyPath); err == nil {
		if cert, _, err := parsePair(certPEM, keyPEM); err == nil &&
			reusable(cert, ca, x509.ExtKeyUsageClientAuth) &&
			cert.Subject.CommonName == user && sameSet(cert.Subject.Organization, groups) {
			return certPEM, keyPEM, nil
		}
	}
	certPEM, keyPEM, err = IssueClientCert(ca, user, groups, clientValidity)
	if err != nil {
		return nil, nil, err
	}
	if err := writePEMPair(certPath, keyPath, certPEM, keyPEM); err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

// IssueClientCert creates a key and a client certificate for user in
// groups, valid for validity, and returns both as PEM without writing
// them anywhere. Node join uses it with NodeUser(name) in GroupNodes.
func IssueClientCert(ca *CA, user string, groups []string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	certPEM, err = ca.SignClientCert(key.Public(), user, groups, validity)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

// reusable: signed by ca, good for the given use, and neither not yet
// valid nor close to expiry.
func reusable(cert *x509.Certificate, ca *CA, usage x509.ExtKeyUsage) bool {
	now := time.Now()
	if now.Before(cert.NotBefore) || now.Add(renewBefore).After(cert.NotAfter) {
		return false
	}
	if !slices.Contains(cert.ExtKeyUsage, usage) {
		return false
	}
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:     ca.Pool(),
		KeyUsages: []x509.ExtKeyUsage{usage},
	})
	return err == nil
}

// coversSANs reports whether cert is valid for every requested name.
func coversSANs(cert *x509.Certificate, hosts []string, ips []net.IP) bool {
	dns, allIPs := normalizeSANs(hosts, ips)
	for _, h := range dns {
		if !slices.ContainsFunc(cert.DNSNames, func(s string) bool { return strings.EqualFold(s, h) }) {
			return false
		}
	}
	for _, ip := range allIPs {
		if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

// normalizeSANs drops empty and duplicate names, lowercases DNS names and
// moves hosts that are IP literals to the IPs.
func normalizeSANs(hosts []string, ips []net.IP) (dns []string, allIPs []net.IP) {
	addIP := func(ip net.IP) {
		if ip == nil || slices.ContainsFunc(allIPs, ip.Equal) {
			return
		}
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		allIPs = append(allIPs, ip)
	}
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" || slices.Contains(dns, h) {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			addIP(ip)
			continue
		}
		dns = append(dns, h)
	}
	for _, ip := range ips {
		addIP(ip)
	}
	return dns, allIPs
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}
