package service

import (
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
)

// TestSignInLoginLength: a login of 512 bytes, the longest read, finds its
// user; one a byte longer is refused unread. (An address that long is no
// longer taken, but one stored before MaxEmailLength still signs in: the
// test stores it as such a database holds it.)
func TestSignInLoginLength(t *testing.T) {
	svc, st := newTestService(t, Config{})
	for _, tc := range []struct {
		n  int
		ok bool
	}{
		{512, true},
		{513, false},
	} {
		email := strings.Repeat("e", tc.n-len("@example.com")) + "@example.com"
		name := strings.Repeat("u", 10) + string(rune('a'+tc.n%26))
		u, err := svc.CreateUser(t.Context(), NewUser{Username: name, Email: name + "@example.com", Password: testPassword})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.UpdateUser(t.Context(), u.ID, latchkey.UserUpdate{Email: &email}, svc.now()); err != nil {
			t.Fatal(err)
		}
		got, _, err := svc.SignIn(t.Context(), email, testPassword, testOrigin)
		switch {
		case tc.ok && (err != nil || got.ID != u.ID):
			t.Errorf("SignIn with an email of %d bytes = %v, want user %d", tc.n, err, u.ID)
		case !tc.ok && latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED:
			t.Errorf("SignIn with an email of %d bytes = %v, want EUNAUTHENTICATED", tc.n, err)
		}
	}
}
