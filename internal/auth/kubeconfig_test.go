package auth

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

func TestWriteKubeconfig(t *testing.T) {
	dir := t.TempDir()
	ca := mustCA(t, dir)
	certPEM, keyPEM, err := EnsureClientCert(dir, "admin", ca, AdminUser, []string{GroupMasters})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sub", "admin.kubeconfig")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	// An existing, too readable file is replaced and its mode tightened.
	os.WriteFile(path, []byte("old"), 0o644)
	if err := WriteKubeconfig(path, "https://127.0.0.1:6443", ca.CertPEM, certPEM, keyPEM, "", ""); err != nil {
		t.Fatal(err)
	}
	if m := fileMode(t, path); m != 0o600 {
		t.Errorf("mode %v, want 0600", m)
	}
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CurrentContext != "default" || len(cfg.Contexts) != 1 || len(cfg.Clusters) != 1 || len(cfg.AuthInfos) != 1 {
		t.Fatalf("config %+v", cfg)
	}
	ctx := cfg.Contexts["default"]
	if ctx == nil || ctx.Cluster != "default" || ctx.AuthInfo != "default" {
		t.Fatalf("context %+v", ctx)
	}
	cl, user := cfg.Clusters["default"], cfg.AuthInfos["default"]
	if cl.Server != "https://127.0.0.1:6443" || !bytes.Equal(cl.CertificateAuthorityData, ca.CertPEM) {
		t.Errorf("cluster %+v", cl)
	}
	if !bytes.Equal(user.ClientCertificateData, certPEM) || !bytes.Equal(user.ClientKeyData, keyPEM) {
		t.Error("client credentials not embedded")
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestWriteTokenKubeconfig(t *testing.T) {
	dir := t.TempDir()
	ca := mustCA(t, dir)
	path := filepath.Join(dir, "node.kubeconfig")
	if err := WriteTokenKubeconfig(path, "https://10.0.0.1:6443", ca.CertPEM, "abcdef.0123456789abcdef", "skiff", "node"); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	if cfg.CurrentContext != "default" || ctx.Cluster != "skiff" || ctx.AuthInfo != "node" {
		t.Fatalf("context %q %+v", cfg.CurrentContext, ctx)
	}
	if cfg.AuthInfos["node"].Token != "abcdef.0123456789abcdef" {
		t.Error("token not written")
	}
	if fileMode(t, path) != 0o600 {
		t.Error("mode not 0600")
	}
}
