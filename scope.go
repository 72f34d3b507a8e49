package latchkey

import (
	"regexp"
	"slices"
)

// The scopes the server knows itself. A token with no scopes, or with
// ScopeAll, may do whatever its user may.
const (
	ScopeAll         = "*"
	ScopeTokensRead  = "tokens.read"  // list and show tokens
	ScopeTokensWrite = "tokens.write" // create and revoke tokens
)

// BuiltinScopes are the scopes every server knows, in display order.
var BuiltinScopes = []string{ScopeTokensRead, ScopeTokensWrite, ScopeAll}

var scopeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$`)

// ValidScopeName reports whether s may name a configured scope: 1 to 100
// letters, digits and . _ : / -, starting with a letter or digit.
func ValidScopeName(s string) bool { return scopeName.MatchString(s) }

// Scopes is the scope list of a token. Empty means every ability of the
// token's user (ProcessMaker's meaning), as does any list holding ScopeAll.
type Scopes []string

// Unlimited reports whether s limits nothing.
func (s Scopes) Unlimited() bool {
	return len(s) == 0 || slices.Contains(s, ScopeAll)
}

// Allows reports whether a token with s may use scope.
func (s Scopes) Allows(scope string) bool {
	return s.Unlimited() || slices.Contains(s, scope)
}

// Covers reports whether a token with s may hand on a token with want:
// an unlimited token hands on anything; a limited one only a non-empty
// subset of its own scopes.
func (s Scopes) Covers(want Scopes) bool {
	if s.Unlimited() {
		return true
	}
	if want.Unlimited() {
		return false
	}
	for _, w := range want {
		if !slices.Contains(s, w) {
			return false
		}
	}
	return true
}
