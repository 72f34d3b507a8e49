package jwt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"log/slog"
)

// MinSecretLength is the length in bytes of the shortest secret NewSealer
// accepts.
const MinSecretLength = 16

// sealInfo binds the key a Sealer derives to its one use.
const sealInfo = "latchkey/jwt: sealing signing keys at rest, v1"

// Sealer encrypts signing keys at rest with a key derived from the server's
// secret: AES-256-GCM, a random 12-byte nonce before the ciphertext, and
// the key id as additional data, so that a sealed key does not open under
// another id. A Sealer is safe for concurrent use.
type Sealer struct {
	aead   cipher.AEAD
	secret []byte
}

// NewSealer returns a Sealer whose key is derived from secret with
// HKDF-SHA256. The secret must be MinSecretLength bytes at least.
func NewSealer(secret []byte) (*Sealer, error) {
	if len(secret) < MinSecretLength {
		return nil, fmt.Errorf("jwt: the secret is %d bytes; it needs %d at least", len(secret), MinSecretLength)
	}
	key, err := hkdf.Key(sha256.New, secret, nil, sealInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("jwt: deriving the sealing key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("jwt: deriving the sealing key: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("jwt: deriving the sealing key: %w", err)
	}
	return &Sealer{aead: aead, secret: append([]byte(nil), secret...)}, nil
}

// DeriveKey returns a 32-byte key for the one use info names, derived from
// the server's secret with HKDF-SHA256: every replica that shares the
// secret derives the same key, and no two uses share one.
func (s *Sealer) DeriveKey(info string) []byte {
	key, err := hkdf.Key(sha256.New, s.secret, nil, info, 32)
	if err != nil {
		panic("jwt: HKDF of 32 bytes failed: " + err.Error()) // cannot happen: 32 is far below HKDF's limit
	}
	return key
}

// Seal encrypts plaintext, the private key of the key kid.
func (s *Sealer) Seal(kid string, plaintext []byte) ([]byte, error) {
	return s.aead.Seal(nil, nil, plaintext, []byte(kid)), nil
}

// Open decrypts what Seal sealed for kid. It fails when the secret is not
// the one the key was sealed with, or the sealed key was altered or belongs
// to another kid.
func (s *Sealer) Open(kid string, sealed []byte) ([]byte, error) {
	if len(sealed) < s.aead.Overhead() {
		return nil, fmt.Errorf("jwt: the sealed private key of key %s is truncated", kid)
	}
	plaintext, err := s.aead.Open(nil, nil, sealed, []byte(kid))
	if err != nil {
		return nil, fmt.Errorf("jwt: cannot open the private key of key %s: the server secret does not match the one it was sealed with", kid)
	}
	return plaintext, nil
}

// String hides the key, so that printing a Sealer prints no secret.
func (s *Sealer) String() string { return "jwt.Sealer{REDACTED}" }

// GoString hides the key from %#v.
func (s *Sealer) GoString() string { return s.String() }

// LogValue hides the key from log/slog.
func (s *Sealer) LogValue() slog.Value { return slog.StringValue("REDACTED") }
