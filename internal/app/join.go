package app

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/skiff-sh/skiff/internal/auth"
)

// Joining a node, the way k3s does it rather than through the CSR API: the
// agent holds a join token K10<CA hash>::<id>.<secret>. It fetches the CA
// from JoinCAPath (public), checks it against the hash, then — now over
// verified TLS, authenticated by the token — posts certificate requests to
// JoinCredentialsPath and gets back its kubelet client certificate
// (system:node:<name> in system:nodes) and its kubelet serving
// certificate, both signed by the cluster CA.
const (
	JoinCAPath          = "/skiff/v1/cacerts"
	JoinCredentialsPath = "/skiff/v1/node-credentials"
	nodeCertValidity    = 365 * 24 * time.Hour
)

// NodeCredentialsRequest is what a joining agent posts.
type NodeCredentialsRequest struct {
	NodeName string `json:"nodeName"`
	// ClientCSR and ServingCSR are PEM certificate requests; only their
	// public keys are used: names come from NodeName and Addresses.
	ClientCSR  string   `json:"clientCSR"`
	ServingCSR string   `json:"servingCSR"`
	Addresses  []string `json:"addresses"`
}

// NodeCredentials is the answer.
type NodeCredentials struct {
	CA          string `json:"ca"`
	ClientCert  string `json:"clientCert"`
	ServingCert string `json:"servingCert"`
	// Cluster facts the kubelet needs.
	ClusterDNS    string `json:"clusterDNS"`
	ClusterDomain string `json:"clusterDomain"`
	ClusterCIDR   string `json:"clusterCIDR"`
	// Registry is the image registry's pull address for containerd's
	// mirror configuration ("" when the server runs none).
	Registry string `json:"registry,omitempty"`
}

// joinHandler serves the two join paths in front of next (the API).
type joinHandler struct {
	next  http.Handler
	ca    *auth.CA
	authn auth.Authenticator
	facts NodeCredentials // cluster facts copied into every answer
}

func (h *joinHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case JoinCAPath:
		if r.Method != http.MethodGet {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(h.ca.CertPEM)
	case JoinCredentialsPath:
		h.serveCredentials(w, r)
	default:
		h.next.ServeHTTP(w, r)
	}
}

func (h *joinHandler) serveCredentials(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	user, ok, err := h.authn.AuthenticateRequest(r)
	if err != nil || !ok {
		http.Error(w, "Unauthorized: a join token is required", http.StatusUnauthorized)
		return
	}
	if !user.InGroup(auth.GroupBootstrappers) && !user.InGroup(auth.GroupMasters) {
		http.Error(w, fmt.Sprintf("Forbidden: user %q may not obtain node credentials", user.Name), http.StatusForbidden)
		return
	}
	var req NodeCredentialsRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	creds, err := h.issue(req)
	if err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(creds)
}

func (h *joinHandler) issue(req NodeCredentialsRequest) (*NodeCredentials, error) {
	if err := validNodeName(req.NodeName); err != nil {
		return nil, err
	}
	clientKey, err := csrPublicKey(req.ClientCSR)
	if err != nil {
		return nil, fmt.Errorf("clientCSR: %w", err)
	}
	servingKey, err := csrPublicKey(req.ServingCSR)
	if err != nil {
		return nil, fmt.Errorf("servingCSR: %w", err)
	}
	var ips []net.IP
	for _, a := range req.Addresses {
		ip := net.ParseIP(a)
		if ip == nil {
			return nil, fmt.Errorf("address %q is not an IP", a)
		}
		ips = append(ips, ip)
	}
	clientPEM, err := h.ca.SignClientCert(clientKey, auth.NodeUser(req.NodeName), []string{auth.GroupNodes}, nodeCertValidity)
	if err != nil {
		return nil, err
	}
	servingPEM, err := h.ca.SignServingCert(servingKey, []string{req.NodeName}, ips, nodeCertValidity)
	if err != nil {
		return nil, err
	}
	out := h.facts
	out.CA, out.ClientCert, out.ServingCert = string(h.ca.CertPEM), string(clientPEM), string(servingPEM)
	return &out, nil
}

func csrPublicKey(p string) (any, error) {
	block, _ := pem.Decode([]byte(p))
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, fmt.Errorf("not a PEM certificate request")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	return csr.PublicKey, nil
}

// validNodeName applies the Node name rule (a DNS subdomain) up front, so
// no certificate is ever issued for a name no Node can have.
func validNodeName(name string) error {
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("node name %q: %s", name, strings.Join(errs, "; "))
	}
	return nil
}
