package httpapi_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/oauthtest"
	"github.com/latchkey/latchkey/internal/service"
)

// The web UI at the HTTP level: who may see and do what, validation,
// escaping, cross-origin posts and the headers of every page. The
// browser tests (browser_test.go) drive the same pages in Chromium.

// uiUsers are the people of the UI tests besides alice and bob, who are
// plain users.
type uiUsers struct {
	viewer, editor, manager, admin *latchkey.User
}

const uiPassword = "a password for the ui tests"

func (h *oauthHarness) uiUsers() uiUsers {
	h.t.Helper()
	mk := func(name string, admin bool, perms ...string) *latchkey.User {
		u, err := h.svc.CreateUser(h.t.Context(), service.NewUser{Username: name, Email: name + "@example.com", FirstName: strings.ToUpper(name[:1]) + name[1:],
			Admin: admin, Permissions: perms, Password: uiPassword})
		if err != nil {
			h.t.Fatal(err)
		}
		return u
	}
	return uiUsers{
		viewer:  mk("viewer", false, latchkey.PermViewUsers),
		editor:  mk("editor", false, latchkey.PermEditUsers),
		manager: mk("manager", false, latchkey.PermViewUsers, latchkey.PermEditUsers),
		admin:   mk("root", true),
	}
}

// signIn returns a browser signed in as login.
func (h *oauthHarness) signIn(t *testing.T, login, password string) *oauthtest.Browser {
	t.Helper()
	b := oauthtest.NewBrowser(t, h.srv.URL)
	p := b.SignIn(login, password, b.Get(h.srv.URL+"/login"))
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "<h1>My tokens</h1>") {
		t.Fatalf("signing in as %s: %d %.300s", login, p.Status, p.Body)
	}
	return b
}

// token makes a personal token for u, as u.
func (h *oauthHarness) token(t *testing.T, u *latchkey.User, name string) (*latchkey.Token, string) {
	t.Helper()
	tok, jwt, err := h.svc.CreateToken(t.Context(), &latchkey.Principal{User: u}, u, service.TokenRequest{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	return tok, jwt
}

// revoked reports whether the token with id is revoked.
func (h *oauthHarness) revoked(t *testing.T, owner *latchkey.User, id string) bool {
	t.Helper()
	tok, err := h.svc.Token(t.Context(), owner, id)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Revoked
}

var newTokenArea = regexp.MustCompile(`(?s)<textarea id="new-token"[^>]*>([^<]*)</textarea>`)

// shownToken reads the new token off the page that shows it once.
func shownToken(t *testing.T, p oauthtest.Page) string {
	t.Helper()
	m := newTokenArea.FindStringSubmatch(p.Body)
	if p.Status != http.StatusCreated || m == nil {
		t.Fatalf("want the page of a new token, got %d: %.400s", p.Status, p.Body)
	}
	return html.UnescapeString(strings.TrimSpace(m[1]))
}

func TestUIPermissions(t *testing.T) {
	h := newOAuthHarness(t)
	us := h.uiUsers()
	aliceTok, _ := h.token(t, h.alice, "alice's deploy key")
	alicePage := fmt.Sprintf("%s/users/%d", h.srv.URL, h.alice.ID)
	revokeLink := fmt.Sprintf(`href="/users/%d/tokens/%s/revoke"`, h.alice.ID, aliceTok.ID)
	createForm := fmt.Sprintf(`action="/users/%d/tokens"`, h.alice.ID)

	// The page of alice's tokens shows each viewer what the API lets
	// them do: the list to whoever may read it, a revoke link to whoever
	// may revoke, the form to whoever may create.
	for _, tc := range []struct {
		name                   string
		login                  string
		status                 int
		canSee, revoke, create bool
	}{
		{name: "plain user", login: "bob", status: http.StatusForbidden},
		{name: "view-users", login: "viewer", status: http.StatusOK, canSee: true},
		{name: "edit-users alone", login: "editor", status: http.StatusForbidden},
		{name: "view-users and edit-users", login: "manager", status: http.StatusOK, canSee: true, revoke: true},
		{name: "administrator", login: "root", status: http.StatusOK, canSee: true, revoke: true, create: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pw := uiPassword
			if tc.login == "bob" {
				pw = h.bobPassword
			}
			b := h.signIn(t, tc.login, pw)
			p := b.Get(alicePage)
			if p.Status != tc.status {
				t.Fatalf("GET /users/alice as %s = %d, want %d", tc.login, p.Status, tc.status)
			}
			if got := strings.Contains(p.Body, "alice&#39;s deploy key"); got != tc.canSee {
				t.Errorf("GET /users/alice as %s shows her token: %v, want %v", tc.login, got, tc.canSee)
			}
			if got := strings.Contains(p.Body, revokeLink); got != tc.revoke {
				t.Errorf("GET /users/alice as %s offers to revoke: %v, want %v", tc.login, got, tc.revoke)
			}
			if got := strings.Contains(p.Body, createForm); got != tc.create {
				t.Errorf("GET /users/alice as %s offers to create: %v, want %v", tc.login, got, tc.create)
			}
			if tc.status == http.StatusForbidden && !strings.Contains(p.Body, "<h1>Not allowed</h1>") {
				t.Errorf("GET /users/alice as %s: not the refusal page: %.300s", tc.login, p.Body)
			}
		})
	}

	t.Run("a plain user cannot search users", func(t *testing.T) {
		b := h.signIn(t, "bob", h.bobPassword)
		if p := b.Get(h.srv.URL + "/users"); p.Status != http.StatusForbidden {
			t.Errorf("GET /users as bob = %d, want 403", p.Status)
		}
		if p := b.Get(h.srv.URL + "/tokens"); strings.Contains(p.Body, `href="/users"`) {
			t.Error("bob's menu links to Users")
		}
	})
	t.Run("a viewer searches", func(t *testing.T) {
		b := h.signIn(t, "viewer", uiPassword)
		p := b.Get(h.srv.URL + "/users?q=ALI")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, fmt.Sprintf(`href="/users/%d"`, h.alice.ID)) || strings.Contains(p.Body, ">bob<") {
			t.Errorf("GET /users?q=ALI as viewer = %d, want alice and not bob: %.600s", p.Status, p.Body)
		}
	})
	t.Run("one's own user page is My tokens", func(t *testing.T) {
		b := h.signIn(t, "viewer", uiPassword)
		p := b.Get(fmt.Sprintf("%s/users/%d", h.srv.URL, us.viewer.ID))
		if !strings.Contains(p.Body, "<h1>My tokens</h1>") {
			t.Errorf("GET /users/{own id} = %d %.300s, want My tokens", p.Status, p.Body)
		}
	})
	t.Run("no such user", func(t *testing.T) {
		b := h.signIn(t, "root", uiPassword)
		for _, path := range []string{"/users/999999", "/users/abc", "/users/0"} {
			if p := b.Get(h.srv.URL + path); p.Status != http.StatusNotFound {
				t.Errorf("GET %s as admin = %d, want 404", path, p.Status)
			}
		}
	})

	// The forms' targets refuse what the pages do not offer, whatever is
	// posted to them.
	revoke := fmt.Sprintf("%s/users/%d/tokens/%s/revoke", h.srv.URL, h.alice.ID, aliceTok.ID)
	create := fmt.Sprintf("%s/users/%d/tokens", h.srv.URL, h.alice.ID)
	t.Run("a viewer cannot revoke", func(t *testing.T) {
		b := h.signIn(t, "viewer", uiPassword)
		if p := b.Get(revoke); p.Status != http.StatusForbidden {
			t.Errorf("GET the confirmation as viewer = %d, want 403", p.Status)
		}
		if p := b.Post(revoke, nil); p.Status != http.StatusForbidden {
			t.Errorf("POST revoke as viewer = %d, want 403", p.Status)
		}
		if h.revoked(t, h.alice, aliceTok.ID) {
			t.Fatal("a viewer revoked alice's token")
		}
	})
	t.Run("edit-users alone cannot read the token on the confirmation", func(t *testing.T) {
		b := h.signIn(t, "editor", uiPassword)
		if p := b.Get(revoke); p.Status != http.StatusForbidden || strings.Contains(p.Body, "deploy key") {
			t.Errorf("GET the confirmation as editor = %d, want 403 without the token", p.Status)
		}
	})
	t.Run("only an administrator creates for another", func(t *testing.T) {
		for _, login := range []string{"viewer", "editor", "manager"} {
			b := h.signIn(t, login, uiPassword)
			if p := b.Post(create, url.Values{"name": {"for alice"}}); p.Status != http.StatusForbidden || strings.Contains(p.Body, "new-token") {
				t.Errorf("POST create for alice as %s = %d, want 403", login, p.Status)
			}
		}
		b := h.signIn(t, "root", uiPassword)
		p := b.Post(create, url.Values{"name": {"made by root"}, "scopes": {"tokens.read"}})
		jwt := shownToken(t, p)
		if c := claims(t, jwt); c["sub"] != strconv.FormatInt(h.alice.ID, 10) {
			t.Errorf("the token root made for alice has sub %v", c["sub"])
		}
		if code := h.api(jwt, h.alice); code != http.StatusOK {
			t.Errorf("the token root made for alice: GET her tokens = %d, want 200", code)
		}
		if !strings.Contains(p.Body, fmt.Sprintf(`href="/users/%d"`, h.alice.ID)) {
			t.Error("the new token's page does not lead back to alice's tokens")
		}
	})
	t.Run("an editor with view-users revokes", func(t *testing.T) {
		b := h.signIn(t, "manager", uiPassword)
		if p := b.Get(revoke); p.Status != http.StatusOK || !strings.Contains(p.Body, "Revoke this token?") {
			t.Fatalf("GET the confirmation as manager = %d %.300s", p.Status, p.Body)
		}
		p := b.Post(revoke, nil)
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "is revoked") {
			t.Errorf("POST revoke as manager = %d %.300s, want the list saying it is revoked", p.Status, p.Body)
		}
		if !h.revoked(t, h.alice, aliceTok.ID) {
			t.Fatal("the manager's revoke did not revoke")
		}
	})
}

func TestUIMyTokens(t *testing.T) {
	h := newOAuthHarness(t)
	base := h.srv.URL

	t.Run("signed out", func(t *testing.T) {
		b := oauthtest.NewBrowser(t, base)
		for path, back := range map[string]string{"/tokens": "/tokens", "/applications": "/applications", "/users?q=a": "/users?q=a", "/": ""} {
			p := b.Get(base + path)
			if !p.IsSignIn() || p.Form().Get("return") != cmpOr(back, "/") {
				t.Errorf("GET %s signed out: sign-in %v, return %q, want %q", path, p.IsSignIn(), p.Form().Get("return"), cmpOr(back, "/"))
			}
		}
		p := b.Post(base+"/tokens", url.Values{"name": {"x"}})
		if !p.IsSignIn() || p.Form().Get("return") != "/tokens" {
			t.Errorf("POST /tokens signed out: want the sign-in page, got %d", p.Status)
		}
	})

	b := h.signIn(t, "alice", h.alicePassword)
	var id, jwt string
	t.Run("create", func(t *testing.T) {
		on := time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)
		p := b.Post(base+"/tokens", url.Values{"name": {"  nightly export  "}, "scopes": {"tokens.read"}, "expires_at": {on}})
		jwt = shownToken(t, p)
		if !strings.Contains(p.Body, "will not be shown again") || !strings.Contains(p.Body, `data-copy="new-token"`) {
			t.Errorf("the new token's page lacks the warning or the copy button: %.800s", p.Body)
		}
		if cc := p.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("the new token's page: Cache-Control %q, want no-store", cc)
		}
		if code := h.api(jwt, h.alice); code != http.StatusOK {
			t.Fatalf("GET /api/1.0/users/alice/tokens with the new token = %d, want 200", code)
		}
		c := claims(t, jwt)
		id = c["jti"].(string)
		if exp := time.Unix(int64(c["exp"].(float64)), 0).UTC().Format(time.DateOnly + " 15:04"); exp != on+" 00:00" {
			t.Errorf("the token expires %s, want %s 00:00 UTC", exp, on)
		}
		list := b.Get(base + "/tokens")
		row := regexp.MustCompile(`(?s)<tr id="token-` + id + `">.*?</tr>`).FindString(list.Body)
		for _, want := range []string{">nightly export<", "<code>tokens.read</code>", `datetime="` + on + `T00:00:00Z"`, "state-active", `href="/tokens/` + id + `/revoke"`} {
			if !strings.Contains(row, want) {
				t.Errorf("the list's row lacks %q: %s", want, row)
			}
		}
		if strings.Contains(row, "never") {
			t.Errorf("the list says the token was never used, after a call with it: %s", row)
		}
	})
	t.Run("limited to addresses", func(t *testing.T) {
		p := b.Post(base+"/tokens", url.Values{"name": {"office"}, "allowed_ips": {"192.0.2.0/24,\r\n2001:db8::/32"}})
		limited := shownToken(t, p)
		if code := h.api(limited, h.alice); code != http.StatusUnauthorized {
			t.Errorf("a token limited to other networks, used from the loopback = %d, want 401", code)
		}
		id := claims(t, limited)["jti"].(string)
		confirm := b.Get(base + "/tokens/" + id + "/revoke")
		if !strings.Contains(confirm.Body, "<code>192.0.2.0/24</code> <code>2001:db8::/32</code>") {
			t.Errorf("the token's page does not say where it works: %.3000s", confirm.Body)
		}
	})
	t.Run("mistakes are shown beside the fields", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			form url.Values
			want string
		}{
			{"no name", url.Values{"name": {"   "}}, `<p id="name-error" class="field-error">` + service.MsgNameRequired},
			{"past date", url.Values{"name": {"x"}, "expires_at": {"2001-01-01"}}, `<p id="expires-error" class="field-error">` + service.MsgExpiresPast},
			{"not a date", url.Values{"name": {"x"}, "expires_at": {"next week"}}, `<p id="expires-error" class="field-error">` + service.MsgExpiresInvalid},
			{"unknown scope", url.Values{"name": {"x"}, "scopes": {"admin"}}, `<p id="scopes-error" class="field-error">` + service.MsgScopesInvalid},
			{"not an address", url.Values{"name": {"x"}, "allowed_ips": {"192.0.2.0/24, the office"}}, `<p id="ips-error" class="field-error">` + service.MsgAllowedIPsArray},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := b.Post(base+"/tokens", tc.form)
				if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, tc.want) || strings.Contains(p.Body, "new-token") {
					t.Errorf("POST /tokens %v = %d, want 422 with %q: %.2000s", tc.form, p.Status, tc.want, p.Body)
				}
			})
		}
		// What was typed stays in the form.
		p := b.Post(base+"/tokens", url.Values{"name": {"kept"}, "scopes": {"tokens.write"}, "expires_at": {"2001-01-01"}})
		for _, want := range []string{`value="kept"`, `value="tokens.write" checked`, `value="2001-01-01"`, `aria-invalid="true"`} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("the form sent back lacks %s", want)
			}
		}
	})
	t.Run("revoke", func(t *testing.T) {
		p := b.Get(base + "/tokens/" + id + "/revoke")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, `action="/tokens/`+id+`/revoke"`) {
			t.Fatalf("GET the confirmation = %d %.500s", p.Status, p.Body)
		}
		if h.revoked(t, h.alice, id) {
			t.Fatal("asking to revoke revoked")
		}
		p = b.Post(base+"/tokens/"+id+"/revoke", nil)
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "The token “nightly export” is revoked") || !strings.Contains(p.Body, "state-revoked") {
			t.Errorf("POST revoke = %d, want the list saying so: %.800s", p.Status, p.Body)
		}
		if code := h.api(jwt, h.alice); code != http.StatusUnauthorized {
			t.Errorf("the revoked token: GET = %d, want 401", code)
		}
		if p := b.Get(base + "/tokens/" + id + "/revoke"); strings.Contains(p.Body, "<form method=\"post\" action=\"/tokens/") {
			t.Error("the confirmation of a revoked token still offers to revoke it")
		}
	})
	t.Run("another's token is not found under /tokens", func(t *testing.T) {
		bobs, _ := h.token(t, h.bob, "bob's")
		if p := b.Get(base + "/tokens/" + bobs.ID + "/revoke"); p.Status != http.StatusNotFound {
			t.Errorf("GET /tokens/{bob's}/revoke as alice = %d, want 404", p.Status)
		}
		if p := b.Post(base+"/tokens/"+bobs.ID+"/revoke", nil); p.Status != http.StatusNotFound {
			t.Errorf("POST /tokens/{bob's}/revoke as alice = %d, want 404", p.Status)
		}
		if h.revoked(t, h.bob, bobs.ID) {
			t.Error("alice revoked bob's token")
		}
	})
	t.Run("home", func(t *testing.T) {
		if p := b.Get(base + "/"); !strings.Contains(p.Body, "<h1>My tokens</h1>") {
			t.Errorf("GET / signed in = %d, want My tokens", p.Status)
		}
	})
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestUIEscapes(t *testing.T) {
	h := newOAuthHarness(t)
	const evil = `<script>alert(1)</script><img src=x onerror=alert(2)>"'`
	tok, _ := h.token(t, h.alice, evil)
	b := h.signIn(t, "alice", h.alicePassword)
	created := b.Post(h.srv.URL+"/tokens", url.Values{"name": {evil}})
	shownToken(t, created)
	for name, p := range map[string]oauthtest.Page{
		"list":         b.Get(h.srv.URL + "/tokens"),
		"confirmation": b.Get(h.srv.URL + "/tokens/" + tok.ID + "/revoke"),
		"created":      created,
	} {
		if !strings.Contains(p.Body, html.EscapeString(`<script>alert(1)</script><img src=x onerror=alert(2)>`)) {
			t.Errorf("%s: the name is not shown escaped: %.1500s", name, p.Body)
		}
		if strings.Contains(p.Body, "<script>") || strings.Contains(p.Body, "<img") {
			t.Errorf("%s: the name reached the page as markup", name)
		}
	}
}

// pageScript finds script elements; every one must load a file.
var pageScript = regexp.MustCompile(`<script[^>]*>`)

func TestUIPagesHeaders(t *testing.T) {
	h := newOAuthHarness(t)
	us := h.uiUsers()
	tok, _ := h.token(t, us.admin, "mine")
	b := h.signIn(t, "root", uiPassword)
	created := b.Post(h.srv.URL+"/tokens", url.Values{"name": {"another"}})
	shownToken(t, created)
	pages := map[string]oauthtest.Page{
		"created": created,
		"login":   oauthtest.NewBrowser(t, h.srv.URL).Get(h.srv.URL + "/login"),
	}
	for _, path := range []string{"/tokens", "/tokens/" + tok.ID + "/revoke", "/applications", "/users", fmt.Sprintf("/users/%d", h.alice.ID), "/users/999999"} {
		pages[path] = b.Get(h.srv.URL + path)
	}
	for name, p := range pages {
		csp := p.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "style-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: Content-Security-Policy %q", name, csp)
		}
		if got := p.Header.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("%s: X-Frame-Options %q, want DENY", name, got)
		}
		if got := p.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", name, got)
		}
		for _, s := range pageScript.FindAllString(p.Body, -1) {
			if !strings.Contains(s, `src="/static/`) {
				t.Errorf("%s: an inline script: %s", name, s)
			}
		}
		if strings.Contains(p.Body, " style=") || regexp.MustCompile(` on[a-z]+=`).MatchString(p.Body) {
			t.Errorf("%s: an inline style or event handler", name)
		}
	}
}

func TestUICrossOriginPosts(t *testing.T) {
	h := newOAuthHarness(t)
	b := h.signIn(t, "alice", h.alicePassword)
	tok, _ := h.token(t, h.alice, "keep me")
	conf := h.config(h.app, h.appSecret, h.redirect, latchkey.ScopeTokensRead)
	b.Authorize(conf, "alice", h.alicePassword)

	for _, tc := range []struct {
		name, path string
		form       url.Values
		site       string
	}{
		{"create, cross-site", "/tokens", url.Values{"name": {"planted"}}, "cross-site"},
		{"create, same-site", "/tokens", url.Values{"name": {"planted"}}, "same-site"},
		{"revoke", "/tokens/" + tok.ID + "/revoke", nil, "cross-site"},
		{"revoke an application", fmt.Sprintf("/applications/%d/revoke", h.app.ID), nil, "cross-site"},
		{"choose mail", "/settings/notifications", url.Values{"mail": {"token.created"}}, "cross-site"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, h.srv.URL+tc.path, strings.NewReader(tc.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", tc.site)
			req.Header.Set("Origin", "https://evil.example")
			resp, err := b.Client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s from %s = %d, want 403", tc.path, tc.site, resp.StatusCode)
			}
		})
	}
	ts, _, err := h.svc.UserTokens(t.Context(), h.alice, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].Revoked {
		t.Errorf("after the refused posts alice has %d tokens (revoked: %v), want her one, active", len(ts), len(ts) > 0 && ts[0].Revoked)
	}
	if _, err := h.svc.Consent(t.Context(), h.alice.ID, h.app.ID); err != nil {
		t.Errorf("after the refused post the consent is gone: %v", err)
	}
	if off, err := h.svc.MailOff(t.Context(), &latchkey.Principal{User: h.alice}); err != nil || len(off) != 0 {
		t.Errorf("after the refused post alice's mail choices are %v, %v; want none turned off", off, err)
	}
}

func TestUIApplications(t *testing.T) {
	h := newOAuthHarness(t)
	b := h.signIn(t, "alice", h.alicePassword)
	if p := b.Get(h.srv.URL + "/applications"); !strings.Contains(p.Body, "You have not authorized any application") {
		t.Errorf("GET /applications before any approval: %.500s", p.Body)
	}
	conf := h.config(h.app, h.appSecret, h.redirect, latchkey.ScopeTokensRead)
	code := b.Authorize(conf, "alice", h.alicePassword)
	tok, err := conf.Exchange(t.Context(), code)
	if err != nil {
		t.Fatal(err)
	}
	p := b.Get(h.srv.URL + "/applications")
	for _, want := range []string{">Report Builder<", "<code>tokens.read</code> see your access tokens", fmt.Sprintf(`action="/applications/%d/revoke"`, h.app.ID), "data-confirm="} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("GET /applications lacks %q: %.1500s", want, p.Body)
		}
	}
	if code := h.api(tok.AccessToken, h.alice); code != http.StatusOK {
		t.Fatalf("the application's token: GET = %d, want 200", code)
	}
	p = b.Post(fmt.Sprintf("%s/applications/%d/revoke", h.srv.URL, h.app.ID), nil)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "The application no longer has access") || strings.Contains(p.Body, "action=\"/applications/") {
		t.Errorf("POST revoke = %d, want the empty list saying so: %.1000s", p.Status, p.Body)
	}
	if code := h.api(tok.AccessToken, h.alice); code != http.StatusUnauthorized {
		t.Errorf("the application's token after the revoke: GET = %d, want 401", code)
	}
	if p := b.Post(fmt.Sprintf("%s/applications/%d/revoke", h.srv.URL, h.app.ID), nil); p.Status != http.StatusNotFound {
		t.Errorf("POST revoke again = %d, want 404", p.Status)
	}
}
