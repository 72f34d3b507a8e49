package service

import (
	"github.com/google/go-cmp/cmp"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// TestExpiryCappedByMaxLifetime: expires_at may reach the maximum lifetime
// exactly and not a microsecond past it; the refusal names the limit.
func TestExpiryCappedByMaxLifetime(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	svc, _ := newTestService(t, Config{Now: func() time.Time { return now }, MaxLifetime: Lifetime{Days: 30}, DefaultLifetime: Lifetime{Days: 7}})
	u := svc.mustUser(t, "capped")
	limit := now.AddDate(0, 0, 30)
	name := "t"
	for _, tc := range []struct {
		at time.Time
		ok bool
	}{
		{limit, true},
		{limit.Add(time.Microsecond), false},
		{now.AddDate(1, 0, 0), false},
	} {
		at := tc.at
		tok, _, err := svc.OperatorCreateToken(t.Context(), u, TokenRequest{Name: &name, ExpiresAt: &at})
		if tc.ok {
			if err != nil || !tok.ExpiresAt.Equal(at) {
				t.Errorf("expires_at %s: %v, %v; want a token expiring then", at, tok, err)
			}
			continue
		}
		var e *latchkey.Error
		if !asError(err, &e) || e.Code != latchkey.EINVALID {
			t.Fatalf("expires_at %s: %v, want EINVALID", at, err)
		}
		want := "The Expires At field must be a date before or equal to " + limit.Format(dateLayout) + "."
		if got := e.Fields.Get("expires_at"); len(got) == 0 || got[0] != want {
			t.Errorf("expires_at %s: errors.expires_at = %q, want %q", at, got, want)
		}
	}
	tok, _, err := svc.OperatorCreateToken(t.Context(), u, TokenRequest{Name: &name})
	if err != nil || !tok.ExpiresAt.Equal(now.AddDate(0, 0, 7)) {
		t.Errorf("no expires_at: %v, %v; want the default lifetime", tok, err)
	}
}

// TestTokenBelongsToOwner: a token is found, shown and revoked only as its
// own user's, whether its row is read or served from the cache.
func TestTokenBelongsToOwner(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	ctx := t.Context()
	alice, bob := svc.mustUser(t, "alice"), svc.mustUser(t, "bob")
	tok, _ := svc.mustToken(t, alice)
	for _, round := range []string{"read", "cached"} {
		if _, err := svc.Token(ctx, bob, tok.ID); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Errorf("%s: Token(bob, alice's token) = %v, want ENOTFOUND", round, err)
		}
		if _, err := svc.Token(ctx, alice, tok.ID); err != nil {
			t.Fatalf("%s: Token(alice, her token) = %v", round, err)
		}
	}
	if _, err := svc.RevokeToken(ctx, Operator(), bob, tok.ID); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		t.Errorf("RevokeToken(bob, alice's token) = %v, want ENOTFOUND", err)
	}
	if got, err := svc.Token(ctx, alice, tok.ID); err != nil || got.Revoked {
		t.Errorf("after bob's attempt, alice's token = %+v, %v; want it unrevoked", got, err)
	}
}

func asError(err error, target **latchkey.Error) bool {
	e, ok := err.(*latchkey.Error)
	if ok {
		*target = e
	}
	return ok
}

// TestCreateTokenGrant: a token hands on no more than it has
// (Principal.AuthorizeGrant): a limited token creates only tokens limited
// to a subset of its scopes, and a refusal stores nothing.
func TestCreateTokenGrant(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	ctx := t.Context()
	alice := svc.mustUser(t, "alice")
	principal := func(scopes ...string) *latchkey.Principal {
		t.Helper()
		name := "scoped"
		_, jwt, err := svc.OperatorCreateToken(ctx, alice, TokenRequest{Name: &name, Scopes: scopes})
		if err != nil {
			t.Fatal(err)
		}
		p, err := svc.Authenticate(ctx, jwt, latchkey.Origin{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	writer, star := principal(latchkey.ScopeTokensWrite), principal(latchkey.ScopeAll)
	for _, tc := range []struct {
		name string
		p    *latchkey.Principal
		want []string
		code string
	}{
		{"limited token, its own scope", writer, []string{latchkey.ScopeTokensWrite}, ""},
		{"limited token, another scope", writer, []string{latchkey.ScopeTokensRead}, latchkey.EFORBIDDEN},
		{"limited token, more scopes", writer, []string{latchkey.ScopeTokensWrite, latchkey.ScopeTokensRead}, latchkey.EFORBIDDEN},
		{"limited token, every ability", writer, nil, latchkey.EFORBIDDEN},
		{"limited token, star", writer, []string{latchkey.ScopeAll}, latchkey.EFORBIDDEN},
		{"star token, every ability", star, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, before, err := svc.UserTokens(ctx, alice, 0)
			if err != nil {
				t.Fatal(err)
			}
			name := tc.name
			_, _, err = svc.CreateToken(ctx, tc.p, alice, TokenRequest{Name: &name, Scopes: tc.want})
			if got := latchkey.ErrorCode(err); got != tc.code {
				t.Fatalf("CreateToken(scopes %q) by a %q token = %v, want code %q", tc.want, tc.p.Token.Scopes, err, tc.code)
			}
			if err != nil && latchkey.ErrorMessage(err) != latchkey.MsgCannotGrant {
				t.Errorf("CreateToken(scopes %q) message = %q, want %q", tc.want, latchkey.ErrorMessage(err), latchkey.MsgCannotGrant)
			}
			_, after, err := svc.UserTokens(ctx, alice, 0)
			if err != nil {
				t.Fatal(err)
			}
			if stored := after - before; stored != map[bool]int{true: 1, false: 0}[tc.code == ""] {
				t.Errorf("CreateToken(scopes %q) stored %d tokens", tc.want, stored)
			}
		})
	}
}

// TestLineage: a token made by a token's bearer is that token's child: it
// never outlives it, and it goes when it goes, cached or not.
func TestLineage(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	svc, _ := newTestService(t, Config{Now: func() time.Time { return now }, DefaultLifetime: Lifetime{Days: 30}})
	ctx := t.Context()
	alice := svc.mustUser(t, "alice")
	name := "parent"
	parentExpires := now.Add(24 * time.Hour)
	parent, parentJWT, err := svc.OperatorCreateToken(ctx, alice, TokenRequest{Name: &name, ExpiresAt: &parentExpires})
	if err != nil {
		t.Fatal(err)
	}
	if parent.ParentID != "" {
		t.Errorf("a token made at the command line has ParentID %q, want none", parent.ParentID)
	}
	p, err := svc.Authenticate(ctx, parentJWT, latchkey.Origin{})
	if err != nil {
		t.Fatal(err)
	}

	name = "child"
	child, childJWT, err := svc.CreateToken(ctx, p, alice, TokenRequest{Name: &name})
	if err != nil {
		t.Fatalf("CreateToken(by the parent) = %v", err)
	}
	if child.ParentID != parent.ID {
		t.Errorf("child.ParentID = %q, want the parent's id", child.ParentID)
	}
	if !child.ExpiresAt.Equal(parentExpires) {
		t.Errorf("child expires at %v without expires_at, want the parent's expiry %v (not the default lifetime)", child.ExpiresAt, parentExpires)
	}

	later := parentExpires.Add(time.Microsecond)
	_, _, err = svc.CreateToken(ctx, p, alice, TokenRequest{Name: &name, ExpiresAt: &later})
	var e *latchkey.Error
	if !asError(err, &e) || e.Code != latchkey.EINVALID {
		t.Fatalf("CreateToken(expiring after the parent) = %v, want EINVALID", err)
	}
	want := []string{"The Expires At field must be a date before or equal to " + parentExpires.Format(dateLayout) + ".", MsgExpiresParent}
	if diff := cmp.Diff(want, e.Fields.Get("expires_at")); diff != "" {
		t.Errorf("CreateToken(expiring after the parent) errors.expires_at (-want +got):\n%s", diff)
	}
	earlier := parentExpires.Add(-time.Hour)
	sibling, _, err := svc.CreateToken(ctx, p, alice, TokenRequest{Name: &name, ExpiresAt: &earlier})
	if err != nil || !sibling.ExpiresAt.Equal(earlier) {
		t.Errorf("CreateToken(expiring before the parent) = %+v, %v; want it made", sibling, err)
	}
	if n, err := svc.Descendants(ctx, alice, parent.ID); err != nil || n != 2 {
		t.Errorf("Descendants(parent) = %d, %v; want 2", n, err)
	}

	// The child is cached as live; revoking the parent ends it at once.
	if _, err := svc.Authenticate(ctx, childJWT, latchkey.Origin{}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RevokeToken(ctx, Operator(), alice, parent.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, childJWT, latchkey.Origin{}); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("Authenticate(the child) after its parent was revoked = %v, want EUNAUTHENTICATED", err)
	}
	got, err := svc.Token(ctx, alice, child.ID)
	if err != nil || !got.Revoked || got.RevokedReason != latchkey.ReasonParentRevoked {
		t.Errorf("Token(child) = %+v, %v; want revoked for %q", got, err, latchkey.ReasonParentRevoked)
	}

	// A principal whose token was revoked since it authenticated makes
	// nothing.
	_, _, err = svc.CreateToken(ctx, p, alice, TokenRequest{Name: &name})
	if latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("CreateToken(by a token revoked meanwhile) = %v, want EUNAUTHENTICATED", err)
	}
}
