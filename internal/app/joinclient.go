package app

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/skiff-sh/skiff/internal/auth"
)

// NodeIdentity is what a node holds after joining: the cluster CA, its
// kubelet client and serving key pairs, and the cluster facts.
type NodeIdentity struct {
	CAPEM                         []byte
	ClientCertPEM, ClientKeyPEM   []byte
	ServingCertPEM, ServingKeyPEM []byte
	Facts                         NodeCredentials
}

// identity files under the agent's tls dir.
const (
	idCA          = "ca.crt"
	idClientCert  = "kubelet-client.crt"
	idClientKey   = "kubelet-client.key"
	idServingCert = "kubelet-serving.crt"
	idServingKey  = "kubelet-serving.key"
	idFacts       = "cluster.json"
)

// JoinCluster returns the node's identity from dir if it holds a valid one
// for nodeName, and otherwise joins through serverURL with the token and
// stores the result in dir.
func JoinCluster(ctx context.Context, serverURL, token, nodeName string, addresses []net.IP, dir string) (*NodeIdentity, error) {
	if id, err := loadIdentity(dir, nodeName); err == nil {
		return id, nil
	}
	t, err := auth.ParseJoinToken(token)
	if err != nil {
		return nil, err
	}
	if t.CAHash == "" {
		return nil, fmt.Errorf("join token has no CA hash: give the full K10... token the server printed")
	}
	caPEM, err := fetchCA(ctx, serverURL, t)
	if err != nil {
		return nil, err
	}
	clientKey, clientCSR, err := newKeyAndCSR(auth.NodeUser(nodeName))
	if err != nil {
		return nil, err
	}
	servingKey, servingCSR, err := newKeyAndCSR(nodeName)
	if err != nil {
		return nil, err
	}
	req := NodeCredentialsRequest{NodeName: nodeName, ClientCSR: string(clientCSR), ServingCSR: string(servingCSR)}
	for _, ip := range addresses {
		req.Addresses = append(req.Addresses, ip.String())
	}
	body, _ := json.Marshal(req)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, serverURL+JoinCredentialsPath, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Authorization", "Bearer "+t.Secret())
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", serverURL, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("join %s: %s: %s", serverURL, resp.Status, bytes.TrimSpace(data))
	}
	var creds NodeCredentials
	if err := json.Unmarshal(data, &creds); err != nil {
		return nil, fmt.Errorf("join %s: %w", serverURL, err)
	}
	id := &NodeIdentity{CAPEM: caPEM, ClientCertPEM: []byte(creds.ClientCert), ClientKeyPEM: clientKey,
		ServingCertPEM: []byte(creds.ServingCert), ServingKeyPEM: servingKey, Facts: creds}
	id.Facts.CA, id.Facts.ClientCert, id.Facts.ServingCert = "", "", ""
	return id, id.save(dir)
}

// fetchCA downloads the CA without trusting the connection, then trusts
// it only if it matches the token's hash.
func fetchCA(ctx context.Context, serverURL string, t auth.JoinToken) ([]byte, error) {
	insecure := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // verified against the token's hash below
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, serverURL+JoinCAPath, nil)
	if err != nil {
		return nil, err
	}
	resp, err := insecure.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch cluster CA from %s: %w", serverURL, err)
	}
	defer resp.Body.Close()
	caPEM, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch cluster CA from %s: %s %v", serverURL, resp.Status, err)
	}
	block, _ := pem.Decode(caPEM)
	if block == nil {
		return nil, fmt.Errorf("cluster CA from %s is not PEM", serverURL)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, err
	}
	if !t.MatchesCA(cert) {
		return nil, fmt.Errorf("the CA served by %s does not match the join token's hash (%s): refusing to trust it",
			serverURL, auth.CertHash(cert))
	}
	return caPEM, nil
}

func newKeyAndCSR(cn string) (keyPEM, csrPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

func (id *NodeIdentity) save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	facts, _ := json.MarshalIndent(id.Facts, "", "  ")
	for name, data := range map[string][]byte{idCA: id.CAPEM, idClientCert: id.ClientCertPEM, idClientKey: id.ClientKeyPEM,
		idServingCert: id.ServingCertPEM, idServingKey: id.ServingKeyPEM, idFacts: facts} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// loadIdentity reads a saved identity, valid only if its client
// certificate is for nodeName and has more than a day left.
func loadIdentity(dir, nodeName string) (*NodeIdentity, error) {
	id := &NodeIdentity{}
	for name, dst := range map[string]*[]byte{idCA: &id.CAPEM, idClientCert: &id.ClientCertPEM, idClientKey: &id.ClientKeyPEM,
		idServingCert: &id.ServingCertPEM, idServingKey: &id.ServingKeyPEM} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		*dst = data
	}
	pair, err := tls.X509KeyPair(id.ClientCertPEM, id.ClientKeyPEM)
	if err != nil {
		return nil, err
	}
	if pair.Leaf.Subject.CommonName != auth.NodeUser(nodeName) || time.Until(pair.Leaf.NotAfter) < 24*time.Hour {
		return nil, fmt.Errorf("saved identity is for %q or about to expire", pair.Leaf.Subject.CommonName)
	}
	facts, err := os.ReadFile(filepath.Join(dir, idFacts))
	if err != nil {
		return nil, err
	}
	return id, json.Unmarshal(facts, &id.Facts)
}
