package service

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/password"
)

// testClock is a clock a test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Now().UTC().Truncate(time.Second)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const testPassword = "correct horse battery staple"

// userWithPassword makes an active user who can sign in with testPassword.
func (s *Service) userWithPassword(t *testing.T, name string) *latchkey.User {
	t.Helper()
	u, err := s.CreateUser(t.Context(), NewUser{Username: name, Email: name + "@example.com", Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

var testOrigin = latchkey.Origin{Address: "192.0.2.7", UserAgent: "test browser/1.0"}

func TestSignIn(t *testing.T) {
	clock := newTestClock()
	svc, st := newTestService(t, Config{Now: clock.Now, SessionLifetime: 2 * time.Hour})
	ctx := t.Context()
	u := svc.userWithPassword(t, "erin")
	for _, login := range []string{"erin", "erin@example.com", "  erin  "} {
		t.Run(login, func(t *testing.T) {
			got, secret, err := svc.SignIn(ctx, login, testPassword, testOrigin)
			if err != nil {
				t.Fatalf("SignIn(%q) = %v", login, err)
			}
			if got.ID != u.ID {
				t.Errorf("SignIn(%q) signed in user %d, want %d", login, got.ID, u.ID)
			}
			if b, err := base64.RawURLEncoding.DecodeString(secret); err != nil || len(b) != 32 {
				t.Errorf("session secret %q: %d bytes, %v; want 32 random bytes in base64url", secret, len(b), err)
			}
			sess, err := st.Session(ctx, hexSHA256(secret))
			if err != nil {
				t.Fatalf("the session stored under the secret's SHA-256: %v", err)
			}
			want := &latchkey.Session{ID: hexSHA256(secret), UserID: u.ID, CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(2 * time.Hour), Origin: testOrigin}
			if diff := cmp.Diff(want, sess); diff != "" {
				t.Errorf("stored session (-want +got):\n%s", diff)
			}
			if _, err := st.Session(ctx, secret); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
				t.Errorf("a session stored under the secret itself: %v, want none", err)
			}
			if su, err := svc.SessionUser(ctx, secret); err != nil || su.ID != u.ID {
				t.Errorf("SessionUser(secret) = %+v, %v; want user %d", su, err, u.ID)
			}
		})
	}
	rs, err := svc.Audit(ctx, latchkey.AuditFilter{Action: latchkey.AuditSignInOK})
	if err != nil || len(rs) != 3 {
		t.Fatalf("audit records of sign-in = %d, %v; want 3", len(rs), err)
	}
	r := rs[0]
	if r.ActorUserID == nil || *r.ActorUserID != u.ID || r.SubjectUserID == nil || *r.SubjectUserID != u.ID || r.Origin != testOrigin {
		t.Errorf("sign-in audit record = %+v, want actor and subject %d from %+v", r, u.ID, testOrigin)
	}
	// Two sign-ins are two sessions.
	_, a, _ := svc.SignIn(ctx, "erin", testPassword, testOrigin)
	_, b, _ := svc.SignIn(ctx, "erin", testPassword, testOrigin)
	if a == b || a == "" {
		t.Errorf("two sign-ins gave secrets %q and %q, want two different ones", a, b)
	}
}

func TestSignInRefusals(t *testing.T) {
	var logs bytes.Buffer
	svc, _ := newTestService(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := t.Context()
	active := svc.userWithPassword(t, "frank")
	inactive := svc.userWithPassword(t, "grace")
	status := latchkey.StatusInactive
	if _, err := svc.UpdateUser(ctx, inactive.ID, UserChange{UserUpdate: latchkey.UserUpdate{Status: &status}}); err != nil {
		t.Fatal(err)
	}
	deleted := svc.userWithPassword(t, "heidi")
	if err := svc.DeleteUser(ctx, deleted.ID); err != nil {
		t.Fatal(err)
	}
	noPassword := svc.mustUser(t, "ivan")
	long := testPassword + strings.Repeat("x", MaxPasswordLength)

	for _, tc := range []struct {
		name, login, pw string
		detail          string
		subject         *latchkey.User // nil: no user named
	}{
		{"unknown user", "mallory", testPassword, "unknown user", nil},
		{"unknown email", "mallory@example.com", testPassword, "unknown user", nil},
		{"empty login", "", testPassword, "unknown user", nil},
		{"a login too long to look up", strings.Repeat("m", 600), testPassword, "unknown user", nil},
		{"wrong password", "frank", "Correct horse battery staple", "wrong password", active},
		{"empty password", "frank@example.com", "", "wrong password", active},
		{"password too long", "frank", long, "wrong password", active},
		{"inactive user", "grace", testPassword, "inactive user", inactive},
		{"inactive user, wrong password", "grace", "nope", "inactive user", inactive},
		{"deleted user", "heidi@example.com", testPassword, "inactive user", deleted},
		{"user without a password", "ivan", "", "no password", noPassword},
		{"user without a password, given one", "ivan", testPassword, "no password", noPassword},
		{"numeric id is not a login", "1", testPassword, "unknown user", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, secret, err := svc.SignIn(ctx, tc.login, tc.pw, testOrigin)
			if u != nil || secret != "" {
				t.Errorf("SignIn(%q) = %+v, %q; want no user and no session", tc.login, u, secret)
			}
			if err == nil || err.Error() != "unauthenticated: "+MsgBadCredentials || latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
				t.Fatalf("SignIn(%q) = %v, want EUNAUTHENTICATED %q", tc.login, err, MsgBadCredentials)
			}
			rs, err := svc.Audit(ctx, latchkey.AuditFilter{Action: latchkey.AuditSignInRefused, Limit: 1})
			if err != nil || len(rs) != 1 {
				t.Fatalf("audit of the refusal: %d records, %v", len(rs), err)
			}
			r := rs[0]
			if r.Detail != tc.detail {
				t.Errorf("audit detail = %q, want %q", r.Detail, tc.detail)
			}
			if r.Origin != testOrigin || r.ActorUserID != nil {
				t.Errorf("audit record = %+v, want origin %+v and no actor", r, testOrigin)
			}
			switch {
			case tc.subject == nil && r.SubjectUserID != nil:
				t.Errorf("audit subject user = %d, want none", *r.SubjectUserID)
			case tc.subject != nil && (r.SubjectUserID == nil || *r.SubjectUserID != tc.subject.ID):
				t.Errorf("audit subject user = %v, want %d", r.SubjectUserID, tc.subject.ID)
			}
			for _, typed := range []string{tc.pw, tc.login} {
				if len(typed) < 2 {
					continue // "1" is in the user agent
				}
				if strings.Contains(r.Detail+r.SubjectID+r.ActorTokenID+r.UserAgent+r.Address, typed) {
					t.Errorf("audit record %+v holds %q as typed", r, typed)
				}
			}
		})
	}
	if strings.Contains(logs.String(), testPassword) {
		t.Errorf("the logs hold a password:\n%s", logs.String())
	}
}

func TestSessionExpires(t *testing.T) {
	clock := newTestClock()
	svc, st := newTestService(t, Config{Now: clock.Now, SessionLifetime: time.Hour})
	ctx := t.Context()
	u := svc.userWithPassword(t, "judy")
	_, secret, err := svc.SignIn(ctx, "judy", testPassword, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Hour - time.Microsecond)
	if got, err := svc.SessionUser(ctx, secret); err != nil || got.ID != u.ID {
		t.Fatalf("SessionUser just before the session ends = %+v, %v; want user %d", got, err, u.ID)
	}
	clock.Add(time.Microsecond)
	if got, err := svc.SessionUser(ctx, secret); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("SessionUser when the session ends = %+v, %v; want EUNAUTHENTICATED", got, err)
	}
	if _, err := st.Session(ctx, hexSHA256(secret)); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		t.Errorf("the expired session after it was refused: %v, want it deleted", err)
	}
}

func TestDefaultSessionLifetime(t *testing.T) {
	clock := newTestClock()
	svc, st := newTestService(t, Config{Now: clock.Now})
	svc.userWithPassword(t, "kim")
	_, secret, err := svc.SignIn(t.Context(), "kim", testPassword, latchkey.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := st.Session(t.Context(), hexSHA256(secret))
	if err != nil || sess.ExpiresAt.Sub(sess.CreatedAt) != 12*time.Hour {
		t.Errorf("session %+v, %v; want it to last 12 hours", sess, err)
	}
}

func TestSessionUserRefusesInactive(t *testing.T) {
	svc, st := newTestService(t, Config{})
	ctx := t.Context()
	u := svc.userWithPassword(t, "leo")
	_, secret, err := svc.SignIn(ctx, "leo", testPassword, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	inactive, active := latchkey.StatusInactive, latchkey.StatusActive
	if _, err := svc.UpdateUser(ctx, u.ID, UserChange{UserUpdate: latchkey.UserUpdate{Status: &inactive}}); err != nil {
		t.Fatal(err)
	}
	if got, err := svc.SessionUser(ctx, secret); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("SessionUser of a disabled user = %+v, %v; want EUNAUTHENTICATED", got, err)
	}
	if _, err := svc.UpdateUser(ctx, u.ID, UserChange{UserUpdate: latchkey.UserUpdate{Status: &active}}); err != nil {
		t.Fatal(err)
	}
	if got, err := svc.SessionUser(ctx, secret); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("SessionUser after the user was enabled again = %+v, %v; want the old session gone", got, err)
	}

	// Deleted: the same.
	_, secret, err = svc.SignIn(ctx, "leo", testPassword, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := svc.SessionUser(ctx, secret); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("SessionUser of a deleted user = %+v, %v; want EUNAUTHENTICATED", got, err)
	}
	if _, err := st.Session(ctx, hexSHA256(secret)); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		t.Errorf("a deleted user's session after it was refused: %v, want it deleted", err)
	}
}

func TestSessionUserRefusesStrangers(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	svc.userWithPassword(t, "mia")
	_, secret, err := svc.SignIn(t.Context(), "mia", testPassword, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{
		"empty":            "",
		"unknown":          "bm90IGEgc2Vzc2lvbg",
		"the session's id": hexSHA256(secret),
		"too long":         secret + strings.Repeat("A", 256),
		"one byte off":     secret[:len(secret)-1] + "_",
	} {
		if got, err := svc.SessionUser(t.Context(), s); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
			t.Errorf("SessionUser(%s) = %+v, %v; want EUNAUTHENTICATED", name, got, err)
		}
	}
}

func TestSignOut(t *testing.T) {
	svc, st := newTestService(t, Config{})
	ctx := t.Context()
	svc.userWithPassword(t, "nina")
	_, secret, err := svc.SignIn(ctx, "nina", testPassword, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	_, kept, err := svc.SignIn(ctx, "nina", testPassword, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.SignOut(ctx, secret); err != nil {
		t.Fatalf("SignOut = %v", err)
	}
	if got, err := svc.SessionUser(ctx, secret); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("SessionUser after SignOut = %+v, %v; want EUNAUTHENTICATED", got, err)
	}
	if _, err := st.Session(ctx, hexSHA256(secret)); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		t.Errorf("the session after SignOut: %v, want it deleted", err)
	}
	if _, err := svc.SessionUser(ctx, kept); err != nil {
		t.Errorf("the user's other session after SignOut: %v, want it kept", err)
	}
	for _, s := range []string{secret, "", "never a session", strings.Repeat("x", 1000)} {
		if err := svc.SignOut(ctx, s); err != nil {
			t.Errorf("SignOut(%.20q) = %v, want nil", s, err)
		}
	}
}

func TestPruneExpired(t *testing.T) {
	clock := newTestClock()
	svc, st := newTestService(t, Config{Now: clock.Now, SessionLifetime: time.Hour})
	ctx := t.Context()
	u := svc.userWithPassword(t, "oscar")
	_, old, err := svc.SignIn(ctx, "oscar", testPassword, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	grant := func(sig string, expires time.Time) {
		t.Helper()
		g := &latchkey.Grant{Kind: latchkey.GrantCode, Signature: sig, RequestID: "req-" + sig, ClientID: latchkey.PersonalAccessClientID,
			UserID: u.ID, Active: true, Request: []byte("{}"), CreatedAt: clock.Now(), ExpiresAt: expires}
		if err := st.CreateGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	grant("old", clock.Now().Add(10*time.Minute))
	clock.Add(50 * time.Minute)
	_, fresh, err := svc.SignIn(ctx, "oscar", testPassword, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	grant("fresh", clock.Now().Add(time.Hour))
	clock.Add(30 * time.Minute) // the old session and the old code have expired

	svc.pruneExpired(ctx)
	if _, err := st.Session(ctx, hexSHA256(old)); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		t.Errorf("an expired session after pruning: %v, want it deleted", err)
	}
	if _, err := st.Session(ctx, hexSHA256(fresh)); err != nil {
		t.Errorf("a live session after pruning: %v, want it kept", err)
	}
	if _, err := st.Grant(ctx, latchkey.GrantCode, "old"); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		t.Errorf("an expired grant after pruning: %v, want it deleted", err)
	}
	if _, err := st.Grant(ctx, latchkey.GrantCode, "fresh"); err != nil {
		t.Errorf("a live grant after pruning: %v, want it kept", err)
	}
}

func TestPasswordChangeEndsSessions(t *testing.T) {
	svc, st := newTestService(t, Config{})
	ctx := t.Context()
	u := svc.userWithPassword(t, "mia")
	other := svc.userWithPassword(t, "noa")
	_, secret, err := svc.SignIn(ctx, "mia", testPassword, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	_, otherSecret, err := svc.SignIn(ctx, "noa", testPassword, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	pw := "a new passphrase"
	if _, err := svc.UpdateUser(ctx, u.ID, UserChange{Password: &pw}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Session(ctx, hexSHA256(secret)); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		t.Errorf("the session after a password change: %v, want it deleted at once", err)
	}
	if got, err := svc.SessionUser(ctx, otherSecret); err != nil || got.ID != other.ID {
		t.Errorf("another user's session after the change: %v, %v; want it kept", got, err)
	}
	// A change of name keeps the session.
	_, secret, err = svc.SignIn(ctx, "mia", pw, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	first := "Mia"
	if _, err := svc.UpdateUser(ctx, u.ID, UserChange{UserUpdate: latchkey.UserUpdate{FirstName: &first}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SessionUser(ctx, secret); err != nil {
		t.Errorf("the session after a change of name: %v, want it kept", err)
	}
}

func TestSignInWaitsForATurn(t *testing.T) {
	svc, _ := newTestService(t, Config{PasswordChecks: 1})
	svc.userWithPassword(t, "ada")
	svc.passwordChecks <- struct{}{} // the only turn is taken
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := svc.SignIn(ctx, "ada", testPassword, testOrigin); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("SignIn with no turn free: %v, want it to wait until its context ends", err)
	}
	<-svc.passwordChecks
	for range 3 {
		if _, _, err := svc.SignIn(t.Context(), "ada", testPassword, testOrigin); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(svc.passwordChecks); n != 0 {
		t.Errorf("%d turns still taken after the sign-ins ended", n)
	}
}

func TestSignInKey(t *testing.T) {
	// The same key for every spelling of one name, known or not: the key
	// must not depend on whether the account exists.
	want := SignInKey("bea")
	for _, login := range []string{" bea ", "BEA", "Bea\t"} {
		if got := SignInKey(login); got != want {
			t.Errorf("SignInKey(%q) = %q, want SignInKey(bea) = %q", login, got, want)
		}
	}
	// A key is small whatever was typed: a limiter holds many of them.
	if got := SignInKey(strings.Repeat("m", 60<<10)); len(got) > 80 {
		t.Errorf("SignInKey of 60 KiB is %d bytes, want at most 80", len(got))
	}
	if SignInKey("bea@example.com") == SignInKey("bea") {
		t.Error("a username and an email share a key: a spent budget would tie one to the other")
	}
}

// signInObserver records the sign-in outcomes an Observer hears.
type signInObserver struct {
	nopObserver
	mu       sync.Mutex
	outcomes []string
}

func (o *signInObserver) SignedIn(outcome string) {
	o.mu.Lock()
	o.outcomes = append(o.outcomes, outcome)
	o.mu.Unlock()
}

func TestSignInObserved(t *testing.T) {
	obs := &signInObserver{}
	svc, _ := newTestService(t, Config{Observer: obs})
	svc.userWithPassword(t, "cy")
	for _, tc := range []struct{ login, pw string }{{"cy", testPassword}, {"cy", "wrong"}, {"nobody", testPassword}} {
		_, _, _ = svc.SignIn(t.Context(), tc.login, tc.pw, testOrigin)
	}
	if got, want := strings.Join(obs.outcomes, ","), "accepted,refused,refused"; got != want {
		t.Errorf("outcomes heard: %s, want %s", got, want)
	}
}

// countingHasher is argon2id at the tests' cost, counting each hash it
// computes.
type countingHasher struct {
	argon2id
	n atomic.Int64
}

func (c *countingHasher) Hash(pw string) (string, error) { c.n.Add(1); return c.argon2id.Hash(pw) }
func (c *countingHasher) Check(h, pw string) error       { c.n.Add(1); return c.argon2id.Check(h, pw) }

// TestSignInSpendsOneHash: every sign-in, accepted or refused for any
// reason, computes exactly one password hash, so that its time tells
// nothing of the reason.
func TestSignInSpendsOneHash(t *testing.T) {
	hasher := &countingHasher{argon2id: argon2id{password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}}
	svc, _ := newTestService(t, Config{Hasher: hasher})
	ctx := t.Context()
	svc.userWithPassword(t, "frank")
	inactive := svc.userWithPassword(t, "grace")
	status := latchkey.StatusInactive
	if _, err := svc.UpdateUser(ctx, inactive.ID, UserChange{UserUpdate: latchkey.UserUpdate{Status: &status}}); err != nil {
		t.Fatal(err)
	}
	svc.mustUser(t, "ivan")
	for _, tc := range []struct{ name, login, pw string }{
		{"accepted", "frank", testPassword},
		{"unknown user", "mallory", testPassword},
		{"empty login", "", testPassword},
		{"wrong password", "frank", "wrong"},
		{"password too long", "frank", strings.Repeat("x", MaxPasswordLength+1)},
		{"inactive user", "grace", testPassword},
		{"user without a password", "ivan", testPassword},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := hasher.n.Load()
			_, _, _ = svc.SignIn(ctx, tc.login, tc.pw, testOrigin)
			if got := hasher.n.Load() - before; got != 1 {
				t.Errorf("SignIn(%q) computed %d password hashes, want 1", tc.login, got)
			}
		})
	}
}
