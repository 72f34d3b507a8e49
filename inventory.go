package latchkey

import (
	"context"
	"time"
)

// TokenState is where a token stands at a moment. Exactly one state holds
// for a token at any moment.
type TokenState string

// The states of a token.
const (
	// StateActive: neither revoked nor expired.
	StateActive TokenState = "active"
	// StateExpired: not revoked, and its expiry has come.
	StateExpired TokenState = "expired"
	// StateRevoked: revoked, whether or not it has also expired.
	StateRevoked TokenState = "revoked"
)

// TokenStates lists the states in the order error sentences name them.
var TokenStates = []TokenState{StateActive, StateRevoked, StateExpired}

// State returns t's state at now.
func (t *Token) State(now time.Time) TokenState {
	switch {
	case t.Revoked:
		return StateRevoked
	case t.Expired(now):
		return StateExpired
	}
	return StateActive
}

// InventoryFilter selects tokens of every user, personal and OAuth ones,
// revoked ones included: the inventory that administrators and holders of
// view-users read. The zero value selects every token, newest first.
//
// Time bounds are half-open: an After bound keeps the tokens whose time is
// at or after it, a Before bound those whose time is strictly before it,
// so that adjacent ranges never share a token.
type InventoryFilter struct {
	UserID   int64 // 0: every user
	ClientID int64 // 0: every client
	// States keeps the tokens in any of these states at Now; empty keeps
	// every state.
	States []TokenState
	Now    time.Time

	CreatedAfter, CreatedBefore *time.Time
	// A token that never expires (no ExpiresAt) expires after every
	// moment: ExpiresAfter keeps it, ExpiresBefore does not.
	ExpiresAfter, ExpiresBefore *time.Time
	// A token never used matches neither bound: NeverUsed selects it.
	LastUsedAfter, LastUsedBefore *time.Time
	// NeverUsed, when set, keeps only the tokens never used (true) or only
	// those used at least once (false).
	NeverUsed *bool

	// Scope keeps the tokens that may use it (Scopes.Allows): those that
	// list it, and those limited by no scope ([] or ScopeAll), which may
	// use every scope. "" keeps all; ScopeAll keeps only the unlimited.
	Scope string
	// Name keeps tokens whose name contains it as a literal substring,
	// ignoring case, as TokenFilter.Name does.
	Name string

	// OrderBy sorts the list ("" is OrderCreatedAt); Ascending reverses the
	// default descending order. Nulls sort last either way. Ties break by
	// id descending.
	OrderBy   TokenOrder
	Ascending bool
	Offset    int
	Limit     int // 0 means no limit
}

// InventoryToken is a token of the inventory: the token with its client,
// and who owns it.
type InventoryToken struct {
	Token    *Token
	Username string // the owner's
	Email    string // the owner's
}

// InventoryStore reads every user's tokens. It checks no permissions:
// callers decide who may read the inventory (ReadInventory) before they
// call it.
type InventoryStore interface {
	// Inventory returns the page of tokens f selects, each with its client
	// and its owner's username and email, and how many tokens f selects on
	// all pages, both read from one snapshot. EINVALID for an unknown
	// f.OrderBy or state.
	Inventory(ctx context.Context, f InventoryFilter) ([]*InventoryToken, int, error)

	// EachInventoryToken calls fn with each token f selects, in f's order
	// (f.Offset and f.Limit apply), as it reads them from one snapshot:
	// the memory it holds does not grow with the number of tokens. fn may
	// keep what it is given. The first error fn returns stops the reading
	// and is returned as it is; EINVALID as Inventory.
	EachInventoryToken(ctx context.Context, f InventoryFilter, fn func(*InventoryToken) error) error
}
