package latchkey

import (
	"context"
	"time"
)

// SigningKey is a key the server signs tokens with. Every replica on one
// database shares the keys; the private part is stored sealed with the
// server's secret.
type SigningKey struct {
	ID        string // the JWT kid: the RFC 7638 thumbprint of the public key
	Algorithm string // "RS256", "ES256" or "EdDSA", fixed by the kind of the key
	// PublicKey is the PKIX (SubjectPublicKeyInfo) DER of the public key.
	PublicKey []byte
	// SealedPrivateKey is the PKCS #8 DER of the private key, encrypted
	// with the server's secret.
	SealedPrivateKey []byte
	CreatedAt        time.Time
	// RetiredAt is when the key stopped signing; nil for the signing key.
	// A retired key keeps verifying while a token it signed is live.
	RetiredAt *time.Time
}

// Signing reports whether k is the current signing key.
func (k *SigningKey) Signing() bool { return k.RetiredAt == nil }

// KeyStore persists signing keys.
type KeyStore interface {
	// AddSigningKey makes k the signing key: in one transaction, it retires
	// the current signing key at k.CreatedAt, if there is one, and stores k,
	// and audit with it (see AuditStore). ECONFLICT when a key with k.ID
	// exists.
	AddSigningKey(ctx context.Context, k *SigningKey, audit ...*AuditRecord) error

	// SigningKeys returns every key, newest first.
	SigningKeys(ctx context.Context) ([]*SigningKey, error)

	// VerifyingKeys returns the keys that still verify at now: the signing
	// key, and each retired key that signed a token that is neither revoked
	// nor expired at now. Newest first.
	VerifyingKeys(ctx context.Context, now time.Time) ([]*SigningKey, error)
}

// Store is a storage backend: every store contract, plus its upkeep.
type Store interface {
	UserStore
	TokenStore
	InventoryStore
	ClientStore
	ResourceStore
	KeyStore
	AuditStore
	GrantStore
	ConsentStore
	SessionStore
	NotificationStore

	// Migrate brings the schema up to date. It is safe to call on an
	// up-to-date database and from several processes at once.
	Migrate(ctx context.Context) error

	// Ping reports whether the database answers and accepts writes, on a
	// migrated database. It writes nothing: its probe is a write that
	// changes no row, which fails as any write would on a read-only
	// file, directory, connection or replica, or for a role that may not
	// write.
	Ping(ctx context.Context) error

	// Close releases the store's resources.
	Close() error
}
