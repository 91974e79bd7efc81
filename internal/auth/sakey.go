package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

const (
	saKeyFile = "sa.key"
	saPubFile = "sa.pub"
)

// EnsureServiceAccountKey loads dir/sa.key, the key that signs service
// account tokens, or creates it (ECDSA P-256) when it does not exist. It
// also keeps dir/sa.pub, the public half as PKIX PEM, for verifiers outside
// the API server (kubeadm's sa.key/sa.pub pair).
//
// The key is created once and kept across restarts: a new key would make
// every token already handed to a pod invalid. An unreadable or
// unparsable sa.key is therefore an error, never replaced.
func EnsureServiceAccountKey(dir string) (crypto.Signer, error) {
	keyPath := filepath.Join(dir, saKeyFile)
	keyPEM, err := os.ReadFile(keyPath)
	var key crypto.Signer
	switch {
	case err == nil:
		if key, err = parseKeyPEM(keyPEM); err != nil {
			return nil, fmt.Errorf("%s: %w", keyPath, err)
		}
	case errors.Is(err, os.ErrNotExist):
		if key, err = createServiceAccountKey(keyPath); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	if _, err := signingAlgorithm(key); err != nil {
		return nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	if err := ensurePublicKeyFile(filepath.Join(dir, saPubFile), key.Public()); err != nil {
		return nil, err
	}
	return key, nil
}

func createServiceAccountKey(keyPath string) (crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

// ensurePublicKeyFile writes pub to path unless path already holds it.
func ensurePublicKeyFile(path string, pub crypto.PublicKey) error {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	want := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	if have, err := os.ReadFile(path); err == nil && string(have) == string(want) {
		return nil
	}
	return writeFileAtomic(path, want, 0o644)
}
