package latchkey_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/latchkey/latchkey"
)

func TestAuthorize(t *testing.T) {
	admin := &latchkey.User{ID: 1, Admin: true}
	user := &latchkey.User{ID: 2}
	viewer := &latchkey.User{ID: 3, Permissions: []string{latchkey.PermViewUsers}}
	editor := &latchkey.User{ID: 4, Permissions: []string{latchkey.PermEditUsers}}
	tok := func(scopes ...string) *latchkey.Token { return &latchkey.Token{Scopes: scopes} }
	const ok, denied, lacksRead, lacksWrite, ownUserOnly = "", latchkey.MsgNotAuthorized,
		"This token lacks the scope tokens.read.", "This token lacks the scope tokens.write.", latchkey.MsgOwnUserOnly
	for _, tc := range []struct {
		name   string
		p      latchkey.Principal
		owner  int64
		a      latchkey.Action
		result string
	}{
		{"self reads", latchkey.Principal{User: user}, 2, latchkey.ReadTokens, ok},
		{"self creates", latchkey.Principal{User: user}, 2, latchkey.CreateTokens, ok},
		{"self revokes", latchkey.Principal{User: user}, 2, latchkey.RevokeTokens, ok},
		{"user reads other", latchkey.Principal{User: user}, 1, latchkey.ReadTokens, denied},
		{"user creates for other", latchkey.Principal{User: user}, 1, latchkey.CreateTokens, denied},
		{"user revokes other", latchkey.Principal{User: user}, 1, latchkey.RevokeTokens, denied},
		{"viewer reads other", latchkey.Principal{User: viewer}, 2, latchkey.ReadTokens, ok},
		{"viewer creates for other", latchkey.Principal{User: viewer}, 2, latchkey.CreateTokens, denied},
		{"viewer revokes other", latchkey.Principal{User: viewer}, 2, latchkey.RevokeTokens, denied},
		{"editor reads other", latchkey.Principal{User: editor}, 2, latchkey.ReadTokens, denied},
		{"editor creates for other", latchkey.Principal{User: editor}, 2, latchkey.CreateTokens, denied},
		{"editor revokes other", latchkey.Principal{User: editor}, 2, latchkey.RevokeTokens, ok},
		{"admin creates for other", latchkey.Principal{User: admin}, 2, latchkey.CreateTokens, ok},
		{"read token reads", latchkey.Principal{User: user, Token: tok("tokens.read")}, 2, latchkey.ReadTokens, ok},
		{"read token creates", latchkey.Principal{User: user, Token: tok("tokens.read")}, 2, latchkey.CreateTokens, lacksWrite},
		{"write token reads", latchkey.Principal{User: user, Token: tok("tokens.write")}, 2, latchkey.ReadTokens, lacksRead},
		{"write token revokes", latchkey.Principal{User: user, Token: tok("tokens.write")}, 2, latchkey.RevokeTokens, ok},
		{"permission before scope", latchkey.Principal{User: user, Token: tok("tokens.write")}, 1, latchkey.ReadTokens, denied},
		{"star token", latchkey.Principal{User: user, Token: tok("*")}, 2, latchkey.CreateTokens, ok},
		{"empty token", latchkey.Principal{User: user, Token: tok()}, 2, latchkey.CreateTokens, ok},
		{"limited admin token creates for other", latchkey.Principal{User: admin, Token: tok("tokens.write")}, 2, latchkey.CreateTokens, ownUserOnly},
		{"limited admin token revokes other", latchkey.Principal{User: admin, Token: tok("tokens.write")}, 2, latchkey.RevokeTokens, ok},
		{"star admin token creates for other", latchkey.Principal{User: admin, Token: tok("*")}, 2, latchkey.CreateTokens, ok},
		{"user searches users", latchkey.Principal{User: user}, 2, latchkey.SearchUsers, denied},
		{"editor searches users", latchkey.Principal{User: editor}, 4, latchkey.SearchUsers, denied},
		{"viewer searches users", latchkey.Principal{User: viewer}, 0, latchkey.SearchUsers, ok},
		{"admin searches users", latchkey.Principal{User: admin}, 0, latchkey.SearchUsers, ok},
		{"write token searches users", latchkey.Principal{User: viewer, Token: tok("tokens.write")}, 0, latchkey.SearchUsers, lacksRead},
		{"read token searches users", latchkey.Principal{User: viewer, Token: tok("tokens.read")}, 0, latchkey.SearchUsers, ok},
		{"user reads inventory", latchkey.Principal{User: user}, 0, latchkey.ReadInventory, denied},
		{"user reads inventory naming self", latchkey.Principal{User: user}, 2, latchkey.ReadInventory, denied},
		{"editor reads inventory", latchkey.Principal{User: editor}, 0, latchkey.ReadInventory, denied},
		{"viewer reads inventory", latchkey.Principal{User: viewer}, 0, latchkey.ReadInventory, ok},
		{"admin reads inventory", latchkey.Principal{User: admin}, 0, latchkey.ReadInventory, ok},
		{"write token reads inventory", latchkey.Principal{User: admin, Token: tok("tokens.write")}, 0, latchkey.ReadInventory, lacksRead},
		{"read token reads inventory", latchkey.Principal{User: viewer, Token: tok("tokens.read")}, 0, latchkey.ReadInventory, ok},
		{"user's read token reads inventory", latchkey.Principal{User: user, Token: tok("tokens.read")}, 0, latchkey.ReadInventory, denied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Authorize(tc.a, tc.owner)
			if got := latchkey.ErrorMessage(err); got != tc.result {
				t.Errorf("Authorize(%v, %d) = %q, want %q", tc.a, tc.owner, got, tc.result)
			}
			if err != nil && latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
				t.Errorf("Authorize code = %s, want forbidden", latchkey.ErrorCode(err))
			}
			// Only a refusal for a missing scope names the scope, and
			// it is the one the action needs.
			want := ""
			if tc.result == lacksRead || tc.result == lacksWrite {
				want = tc.a.Scope()
			}
			var e *latchkey.Error
			if errors.As(err, &e) && e.Scope != want {
				t.Errorf("Authorize(%v, %d) Scope = %q, want %q", tc.a, tc.owner, e.Scope, want)
			}
		})
	}
}

// TestAuthorizeGrant: a principal hands on only what its token covers; a
// principal without a token (the web pages, the command line) hands on
// anything its user may have.
func TestAuthorizeGrant(t *testing.T) {
	user := &latchkey.User{ID: 2}
	tok := func(scopes ...string) *latchkey.Token { return &latchkey.Token{Scopes: scopes} }
	for _, tc := range []struct {
		name string
		p    latchkey.Principal
		want latchkey.Scopes
		ok   bool
	}{
		{"no token, every ability", latchkey.Principal{User: user}, nil, true},
		{"no token, limited", latchkey.Principal{User: user}, latchkey.Scopes{"tokens.read"}, true},
		{"unlimited token, every ability", latchkey.Principal{User: user, Token: tok()}, nil, true},
		{"star token, star", latchkey.Principal{User: user, Token: tok("*")}, latchkey.Scopes{"*"}, true},
		{"limited token, a subset", latchkey.Principal{User: user, Token: tok("tokens.read", "tokens.write")}, latchkey.Scopes{"tokens.read"}, true},
		{"limited token, every ability", latchkey.Principal{User: user, Token: tok("tokens.write")}, latchkey.Scopes{}, false},
		{"limited token, star", latchkey.Principal{User: user, Token: tok("tokens.write")}, latchkey.Scopes{"*"}, false},
		{"limited token, another scope", latchkey.Principal{User: user, Token: tok("tokens.write")}, latchkey.Scopes{"tokens.read"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.AuthorizeGrant(tc.want)
			if (err == nil) != tc.ok {
				t.Fatalf("AuthorizeGrant(%q) = %v, want allowed %t", tc.want, err, tc.ok)
			}
			if err != nil && (latchkey.ErrorCode(err) != latchkey.EFORBIDDEN || latchkey.ErrorMessage(err) != latchkey.MsgCannotGrant) {
				t.Errorf("AuthorizeGrant(%q) = %v, want EFORBIDDEN %q", tc.want, err, latchkey.MsgCannotGrant)
			}
		})
	}
}

func TestScopesCovers(t *testing.T) {
	for _, tc := range []struct {
		have, want latchkey.Scopes
		ok         bool
	}{
		{nil, nil, true},
		{nil, latchkey.Scopes{"*"}, true},
		{latchkey.Scopes{"*"}, latchkey.Scopes{}, true},
		{latchkey.Scopes{"tokens.write"}, latchkey.Scopes{"tokens.write"}, true},
		{latchkey.Scopes{"tokens.write", "tokens.read"}, latchkey.Scopes{"tokens.read"}, true},
		{latchkey.Scopes{"tokens.write"}, latchkey.Scopes{}, false},
		{latchkey.Scopes{"tokens.write"}, latchkey.Scopes{"*"}, false},
		{latchkey.Scopes{"tokens.write"}, latchkey.Scopes{"tokens.read"}, false},
		{latchkey.Scopes{"tokens.write"}, latchkey.Scopes{"tokens.write", "tokens.read"}, false},
	} {
		if got := tc.have.Covers(tc.want); got != tc.ok {
			t.Errorf("Scopes(%q).Covers(%q) = %v, want %v", tc.have, tc.want, got, tc.ok)
		}
	}
}

func TestFieldErrorsSummary(t *testing.T) {
	for n, want := range map[int]string{
		1: "s0",
		2: "s0 (and 1 more error)",
		3: "s0 (and 2 more errors)",
	} {
		var fe latchkey.FieldErrors
		for i := range n {
			fe.Add(fmt.Sprintf("f%d", i%2), fmt.Sprintf("s%d", i))
		}
		err := fe.Err()
		var e *latchkey.Error
		if !errors.As(err, &e) || e.Message != want || e.Code != latchkey.EINVALID {
			t.Errorf("%d errors: %v, want message %q", n, err, want)
		}
	}
	var none latchkey.FieldErrors
	if err := none.Err(); err != nil {
		t.Errorf("no errors: Err() = %v, want nil", err)
	}
}

func TestErrorCode(t *testing.T) {
	wrapped := fmt.Errorf("context: %w", &latchkey.Error{Code: latchkey.ENOTFOUND, Message: "gone"})
	for _, tc := range []struct {
		err       error
		code, msg string
	}{
		{nil, "", ""},
		{errors.New("driver exploded"), latchkey.EINTERNAL, "Server Error"},
		{wrapped, latchkey.ENOTFOUND, "gone"},
	} {
		if c, m := latchkey.ErrorCode(tc.err), latchkey.ErrorMessage(tc.err); c != tc.code || m != tc.msg {
			t.Errorf("ErrorCode, ErrorMessage(%v) = %q, %q; want %q, %q", tc.err, c, m, tc.code, tc.msg)
		}
	}
}
