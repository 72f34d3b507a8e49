package latchkey

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Token is a personal token or an OAuth access token: one row of the tokens
// table. Its secret part, the signed JWT, is never stored; ID is the JWT's
// jti.
type Token struct {
	ID         string // TokenIDLength lowercase hex characters
	UserID     int64
	ClientID   int64
	Name       string
	Scopes     Scopes // never nil once stored
	Revoked    bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	KeyID      string  // kid of the key that signed the JWT
	Client     *Client // the issuing client, filled by reads
	// Audience is the resource (RFC 8707) an OAuth access token was
	// issued for: the normal form of its URI (NormalizeResourceURI), the
	// JWT's aud. "" for a token for Latchkey's own API, whose aud is its
	// client's id (Passport's); only such a token is accepted by the API.
	Audience string
	// ParentID is the id of the token whose bearer made this one through
	// the API; "" when it was made in the web pages, at the command line
	// or by the OAuth token endpoint. A token never outlives its parent,
	// and revoking a token revokes its descendants.
	ParentID string
	// RevokedReason says why a revoked token was revoked; "" for one
	// revoked before reasons were kept.
	RevokedReason RevokeReason
	// RevokedAt is when it was revoked; nil while it is live, and for
	// one revoked before the time was kept.
	RevokedAt *time.Time
	// RotatedFrom is the id of the token this one replaced by rotation;
	// RotatedTo the id of the token that replaced this one. "" for none.
	RotatedFrom, RotatedTo string
	// AllowedIPs are the only networks the token may be used from; none
	// is anywhere. Each is masked (its host bits zero).
	AllowedIPs []netip.Prefix
	// LastUsedIP is the address of its last recorded use, "" for none;
	// RecentIPs the distinct addresses of its recent uses, the latest
	// first, at most MaxRecentIPs.
	LastUsedIP string
	RecentIPs  []AddrUse
}

// MaxAllowedIPs is the most networks a token may be limited to.
const MaxAllowedIPs = 32

// MaxRecentIPs is the most addresses a token remembers it was used from.
const MaxRecentIPs = 10

// AddrUse is an address a token was used from, first and last.
type AddrUse struct {
	Address             string
	FirstSeen, LastSeen time.Time
}

// Use is what a server saw of a token's use since it last wrote it down:
// when it was last used, and from which addresses, each first and last.
type Use struct {
	At    time.Time
	Addrs map[string]Span
}

// Span is the first and last time of something seen.
type Span struct{ First, Last time.Time }

// LastAddr is the address of u's latest use, "" for none.
func (u Use) LastAddr() string {
	addr, last := "", time.Time{}
	for a, s := range u.Addrs {
		if s.Last.After(last) || s.Last.Equal(last) && a > addr {
			addr, last = a, s.Last
		}
	}
	return addr
}

// MergeRecent returns recent with the addresses of addrs merged in (the
// first time kept, the last moved on), the latest first, at most
// MaxRecentIPs. Ties keep a fixed order.
func MergeRecent(recent []AddrUse, addrs map[string]Span) []AddrUse {
	out := slices.Clone(recent)
	for a, s := range addrs {
		i := slices.IndexFunc(out, func(u AddrUse) bool { return u.Address == a })
		if i < 0 {
			out = append(out, AddrUse{Address: a, FirstSeen: s.First, LastSeen: s.Last})
			continue
		}
		if s.First.Before(out[i].FirstSeen) {
			out[i].FirstSeen = s.First
		}
		if s.Last.After(out[i].LastSeen) {
			out[i].LastSeen = s.Last
		}
	}
	slices.SortFunc(out, func(a, b AddrUse) int {
		if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
			return c
		}
		return strings.Compare(a.Address, b.Address)
	})
	if len(out) > MaxRecentIPs {
		out = out[:MaxRecentIPs]
	}
	return out
}

// AllowsAddr reports whether the token may be used from addr: it has no
// networks, or addr lies in one of them. An address that cannot be read
// lies in none.
func (t *Token) AllowsAddr(addr string) bool {
	if len(t.AllowedIPs) == 0 {
		return true
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range t.AllowedIPs {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// PrefixesWithin reports whether the networks inner reach no further
// than outer: none is anywhere, so every list lies within none, and none
// lies within no list but none.
func PrefixesWithin(inner, outer []netip.Prefix) bool {
	switch {
	case len(outer) == 0:
		return true
	case len(inner) == 0:
		return false
	}
	for _, p := range inner {
		if !slices.ContainsFunc(outer, func(o netip.Prefix) bool { return o.Bits() <= p.Bits() && o.Contains(p.Addr()) }) {
			return false
		}
	}
	return true
}

// RevokeReason says why a token was revoked.
type RevokeReason string

// The reasons a token is revoked.
const (
	// ReasonRevoked: someone allowed to asked for it (the API, the web
	// pages, the command line, RFC 7009 revocation).
	ReasonRevoked RevokeReason = "revoked"
	// ReasonParentRevoked: the token that made it was revoked.
	ReasonParentRevoked RevokeReason = "parent_revoked"
	// ReasonAuthorizationEnded: the OAuth authorization it was issued
	// under ended (a code or refresh token used twice, a refresh token
	// rotated, the user restored).
	ReasonAuthorizationEnded RevokeReason = "authorization_ended"
	// ReasonConsentWithdrawn: the person withdrew the application.
	ReasonConsentWithdrawn RevokeReason = "consent_withdrawn"
	// ReasonClientRevoked: the operator revoked the application.
	ReasonClientRevoked RevokeReason = "client_revoked"
	// ReasonResourceDeleted: the operator deleted the resource server it
	// was issued for (latchkey resource delete).
	ReasonResourceDeleted RevokeReason = "resource_deleted"
	// ReasonUserRestored: the user was deleted and restored; nothing
	// issued before comes back.
	ReasonUserRestored RevokeReason = "user_restored"
	// ReasonUserDisabled: the user was disabled, which ends every OAuth
	// authorization of theirs.
	ReasonUserDisabled RevokeReason = "user_disabled"
	// ReasonOwner: the user it belongs to revoked it (or it revoked
	// itself); ReasonAdmin: someone else allowed to did, an
	// administrator or the operator.
	ReasonOwner RevokeReason = "owner"
	ReasonAdmin RevokeReason = "admin"
	// ReasonRotated: it was rotated, and its grace period, if it had
	// one, is over.
	ReasonRotated RevokeReason = "rotated"
	// ReasonSuperseded: it was the successor of a rotation whose answer
	// was lost, never used, and the rotation was asked for again.
	ReasonSuperseded RevokeReason = "superseded"
	// ReasonIdle: it went unused for longer than the operator allows.
	ReasonIdle RevokeReason = "idle"
	// ReasonReuseDetected: a token already rotated was rotated again
	// after its successor had been used, so someone else holds one of
	// their secrets: every token of the rotation chain is revoked.
	ReasonReuseDetected RevokeReason = "reuse_detected"
)

// Rotated reports whether t was replaced by rotation.
func (t *Token) Rotated() bool { return t.RotatedTo != "" }

// Expired reports whether t has expired at now.
func (t *Token) Expired(now time.Time) bool {
	return t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)
}

// TokenIDLength is the length of a token id: 40 random bytes in hex.
const TokenIDLength = 80

// ValidTokenID reports whether s has the form of a token id: 80
// lowercase hexadecimal digits.
func ValidTokenID(s string) bool {
	if len(s) != 80 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// TokenOrder is a key that token lists can be sorted by.
type TokenOrder string

// The keys token lists can be sorted by. Ties are broken by id descending.
const (
	OrderCreatedAt  TokenOrder = "created_at"
	OrderName       TokenOrder = "name" // case-insensitively
	OrderExpiresAt  TokenOrder = "expires_at"
	OrderLastUsedAt TokenOrder = "last_used_at"
)

// TokenOrders lists the orders in the form error sentences name them.
var TokenOrders = []TokenOrder{OrderCreatedAt, OrderName, OrderExpiresAt, OrderLastUsedAt}

// TokenFilter selects a page of one user's tokens.
type TokenFilter struct {
	UserID int64
	// PersonalOnly keeps tokens issued by a personal access client.
	PersonalOnly bool
	// IncludeRevoked keeps revoked tokens too.
	IncludeRevoked bool
	// Name keeps tokens whose name contains it as a literal substring,
	// ignoring case (Unicode simple folding); "" keeps all.
	Name string
	// OrderBy sorts the list ("" is OrderCreatedAt); Ascending reverses the
	// default descending order. Nulls sort last either way. Ties break by
	// id descending.
	OrderBy   TokenOrder
	Ascending bool
	Offset    int
	Limit     int // 0 means no limit
}

// Credential is what authentication needs to know about a token: the token
// row, its user and its client, read together.
type Credential struct {
	Token  *Token
	User   *User
	Client *Client
}

// TokenStore persists tokens. It checks no permissions: callers decide who
// may do what before they call it.
//
// Every call that revokes tokens revokes their descendants with them
// (tokens whose ParentID chain leads to one of them), in the same
// transaction, with ReasonParentRevoked, and writes one AuditTokenRevoked
// record for each (see AuditWithTokens).
type TokenStore interface {
	// CreateToken stores t, and audit with it (see AuditStore), and, in
	// the same transaction, publishes EventTokenCreated with the user's
	// id to every subscriber of the database (see Broadcaster), so that a
	// created token costs one commit. ECONFLICT when the id exists;
	// ENOTFOUND when its user or client does not exist; EUNAUTHENTICATED,
	// and nothing is stored, when t.ParentID names a token that is
	// revoked or gone: a revocation of the parent that commits first is
	// never outlived by a child.
	CreateToken(ctx context.Context, t *Token, audit ...*AuditRecord) error

	// Token returns the token with its client. ENOTFOUND when there is none.
	Token(ctx context.Context, id string) (*Token, error)

	// Tokens returns the page of tokens f selects, each with its client,
	// and how many tokens f selects on all pages.
	Tokens(ctx context.Context, f TokenFilter) ([]*Token, int, error)

	// RevokeToken marks the token revoked for reason and its UpdatedAt at,
	// unless it is revoked already, and its descendants that are not
	// revoked with ReasonParentRevoked. It returns the token as stored
	// and the tokens this call revoked, with their clients: the token
	// first if it was not revoked already, then its descendants by id. It
	// writes audit once for each token it revoked (see AuditWithTokens):
	// of two calls at once, one revokes and records. ENOTFOUND when there
	// is none.
	RevokeToken(ctx context.Context, id string, at time.Time, reason RevokeReason, audit ...*AuditRecord) (*Token, []*Token, error)

	// Descendants counts the tokens that are not revoked and whose
	// ParentID chain leads to the token id: those a revocation of it
	// would take with it.
	Descendants(ctx context.Context, id string) (int, error)

	// Credential returns the token with its user and client in one read.
	// ENOTFOUND when there is no such token.
	Credential(ctx context.Context, id string) (*Credential, error)

	// TouchTokens records tokens' uses: for each id, it sets LastUsedAt
	// to u.At and LastUsedIP to u.LastAddr() unless LastUsedAt is later
	// already, and merges u.Addrs into RecentIPs (MergeRecent). Unknown
	// ids are ignored.
	TouchTokens(ctx context.Context, uses map[string]Use) error

	// RotateToken replaces the token r.Old with r.Successor, in one
	// transaction with audit (see AuditWithRevocations) and
	// EventTokenCreated, as CreateToken. The successor takes over Old's
	// live children, their expiry and their descendants' cut to its own;
	// Old gets RotatedTo, and is revoked with ReasonRotated at r.At, or,
	// with a grace period, expires at r.GraceUntil if not before.
	//
	// When Old was rotated already, its successor decides. If that
	// successor is revoked, the chain was ended: ECONFLICT. If it was
	// never used (no LastUsedAt) nor rotated on, the answer that carried
	// it was lost: it is revoked with ReasonSuperseded, its children pass
	// to r.Successor, and the rotation goes on. Otherwise, without
	// r.DetectReuse, ECONFLICT and nothing changes; with it, someone else
	// holds a secret of the chain: every token of the rotation chain,
	// from the first to the last, is revoked with
	// ReasonReuseDetected (and their descendants with them; those the
	// rotations revoked change their reason to it, and are in Changed),
	// nothing is created, and Rotated.ReuseDetected is true.
	//
	// ENOTFOUND when Old does not exist; ECONFLICT when it was never
	// rotated and is revoked or has expired at r.At.
	RotateToken(ctx context.Context, r Rotation, audit ...*AuditRecord) (*Rotated, error)

	// RevokeRotated revokes, with ReasonRotated at at, the rotated tokens
	// whose grace period is over (expired at at), their descendants with
	// them, writes audit for each (see AuditWithTokens), and returns those
	// it revoked.
	RevokeRotated(ctx context.Context, at time.Time, audit ...*AuditRecord) ([]*Token, error)

	// RevokeIdle revokes, with ReasonIdle at at, the tokens not used
	// since before (by LastUsedAt, or CreatedAt if never), their
	// descendants with them, writes audit for each (see AuditWithTokens),
	// and returns those it revoked. One call runs at a time, however many
	// servers share the database: a call that finds another running
	// returns at once, revoking nothing.
	RevokeIdle(ctx context.Context, before, at time.Time, audit ...*AuditRecord) ([]*Token, error)
}

// A Rotation asks TokenStore.RotateToken to replace a token.
type Rotation struct {
	Old string // the id of the token replaced
	// Successor is the new token: RotatedFrom is Old, ParentID Old's
	// parent.
	Successor *Token
	// At is when; GraceUntil when Old stops authenticating (At, or
	// before it, for no grace period).
	At, GraceUntil time.Time
	// DetectReuse: the caller presents Old's own secret. Only then is a
	// used successor evidence that someone else holds a secret of the
	// chain; anyone else rotating Old again is refused (ECONFLICT) and
	// nothing is revoked.
	DetectReuse bool
}

// Rotated is what a rotation did.
type Rotated struct {
	// Old is the token replaced, as stored after.
	Old *Token
	// Revoked are the tokens the rotation revoked (Old without a grace
	// period, a successor superseded, a chain on reuse), with their
	// descendants; Changed the other tokens it changed (Old, unless it
	// revoked it: its successor and perhaps its expiry; the children it
	// handed on: their parent and perhaps their expiry).
	// A cache of either must drop them.
	Revoked, Changed []*Token
	// ReuseDetected: the chain was revoked and no successor stored.
	ReuseDetected bool
}
