package service

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/jwt"
)

// jwtHeader is the alg and kid of a JWT's header.
func jwtHeader(t *testing.T, token string) (alg, kid string) {
	t.Helper()
	alg, kid, ok := jwt.Header(token)
	if !ok {
		t.Fatalf("%q has no JWT header", token)
	}
	return alg, kid
}

// jwksAlgs is the alg of each key of the service's JWKS, by kid.
func jwksAlgs(t *testing.T, svc *Service) map[string]string {
	t.Helper()
	var set struct{ Keys []struct{ Kid, Alg string } }
	if err := json.Unmarshal(svc.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, k := range set.Keys {
		m[k.Kid] = k.Alg
	}
	return m
}

// TestRotateKeyAlgorithms rotates through every algorithm: each new key
// signs personal and OAuth access tokens by its algorithm, and the tokens
// of every older key, of whatever algorithm, still authenticate.
func TestRotateKeyAlgorithms(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	ctx := t.Context()
	u := svc.mustUser(t, "bob")
	_, first := svc.mustToken(t, u)
	if alg, _ := jwtHeader(t, first); alg != jwt.DefaultAlgorithm {
		t.Errorf("the first key's tokens are %s, want %s", alg, jwt.DefaultAlgorithm)
	}
	tokens := []string{first}
	for _, alg := range []string{jwt.ES256, jwt.EdDSA, jwt.RS256, jwt.EdDSA} {
		k, err := svc.RotateKey(ctx, alg)
		if err != nil {
			t.Fatalf("RotateKey(%s) = %v", alg, err)
		}
		if k.Algorithm != alg || k.ID == "" {
			t.Errorf("RotateKey(%s) = key %q of %s", alg, k.ID, k.Algorithm)
		}
		tok, raw := svc.mustToken(t, u)
		signed, id, kid, _, err := svc.SignAccessToken(u.ID, 1, "", nil, time.Minute, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if kid != k.ID {
			t.Errorf("SignAccessToken() kid = %s, want %s", kid, k.ID)
		}
		for name, token := range map[string]string{"personal": raw, "OAuth": signed} {
			if gotAlg, gotKid := jwtHeader(t, token); gotAlg != alg || gotKid != k.ID {
				t.Errorf("after RotateKey(%s), a %s token's header says %s, %s; want %s, %s", alg, name, gotAlg, gotKid, alg, k.ID)
			}
		}
		if got, err := svc.SignedTokenID(signed); err != nil || got != id {
			t.Errorf("SignedTokenID(%s access token) = %q, %v; want %q", alg, got, err, id)
		}
		if got, err := svc.SignedTokenID(raw); err != nil || got != tok.ID {
			t.Errorf("SignedTokenID(%s personal token) = %q, %v; want %q", alg, got, err, tok.ID)
		}
		tokens = append(tokens, raw)
		for i, token := range tokens {
			if _, err := svc.Authenticate(ctx, token, latchkey.Origin{}); err != nil {
				tokAlg, _ := jwtHeader(t, token)
				t.Errorf("after RotateKey(%s), token %d (%s) = %v", alg, i, tokAlg, err)
			}
		}
		if got := jwksAlgs(t, svc)[k.ID]; got != alg {
			t.Errorf("the JWKS has key %s of %q, want %s", k.ID, got, alg)
		}
	}
	keys, err := svc.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var algs []string
	for _, k := range keys {
		algs = append(algs, k.Algorithm)
	}
	if got, want := strings.Join(algs, " "), "EdDSA RS256 EdDSA ES256 RS256"; got != want {
		t.Errorf("Keys() algorithms, newest first = %s, want %s", got, want)
	}
}

func TestRotateKeyRefusesUnknownAlgorithms(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	for _, alg := range []string{"", "HS256", "none", "es256", "ES384", "Ed25519", "PS256", "RS256 "} {
		k, err := svc.RotateKey(t.Context(), alg)
		if latchkey.ErrorCode(err) != latchkey.EINVALID || !strings.Contains(latchkey.ErrorMessage(err), "RS256, ES256, EdDSA") {
			t.Errorf("RotateKey(%q) = %v, %v; want EINVALID naming the algorithms", alg, k, err)
		}
	}
	keys, err := svc.Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Errorf("after refused rotations, %d keys, want 1", len(keys))
	}
}

// TestImportKeyKinds: an ECDSA P-256 or Ed25519 key imports, with its
// public key or without; a public key of another kind is refused.
func TestImportKeyKinds(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	read := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("..", "jwt", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	u := svc.mustUser(t, "bob")
	for _, tc := range []struct {
		priv, pub, alg string
	}{
		{"ec-sec1.pem", "ec-public.pem", jwt.ES256},
		{"ed25519-pkcs8.pem", "", jwt.EdDSA},
	} {
		k, err := svc.ImportKey(t.Context(), read(tc.priv), func() []byte {
			if tc.pub == "" {
				return nil
			}
			return read(tc.pub)
		}())
		if err != nil {
			t.Fatalf("ImportKey(%s) = %v", tc.priv, err)
		}
		if k.Algorithm != tc.alg {
			t.Errorf("ImportKey(%s) is of %s, want %s", tc.priv, k.Algorithm, tc.alg)
		}
		_, raw := svc.mustToken(t, u)
		if alg, kid := jwtHeader(t, raw); alg != tc.alg || kid != k.ID {
			t.Errorf("after ImportKey(%s), tokens are %s by %s; want %s by %s", tc.priv, alg, kid, tc.alg, k.ID)
		}
	}
	if _, err := svc.ImportKey(t.Context(), read("ec2-pkcs8.pem"), read("ed25519-public.pem")); latchkey.ErrorCode(err) != latchkey.EINVALID {
		t.Errorf("ImportKey(ECDSA key, Ed25519 public key) = %v, want EINVALID", err)
	}
	if _, err := svc.ImportKey(t.Context(), read("ec384-pkcs8.pem"), nil); latchkey.ErrorCode(err) != latchkey.EINVALID || !strings.Contains(err.Error(), "P-384") {
		t.Errorf("ImportKey(P-384 key) = %v, want EINVALID naming the curve", err)
	}
}
