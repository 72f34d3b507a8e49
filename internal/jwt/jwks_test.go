package jwt_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/latchkey/latchkey"
)

func TestJWKS(t *testing.T) {
	key1, key2 := privateKey(t, "key1-pkcs1.pem"), privateKey(t, "key2-pkcs8.pem")
	ec, ed := privateKey(t, "ec-pkcs8.pem"), privateKey(t, "ed25519-pkcs8.pem")
	rotated := now.Add(-time.Hour)
	// Each key signs a token while it is the signing key, then retires:
	// ed, ec, key1, and key2 signs last.
	var retired []*latchkey.SigningKey
	tokens := map[string]string{}
	for i, priv := range []crypto.Signer{ed, ec, key1} {
		k := signingKey(t, priv, now.Add(-time.Duration(72-24*i)*time.Hour), time.Time{})
		token, _, err := newKeyring(t, k).Sign(testClaims())
		if err != nil {
			t.Fatal(err)
		}
		tokens[k.Algorithm+" retired key"] = token
		k.RetiredAt = &rotated
		retired = append([]*latchkey.SigningKey{k}, retired...)
	}
	r := newKeyring(t, append([]*latchkey.SigningKey{signingKey(t, key2, rotated, time.Time{})}, retired...)...)
	newToken, _, err := r.Sign(testClaims())
	if err != nil {
		t.Fatal(err)
	}
	tokens["signing key"] = newToken

	got := r.JWKS()
	golden := filepath.Join("testdata", "jwks.golden")
	if *update {
		if err := os.WriteFile(golden, append(bytes.Clone(got), '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := bytes.TrimSpace(readFile(t, "jwks.golden")); !bytes.Equal(got, want) {
		t.Errorf("JWKS() = %s, want %s", got, want)
	}
	got[0] = 'X'
	if r.JWKS()[0] != '{' {
		t.Error("changing what JWKS() returned changed the keyring")
	}

	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(r.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	keys := make(map[string]map[string]any)
	var kids []string
	// A JWK of a private key would also have d (and p, q, dp, dq, qi).
	wantMembers := map[string][]string{
		"RSA": {"alg", "e", "kid", "kty", "n", "use"},
		"EC":  {"alg", "crv", "kid", "kty", "use", "x", "y"},
		"OKP": {"alg", "crv", "kid", "kty", "use", "x"},
	}
	wantKind := map[string][3]string{ // alg, kty, crv
		kid1: {"RS256", "RSA", ""}, r.SigningKeyID(): {"RS256", "RSA", ""},
		kidEC: {"ES256", "EC", "P-256"}, kidEd: {"EdDSA", "OKP", "Ed25519"},
	}
	for _, k := range set.Keys {
		members := slices.Sorted(maps.Keys(k))
		kty, _ := k["kty"].(string)
		if diff := cmp.Diff(wantMembers[kty], members); diff != "" {
			t.Errorf("JWK members of kty %q (-want +got):\n%s", kty, diff)
		}
		kid, _ := k["kid"].(string)
		crv, _ := k["crv"].(string)
		if got, want := [3]string{k["alg"].(string), kty, crv}, wantKind[kid]; got != want || k["use"] != "sig" {
			t.Errorf("JWK %s: alg, kty, crv = %q, use %v; want %q, sig", kid, got, k["use"], want)
		}
		keys[kid] = k
		kids = append(kids, kid)
	}
	if want := []string{r.SigningKeyID(), kid1, kidEC, kidEd}; !slices.Equal(kids, want) {
		t.Errorf("JWKS kids = %v, want %v", kids, want)
	}

	for name, token := range tokens {
		t.Run(name, func(t *testing.T) {
			header, claims, sig := segments(t, token)
			var h struct{ Kid string }
			if err := json.Unmarshal([]byte(dec(t, header)), &h); err != nil {
				t.Fatal(err)
			}
			k := keys[h.Kid]
			if k == nil {
				t.Fatalf("the JWKS has no key %s", h.Kid)
			}
			if !verifyByJWK(t, k, header+"."+claims, dec(t, sig)) {
				t.Error("the JWKS key does not verify the token")
			}
			if verifyByJWK(t, k, header+"."+claims+"x", dec(t, sig)) {
				t.Error("the JWKS key verifies another input")
			}
			if _, err := r.Verify(token, now); err != nil {
				t.Errorf("Verify() = %v", err)
			}
		})
	}
}

// verifyByJWK checks sig of input with the public key of the JWK k, read
// from its members alone: by hand for RSA, with crypto/ecdsa and
// crypto/ed25519 for the others.
func verifyByJWK(t *testing.T, k map[string]any, input, sig string) bool {
	t.Helper()
	member := func(name string) []byte {
		s, _ := k[name].(string)
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	switch k["kty"] {
	case "RSA":
		return verifyByHand(t, k["n"].(string), k["e"].(string), input, sig)
	case "EC":
		x, y := member("x"), member("y")
		if len(x) != 32 || len(y) != 32 {
			t.Fatalf("x, y have %d, %d bytes; want 32 each", len(x), len(y))
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), slices.Concat([]byte{4}, x, y))
		if err != nil {
			t.Fatal(err)
		}
		if len(sig) != 64 {
			return false
		}
		sum := sha256.Sum256([]byte(input))
		return ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes([]byte(sig[:32])), new(big.Int).SetBytes([]byte(sig[32:])))
	case "OKP":
		x := member("x")
		if len(x) != ed25519.PublicKeySize {
			t.Fatalf("x has %d bytes, want 32", len(x))
		}
		return ed25519.Verify(x, []byte(input), []byte(sig))
	}
	t.Fatalf("kty %v", k["kty"])
	return false
}

// verifyByHand checks an RS256 signature with math/big alone: it computes
// sig^e mod n and compares it with the EMSA-PKCS1-v1_5 encoding of the
// SHA-256 of input (RFC 8017, section 9.2).
func verifyByHand(t *testing.T, n64, e64, input, sig string) bool {
	t.Helper()
	number := func(s string) *big.Int {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return new(big.Int).SetBytes(b)
	}
	n, e := number(n64), number(e64)
	k := (n.BitLen() + 7) / 8
	s := new(big.Int).SetBytes([]byte(sig))
	if len(sig) != k || s.Cmp(n) >= 0 {
		return false
	}
	em := new(big.Int).Exp(s, e, n).FillBytes(make([]byte, k))

	sum := sha256.Sum256([]byte(input))
	digestInfo := append([]byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}, sum[:]...)
	want := []byte{0x00, 0x01}
	want = append(want, bytes.Repeat([]byte{0xff}, k-3-len(digestInfo))...)
	want = append(want, 0x00)
	want = append(want, digestInfo...)
	return bytes.Equal(em, want)
}
