package latchkey

import (
	"context"
	"regexp"
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
}

// Expired reports whether t has expired at now.
func (t *Token) Expired(now time.Time) bool {
	return t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)
}

// TokenIDLength is the length of a token id: 40 random bytes in hex.
const TokenIDLength = 80

var tokenID = regexp.MustCompile(`^[0-9a-f]{80}$`)

// ValidTokenID reports whether s has the form of a token id.
func ValidTokenID(s string) bool { return tokenID.MatchString(s) }

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
type TokenStore interface {
	// CreateToken stores t, and audit with it (see AuditStore). ECONFLICT
	// when the id exists; ENOTFOUND when its user or client does not
	// exist.
	CreateToken(ctx context.Context, t *Token, audit ...*AuditRecord) error

	// Token returns the token with its client. ENOTFOUND when there is none.
	Token(ctx context.Context, id string) (*Token, error)

	// Tokens returns the page of tokens f selects, each with its client,
	// and how many tokens f selects on all pages.
	Tokens(ctx context.Context, f TokenFilter) ([]*Token, int, error)

	// RevokeToken marks the token revoked and its UpdatedAt at, unless it
	// is revoked already, and returns it as stored and whether this call
	// revoked it. It writes audit only when it did (see AuditStore): of
	// two calls at once, one revokes and records. ENOTFOUND when there is
	// none.
	RevokeToken(ctx context.Context, id string, at time.Time, audit ...*AuditRecord) (*Token, bool, error)

	// Credential returns the token with its user and client in one read.
	// ENOTFOUND when there is no such token.
	Credential(ctx context.Context, id string) (*Credential, error)

	// TouchTokens records when tokens were last used: for each id, sets
	// LastUsedAt to the time given unless it is already later. Unknown ids
	// are ignored.
	TouchTokens(ctx context.Context, uses map[string]time.Time) error
}
