package auth

import (
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// kubeconfigContext is the one context skiff writes, named as k3s names it.
const kubeconfigContext = "default"

// WriteKubeconfig writes a kubeconfig (mode 0600, replacing any file at
// path) with one cluster, one user authenticating by client certificate,
// and one context "default" joining them, which is the current context.
// All credentials are embedded. Empty clusterName or userName mean
// "default".
func WriteKubeconfig(path, serverURL string, caPEM, certPEM, keyPEM []byte, clusterName, userName string) error {
	return writeKubeconfig(path, serverURL, caPEM, clusterName, userName,
		&clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM})
}

// WriteTokenKubeconfig is WriteKubeconfig for a user that authenticates
// with a bearer token.
func WriteTokenKubeconfig(path, serverURL string, caPEM []byte, token, clusterName, userName string) error {
	return writeKubeconfig(path, serverURL, caPEM, clusterName, userName,
		&clientcmdapi.AuthInfo{Token: token})
}

func writeKubeconfig(path, serverURL string, caPEM []byte, clusterName, userName string, user *clientcmdapi.AuthInfo) error {
	if clusterName == "" {
		clusterName = "default"
	}
	if userName == "" {
		userName = "default"
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[clusterName] = &clientcmdapi.Cluster{Server: serverURL, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[userName] = user
	cfg.Contexts[kubeconfigContext] = &clientcmdapi.Context{Cluster: clusterName, AuthInfo: userName}
	cfg.CurrentContext = kubeconfigContext
	// clientcmd.WriteToFile neither replaces atomically nor tightens the
	// mode of an existing file; encode with clientcmd, write ourselves.
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data, 0o600)
}
