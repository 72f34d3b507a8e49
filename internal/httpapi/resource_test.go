package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/service"
)

// call sends a request to the OAuth harness's server with an
// Authorization header (none when "") and a JSON body (none when nil).
func (h *oauthHarness) call(method, path, auth string, body []byte) *response {
	h.t.Helper()
	return send(h.t, h.srv, method, path, auth, body)
}

// mint is a personal token of u with scopes, made at the command line.
func (h *oauthHarness) mint(u *latchkey.User, name string, scopes ...string) (*latchkey.Token, string) {
	h.t.Helper()
	tok, jwt, err := h.svc.OperatorCreateToken(h.t.Context(), u, service.TokenRequest{Name: &name, Scopes: scopes})
	if err != nil {
		h.t.Fatalf("OperatorCreateToken(%s, %q): %v", u.Username, name, err)
	}
	return tok, jwt
}

// TestProtectedResourceMetadata: RFC 9728's document of the API, at its
// own well-known path and at the root form, names the API from the same
// issuer as RFC 8414's document, with and without --public-url.
func TestProtectedResourceMetadata(t *testing.T) {
	for _, tc := range []struct {
		name, publicURL, cache string
	}{
		{"the request's own origin", "", "no-store"},
		{"--public-url", "https://tokens.example.com", "public, max-age=300"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newOAuthHarness(t, func(h *oauthHarness) { h.publicURL = tc.publicURL })
			want := map[string]any{
				"resource":                 h.issuer() + "/api/1.0",
				"authorization_servers":    []any{h.issuer()},
				"scopes_supported":         []any{"tokens.read", "tokens.write", "*"},
				"bearer_methods_supported": []any{"header"},
				"resource_name":            "Latchkey Personal Tokens API",
			}
			for _, path := range []string{"/.well-known/oauth-protected-resource/api/1.0", "/.well-known/oauth-protected-resource"} {
				r := h.call("GET", path, "", nil)
				if r.status != http.StatusOK {
					t.Fatalf("GET %s = %d %s, want 200", path, r.status, r.body)
				}
				if ct, cc := r.header.Get("Content-Type"), r.header.Get("Cache-Control"); ct != "application/json" || cc != tc.cache {
					t.Errorf("GET %s: Content-Type %q, Cache-Control %q; want application/json, %q", path, ct, cc, tc.cache)
				}
				var got map[string]any
				if err := json.Unmarshal(r.body, &got); err != nil {
					t.Fatalf("GET %s: %s: %v", path, r.body, err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("GET %s (-want +got):\n%s", path, diff)
				}
			}
			// The authorization server the document names is the one
			// RFC 8414's document describes.
			r := h.call("GET", "/.well-known/oauth-authorization-server", "", nil)
			var as struct{ Issuer string }
			if err := json.Unmarshal(r.body, &as); err != nil || as.Issuer != h.issuer() {
				t.Errorf("RFC 8414 issuer = %q (%v), want %q", as.Issuer, err, h.issuer())
			}
		})
	}
	t.Run("without the authorization server", func(t *testing.T) {
		h := newHarness(t)
		for _, path := range []string{"/.well-known/oauth-protected-resource/api/1.0", "/.well-known/oauth-protected-resource"} {
			if r := h.do("GET", path, "", nil); r.status != http.StatusNotFound {
				t.Errorf("GET %s without OAuth = %d, want 404", path, r.status)
			}
		}
	})
}

// TestAPIChallenge: with the authorization server, every 401 of the API
// points to the API's metadata (RFC 9728 section 5.1), says invalid_token
// when a token was refused (RFC 6750 section 3.1), and a 403 for a missing
// scope says insufficient_scope and which; the bodies stay the contract's.
func TestAPIChallenge(t *testing.T) {
	for _, tc := range []struct{ name, publicURL string }{
		{"the request's own origin", ""},
		{"--public-url", "https://tokens.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newOAuthHarness(t, func(h *oauthHarness) { h.publicURL = tc.publicURL })
			meta := `resource_metadata="` + h.issuer() + `/.well-known/oauth-protected-resource/api/1.0"`
			_, reader := h.mint(h.alice, "reader", latchkey.ScopeTokensRead)
			_, writer := h.mint(h.alice, "writer", latchkey.ScopeTokensWrite)
			_, every := h.mint(h.alice, "every")
			revoked, revokedJWT := h.mint(h.alice, "revoked")
			if _, err := h.svc.OperatorRevokeToken(t.Context(), revoked.ID); err != nil {
				t.Fatal(err)
			}
			alice := fmt.Sprintf("/api/1.0/users/%d/tokens", h.alice.ID)
			bob := fmt.Sprintf("/api/1.0/users/%d/tokens", h.bob.ID)
			const unauthenticated = `{"error":"Unauthenticated."}`
			for _, c := range []struct {
				name, method, path, auth, body string
				status                         int
				want, wantBody                 string
			}{
				{"no token", "GET", alice, "", "", 401, "Bearer " + meta, unauthenticated},
				{"another scheme", "GET", alice, "Basic dXNlcjpwYXNz", "", 401, "Bearer " + meta, unauthenticated},
				{"a bad token", "GET", alice, "Bearer not.a.token", "", 401, `Bearer error="invalid_token", ` + meta, unauthenticated},
				{"a bad raw key", "GET", alice, "garbage", "", 401, `Bearer error="invalid_token", ` + meta, unauthenticated},
				{"a revoked token", "GET", alice, "Bearer " + revokedJWT, "", 401, `Bearer error="invalid_token", ` + meta, unauthenticated},
				{"no token, an unknown user", "GET", "/api/1.0/users/999/tokens", "", "", 401, "Bearer " + meta, unauthenticated},
				{"no token, the inventory", "GET", "/api/1.0/tokens", "", "", 401, "Bearer " + meta, unauthenticated},
				{"no token, the calling token", "GET", "/api/1.0/tokens/self", "", "", 401, "Bearer " + meta, unauthenticated},
				{"a read token creates", "POST", alice, "Bearer " + reader, `{"name":"x"}`, 403,
					`Bearer error="insufficient_scope", scope="tokens.write", ` + meta, `{"message":"This token lacks the scope tokens.write."}`},
				{"a write token lists", "GET", alice, "Bearer " + writer, "", 403,
					`Bearer error="insufficient_scope", scope="tokens.read", ` + meta, `{"message":"This token lacks the scope tokens.read."}`},
				// Refusals that no other token would lift carry no
				// challenge: the user's own rights, and handing on
				// more than the token has.
				{"another user's tokens", "GET", bob, "Bearer " + every, "", 403, "", `{"message":"Not authorized to update this user."}`},
				{"granting more", "POST", alice, "Bearer " + writer, `{"name":"x","scopes":["tokens.read"]}`, 403, "", `{"message":"This token cannot grant scopes it does not have."}`},
				{"allowed", "GET", alice, "Bearer " + reader, "", 200, "", ""},
			} {
				t.Run(c.name, func(t *testing.T) {
					var body []byte
					if c.body != "" {
						body = []byte(c.body)
					}
					r := h.call(c.method, c.path, c.auth, body)
					if r.status != c.status {
						t.Fatalf("%s %s = %d %s, want %d", c.method, c.path, r.status, r.body, c.status)
					}
					if got := r.header.Values("WWW-Authenticate"); len(got) > 1 || r.header.Get("WWW-Authenticate") != c.want {
						t.Errorf("WWW-Authenticate = %q, want %q", got, c.want)
					}
					if c.wantBody != "" && string(r.body) != c.wantBody+"\n" {
						t.Errorf("body = %s, want %s", r.body, c.wantBody)
					}
				})
			}
			// The challenge's URL is where the API's document is.
			challenged := strings.TrimSuffix(strings.TrimPrefix(meta, `resource_metadata="`), `"`)
			path, ok := strings.CutPrefix(challenged, h.issuer())
			if !ok {
				t.Fatalf("resource_metadata %q is not under the issuer %q", challenged, h.issuer())
			}
			var doc struct{ Resource string }
			if r := h.call("GET", path, "", nil); r.status != 200 || json.Unmarshal(r.body, &doc) != nil || doc.Resource != h.issuer()+"/api/1.0" {
				t.Errorf("GET %s = %d %s, want the API's document", path, r.status, r.body)
			}
		})
	}
}

// TestBearerChallenge: values are quoted-strings, with '"' and '\'
// escaped and control characters left out, so that no value ends its
// string or the header early.
func TestBearerChallenge(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params [][2]string
		want   string
	}{
		{"none", nil, "Bearer"},
		{"one", [][2]string{{"error", "invalid_token"}}, `Bearer error="invalid_token"`},
		{"two", [][2]string{{"error", "insufficient_scope"}, {"scope", "tokens.write"}}, `Bearer error="insufficient_scope", scope="tokens.write"`},
		{"quote and backslash", [][2]string{{"resource_metadata", `https://x"y\z`}}, `Bearer resource_metadata="https://x\"y\\z"`},
		{"control characters", [][2]string{{"resource_metadata", "a\r\nb\x00c\x7fd\te"}}, "Bearer resource_metadata=\"abcd\te\""},
		{"non-ASCII", [][2]string{{"resource_metadata", "https://bücher.example"}}, `Bearer resource_metadata="https://bücher.example"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := httpapi.BearerChallenge(tc.params); got != tc.want {
				t.Errorf("BearerChallenge(%q) = %q, want %q", tc.params, got, tc.want)
			}
		})
	}
}

// FuzzBearerChallenge: whatever the value, the challenge reads back, as
// RFC 9110's quoted-string, to the value without its control characters,
// and holds no byte a header may not.
func FuzzBearerChallenge(f *testing.F) {
	for _, s := range []string{"", "https://tokens.example.com/.well-known/oauth-protected-resource/api/1.0", `"`, `\`, `\"`, "a\r\nb", "\x00\x7f", "bücher", `x", error="y`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		h := httpapi.BearerChallenge([][2]string{{"resource_metadata", v}})
		rest, ok := strings.CutPrefix(h, `Bearer resource_metadata="`)
		if !ok {
			t.Fatalf("BearerChallenge(%q) = %q: not one auth-param", v, h)
		}
		var got strings.Builder
		closed := false
		for i := 0; i < len(rest); i++ {
			c := rest[i]
			if c < ' ' && c != '\t' || c == 0x7f {
				t.Fatalf("BearerChallenge(%q) = %q: holds control byte %#x", v, h, c)
			}
			switch {
			case closed:
				t.Fatalf("BearerChallenge(%q) = %q: text after the closing quote", v, h)
			case c == '\\' && i+1 < len(rest):
				i++
				got.WriteByte(rest[i])
			case c == '"':
				closed = true
			default:
				got.WriteByte(c)
			}
		}
		var kept []byte
		for i := 0; i < len(v); i++ {
			if c := v[i]; c >= ' ' && c != 0x7f || c == '\t' {
				kept = append(kept, c)
			}
		}
		want := string(kept)
		if !closed || got.String() != want {
			t.Errorf("BearerChallenge(%q) = %q, reads back as %q (closed %v), want %q", v, h, got.String(), closed, want)
		}
	})
}

// TestAPIChallengeOrigin: without --public-url, a 401's challenge names
// the origin each request came to, however often another came before it
// (the server keeps the last origin's challenges).
func TestAPIChallengeOrigin(t *testing.T) {
	h := newOAuthHarness(t)
	for _, host := range []string{"one.example", "two.example:8080", "two.example:8080", "one.example"} {
		for _, auth := range []string{"", "Bearer not.a.token"} {
			req, err := http.NewRequestWithContext(t.Context(), "GET", h.srv.URL+"/api/1.0/tokens", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = host
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			res, err := h.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			want := `resource_metadata="http://` + host + `/.well-known/oauth-protected-resource/api/1.0"`
			if auth != "" {
				want = `error="invalid_token", ` + want
			}
			if got := res.Header.Get("WWW-Authenticate"); res.StatusCode != 401 || got != "Bearer "+want {
				t.Errorf("Host %s, Authorization %q: %d, WWW-Authenticate %q, want 401 and %q", host, auth, res.StatusCode, got, "Bearer "+want)
			}
		}
	}
}
