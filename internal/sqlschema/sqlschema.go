// Package sqlschema names what both SQL stores read alike. The schema is
// one, Passport's tables with Latchkey's changes, whichever database holds
// it; the column lists and joins of the reads, and the sort keys of token
// lists, are written here once. Each store keeps its own statements where
// the dialects differ (placeholders, booleans, times, locking).
package sqlschema

import (
	"strings"

	"github.com/latchkey/latchkey"
)

// The columns of each table as the reads select them. Each store scans
// them in this order.
const (
	UserColumns = `u.id, u.username, u.email, u.firstname, u.lastname, u.status,
		u.is_administrator, u.permissions, u.password_hash,
		u.created_at, u.updated_at, u.deleted_at`
	ClientColumns = `c.id, c.user_id, c.name, c.secret, c.provider, c.redirect,
		c.personal_access_client, c.password_client, c.revoked,
		c.created_at, c.updated_at, c.default_scopes, c.self_registered, c.metadata_url`
	TokenColumns = `t.id, t.user_id, t.client_id, t.name, t.scopes, t.revoked,
		t.created_at, t.updated_at, t.expires_at, t.last_used_at, t.key_id,
		t.parent_id, t.revoked_reason, t.revoked_at, t.rotated_from, t.rotated_to,
		t.allowed_ips, t.last_used_ip, t.recent_ips, t.audience`
	KeyColumns = `k.id, k.algorithm, k.public_key, k.sealed_private_key,
		k.created_at, k.retired_at`
	AuditColumns = `id, at, action, actor, actor_user_id, actor_token_id, subject_user_id, subject_id, address, user_agent, detail`
	GrantColumns = `g.kind, g.signature, g.request_id, g.client_id, g.user_id,
	g.active, g.request, g.created_at, g.expires_at`
	// ConsentColumns are a consent's columns followed by its client's.
	ConsentColumns = `o.user_id, o.client_id, o.scopes, o.created_at, o.updated_at, ` + ClientColumns

	// NotificationColumns are the outbox's, as latchkey.Notification holds
	// them.
	NotificationColumns = `n.id, n.msg_id, n.type, n.at, n.user_id, n.token_id, n.client_id,
		n.actor, n.actor_user_id, n.actor_token_id, n.audit_id, n.detail, n.dedupe`
	// DeliveryColumns are a delivery's own, followed by what the lists of
	// deliveries show of its notification (DeliveryFrom joins it).
	DeliveryColumns = `d.id, d.notification_id, d.webhook_id, d.recipient, d.state, d.attempts,
		d.created_at, d.next_at, d.delivered_at, d.last_error, d.last_status, n.msg_id, n.type`
	WebhookColumns = `w.id, w.url, w.events, w.secret, w.created_at`
	// ResourceColumns are a registered resource's; its scopes and default
	// scopes are stored as EncodeScopeList writes them.
	ResourceColumns = `r.id, r.uri, r.name, r.scopes, r.default_scopes, r.created_at`
)

// The outbox's reads.
const (
	// NotificationInfoFrom joins a notification with its owner (u) and
	// the user who acted (a), for NotificationInfoColumns.
	NotificationInfoFrom = ` FROM notifications n
	JOIN users u ON u.id = n.user_id
	LEFT JOIN users a ON a.id = n.actor_user_id`
	// NotificationInfoColumns are a new notification's columns, then the
	// owner's username and email, whether the owner may get no mail, and
	// the username of who acted, "" for none.
	NotificationInfoColumns = NotificationColumns + `, u.username, u.email,
		(u.status <> 'ACTIVE' OR u.deleted_at IS NOT NULL), coalesce(a.username, '')`
	// DeliveryFrom joins a delivery with its notification.
	DeliveryFrom = ` FROM deliveries d
	JOIN notifications n ON n.id = d.notification_id`
	// ClaimedColumns are what ClaimDeliveries returns of a delivery: its
	// columns, then the body of its notification, and the secret and URL
	// of its webhook, NULL for mail (ClaimedFrom joins them).
	ClaimedColumns = DeliveryColumns + `, n.body, w.secret, w.url`
	ClaimedFrom    = DeliveryFrom + `
	LEFT JOIN webhooks w ON w.id = d.webhook_id`
)

// InventoryColumns are an inventory row's: the token's columns, its
// owner's username and email, then its client's. A column added to
// TokenColumns is in the inventory too.
const InventoryColumns = TokenColumns + `, u.username, u.email, ` + ClientColumns

// The FROM clauses of reads that join a row with its client.
const (
	TokenFrom = ` FROM oauth_access_tokens t
	JOIN oauth_clients c ON c.id = t.client_id`
	// InventoryFrom joins a token with its owner and its client. Every
	// filter of the inventory is on t alone, so counting needs no join.
	InventoryFrom = ` FROM oauth_access_tokens t
	JOIN users u ON u.id = t.user_id
	JOIN oauth_clients c ON c.id = t.client_id`
	ConsentFrom = ` FROM oauth_consents o
	JOIN oauth_clients c ON c.id = o.client_id`
)

// TokenOrderKey returns the column a token list sorted by o sorts on,
// whether it can be NULL, and false for an unknown order. The name's key
// is the folded name, lowercased in Go so that both stores agree.
func TokenOrderKey(o latchkey.TokenOrder) (key string, nullable, ok bool) {
	switch o {
	case "", latchkey.OrderCreatedAt:
		return "t.created_at", false, true
	case latchkey.OrderName:
		return "t.name_folded", false, true
	case latchkey.OrderExpiresAt:
		return "t.expires_at", true, true
	case latchkey.OrderLastUsedAt:
		return "t.last_used_at", true, true
	}
	return "", false, false
}

// EncodeScopeList is the stored form of a client's default scopes, the
// column oauth_clients.default_scopes in both stores: the scopes
// separated by single spaces, as OAuth's scope parameter writes them
// (RFC 6749, section 3.3); "" for none.
func EncodeScopeList(s latchkey.Scopes) string { return strings.Join(s, " ") }

// DecodeScopeList reads what EncodeScopeList wrote: nil for none.
func DecodeScopeList(s string) latchkey.Scopes {
	if f := strings.Fields(s); len(f) > 0 {
		return f
	}
	return nil
}
