// Package oauthtest drives the authorization code flow the way a person's
// browser does, for tests: it keeps cookies, follows the server's own
// redirects, signs in and answers the consent page through the real forms,
// and stops at the redirect back to the application.
package oauthtest

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// Browser is one person's browser against the server at Base.
type Browser struct {
	t      testing.TB
	Base   string
	Client *http.Client
}

// NewBrowser returns a browser with an empty cookie jar. It follows
// redirects within base, except to a path ending in "callback", and stops
// at any other (the application's redirect URI).
func NewBrowser(t testing.TB, base string) *Browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return &Browser{t: t, Base: base, Client: &http.Client{
		Jar: jar,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != srv.Host || strings.HasSuffix(req.URL.Path, "callback") {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}}
}

// Page is an answer the browser got.
type Page struct {
	Status   int
	Location *url.URL // where a redirect it stopped at leads
	Body     string
	Header   http.Header
}

// Get loads u.
func (b *Browser) Get(u string) Page {
	b.t.Helper()
	resp, err := b.Client.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.read(resp)
}

// Post submits a form to u as a browser does from a page of the same
// site (Sec-Fetch-Site and Origin set).
func (b *Browser) Post(u string, form url.Values) Page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", b.Base)
	resp, err := b.Client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.read(resp)
}

func (b *Browser) read(resp *http.Response) Page {
	b.t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	p := Page{Status: resp.StatusCode, Body: string(body), Header: resp.Header}
	if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode >= 300 && resp.StatusCode < 400 {
		if p.Location, err = resp.Request.URL.Parse(loc); err != nil {
			b.t.Fatal(err)
		}
	}
	return p
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// Form reads the hidden fields of the page's forms.
func (p Page) Form() url.Values {
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(p.Body, -1) {
		v.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

// IsSignIn reports whether p is the sign-in page.
func (p Page) IsSignIn() bool { return strings.Contains(p.Body, `action="/login"`) }

// IsConsent reports whether p is the consent page.
func (p Page) IsConsent() bool { return strings.Contains(p.Body, `name="decision"`) }

// SignIn fills in the sign-in page at and submits it.
func (b *Browser) SignIn(login, password string, at Page) Page {
	b.t.Helper()
	if !at.IsSignIn() {
		b.t.Fatalf("expected the sign-in page, got %d: %.300s", at.Status, at.Body)
	}
	f := at.Form()
	f.Set("login", login)
	f.Set("password", password)
	return b.Post(b.Base+"/login", f)
}

// Consent answers the consent page at with decision, approve or deny.
func (b *Browser) Consent(at Page, decision string) Page {
	b.t.Helper()
	if !at.IsConsent() {
		b.t.Fatalf("expected the consent page, got %d: %.300s", at.Status, at.Body)
	}
	f := at.Form()
	f.Set("decision", decision)
	return b.Post(b.Base+"/oauth/authorize", f)
}

// Callback checks that p redirects to redirect and returns its query.
func Callback(t testing.TB, p Page, redirect string) url.Values {
	t.Helper()
	if p.Location == nil {
		t.Fatalf("want a redirect to %s, got %d: %.300s", redirect, p.Status, p.Body)
	}
	got := *p.Location
	got.RawQuery = ""
	if got.String() != redirect {
		t.Fatalf("redirected to %s, want %s", p.Location, redirect)
	}
	return p.Location.Query()
}

// Authorize runs the person's part of the flow for conf: it signs in as
// login if asked to, approves if asked to, and returns the code.
func (b *Browser) Authorize(conf *oauth2.Config, login, password string, opts ...oauth2.AuthCodeOption) string {
	b.t.Helper()
	state := "state-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	p := b.Get(conf.AuthCodeURL(state, opts...))
	if p.IsSignIn() {
		p = b.SignIn(login, password, p)
	}
	if p.Location == nil {
		p = b.Consent(p, "approve")
	}
	q := Callback(b.t, p, conf.RedirectURL)
	if q.Get("state") != state {
		b.t.Fatalf("state %q came back as %q", state, q.Get("state"))
	}
	if q.Get("code") == "" {
		b.t.Fatalf("no code in %s", p.Location)
	}
	return q.Get("code")
}
