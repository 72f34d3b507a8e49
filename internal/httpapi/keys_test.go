package httpapi_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/jwt"
)

// TestKeyAlgorithms: after rotations to ES256 and EdDSA, tokens of every
// key authenticate at the API, and the JWKS publishes a key of each kind,
// with no private part.
func TestKeyAlgorithms(t *testing.T) {
	h := newHarness(t)
	tokens := map[string]string{jwt.RS256: h.userJWT}
	for _, alg := range []string{jwt.ES256, jwt.EdDSA} {
		if _, err := h.svc.RotateKey(t.Context(), alg); err != nil {
			t.Fatal(err)
		}
		tokens[alg] = h.mint(h.user, "of "+alg, nil)
	}
	for alg, tok := range tokens {
		if r := h.do("GET", tokensPath(h.user.ID), bearer(tok), nil); r.status != 200 {
			t.Errorf("GET tokens with a token of the %s key = %d %s", alg, r.status, r.body)
		}
	}
	r := h.do("GET", "/.well-known/jwks.json", "", nil)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(r.body, &set); err != nil || r.status != 200 {
		t.Fatalf("jwks = %d %s", r.status, r.body)
	}
	var kinds []string
	for _, k := range set.Keys {
		kinds = append(kinds, k["kty"].(string)+" "+k["alg"].(string))
		if _, ok := k["d"]; ok {
			t.Errorf("the JWK %v has a private part", k)
		}
	}
	slices.Sort(kinds) // the hand clock stands still: the keys have one creation time
	if got, want := strings.Join(kinds, ", "), "EC ES256, OKP EdDSA, RSA RS256"; got != want {
		t.Errorf("JWKS keys = %s, want %s", got, want)
	}
}
