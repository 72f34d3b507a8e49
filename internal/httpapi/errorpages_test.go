package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/oauthtest"
	"github.com/latchkey/latchkey/internal/service"
	"github.com/latchkey/latchkey/internal/sqlite"
)

// failingStore is the database, except that one method, once the test
// names it, fails with the test's error, or panics.
type failingStore struct {
	*sqlite.DB
	mu     sync.Mutex
	method string
	err    error // nil: the method panics
}

// failWith makes method fail with err (nil: panic), "" none.
func (f *failingStore) failWith(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.method, f.err = method, err
}

func (f *failingStore) failure(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.method != method {
		return nil
	}
	if f.err == nil {
		panic("the store panics in " + method)
	}
	return f.err
}

func (f *failingStore) Tokens(ctx context.Context, q latchkey.TokenFilter) ([]*latchkey.Token, int, error) {
	if err := f.failure("Tokens"); err != nil {
		return nil, 0, err
	}
	return f.DB.Tokens(ctx, q)
}

func (f *failingStore) UserByLogin(ctx context.Context, login string) (*latchkey.User, error) {
	if err := f.failure("UserByLogin"); err != nil {
		return nil, err
	}
	return f.DB.UserByLogin(ctx, login)
}

// syncBuffer is a log the server writes to from its goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// errorHarness is the harness on a failingStore, logging to a buffer, with
// carol, who may sign in, and her token for the API.
type errorHarness struct {
	*harness
	store *failingStore
	log   *syncBuffer
	carol *latchkey.User
	jwt   string
}

const carolPassword = "carol's long enough password"

func newErrorHarness(t *testing.T, opts httpapi.Options) *errorHarness {
	t.Helper()
	fs, logs := &failingStore{}, &syncBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	h := newHarnessOn(t, opts, func(db *sqlite.DB) latchkey.Store { fs.DB = db; return fs })
	carol := h.newUser(service.NewUser{Username: "carol", Email: "carol@example.com", Password: carolPassword})
	return &errorHarness{harness: h, store: fs, log: logs, carol: carol, jwt: h.mint(carol, "carol's", nil)}
}

// signedIn is a browser signed in as carol.
func (h *errorHarness) signedIn(t *testing.T) *oauthtest.Browser {
	t.Helper()
	b := oauthtest.NewBrowser(t, h.srv.URL)
	if p := b.SignIn("carol", carolPassword, b.Get(h.srv.URL+"/login")); p.Status != http.StatusOK {
		t.Fatalf("signing in as carol: %d %.300s", p.Status, p.Body)
	}
	return b
}

// browse loads path in b as a browser does, Accept naming text/html.
func browse(t *testing.T, b *oauthtest.Browser, path string) oauthtest.Page {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, b.Base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	res, err := b.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return oauthtest.Page{Status: res.StatusCode, Body: string(body), Header: res.Header}
}

// TestErrorPagesShareTheTable: a page answers a failure with the status
// the API answers the same failure with, the one table's (errors.go), for
// every code: a busy database is 503 on a page as on the API, a conflict
// 409. The page says the error's message where the API does (503, 409),
// never its cause; a server error's cause is in the log only.
func TestErrorPagesShareTheTable(t *testing.T) {
	h := newErrorHarness(t, httpapi.Options{})
	b := h.signedIn(t)
	for _, tc := range []struct {
		code     string
		status   int
		says     string // on the page
		sentence bool   // the error's own message is on the page
	}{
		{latchkey.EUNAVAILABLE, http.StatusServiceUnavailable, "<h1>Busy</h1>", true},
		{latchkey.ECONFLICT, http.StatusConflict, "<h1>Changed meanwhile</h1>", true},
		{latchkey.EINTERNAL, http.StatusInternalServerError, "<h1>Something went wrong</h1>", false},
		{latchkey.EINVALID, http.StatusUnprocessableEntity, "<h1>Not accepted</h1>", true},
		{latchkey.EMALFORMED, http.StatusBadRequest, "<h1>Bad request</h1>", true},
		{latchkey.ETOOLARGE, http.StatusRequestEntityTooLarge, "<h1>Too large</h1>", false},
		{latchkey.EUNAUTHENTICATED, http.StatusUnauthorized, "<h1>Sign in</h1>", false},
		{latchkey.EFORBIDDEN, http.StatusForbidden, "<h1>Not allowed</h1>", false},
		{latchkey.ENOTFOUND, http.StatusNotFound, "<h1>Not found</h1>", false},
		{latchkey.ERATELIMIT, http.StatusTooManyRequests, "<h1>Too many at once</h1>", false},
	} {
		t.Run(tc.code, func(t *testing.T) {
			cause := "the cause of " + tc.code
			msg := "The store says " + tc.code + "."
			h.store.failWith("Tokens", &latchkey.Error{Code: tc.code, Message: msg, Err: errors.New(cause)})
			defer h.store.failWith("", nil)

			p := browse(t, b, "/tokens")
			if p.Status != tc.status || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") || !strings.Contains(p.Body, tc.says) {
				t.Errorf("GET /tokens failing with %s = %d %s, want %d, the error page saying %s:\n%.600s",
					tc.code, p.Status, p.Header.Get("Content-Type"), tc.status, tc.says, p.Body)
			}
			if got := strings.Contains(p.Body, msg); got != tc.sentence {
				t.Errorf("GET /tokens failing with %s shows the error's message: %v, want %v", tc.code, got, tc.sentence)
			}
			if strings.Contains(p.Body, cause) {
				t.Errorf("GET /tokens failing with %s shows the cause", tc.code)
			}
			api := h.do(http.MethodGet, fmt.Sprintf("/api/1.0/users/%d/tokens", h.carol.ID), bearer(h.jwt), nil)
			if api.status != tc.status {
				t.Errorf("the API's list failing with %s = %d, want %d as the page", tc.code, api.status, tc.status)
			}
			if logged := strings.Contains(h.log.String(), cause); logged != (tc.status >= 500) {
				t.Errorf("the cause of %s logged: %v, want %v", tc.code, logged, tc.status >= 500)
			}
		})
	}
	t.Run("not a latchkey error", func(t *testing.T) {
		h.store.failWith("Tokens", errors.New("a driver's secret detail"))
		defer h.store.failWith("", nil)
		p := browse(t, b, "/tokens")
		if p.Status != http.StatusInternalServerError || !strings.Contains(p.Body, "<h1>Something went wrong</h1>") || strings.Contains(p.Body, "secret detail") {
			t.Errorf("GET /tokens failing with a plain error = %d:\n%.600s\nwant 500, the error page without the cause", p.Status, p.Body)
		}
		if !strings.Contains(h.log.String(), "a driver's secret detail") {
			t.Error("the plain error is not logged")
		}
	})
}

// TestErrorPagePanic: a panic while a page is served is a 500 error page
// for a browser (the contract's JSON 500 for the API), the panic and its
// stack in the log only.
func TestErrorPagePanic(t *testing.T) {
	h := newErrorHarness(t, httpapi.Options{})
	b := h.signedIn(t)
	h.store.failWith("Tokens", nil)
	p := browse(t, b, "/tokens")
	if p.Status != http.StatusInternalServerError || !strings.Contains(p.Body, "<h1>Something went wrong</h1>") || strings.Contains(p.Body, "the store panics") {
		t.Errorf("GET /tokens while the store panics = %d:\n%.600s\nwant 500, the error page without the panic", p.Status, p.Body)
	}
	api := h.do(http.MethodGet, fmt.Sprintf("/api/1.0/users/%d/tokens", h.carol.ID), bearer(h.jwt), nil)
	if api.status != http.StatusInternalServerError || string(api.body) != `{"message":"Server Error"}`+"\n" {
		t.Errorf("the API's list while the store panics = %d %s, want the contract's 500", api.status, api.body)
	}
	if log := h.log.String(); !strings.Contains(log, "the store panics in Tokens") || !strings.Contains(log, "goroutine") {
		t.Errorf("the log lacks the panic and its stack:\n%s", log)
	}
}

// TestSignInErrorPage: a sign-in that fails on the server's side is
// answered as every page's failure is: a busy database 503, with
// Retry-After, and its message; anything else a 500 without its cause.
func TestSignInErrorPage(t *testing.T) {
	h := newErrorHarness(t, httpapi.Options{})
	for _, tc := range []struct {
		name   string
		err    error
		status int
		says   string
	}{
		{"busy", &latchkey.Error{Code: latchkey.EUNAVAILABLE, Message: "The database is busy. Try again later.", Err: errors.New("the lock")},
			http.StatusServiceUnavailable, "The database is busy. Try again later."},
		{"conflict", &latchkey.Error{Code: latchkey.ECONFLICT, Message: "It changed.", Err: errors.New("the lock")},
			http.StatusConflict, "It changed."},
		{"broken", errors.New("the lock"), http.StatusInternalServerError, "Something went wrong"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.store.failWith("UserByLogin", tc.err)
			defer h.store.failWith("", nil)
			b := oauthtest.NewBrowser(t, h.srv.URL)
			p := b.SignIn("carol", carolPassword, b.Get(h.srv.URL+"/login"))
			if p.Status != tc.status || !strings.Contains(p.Body, tc.says) || strings.Contains(p.Body, "the lock") {
				t.Errorf("signing in while the store fails = %d:\n%.600s\nwant %d saying %q", p.Status, p.Body, tc.status, tc.says)
			}
			if retry := p.Header.Get("Retry-After"); (retry != "") != (tc.status == http.StatusServiceUnavailable) {
				t.Errorf("Retry-After = %q on a %d", retry, p.Status)
			}
		})
	}
}

// TestCreateLimitPage: a page may say an error in its own words; the
// status is still the table's. Creating tokens too fast on the page is
// 429, with Retry-After, explained as such.
func TestCreateLimitPage(t *testing.T) {
	h := newErrorHarness(t, httpapi.Options{Limits: httpapi.Limits{CreatePerUser: httpapi.Rate{PerSecond: 0.001, Burst: 1}}})
	b := h.signedIn(t)
	if p := b.Post(h.srv.URL+"/tokens", url.Values{"name": {"first"}}); p.Status != http.StatusCreated {
		t.Fatalf("the first token: %d %.300s", p.Status, p.Body)
	}
	p := b.Post(h.srv.URL+"/tokens", url.Values{"name": {"second"}})
	if p.Status != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" || !strings.Contains(p.Body, "<h1>Too many tokens at once</h1>") {
		t.Errorf("the second token at once = %d Retry-After %q:\n%.600s\nwant 429 with Retry-After, saying too many tokens", p.Status, p.Header.Get("Retry-After"), p.Body)
	}
}
