package service

import (
	"errors"
	"slices"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/password"
)

// TestPasswordRule: a password set at creation or by an update follows
// password.Validate (NIST SP 800-63B rev. 4); a refusal is the contract's
// 422 shape, errors.password saying why, and changes nothing.
func TestPasswordRule(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	ctx := t.Context()
	wantRefused := func(t *testing.T, err error, why string) {
		t.Helper()
		var e *latchkey.Error
		if !errors.As(err, &e) || e.Code != latchkey.EINVALID || !slices.Contains(e.Fields.Get("password"), why) {
			t.Fatalf("err = %v, want EINVALID with errors.password %q", err, why)
		}
	}
	for _, tc := range []struct{ pw, why string }{
		{"a", password.MsgTooShort},
		{"fourteen chars", password.MsgTooShort},
		{"123456789987654321", password.MsgCommon},
		{"carol.the.long.username", password.MsgContext},
	} {
		_, err := svc.CreateUser(ctx, NewUser{Username: "carol.the.long.username", Email: "carol@example.com", Password: tc.pw})
		wantRefused(t, err, tc.why)
	}
	if _, err := svc.FindUser(ctx, "carol.the.long.username"); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		t.Fatalf("a refused creation stored the user: %v", err)
	}
	// No password at all is still allowed: such a user cannot sign in.
	if _, err := svc.CreateUser(ctx, NewUser{Username: "nopw", Email: "nopw@example.com"}); err != nil {
		t.Fatalf("CreateUser without a password: %v", err)
	}

	u := svc.userWithPassword(t, "dave")
	for _, tc := range []struct{ pw, why string }{
		{"a", password.MsgTooShort},
		{"DAVE@EXAMPLE.COM", password.MsgContext},
		{"qwertyuiop12345", password.MsgCommon},
	} {
		pw := tc.pw
		_, err := svc.UpdateUser(ctx, u.ID, UserChange{Password: &pw})
		wantRefused(t, err, tc.why)
	}
	// The new name counts too.
	pw, name := "dave.becomes.david", "dave.becomes.david"
	_, err := svc.UpdateUser(ctx, u.ID, UserChange{UserUpdate: latchkey.UserUpdate{Username: &name}, Password: &pw})
	wantRefused(t, err, password.MsgContext)
	// The old password still works: nothing was changed.
	if _, _, err := svc.SignIn(ctx, "dave", testPassword, testOrigin); err != nil {
		t.Fatalf("sign-in with the old password after refused changes: %v", err)
	}
	good := "a much better passphrase"
	if _, err := svc.UpdateUser(ctx, u.ID, UserChange{Password: &good}); err != nil {
		t.Fatalf("UpdateUser(%q): %v", good, err)
	}
	if _, _, err := svc.SignIn(ctx, "dave", good, testOrigin); err != nil {
		t.Fatalf("sign-in with the new password: %v", err)
	}
}
