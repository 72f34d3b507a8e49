package resource_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/resource"
	"github.com/latchkey/latchkey/resource/resourcetest"
)

// serve sends a GET with the bearer token tok ("" for none) through h.
func serve(h http.Handler, tok string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "https://mcp.example.com/mcp", nil)
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

const metadataURL = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"

func TestRequire(t *testing.T) {
	f := setup(t, nil)
	var seen *resource.Claims
	h := f.v.Require("mcp.read", "mcp.call")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = resource.ClaimsFrom(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}))
	both := f.token(nil, "mcp.read", "mcp.call")
	one := f.token(nil, "mcp.read")
	expired := f.token(func(tok *resourcetest.Token) { tok.ExpiresAt = f.clock.Now().Add(-time.Minute) }, "mcp.read", "mcp.call")

	for _, tc := range []struct {
		name   string
		header []string // the Authorization headers
		status int
		www    string
		body   string
	}{
		{"no token", nil, 401,
			`Bearer scope="mcp.read mcp.call", resource_metadata="` + metadataURL + `"`,
			`{"error":"unauthorized","error_description":"This resource needs an access token, sent as Authorization: Bearer."}`},
		{"another scheme", []string{"Basic cm9vdDpyb290"}, 401,
			`Bearer scope="mcp.read mcp.call", resource_metadata="` + metadataURL + `"`,
			`{"error":"unauthorized","error_description":"This resource needs an access token, sent as Authorization: Bearer."}`},
		{"a bad token", []string{"Bearer nonsense"}, 401,
			`Bearer error="invalid_token", scope="mcp.read mcp.call", resource_metadata="` + metadataURL + `"`,
			`{"error":"invalid_token","error_description":"The access token is invalid, expired, revoked, or not for this resource."}`},
		{"an expired token", []string{"Bearer " + expired}, 401,
			`Bearer error="invalid_token", scope="mcp.read mcp.call", resource_metadata="` + metadataURL + `"`,
			`{"error":"invalid_token","error_description":"The access token is invalid, expired, revoked, or not for this resource."}`},
		{"a scope short", []string{"Bearer " + one}, 403,
			`Bearer error="insufficient_scope", scope="mcp.read mcp.call", resource_metadata="` + metadataURL + `"`,
			`{"error":"insufficient_scope","error_description":"The access token does not grant every scope this request needs.","scope":"mcp.read mcp.call"}`},
		{"two headers", []string{"Bearer " + both, "Bearer " + both}, 400,
			`Bearer error="invalid_request", scope="mcp.read mcp.call", resource_metadata="` + metadataURL + `"`,
			`{"error":"invalid_request","error_description":"The request has more than one Authorization header."}`},
		{"good", []string{"Bearer " + both}, 204, "", ""},
		{"good, scheme in lower case, two spaces", []string{"bearer  " + both}, 204, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen = nil
			r := httptest.NewRequest(http.MethodGet, "https://mcp.example.com/mcp?access_token="+both, nil)
			for _, v := range tc.header {
				r.Header.Add("Authorization", v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.status, w.Body)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tc.www {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.www)
			}
			if got := strings.TrimSpace(w.Body.String()); got != tc.body {
				t.Errorf("body = %s, want %s", got, tc.body)
			}
			if tc.status != 204 {
				if seen != nil {
					t.Error("the handler ran")
				}
				if ct := w.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
				return
			}
			if seen == nil || seen.Subject != "1" || !cmp.Equal(seen.Scopes, []string{"mcp.read", "mcp.call"}) {
				t.Errorf("ClaimsFrom in the handler = %+v", seen)
			}
		})
	}
}

// TestRequireNoScopes: any good token passes, and the challenges name no
// scope.
func TestRequireNoScopes(t *testing.T) {
	f := setup(t, nil)
	h := f.v.Require()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	if w := serve(h, f.token(nil)); w.Code != 200 {
		t.Errorf("a token without scopes: %d", w.Code)
	}
	if got, want := serve(h, "").Header().Get("WWW-Authenticate"), `Bearer resource_metadata="`+metadataURL+`"`; got != want {
		t.Errorf("WWW-Authenticate = %q, want %q", got, want)
	}
}

// TestRequireUnavailable: the authorization server down is a 503 with no
// challenge: the client's token may be good.
func TestRequireUnavailable(t *testing.T) {
	f := setup(t, nil)
	tok := f.token(nil)
	f.iss.SetDown(true)
	w := serve(f.v.Require()(http.NotFoundHandler()), tok)
	if w.Code != 503 || w.Header().Get("WWW-Authenticate") != "" || w.Header().Get("Retry-After") != "5" {
		t.Errorf("%d %v, want 503 with Retry-After and no challenge", w.Code, w.Header())
	}
	var body map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["error"] != "temporarily_unavailable" {
		t.Errorf("body %s", w.Body)
	}
}

func TestRequirePanicsOnBadScope(t *testing.T) {
	f := setup(t, nil)
	for _, s := range []string{"", "a b", `a"b`, `a\b`, "é"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Require(%q) did not panic", s)
				}
			}()
			f.v.Require(s)
		}()
	}
}

func TestInsufficientScope(t *testing.T) {
	f := setup(t, nil)
	w := httptest.NewRecorder()
	f.v.InsufficientScope(w, "mcp.read", "mcp.call")
	if w.Code != 403 || w.Header().Get("WWW-Authenticate") != `Bearer error="insufficient_scope", scope="mcp.read mcp.call", resource_metadata="`+metadataURL+`"` {
		t.Errorf("%d %v", w.Code, w.Header())
	}
}

func TestClaimsFromOutsideRequire(t *testing.T) {
	if c := resource.ClaimsFrom(t.Context()); c != nil {
		t.Errorf("ClaimsFrom(a bare context) = %v", c)
	}
}

func TestMetadata(t *testing.T) {
	for _, tc := range []struct {
		name, resource, path, url, doc string
		scopes                         []string
		resourceName                   string
	}{
		{"a path", "https://MCP.example.com:443/mcp/", "/.well-known/oauth-protected-resource/mcp", metadataURL,
			`{"resource":"https://mcp.example.com/mcp","authorization_servers":["ISS"],"scopes_supported":["mcp.read","mcp.call"],"bearer_methods_supported":["header"],"resource_name":"Example MCP"}`,
			[]string{"mcp.read", "mcp.call"}, "Example MCP"},
		{"the root", "https://api.example.com:8443/", "/.well-known/oauth-protected-resource", "https://api.example.com:8443/.well-known/oauth-protected-resource",
			`{"resource":"https://api.example.com:8443","authorization_servers":["ISS"],"bearer_methods_supported":["header"]}`,
			nil, ""},
		{"a deeper path", "https://example.com/a/b%7e", "/.well-known/oauth-protected-resource/a/b~", "https://example.com/.well-known/oauth-protected-resource/a/b~",
			`{"resource":"https://example.com/a/b~","authorization_servers":["ISS"],"bearer_methods_supported":["header"]}`,
			nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, func(c *resource.Config) {
				c.Resource, c.Scopes, c.ResourceName = tc.resource, tc.scopes, tc.resourceName
			})
			if got := f.v.MetadataPath(); got != tc.path {
				t.Errorf("MetadataPath = %q, want %q", got, tc.path)
			}
			if got := f.v.MetadataURL(); got != tc.url {
				t.Errorf("MetadataURL = %q, want %q", got, tc.url)
			}
			r := httptest.NewRequest(http.MethodGet, tc.url, nil)
			w := httptest.NewRecorder()
			f.v.MetadataHandler().ServeHTTP(w, r)
			want := strings.ReplaceAll(tc.doc, "ISS", f.iss.URL)
			if w.Code != 200 || strings.TrimSpace(w.Body.String()) != want || w.Header().Get("Content-Type") != "application/json" {
				t.Errorf("GET = %d %s %v, want 200 %s", w.Code, w.Body, w.Header(), want)
			}
		})
	}

	f := setup(t, nil)
	w := httptest.NewRecorder()
	f.v.MetadataHandler().ServeHTTP(w, httptest.NewRequest(http.MethodPost, metadataURL, nil))
	if w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST = %d %v, want 405 with Allow", w.Code, w.Header())
	}
}
