package latchkey_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// TestTokenExpired: a token has expired from the instant of its expiry on;
// one without an expiry never does.
func TestTokenExpired(t *testing.T) {
	exp := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		tok  latchkey.Token
		now  time.Time
		want bool
	}{
		{"before", latchkey.Token{ExpiresAt: &exp}, exp.Add(-time.Nanosecond), false},
		{"at", latchkey.Token{ExpiresAt: &exp}, exp, true},
		{"after", latchkey.Token{ExpiresAt: &exp}, exp.Add(time.Nanosecond), true},
		{"no expiry", latchkey.Token{}, exp, false},
	} {
		if got := tc.tok.Expired(tc.now); got != tc.want {
			t.Errorf("%s: Expired(%s) = %t, want %t", tc.name, tc.now, got, tc.want)
		}
	}
}

// TestClientPublic: a client without a secret is public (and must use
// PKCE); one with a secret's hash is confidential.
func TestClientPublic(t *testing.T) {
	if c := (&latchkey.Client{}); !c.Public() {
		t.Error("a client without a secret: Public() = false, want true")
	}
	if c := (&latchkey.Client{SecretHash: "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"}); c.Public() {
		t.Error("a client with a secret: Public() = true, want false")
	}
}

// TestSigningKeySigning: the key without a retirement date is the signing
// key; a retired one only verifies.
func TestSigningKeySigning(t *testing.T) {
	retired := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	if k := (&latchkey.SigningKey{}); !k.Signing() {
		t.Error("a key never retired: Signing() = false, want true")
	}
	if k := (&latchkey.SigningKey{RetiredAt: &retired}); k.Signing() {
		t.Error("a retired key: Signing() = true, want false")
	}
}

// FuzzValidTokenID: ValidTokenID accepts exactly what the pattern
// ^[0-9a-f]{80}$ matches.
func FuzzValidTokenID(f *testing.F) {
	id := strings.Repeat("0123456789abcdef", 5)
	for _, seed := range []string{id, id[1:], id + "0", strings.ToUpper(id), id[:79] + "g", id[:79] + "\n", "", "é" + id[2:]} {
		f.Add(seed)
	}
	pattern := regexp.MustCompile(`^[0-9a-f]{80}$`)
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := latchkey.ValidTokenID(s), pattern.MatchString(s); got != want {
			t.Fatalf("ValidTokenID(%q) = %t, want %t", s, got, want)
		}
	})
}
