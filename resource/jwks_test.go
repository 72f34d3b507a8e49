package resource

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"slices"
	"testing"
)

// TestParseJWKS: which keys of a JWKS are kept, and which left out.
func TestParseJWKS(t *testing.T) {
	b64 := base64.RawURLEncoding
	keys := fuzzKeys(t)
	var good []map[string]any
	_ = json.Unmarshal(jwksOf(keys), &struct{ Keys *[]map[string]any }{&good})
	rsaKey, ecKey, edKey := good[0], good[1], good[2]
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384b, _ := p384.PublicKey.Bytes()
	set := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	change := func(k map[string]any, kv ...any) map[string]any {
		m := map[string]any{}
		for name, v := range k {
			m[name] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	// The identity point of Ed25519, a point of small order.
	identity := b64.EncodeToString(append([]byte{1}, make([]byte, 31)...))

	for _, tc := range []struct {
		name string
		key  map[string]any
		kept bool
	}{
		{"RSA", rsaKey, true},
		{"EC P-256", ecKey, true},
		{"Ed25519", edKey, true},
		{"without alg", change(rsaKey, "alg", nil), true},
		{"without use", change(ecKey, "use", nil), true},
		{"key_ops verify", change(edKey, "key_ops", []string{"verify"}), true},
		{"without kid", change(rsaKey, "kid", nil), false},
		{"use enc", change(rsaKey, "use", "enc"), false},
		{"key_ops encrypt", change(rsaKey, "key_ops", []string{"encrypt"}), false},
		{"RS512", change(rsaKey, "alg", "RS512"), false},
		{"PS256", change(rsaKey, "alg", "PS256"), false},
		{"ES256 on an RSA key", change(rsaKey, "alg", "ES256"), false},
		{"HS256", change(rsaKey, "alg", "HS256"), false},
		{"EdDSA on an EC key", change(ecKey, "alg", "EdDSA"), false},
		{"a private RSA key", change(rsaKey, "d", "AQAB"), false},
		{"an oct key", set("kty", "oct", "kid", "h", "k", "c2VjcmV0"), false},
		{"RSA of 1024 bits", set("kty", "RSA", "kid", "small", "n", b64.EncodeToString(rsa1024.N.Bytes()), "e", "AQAB"), false},
		{"RSA with e 1", change(rsaKey, "e", "AQ"), false},
		{"RSA with an even e", change(rsaKey, "e", b64.EncodeToString(big.NewInt(65538).Bytes())), false},
		{"RSA n not base64url", change(rsaKey, "n", "a+b/"), false},
		{"EC on P-384", set("kty", "EC", "crv", "P-384", "kid", "p384", "x", b64.EncodeToString(p384b[1:49]), "y", b64.EncodeToString(p384b[49:])), false},
		{"EC P-256 labelled P-384", change(ecKey, "crv", "P-384"), false},
		{"EC off the curve", change(ecKey, "y", b64.EncodeToString(make([]byte, 32))), false},
		{"EC x short", change(ecKey, "x", b64.EncodeToString(make([]byte, 31))), false},
		{"Ed448", change(edKey, "crv", "Ed448"), false},
		{"Ed25519 of small order", change(edKey, "x", identity), false},
		{"Ed25519 short", change(edKey, "x", b64.EncodeToString(make([]byte, 31))), false},
		{"kty unknown", change(rsaKey, "kty", "rsa"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, _ := json.Marshal(map[string]any{"keys": []any{tc.key}})
			s, err := parseJWKS(data)
			if err != nil {
				t.Fatalf("parseJWKS = %v", err)
			}
			if kept := len(s) == 1; kept != tc.kept {
				t.Errorf("kept %v, want %v", kept, tc.kept)
			}
		})
	}

	t.Run("two keys of one kid", func(t *testing.T) {
		data, _ := json.Marshal(map[string]any{"keys": []any{rsaKey, change(ecKey, "kid", rsaKey["kid"]), edKey}})
		s, err := parseJWKS(data)
		if err != nil || len(s) != 1 || s["ed"] == nil {
			t.Errorf("parseJWKS = %v, %v; want only the third key", s, err)
		}
	})
	for _, bad := range []string{`[]`, `{}`, `{"keys":{}}`, `{"keys":[1]}`, `{"keys":[{"kid":1}]}`, `{"keys":[],"keys":[]}`, `{"keys":[]} {}`} {
		if _, err := parseJWKS([]byte(bad)); err == nil {
			t.Errorf("parseJWKS(%s) accepted it", bad)
		}
	}
	many := make([]any, maxKeys+1)
	for i := range many {
		many[i] = edKey
	}
	data, _ := json.Marshal(map[string]any{"keys": many})
	if _, err := parseJWKS(data); err == nil {
		t.Errorf("parseJWKS of %d keys accepted it", len(many))
	}
	if !slices.Equal([]string{RS256, ES256, EdDSA}, []string{keys[0].alg, keys[1].alg, keys[2].alg}) {
		t.Fatal("fuzzKeys changed order")
	}
}
