package jwt

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
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

	"filippo.io/edwards25519"

	"github.com/latchkey/latchkey"

	"github.com/latchkey/latchkey/internal/jws"
)

// The algorithms of signing keys. Each key has one, fixed by the kind of
// the key: a token verifies only by the algorithm of the key its kid names.
const (
	// RS256 is RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518, section 3.3), with
	// RSA keys of MinKeyBits to MaxKeyBits. It is the only algorithm
	// Laravel Passport verifies.
	RS256 = jws.RS256
	// ES256 is ECDSA on the curve P-256 with SHA-256 (RFC 7518, section
	// 3.4). A signature is R and S, 32 bytes each, not DER.
	ES256 = jws.ES256
	// EdDSA is Ed25519 (RFC 8037). A signature is 64 bytes.
	EdDSA = jws.EdDSA
)

// DefaultAlgorithm is the algorithm of the keys the server makes unless
// the operator chooses another: RS256, which Passport verifies.
const DefaultAlgorithm = RS256

// Algorithms returns the algorithms a signing key may have, the default
// first.
func Algorithms() []string { return []string{RS256, ES256, EdDSA} }

// knownAlgorithm reports whether alg is one of Algorithms.
func knownAlgorithm(alg string) bool { return alg == RS256 || alg == ES256 || alg == EdDSA }

// errUnknownAlgorithm says alg is none of Algorithms.
func errUnknownAlgorithm(alg string) error {
	return fmt.Errorf("jwt: unknown algorithm %q; want RS256, ES256 or EdDSA", alg)
}

// MinKeyBits is the size in bits of the smallest RSA key this package
// accepts, and of the RSA keys GenerateKey makes.
const MinKeyBits = 2048

// MaxKeyBits is the size in bits of the largest RSA key this package
// accepts, to keep verification cheap. Passport makes 4096-bit keys.
const MaxKeyBits = 8192

// GenerateKey returns a new key for alg: a 2048-bit RSA key for RS256, an
// ECDSA P-256 key for ES256, an Ed25519 key for EdDSA. (Since Go 1.26,
// key generation always reads crypto/rand; tests that want determinism
// use testing/cryptotest.SetGlobalRandom.)
func GenerateKey(alg string) (crypto.Signer, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, MinKeyBits)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(nil)
	default:
		return nil, errUnknownAlgorithm(alg)
	}
	if err != nil {
		return nil, fmt.Errorf("jwt: generating a key: %w", err)
	}
	return priv, nil
}

// NewSigningKey returns priv as a signing key created at now, its private
// part sealed by s. priv is an *rsa.PrivateKey (RS256), an
// *ecdsa.PrivateKey on P-256 (ES256) or an ed25519.PrivateKey (EdDSA); its
// ID is the RFC 7638 thumbprint of the public key.
func NewSigningKey(priv crypto.Signer, s *Sealer, now time.Time) (*latchkey.SigningKey, error) {
	j, err := publicJWK(priv.Public())
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, fmt.Errorf("jwt: encoding the public key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("jwt: encoding the private key: %w", err)
	}
	kid := j.thumbprint()
	sealed, err := s.Seal(kid, der)
	if err != nil {
		return nil, err
	}
	return &latchkey.SigningKey{
		ID:               kid,
		Algorithm:        j.Alg,
		PublicKey:        pub,
		SealedPrivateKey: sealed,
		CreatedAt:        now,
	}, nil
}

// ParsePrivateKeyPEM parses an unencrypted private key in PEM: an RSA key
// in an "RSA PRIVATE KEY" block (PKCS #1) or a "PRIVATE KEY" block (PKCS
// #8), the forms of Laravel Passport's oauth-private.key; an ECDSA P-256
// key in an "EC PRIVATE KEY" block (SEC 1) or a "PRIVATE KEY" block; or an
// Ed25519 key in a "PRIVATE KEY" block.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	block, err := decodePEM(data)
	if err != nil {
		return nil, err
	}
	if block.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
		return nil, errors.New("jwt: the private key is encrypted; decrypt it first (openssl pkey -in key.pem -out plain.pem)")
	}
	var priv crypto.Signer
	switch block.Type {
	case "RSA PRIVATE KEY":
		priv, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("jwt: parsing the PKCS #1 private key: %w", err)
		}
	case "EC PRIVATE KEY":
		priv, err = x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("jwt: parsing the SEC 1 private key: %w", err)
		}
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("jwt: parsing the PKCS #8 private key: %w", err)
		}
		var ok bool
		if priv, ok = k.(crypto.Signer); !ok {
			return nil, fmt.Errorf("jwt: the private key is %s; want RSA, ECDSA P-256 or Ed25519", kind(k))
		}
	case "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE":
		return nil, fmt.Errorf("jwt: the PEM block is %q, not a private key", block.Type)
	default:
		return nil, fmt.Errorf("jwt: the PEM block is %q; want \"PRIVATE KEY\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\"", block.Type)
	}
	if _, err := publicJWK(priv.Public()); err != nil {
		return nil, err
	}
	return priv, nil
}

// ParsePublicKeyPEM parses a public key in PEM: a "PUBLIC KEY" block (PKIX,
// the form of Passport's oauth-public.key) of an RSA, ECDSA P-256 or
// Ed25519 key, or an "RSA PUBLIC KEY" block (PKCS #1).
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	block, err := decodePEM(data)
	if err != nil {
		return nil, err
	}
	var pub crypto.PublicKey
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("jwt: parsing the PKIX public key: %w", err)
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
	if _, err := publicJWK(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// CheckKeyPair returns an error unless pub is the public key of priv.
func CheckKeyPair(priv crypto.Signer, pub crypto.PublicKey) error {
	if p, ok := priv.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !p.Equal(pub) {
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
	switch k := k.(type) {
	case *rsa.PrivateKey, *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PrivateKey:
		return "ECDSA " + curveName(k.Curve)
	case *ecdsa.PublicKey:
		return "ECDSA " + curveName(k.Curve)
	case ed25519.PrivateKey, ed25519.PublicKey:
		return "Ed25519"
	case *ecdh.PrivateKey, *ecdh.PublicKey:
		return "X25519"
	default:
		return fmt.Sprintf("%T", k)
	}
}

func curveName(c elliptic.Curve) string {
	if c == nil {
		return "without a curve"
	}
	return c.Params().Name
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

// jwk is a public key as a JSON Web Key (RFC 7517): kty and the members of
// its kind (RFC 7518, section 6; RFC 8037, section 2), and the members
// the JWKS adds.
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Crv string `json:"crv,omitempty"` // EC and OKP
	N   string `json:"n,omitempty"`   // RSA
	E   string `json:"e,omitempty"`   // RSA
	X   string `json:"x,omitempty"`   // EC and OKP
	Y   string `json:"y,omitempty"`   // EC
}

// publicJWK returns the JWK of pub with its algorithm, and no kid: an RSA
// key of MinKeyBits to MaxKeyBits is RS256, an ECDSA key on P-256 is
// ES256, an Ed25519 key is EdDSA; any other key is an error.
func publicJWK(pub crypto.PublicKey) (*jwk, error) {
	b64 := base64.RawURLEncoding
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if err := checkKeySize(pub); err != nil {
			return nil, err
		}
		return &jwk{Kty: "RSA", Alg: RS256,
			N: b64.EncodeToString(pub.N.Bytes()),
			E: b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		}, nil
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return nil, fmt.Errorf("jwt: the ECDSA key is on the curve %s; ES256 needs P-256", curveName(pub.Curve))
		}
		// The uncompressed point: 0x04, then x and y, 32 bytes each,
		// left-padded with zeros as RFC 7518 (section 6.2.1.2) wants.
		point, err := pub.Bytes()
		if err != nil || len(point) != 65 {
			return nil, fmt.Errorf("jwt: the ECDSA key is not a point of P-256: %v", err)
		}
		return &jwk{Kty: "EC", Alg: ES256, Crv: "P-256",
			X: b64.EncodeToString(point[1:33]),
			Y: b64.EncodeToString(point[33:]),
		}, nil
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("jwt: the Ed25519 key has %d bytes, not %d", len(pub), ed25519.PublicKeySize)
		}
		// A point of small order (the identity among them) verifies
		// forged signatures: (R = the identity, S = 0) passes for every
		// message under the identity, and for one message in 2, 4 or 8
		// under the others. No key made by signing software is one.
		p, err := new(edwards25519.Point).SetBytes(pub)
		if err != nil {
			return nil, fmt.Errorf("jwt: the Ed25519 key is not a point of the curve: %w", err)
		}
		if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
			return nil, errors.New("jwt: the Ed25519 key is a point of small order, which verifies forged signatures")
		}
		return &jwk{Kty: "OKP", Alg: EdDSA, Crv: "Ed25519", X: b64.EncodeToString(pub)}, nil
	default:
		return nil, fmt.Errorf("jwt: the key is %s; want RSA, ECDSA P-256 or Ed25519", kind(pub))
	}
}

// thumbprint returns the RFC 7638 thumbprint of k: the unpadded base64url
// SHA-256 of the required members of its kind in lexical order, without
// whitespace (RFC 7638, section 3.2; RFC 8037, section 2).
func (k *jwk) thumbprint() string {
	var members string
	switch k.Kty {
	case "RSA":
		members = `{"e":"` + k.E + `","kty":"RSA","n":"` + k.N + `"}`
	case "EC":
		members = `{"crv":"` + k.Crv + `","kty":"EC","x":"` + k.X + `","y":"` + k.Y + `"}`
	case "OKP":
		members = `{"crv":"` + k.Crv + `","kty":"OKP","x":"` + k.X + `"}`
	default:
		panic("jwt: thumbprint of a JWK of kty " + k.Kty) // publicJWK makes no other
	}
	sum := sha256.Sum256([]byte(members))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
