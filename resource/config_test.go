package resource_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/resource"
	"github.com/latchkey/latchkey/resource/resourcetest"
)

func TestNewRefusesConfig(t *testing.T) {
	iss := resourcetest.NewIssuer()
	defer iss.Close()
	for _, tc := range []struct {
		name string
		mod  func(*resource.Config)
		want string
	}{
		{"no issuer", func(c *resource.Config) { c.Issuer = "" }, "required"},
		{"no resource", func(c *resource.Config) { c.Resource = "" }, "required"},
		{"an http issuer", func(c *resource.Config) { c.Issuer = "http://auth.example.com" }, "not https"},
		{"an http loopback issuer without the option", func(c *resource.Config) { c.Issuer = "http://127.0.0.1:8080" }, "InsecureLoopback"},
		{"an http resource", func(c *resource.Config) { c.Resource = "http://mcp.example.com/mcp" }, "not https"},
		{"an issuer with a query", func(c *resource.Config) { c.Issuer += "?a=b" }, "not an issuer identifier"},
		{"an issuer with a fragment", func(c *resource.Config) { c.Issuer += "#f" }, "not an issuer identifier"},
		{"an issuer with a user", func(c *resource.Config) { c.Issuer = strings.Replace(c.Issuer, "https://", "https://u:p@", 1) }, "not an issuer identifier"},
		{"a relative issuer", func(c *resource.Config) { c.Issuer = "/auth" }, "not an issuer identifier"},
		{"a resource with a fragment", func(c *resource.Config) { c.Resource += "#f" }, "fragment"},
		{"a resource with a query", func(c *resource.Config) { c.Resource += "?q" }, "query"},
		{"a client id without a secret", func(c *resource.Config) { c.ClientSecret = "" }, "go together"},
		{"a bad scope", func(c *resource.Config) { c.Scopes = []string{"a b"} }, "not a scope token"},
		{"min age above max age", func(c *resource.Config) { c.JWKSMinAge = 2 * c.JWKSMaxAge; c.JWKSMaxAge = 1 }, "above"},
		{"a negative cache size", func(c *resource.Config) { c.MaxCachedTokens = -1 }, "negative"},
		{"the issuer with a slash", func(c *resource.Config) { c.Issuer += "/" }, "RFC 8414 section 3.3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := iss.Config(res)
			tc.mod(&cfg)
			v, err := resource.New(t.Context(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, %v; want an error saying %q", v, err, tc.want)
			}
		})
	}
}

// authServer runs a TLS server whose metadata is meta(base), base its own
// URL, and whose other paths serve other.
func authServer(t *testing.T, meta func(base string) map[string]any, other http.Handler) *httptest.Server {
	t.Helper()
	var base string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server/", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(meta(base))
	})
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(meta(base))
	})
	if other != nil {
		mux.Handle("/", other)
	}
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	base = srv.URL
	return srv
}

const emptyJWKS = `{"keys":[]}`

// TestDiscovery: the metadata must name the configured issuer, and
// everything it points to must be at the issuer's origin; a redirect
// elsewhere is not followed.
func TestDiscovery(t *testing.T) {
	elsewhere := authServer(t, func(string) map[string]any { return nil }, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(emptyJWKS))
	}))
	jwks := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/jwks":
			_, _ = w.Write([]byte(emptyJWKS))
		case "/redirect":
			http.Redirect(w, r, elsewhere.URL+"/jwks", http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/jwks", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/big":
			_, _ = w.Write([]byte(`{"keys":[],"pad":"` + strings.Repeat("x", 256<<10) + `"}`))
		case "/bad":
			_, _ = w.Write([]byte(`{"keys":{}}`))
		case "/gone":
			http.NotFound(w, r)
		}
	})
	for _, tc := range []struct {
		name      string
		path      string // the issuer's path
		meta      func(base string) map[string]any
		client    bool // with introspection credentials
		wantError string
	}{
		{"good", "", func(b string) map[string]any {
			return map[string]any{"issuer": b, "jwks_uri": b + "/jwks", "introspection_endpoint": b + "/introspect"}
		}, true, ""},
		{"an issuer with a path", "/tenant", func(b string) map[string]any {
			return map[string]any{"issuer": b + "/tenant", "jwks_uri": b + "/jwks"}
		}, false, ""},
		{"a same-origin redirect", "", func(b string) map[string]any { return map[string]any{"issuer": b, "jwks_uri": b + "/here"} }, false, ""},
		{"another issuer", "", func(b string) map[string]any {
			return map[string]any{"issuer": "https://evil.example", "jwks_uri": b + "/jwks"}
		}, false, "names the issuer"},
		{"no jwks_uri", "", func(b string) map[string]any { return map[string]any{"issuer": b} }, false, "jwks_uri: missing"},
		{"a jwks_uri elsewhere", "", func(b string) map[string]any {
			return map[string]any{"issuer": b, "jwks_uri": elsewhere.URL + "/jwks"}
		}, false, "not at the issuer's origin"},
		{"a relative jwks_uri", "", func(b string) map[string]any { return map[string]any{"issuer": b, "jwks_uri": "/jwks"} }, false, "not an absolute URL"},
		{"an introspection endpoint elsewhere", "", func(b string) map[string]any {
			return map[string]any{"issuer": b, "jwks_uri": b + "/jwks", "introspection_endpoint": elsewhere.URL + "/introspect"}
		}, true, "not at the issuer's origin"},
		{"no introspection endpoint", "", func(b string) map[string]any { return map[string]any{"issuer": b, "jwks_uri": b + "/jwks"} }, true, "introspection_endpoint: missing"},
		{"introspection without client_secret_basic", "", func(b string) map[string]any {
			return map[string]any{"issuer": b, "jwks_uri": b + "/jwks", "introspection_endpoint": b + "/i", "introspection_endpoint_auth_methods_supported": []string{"private_key_jwt"}}
		}, true, "client_secret_basic"},
		{"a redirect elsewhere", "", func(b string) map[string]any { return map[string]any{"issuer": b, "jwks_uri": b + "/redirect"} }, false, "outside the issuer's origin"},
		{"a redirect loop", "", func(b string) map[string]any { return map[string]any{"issuer": b, "jwks_uri": b + "/loop"} }, false, "stopped after 3 redirects"},
		{"a JWKS too large", "", func(b string) map[string]any { return map[string]any{"issuer": b, "jwks_uri": b + "/big"} }, false, "larger than"},
		{"not a JWKS", "", func(b string) map[string]any { return map[string]any{"issuer": b, "jwks_uri": b + "/bad"} }, false, "not a JSON Web Key Set"},
		{"a JWKS not found", "", func(b string) map[string]any { return map[string]any{"issuer": b, "jwks_uri": b + "/gone"} }, false, "404"},
		{"metadata not an object", "", func(b string) map[string]any { return nil }, false, "names the issuer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := authServer(t, tc.meta, jwks)
			client := srv.Client()
			client.Timeout = 10 * time.Second
			cfg := resource.Config{Issuer: srv.URL + tc.path, Resource: res, HTTPClient: client}
			if tc.client {
				cfg.ClientID, cfg.ClientSecret = "id", "secret"
			}
			_, err := resource.New(t.Context(), cfg)
			switch {
			case tc.wantError == "" && err != nil:
				t.Errorf("New = %v", err)
			case tc.wantError != "" && (err == nil || !strings.Contains(err.Error(), tc.wantError)):
				t.Errorf("New = %v, want an error saying %q", err, tc.wantError)
			}
		})
	}
}

// TestInsecureLoopback: with the option, an http issuer and resource on
// loopback are accepted; never another http host.
func TestInsecureLoopback(t *testing.T) {
	var base string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": base, "jwks_uri": base + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(emptyJWKS)) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	base = srv.URL
	v, err := resource.New(t.Context(), resource.Config{Issuer: base, Resource: "http://localhost:9/mcp", InsecureLoopback: true})
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	if got := v.MetadataURL(); got != "http://localhost:9/.well-known/oauth-protected-resource/mcp" {
		t.Errorf("MetadataURL = %q", got)
	}
	if _, err := resource.New(t.Context(), resource.Config{Issuer: base, Resource: "http://mcp.example.com/mcp", InsecureLoopback: true}); err == nil {
		t.Error("New accepted an http resource that is not on loopback")
	}
}

func TestNormalizeURI(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://mcp.example.com/mcp", "https://mcp.example.com/mcp"},
		{"HTTPS://MCP.Example.COM/mcp", "https://mcp.example.com/mcp"},
		{"https://mcp.example.com:443/mcp", "https://mcp.example.com/mcp"},
		{"http://mcp.example.com:80/mcp", "http://mcp.example.com/mcp"},
		{"https://mcp.example.com:80/mcp", "https://mcp.example.com:80/mcp"},
		{"https://mcp.example.com/mcp/", "https://mcp.example.com/mcp"},
		{"https://mcp.example.com/", "https://mcp.example.com"},
		{"https://mcp.example.com", "https://mcp.example.com"},
		{"https://mcp.example.com/MCP", "https://mcp.example.com/MCP"},
		{"https://mcp.example.com/%7euser", "https://mcp.example.com/~user"},
		{"https://mcp.example.com/a%2fb", "https://mcp.example.com/a%2Fb"},
		{"https://mcp.example.com/a%20b", "https://mcp.example.com/a%20b"},
		{"https://[::1]:8443/x", "https://[::1]:8443/x"},
		{"https://[::1]:443/x", "https://[::1]/x"},
	} {
		got, err := resource.NormalizeURI(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeURI(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{
		"", "mcp.example.com/mcp", "/mcp", "ftp://mcp.example.com/", "https:///mcp", "https://u@mcp.example.com/",
		"https://mcp.example.com/mcp#f", "https://mcp.example.com/mcp#", "https://mcp.example.com/mcp?q", "https://mcp.example.com/mcp?",
		"https://mcp.example.com/a/../b", "https://mcp.example.com/./b", "https://mcp.example.com:/x", "urn:x:y",
		"https://[fe80::1%25eth0]/",
	} {
		if got, err := resource.NormalizeURI(in); err == nil {
			t.Errorf("NormalizeURI(%q) = %q, want an error", in, got)
		}
	}
}
