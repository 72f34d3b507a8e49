package jwt_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/latchkey/latchkey/internal/jwt"
)

// FuzzVerify feeds Verify and KeyID arbitrary tokens. Properties: they
// never panic; Verify refuses with ErrInvalid alone; KeyID names the key of
// a token Verify accepts; and the claims of a token it accepts
// sign into a token that verifies to the same claims (times in whole
// seconds, as Sign writes them).
func FuzzVerify(f *testing.F) {
	r, priv := fixture(f)
	good, _, err := r.Sign(testClaims())
	if err != nil {
		f.Fatal(err)
	}
	head, claims, sig := segments(f, good)
	for _, seed := range []string{
		good, // valid
		signRaw(f, priv, `{"alg":"RS256","typ":"JWT","kid":"`+kid1+`"}`, // Passport's
			`{"aud":"3","jti":"abc","iat":1773497366.123456,"nbf":1773497366.123456,"exp":1773504566.5,"sub":"42","scopes":["*"]}`),
		signRaw(f, priv, `{"typ":"JWT","alg":"RS256","kid":"`+kid1+`"}`, // no iat or nbf
			`{"aud":"3","jti":"abc","exp":1773504566,"sub":"42","scopes":[]}`),
		enc(`{"typ":"JWT","alg":"none","kid":"`+kid1+`"}`) + "." + claims + ".",
		hs256(`{"typ":"JWT","alg":"HS256","kid":"`+kid1+`"}`, dec(f, claims), readFile(f, "key1-public.pem")),
		head + "." + enc(strings.Replace(dec(f, claims), `"42"`, `"1"`, 1)) + "." + sig,
		enc(`{"typ":"JWT","alg":"RS256","kid":"nope"}`) + "." + claims + "." + sig,
		head + "." + claims,
		good + "." + sig,
		"",
		"...",
		"a.b.c",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		kid := jwt.KeyID(token)
		c, err := r.Verify(token, now)
		if err != nil {
			if err != jwt.ErrInvalid {
				t.Fatalf("Verify() = %v, want ErrInvalid", err)
			}
			return
		}
		if kid != kid1 {
			t.Errorf("KeyID() = %q of a token key %s verified", kid, kid1)
		}
		want := *c
		for _, t := range []*time.Time{&want.IssuedAt, &want.NotBefore, &want.ExpiresAt} {
			if t.IsZero() {
				*t = time.Unix(0, 0).UTC()
			}
			*t = t.Truncate(time.Second)
		}
		again, _, err := r.Sign(want)
		if err != nil {
			t.Fatalf("Sign(%+v) = %v", want, err)
		}
		got, err := r.Verify(again, now)
		if err != nil {
			// Truncating exp can only move it earlier: an accepted exp of
			// now+0.5s becomes now, which has expired.
			if !want.ExpiresAt.After(now) {
				return
			}
			t.Fatalf("Verify(Sign(claims)) = %v", err)
		}
		if diff := cmp.Diff(&want, got); diff != "" {
			t.Errorf("Verify(Sign(claims)) (-want +got):\n%s", diff)
		}
	})
}
