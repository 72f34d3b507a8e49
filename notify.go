package latchkey

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"slices"
	"strconv"
	"strings"
	"time"
)

// NotificationType names what a notification tells: the "type" of a
// webhook's body, and the kind of mail a person may choose to get.
type NotificationType string

// The notifications (docs/operations.md, "Notifications").
const (
	// NoteTokenExpiring: a token expires within a reminder threshold.
	NoteTokenExpiring NotificationType = "token.expiring"
	// NoteTokenExpired: a token expired unrevoked.
	NoteTokenExpired NotificationType = "token.expired"
	// NoteTokenCreated: a token was made for its owner by someone else,
	// by a token or at the command line: not by its owner in the web pages.
	NoteTokenCreated NotificationType = "token.created"
	// NoteTokenRevoked: a token was revoked, not by its owner.
	NoteTokenRevoked NotificationType = "token.revoked"
	// NoteTokenRotated: a token was rotated.
	NoteTokenRotated NotificationType = "token.rotated"
	// NoteTokenReuse: a rotated token was rotated again after its
	// successor was used; the chain is revoked.
	NoteTokenReuse NotificationType = "token.reuse_detected"
	// NoteAppAuthorized: the owner approved an OAuth application.
	NoteAppAuthorized NotificationType = "application.authorized"
)

// NotificationTypes are all the types, in the order above.
var NotificationTypes = []NotificationType{
	NoteTokenExpiring, NoteTokenExpired, NoteTokenCreated, NoteTokenRevoked,
	NoteTokenRotated, NoteTokenReuse, NoteAppAuthorized,
}

// NotificationTypeNames is NotificationTypes as a sentence lists them:
// "token.expiring, token.expired, …".
func NotificationTypeNames() string {
	names := make([]string, len(NotificationTypes))
	for i, t := range NotificationTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// Valid reports whether t is one of NotificationTypes.
func (t NotificationType) Valid() bool { return slices.Contains(NotificationTypes, t) }

// Security reports whether mail of type t is sent whatever its recipient
// chose: someone else ended their token, or a stolen one was caught.
func (t NotificationType) Security() bool {
	return t == NoteTokenRevoked || t == NoteTokenReuse
}

// NotifyOf returns the notification an audit record writes to the outbox
// with its change, "" for none: r.Notify, unless it tells the owner of
// what they did themselves signed in to the web pages (a token they made
// or revoked), or a token revoking itself. What one of their tokens did to
// another is told: whoever holds a stolen token must not make or end the
// owner's tokens unseen.
func NotifyOf(r *AuditRecord) NotificationType {
	self := r.Actor == ActorUser && r.ActorUserID != nil && r.SubjectUserID != nil && *r.ActorUserID == *r.SubjectUserID
	switch r.Notify {
	case NoteTokenCreated:
		if self && r.ActorTokenID == "" {
			return ""
		}
	case NoteTokenRevoked:
		if self && (r.ActorTokenID == "" || r.ActorTokenID == r.SubjectID) {
			return ""
		}
	}
	return r.Notify
}

// NotificationOf returns the notification r writes to the outbox with
// its change, nil for none; r.ID must be set. A token's notification names
// the token by r.SubjectID; an application's names the client by it.
func NotificationOf(r *AuditRecord) *Notification {
	t := NotifyOf(r)
	if t == "" || r.SubjectUserID == nil {
		return nil
	}
	n := &Notification{Type: t, At: r.At, UserID: *r.SubjectUserID, Actor: r.Actor,
		ActorUserID: r.ActorUserID, ActorTokenID: r.ActorTokenID, AuditID: r.ID, Detail: r.Detail}
	if t == NoteAppAuthorized {
		n.ClientID, _ = strconv.ParseInt(r.SubjectID, 10, 64)
	} else {
		n.TokenID = r.SubjectID
	}
	return n
}

// NewMsgID returns a new notification's MsgID: "msg_" and 26 lowercase
// base32 characters of 16 random bytes.
func NewMsgID() string { return randomID("msg_") }

// NewWebhookID returns a new webhook's ID: "wh_" and 26 lowercase base32
// characters of 16 random bytes.
func NewWebhookID() string { return randomID("wh_") }

// idEncoding is the base32 of the outbox's ids: lowercase, unpadded.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// randomID returns prefix and 26 lowercase base32 characters of 16 random
// bytes.
func randomID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return prefix + idEncoding.EncodeToString(b[:])
}

// Notification is one entry of the outbox: a change somebody is to hear
// of. It never holds a secret.
type Notification struct {
	ID    int64
	MsgID string // "msg_" and 26 base32 characters: a webhook's webhook-id
	Type  NotificationType
	At    time.Time // when the change happened
	// UserID is whose token or account it concerns; TokenID the token, ""
	// for none; ClientID the application (NoteAppAuthorized), 0 for none.
	UserID   int64
	TokenID  string
	ClientID int64
	// Actor is who acted, as in the audit log; AuditID the record, 0 for a
	// reminder.
	Actor        AuditActor
	ActorUserID  *int64
	ActorTokenID string
	AuditID      int64
	Detail       string
	// Dedupe, when set, is unique in the outbox: a reminder is written
	// once per token and threshold ("token.expiring:<id>:<threshold>").
	Dedupe string
}

// NotificationInfo is what the fan-out reads with a notification to build
// its body and choose its recipients.
type NotificationInfo struct {
	*Notification
	Username, Email string // the owner's; Email "" for none
	UserDisabled    bool   // disabled or deleted: no mail
	MailOff         []NotificationType
	Token           *Token  // nil when TokenID is "" or unknown
	Client          *Client // for ClientID, nil for none
	ActorUsername   string  // for ActorUserID, "" for none
}

// Webhook is an endpoint an operator registered.
type Webhook struct {
	ID        string // "wh_" and 26 base32 characters
	URL       string
	Events    []NotificationType // none: every type
	Secret    []byte             // sealed with the server secret; never shown again
	CreatedAt time.Time
}

// Wants reports whether the webhook is to get notifications of type t.
func (w *Webhook) Wants(t NotificationType) bool {
	return len(w.Events) == 0 || slices.Contains(w.Events, t)
}

// DeliveryState is where a delivery stands.
type DeliveryState string

// The states of a delivery.
const (
	DeliveryPending   DeliveryState = "pending"
	DeliveryDelivered DeliveryState = "delivered"
	DeliveryFailed    DeliveryState = "failed" // gave up: MaxDeliveryAge passed
)

// MaxDeliveryAge is how long a delivery is retried before it is failed.
const MaxDeliveryAge = 24 * time.Hour

// Delivery is one notification on its way to one recipient: a webhook, or
// (WebhookID "") the owner's mailbox.
type Delivery struct {
	ID             int64
	NotificationID int64
	WebhookID      string // "" for mail
	Recipient      string // the address for mail; the URL for a webhook
	State          DeliveryState
	Attempts       int
	CreatedAt      time.Time
	NextAt         time.Time // when it is next due, while pending
	DeliveredAt    *time.Time
	LastError      string
	LastStatus     int // the receiver's HTTP status, 0 for none or mail

	// Filled by ClaimDeliveries: what to send.
	MsgID  string
	Type   NotificationType
	Body   []byte // the notification's body, as FanOut stored it
	Secret []byte // the webhook's sealed secret
}

// Attempt is the outcome of one try at a delivery.
type Attempt struct {
	DeliveryID int64
	Server     string // who claimed it
	At         time.Time
	Err        string // "" when delivered
	Status     int
	// NextAt is when to try again, after a failure; nil when the
	// delivery is to be failed for good.
	NextAt *time.Time
}

// OutboxStats is what /metrics says of the outbox.
type OutboxStats struct {
	New     int64      // notifications not yet fanned out
	Pending int64      // deliveries not yet delivered nor failed
	Oldest  *time.Time // the creation of the oldest pending delivery or new notification
	Failed  int64      // deliveries given up on
}

// NotificationStore is the outbox: notifications, written with the changes
// they report (every store method that takes audit records writes, for
// each record r with NotifyOf(r) set, a notification in its transaction),
// the webhooks they go to, and their deliveries.
type NotificationStore interface {
	// AddNotification stores n and sets n.ID and n.MsgID, unless n.Dedupe
	// is already in the outbox: then it stores nothing and returns false.
	// ENOTFOUND when its user does not exist.
	AddNotification(ctx context.Context, n *Notification) (bool, error)

	// NewNotifications returns up to limit notifications not yet fanned
	// out (0: all), oldest first, with what their fan-out needs.
	NewNotifications(ctx context.Context, limit int) ([]*NotificationInfo, error)

	// FanOut marks notification id fanned out with body, and stores ds, its
	// deliveries (setting their IDs), pending, due at their NextAt or, when
	// it is zero, their CreatedAt, in one transaction; when another server
	// fanned it out first, it stores nothing and returns false. ENOTFOUND,
	// and nothing changes, when the webhook of one of ds does not exist
	// (deleted since it was read).
	FanOut(ctx context.Context, id int64, body []byte, ds []*Delivery) (bool, error)

	// ClaimDeliveries claims for server, until until, up to limit pending
	// deliveries (0: all) due at now whose claims have run out, and returns
	// them filled: no two servers hold one at once. Those never tried come
	// first, then the oldest due: retries to a receiver that keeps failing
	// do not hold back what is new.
	ClaimDeliveries(ctx context.Context, server string, now, until time.Time, limit int) ([]*Delivery, error)

	// RecordAttempt records a, if its server still holds the claim: the
	// delivery is delivered (a.Err ""), due again at a.NextAt, or failed.
	// It returns false when the claim was lost.
	RecordAttempt(ctx context.Context, a Attempt) (bool, error)

	// Deliveries returns the newest deliveries, of the webhook id if it is
	// not "" ("mail" for mail), at most limit (0: all), with the MsgID and
	// Type of their notifications but never a Body or Secret. A deleted
	// webhook's deliveries that were made or failed stay, until PruneOutbox.
	Deliveries(ctx context.Context, webhookID string, limit int) ([]*Delivery, error)

	// OutboxStats says how the outbox stands at now.
	OutboxStats(ctx context.Context) (OutboxStats, error)

	// PruneOutbox deletes, in one transaction, the deliveries delivered or
	// failed that were created before before, then the notifications
	// fanned out and created before before that have no delivery left,
	// and says how many rows it deleted in all, deliveries and
	// notifications. A pending delivery stays, and its notification with
	// it; so does a notification not yet fanned out, however old.
	//
	// A reminder's notification holds its Dedupe key: once it is deleted,
	// the same reminder could be written again, but only while its token
	// is still in the window it was written in (the gap between two
	// thresholds, 23 days at most by default; 7 days, notify.ExpiredLookback, for
	// an expired token). The caller passes before = now less the audit
	// retention, 90 days by default, far longer than that.
	PruneOutbox(ctx context.Context, before time.Time) (int64, error)

	// ExpiringTokens returns the live (not revoked) tokens expiring in
	// (from, to] that lived longer than minLifetime, at most limit (0: all),
	// in the order of (expires_at, id), with their clients. When afterID is
	// not "", it returns those after (from, afterID) in that order instead:
	// the next page after a page whose last token expires at from and has
	// id afterID.
	ExpiringTokens(ctx context.Context, from time.Time, afterID string, to time.Time, minLifetime time.Duration, limit int) ([]*Token, error)

	// CreateWebhook stores w, and audit with it; it gives w a new ID
	// (NewWebhookID) when it has none. ECONFLICT when its id exists.
	CreateWebhook(ctx context.Context, w *Webhook, audit ...*AuditRecord) error
	// Webhooks returns the webhooks, oldest first.
	Webhooks(ctx context.Context) ([]*Webhook, error)
	// DeleteWebhook deletes webhook id and its pending deliveries, and
	// audit with it. ENOTFOUND when there is none.
	DeleteWebhook(ctx context.Context, id string, audit ...*AuditRecord) error

	// MailOff returns the types of mail the user chose not to get, in the
	// order of their names.
	MailOff(ctx context.Context, userID int64) ([]NotificationType, error)
	// SetMailOff replaces them. ENOTFOUND for an unknown user.
	SetMailOff(ctx context.Context, userID int64, off []NotificationType) error
}
