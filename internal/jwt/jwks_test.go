package jwt_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestJWKS(t *testing.T) {
	key1, key2 := privateKey(t, "key1-pkcs1.pem"), privateKey(t, "key2-pkcs8.pem")
	rotated := now.Add(-time.Hour)
	old := signingKey(t, key1, now.Add(-48*time.Hour), time.Time{})
	oldToken, _, err := newKeyring(t, old).Sign(testClaims())
	if err != nil {
		t.Fatal(err)
	}
	old.RetiredAt = &rotated
	r := newKeyring(t, signingKey(t, key2, rotated, time.Time{}), old)
	newToken, _, err := r.Sign(testClaims())
	if err != nil {
		t.Fatal(err)
	}

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
	for _, k := range set.Keys {
		members := slices.Sorted(func(yield func(string) bool) {
			for m := range k {
				if !yield(m) {
					return
				}
			}
		})
		// A JWK of a private key would also have d, p, q, dp, dq, qi.
		if diff := cmp.Diff([]string{"alg", "e", "kid", "kty", "n", "use"}, members); diff != "" {
			t.Errorf("JWK members (-want +got):\n%s", diff)
		}
		kid, _ := k["kid"].(string)
		keys[kid] = k
		kids = append(kids, kid)
	}
	if want := []string{r.SigningKeyID(), kid1}; !slices.Equal(kids, want) {
		t.Errorf("JWKS kids = %v, want %v", kids, want)
	}

	for name, token := range map[string]string{"retired key": oldToken, "signing key": newToken} {
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
			if !verifyByHand(t, k["n"].(string), k["e"].(string), header+"."+claims, dec(t, sig)) {
				t.Error("the JWKS key does not verify the token")
			}
			if verifyByHand(t, k["n"].(string), k["e"].(string), header+"."+claims+"x", dec(t, sig)) {
				t.Error("the JWKS key verifies another input")
			}
		})
	}
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
