package service

import (
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
)

// TestSignInLoginLength: a login of 512 bytes, the longest read, finds its
// user; one a byte longer is refused unread.
func TestSignInLoginLength(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	for _, tc := range []struct {
		n  int
		ok bool
	}{
		{512, true},
		{513, false},
	} {
		email := strings.Repeat("e", tc.n-len("@example.com")) + "@example.com"
		u, err := svc.CreateUser(t.Context(), NewUser{Username: strings.Repeat("u", 10) + string(rune('a'+tc.n%26)), Email: email, Password: testPassword})
		if err != nil {
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
