package auth

import (
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// WriteKubeconfig writes a kubeconfig (mode 0600) for serverURL with a
// client certificate, with one context "default" as k3s does.
func WriteKubeconfig(path, serverURL string, caPEM, certPEM, keyPEM []byte, clusterName, userName string) error {
	cfg := newConfig(serverURL, caPEM, clusterName, userName)
	cfg.AuthInfos[userName] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	return writeConfig(path, cfg)
}

// WriteTokenKubeconfig writes a kubeconfig that authenticates by token.
func WriteTokenKubeconfig(path, serverURL string, caPEM []byte, token, clusterName, userName string) error {
	cfg := newConfig(serverURL, caPEM, clusterName, userName)
	cfg.AuthInfos[userName] = &clientcmdapi.AuthInfo{Token: token}
	return writeConfig(path, cfg)
}

func newConfig(serverURL string, caPEM []byte, clusterName, userName string) *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[clusterName] = &clientcmdapi.Cluster{Server: serverURL, CertificateAuthorityData: caPEM}
	cfg.Contexts["default"] = &clientcmdapi.Context{Cluster: clusterName, AuthInfo: userName}
	cfg.CurrentContext = "default"
	return cfg
}

func writeConfig(path string, cfg *clientcmdapi.Config) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
