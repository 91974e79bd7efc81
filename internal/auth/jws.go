package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// This file is the small part of JWS (RFC 7515) that service account
// tokens need: compact serialization, signed with ES256 (ECDSA P-256,
// SHA-256) or RS256 (RSASSA-PKCS1-v1_5, SHA-256), the two algorithms
// Kubernetes' token signer uses for those key types.

const (
	algES256 = "ES256"
	algRS256 = "RS256"
)

var b64 = base64.RawURLEncoding

// errNotJWT: the string is not a compact JWS at all (so it is some other
// kind of bearer token, not a bad service account token).
var errNotJWT = errors.New("not a JWT")

type jwsHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid,omitempty"`
}

// signingAlgorithm is the JWS algorithm for key: ES256 for P-256 keys,
// RS256 for RSA keys of 2048 bits or more.
func signingAlgorithm(key crypto.Signer) (string, error) {
	switch k := key.Public().(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("ECDSA curve %s is not supported for service account tokens (use P-256)", k.Curve.Params().Name)
		}
		return algES256, nil
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return "", fmt.Errorf("RSA key of %d bits is too small for service account tokens", k.N.BitLen())
		}
		return algRS256, nil
	}
	return "", fmt.Errorf("unsupported service account key type %T", key.Public())
}

// keyID names a public key as Kubernetes does: the unpadded base64url
// SHA-256 of its PKIX DER encoding.
func keyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return b64.EncodeToString(sum[:]), nil
}

// signJWS returns the compact JWS of payload.
func signJWS(key crypto.Signer, alg, kid string, payload []byte) (string, error) {
	header, err := json.Marshal(jwsHeader{Alg: alg, Kid: kid})
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch alg {
	case algES256:
		k, ok := key.(*ecdsa.PrivateKey)
		if !ok {
			return "", fmt.Errorf("ES256 needs an ECDSA private key, have %T", key)
		}
		r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			return "", err
		}
		sig = make([]byte, 64) // R || S, each 32 bytes big-endian (RFC 7518 3.4)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case algRS256:
		if sig, err = key.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("unsupported JWS algorithm %q", alg)
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// parsedJWS is a compact JWS split into its parts; nothing is verified.
type parsedJWS struct {
	header    jwsHeader
	payload   []byte
	input     string // header.payload, what the signature covers
	signature []byte
}

// parseJWS splits and decodes a compact JWS. A string that is not shaped
// like one is errNotJWT.
func parseJWS(token string) (*parsedJWS, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errNotJWT
	}
	headerJSON, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, errNotJWT
	}
	var p parsedJWS
	if err := json.Unmarshal(headerJSON, &p.header); err != nil || p.header.Alg == "" {
		return nil, errNotJWT
	}
	if p.payload, err = b64.DecodeString(parts[1]); err != nil {
		return nil, fmt.Errorf("JWT payload: %w", err)
	}
	if p.signature, err = b64.DecodeString(parts[2]); err != nil {
		return nil, fmt.Errorf("JWT signature: %w", err)
	}
	p.input = parts[0] + "." + parts[1]
	return &p, nil
}

// verify checks the signature with pub for algorithm alg; the header must
// name alg (no algorithm is taken from the token itself).
func (p *parsedJWS) verify(pub crypto.PublicKey, alg string) error {
	if p.header.Alg != alg {
		return fmt.Errorf("JWT algorithm %q, want %q", p.header.Alg, alg)
	}
	digest := sha256.Sum256([]byte(p.input))
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if len(p.signature) != 64 {
			return errors.New("invalid JWT signature")
		}
		r := new(big.Int).SetBytes(p.signature[:32])
		s := new(big.Int).SetBytes(p.signature[32:])
		if !ecdsa.Verify(k, digest[:], r, s) {
			return errors.New("invalid JWT signature")
		}
		return nil
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], p.signature); err != nil {
			return errors.New("invalid JWT signature")
		}
		return nil
	}
	return fmt.Errorf("unsupported public key type %T", pub)
}
