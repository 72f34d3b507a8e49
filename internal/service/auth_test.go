package service

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// alteredStore answers Credential from the database, then lets the test
// change one thing about the answer: a row the database could hold but the
// service's own API cannot easily make (a row that expires before its JWT,
// a client revoked with its tokens left alone).
type alteredStore struct {
	latchkey.Store
	alter func(*latchkey.Credential)
}

func (a *alteredStore) Credential(ctx context.Context, id string) (*latchkey.Credential, error) {
	c, err := a.Store.Credential(ctx, id)
	if err == nil && a.alter != nil {
		a.alter(c)
	}
	return c, err
}

// outcomes is an Observer that keeps the authentication outcomes.
type outcomes struct {
	nopObserver
	mu  sync.Mutex
	got []string
}

func (o *outcomes) Authenticated(outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, outcome)
}

func (o *outcomes) last() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.got) == 0 {
		return ""
	}
	return o.got[len(o.got)-1]
}

// TestCheckRefusesTheRow: a token whose signature and claims are good is
// still refused, with its own outcome, for each thing its row, its client
// or its user says; each case fails when its check is removed from check.
func TestCheckRefusesTheRow(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		name  string
		alter func(c *latchkey.Credential, now time.Time)
		want  string
	}{
		{"accepted", func(*latchkey.Credential, time.Time) {}, OutcomeVerified},
		{"row revoked", func(c *latchkey.Credential, _ time.Time) { c.Token.Revoked = true }, OutcomeRevoked},
		{"row expired before the JWT", func(c *latchkey.Credential, now time.Time) {
			at := now.Add(-time.Second)
			c.Token.ExpiresAt = &at
		}, OutcomeExpired},
		{"row expires at this instant", func(c *latchkey.Credential, now time.Time) { c.Token.ExpiresAt = &now }, OutcomeExpired},
		{"client revoked", func(c *latchkey.Credential, _ time.Time) { c.Client.Revoked = true }, OutcomeClientRevoked},
		{"user disabled", func(c *latchkey.Credential, _ time.Time) { c.User.Status = latchkey.StatusInactive }, OutcomeUserInactive},
		{"user deleted", func(c *latchkey.Credential, now time.Time) { c.User.DeletedAt = &now }, OutcomeUserInactive},
		{"another user's row", func(c *latchkey.Credential, _ time.Time) { c.Token.UserID++ }, OutcomeMismatch},
		{"another client's row", func(c *latchkey.Credential, _ time.Time) { c.Token.ClientID++ }, OutcomeMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, st := newTestService(t, Config{})
			obs := &outcomes{}
			cfg := base.cfg
			cfg.Observer = obs
			now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
			cfg.Now = func() time.Time { return now }
			svc, err := New(ctx, &alteredStore{Store: st, alter: func(c *latchkey.Credential) { tc.alter(c, now) }}, base.sealer, cfg)
			if err != nil {
				t.Fatal(err)
			}
			u := svc.mustUser(t, "checked")
			_, raw := svc.mustToken(t, u)
			_, err = svc.Authenticate(ctx, raw, latchkey.Origin{})
			if got := obs.last(); got != tc.want {
				t.Errorf("outcome = %q (err %v), want %q", got, err, tc.want)
			}
			if wantErr := tc.want != OutcomeVerified; (err != nil) != wantErr {
				t.Errorf("Authenticate = %v, want an error: %t", err, wantErr)
			}
			if err != nil && latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
				t.Errorf("Authenticate = %v, want EUNAUTHENTICATED", err)
			}
		})
	}
}

// TestCachedUntilTheRowExpires: a token whose row expires before its JWT is
// served from the cache only until the row's expiry.
func TestCachedUntilTheRowExpires(t *testing.T) {
	ctx := t.Context()
	base, st := newTestService(t, Config{})
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	cfg := base.cfg
	cfg.Now = clock
	rowExpiry := now.Add(10 * time.Second)
	svc, err := New(ctx, &alteredStore{Store: st, alter: func(c *latchkey.Credential) { c.Token.ExpiresAt = &rowExpiry }}, base.sealer, cfg)
	if err != nil {
		t.Fatal(err)
	}
	u := svc.mustUser(t, "expiring")
	_, raw := svc.mustToken(t, u)
	if _, err := svc.Authenticate(ctx, raw, latchkey.Origin{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = rowExpiry
	mu.Unlock()
	if _, err := svc.Authenticate(ctx, raw, latchkey.Origin{}); err == nil {
		t.Error("a token whose row has expired is still served from the cache")
	}
}
