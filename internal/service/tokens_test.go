package service

import (
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
