package jwt_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/latchkey/latchkey/internal/jwt"
)

// FuzzVerify feeds Verify and KeyID arbitrary tokens, to a keyring of
// keys of the three algorithms (RS256, ES256, EdDSA). Properties: they
// never panic; Verify refuses with ErrInvalid alone; KeyID names a key of
// the keyring, whose algorithm the header names, for a token Verify
// accepts; and the claims of a token it accepts sign, with each key in
// turn, into a token that verifies to the same claims (times in whole
// seconds, as Sign writes them).
func FuzzVerify(f *testing.F) {
	r := mixedKeyring(f, "RS256")
	rings := []*jwt.Keyring{r, mixedKeyring(f, "ES256"), mixedKeyring(f, "EdDSA")} // as testKeys
	algOf := map[string]string{}
	valid := `{"aud":"3","jti":"abc","exp":1773504566,"sub":"42","scopes":[]}`
	for i, k := range testKeys {
		algOf[k.kid] = k.alg
		priv := privateKey(f, k.file)
		good, _, err := rings[i].Sign(testClaims())
		if err != nil {
			f.Fatal(err)
		}
		head, claims, sig := segments(f, good)
		for _, seed := range []string{
			good, // valid
			signRaw(f, priv, `{"alg":"`+k.alg+`","typ":"JWT","kid":"`+k.kid+`"}`, // Passport's order, fractions
				`{"aud":"3","jti":"abc","iat":1773497366.123456,"nbf":1773497366.123456,"exp":1773504566.5,"sub":"42","scopes":["*"]}`),
			signRaw(f, priv, canonicalHeader(k.alg, k.kid), valid),           // no iat or nbf
			signRaw(f, priv, canonicalHeader(otherAlg(k.alg), k.kid), valid), // another algorithm named
			signRaw(f, priv, `{"kid":"`+k.kid+`","alg":"HS256"}`, valid),
			enc(canonicalHeader("none", k.kid)) + "." + claims + ".",
			hs256(canonicalHeader("HS256", k.kid), dec(f, claims), r.JWKS()),
			head + "." + enc(strings.Replace(dec(f, claims), `"42"`, `"1"`, 1)) + "." + sig,
			enc(canonicalHeader(k.alg, "nope")) + "." + claims + "." + sig,
			head + "." + claims,
			good + "." + sig,
			good + "AA",
		} {
			f.Add(seed)
		}
	}
	f.Add(hs256(canonicalHeader("HS256", kid1), valid, readFile(f, "key1-public.pem")))
	for _, seed := range []string{"", "...", "a.b.c"} {
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
		var header map[string]any
		if err := json.Unmarshal([]byte(dec(t, strings.Split(token, ".")[0])), &header); err != nil {
			t.Fatalf("Verify() accepted a header that is not JSON: %v", err)
		}
		if !r.Has(kid) || header["alg"] != algOf[kid] {
			t.Errorf("KeyID() = %q, header alg %v, of a token Verify accepted; want a kid of the keyring and its algorithm", kid, header["alg"])
		}
		want := *c
		for _, t := range []*time.Time{&want.IssuedAt, &want.NotBefore, &want.ExpiresAt} {
			if t.IsZero() {
				*t = time.Unix(0, 0).UTC()
			}
			*t = t.Truncate(time.Second)
		}
		for _, signer := range rings {
			again, _, err := signer.Sign(want)
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
				t.Fatalf("Verify(Sign(claims)) by the %s key = %v", signer.SigningKeyID(), err)
			}
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Errorf("Verify(Sign(claims)) (-want +got):\n%s", diff)
			}
		}
	})
}
