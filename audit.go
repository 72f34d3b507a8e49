package latchkey

import (
	"context"
	"slices"
	"strconv"
	"time"
)

// AuditAction is what an audit record says happened.
type AuditAction string

// The actions the audit log records.
const (
	AuditTokenCreated    AuditAction = "token.created"
	AuditTokenRevoked    AuditAction = "token.revoked"
	AuditTokenRotated    AuditAction = "token.rotated"
	AuditTokenReuse      AuditAction = "token.reuse_detected" // a rotated token rotated again after its successor was used
	AuditAuthRefused     AuditAction = "auth.refused"         // a revoked or expired token was presented
	AuditUserCreated     AuditAction = "user.created"
	AuditUserUpdated     AuditAction = "user.updated"
	AuditUserDeleted     AuditAction = "user.deleted"
	AuditUserRestored    AuditAction = "user.restored"
	AuditKeyAdded        AuditAction = "key.added" // rotated or imported
	AuditClientAdded     AuditAction = "client.registered"
	AuditClientRevoked   AuditAction = "client.revoked"
	AuditClientUpdated   AuditAction = "client.updated"         // what a client's metadata document says changed
	AuditAppAuthorized   AuditAction = "application.authorized" // a user approved an application (a consent)
	AuditWebhookCreated  AuditAction = "webhook.created"
	AuditWebhookDeleted  AuditAction = "webhook.deleted"
	AuditResourceCreated AuditAction = "resource.created"
	AuditResourceDeleted AuditAction = "resource.deleted"
	AuditSignInOK        AuditAction = "signin.succeeded"
	AuditSignInRefused   AuditAction = "signin.failed"
	AuditRateLimitedHit  AuditAction = "rate.limited"
)

// AuditActor is who an audit record says acted, by kind.
type AuditActor string

// The kinds of actor.
const (
	// ActorUser is a user, ActorUserID: signed in to the web pages, or by
	// the token ActorTokenID.
	ActorUser AuditActor = "user"
	// ActorOperator is someone at the command line, with the database.
	ActorOperator AuditActor = "operator"
	// ActorSystem is the server itself: it revoked the tokens of an OAuth
	// authorization whose code or refresh token was used twice, for
	// example. Detail says why.
	ActorSystem AuditActor = "system"
	// ActorAnonymous is someone over the network who is not signed in: a
	// refused sign-in or token.
	ActorAnonymous AuditActor = "anonymous"
)

// AuditActions are all the actions, in the order above.
var AuditActions = []AuditAction{
	AuditTokenCreated, AuditTokenRevoked, AuditTokenRotated, AuditTokenReuse, AuditAuthRefused,
	AuditUserCreated, AuditUserUpdated, AuditUserDeleted, AuditUserRestored,
	AuditKeyAdded, AuditClientAdded, AuditClientRevoked, AuditClientUpdated,
	AuditAppAuthorized, AuditWebhookCreated, AuditWebhookDeleted,
	AuditResourceCreated, AuditResourceDeleted,
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
	// Actor is who did it; for ActorUser, ActorUserID is the user, and
	// ActorTokenID the token they used, if any.
	Actor        AuditActor
	ActorUserID  *int64
	ActorTokenID string
	// SubjectUserID is whose token or account it concerns; SubjectID names
	// the thing itself: a token id, a user id, a kid, a client id.
	SubjectUserID *int64
	SubjectID     string
	Origin
	Detail string // e.g. why authentication was refused
	// Notify, when set, is the notification the change may send: the
	// store writes NotificationOf(r) to the outbox with it. Not stored in
	// the audit log.
	Notify NotificationType
}

// AuditFilter selects audit records, newest first.
type AuditFilter struct {
	Action AuditAction // "" for every action
	UserID *int64      // records whose actor or subject is this user
	Since  time.Time   // the zero time for all
	Limit  int         // 0 means no limit
}

// AuditStore persists the audit log.
//
// A change that is audited carries its records with it: each store method
// that makes one takes the records to write as its last argument, and
// writes them in the transaction of the change. When it returns nil, the
// change and its records are both stored (and each record's ID set); when
// a record cannot be written, it returns the error and makes no change.
// When the call changes nothing (revoking a revoked token), it writes no
// record. Where the change decides what a record is about (the id of a new
// user, the tokens a revocation found), the method's comment says which
// fields it sets. RecordAudit is for what is recorded without a change: a
// refused sign-in or token.
type AuditStore interface {
	// RecordAudit appends r and sets r.ID.
	RecordAudit(ctx context.Context, r *AuditRecord) error

	// AuditRecords returns the records f selects, newest first (by At,
	// then ID).
	AuditRecords(ctx context.Context, f AuditFilter) ([]*AuditRecord, error)

	// PruneAudit deletes the records older than before and says how many.
	PruneAudit(ctx context.Context, before time.Time) (int64, error)
}

// AuditWithTokens is what a store writes for rs along with a change that
// revoked ts: the records that are not about a token revocation once, as
// given; each record of a token revocation once for each token the change
// revoked itself, about that token; and a record for each token revoked
// with its parent (AuditWithDescendants).
func AuditWithTokens(rs []*AuditRecord, ts []*Token) []*AuditRecord {
	var perToken, once []*AuditRecord
	for _, r := range rs {
		if r.Action == AuditTokenRevoked {
			perToken = append(perToken, r)
		} else {
			once = append(once, r)
		}
	}
	for _, t := range ts {
		if t.RevokedReason == ReasonParentRevoked {
			continue
		}
		for _, r := range perToken {
			c := *r
			userID := t.UserID
			c.SubjectUserID, c.SubjectID = &userID, t.ID
			once = append(once, &c)
		}
	}
	return append(once, descendantRecords(rs, ts)...)
}

// AuditWithDescendants is what a store writes for rs along with a change
// that revoked ts: rs as given, then, for each token of ts revoked with
// its parent (ReasonParentRevoked), one AuditTokenRevoked record about it,
// by the actor of rs[0], at its time and from its origin, that names the
// parent.
func AuditWithDescendants(rs []*AuditRecord, ts []*Token) []*AuditRecord {
	return append(slices.Clip(rs), descendantRecords(rs, ts)...)
}

// AuditWithRevocations is what a store writes for rs along with a change
// that revoked ts for reasons of their own: rs as given, then, for each
// token of ts, one AuditTokenRevoked record about it, by the actor of
// rs[0], at its time and from its origin, whose detail is its reason (and
// for a descendant, its parent).
func AuditWithRevocations(rs []*AuditRecord, ts []*Token) []*AuditRecord {
	if len(rs) == 0 {
		return nil
	}
	out := slices.Clip(rs)
	for _, t := range ts {
		c := *rs[0]
		userID := t.UserID
		c.Action, c.SubjectUserID, c.SubjectID = AuditTokenRevoked, &userID, t.ID
		// A rotation tells of itself (token.rotated, token.reuse_detected),
		// not of each token it ended.
		c.Notify = ""
		c.Detail = string(t.RevokedReason)
		if t.RevokedReason == ReasonParentRevoked {
			c.Detail += ": made by token " + t.ParentID
		}
		out = append(out, &c)
	}
	return out
}

// AuditAsReuse returns copies of rs, the records of a rotation, that
// record instead the reuse it detected (see TokenStore.RotateToken).
func AuditAsReuse(rs []*AuditRecord) []*AuditRecord {
	out := make([]*AuditRecord, len(rs))
	for i, r := range rs {
		c := *r
		c.Action, c.Notify = AuditTokenReuse, NoteTokenReuse
		c.Detail = "rotated again after its successor was used: the rotation chain is revoked"
		out[i] = &c
	}
	return out
}

// descendantRecords returns the records of AuditWithDescendants about the
// tokens of ts revoked with their parents.
func descendantRecords(rs []*AuditRecord, ts []*Token) []*AuditRecord {
	if len(rs) == 0 {
		return nil
	}
	var out []*AuditRecord
	for _, t := range ts {
		if t.RevokedReason != ReasonParentRevoked {
			continue
		}
		c := *rs[0]
		userID := t.UserID
		c.Action, c.SubjectUserID, c.SubjectID = AuditTokenRevoked, &userID, t.ID
		c.Detail = string(ReasonParentRevoked) + ": made by token " + t.ParentID
		out = append(out, &c)
	}
	return out
}

// AuditAboutUser sets the subject of each of rs to the user id, for a store
// whose change decides it (a new user).
func AuditAboutUser(rs []*AuditRecord, id int64) {
	for _, r := range rs {
		userID := id
		r.SubjectUserID, r.SubjectID = &userID, strconv.FormatInt(id, 10)
	}
}
