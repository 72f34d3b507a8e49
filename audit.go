package latchkey

import (
	"context"
	"time"
)

// AuditAction is what an audit record says happened.
type AuditAction string

// The actions the audit log records.
const (
	AuditTokenCreated   AuditAction = "token.created"
	AuditTokenRevoked   AuditAction = "token.revoked"
	AuditAuthRefused    AuditAction = "auth.refused" // a revoked or expired token was presented
	AuditUserCreated    AuditAction = "user.created"
	AuditUserUpdated    AuditAction = "user.updated"
	AuditUserDeleted    AuditAction = "user.deleted"
	AuditKeyAdded       AuditAction = "key.added" // rotated or imported
	AuditClientAdded    AuditAction = "client.registered"
	AuditClientRevoked  AuditAction = "client.revoked"
	AuditSignInOK       AuditAction = "signin.succeeded"
	AuditSignInRefused  AuditAction = "signin.failed"
	AuditRateLimitedHit AuditAction = "rate.limited"
)

// AuditActions are all the actions, in the order above.
var AuditActions = []AuditAction{
	AuditTokenCreated, AuditTokenRevoked, AuditAuthRefused,
	AuditUserCreated, AuditUserUpdated, AuditUserDeleted,
	AuditKeyAdded, AuditClientAdded, AuditClientRevoked,
	AuditSignInOK, AuditSignInRefused, AuditRateLimitedHit,
}

// Origin is where a request came from, as far as the server can tell.
type Origin struct {
	Address   string // the client address (see docs/operations.md for proxies)
	UserAgent string
}

// AuditRecord is one line of the audit log. It never holds a secret: a
// token appears by its id, never by its JWT.
type AuditRecord struct {
	ID     int64
	At     time.Time
	Action AuditAction
	// ActorUserID is who did it: nil for the operator at the command line
	// or an anonymous caller. ActorTokenID is the token they used, if any.
	ActorUserID  *int64
	ActorTokenID string
	// SubjectUserID is whose token or account it concerns; SubjectID names
	// the thing itself: a token id, a user id, a kid, a client id.
	SubjectUserID *int64
	SubjectID     string
	Origin
	Detail string // e.g. why authentication was refused
}

// AuditFilter selects audit records, newest first.
type AuditFilter struct {
	Action AuditAction // "" for every action
	UserID *int64      // records whose actor or subject is this user
	Since  time.Time   // the zero time for all
	Limit  int         // 0 means no limit
}

// AuditStore persists the audit log.
type AuditStore interface {
	// RecordAudit appends r and sets r.ID.
	RecordAudit(ctx context.Context, r *AuditRecord) error

	// AuditRecords returns the records f selects, newest first (by At,
	// then ID).
	AuditRecords(ctx context.Context, f AuditFilter) ([]*AuditRecord, error)

	// PruneAudit deletes the records older than before and says how many.
	PruneAudit(ctx context.Context, before time.Time) (int64, error)
}
