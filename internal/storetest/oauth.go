package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/latchkey/latchkey"
)

// signature returns the n-th grant signature of the fixtures, in the form
// of a hex SHA-256.
func signature(n int) string { return fmt.Sprintf("%064x", n) }

// newGrant returns an active grant of kind with signature sig in the
// authorization request, of user and client, created at the epoch and
// expiring an hour later.
func newGrant(kind latchkey.GrantKind, sig, request string, user, client int64) *latchkey.Grant {
	return &latchkey.Grant{
		Kind:      kind,
		Signature: sig,
		RequestID: request,
		ClientID:  client,
		UserID:    user,
		Active:    true,
		// Not text: stores keep the bytes as they are given them.
		Request:   []byte("{\"request\":\"" + request + "\"}\x00\xff\xfe"),
		CreatedAt: at(0),
		ExpiresAt: at(time.Hour),
	}
}

// createGrant stores g and returns it.
func createGrant(t testing.TB, s latchkey.Store, g *latchkey.Grant) *latchkey.Grant {
	t.Helper()
	if err := s.CreateGrant(t.Context(), g); err != nil {
		t.Fatalf("CreateGrant(%s %q) = %v", g.Kind, g.Signature, err)
	}
	return g
}

// issueToken stores, with CreateAccessToken, the n-th token of user issued
// by client under the authorization request, and its access grant, and
// returns both.
func issueToken(t testing.TB, s latchkey.Store, n int, user, client int64, request string) (*latchkey.Token, *latchkey.Grant) {
	t.Helper()
	tok := newToken(n, user)
	tok.ClientID = client
	g := newGrant(latchkey.GrantAccess, tok.ID, request, user, client)
	if err := s.CreateAccessToken(t.Context(), tok, g); err != nil {
		t.Fatalf("CreateAccessToken(%q) = %v", tok.ID, err)
	}
	return tok, g
}

// grantActive reports whether the grant of kind with signature sig is
// active; it fails the test when the grant cannot be read.
func grantActive(t *testing.T, s latchkey.Store, kind latchkey.GrantKind, sig string) bool {
	t.Helper()
	g, err := s.Grant(t.Context(), kind, sig)
	if err != nil {
		t.Fatalf("Grant(%s, %q) = %v", kind, sig, err)
	}
	return g.Active
}

// checkActive reports an error unless the grants of kind with signatures
// sigs are active as want says.
func checkActive(t *testing.T, s latchkey.Store, after string, want bool, kind latchkey.GrantKind, sigs ...string) {
	t.Helper()
	for _, sig := range sigs {
		if got := grantActive(t, s, kind, sig); got != want {
			t.Errorf("after %s, Grant(%s, %q).Active = %t, want %t", after, kind, sig, got, want)
		}
	}
}

// checkRevoked reports an error unless each token of ids is revoked with
// UpdatedAt at when, when revoked, or is not revoked, when not.
func checkRevoked(t *testing.T, s latchkey.Store, after string, revoked bool, when time.Time, ids ...string) {
	t.Helper()
	for _, id := range ids {
		tok, err := s.Token(t.Context(), id)
		if err != nil {
			t.Fatalf("Token(%q) = %v", id, err)
		}
		if tok.Revoked != revoked || (revoked && !tok.UpdatedAt.Equal(when)) {
			t.Errorf("after %s, Token(%q) revoked %t, updated %v; want revoked %t at %v",
				after, id, tok.Revoked, tok.UpdatedAt, revoked, when)
		}
	}
}

// revokedAt returns copies of tokens, with their clients, as revoking
// them at when, for reason, leaves them.
func revokedAt(t *testing.T, s latchkey.Store, when time.Time, reason latchkey.RevokeReason, tokens ...*latchkey.Token) []*latchkey.Token {
	t.Helper()
	out := []*latchkey.Token{}
	for _, tok := range tokens {
		r := withClient(t, s, tok)
		r.Revoked, r.UpdatedAt, r.RevokedReason, r.RevokedAt = true, when, reason, &when
		out = append(out, r)
	}
	return out
}

// byID sorts tokens by id, since the contracts leave the order of the
// revoked tokens they return open.
func byID(tokens []*latchkey.Token) []*latchkey.Token {
	return slices.SortedFunc(slices.Values(tokens), func(a, b *latchkey.Token) int { return strings.Compare(a.ID, b.ID) })
}

func testCreateGrant(t *testing.T, open func(t *testing.T) latchkey.Store) {
	paris := time.FixedZone("CET", 3600)
	for i, kind := range latchkey.GrantKinds {
		t.Run(string(kind), func(t *testing.T) {
			s := open(t)
			u := createUser(t, s, newUser("alice"))
			app := createClient(t, s, newClient("App"))
			g := newGrant(kind, signature(i+1), "request-1", u.ID, app.ID)
			g.CreatedAt = at(time.Second).In(paris)
			g.ExpiresAt = at(10 * time.Minute).In(paris)
			createGrant(t, s, g)

			got, err := s.Grant(t.Context(), kind, g.Signature)
			if err != nil {
				t.Fatalf("Grant(%s, %q) = %v", kind, g.Signature, err)
			}
			want := *g
			want.CreatedAt, want.ExpiresAt = at(time.Second), at(10*time.Minute)
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Errorf("Grant(%s, %q) mismatch (-want +got):\n%s", kind, g.Signature, diff)
			}
			checkUTC(t, fmt.Sprintf("Grant(%s, %q)", kind, g.Signature), &got.CreatedAt, &got.ExpiresAt)
		})
	}

	t.Run("Inactive", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		g := newGrant(latchkey.GrantRefresh, signature(1), "request-1", u.ID, app.ID)
		g.Active = false
		createGrant(t, s, g)
		got, err := s.Grant(t.Context(), g.Kind, g.Signature)
		if err != nil {
			t.Fatalf("Grant(%s, %q) = %v", g.Kind, g.Signature, err)
		}
		if diff := cmp.Diff(g, got); diff != "" {
			t.Errorf("Grant(%s, %q) mismatch (-want +got):\n%s", g.Kind, g.Signature, diff)
		}
	})

	// A code and its PKCE challenge are found by the same hash.
	t.Run("SameSignatureOtherKind", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		code := createGrant(t, s, newGrant(latchkey.GrantCode, signature(1), "request-1", u.ID, app.ID))
		pkce := newGrant(latchkey.GrantPKCE, signature(1), "request-1", u.ID, app.ID)
		pkce.Request = []byte("challenge")
		createGrant(t, s, pkce)
		for _, want := range []*latchkey.Grant{code, pkce} {
			got, err := s.Grant(t.Context(), want.Kind, want.Signature)
			if err != nil {
				t.Fatalf("Grant(%s, %q) = %v", want.Kind, want.Signature, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Grant(%s, %q) mismatch (-want +got):\n%s", want.Kind, want.Signature, diff)
			}
		}
	})

	t.Run("Duplicate", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		first := createGrant(t, s, newGrant(latchkey.GrantCode, signature(1), "request-1", u.ID, app.ID))
		again := newGrant(latchkey.GrantCode, signature(1), "request-2", u.ID, app.ID)
		err := s.CreateGrant(t.Context(), again)
		checkCode(t, "CreateGrant(duplicate)", err, latchkey.ECONFLICT)
		got, err := s.Grant(t.Context(), first.Kind, first.Signature)
		if err != nil {
			t.Fatalf("Grant(%s, %q) = %v", first.Kind, first.Signature, err)
		}
		if diff := cmp.Diff(first, got); diff != "" {
			t.Errorf("after a duplicate CreateGrant, Grant(%s, %q) mismatch (-want +got):\n%s", first.Kind, first.Signature, diff)
		}
	})

	t.Run("UnknownOwner", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		tests := []struct {
			name         string
			user, client int64
		}{
			{"User", u.ID + 1000, app.ID},
			{"Client", u.ID, app.ID + 1000},
		}
		for i, tt := range tests {
			g := newGrant(latchkey.GrantCode, signature(i+1), "request-1", tt.user, tt.client)
			err := s.CreateGrant(t.Context(), g)
			checkCode(t, fmt.Sprintf("CreateGrant(unknown %s)", tt.name), err, latchkey.ENOTFOUND)
			_, err = s.Grant(t.Context(), g.Kind, g.Signature)
			checkCode(t, fmt.Sprintf("after CreateGrant(unknown %s), Grant", tt.name), err, latchkey.ENOTFOUND)
		}
	})
}

func testGrant(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	u := createUser(t, s, newUser("alice"))
	app := createClient(t, s, newClient("App"))
	createGrant(t, s, newGrant(latchkey.GrantRefresh, signature(1), "request-1", u.ID, app.ID))
	tests := []struct {
		name string
		kind latchkey.GrantKind
		sig  string
	}{
		{"NoSignature", latchkey.GrantRefresh, signature(2)},
		{"OtherKind", latchkey.GrantCode, signature(1)},
		{"UnknownKind", "device", signature(1)},
		{"Empty", latchkey.GrantRefresh, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Grant(t.Context(), tt.kind, tt.sig)
			checkCode(t, fmt.Sprintf("Grant(%s, %q)", tt.kind, tt.sig), err, latchkey.ENOTFOUND)
		})
	}
}

func testCreateAccessToken(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("StoresBoth", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		tok, g := issueToken(t, s, 1, u.ID, app.ID, "request-1")

		got, err := s.Token(t.Context(), tok.ID)
		if err != nil {
			t.Fatalf("Token(%q) = %v", tok.ID, err)
		}
		if diff := cmp.Diff(withClient(t, s, tok), got); diff != "" {
			t.Errorf("after CreateAccessToken, Token(%q) mismatch (-want +got):\n%s", tok.ID, diff)
		}
		gotGrant, err := s.Grant(t.Context(), latchkey.GrantAccess, tok.ID)
		if err != nil {
			t.Fatalf("Grant(access, %q) = %v", tok.ID, err)
		}
		if diff := cmp.Diff(g, gotGrant); diff != "" {
			t.Errorf("after CreateAccessToken, Grant(access, %q) mismatch (-want +got):\n%s", tok.ID, diff)
		}
	})

	t.Run("Audience", func(t *testing.T) {
		// A token for a resource keeps its audience in every read.
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		tok := newToken(1, u.ID)
		tok.ClientID = app.ID
		tok.Audience = "https://mcp.example.com/mcp"
		if err := s.CreateAccessToken(t.Context(), tok, newGrant(latchkey.GrantAccess, tok.ID, "request-1", u.ID, app.ID)); err != nil {
			t.Fatalf("CreateAccessToken(%q) = %v", tok.ID, err)
		}
		plain, _ := issueToken(t, s, 2, u.ID, app.ID, "request-2")
		got, err := s.Token(t.Context(), tok.ID)
		if err != nil || got.Audience != tok.Audience {
			t.Errorf("Token(%q) = %+v, %v; want audience %q", tok.ID, got, err, tok.Audience)
		}
		cred, err := s.Credential(t.Context(), tok.ID)
		if err != nil || cred.Token.Audience != tok.Audience {
			t.Errorf("Credential(%q) = %+v, %v; want audience %q", tok.ID, cred, err, tok.Audience)
		}
		list, _, err := s.Tokens(t.Context(), latchkey.TokenFilter{UserID: u.ID})
		if err != nil || len(list) != 2 {
			t.Fatalf("Tokens(alice) = %v, %v; want 2 tokens", list, err)
		}
		for _, l := range list {
			want := map[string]string{tok.ID: tok.Audience, plain.ID: ""}[l.ID]
			if l.Audience != want {
				t.Errorf("Tokens(alice): token %s has audience %q, want %q", l.ID, l.Audience, want)
			}
		}
	})

	t.Run("GrantConflict", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		createGrant(t, s, newGrant(latchkey.GrantAccess, tokenID(1), "request-1", u.ID, app.ID))
		tok := newToken(1, u.ID)
		tok.ClientID = app.ID
		err := s.CreateAccessToken(t.Context(), tok, newGrant(latchkey.GrantAccess, tok.ID, "request-2", u.ID, app.ID))
		checkCode(t, "CreateAccessToken(existing grant)", err, latchkey.ECONFLICT)
		_, err = s.Token(t.Context(), tok.ID)
		checkCode(t, fmt.Sprintf("after a failed CreateAccessToken, Token(%q)", tok.ID), err, latchkey.ENOTFOUND)
		g, err := s.Grant(t.Context(), latchkey.GrantAccess, tok.ID)
		if err != nil {
			t.Fatalf("Grant(access, %q) = %v", tok.ID, err)
		}
		if g.RequestID != "request-1" {
			t.Errorf("after a failed CreateAccessToken, Grant(access, %q).RequestID = %q, want %q", tok.ID, g.RequestID, "request-1")
		}
	})

	t.Run("TokenConflict", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		existing := createToken(t, s, newToken(1, u.ID))
		tok := newToken(1, u.ID)
		tok.ClientID = app.ID
		tok.Name = "other"
		err := s.CreateAccessToken(t.Context(), tok, newGrant(latchkey.GrantAccess, tok.ID, "request-1", u.ID, app.ID))
		checkCode(t, "CreateAccessToken(existing token)", err, latchkey.ECONFLICT)
		_, err = s.Grant(t.Context(), latchkey.GrantAccess, tok.ID)
		checkCode(t, fmt.Sprintf("after a failed CreateAccessToken, Grant(access, %q)", tok.ID), err, latchkey.ENOTFOUND)
		got, err := s.Token(t.Context(), tok.ID)
		if err != nil {
			t.Fatalf("Token(%q) = %v", tok.ID, err)
		}
		if diff := cmp.Diff(withClient(t, s, existing), got); diff != "" {
			t.Errorf("after a failed CreateAccessToken, Token(%q) mismatch (-want +got):\n%s", tok.ID, diff)
		}
	})

	t.Run("GrantOfUnknownClient", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		tok := newToken(1, u.ID)
		tok.ClientID = app.ID
		err := s.CreateAccessToken(t.Context(), tok, newGrant(latchkey.GrantAccess, tok.ID, "request-1", u.ID, app.ID+1000))
		checkCode(t, "CreateAccessToken(grant of an unknown client)", err, latchkey.ENOTFOUND)
		_, err = s.Token(t.Context(), tok.ID)
		checkCode(t, fmt.Sprintf("after a failed CreateAccessToken, Token(%q)", tok.ID), err, latchkey.ENOTFOUND)
	})

	t.Run("UnknownUser", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		tok := newToken(1, u.ID+1000)
		tok.ClientID = app.ID
		err := s.CreateAccessToken(t.Context(), tok, newGrant(latchkey.GrantAccess, tok.ID, "request-1", u.ID+1000, app.ID))
		checkCode(t, "CreateAccessToken(unknown user)", err, latchkey.ENOTFOUND)
		_, err = s.Grant(t.Context(), latchkey.GrantAccess, tok.ID)
		checkCode(t, fmt.Sprintf("after a failed CreateAccessToken, Grant(access, %q)", tok.ID), err, latchkey.ENOTFOUND)
	})
}

func testDeactivateGrant(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("Deactivates", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		code := createGrant(t, s, newGrant(latchkey.GrantCode, signature(1), "request-1", u.ID, app.ID))
		pkce := createGrant(t, s, newGrant(latchkey.GrantPKCE, signature(1), "request-1", u.ID, app.ID))
		other := createGrant(t, s, newGrant(latchkey.GrantCode, signature(2), "request-1", u.ID, app.ID))

		if err := s.DeactivateGrant(t.Context(), code.Kind, code.Signature); err != nil {
			t.Fatalf("DeactivateGrant(%s, %q) = %v", code.Kind, code.Signature, err)
		}
		got, err := s.Grant(t.Context(), code.Kind, code.Signature)
		if err != nil {
			t.Fatalf("Grant(%s, %q) = %v", code.Kind, code.Signature, err)
		}
		want := *code
		want.Active = false
		if diff := cmp.Diff(&want, got); diff != "" {
			t.Errorf("after DeactivateGrant, Grant(%s, %q) mismatch (-want +got):\n%s", code.Kind, code.Signature, diff)
		}
		checkActive(t, s, "DeactivateGrant", true, pkce.Kind, pkce.Signature)
		checkActive(t, s, "DeactivateGrant", true, other.Kind, other.Signature)
	})

	t.Run("Again", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		g := createGrant(t, s, newGrant(latchkey.GrantRefresh, signature(1), "request-1", u.ID, app.ID))
		if err := s.DeactivateGrant(t.Context(), g.Kind, g.Signature); err != nil {
			t.Fatalf("DeactivateGrant(%s, %q) = %v, want nil", g.Kind, g.Signature, err)
		}
		err := s.DeactivateGrant(t.Context(), g.Kind, g.Signature)
		checkCode(t, "DeactivateGrant of an inactive grant", err, latchkey.ECONFLICT)
		checkActive(t, s, "DeactivateGrant twice", false, g.Kind, g.Signature)
	})

	t.Run("Race", func(t *testing.T) {
		// Of many deactivations at once, exactly one wins: a code is
		// exchanged once.
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		g := createGrant(t, s, newGrant(latchkey.GrantCode, signature(1), "request-1", u.ID, app.ID))
		const n = 8
		errs := make(chan error, n)
		for range n {
			go func() { errs <- s.DeactivateGrant(context.WithoutCancel(t.Context()), g.Kind, g.Signature) }()
		}
		won := 0
		for range n {
			switch err := <-errs; latchkey.ErrorCode(err) {
			case "":
				won++
			case latchkey.ECONFLICT:
			default:
				t.Errorf("DeactivateGrant at once: %v, want nil or ECONFLICT", err)
			}
		}
		if won != 1 {
			t.Errorf("%d of %d deactivations at once succeeded, want exactly 1", won, n)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		g := createGrant(t, s, newGrant(latchkey.GrantRefresh, signature(1), "request-1", u.ID, app.ID))
		err := s.DeactivateGrant(t.Context(), g.Kind, signature(2))
		checkCode(t, fmt.Sprintf("DeactivateGrant(%s, %q)", g.Kind, signature(2)), err, latchkey.ENOTFOUND)
		err = s.DeactivateGrant(t.Context(), latchkey.GrantCode, g.Signature)
		checkCode(t, fmt.Sprintf("DeactivateGrant(code, %q)", g.Signature), err, latchkey.ENOTFOUND)
		checkActive(t, s, "DeactivateGrant of another grant", true, g.Kind, g.Signature)
	})
}

func testDeactivateGrants(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	u := createUser(t, s, newUser("alice"))
	app := createClient(t, s, newClient("App"))
	r1 := createGrant(t, s, newGrant(latchkey.GrantRefresh, signature(1), "request-a", u.ID, app.ID))
	r2 := createGrant(t, s, newGrant(latchkey.GrantRefresh, signature(2), "request-a", u.ID, app.ID))
	code := createGrant(t, s, newGrant(latchkey.GrantCode, signature(3), "request-a", u.ID, app.ID))
	other := createGrant(t, s, newGrant(latchkey.GrantRefresh, signature(4), "request-b", u.ID, app.ID))

	for i := range 2 {
		if err := s.DeactivateGrants(t.Context(), latchkey.GrantRefresh, "request-a"); err != nil {
			t.Fatalf("DeactivateGrants(refresh, request-a) call %d = %v, want nil", i+1, err)
		}
	}
	const after = "DeactivateGrants(refresh, request-a)"
	checkActive(t, s, after, false, latchkey.GrantRefresh, r1.Signature, r2.Signature)
	checkActive(t, s, after, true, latchkey.GrantCode, code.Signature)
	checkActive(t, s, after, true, latchkey.GrantRefresh, other.Signature)

	if err := s.DeactivateGrants(t.Context(), latchkey.GrantRefresh, "request-none"); err != nil {
		t.Errorf("DeactivateGrants(refresh, request-none) = %v, want nil", err)
	}
	checkActive(t, s, "DeactivateGrants(refresh, request-none)", true, latchkey.GrantRefresh, other.Signature)
}

func testDeleteGrant(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	u := createUser(t, s, newUser("alice"))
	app := createClient(t, s, newClient("App"))
	code := createGrant(t, s, newGrant(latchkey.GrantCode, signature(1), "request-1", u.ID, app.ID))
	pkce := createGrant(t, s, newGrant(latchkey.GrantPKCE, signature(1), "request-1", u.ID, app.ID))

	if err := s.DeleteGrant(t.Context(), code.Kind, code.Signature); err != nil {
		t.Fatalf("DeleteGrant(%s, %q) = %v", code.Kind, code.Signature, err)
	}
	_, err := s.Grant(t.Context(), code.Kind, code.Signature)
	checkCode(t, fmt.Sprintf("after DeleteGrant, Grant(%s, %q)", code.Kind, code.Signature), err, latchkey.ENOTFOUND)
	checkActive(t, s, "DeleteGrant of the code", true, pkce.Kind, pkce.Signature)

	for _, sig := range []string{code.Signature, signature(2)} {
		if err := s.DeleteGrant(t.Context(), latchkey.GrantCode, sig); err != nil {
			t.Errorf("DeleteGrant(code, %q) of no grant = %v, want nil", sig, err)
		}
	}
}

func testRevokeRequestTokens(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("Revokes", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		one, _ := issueToken(t, s, 1, u.ID, app.ID, "request-a")
		two, _ := issueToken(t, s, 2, u.ID, app.ID, "request-a")
		before, _ := issueToken(t, s, 3, u.ID, app.ID, "request-a")
		earlier := at(time.Minute)
		if _, _, err := s.RevokeToken(t.Context(), before.ID, earlier, latchkey.ReasonRevoked); err != nil {
			t.Fatalf("RevokeToken(%q) = %v", before.ID, err)
		}
		otherRequest, _ := issueToken(t, s, 4, u.ID, app.ID, "request-b")
		personal := createToken(t, s, newToken(5, u.ID))
		// A grant of another kind in the request whose signature is a
		// token's id does not name that token.
		named := createToken(t, s, newToken(6, u.ID))
		createGrant(t, s, newGrant(latchkey.GrantRefresh, named.ID, "request-a", u.ID, app.ID))

		when := at(time.Hour)
		got, err := s.RevokeRequestTokens(t.Context(), "request-a", when, latchkey.ReasonAuthorizationEnded)
		if err != nil {
			t.Fatalf("RevokeRequestTokens(request-a) = %v", err)
		}
		want := revokedAt(t, s, when, latchkey.ReasonAuthorizationEnded, one, two)
		if diff := cmp.Diff(want, byID(got)); diff != "" {
			t.Errorf("RevokeRequestTokens(request-a) mismatch (-want +got):\n%s", diff)
		}
		const after = "RevokeRequestTokens(request-a)"
		checkRevoked(t, s, after, true, when, one.ID, two.ID)
		checkRevoked(t, s, after, true, earlier, before.ID)
		checkRevoked(t, s, after, false, time.Time{}, otherRequest.ID, personal.ID, named.ID)
		// It revokes tokens; it leaves grants to DeactivateGrants.
		checkActive(t, s, after, true, latchkey.GrantAccess, one.ID, two.ID)
	})

	t.Run("Again", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		tok, _ := issueToken(t, s, 1, u.ID, app.ID, "request-a")
		if _, err := s.RevokeRequestTokens(t.Context(), "request-a", at(time.Hour), latchkey.ReasonAuthorizationEnded); err != nil {
			t.Fatalf("RevokeRequestTokens(request-a) = %v", err)
		}
		got, err := s.RevokeRequestTokens(t.Context(), "request-a", at(2*time.Hour), latchkey.ReasonAuthorizationEnded)
		if err != nil || len(got) != 0 {
			t.Errorf("RevokeRequestTokens(request-a) again = %d tokens, %v; want none", len(got), err)
		}
		checkRevoked(t, s, "RevokeRequestTokens(request-a) twice", true, at(time.Hour), tok.ID)
	})

	t.Run("NoRequest", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		tok, _ := issueToken(t, s, 1, u.ID, app.ID, "request-a")
		got, err := s.RevokeRequestTokens(t.Context(), "request-none", at(time.Hour), latchkey.ReasonAuthorizationEnded)
		if err != nil || len(got) != 0 {
			t.Errorf("RevokeRequestTokens(request-none) = %d tokens, %v; want none", len(got), err)
		}
		checkRevoked(t, s, "RevokeRequestTokens(request-none)", false, time.Time{}, tok.ID)
	})
}

func testPruneGrants(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	u := createUser(t, s, newUser("alice"))
	app := createClient(t, s, newClient("App"))
	var grants []*latchkey.Grant
	for i, kind := range []latchkey.GrantKind{latchkey.GrantCode, latchkey.GrantPKCE, latchkey.GrantRefresh, latchkey.GrantAccess} {
		g := newGrant(kind, signature(i+1), "request-1", u.ID, app.ID)
		g.ExpiresAt = at(time.Duration(i+1) * time.Hour) // 1h, 2h, 3h, 4h
		grants = append(grants, createGrant(t, s, g))
	}
	// Expired before 3h: the first two; the one that expires at 3h stays.
	n, err := s.PruneGrants(t.Context(), at(3*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("PruneGrants(3h) = %d, %v; want 2", n, err)
	}
	for i, g := range grants {
		_, err := s.Grant(t.Context(), g.Kind, g.Signature)
		if i < 2 {
			checkCode(t, fmt.Sprintf("after PruneGrants, Grant(%s, %q) expiring at %v", g.Kind, g.Signature, g.ExpiresAt), err, latchkey.ENOTFOUND)
		} else if err != nil {
			t.Errorf("after PruneGrants, Grant(%s, %q) expiring at %v = %v, want the grant", g.Kind, g.Signature, g.ExpiresAt, err)
		}
	}
	if n, err := s.PruneGrants(t.Context(), at(3*time.Hour)); err != nil || n != 0 {
		t.Errorf("PruneGrants(3h) again = %d, %v; want 0", n, err)
	}
}

// newConsent returns user's consent to client with scopes, created and
// updated at the epoch.
func newConsent(user, client int64, scopes ...string) *latchkey.Consent {
	return &latchkey.Consent{
		UserID:    user,
		ClientID:  client,
		Scopes:    scopes,
		CreatedAt: at(0),
		UpdatedAt: at(0),
	}
}

// saveConsent stores c and returns it.
func saveConsent(t testing.TB, s latchkey.Store, c *latchkey.Consent) *latchkey.Consent {
	t.Helper()
	if err := s.SaveConsent(t.Context(), c); err != nil {
		t.Fatalf("SaveConsent(%d, %d) = %v", c.UserID, c.ClientID, err)
	}
	return c
}

// withConsentClient returns a copy of c with the client that reads fill in.
func withConsentClient(t *testing.T, s latchkey.Store, c *latchkey.Consent) *latchkey.Consent {
	t.Helper()
	client, err := s.Client(t.Context(), c.ClientID)
	if err != nil {
		t.Fatalf("Client(%d) = %v", c.ClientID, err)
	}
	cp := *c
	cp.Client = client
	return &cp
}

func testSaveConsent(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("New", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		c := newConsent(u.ID, app.ID, latchkey.ScopeTokensRead, "reports:export")
		c.CreatedAt = at(time.Second).In(time.FixedZone("EST", -5*3600))
		c.UpdatedAt = at(time.Minute).In(time.FixedZone("EST", -5*3600))
		saveConsent(t, s, c)

		want := newConsent(u.ID, app.ID, latchkey.ScopeTokensRead, "reports:export")
		want.CreatedAt, want.UpdatedAt = at(time.Second), at(time.Minute)
		if diff := cmp.Diff(want, c); diff != "" {
			t.Errorf("after SaveConsent, the consent given mismatch (-want +got):\n%s", diff)
		}
		got, err := s.Consent(t.Context(), u.ID, app.ID)
		if err != nil {
			t.Fatalf("Consent(%d, %d) = %v", u.ID, app.ID, err)
		}
		if diff := cmp.Diff(withConsentClient(t, s, want), got); diff != "" {
			t.Errorf("Consent(%d, %d) mismatch (-want +got):\n%s", u.ID, app.ID, diff)
		}
		checkUTC(t, fmt.Sprintf("Consent(%d, %d)", u.ID, app.ID), &got.CreatedAt, &got.UpdatedAt)
	})

	t.Run("Replaces", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		saveConsent(t, s, newConsent(u.ID, app.ID, "a", "b"))

		c := newConsent(u.ID, app.ID, "c")
		c.CreatedAt, c.UpdatedAt = at(time.Hour), at(time.Hour)
		saveConsent(t, s, c)
		want := newConsent(u.ID, app.ID, "c")
		want.UpdatedAt = at(time.Hour) // CreatedAt stays at the epoch
		if diff := cmp.Diff(want, c); diff != "" {
			t.Errorf("after a second SaveConsent, the consent given mismatch (-want +got):\n%s", diff)
		}
		got, err := s.Consent(t.Context(), u.ID, app.ID)
		if err != nil {
			t.Fatalf("Consent(%d, %d) = %v", u.ID, app.ID, err)
		}
		if diff := cmp.Diff(withConsentClient(t, s, want), got); diff != "" {
			t.Errorf("after a second SaveConsent, Consent(%d, %d) mismatch (-want +got):\n%s", u.ID, app.ID, diff)
		}
		consents, err := s.Consents(t.Context(), u.ID)
		if err != nil || len(consents) != 1 {
			t.Errorf("after a second SaveConsent, Consents(%d) = %d consents, %v; want 1", u.ID, len(consents), err)
		}
	})

	t.Run("NoScopes", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		c := saveConsent(t, s, newConsent(u.ID, app.ID)) // nil scopes
		if c.Scopes == nil || len(c.Scopes) != 0 {
			t.Errorf("after SaveConsent with no scopes, Scopes = %#v, want empty and not nil", c.Scopes)
		}
		got, err := s.Consent(t.Context(), u.ID, app.ID)
		if err != nil {
			t.Fatalf("Consent(%d, %d) = %v", u.ID, app.ID, err)
		}
		if got.Scopes == nil || len(got.Scopes) != 0 {
			t.Errorf("Consent(%d, %d).Scopes = %#v, want empty and not nil", u.ID, app.ID, got.Scopes)
		}
		consents, err := s.Consents(t.Context(), u.ID)
		if err != nil || len(consents) != 1 {
			t.Fatalf("Consents(%d) = %d consents, %v; want 1", u.ID, len(consents), err)
		}
		if consents[0].Scopes == nil || len(consents[0].Scopes) != 0 {
			t.Errorf("Consents(%d)[0].Scopes = %#v, want empty and not nil", u.ID, consents[0].Scopes)
		}
	})

	t.Run("UnknownOwner", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		err := s.SaveConsent(t.Context(), newConsent(u.ID+1000, app.ID, "a"))
		checkCode(t, "SaveConsent(unknown user)", err, latchkey.ENOTFOUND)
		err = s.SaveConsent(t.Context(), newConsent(u.ID, app.ID+1000, "a"))
		checkCode(t, "SaveConsent(unknown client)", err, latchkey.ENOTFOUND)
		consents, err := s.Consents(t.Context(), u.ID)
		if err != nil || len(consents) != 0 {
			t.Errorf("after failed SaveConsent calls, Consents(%d) = %d consents, %v; want none", u.ID, len(consents), err)
		}
	})
}

func testConsent(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	alice := createUser(t, s, newUser("alice"))
	bob := createUser(t, s, newUser("bob"))
	app := createClient(t, s, newClient("App"))
	other := createClient(t, s, newClient("Other"))
	saveConsent(t, s, newConsent(alice.ID, app.ID, "a"))
	for _, k := range [][2]int64{{alice.ID, other.ID}, {bob.ID, app.ID}, {alice.ID + bob.ID + 1000, app.ID}} {
		_, err := s.Consent(t.Context(), k[0], k[1])
		checkCode(t, fmt.Sprintf("Consent(%d, %d)", k[0], k[1]), err, latchkey.ENOTFOUND)
	}
}

func testConsents(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	alice := createUser(t, s, newUser("alice"))
	bob := createUser(t, s, newUser("bob"))
	a := createClient(t, s, newClient("A"))
	b := createClient(t, s, newClient("B"))
	c := createClient(t, s, newClient("C"))
	consent := func(user, client int64, updated time.Duration, scopes ...string) *latchkey.Consent {
		k := newConsent(user, client, scopes...)
		k.UpdatedAt = at(updated)
		return saveConsent(t, s, k)
	}
	// C is saved first, so that neither the order of saving nor that of
	// the rows gives the order of the tie between A and C.
	toC := consent(alice.ID, c.ID, time.Hour, "c")
	toA := consent(alice.ID, a.ID, time.Hour, "a")
	toB := consent(alice.ID, b.ID, 2*time.Hour, "b")
	consent(bob.ID, a.ID, 3*time.Hour, "bob")

	got, err := s.Consents(t.Context(), alice.ID)
	if err != nil {
		t.Fatalf("Consents(%d) = %v", alice.ID, err)
	}
	want := []*latchkey.Consent{withConsentClient(t, s, toB), withConsentClient(t, s, toA), withConsentClient(t, s, toC)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Consents(%d) mismatch (-want +got):\n%s", alice.ID, diff)
	}

	none := createUser(t, s, newUser("carol"))
	got, err = s.Consents(t.Context(), none.ID)
	if err != nil || len(got) != 0 {
		t.Errorf("Consents(%d) of a user without consents = %d consents, %v; want none", none.ID, len(got), err)
	}
}

func testRevokeConsent(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("Revokes", func(t *testing.T) {
		s := open(t)
		alice := createUser(t, s, newUser("alice"))
		bob := createUser(t, s, newUser("bob"))
		app := createClient(t, s, newClient("App"))
		other := createClient(t, s, newClient("Other"))
		saveConsent(t, s, newConsent(alice.ID, app.ID, "a"))
		toOther := saveConsent(t, s, newConsent(alice.ID, other.ID, "o"))
		bobs := saveConsent(t, s, newConsent(bob.ID, app.ID, "b"))

		issued, _ := issueToken(t, s, 1, alice.ID, app.ID, "request-a")
		refresh := createGrant(t, s, newGrant(latchkey.GrantRefresh, signature(1), "request-a", alice.ID, app.ID))
		plain := newToken(2, alice.ID) // of the client, without a grant
		plain.ClientID = app.ID
		createToken(t, s, plain)
		before, _ := issueToken(t, s, 3, alice.ID, app.ID, "request-b")
		earlier := at(time.Minute)
		if _, _, err := s.RevokeToken(t.Context(), before.ID, earlier, latchkey.ReasonRevoked); err != nil {
			t.Fatalf("RevokeToken(%q) = %v", before.ID, err)
		}
		ofOther, _ := issueToken(t, s, 4, alice.ID, other.ID, "request-c")
		otherRefresh := createGrant(t, s, newGrant(latchkey.GrantRefresh, signature(2), "request-c", alice.ID, other.ID))
		ofBob, _ := issueToken(t, s, 5, bob.ID, app.ID, "request-d")
		bobRefresh := createGrant(t, s, newGrant(latchkey.GrantRefresh, signature(3), "request-d", bob.ID, app.ID))
		personal := createToken(t, s, newToken(6, alice.ID))

		when := at(time.Hour)
		got, err := s.RevokeConsent(t.Context(), alice.ID, app.ID, when)
		if err != nil {
			t.Fatalf("RevokeConsent(%d, %d) = %v", alice.ID, app.ID, err)
		}
		after := fmt.Sprintf("RevokeConsent(%d, %d)", alice.ID, app.ID)
		if diff := cmp.Diff(revokedAt(t, s, when, latchkey.ReasonConsentWithdrawn, issued, plain), byID(got)); diff != "" {
			t.Errorf("%s mismatch (-want +got):\n%s", after, diff)
		}

		_, err = s.Consent(t.Context(), alice.ID, app.ID)
		checkCode(t, "after "+after+", Consent", err, latchkey.ENOTFOUND)
		for _, want := range []*latchkey.Consent{toOther, bobs} {
			got, err := s.Consent(t.Context(), want.UserID, want.ClientID)
			if err != nil {
				t.Errorf("after %s, Consent(%d, %d) = %v, want the consent", after, want.UserID, want.ClientID, err)
			} else if diff := cmp.Diff(withConsentClient(t, s, want), got); diff != "" {
				t.Errorf("after %s, Consent(%d, %d) mismatch (-want +got):\n%s", after, want.UserID, want.ClientID, diff)
			}
		}

		checkRevoked(t, s, after, true, when, issued.ID, plain.ID)
		checkRevoked(t, s, after, true, earlier, before.ID)
		checkRevoked(t, s, after, false, time.Time{}, ofOther.ID, ofBob.ID, personal.ID)

		checkActive(t, s, after, false, latchkey.GrantAccess, issued.ID, before.ID)
		checkActive(t, s, after, false, latchkey.GrantRefresh, refresh.Signature)
		checkActive(t, s, after, true, latchkey.GrantAccess, ofOther.ID, ofBob.ID)
		checkActive(t, s, after, true, latchkey.GrantRefresh, otherRefresh.Signature, bobRefresh.Signature)

		_, err = s.RevokeConsent(t.Context(), alice.ID, app.ID, at(2*time.Hour))
		checkCode(t, after+" again", err, latchkey.ENOTFOUND)
	})

	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		alice := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		other := createClient(t, s, newClient("Other"))
		saveConsent(t, s, newConsent(alice.ID, other.ID, "o"))
		tok, _ := issueToken(t, s, 1, alice.ID, app.ID, "request-a")

		_, err := s.RevokeConsent(t.Context(), alice.ID, app.ID, at(time.Hour))
		after := fmt.Sprintf("RevokeConsent(%d, %d) without consent", alice.ID, app.ID)
		checkCode(t, after, err, latchkey.ENOTFOUND)
		checkRevoked(t, s, after, false, time.Time{}, tok.ID)
		checkActive(t, s, after, true, latchkey.GrantAccess, tok.ID)
	})

	// Revocations that touch the same tokens and grants, run at once with
	// uses of the tokens, as replicas would: every call succeeds.
	t.Run("Concurrent", func(t *testing.T) {
		s := open(t)
		app := createClient(t, s, newClient("App"))
		const users, perUser = 4, 6
		var userIDs []int64
		var ids []string
		n := 0
		for i := range users {
			u := createUser(t, s, newUser(fmt.Sprint("user", i)))
			userIDs = append(userIDs, u.ID)
			saveConsent(t, s, newConsent(u.ID, app.ID, "a"))
			for j := range perUser {
				n++
				request := fmt.Sprintf("request-%d-%d", i, j%2)
				tok, _ := issueToken(t, s, n, u.ID, app.ID, request)
				createGrant(t, s, newGrant(latchkey.GrantRefresh, signature(n), request, u.ID, app.ID))
				ids = append(ids, tok.ID)
			}
		}
		var wg sync.WaitGroup
		for i, user := range userIDs {
			wg.Go(func() {
				if _, err := s.RevokeConsent(t.Context(), user, app.ID, at(time.Hour)); err != nil {
					t.Errorf("concurrent RevokeConsent(%d, %d) = %v", user, app.ID, err)
				}
			})
			for j := range 2 {
				request := fmt.Sprintf("request-%d-%d", i, j)
				wg.Go(func() {
					if _, err := s.RevokeRequestTokens(t.Context(), request, at(time.Hour), latchkey.ReasonAuthorizationEnded); err != nil {
						t.Errorf("concurrent RevokeRequestTokens(%q) = %v", request, err)
					}
				})
				wg.Go(func() {
					if err := s.DeactivateGrants(t.Context(), latchkey.GrantRefresh, request); err != nil {
						t.Errorf("concurrent DeactivateGrants(refresh, %q) = %v", request, err)
					}
				})
			}
		}
		wg.Go(func() {
			if _, err := s.RevokeClient(t.Context(), app.ID, at(time.Hour)); err != nil {
				t.Errorf("concurrent RevokeClient(%d) = %v", app.ID, err)
			}
		})
		for round := range 4 {
			wg.Go(func() {
				uses := map[string]time.Time{}
				for k, id := range ids {
					if k%4 == round {
						uses[id] = at(time.Minute)
					}
				}
				if err := s.TouchTokens(t.Context(), usesAt(uses)); err != nil {
					t.Errorf("concurrent TouchTokens = %v", err)
				}
			})
		}
		wg.Wait()
		checkRevoked(t, s, "concurrent revocations", true, at(time.Hour), ids...)
		checkActive(t, s, "concurrent revocations", false, latchkey.GrantAccess, ids...)
		for k := range ids {
			checkActive(t, s, "concurrent revocations", false, latchkey.GrantRefresh, signature(k+1))
		}
	})
}

// newSession returns user's session with the id of the n-th fixture
// signature, created at the epoch and expiring a day later.
func newSession(n int, user int64) *latchkey.Session {
	return &latchkey.Session{
		ID:        signature(n),
		UserID:    user,
		CreatedAt: at(0),
		ExpiresAt: at(24 * time.Hour),
		Origin:    latchkey.Origin{Address: "192.0.2.7", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)"},
	}
}

// createSession stores sess and returns it.
func createSession(t testing.TB, s latchkey.Store, sess *latchkey.Session) *latchkey.Session {
	t.Helper()
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession(%q) = %v", sess.ID, err)
	}
	return sess
}

// checkSessions reports an error unless the sessions of ids exist, when
// exist, or do not.
func checkSessions(t *testing.T, s latchkey.Store, after string, exist bool, ids ...string) {
	t.Helper()
	for _, id := range ids {
		_, err := s.Session(t.Context(), id)
		switch {
		case exist && err != nil:
			t.Errorf("after %s, Session(%q) = %v, want the session", after, id, err)
		case !exist:
			checkCode(t, fmt.Sprintf("after %s, Session(%q)", after, id), err, latchkey.ENOTFOUND)
		}
	}
}

func testCreateSession(t *testing.T, open func(t *testing.T) latchkey.Store) {
	tests := []struct {
		name    string
		session func(user int64) *latchkey.Session
		want    func(s *latchkey.Session) // adjusts the expected read
	}{
		{"Full", func(user int64) *latchkey.Session { return newSession(1, user) }, nil},
		{"NoOrigin", func(user int64) *latchkey.Session {
			sess := newSession(2, user)
			sess.Origin = latchkey.Origin{}
			return sess
		}, nil},
		{"OtherZone", func(user int64) *latchkey.Session {
			sess := newSession(3, user)
			sess.CreatedAt = at(time.Second).In(time.FixedZone("JST", 9*3600))
			sess.ExpiresAt = at(time.Hour).In(time.FixedZone("JST", 9*3600))
			return sess
		}, func(sess *latchkey.Session) { sess.CreatedAt, sess.ExpiresAt = at(time.Second), at(time.Hour) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			u := createUser(t, s, newUser("alice"))
			sess := createSession(t, s, tt.session(u.ID))
			want := *sess
			if tt.want != nil {
				tt.want(&want)
			}
			got, err := s.Session(t.Context(), sess.ID)
			if err != nil {
				t.Fatalf("Session(%q) = %v", sess.ID, err)
			}
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Errorf("Session(%q) mismatch (-want +got):\n%s", sess.ID, diff)
			}
			checkUTC(t, fmt.Sprintf("Session(%q)", sess.ID), &got.CreatedAt, &got.ExpiresAt)
		})
	}

	t.Run("Duplicate", func(t *testing.T) {
		s := open(t)
		alice := createUser(t, s, newUser("alice"))
		bob := createUser(t, s, newUser("bob"))
		first := createSession(t, s, newSession(1, alice.ID))
		err := s.CreateSession(t.Context(), newSession(1, bob.ID))
		checkCode(t, "CreateSession(duplicate)", err, latchkey.ECONFLICT)
		got, err := s.Session(t.Context(), first.ID)
		if err != nil {
			t.Fatalf("Session(%q) = %v", first.ID, err)
		}
		if diff := cmp.Diff(first, got); diff != "" {
			t.Errorf("after a duplicate CreateSession, Session(%q) mismatch (-want +got):\n%s", first.ID, diff)
		}
	})
}

func testSession(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		createSession(t, s, newSession(1, u.ID))
		for _, id := range []string{signature(2), "", signature(1)[:63]} {
			_, err := s.Session(t.Context(), id)
			checkCode(t, fmt.Sprintf("Session(%q)", id), err, latchkey.ENOTFOUND)
		}
	})

	t.Run("Expired", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		sess := newSession(1, u.ID)
		sess.ExpiresAt = at(-time.Hour)
		createSession(t, s, sess)
		checkSessions(t, s, "CreateSession of an expired session", true, sess.ID)
	})
}

func testDeleteSession(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	u := createUser(t, s, newUser("alice"))
	gone := createSession(t, s, newSession(1, u.ID))
	kept := createSession(t, s, newSession(2, u.ID))
	if err := s.DeleteSession(t.Context(), gone.ID); err != nil {
		t.Fatalf("DeleteSession(%q) = %v", gone.ID, err)
	}
	checkSessions(t, s, "DeleteSession", false, gone.ID)
	checkSessions(t, s, "DeleteSession", true, kept.ID)
	for _, id := range []string{gone.ID, signature(3)} {
		if err := s.DeleteSession(t.Context(), id); err != nil {
			t.Errorf("DeleteSession(%q) of no session = %v, want nil", id, err)
		}
	}
}

func testDeleteUserSessions(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	alice := createUser(t, s, newUser("alice"))
	bob := createUser(t, s, newUser("bob"))
	carol := createUser(t, s, newUser("carol"))
	a1 := createSession(t, s, newSession(1, alice.ID))
	a2 := createSession(t, s, newSession(2, alice.ID))
	b := createSession(t, s, newSession(3, bob.ID))
	if err := s.DeleteUserSessions(t.Context(), alice.ID); err != nil {
		t.Fatalf("DeleteUserSessions(%d) = %v", alice.ID, err)
	}
	after := fmt.Sprintf("DeleteUserSessions(%d)", alice.ID)
	checkSessions(t, s, after, false, a1.ID, a2.ID)
	checkSessions(t, s, after, true, b.ID)
	if err := s.DeleteUserSessions(t.Context(), carol.ID); err != nil {
		t.Errorf("DeleteUserSessions(%d) of a user without sessions = %v, want nil", carol.ID, err)
	}
	checkSessions(t, s, fmt.Sprintf("DeleteUserSessions(%d)", carol.ID), true, b.ID)
}

func testPruneSessions(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	u := createUser(t, s, newUser("alice"))
	var ids []string
	for i := range 4 {
		sess := newSession(i+1, u.ID)
		sess.ExpiresAt = at(time.Duration(i+1) * time.Hour) // 1h, 2h, 3h, 4h
		ids = append(ids, createSession(t, s, sess).ID)
	}
	// Expired before 3h: the first two; the one that expires at 3h stays.
	n, err := s.PruneSessions(t.Context(), at(3*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("PruneSessions(3h) = %d, %v; want 2", n, err)
	}
	checkSessions(t, s, "PruneSessions(3h)", false, ids[:2]...)
	checkSessions(t, s, "PruneSessions(3h)", true, ids[2:]...)
	if n, err := s.PruneSessions(t.Context(), at(3*time.Hour)); err != nil || n != 0 {
		t.Errorf("PruneSessions(3h) again = %d, %v; want 0", n, err)
	}
}
