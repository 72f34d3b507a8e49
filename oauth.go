package latchkey

import (
	"context"
	"time"
)

// GrantKind names what a Grant holds.
type GrantKind string

// The kinds of grant the authorization server keeps.
const (
	// GrantCode is an authorization code, found by the hash of its
	// signature. Active until it is exchanged.
	GrantCode GrantKind = "code"
	// GrantRefresh is a refresh token, found by the hash of its signature.
	// Active until it is used (rotated) or its authorization is revoked.
	GrantRefresh GrantKind = "refresh"
	// GrantPKCE is the PKCE challenge of an authorization code, found by
	// the same hash as the code.
	GrantPKCE GrantKind = "pkce"
	// GrantAccess ties an access token, a row of the tokens table found by
	// its id, to the authorization it was issued under.
	GrantAccess GrantKind = "access"
)

// GrantKinds lists every kind of grant.
var GrantKinds = []GrantKind{GrantCode, GrantRefresh, GrantPKCE, GrantAccess}

// Grant is one stored part of an OAuth 2.0 authorization: an authorization
// code, a refresh token, a code's PKCE challenge, or the request behind an
// access token. A code or refresh token is never stored, only a hash of it.
type Grant struct {
	Kind GrantKind
	// Signature finds the grant among those of its kind: the hex SHA-256 of
	// a code's or refresh token's signature; an access token's id.
	Signature string
	// RequestID names the authorization the grant belongs to. The code,
	// and every access and refresh token issued from it and from the
	// refresh tokens after it, share one RequestID: the family that a
	// reused code or refresh token revokes.
	RequestID string
	ClientID  int64
	UserID    int64
	Active    bool
	// Request is the authorization request as the service serialized it;
	// stores keep it as they are given it.
	Request   []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Consent is a user's approval of an application: the scopes they let it
// have. It is remembered until the user revokes it.
type Consent struct {
	UserID    int64
	ClientID  int64
	Scopes    Scopes
	CreatedAt time.Time
	UpdatedAt time.Time
	Client    *Client // filled by reads
}

// Session is a person signed in to the web pages. The cookie holds a
// random secret; the store holds only its hash.
type Session struct {
	ID        string // hex SHA-256 of the cookie's secret
	UserID    int64
	CreatedAt time.Time
	ExpiresAt time.Time
	Origin    // where the sign-in came from
}

// GrantStore persists the authorization server's codes, refresh tokens and
// the requests behind access tokens.
type GrantStore interface {
	// CreateGrant stores g. ECONFLICT when a grant of its kind with its
	// signature exists; ENOTFOUND when its user or client does not exist.
	CreateGrant(ctx context.Context, g *Grant) error

	// CreateAccessToken stores the access token t and its GrantAccess
	// grant g (whose Signature is t.ID), and audit (see AuditStore), in one
	// transaction.
	CreateAccessToken(ctx context.Context, t *Token, g *Grant, audit ...*AuditRecord) error

	// Grant returns the grant of kind with signature, active or not.
	// ENOTFOUND when there is none.
	Grant(ctx context.Context, kind GrantKind, signature string) (*Grant, error)

	// DeactivateGrant marks an active grant inactive, atomically: of two
	// calls at once, one succeeds and the other gets ECONFLICT, as does any
	// call on a grant already inactive. This is what makes a code single
	// use. ENOTFOUND when there is no such grant.
	DeactivateGrant(ctx context.Context, kind GrantKind, signature string) error

	// DeactivateGrants marks every grant of kind in the authorization
	// requestID inactive. None is not an error.
	DeactivateGrants(ctx context.Context, kind GrantKind, requestID string) error

	// DeleteGrant deletes the grant. None is not an error.
	DeleteGrant(ctx context.Context, kind GrantKind, signature string) error

	// RevokeRequestTokens revokes, at at, for reason, every access token
	// issued under the authorization requestID, and with them the tokens
	// they made (see TokenStore), and returns those it revoked (the ones
	// not revoked before), by id. For each token it revokes it writes
	// audit as AuditWithTokens says.
	RevokeRequestTokens(ctx context.Context, requestID string, at time.Time, reason RevokeReason, audit ...*AuditRecord) ([]*Token, error)

	// MarkRequestRevoked records, at at, that the authorization requestID
	// is revoked: an issuer that stores a token or grant under it from now
	// on finds it not live (AuthorizationLive) and revokes what it stored.
	// Marking a marked request is not an error.
	MarkRequestRevoked(ctx context.Context, requestID string, at time.Time) error

	// AuthorizationLive reports whether tokens may still be issued under
	// the authorization requestID, of userID to clientID: the user's
	// consent to the client exists, and requestID is not marked revoked.
	// Where writers do not exclude one another (PostgreSQL), the consent
	// is read with a lock that waits for a RevokeConsent in progress, so
	// that an issuer who stored a token and then finds the authorization
	// live can count on any RevokeConsent that commits later to see it.
	AuthorizationLive(ctx context.Context, requestID string, userID, clientID int64) (bool, error)

	// PruneGrants deletes the grants that expired before before, and says
	// how many. It also deletes, without counting them, the revocation
	// marks made more than a day before before whose authorization has no
	// grant left: while a refresh token of a revoked authorization exists,
	// its mark stays, should the revoker have failed to deactivate it.
	PruneGrants(ctx context.Context, before time.Time) (int64, error)
}

// ConsentStore persists users' approvals of applications.
type ConsentStore interface {
	// SaveConsent stores c, replacing the scopes and UpdatedAt of the
	// user's consent to that client if there is one (CreatedAt then stays
	// as it was, and c is set from the stored row), and audit with it (see
	// AuditStore). ENOTFOUND when the user or client does not exist.
	SaveConsent(ctx context.Context, c *Consent, audit ...*AuditRecord) error

	// Consent returns the user's consent to the client, with the client.
	// ENOTFOUND when there is none.
	Consent(ctx context.Context, userID, clientID int64) (*Consent, error)

	// Consents returns the user's consents with their clients, most
	// recently updated first (ties by client id ascending).
	Consents(ctx context.Context, userID int64) ([]*Consent, error)

	// RevokeConsent, in one transaction, deletes the user's consent to the
	// client, marks revoked (MarkRequestRevoked) every authorization of
	// that user and client that has a grant, deactivates those grants, and
	// revokes at at, with ReasonConsentWithdrawn, every token of that user
	// issued by that client, and the tokens those made (see TokenStore).
	// It returns the tokens it revoked, by id, and for each writes audit
	// as RevokeRequestTokens does. ENOTFOUND when there is no such consent.
	RevokeConsent(ctx context.Context, userID, clientID int64, at time.Time, audit ...*AuditRecord) ([]*Token, error)

	// EndUserAuthorizations ends every OAuth authorization of the user, in
	// one transaction: it deletes the user's consents, marks revoked
	// (MarkRequestRevoked) the authorizations that have grants and
	// deactivates those grants, and revokes at at, with ReasonUserDisabled,
	// the user's tokens issued by clients that are not personal access
	// clients, and the tokens those made (see TokenStore). It returns the
	// tokens it revoked and writes audit as RevokeRequestTokens does.
	EndUserAuthorizations(ctx context.Context, userID int64, at time.Time, audit ...*AuditRecord) ([]*Token, error)
}

// SessionStore persists web sign-in sessions.
type SessionStore interface {
	// CreateSession stores s, and audit with it (see AuditStore).
	// ECONFLICT when its id exists.
	CreateSession(ctx context.Context, s *Session, audit ...*AuditRecord) error

	// Session returns the session with that id, expired or not. ENOTFOUND
	// when there is none.
	Session(ctx context.Context, id string) (*Session, error)

	// DeleteSession deletes the session. None is not an error.
	DeleteSession(ctx context.Context, id string) error

	// DeleteUserSessions deletes every session of the user.
	DeleteUserSessions(ctx context.Context, userID int64) error

	// PruneSessions deletes the sessions that expired before before, and
	// says how many.
	PruneSessions(ctx context.Context, before time.Time) (int64, error)
}
