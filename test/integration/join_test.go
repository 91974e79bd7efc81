package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/app"
	"github.com/skiff-sh/skiff/test/framework"
)

// TestJoin: an agent with the join token gets a kubelet client
// certificate that the API server takes as system:node:<name>, and a
// serving certificate for its addresses, both from the cluster CA; a
// wrong token or a CA that does not match the token's hash is refused.
func TestJoin(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "tls")
	id, err := app.JoinCluster(ctx, s.URL, s.JoinToken, "worker-1", []net.IP{net.ParseIP("10.0.0.7")}, dir)
	if err != nil {
		t.Fatal(err)
	}
	client, err := tls.X509KeyPair(id.ClientCertPEM, id.ClientKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if cn, o := client.Leaf.Subject.CommonName, client.Leaf.Subject.Organization; cn != "system:node:worker-1" || len(o) != 1 || o[0] != "system:nodes" {
		t.Errorf("client cert subject = %q %q", cn, o)
	}
	serving, err := tls.X509KeyPair(id.ServingCertPEM, id.ServingKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(id.CAPEM)
	if _, err := serving.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "10.0.0.7",
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("serving cert does not verify for the node's address: %v", err)
	}
	if id.Facts.ClusterDNS != "10.43.0.10" || id.Facts.ClusterDomain != "cluster.local" || id.Facts.ClusterCIDR != "10.42.0.0/16" {
		t.Errorf("cluster facts = %+v", id.Facts)
	}
	cs := kubernetes.NewForConfigOrDie(&rest.Config{Host: s.URL, TLSClientConfig: rest.TLSClientConfig{
		CAData: id.CAPEM, CertData: id.ClientCertPEM, KeyData: id.ClientKeyPEM}})
	if _, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("the node's certificate is not accepted: %v", err)
	}

	// A second join finds the saved identity and asks nothing.
	again, err := app.JoinCluster(ctx, "https://127.0.0.1:1", s.JoinToken, "worker-1", nil, dir)
	if err != nil || string(again.ClientCertPEM) != string(id.ClientCertPEM) {
		t.Errorf("rejoin did not reuse the saved identity: %v", err)
	}

	bad := []struct{ name, token, want string }{
		{"malformed", "nonsense", "malformed join token"},
		{"bare token without CA hash", strings.SplitN(s.JoinToken, "::", 2)[1], "no CA hash"},
		{"wrong secret", strings.SplitN(s.JoinToken, "::", 2)[0] + "::abcdef.0123456789abcdef", "401"},
		{"wrong CA hash", "K10" + strings.Repeat("0", 64) + "::" + strings.SplitN(s.JoinToken, "::", 2)[1], "does not match"},
	}
	for _, b := range bad {
		_, err := app.JoinCluster(ctx, s.URL, b.token, "worker-2", nil, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: err = %v, want it to mention %q", b.name, err, b.want)
		}
	}
	if _, err := app.JoinCluster(ctx, s.URL, s.JoinToken, "Bad_Name", nil, t.TempDir()); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("invalid node name: err = %v, want 400", err)
	}
}
