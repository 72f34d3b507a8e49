package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/oauthtest"
	"github.com/latchkey/latchkey/internal/service"
)

// sessionCookie finds the sign-in cookie a page set.
func sessionCookie(p oauthtest.Page) *http.Cookie {
	for _, c := range (&http.Response{Header: p.Header}).Cookies() {
		if c.Name == "latchkey_session" {
			return c
		}
	}
	return nil
}

func TestSignIn(t *testing.T) {
	h := newOAuthHarness(t)
	b := oauthtest.NewBrowser(t, h.srv.URL)
	login := b.Get(h.srv.URL + "/login")
	if login.Status != http.StatusOK || !login.IsSignIn() {
		t.Fatalf("GET /login: %d", login.Status)
	}
	for _, hdr := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"} {
		if login.Header.Get(hdr) == "" {
			t.Errorf("the sign-in page lacks %s", hdr)
		}
	}
	if strings.Contains(login.Header.Get("Content-Security-Policy"), "unsafe-inline") {
		t.Error("the CSP allows inline script or style")
	}

	// Unknown user and wrong password: the same page, word for word.
	unknown := b.SignIn("nobody", "whatever", login)
	wrong := b.SignIn("alice", "not the password", login)
	if unknown.Status != http.StatusUnauthorized || wrong.Status != http.StatusUnauthorized {
		t.Errorf("failed sign-ins: %d and %d, want 401", unknown.Status, wrong.Status)
	}
	strip := func(p oauthtest.Page, login string) string { return strings.ReplaceAll(p.Body, login, "LOGIN") }
	if strip(unknown, "nobody") != strip(wrong, "alice") {
		t.Error("an unknown user and a wrong password are answered differently")
	}
	if !strings.Contains(wrong.Body, "These credentials do not match our records.") {
		t.Errorf("failed sign-in page: %.300s", wrong.Body)
	}
	if sessionCookie(wrong) != nil {
		t.Error("a failed sign-in set a session cookie")
	}

	// By email, with a return path: signed in, sent there, cookie flags.
	f := url.Values{"login": {"alice@example.com"}, "password": {h.alicePassword}, "return": {"/somewhere?x=1"}}
	b.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	ok := b.Post(h.srv.URL+"/login", f)
	if ok.Status != http.StatusSeeOther || ok.Location == nil || ok.Location.RequestURI() != "/somewhere?x=1" {
		t.Fatalf("sign-in: %d to %v, want 303 to /somewhere?x=1", ok.Status, ok.Location)
	}
	c := sessionCookie(ok)
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/, not Secure over plain HTTP", c)
	}
	if u, err := h.svc.SessionUser(t.Context(), c.Value); err != nil || u.ID != h.alice.ID {
		t.Errorf("the cookie's session: %v, %v; want alice", u, err)
	}

	// A second sign-in gets a new session; the old cookie is dead.
	again := b.Post(h.srv.URL+"/login", f)
	c2 := sessionCookie(again)
	if c2 == nil || c2.Value == c.Value {
		t.Fatal("signing in again kept the session")
	}
	if _, err := h.svc.SessionUser(t.Context(), c.Value); err == nil {
		t.Error("the session before the new sign-in still works")
	}

	// Sign-out ends the session.
	out := b.Post(h.srv.URL+"/logout", nil)
	if out.Status != http.StatusSeeOther {
		t.Errorf("sign-out: %d", out.Status)
	}
	if _, err := h.svc.SessionUser(t.Context(), c2.Value); err == nil {
		t.Error("the session still works after sign-out")
	}
}

func TestSignInNoOpenRedirect(t *testing.T) {
	h := newOAuthHarness(t)
	b := oauthtest.NewBrowser(t, h.srv.URL)
	b.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, back := range []string{"https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)", "evil", "/\r\nLocation: https://evil.example/"} {
		p := b.Post(h.srv.URL+"/login", url.Values{"login": {"alice"}, "password": {h.alicePassword}, "return": {back}})
		if p.Location == nil || p.Location.Host != strings.TrimPrefix(h.srv.URL, "http://") || p.Location.Path != "/" {
			t.Errorf("return %q: sent to %v, want this server's /", back, p.Location)
		}
	}
}

func TestSignInCrossOriginRefused(t *testing.T) {
	h := newOAuthHarness(t)
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/login", strings.NewReader(url.Values{"login": {"alice"}, "password": {h.alicePassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site sign-in post: %d, want 403", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "latchkey_session" {
			t.Error("a cross-site post signed in")
		}
	}
}

func TestSignInThrottle(t *testing.T) {
	h := newOAuthHarness(t, func(h *oauthHarness) {
		h.limits = httpapi.Limits{SignInPerAccount: httpapi.Rate{PerSecond: 0.001, Burst: 3}, SignInPerAddr: httpapi.Rate{PerSecond: 0.001, Burst: 6}}
	})
	b := oauthtest.NewBrowser(t, h.srv.URL)
	login := b.Get(h.srv.URL + "/login")
	for i := range 3 {
		if p := b.SignIn("alice", "wrong", login); p.Status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i+1, p.Status)
		}
	}
	// The account is throttled, even with the right password: no guess
	// is checked.
	p := b.SignIn("alice", h.alicePassword, login)
	if p.Status != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" {
		t.Errorf("after 3 failures: %d Retry-After %q, want 429 with Retry-After", p.Status, p.Header.Get("Retry-After"))
	}
	if sessionCookie(p) != nil {
		t.Error("a throttled sign-in set a session")
	}
	// Another account from the same address still works, until the
	// address's own limit.
	if p := b.SignIn("bob", h.bobPassword, login); p.Status == http.StatusTooManyRequests {
		t.Errorf("bob throttled by alice's failures: %d", p.Status)
	}
	for range 3 {
		b.SignIn("nobody", "wrong", login)
	}
	if p := b.SignIn("bob", h.bobPassword, login); p.Status != http.StatusTooManyRequests {
		t.Errorf("after 6 failures from one address: %d, want 429", p.Status)
	}
	// Every failure and success is in the audit log, without a password.
	recs, err := h.svc.Audit(t.Context(), latchkey.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, r := range recs {
		if r.Action == latchkey.AuditSignInRefused {
			failed++
		}
		if strings.Contains(r.Detail, "wrong") && r.Detail != "wrong password" || strings.Contains(r.Detail, h.alicePassword) {
			t.Errorf("audit record holds what was typed: %+v", r)
		}
	}
	if failed != 6 {
		t.Errorf("%d sign-in failures audited, want 6", failed)
	}
}

func TestAuthorizeSignsInFirst(t *testing.T) {
	h := newOAuthHarness(t)
	b := oauthtest.NewBrowser(t, h.srv.URL)
	conf := h.config(h.app, h.appSecret, h.redirect, latchkey.ScopeTokensRead)
	b.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	p := b.Get(conf.AuthCodeURL("state-12345678"))
	if p.Status != http.StatusSeeOther || p.Location == nil || p.Location.Path != "/login" {
		t.Fatalf("authorize signed out: %d to %v, want 303 to /login", p.Status, p.Location)
	}
	back := p.Location.Query().Get("return")
	if !strings.HasPrefix(back, "/oauth/authorize?") || !strings.Contains(back, "state=state-12345678") {
		t.Errorf("return path %q: want the authorization request", back)
	}
}

// TestSignInThrottleConcurrent: failures sent together get no more
// password checks than the budget; username and email share one budget.
func TestSignInThrottleConcurrent(t *testing.T) {
	h := newOAuthHarness(t, func(h *oauthHarness) {
		h.limits = httpapi.Limits{SignInPerAccount: httpapi.Rate{PerSecond: 0.001, Burst: 3}, SignInPerAddr: httpapi.Rate{PerSecond: 0.001, Burst: 1000}}
	})
	const n = 40
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	for range n {
		wg.Go(func() {
			b := oauthtest.NewBrowser(t, h.srv.URL)
			statuses <- b.Post(h.srv.URL+"/login", url.Values{"login": {"alice"}, "password": {"wrong"}}).Status
		})
	}
	wg.Wait()
	close(statuses)
	checked := 0
	for s := range statuses {
		switch s {
		case http.StatusUnauthorized:
			checked++
		case http.StatusTooManyRequests:
		default:
			t.Errorf("a concurrent failed sign-in answered %d", s)
		}
	}
	if checked > 3 {
		t.Errorf("%d of %d concurrent wrong passwords were checked, want at most the burst of 3", checked, n)
	}
	b := oauthtest.NewBrowser(t, h.srv.URL)
	b.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, login := range []string{" alice ", "ALICE"} {
		if p := b.Post(h.srv.URL+"/login", url.Values{"login": {login}, "password": {h.alicePassword}}); p.Status != http.StatusTooManyRequests {
			t.Errorf("login %q after the budget of %q is spent: %d, want 429", login, "alice", p.Status)
		}
	}
	// The email is another name, with a budget of its own: were it
	// throttled too, the 429 would tell that it is alice's.
	if p := b.Post(h.srv.URL+"/login", url.Values{"login": {"alice@example.com"}, "password": {h.alicePassword}}); p.Status != http.StatusSeeOther {
		t.Errorf("alice's email after her username's budget is spent: %d, want 303 (signed in)", p.Status)
	}
}

// TestSignInThrottleTellsNothing: whether a name is throttled does not
// depend on whether an account goes by it.
func TestSignInThrottleTellsNothing(t *testing.T) {
	h := newOAuthHarness(t, func(h *oauthHarness) {
		h.limits = httpapi.Limits{SignInPerAccount: httpapi.Rate{PerSecond: 0.001, Burst: 2}}
	})
	b := oauthtest.NewBrowser(t, h.srv.URL)
	for _, name := range []string{"Bob", "Zelda"} { // bob exists, zelda does not
		for range 2 {
			b.Post(h.srv.URL+"/login", url.Values{"login": {name}, "password": {"wrong"}})
		}
	}
	for _, name := range []string{"bob", "zelda"} {
		if p := b.Post(h.srv.URL+"/login", url.Values{"login": {name}, "password": {"wrong"}}); p.Status != http.StatusTooManyRequests {
			t.Errorf("%q after its other spelling's budget is spent: %d, want 429 for a known and an unknown name alike", name, p.Status)
		}
	}
}

// TestSignInBehindTLS: with TLS (here, --secure-cookies) the cookie is
// Secure and carries the __Host- prefix, and that cookie signs in.
func TestSignInBehindTLS(t *testing.T) {
	h := newOAuthHarness(t, func(h *oauthHarness) { h.secureCookies = true })
	b := oauthtest.NewBrowser(t, h.srv.URL)
	b.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	p := b.Post(h.srv.URL+"/login", url.Values{"login": {"alice"}, "password": {h.alicePassword}})
	var c *http.Cookie
	for _, k := range (&http.Response{Header: p.Header}).Cookies() {
		if strings.HasSuffix(k.Name, "latchkey_session") {
			c = k
		}
	}
	if c == nil || c.Name != "__Host-latchkey_session" || !c.Secure || c.Path != "/" || c.Domain != "" || !c.HttpOnly {
		t.Fatalf("cookie %+v: want __Host-latchkey_session, Secure, HttpOnly, Path=/, no Domain", c)
	}
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/tokens", nil)
	req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/tokens with the secure cookie: %d, want 200", resp.StatusCode)
	}
}

// deviceCookie finds the device cookie a page set.
func deviceCookie(p oauthtest.Page) *http.Cookie {
	for _, c := range (&http.Response{Header: p.Header}).Cookies() {
		if strings.HasPrefix(c.Name, "latchkey_device_") || strings.HasPrefix(c.Name, "__Host-latchkey_device_") {
			return c
		}
	}
	return nil
}

// TestSignInDeviceCookie: guesses at a name (in any spelling that folds
// onto it) spend the name's budget, but a browser that signed in to it
// before carries a device cookie and still gets in; a device cookie that
// fails too often is throttled itself; a forged one counts for nothing.
// The budgets run on the server's clock.
func TestSignInDeviceCookie(t *testing.T) {
	h := newHarnessWith(t, httpapi.Options{Limits: httpapi.Limits{
		SignInPerAccount: httpapi.Rate{PerSecond: 0.2, Burst: 3},
		SignInPerAddr:    httpapi.Rate{PerSecond: 1, Burst: 1000},
	}})
	const pw = "carol's own long passphrase"
	h.newUser(service.NewUser{Username: "carol", Email: "carol@example.com", Password: pw})
	signIn := func(b *oauthtest.Browser, login, password string) oauthtest.Page {
		t.Helper()
		return b.Post(h.srv.URL+"/login", url.Values{"login": {login}, "password": {password}})
	}
	noRedirect := func(b *oauthtest.Browser) *oauthtest.Browser {
		b.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		return b
	}

	// Carol signs in from her browser: it gets a device cookie.
	carol := noRedirect(oauthtest.NewBrowser(t, h.srv.URL))
	p := signIn(carol, "carol", pw)
	dc := deviceCookie(p)
	if p.Status != http.StatusSeeOther || dc == nil {
		t.Fatalf("carol's sign-in: %d, device cookie %v; want 303 and a device cookie", p.Status, dc)
	}
	if !dc.HttpOnly || dc.SameSite != http.SameSiteStrictMode || dc.Path != "/" || dc.MaxAge <= 0 {
		t.Errorf("device cookie %+v: want HttpOnly, SameSite=Strict, Path=/, lasting", dc)
	}
	carol.Post(h.srv.URL+"/logout", nil)

	// Someone else spends the name's budget with a spelling that folds
	// onto it; then even the right password is a 429 for them.
	guesser := noRedirect(oauthtest.NewBrowser(t, h.srv.URL))
	for i := range 3 {
		if p := signIn(guesser, " CAROL ", "a wrong guess"); p.Status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i+1, p.Status)
		}
	}
	if p := signIn(guesser, "carol", pw); p.Status != http.StatusTooManyRequests {
		t.Fatalf("the right password without a device cookie after the name's budget is spent: %d, want 429", p.Status)
	}

	// Carol's browser still gets in, and gets a new device cookie.
	p = signIn(carol, "carol", pw)
	if p.Status != http.StatusSeeOther || sessionCookie(p) == nil {
		t.Fatalf("carol with her device cookie while others spent her name's budget: %d, want 303 (signed in)", p.Status)
	}
	if again := deviceCookie(p); again == nil || again.Value == dc.Value {
		t.Errorf("a sign-in with a device cookie did not issue a new one: %v", again)
	}

	// A forged device cookie (another signature) is no device cookie.
	forger := noRedirect(oauthtest.NewBrowser(t, h.srv.URL))
	srvURL, _ := url.Parse(h.srv.URL)
	nonce, _, _ := strings.Cut(dc.Value, ".")
	forger.Client.Jar.SetCookies(srvURL, []*http.Cookie{{Name: dc.Name, Value: nonce + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", Path: "/"}})
	if p := signIn(forger, "carol", pw); p.Status != http.StatusTooManyRequests {
		t.Errorf("a forged device cookie: %d, want 429 like no cookie", p.Status)
	}
	// Carol's cookie is for her name only.
	if p := signIn(carol, "carol@example.com", "wrong"); p.Status != http.StatusUnauthorized {
		t.Errorf("carol's email with a wrong password: %d, want 401 from the email's own budget", p.Status)
	}

	// A device cookie that fails too often is throttled itself.
	for i := range 3 {
		if p := signIn(carol, "carol", "carol mistypes"); p.Status != http.StatusUnauthorized {
			t.Fatalf("failure %d with the device cookie: %d, want 401", i+1, p.Status)
		}
	}
	if p := signIn(carol, "carol", pw); p.Status != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" {
		t.Errorf("the device cookie after its budget is spent: %d Retry-After %q, want 429 with Retry-After", p.Status, p.Header.Get("Retry-After"))
	}

	// On the server's clock the budgets refill: one failure every 5 s.
	h.clock.Advance(5 * time.Second)
	if p := signIn(carol, "carol", pw); p.Status != http.StatusSeeOther {
		t.Errorf("carol's device cookie 5 s later on the server's clock: %d, want 303", p.Status)
	}
	if p := signIn(guesser, "carol", "a wrong guess"); p.Status != http.StatusUnauthorized {
		t.Errorf("the name's budget 5 s later on the server's clock: %d, want 401 (one more guess)", p.Status)
	}
	if p := signIn(guesser, "carol", "a wrong guess"); p.Status != http.StatusTooManyRequests {
		t.Errorf("a second guess in the same 5 s: %d, want 429", p.Status)
	}
}

// TestDeviceCookieExactName: a device cookie is bound to the name as typed
// when it was issued, so that a person's cookie gives no budget of its own
// to guesses at another account whose name differs only in case.
func TestDeviceCookieExactName(t *testing.T) {
	h := newHarnessWith(t, httpapi.Options{Limits: httpapi.Limits{
		SignInPerAccount: httpapi.Rate{PerSecond: 0.2, Burst: 3},
		SignInPerAddr:    httpapi.Rate{PerSecond: 1, Burst: 1000},
	}})
	const pw = "dana's own long passphrase"
	h.newUser(service.NewUser{Username: "dana", Email: "dana@example.com", Password: pw})
	h.newUser(service.NewUser{Username: "Dana", Email: "other-dana@example.com", Password: "the other Dana's passphrase"})
	browser := oauthtest.NewBrowser(t, h.srv.URL)
	browser.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	signIn := func(login, password string) int {
		t.Helper()
		return browser.Post(h.srv.URL+"/login", url.Values{"login": {login}, "password": {password}}).Status
	}
	if got := signIn("dana", pw); got != http.StatusSeeOther {
		t.Fatalf("dana's sign-in: %d, want 303", got)
	}
	browser.Post(h.srv.URL+"/logout", nil)
	// Someone spends the budget of the name "Dana" (folded: "dana").
	guesser := oauthtest.NewBrowser(t, h.srv.URL)
	guesser.Client.CheckRedirect = browser.Client.CheckRedirect
	for i := range 3 {
		if got := guesser.Post(h.srv.URL+"/login", url.Values{"login": {"Dana"}, "password": {"a wrong guess"}}).Status; got != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i+1, got)
		}
	}
	// dana's browser guessing at "Dana" draws on that spent budget, not
	// on her device cookie's.
	if got := signIn("Dana", "another wrong guess"); got != http.StatusTooManyRequests {
		t.Errorf("a guess at Dana with dana's device cookie once the name's budget was spent: %d, want 429", got)
	}
	// Her own name still gets her in.
	if got := signIn("dana", pw); got != http.StatusSeeOther {
		t.Errorf("dana with her device cookie: %d, want 303", got)
	}
}
