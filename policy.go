package latchkey

// Action is something a principal does: to a user's tokens, or, for
// SearchUsers and ReadInventory, to every user.
type Action int

// The actions of the Personal Tokens API, and the web pages' search.
const (
	ReadTokens   Action = iota // list and show
	CreateTokens               // create
	RevokeTokens               // delete
	// SearchUsers finds users by name or email: the way to other users'
	// tokens on the web pages. It is about no one user.
	SearchUsers
	// ReadInventory lists every user's tokens at once: the inventory
	// (GET /api/1.0/tokens, the web pages' "All tokens"). It is about no
	// one user.
	ReadInventory
)

// Scope is the token scope an action needs. Searching users and reading
// the inventory read, as reading other users' tokens does.
func (a Action) Scope() string {
	if a == ReadTokens || a == SearchUsers || a == ReadInventory {
		return ScopeTokensRead
	}
	return ScopeTokensWrite
}

// The sentences of a refusal.
const (
	MsgNotAuthorized = "Not authorized to update this user."
	MsgCannotGrant   = "This token cannot grant scopes it does not have."
	// MsgOwnUserOnly begins with the contract's sentence for this refusal
	// (CONTRACT.md section 6), which callers match on, and says the true
	// reason after it.
	MsgOwnUserOnly = MsgCannotGrant + " A token limited by scopes creates tokens only for its own user."
)

// Principal is who makes a request: a user, and the token they made it
// with. Token is nil when the user acts with no token (an operator at the
// command line, a signed-in session), and then no scope limits them.
type Principal struct {
	User  *User
	Token *Token
	// Origin is where the request came from, for the audit log. A
	// principal from the token cache is shared: set Origin on a copy.
	Origin Origin
}

// Scopes returns the scopes that limit p: the token's, or none.
func (p *Principal) Scopes() Scopes {
	if p.Token == nil {
		return nil
	}
	return p.Token.Scopes
}

// Authorize decides whether p may do a to the tokens of user owner (owner
// is ignored for SearchUsers and ReadInventory). It is the one place the permission table
// lives; the order of its checks is the contract's: the user's own rights
// first, then the token's scopes. It returns nil or an EFORBIDDEN *Error
// with the sentence to send; when the token lacks the action's scope, the
// error's Scope is that scope.
func (p *Principal) Authorize(a Action, owner int64) error {
	u := p.User
	self := u.ID == owner
	var ok bool
	switch a {
	case ReadTokens:
		ok = self || u.Can(PermViewUsers)
	case CreateTokens:
		// Minting a credential for someone else is an administrator's act.
		ok = self || u.Admin
	case RevokeTokens:
		ok = self || u.Can(PermEditUsers)
	case SearchUsers:
		// Finding users is for those who may read their tokens.
		ok = u.Can(PermViewUsers)
	case ReadInventory:
		// Every user's tokens: for those who may read any user's.
		ok = u.Can(PermViewUsers)
	}
	if !ok {
		return &Error{Code: EFORBIDDEN, Message: MsgNotAuthorized}
	}
	scopes := p.Scopes()
	if !scopes.Allows(a.Scope()) {
		return &Error{Code: EFORBIDDEN, Message: "This token lacks the scope " + a.Scope() + ".", Scope: a.Scope()}
	}
	// A limited token creates tokens only for its own user.
	if a == CreateTokens && !self && !scopes.Unlimited() {
		return &Error{Code: EFORBIDDEN, Message: MsgOwnUserOnly}
	}
	return nil
}

// AuthorizeGrant decides whether p may create a token with want: a token
// hands on no more than it has.
func (p *Principal) AuthorizeGrant(want Scopes) error {
	if !p.Scopes().Covers(want) {
		return &Error{Code: EFORBIDDEN, Message: MsgCannotGrant}
	}
	return nil
}
