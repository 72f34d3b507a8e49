package oauth

import (
	"errors"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/internal/jwt"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/service"
	"github.com/latchkey/latchkey/internal/sqlitetest"
)

// start is the test clock's first reading: years before any wall clock
// that runs these tests, so that an expiry judged by the wall clock
// refuses every code and refresh token, and the tests fail.
var start = time.Date(2021, 3, 1, 17, 45, 10, 0, time.UTC)

// clock is a clock the test moves by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newProvider is an authorization server on a real SQLite database, with
// the service's clock moved by hand.
func newProvider(t *testing.T) (*Provider, *service.Service, *clock) {
	t.Helper()
	return newProviderWith(t, Config{}, nil, nil)
}

// newProviderWith is newProvider with cfg (its Secret set when nil), the
// provider seeing the service and the store through wrapSvc and wrapStore
// when they are not nil: a fault or a hook where a test needs one.
func newProviderWith(t *testing.T, cfg Config, wrapSvc func(*service.Service) Service, wrapStore func(Store) Store) (*Provider, *service.Service, *clock) {
	t.Helper()
	st := sqlitetest.Open(t)
	sealer, err := jwt.NewSealer([]byte("oauth test secret, long enough!!"))
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{now: start}
	svc, err := service.New(t.Context(), st, sealer, service.Config{
		Password: &password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		Now:      c.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Secret == nil {
		cfg.Secret = []byte("an HMAC secret of 32 bytes or more")
	}
	var psvc Service = svc
	if wrapSvc != nil {
		psvc = wrapSvc(svc)
	}
	var pst Store = st
	if wrapStore != nil {
		pst = wrapStore(st)
	}
	p, err := New(psvc, pst, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p, svc, c
}

// TestParseAuthorizePKCE: a public client must send an S256 challenge; a
// confidential one may, and no one may use another method.
func TestParseAuthorizePKCE(t *testing.T) {
	p, svc, _ := newProvider(t)
	const redirect = "https://app.example/callback"
	public, _, err := svc.RegisterClient(t.Context(), service.NewClient{Name: "Public", RedirectURIs: []string{redirect}, Public: true})
	if err != nil {
		t.Fatal(err)
	}
	confidential, _, err := svc.RegisterClient(t.Context(), service.NewClient{Name: "Confidential", RedirectURIs: []string{redirect}})
	if err != nil {
		t.Fatal(err)
	}
	const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	for _, tc := range []struct {
		name     string
		clientID int64
		pkce     url.Values
		wantErr  *fosite.RFC6749Error
	}{
		{"public without a challenge", public.ID, nil, fosite.ErrInvalidRequest},
		{"public with S256", public.ID, url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}}, nil},
		{"public with plain", public.ID, url.Values{"code_challenge": {challenge}, "code_challenge_method": {"plain"}}, fosite.ErrInvalidRequest},
		{"public with a method alone", public.ID, url.Values{"code_challenge_method": {"S256"}}, fosite.ErrInvalidRequest},
		{"confidential without a challenge", confidential.ID, nil, nil},
		{"confidential with S256", confidential.ID, url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}}, nil},
		{"confidential with a method alone", confidential.ID, url.Values{"code_challenge_method": {"S256"}}, fosite.ErrInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"response_type": {"code"}, "client_id": {strconv.FormatInt(tc.clientID, 10)}, "redirect_uri": {redirect},
				"scope": {"tokens.read"}, "state": {"a state of some length"}}
			for k, v := range tc.pkce {
				q[k] = v
			}
			r := httptest.NewRequestWithContext(t.Context(), "GET", "/oauth/authorize?"+q.Encode(), nil)
			_, err := p.ParseAuthorize(t.Context(), r)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Errorf("ParseAuthorize = %v, want it accepted", err)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Errorf("ParseAuthorize = %v, want %s", err, tc.wantErr.ErrorField)
			}
		})
	}
}

// TestApproveRequiresPKCEOfPublicClients: should a request of a public
// client without a challenge get past ParseAuthorize, fosite still makes no
// code for it.
func TestApproveRequiresPKCEOfPublicClients(t *testing.T) {
	p, svc, _ := newProvider(t)
	const redirect = "https://app.example/callback"
	public, _, err := svc.RegisterClient(t.Context(), service.NewClient{Name: "Public", RedirectURIs: []string{redirect}, Public: true})
	if err != nil {
		t.Fatal(err)
	}
	u, err := svc.CreateUser(t.Context(), service.NewUser{Username: "alice", Email: "alice@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"response_type": {"code"}, "client_id": {strconv.FormatInt(public.ID, 10)}, "redirect_uri": {redirect},
		"scope": {"tokens.read"}, "state": {"a state of some length"}}
	r := httptest.NewRequestWithContext(t.Context(), "GET", "/oauth/authorize?"+q.Encode(), nil)
	ar, err := p.f.NewAuthorizeRequest(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	p.Approve(t.Context(), w, ar, "https://latchkey.example", u.ID)
	loc, err := url.Parse(w.Header().Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Query(); got.Get("code") != "" || got.Get("error") != "invalid_request" {
		t.Errorf("Approve without a challenge redirected to %s, want error=invalid_request and no code", loc)
	}
}
