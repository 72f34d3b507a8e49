package httpapi_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/oauthtest"
)

// browserOrigin is the origin of a page that calls Latchkey with fetch.
const browserOrigin = "https://inspector.example.com"

// fetch sends a request as a browser's fetch from browserOrigin does,
// with the headers given, and returns the answer's status and headers.
func fetch(t *testing.T, method, u, body string, header map[string]string) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", browserOrigin)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

// preflightOf sends the CORS preflight a browser sends before calling
// method on u with MCP's headers.
func preflightOf(t *testing.T, u, method string) (int, http.Header) {
	return fetch(t, http.MethodOptions, u, "", map[string]string{
		"Access-Control-Request-Method":  method,
		"Access-Control-Request-Headers": "authorization,content-type,mcp-protocol-version",
	})
}

// TestCORS: the endpoints a public client in a browser calls let any
// origin read their answers, preflight and call alike, without
// credentials; the authorization endpoint, introspection, the web pages
// and the token API do not.
func TestCORS(t *testing.T) {
	h := newOAuthHarness(t, func(h *oauthHarness) { h.registration = httpapi.RegistrationPublic })
	base := h.srv.URL

	open := []struct{ path, method string }{
		{"/.well-known/oauth-authorization-server", http.MethodGet},
		{"/.well-known/oauth-protected-resource", http.MethodGet},
		{"/.well-known/oauth-protected-resource/api/1.0", http.MethodGet},
		{"/.well-known/jwks.json", http.MethodGet},
		{"/oauth/token", http.MethodPost},
		{"/oauth/register", http.MethodPost},
		{"/oauth/revoke", http.MethodPost},
	}
	for _, e := range open {
		t.Run("preflight "+e.path, func(t *testing.T) {
			status, hdr := preflightOf(t, base+e.path, e.method)
			if status != http.StatusNoContent || hdr.Get("Access-Control-Allow-Origin") != "*" ||
				!strings.Contains(hdr.Get("Access-Control-Allow-Methods"), e.method) ||
				hdr.Get("Access-Control-Allow-Headers") != "Authorization, Content-Type, MCP-Protocol-Version" ||
				hdr.Get("Access-Control-Max-Age") != "3600" || hdr.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("OPTIONS %s: %d %v; want 204 allowing any origin %s with MCP's headers, for an hour, without credentials", e.path, status, hdr, e.method)
			}
		})
	}
	for _, e := range open[:4] {
		t.Run("GET "+e.path, func(t *testing.T) {
			status, hdr := fetch(t, http.MethodGet, base+e.path, "", nil)
			if status != http.StatusOK || hdr.Get("Access-Control-Allow-Origin") != "*" || hdr.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("GET %s: %d %v; want 200 readable by any origin", e.path, status, hdr)
			}
		})
	}

	t.Run("a browser's client registers, exchanges and revokes", func(t *testing.T) {
		redirect := "https://inspector.example.com/callback"
		status, hdr := fetch(t, http.MethodPost, base+"/oauth/register", `{"redirect_uris":["`+redirect+`"],"client_name":"Inspector","token_endpoint_auth_method":"none"}`,
			map[string]string{"Content-Type": "application/json"})
		if status != http.StatusCreated || hdr.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("POST /oauth/register: %d %v", status, hdr)
		}
		// The client's id, from the store: the answer's body was read
		// as a browser's fetch reads it, for its headers.
		clients, err := h.svc.Clients(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		c := clients[len(clients)-1]
		conf := h.config(c, "", redirect, latchkey.ScopeTokensRead)
		verifier := oauth2.GenerateVerifier()
		code := oauthtest.NewBrowser(t, base).Authorize(conf, "alice", h.alicePassword, oauth2.S256ChallengeOption(verifier))
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
			"client_id": {strconv.FormatInt(c.ID, 10)}, "code_verifier": {verifier}}
		form2 := "application/x-www-form-urlencoded"
		status, hdr = fetch(t, http.MethodPost, base+"/oauth/token", form.Encode(), map[string]string{"Content-Type": form2})
		if status != http.StatusOK || hdr.Get("Access-Control-Allow-Origin") != "*" || hdr.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("POST /oauth/token: %d %v; want 200 readable by any origin", status, hdr)
		}
		// An error too is for the client to read.
		status, hdr = fetch(t, http.MethodPost, base+"/oauth/token", form.Encode(), map[string]string{"Content-Type": form2})
		if status != http.StatusBadRequest || hdr.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("POST /oauth/token with a used code: %d %v; want 400 readable by any origin", status, hdr)
		}
		status, hdr = fetch(t, http.MethodPost, base+"/oauth/revoke", url.Values{"token": {"unknown"}, "client_id": {strconv.FormatInt(c.ID, 10)}}.Encode(),
			map[string]string{"Content-Type": form2})
		if status != http.StatusOK || hdr.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("POST /oauth/revoke: %d %v; want 200 readable by any origin", status, hdr)
		}
		// A confidential client's failed authentication: its challenge
		// is readable.
		status, hdr = fetch(t, http.MethodPost, base+"/oauth/token", "grant_type=refresh_token&refresh_token=x",
			map[string]string{"Content-Type": form2, "Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(strconv.FormatInt(h.app.ID, 10)+":wrong"))})
		if status != http.StatusUnauthorized || hdr.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(hdr.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
			t.Errorf("POST /oauth/token, bad client: %d %v; want 401 with its challenge readable", status, hdr)
		}
	})

	// Not open: the authorization endpoint (a navigation), introspection
	// (server to server), the pages, which act on a person's cookie, and
	// the token API.
	closed := []struct{ path, method string }{
		{"/oauth/authorize?client_id=1&response_type=code", http.MethodGet},
		{"/oauth/authorize", http.MethodPost},
		{"/oauth/introspect", http.MethodPost},
		{"/login", http.MethodGet},
		{"/login", http.MethodPost},
		{"/tokens", http.MethodGet},
		{"/tokens", http.MethodPost},
		{"/applications", http.MethodGet},
		{"/api/1.0/users/1/tokens", http.MethodGet},
		{"/api/1.0/users/1/tokens", http.MethodPost},
		{"/api/1.0/tokens/self", http.MethodGet},
	}
	for _, e := range closed {
		t.Run("closed "+e.method+" "+e.path, func(t *testing.T) {
			status, hdr := preflightOf(t, base+e.path, e.method)
			if status == http.StatusNoContent || hdr.Get("Access-Control-Allow-Origin") != "" || hdr.Get("Access-Control-Allow-Methods") != "" {
				t.Errorf("OPTIONS %s: %d %v; want no CORS preflight answer", e.path, status, hdr)
			}
			_, hdr = fetch(t, e.method, base+e.path, "", map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
			if hdr.Get("Access-Control-Allow-Origin") != "" || hdr.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("%s %s: %v; want no CORS headers", e.method, e.path, hdr)
			}
		})
	}
}
