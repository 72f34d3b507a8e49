package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/cimd"
	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/oauthtest"
	"github.com/latchkey/latchkey/internal/service"
)

// FuzzAuthorize sends /oauth/authorize any query, by GET and by POST (the
// consent form's way, approving), signed in. Whatever the parameters, the
// server does not fail, and it redirects only to the sign-in page or to a
// redirect URI the named client registered (or its metadata document
// lists): never an open redirect.
func FuzzAuthorize(f *testing.F) {
	h := newOAuthHarness(f, withDocuments(f))
	agent := h.documents.Document("/agent.json", agentDocument())
	if _, err := h.svc.CreateResource(f.Context(), service.NewResource{URI: "https://mcp.example.com/mcp", Name: "Tools", Scopes: []string{"mcp:tools"}}); err != nil {
		f.Fatal(err)
	}
	b := oauthtest.NewBrowser(f, h.srv.URL)
	b.SignIn("alice", h.alicePassword, b.Get(h.srv.URL+"/login"))
	b.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	registered := map[string][]string{
		strconv.FormatInt(h.app.ID, 10):    {h.redirect},
		strconv.FormatInt(h.native.ID, 10): {h.nativeRedirect},
		strconv.FormatInt(h.other.ID, 10):  {h.otherRedirect},
	}
	challenge := "PzO-6JblKuNCQduToTFMmpZ6G04G3gkEAX5B5CVVP0g"
	for _, q := range []string{
		"response_type=code&client_id=2&redirect_uri=" + url.QueryEscape(h.redirect) + "&scope=tokens.read&state=abcdefgh12",
		"response_type=code&client_id=3&redirect_uri=" + url.QueryEscape(h.nativeRedirect) + "&scope=*&state=abcdefgh12&code_challenge=" + challenge + "&code_challenge_method=S256",
		"response_type=code&client_id=2&redirect_uri=https://evil.example/&scope=tokens.read&state=abcdefgh12",
		"response_type=code&client_id=2&redirect_uri=" + url.QueryEscape(h.redirect) + "%2F..%2F..&scope=tokens.read&state=abcdefgh12",
		"response_type=token&client_id=2&scope=tokens.read&state=abcdefgh12&response_mode=form_post",
		"client_id=2&client_id=4&redirect_uri=" + url.QueryEscape(h.otherRedirect),
		"response_type=code%20id_token&client_id=2&scope=openid&nonce=x&prompt=none",
		"response_type=code&client_id=" + url.QueryEscape(agent) + "&redirect_uri=" + url.QueryEscape(agentRedirect) + "&state=abcdefgh12&code_challenge=" + challenge + "&code_challenge_method=S256",
		"response_type=code&client_id=" + url.QueryEscape(agent) + "&redirect_uri=" + url.QueryEscape(h.redirect) + "&state=abcdefgh12&code_challenge=" + challenge + "&code_challenge_method=S256",
		"response_type=code&client_id=" + url.QueryEscape(agent) + "&redirect_uri=" + url.QueryEscape(agentRedirect) + "&state=abcdefgh12&scope=admin",
		"response_type=code&client_id=" + url.QueryEscape(agent+"#x") + "&redirect_uri=" + url.QueryEscape(agentRedirect),
		// Resource indicators (RFC 8707): registered, the API's own, unknown, two, malformed.
		"response_type=code&client_id=2&redirect_uri=" + url.QueryEscape(h.redirect) + "&scope=mcp:tools&state=abcdefgh12&resource=" + url.QueryEscape("HTTPS://MCP.example.com:443/mcp/"),
		"response_type=code&client_id=2&redirect_uri=" + url.QueryEscape(h.redirect) + "&scope=tokens.read&state=abcdefgh12&resource=" + url.QueryEscape(h.srv.URL+"/api/1.0"),
		"response_type=code&client_id=2&redirect_uri=" + url.QueryEscape(h.redirect) + "&state=abcdefgh12&resource=https://mcp.example.com/mcp&resource=https://x.example/",
		"response_type=code&client_id=2&redirect_uri=" + url.QueryEscape(h.redirect) + "&state=abcdefgh12&resource=https://mcp.example.com/%zz%23frag&audience=x",
		"response_type=code&client_id=" + url.QueryEscape(agent) + "&redirect_uri=" + url.QueryEscape(agentRedirect) + "&scope=mcp:tools&state=abcdefgh12&code_challenge=" + challenge + "&code_challenge_method=S256&resource=https://mcp.example.com/mcp",
		"",
	} {
		f.Add(false, q)
		f.Add(true, q+"&decision=approve")
	}
	f.Fuzz(func(t *testing.T, post bool, query string) {
		var resp *http.Response
		var err error
		if post {
			req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/oauth/authorize", strings.NewReader(query))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			resp, err = b.Client.Do(req)
		} else {
			u, perr := url.Parse(h.srv.URL + "/oauth/authorize")
			if perr != nil {
				t.Fatal(perr)
			}
			u.RawQuery = query
			resp, err = b.Client.Get(u.String())
		}
		if err != nil {
			return // the client refused to send it (an invalid URL)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%d for %q", resp.StatusCode, query)
		}
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode >= 400 || loc == "" {
			return
		}
		target, err := resp.Request.URL.Parse(loc)
		if err != nil {
			t.Fatalf("unreadable Location %q for %q", loc, query)
		}
		if target.Host == resp.Request.URL.Host && target.Path == "/login" {
			return
		}
		// What the server read: a GET's query as it arrived, a POST's body.
		form := resp.Request.URL.Query()
		if post {
			form, _ = url.ParseQuery(query)
		}
		bare := *target
		bare.RawQuery, bare.Fragment = "", ""
		allowed := registered[form.Get("client_id")]
		if cimd.IsURL(form.Get("client_id")) {
			// Every document of the tests lists agentRedirect alone,
			// whichever fuzzing process serves it.
			allowed = []string{agentRedirect}
		}
		for _, uri := range allowed {
			if bare.String() == uri {
				return
			}
		}
		t.Fatalf("redirected to %s, which client %q did not register (query %q)", loc, form.Get("client_id"), query)
	})
}

// FuzzToken sends /oauth/token any form with any client credentials: the
// answer is never a server error, always JSON, and a token only for a
// code or refresh token the server issued (none here, so never).
func FuzzToken(f *testing.F) {
	h := newOAuthHarness(f)
	app := strconv.FormatInt(h.app.ID, 10)
	for _, seed := range []struct{ form, user, pass string }{
		{"grant_type=authorization_code&code=abc.def&redirect_uri=" + url.QueryEscape(h.redirect) + "&code_verifier=" + strings.Repeat("a", 43), app, h.appSecret},
		{"grant_type=refresh_token&refresh_token=abc.def", app, h.appSecret},
		{"grant_type=refresh_token&refresh_token=abc.def&client_id=" + app + "&client_secret=" + url.QueryEscape(h.appSecret), "", ""},
		{"grant_type=authorization_code&code=&client_id=3", "", ""},
		{"grant_type=client_credentials&scope=*", app, h.appSecret},
		{"grant_type=password&username=alice&password=x", app, "wrong"},
		{"grant_type=authorization_code&grant_type=refresh_token", "%zz", "\x00"},
		{"%%%", "", ""},
		{"grant_type=refresh_token&refresh_token=abc.def&resource=https://mcp.example.com/mcp&resource=%23", app, h.appSecret},
	} {
		f.Add(seed.form, seed.user, seed.pass)
	}
	f.Fuzz(func(t *testing.T, form, user, pass string) {
		req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/oauth/token", strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" || pass != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return // the client refused to send it
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("%d: not JSON (%v) for %q", resp.StatusCode, err, form)
		}
		switch {
		case resp.StatusCode >= 500:
			t.Fatalf("%d %v for %q", resp.StatusCode, body, form)
		case resp.StatusCode == http.StatusOK || body["access_token"] != nil:
			t.Fatalf("a token for %q: %v", form, body)
		case body["error"] == nil:
			t.Fatalf("%d without an error name for %q: %v", resp.StatusCode, form, body)
		}
	})
}

// FuzzLocalPath: the address sign-in sends a person back to is always a
// path on this server, however a browser reads it.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/tokens", "/oauth/authorize?client_id=2&state=x", "//evil.example", "/\\evil.example", "https://evil.example", "/%2F%2Fevil", "/\t/evil", "javascript:alert(1)", ""} {
		f.Add(s)
	}
	base, _ := url.Parse("https://latchkey.example/login")
	f.Fuzz(func(t *testing.T, p string) {
		got := httpapi.LocalPath(p)
		if got != "/" && got != p {
			t.Fatalf("LocalPath(%q) = %q: neither the path nor /", p, got)
		}
		// A browser strips tabs and newlines and reads \ as /.
		browser := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(got)
		u, err := base.Parse(browser)
		if err != nil {
			t.Fatalf("LocalPath(%q) = %q, which does not parse: %v", p, got, err)
		}
		if u.Host != "latchkey.example" || u.Scheme != "https" {
			t.Fatalf("LocalPath(%q) = %q leads to %s", p, got, u)
		}
	})
}

// FuzzTokenForm: the web create form, whatever its body: the name read is
// the name sent, the scopes are those sent, and an expiry is either a
// date at midnight UTC or a field error.
func FuzzTokenForm(f *testing.F) {
	for _, s := range []string{"name=ci&scopes=tokens.read&scopes=tokens.write&expires_at=2027-01-31", "name=%3Cscript%3E", "expires_at=31%2F01%2F2027", "expires_at=2027-02-30", "scopes=&scopes=*", "name=a&name=b", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return // the standard library refused it before the form is read
		}
		req := httpapi.TokenRequestFromForm(form)
		if req.Name == nil || *req.Name != form.Get("name") {
			t.Fatalf("name %v, want %q", req.Name, form.Get("name"))
		}
		if len(req.Scopes) != len(form["scopes"]) {
			t.Fatalf("scopes %q, want %q", req.Scopes, form["scopes"])
		}
		switch {
		case req.ExpiresAt != nil && req.Invalid.Get("expires_at") != nil:
			t.Fatal("an expiry both read and refused")
		case req.ExpiresAt != nil:
			d := *req.ExpiresAt
			if d.Location() != time.UTC || d.Hour() != 0 || d.Minute() != 0 || d.Second() != 0 || d.Nanosecond() != 0 {
				t.Fatalf("expiry %v: not midnight UTC", d)
			}
		case strings.TrimSpace(form.Get("expires_at")) != "" && req.Invalid.Get("expires_at") == nil:
			t.Fatalf("expires_at %q neither read nor refused", form.Get("expires_at"))
		}
	})
}
