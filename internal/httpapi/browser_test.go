package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/service"
)

// The web UI in a real browser: headless Chromium, driven over the
// DevTools protocol. In CI (CI set) a missing browser fails the test;
// elsewhere it skips. With LATCHKEY_SCREENSHOTS=1 the test also writes a
// screenshot of each page to docs/screenshots.

// chromiumPath finds the browser: $LATCHKEY_CHROMIUM, else on PATH.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("LATCHKEY_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium to run the browser tests: install Debian's chromium package (.ci/run does), or set LATCHKEY_CHROMIUM")
	}
	t.Skip("no Chromium (set LATCHKEY_CHROMIUM or install chromium); the browser tests are skipped")
	return ""
}

// startChromium starts one headless browser for the whole test. The flags
// keep it off the network: without them it waits on Google's services.
func startChromium(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // the tests may run as root, where the sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1200, 800),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	// The first run starts the browser and ties its life to the context
	// it is given: this one, without a deadline.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// tab is one person's browser: a browser context of its own (its own
// cookies) with one tab. It answers every dialog with OK and remembers it.
type tab struct {
	ctx     context.Context
	base    string
	mu      sync.Mutex
	dialogs []string // "type: message"
}

func newTab(t *testing.T, browser context.Context, base string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1200, 800)); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	tb := &tab{ctx: ctx, base: base}
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.dialogs = append(tb.dialogs, string(ev.Type)+": "+ev.Message)
			tb.mu.Unlock()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return tb
}

// seen returns the dialogs the tab has shown.
func (tb *tab) seen() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return slices.Clone(tb.dialogs)
}

// stepTimeout bounds each step; a hung step fails rather than hangs.
const stepTimeout = 30 * time.Second

// run runs a in tb and returns its value, failing t on an error.
func run[T any](t *testing.T, tb *tab, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("in the browser, at %s: %v", tb.location(), err)
	}
	return v
}

// do runs steps in tb.
func (tb *tab) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	run(t, tb, chromedp.Steps(steps...))
}

// load runs steps that lead to a new page, waits for it, and returns the
// HTTP answer of its document.
func (tb *tab) load(t *testing.T, steps ...chromedp.Action[chromedp.Void]) *network.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		t.Fatalf("in the browser, at %s: %v", tb.location(), err)
	}
	return resp
}

// open loads the page at path and checks its status.
func (tb *tab) open(t *testing.T, path string, status int64) {
	t.Helper()
	if resp := tb.load(t, chromedp.Navigate(tb.base+path)); resp.Status != status {
		t.Fatalf("GET %s in the browser = %d, want %d", path, resp.Status, status)
	}
}

// location is where the tab is, for messages.
func (tb *tab) location() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "(unknown: " + err.Error() + ")"
	}
	return loc
}

// text is the text content of the first element sel matches on the page
// as it is now, or "" when there is none: no waiting for one to appear.
func (tb *tab) text(t *testing.T, sel string) string {
	t.Helper()
	q, _ := json.Marshal(sel)
	return strings.TrimSpace(eval[string](t, tb, `document.querySelector(`+string(q)+`)?.textContent ?? ""`))
}

// eval evaluates expression in the page.
func eval[T any](t *testing.T, tb *tab, expression string) T {
	t.Helper()
	return run(t, tb, chromedp.Evaluate[T](expression))
}

// accessibility lists what keeps the page now in the tab from being
// usable with a screen reader or the keyboard alone: a field without a
// label, a button or link without a name, an element taken out of the tab
// order, a page without exactly one h1 or with skipped heading levels, no
// language or title.
const accessibility = `(() => {
  const problems = [];
  const h1 = document.querySelectorAll("h1").length;
  if (h1 !== 1) problems.push(h1 + " h1 elements");
  if (!document.documentElement.lang) problems.push("no lang on <html>");
  if (!document.title.trim()) problems.push("no title");
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden" || el.type === "submit") continue;
    if (el.labels.length === 0 && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"))
      problems.push(el.tagName.toLowerCase() + " " + (el.id || el.name) + " has no label");
  }
  for (const el of document.querySelectorAll("button, a[href]")) {
    if (el.hidden) continue;
    if (!el.textContent.trim() && !el.getAttribute("aria-label")) problems.push("a " + el.tagName.toLowerCase() + " without a name");
    if (el.tabIndex < 0) problems.push(el.tagName.toLowerCase() + " " + el.textContent.trim() + " cannot be reached with Tab");
  }
  let last = 0;
  for (const h of document.querySelectorAll("h1, h2, h3, h4, h5, h6")) {
    const n = Number(h.tagName[1]);
    if (last && n > last + 1) problems.push(h.tagName.toLowerCase() + " after h" + last);
    last = n;
  }
  return problems;
})()`

// audit fails t for each accessibility problem of the page in the tab.
func (tb *tab) audit(t *testing.T) {
	t.Helper()
	for _, p := range eval[[]string](t, tb, accessibility) {
		t.Errorf("%s: %s", tb.location(), p)
	}
}

// shot checks the page's accessibility, and saves a screenshot of it as
// docs/screenshots/name.png when LATCHKEY_SCREENSHOTS is set: every page
// pictured in the README is audited.
func (tb *tab) shot(t *testing.T, name string) {
	t.Helper()
	tb.audit(t)
	if os.Getenv("LATCHKEY_SCREENSHOTS") == "" {
		return
	}
	png := run(t, tb, chromedp.FullScreenshot(100))
	dir := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// signIn fills in the sign-in page the tab is on and submits it.
func (tb *tab) signIn(t *testing.T, login, password string) *network.Response {
	t.Helper()
	tb.do(t, chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("login"), login),
		chromedp.SendKeys(chromedp.ID("password"), password))
	return tb.load(t, chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)))
}

func TestBrowser(t *testing.T) {
	browser := startChromium(t)
	h := newOAuthHarness(t)
	ctx := t.Context()
	const adminPassword = "the administrator's passphrase"
	admin, err := h.svc.CreateUser(ctx, service.NewUser{Username: "admin", Email: "admin@example.com", FirstName: "Ada", LastName: "Admin", Admin: true, Password: adminPassword})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.CreateUser(ctx, service.NewUser{Username: "audit", Email: "audit@example.com", FirstName: "Ana", LastName: "Lyst", Permissions: []string{latchkey.PermViewUsers}}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		id          int64
		first, last string
	}{{h.alice.ID, "Alice", "Liddell"}, {h.bob.ID, "Bob", "Builder"}} {
		if _, err := h.svc.UpdateUser(ctx, u.id, service.UserChange{UserUpdate: latchkey.UserUpdate{FirstName: &u.first, LastName: &u.last}}); err != nil {
			t.Fatal(err)
		}
	}
	aliceTok, _ := h.token(t, h.alice, "laptop backup")
	h.token(t, h.alice, "calendar sync")
	ci := "CI pipeline"
	if _, _, err := h.svc.CreateToken(ctx, &latchkey.Principal{User: admin}, admin, service.TokenRequest{Name: &ci, Scopes: []string{latchkey.ScopeTokensRead}}); err != nil {
		t.Fatal(err)
	}

	adminTab := newTab(t, browser, h.srv.URL)
	var jwt, tokenID string

	signedIn := t.Run("sign in with the keyboard", func(t *testing.T) {
		tb := adminTab
		tb.open(t, "/tokens", 200)
		loc, _ := url.Parse(tb.location())
		if loc.Path != "/login" || loc.Query().Get("return") != "/tokens" {
			t.Fatalf("signed out, /tokens led to %s, want the sign-in page coming back to /tokens", loc)
		}
		tb.shot(t, "sign-in")
		// The first field has the focus; Tab goes to the next; Enter sends.
		if id := eval[string](t, tb, `document.activeElement.id`); id != "login" {
			t.Fatalf("focused on the sign-in page: %q, want login", id)
		}
		tb.do(t, chromedp.KeyEvent("admin"), chromedp.KeyEvent(kb.Tab))
		if id := eval[string](t, tb, `document.activeElement.id`); id != "password" {
			t.Fatalf("after Tab the focus is on %q, want password", id)
		}
		tb.do(t, chromedp.KeyEvent(adminPassword))
		if resp := tb.load(t, chromedp.KeyEvent(kb.Enter)); resp.Status != 200 {
			t.Fatalf("signing in answered %d", resp.Status)
		}
		if h1 := tb.text(t, "h1"); h1 != "My tokens" || !strings.HasSuffix(tb.location(), "/tokens") {
			t.Fatalf("after signing in: %q at %s, want My tokens", h1, tb.location())
		}
	})
	if !signedIn {
		t.FailNow() // the rest needs the administrator signed in
	}

	t.Run("create a token and use it", func(t *testing.T) {
		tb := adminTab
		tb.do(t,
			chromedp.SendKeys(chromedp.ID("name"), "deploy bot"),
			chromedp.Click(chromedp.CSS(`input[name=scopes][value="tokens.read"]`)),
			chromedp.Click(chromedp.CSS(`input[name=scopes][value="tokens.write"]`)))
		if resp := tb.load(t, chromedp.Click(chromedp.CSS(`.token-form button[type=submit]`))); resp.Status != 201 {
			t.Fatalf("creating a token answered %d", resp.Status)
		}
		jwt = run(t, tb, chromedp.Value(chromedp.ID("new-token")))
		if strings.Count(jwt, ".") != 2 {
			t.Fatalf("the page shows %q, not a JWT", jwt)
		}
		if warn := tb.text(t, "#once"); !strings.Contains(warn, "will not be shown again") {
			t.Errorf("the warning reads %q", warn)
		}
		if hidden := eval[bool](t, tb, `document.querySelector('button[data-copy="new-token"]').hidden`); hidden {
			t.Error("the copy button is still hidden with script on")
		}
		tokenID = claims(t, jwt)["jti"].(string)
		tb.shot(t, "token-created")
		if code := h.api(jwt, admin); code != 200 {
			t.Fatalf("GET /api/1.0/users/%d/tokens with the token from the page = %d, want 200", admin.ID, code)
		}
	})

	t.Run("rotate it in the UI with a grace period", func(t *testing.T) {
		if tokenID == "" {
			t.Skip("no token was created")
		}
		tb := adminTab
		tb.open(t, "/tokens", 200)
		tb.load(t, chromedp.Click(chromedp.CSS("#token-"+tokenID+" a.button:not(.danger)")))
		if h1 := tb.text(t, "h1"); h1 != "Rotate this token?" {
			t.Fatalf("the rotate link led to %q at %s, want the confirmation", h1, tb.location())
		}
		tb.do(t, chromedp.Click(chromedp.CSS(`input[name=grace_seconds][value="3600"]`)))
		tb.shot(t, "rotate-confirmation")
		if resp := tb.load(t, chromedp.Click(chromedp.CSS(`form.actions button[type=submit]`))); resp.Status != 201 {
			t.Fatalf("rotating answered %d", resp.Status)
		}
		if h1 := tb.text(t, "h1"); h1 != "Token rotated" {
			t.Fatalf("after rotating: %q", h1)
		}
		if note := tb.text(t, "#rotated"); !strings.Contains(note, "1 hour") {
			t.Errorf("the rotation note reads %q, want the grace period", note)
		}
		next := run(t, tb, chromedp.Value(chromedp.ID("new-token")))
		if next == jwt || strings.Count(next, ".") != 2 {
			t.Fatalf("the page shows %q, not a new JWT", next)
		}
		tb.shot(t, "token-rotated")
		for name, tok := range map[string]string{"the new token": next, "the old token, in its grace period": jwt} {
			if code := h.api(tok, admin); code != 200 {
				t.Errorf("GET with %s = %d, want 200", name, code)
			}
		}
		tb.open(t, "/tokens", 200)
		if got := tb.text(t, "#token-"+tokenID+" .state"); got != "active" {
			t.Errorf("the old token's state: %q, want active (in its grace period)", got)
		}
		if got := tb.text(t, "#token-"+tokenID+" td:nth-child(6)"); !strings.Contains(got, "replaced by deploy bot") {
			t.Errorf("the old token's row says %q, want it replaced by the new one", got)
		}
	})

	t.Run("revoke it in the UI, and the API refuses it", func(t *testing.T) {
		if tokenID == "" {
			t.Skip("no token was created")
		}
		tb := adminTab
		tb.open(t, "/tokens", 200)
		if state := tb.text(t, "#token-"+tokenID+" .state"); state != "active" {
			t.Fatalf("the new token's state on the list: %q, want active", state)
		}
		tb.load(t, chromedp.Click(chromedp.CSS("#token-"+tokenID+" a.button.danger")))
		if h1 := tb.text(t, "h1"); h1 != "Revoke this token?" {
			t.Fatalf("the revoke link led to %q at %s, want the confirmation", h1, tb.location())
		}
		tb.shot(t, "revoke-confirmation")
		if code := h.api(jwt, admin); code != 200 {
			t.Fatalf("the confirmation page alone revoked the token: GET = %d", code)
		}
		tb.load(t, chromedp.Click(chromedp.CSS(`form.actions button.danger`)))
		if flash := tb.text(t, ".flash"); !strings.Contains(flash, "“deploy bot” is revoked") {
			t.Errorf("after revoking the page says %q", flash)
		}
		if state := tb.text(t, "#token-"+tokenID+" .state"); state != "revoked" {
			t.Errorf("the revoked token's state on the list: %q, want revoked", state)
		}
		tb.shot(t, "my-tokens")
		if code := h.api(jwt, admin); code != 401 {
			t.Errorf("GET with the token revoked in the UI = %d, want 401", code)
		}
	})

	t.Run("a token named with HTML shows as text", func(t *testing.T) {
		tb := adminTab
		const evil = `<script>alert(1)</script><img src=x onerror=alert(2)>`
		tb.open(t, "/tokens", 200)
		tb.do(t, chromedp.SendKeys(chromedp.ID("name"), evil))
		tb.load(t, chromedp.Click(chromedp.CSS(`.token-form button[type=submit]`)))
		if name := tb.text(t, "strong.name"); name != evil {
			t.Errorf("the new token's page names it %q, want %q", name, evil)
		}
		tb.open(t, "/tokens", 200)
		names := eval[[]string](t, tb, `[...document.querySelectorAll('td.name')].map(e => e.textContent)`)
		if !slices.Contains(names, evil) {
			t.Errorf("the list's names are %q, want one to read %q", names, evil)
		}
		if n := eval[int](t, tb, `document.querySelectorAll('main script, main img, script:not([src])').length`); n != 0 {
			t.Errorf("the page has %d script or img elements made of the name", n)
		}
		for _, d := range tb.seen() {
			if strings.HasPrefix(d, "alert") {
				t.Errorf("a dialog opened: %s", d)
			}
		}
	})

	t.Run("a plain user cannot reach another user's tokens", func(t *testing.T) {
		tb := newTab(t, browser, h.srv.URL)
		tb.open(t, "/login", 200)
		tb.signIn(t, "bob", h.bobPassword)
		if n := eval[int](t, tb, `document.querySelectorAll('nav a[href="/users"]').length`); n != 0 {
			t.Error("a plain user's menu links to Users")
		}
		tb.open(t, fmt.Sprintf("/users/%d", h.alice.ID), 403)
		if h1 := tb.text(t, "h1"); h1 != "Not allowed" {
			t.Errorf("bob at alice's tokens sees %q, want Not allowed", h1)
		}
		tb.audit(t)
		if body := tb.text(t, "main"); strings.Contains(body, "laptop backup") {
			t.Error("bob sees the name of alice's token")
		}
		tb.open(t, "/users", 403)
		tb.open(t, fmt.Sprintf("/users/%d/tokens/%s/revoke", h.alice.ID, aliceTok.ID), 403)
	})

	t.Run("users: search, open one, create a token for them", func(t *testing.T) {
		tb := adminTab
		tb.open(t, "/users", 200)
		tb.shot(t, "users")
		// Search with the keyboard: type, Enter.
		tb.do(t, chromedp.Focus(chromedp.ID("q")), chromedp.KeyEvent("lidd"))
		tb.load(t, chromedp.KeyEvent(kb.Enter))
		rows := eval[[]string](t, tb, `[...document.querySelectorAll('tbody td.name')].map(e => e.textContent)`)
		if !slices.Equal(rows, []string{"alice"}) {
			t.Fatalf("searching lidd lists %q, want alice", rows)
		}
		tb.load(t, chromedp.Click(chromedp.CSS(`tbody td.name a`)))
		if h1 := tb.text(t, "h1"); h1 != "Tokens of alice" {
			t.Fatalf("the search result led to %q", h1)
		}
		tb.shot(t, "user")
		tb.do(t, chromedp.SendKeys(chromedp.ID("name"), "made by admin"))
		if resp := tb.load(t, chromedp.Click(chromedp.CSS(`.token-form button[type=submit]`))); resp.Status != 201 {
			t.Fatalf("creating a token for alice answered %d", resp.Status)
		}
		made := run(t, tb, chromedp.Value(chromedp.ID("new-token")))
		if sub := claims(t, made)["sub"]; sub != strconv.FormatInt(h.alice.ID, 10) {
			t.Errorf("the token made for alice belongs to %v", sub)
		}
		if code := h.api(made, h.alice); code != 200 {
			t.Errorf("the token made for alice: GET her tokens = %d, want 200", code)
		}
	})

	t.Run("the consent page approves and denies", func(t *testing.T) {
		tb := newTab(t, browser, h.srv.URL)
		conf := h.config(h.app, h.appSecret, h.redirect, latchkey.ScopeTokensRead, latchkey.ScopeTokensWrite)
		tb.open(t, "/oauth/authorize?"+strings.SplitN(conf.AuthCodeURL("state-approve"), "?", 2)[1], 200)
		tb.signIn(t, "alice", h.alicePassword)
		if h1 := tb.text(t, "h1"); h1 != "Authorize Report Builder" {
			t.Fatalf("after signing in: %q, want the consent page", h1)
		}
		tb.shot(t, "consent")
		tb.load(t, chromedp.Click(chromedp.CSS(`button[value=approve]`)))
		back, _ := url.Parse(tb.location())
		if !strings.HasPrefix(back.String(), h.redirect+"?") || back.Query().Get("code") == "" || back.Query().Get("state") != "state-approve" {
			t.Errorf("approving led to %s, want %s with a code and the state", back, h.redirect)
		}

		tb.open(t, "/applications", 200)
		if apps := tb.text(t, "tbody td.name"); apps != "Report Builder" {
			t.Errorf("authorized applications: %q, want Report Builder", apps)
		}
		tb.shot(t, "applications")

		other := h.config(h.other, h.otherSecret, h.otherRedirect, latchkey.ScopeTokensRead)
		tb.open(t, "/oauth/authorize?"+strings.SplitN(other.AuthCodeURL("state-deny"), "?", 2)[1], 200)
		tb.load(t, chromedp.Click(chromedp.CSS(`button[value=deny]`)))
		back, _ = url.Parse(tb.location())
		if !strings.HasPrefix(back.String(), h.otherRedirect+"?") || back.Query().Get("error") != "access_denied" || back.Query().Get("state") != "state-deny" {
			t.Errorf("denying led to %s, want %s with error=access_denied and the state", back, h.otherRedirect)
		}

		// Revoking asks first (a confirm dialog, answered OK here).
		tb.open(t, "/applications", 200)
		tb.load(t, chromedp.Click(chromedp.CSS(`tbody form button`)))
		if flash := tb.text(t, ".flash"); !strings.Contains(flash, "The application no longer has access") {
			t.Errorf("after revoking the application the page says %q", flash)
		}
		if !slices.ContainsFunc(tb.seen(), func(d string) bool { return strings.HasPrefix(d, "confirm: Revoke the access of Report Builder?") }) {
			t.Errorf("revoking did not ask first; dialogs: %q", tb.seen())
		}
	})
}
