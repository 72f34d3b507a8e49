package jwt

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

// MinKeyBits is the size in bits of the smallest RSA key this package
// accepts, and of the keys GenerateKey makes.
const MinKeyBits = 2048

// MaxKeyBits is the size in bits of the largest RSA key this package
// accepts, to keep verification cheap. Passport makes 4096-bit keys.
const MaxKeyBits = 8192

// GenerateKey returns a new 2048-bit RSA key. (Since Go 1.26, crypto/rsa
// always reads crypto/rand; tests that want determinism use
// testing/cryptotest.SetGlobalRandom.)
func GenerateKey() (*rsa.PrivateKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, MinKeyBits)
	if err != nil {
		return nil, fmt.Errorf("jwt: generating a key: %w", err)
	}
	return priv, nil
}

// NewSigningKey returns priv as a signing key created at now, its private
// part sealed by s. Its ID is the RFC 7638 thumbprint of the public key.
func NewSigningKey(priv *rsa.PrivateKey, s *Sealer, now time.Time) (*latchkey.SigningKey, error) {
	if err := checkKeySize(&priv.PublicKey); err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("jwt: encoding the public key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("jwt: encoding the private key: %w", err)
	}
	kid := thumbprint(&priv.PublicKey)
	sealed, err := s.Seal(kid, der)
	if err != nil {
		return nil, err
	}
	return &latchkey.SigningKey{
		ID:               kid,
		Algorithm:        Algorithm,
		PublicKey:        pub,
		SealedPrivateKey: sealed,
		CreatedAt:        now,
	}, nil
}

// ParsePrivateKeyPEM parses an unencrypted RSA private key in PEM: an
// "RSA PRIVATE KEY" block (PKCS #1) or a "PRIVATE KEY" block (PKCS #8),
// the forms of Laravel Passport's oauth-private.key.
func ParsePrivateKeyPEM(data []byte) (*rsa.PrivateKey, error) {
	block, err := decodePEM(data)
	if err != nil {
		return nil, err
	}
	if block.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
		return nil, errors.New("jwt: the private key is encrypted; decrypt it first (openssl pkey -in key.pem -out plain.pem)")
	}
	var priv *rsa.PrivateKey
	switch block.Type {
	case "RSA PRIVATE KEY":
		priv, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("jwt: parsing the PKCS #1 private key: %w", err)
		}
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("jwt: parsing the PKCS #8 private key: %w", err)
		}
		var ok bool
		if priv, ok = k.(*rsa.PrivateKey); !ok {
			return nil, fmt.Errorf("jwt: the private key is %s, not RSA", kind(k))
		}
	case "EC PRIVATE KEY":
		return nil, errors.New("jwt: the private key is ECDSA, not RSA")
	case "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE":
		return nil, fmt.Errorf("jwt: the PEM block is %q, not a private key", block.Type)
	default:
		return nil, fmt.Errorf("jwt: the PEM block is %q; want \"RSA PRIVATE KEY\" or \"PRIVATE KEY\"", block.Type)
	}
	if err := checkKeySize(&priv.PublicKey); err != nil {
		return nil, err
	}
	return priv, nil
}

// ParsePublicKeyPEM parses an RSA public key in PEM: a "PUBLIC KEY" block
// (PKIX, the form of Passport's oauth-public.key) or an "RSA PUBLIC KEY"
// block (PKCS #1).
func ParsePublicKeyPEM(data []byte) (*rsa.PublicKey, error) {
	block, err := decodePEM(data)
	if err != nil {
		return nil, err
	}
	var pub *rsa.PublicKey
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("jwt: parsing the PKIX public key: %w", err)
		}
		var ok bool
		if pub, ok = k.(*rsa.PublicKey); !ok {
			return nil, fmt.Errorf("jwt: the public key is %s, not RSA", kind(k))
		}
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("jwt: parsing the PKCS #1 public key: %w", err)
		}
	case "RSA PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "EC PRIVATE KEY":
		return nil, fmt.Errorf("jwt: the PEM block is %q, not a public key", block.Type)
	default:
		return nil, fmt.Errorf("jwt: the PEM block is %q; want \"PUBLIC KEY\" or \"RSA PUBLIC KEY\"", block.Type)
	}
	if err := checkKeySize(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// CheckKeyPair returns an error unless pub is the public key of priv.
func CheckKeyPair(priv *rsa.PrivateKey, pub *rsa.PublicKey) error {
	if !priv.PublicKey.Equal(pub) {
		return errors.New("jwt: the public key is not the public key of the private key")
	}
	return nil
}

// decodePEM returns the one PEM block of data.
func decodePEM(data []byte) (*pem.Block, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("jwt: no PEM block found")
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, fmt.Errorf("jwt: the PEM block %q is followed by another (%q); want one key per file", block.Type, next.Type)
	}
	return block, nil
}

// kind names the type of a key from crypto/x509.
func kind(k any) string {
	switch k.(type) {
	case *ecdsa.PrivateKey, *ecdsa.PublicKey:
		return "ECDSA"
	case ed25519.PrivateKey, ed25519.PublicKey:
		return "Ed25519"
	case *ecdh.PrivateKey, *ecdh.PublicKey:
		return "X25519"
	default:
		return fmt.Sprintf("%T", k)
	}
}

func checkKeySize(pub *rsa.PublicKey) error {
	switch bits := pub.N.BitLen(); {
	case bits < MinKeyBits:
		return fmt.Errorf("jwt: the RSA key has %d bits; it needs %d at least", bits, MinKeyBits)
	case bits > MaxKeyBits:
		return fmt.Errorf("jwt: the RSA key has %d bits; it may have %d at most", bits, MaxKeyBits)
	}
	return nil
}

// thumbprint returns the RFC 7638 JWK thumbprint of pub: the unpadded
// base64url SHA-256 of its JWK's required members in lexical order.
func thumbprint(pub *rsa.PublicKey) string {
	n, e := jwkNumbers(pub)
	sum := sha256.Sum256([]byte(`{"e":"` + e + `","kty":"RSA","n":"` + n + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// jwkNumbers returns the modulus and exponent of pub as JWK writes them:
// unpadded base64url of their big-endian bytes.
func jwkNumbers(pub *rsa.PublicKey) (n, e string) {
	b64 := base64.RawURLEncoding
	return b64.EncodeToString(pub.N.Bytes()), b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
}
