package jwt_test

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/latchkey/latchkey/internal/jwt"
)

// TestJOSEInterop holds our tokens and JWKS against go-jose, a JOSE
// implementation of its own: it reads our JWKS (each key's kty, crv,
// coordinates, alg and use) and finds our kids to be its RFC 7638
// thumbprints; it verifies the tokens we signed with each algorithm by the
// JWKS alone; and we verify the tokens it signs with each of our keys.
func TestJOSEInterop(t *testing.T) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(mixedKeyring(t, "RS256").JWKS(), &set); err != nil {
		t.Fatalf("go-jose cannot read our JWKS: %v", err)
	}
	if len(set.Keys) != len(testKeys) {
		t.Fatalf("go-jose read %d keys, want %d", len(set.Keys), len(testKeys))
	}
	for _, k := range testKeys {
		t.Run(k.alg, func(t *testing.T) {
			found := set.Key(k.kid)
			if len(found) != 1 {
				t.Fatalf("go-jose finds %d keys of kid %s, want 1", len(found), k.kid)
			}
			jk := found[0]
			if jk.Algorithm != k.alg || jk.Use != "sig" || !jk.Valid() || !jk.IsPublic() {
				t.Errorf("go-jose reads alg %q, use %q, valid %t, public %t; want %s, sig, true, true", jk.Algorithm, jk.Use, jk.Valid(), jk.IsPublic(), k.alg)
			}
			tp, err := jk.Thumbprint(crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if got := base64.RawURLEncoding.EncodeToString(tp); got != k.kid {
				t.Errorf("go-jose's thumbprint = %s, our kid %s", got, k.kid)
			}
			if err := jwt.CheckKeyPair(privateKey(t, k.file), jk.Key); err != nil {
				t.Errorf("the key go-jose read is not the test key: %v", err)
			}

			// Ours, verified by go-jose.
			r := mixedKeyring(t, k.alg)
			token, _, err := r.Sign(testClaims())
			if err != nil {
				t.Fatal(err)
			}
			jws, err := jose.ParseSigned(token)
			if err != nil {
				t.Fatalf("go-jose cannot parse our token: %v", err)
			}
			if h := jws.Signatures[0].Header; h.Algorithm != k.alg || h.KeyID != k.kid {
				t.Errorf("go-jose reads alg %s, kid %s; want %s, %s", h.Algorithm, h.KeyID, k.alg, k.kid)
			}
			payload, err := jws.Verify(&set) // the key of the token's kid
			if err != nil {
				t.Fatalf("go-jose does not verify our %s token by the JWKS: %v", k.alg, err)
			}
			head, claims, sig := segments(t, token)
			if string(payload) != dec(t, claims) {
				t.Errorf("go-jose verified the payload %s, want %s", payload, dec(t, claims))
			}
			tampered := head + "." + enc(strings.Replace(dec(t, claims), `"sub":"42"`, `"sub":"1"`, 1)) + "." + sig
			jws, err = jose.ParseSigned(tampered)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := jws.Verify(&set); err == nil {
				t.Error("go-jose verified a tampered token")
			}

			// go-jose's, verified by us, with the key signing or retired.
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.alg), Key: privateKey(t, k.file)},
				(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.kid))
			if err != nil {
				t.Fatal(err)
			}
			want := testClaims()
			signed, err := signer.Sign([]byte(claimsJSON(-time.Hour, -time.Hour, time.Hour)))
			if err != nil {
				t.Fatal(err)
			}
			compact, err := signed.CompactSerialize()
			if err != nil {
				t.Fatal(err)
			}
			for _, ring := range []string{k.alg, otherAlg(k.alg)} {
				c, err := mixedKeyring(t, ring).Verify(compact, now)
				if err != nil {
					t.Fatalf("with the %s key signing, Verify(go-jose's %s token %s) = %v", ring, k.alg, compact, err)
				}
				if c.Subject != want.Subject || !c.ExpiresAt.Equal(now.Add(time.Hour)) {
					t.Errorf("Verify(go-jose's token) = %+v", c)
				}
			}
		})
	}

	// go-jose's tokens that name one key and are signed by another, or
	// with HMAC and a public key as the secret: refused.
	r := mixedKeyring(t, "ES256")
	valid := []byte(claimsJSON(-time.Hour, -time.Hour, time.Hour))
	for _, k := range testKeys {
		for _, by := range testKeys {
			if by.alg == k.alg {
				continue
			}
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(by.alg), Key: privateKey(t, by.file)},
				(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.kid))
			if err != nil {
				t.Fatal(err)
			}
			if token := joseCompact(t, signer, valid); verifies(r, token) {
				t.Errorf("Verify(go-jose's %s token with the kid of the %s key) accepted it", by.alg, k.alg)
			}
		}
		jk := set.Key(k.kid)[0]
		public, err := jk.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: public},
			(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.kid))
		if err != nil {
			t.Fatal(err)
		}
		if token := joseCompact(t, signer, valid); verifies(r, token) {
			t.Errorf("Verify(go-jose's HS256 token with the %s key's JWK as secret) accepted it", k.alg)
		}
	}
}

func joseCompact(t *testing.T, s jose.Signer, payload []byte) string {
	t.Helper()
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	compact, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return compact
}

func verifies(r *jwt.Keyring, token string) bool {
	_, err := r.Verify(token, now)
	return err == nil
}

// otherAlg is an algorithm of the test keys other than alg.
func otherAlg(alg string) string {
	if alg == "RS256" {
		return "EdDSA"
	}
	return "RS256"
}
