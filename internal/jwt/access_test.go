package jwt_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/jwt"
)

// accessClaims are the claims of a token for a resource server.
func accessClaims() jwt.Claims {
	c := testClaims()
	c.Type = jwt.TypeAccessToken
	c.Issuer = "https://tokens.example.com"
	c.Audience = "https://mcp.example.com/mcp"
	c.ClientID = "3"
	c.Scopes = []string{"mcp:tools", "mcp:resources"}
	return c
}

// TestSignAccessToken: a token for a resource server is RFC 9068's: typ
// at+jwt, and iss, aud, sub, client_id, jti, iat, nbf, exp and scope (the
// scopes separated by spaces), with Passport's scopes array besides, in
// that order; and it verifies, by the fast path for our own headers.
func TestSignAccessToken(t *testing.T) {
	r, _ := fixture(t)
	c := accessClaims()
	token, kid, err := r.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	header, claims, _ := segments(t, token)
	if got, want := dec(t, header), `{"typ":"at+jwt","alg":"RS256","kid":"`+kid1+`"}`; got != want {
		t.Errorf("header = %s, want %s", got, want)
	}
	want := `{"iss":"https://tokens.example.com","aud":"https://mcp.example.com/mcp","sub":"42","client_id":"3","jti":"` +
		strings.Repeat("0123456789abcdef", 5) + `","iat":1773497366,"nbf":1773497366,"exp":1773504566,` +
		`"scope":"mcp:tools mcp:resources","scopes":["mcp:tools","mcp:resources"]}`
	if got := dec(t, claims); got != want {
		t.Errorf("claims = %s\nwant %s", got, want)
	}
	if kid != kid1 {
		t.Errorf("Sign() kid = %s, want %s", kid, kid1)
	}
	got, err := r.Verify(token, now)
	if err != nil {
		t.Fatalf("Verify() = %v", err)
	}
	c.Type = "" // the header's, not read back
	if diff := cmp.Diff(&c, got); diff != "" {
		t.Errorf("Verify() claims (-want +got):\n%s", diff)
	}
	if alg, k, ok := jwt.Header(token); !ok || alg != "RS256" || k != kid1 {
		t.Errorf("Header() = %s, %s, %t", alg, k, ok)
	}
}

func TestSignAccessTokenRefuses(t *testing.T) {
	r, _ := fixture(t)
	for name, f := range map[string]func(*jwt.Claims){
		"no iss":       func(c *jwt.Claims) { c.Issuer = "" },
		"no client_id": func(c *jwt.Claims) { c.ClientID = "" },
		"unknown type": func(c *jwt.Claims) { c.Type = "dpop+jwt" },
	} {
		c := accessClaims()
		f(&c)
		if token, _, err := r.Sign(c); err == nil {
			t.Errorf("%s: Sign() = %s, want an error", name, token)
		}
	}
}

// TestVerifyAccessTokenMembers: iss and client_id, when a token has
// them, are strings; any other value refuses the token.
func TestVerifyAccessTokenMembers(t *testing.T) {
	_, priv := fixture(t)
	r, _ := fixture(t)
	header := `{"typ":"at+jwt","alg":"RS256","kid":"` + kid1 + `"}`
	base := map[string]any{"aud": "a", "jti": "j", "sub": "1", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Unix() + 60, "scopes": []string{}}
	for _, tc := range []struct {
		name  string
		extra map[string]any
		ok    bool
	}{
		{"strings", map[string]any{"iss": "https://x", "client_id": "3", "scope": "a b"}, true},
		{"iss a number", map[string]any{"iss": 1}, false},
		{"client_id a number", map[string]any{"client_id": 3}, false},
	} {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range tc.extra {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		_, err := r.Verify(signRaw(t, priv, header, string(b)), now)
		if (err == nil) != tc.ok {
			t.Errorf("%s: Verify() = %v, want ok %t", tc.name, err, tc.ok)
		}
	}
}
