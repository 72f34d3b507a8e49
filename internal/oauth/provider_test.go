package oauth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/service"
)

// faultyService is the service as the provider sees it, with a fault or a
// hook where a test sets one.
type faultyService struct {
	*service.Service
	findUserErr       error  // FindUser fails with it
	storeAccessErr    error  // StoreAccessToken fails with it
	beforeStoreAccess func() // runs as an access token is about to be stored
}

func (s *faultyService) FindUser(ctx context.Context, ref string) (*latchkey.User, error) {
	if s.findUserErr != nil {
		return nil, s.findUserErr
	}
	return s.Service.FindUser(ctx, ref)
}

func (s *faultyService) StoreAccessToken(ctx context.Context, t *latchkey.Token, g *latchkey.Grant, origin latchkey.Origin) error {
	if s.beforeStoreAccess != nil {
		s.beforeStoreAccess()
	}
	if s.storeAccessErr != nil {
		return s.storeAccessErr
	}
	return s.Service.StoreAccessToken(ctx, t, g, origin)
}

// hookStore is the store as the provider sees it, with a hook or a stand-in
// where a test sets one.
type hookStore struct {
	Store
	beforeCreateGrant func(kind latchkey.GrantKind)            // runs as a grant is about to be stored
	client            func(id int64) (*latchkey.Client, error) // answers Client in the store's place
	tokenErr          error                                    // Token fails with it
}

func (s *hookStore) Token(ctx context.Context, id string) (*latchkey.Token, error) {
	if s.tokenErr != nil {
		return nil, s.tokenErr
	}
	return s.Store.Token(ctx, id)
}

func (s *hookStore) CreateGrant(ctx context.Context, g *latchkey.Grant) error {
	if s.beforeCreateGrant != nil {
		s.beforeCreateGrant(g.Kind)
	}
	return s.Store.CreateGrant(ctx, g)
}

func (s *hookStore) Client(ctx context.Context, id int64) (*latchkey.Client, error) {
	if s.client != nil {
		return s.client(id)
	}
	return s.Store.Client(ctx, id)
}

// withFaults returns the wrapSvc of newProviderWith that puts fs between
// the provider and the service.
func withFaults(fs *faultyService) func(*service.Service) Service {
	return func(s *service.Service) Service {
		fs.Service = s
		return fs
	}
}

// withHooks returns the wrapStore of newProviderWith that puts hs between
// the provider and the store.
func withHooks(hs *hookStore) func(Store) Store {
	return func(st Store) Store {
		hs.Store = st
		return hs
	}
}

// TestNewSecretLength: the secret that signs codes and refresh tokens is
// 32 bytes at least.
func TestNewSecretLength(t *testing.T) {
	_, svc, _ := newProvider(t)
	for _, tc := range []struct {
		n  int
		ok bool
	}{
		{0, false},
		{31, false},
		{32, true},
		{64, true},
	} {
		_, err := New(svc, nil, Config{Secret: bytes.Repeat([]byte{'s'}, tc.n)})
		if ok := err == nil; ok != tc.ok {
			t.Errorf("New with a secret of %d bytes: %v, want it accepted %t", tc.n, err, tc.ok)
		}
	}
}

// TestTokenServerErrorLogged: a refusal at the token endpoint that is the
// server's failure (5xx) is logged; one of the client's making (4xx) is
// not. Without a logger, the failure is still answered.
func TestTokenServerErrorLogged(t *testing.T) {
	t.Run("logger", func(t *testing.T) {
		var log bytes.Buffer
		fs := &faultyService{}
		p, svc, _ := newProviderWith(t, Config{Logger: slog.New(slog.NewTextHandler(&log, nil))}, withFaults(fs), nil)
		a := newApp(t, p, svc, false)
		if status, body := a.exchange("not-a-code", testVerifier); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("exchange of no code: %d %v, want 400 invalid_grant", status, body)
		}
		if log.Len() != 0 {
			t.Errorf("a 400 was logged: %s", &log)
		}
		code := a.code()
		fs.findUserErr = errors.New("the users table is on fire")
		if status, body := a.exchange(code, testVerifier); status != http.StatusInternalServerError || body["error"] != "server_error" {
			t.Fatalf("exchange while users cannot be read: %d %v, want 500 server_error", status, body)
		}
		if got := log.String(); !strings.Contains(got, "token endpoint") || !strings.Contains(got, "the users table is on fire") {
			t.Errorf("the 500 logged %q, want the endpoint and the cause", got)
		}
	})
	t.Run("no logger", func(t *testing.T) {
		fs := &faultyService{}
		p, svc, _ := newProviderWith(t, Config{}, withFaults(fs), nil)
		a := newApp(t, p, svc, false)
		code := a.code()
		fs.findUserErr = errors.New("the users table is on fire")
		if status, body := a.exchange(code, testVerifier); status != http.StatusInternalServerError || body["error"] != "server_error" {
			t.Errorf("exchange while users cannot be read: %d %v, want 500 server_error", status, body)
		}
	})
}

// TestInactiveUserGrants: once a user is disabled or deleted, neither a
// code nor a refresh token issued to them gives a token, and introspection
// says the refresh token is inactive.
func TestInactiveUserGrants(t *testing.T) {
	inactive := latchkey.StatusInactive
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, svc *service.Service, id int64)
	}{
		{"disabled", func(t *testing.T, svc *service.Service, id int64) {
			if _, err := svc.UpdateUser(t.Context(), id, service.UserChange{UserUpdate: latchkey.UserUpdate{Status: &inactive}}); err != nil {
				t.Fatal(err)
			}
		}},
		{"deleted", func(t *testing.T, svc *service.Service, id int64) {
			if err := svc.DeleteUser(t.Context(), id); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name+": code", func(t *testing.T) {
			p, svc, _ := newProvider(t)
			a := newApp(t, p, svc, false)
			code := a.code()
			tc.change(t, svc, a.userID)
			if status, body := a.exchange(code, testVerifier); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
				t.Errorf("exchange: %d %v, want 400 invalid_grant", status, body)
			}
		})
		t.Run(tc.name+": refresh token", func(t *testing.T) {
			p, svc, _ := newProvider(t)
			a := newApp(t, p, svc, false)
			_, refresh := a.tokens(a.code())
			tc.change(t, svc, a.userID)
			if a.active(refresh) {
				t.Error("introspect: the refresh token is active")
			}
			if status, body := a.refresh(refresh); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
				t.Errorf("refresh: %d %v, want 400 invalid_grant", status, body)
			}
		})
	}
}

// TestParseAuthorizeRedirectURI: an application is held to exactly the
// redirect URI it registered, a loopback one included (fosite would let
// its port differ); an absent redirect_uri means the one registered.
func TestParseAuthorizeRedirectURI(t *testing.T) {
	p, svc, _ := newProvider(t)
	const registered = "http://127.0.0.1:8080/callback"
	c, _, err := svc.RegisterClient(t.Context(), service.NewClient{Name: "Native", RedirectURIs: []string{registered}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, redirect string
		ok             bool
	}{
		{"registered", registered, true},
		{"absent", "", true},
		{"another port", "http://127.0.0.1:9999/callback", false},
		{"another path", "http://127.0.0.1:8080/elsewhere", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"response_type": {"code"}, "client_id": {strconv.FormatInt(c.ID, 10)},
				"scope": {latchkey.ScopeTokensRead}, "state": {"a state of some length"}}
			if tc.redirect != "" {
				q.Set("redirect_uri", tc.redirect)
			}
			r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/oauth/authorize?"+q.Encode(), nil)
			ar, err := p.ParseAuthorize(t.Context(), r)
			if !tc.ok {
				if !errors.Is(err, fosite.ErrInvalidRequest) || Redirectable(ar) {
					t.Errorf("ParseAuthorize = %v (redirectable %t), want invalid_request, not redirectable", err, Redirectable(ar))
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAuthorize = %v, want it accepted", err)
			}
			if got := Client(ar); got == nil || got.ID != c.ID {
				t.Errorf("Client(ar) = %v, want client %d", got, c.ID)
			}
			if !Redirectable(ar) {
				t.Error("Redirectable(ar) = false, want true")
			}
		})
	}
	if Client(nil) != nil || Redirectable(nil) {
		t.Error("Client(nil) or Redirectable(nil): want nil and false")
	}
}

// TestTokenGrantType: a grant type this server does not offer is refused
// with the ones it does; a missing one is fosite's to refuse.
func TestTokenGrantType(t *testing.T) {
	p, svc, _ := newProvider(t)
	a := newApp(t, p, svc, false)
	for _, tc := range []struct {
		name, grantType string
		wantError       string
		wantOffer       bool // the answer names the grant types offered
	}{
		{"password", "password", "unsupported_grant_type", true},
		{"client_credentials", "client_credentials", "unsupported_grant_type", true},
		{"missing", "", "invalid_request", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := url.Values{"code": {"a code"}}
			if tc.grantType != "" {
				f.Set("grant_type", tc.grantType)
			}
			status, body := a.post(p.Token, f)
			desc, _ := body["error_description"].(string)
			if status != http.StatusBadRequest || body["error"] != tc.wantError || strings.Contains(desc, "authorization_code and refresh_token") != tc.wantOffer {
				t.Errorf("%d %v, want 400 %s, naming the grant types offered %t", status, body, tc.wantError, tc.wantOffer)
			}
		})
	}
}

// TestRevocationReasons: the audit log says why a whole authorization
// ended: a code or refresh token used twice, or the application's request.
func TestRevocationReasons(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(a *app) // ends the authorization
		want string
	}{
		{"code used twice", func(a *app) {
			code := a.code()
			a.tokens(code)
			if status, body := a.exchange(code, testVerifier); status != http.StatusBadRequest {
				a.t.Fatalf("the code again: %d %v", status, body)
			}
		}, "authorization code used twice"},
		{"refresh token used twice", func(a *app) {
			_, refresh := a.tokens(a.code())
			if status, body := a.refresh(refresh); status != http.StatusOK {
				a.t.Fatalf("refresh: %d %v", status, body)
			}
			if status, body := a.refresh(refresh); status != http.StatusBadRequest {
				a.t.Fatalf("the refresh token again: %d %v", status, body)
			}
		}, "refresh token used twice"},
		{"revocation request", func(a *app) {
			access, _ := a.tokens(a.code())
			if status, body := a.post(a.p.Revoke, url.Values{"token": {access}}); status != http.StatusOK {
				a.t.Fatalf("revoke: %d %v", status, body)
			}
		}, "revoked by the application (token revocation request)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, svc, _ := newProvider(t)
			a := newApp(t, p, svc, false)
			tc.end(a)
			recs, err := svc.Audit(t.Context(), latchkey.AuditFilter{Action: latchkey.AuditTokenRevoked})
			if err != nil {
				t.Fatal(err)
			}
			var why []string
			for _, r := range recs {
				why = append(why, r.Detail)
			}
			if !slices.Contains(why, tc.want) {
				t.Errorf("revocations recorded %q, want one %q", why, tc.want)
			}
		})
	}
}

// TestNoClientAuthentication: a request to the token, revocation or
// introspection endpoint that names no client at all is invalid_client
// (RFC 6749 section 5.2), 401 with a Basic challenge.
func TestNoClientAuthentication(t *testing.T) {
	p, _, _ := newProvider(t)
	for _, tc := range []struct {
		name     string
		endpoint http.HandlerFunc
		form     url.Values
	}{
		{"token", p.Token, url.Values{"grant_type": {"authorization_code"}, "code": {"a code"}}},
		{"revoke", p.Revoke, url.Values{"token": {"a token"}}},
		{"introspect", p.Introspect, url.Values{"token": {"a token"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/oauth/"+tc.name, strings.NewReader(tc.form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			w := httptest.NewRecorder()
			tc.endpoint(w, r)
			if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), `"error":"invalid_client"`) ||
				w.Header().Get("WWW-Authenticate") != `Basic realm="latchkey"` {
				t.Errorf("%d %s (WWW-Authenticate %q), want 401 invalid_client with a Basic challenge",
					w.Code, w.Body, w.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

// TestGetClientRefuses: an id that is not a positive integer, a revoked
// application and the personal access client take no part in the flow,
// whatever the store holds.
func TestGetClientRefuses(t *testing.T) {
	hs := &hookStore{client: func(id int64) (*latchkey.Client, error) {
		// A store that answers every id.
		return &latchkey.Client{ID: id, Name: "App", Redirect: testRedirect, SecretHash: "hash",
			Revoked: id == 6, PersonalAccessClient: id == 7}, nil
	}}
	p, _, _ := newProviderWith(t, Config{}, nil, withHooks(hs))
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"5", true},
		{"0", false},
		{"-5", false},
		{"", false},
		{"five", false},
		{"6", false}, // revoked
		{"7", false}, // the personal access client
	} {
		c, err := p.store.GetClient(t.Context(), tc.id)
		switch {
		case tc.ok && (err != nil || c.GetID() != tc.id):
			t.Errorf("GetClient(%q) = %v, %v; want that client", tc.id, c, err)
		case !tc.ok && !errors.Is(err, fosite.ErrNotFound):
			t.Errorf("GetClient(%q) = %v, %v; want fosite.ErrNotFound", tc.id, c, err)
		}
	}
}

// TestRevokedWhileIssuing: when the authorization is revoked (here, the
// consent withdrawn) after a code exchange began, between the token
// endpoint's writes, the exchange is refused and every token it stored is
// revoked.
func TestRevokedWhileIssuing(t *testing.T) {
	for _, tc := range []struct {
		name string
		hook func(fs *faultyService, hs *hookStore, revoke func())
	}{
		{"before the access token is stored", func(fs *faultyService, _ *hookStore, revoke func()) {
			fs.beforeStoreAccess = revoke
		}},
		{"before the refresh token is stored", func(_ *faultyService, hs *hookStore, revoke func()) {
			hs.beforeCreateGrant = func(kind latchkey.GrantKind) {
				if kind == latchkey.GrantRefresh {
					revoke()
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, hs := &faultyService{}, &hookStore{}
			p, svc, _ := newProviderWith(t, Config{}, withFaults(fs), withHooks(hs))
			a := newApp(t, p, svc, false)
			code := a.code()
			done := false
			tc.hook(fs, hs, func() {
				if done {
					return
				}
				done = true
				if err := svc.RevokeConsent(t.Context(), &latchkey.Principal{User: &latchkey.User{ID: a.userID}}, a.client.ID); err != nil {
					t.Error(err)
				}
			})
			if status, body := a.exchange(code, testVerifier); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
				t.Errorf("exchange: %d %v, want 400 invalid_grant", status, body)
			}
			if !done {
				t.Fatal("the authorization was never revoked")
			}
			created, err := svc.Audit(t.Context(), latchkey.AuditFilter{Action: latchkey.AuditTokenCreated})
			if err != nil {
				t.Fatal(err)
			}
			revoked, err := svc.Audit(t.Context(), latchkey.AuditFilter{Action: latchkey.AuditTokenRevoked})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range created {
				if !slices.ContainsFunc(revoked, func(r *latchkey.AuditRecord) bool { return r.SubjectID == c.SubjectID }) {
					t.Errorf("token %s was stored and not revoked", c.SubjectID)
				}
			}
		})
	}
}

// TestStoreAccessTokenFails: when the access token cannot be stored, the
// exchange fails (500), and no token is handed out.
func TestStoreAccessTokenFails(t *testing.T) {
	fs := &faultyService{}
	p, svc, _ := newProviderWith(t, Config{}, withFaults(fs), nil)
	a := newApp(t, p, svc, false)
	code := a.code()
	fs.storeAccessErr = errors.New("disk full")
	status, body := a.exchange(code, testVerifier)
	if status != http.StatusInternalServerError || body["access_token"] != nil || body["refresh_token"] != nil {
		t.Errorf("exchange: %d %v, want 500 and no token", status, body)
	}
}

// TestRefreshRetiresOlderTokens: after a refresh only the new pair works:
// the access token and the refresh token it replaced are inactive.
func TestRefreshRetiresOlderTokens(t *testing.T) {
	p, svc, _ := newProvider(t)
	a := newApp(t, p, svc, false)
	access1, refresh1 := a.tokens(a.code())
	status, body := a.refresh(refresh1)
	access2, _ := body["access_token"].(string)
	refresh2, _ := body["refresh_token"].(string)
	if status != http.StatusOK || access2 == "" || refresh2 == "" {
		t.Fatalf("refresh: %d %v", status, body)
	}
	for _, tc := range []struct {
		name, token string
		want        bool
	}{
		{"the first access token", access1, false},
		{"the first refresh token", refresh1, false},
		{"the new access token", access2, true},
		{"the new refresh token", refresh2, true},
	} {
		if got := a.active(tc.token); got != tc.want {
			t.Errorf("%s: active %t, want %t", tc.name, got, tc.want)
		}
	}
}

// TestIntrospectPersonalToken: introspection answers for a personal token
// too, active until it is revoked.
func TestIntrospectPersonalToken(t *testing.T) {
	p, svc, _ := newProvider(t)
	a := newApp(t, p, svc, false)
	owner, err := svc.FindUser(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	name := "cli"
	tok, signed, err := svc.OperatorCreateToken(t.Context(), owner, service.TokenRequest{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	status, body := a.post(p.Introspect, url.Values{"token": {signed}})
	if status != http.StatusOK || body["active"] != true || body["sub"] != strconv.FormatInt(owner.ID, 10) ||
		body["exp"] != float64(tok.ExpiresAt.Unix()) {
		t.Errorf("a live personal token: %d %v, want active, sub %d, exp %d", status, body, owner.ID, tok.ExpiresAt.Unix())
	}
	if _, err := svc.OperatorRevokeToken(t.Context(), tok.ID); err != nil {
		t.Fatal(err)
	}
	if a.active(signed) {
		t.Error("a revoked personal token: active")
	}
	if a.active("not a token") {
		t.Error("not a token: active")
	}
}

// TestRefreshWhileUsersUnreadable: when the user of a refresh token cannot
// be read, the refresh fails as the server's failure (500, logged), not as
// a bad request that would tell the client to drop its token; and the
// token still works once the users can be read again.
func TestRefreshWhileUsersUnreadable(t *testing.T) {
	var log bytes.Buffer
	fs := &faultyService{}
	p, svc, _ := newProviderWith(t, Config{Logger: slog.New(slog.NewTextHandler(&log, nil))}, withFaults(fs), nil)
	a := newApp(t, p, svc, false)
	_, refresh := a.tokens(a.code())
	fs.findUserErr = errors.New("the users table is on fire")
	if status, body := a.refresh(refresh); status != http.StatusInternalServerError || body["error"] != "server_error" {
		t.Errorf("refresh: %d %v, want 500 server_error", status, body)
	}
	if !strings.Contains(log.String(), "the users table is on fire") {
		t.Errorf("the 500 logged %q, want its cause", &log)
	}
	fs.findUserErr = nil
	if status, body := a.refresh(refresh); status != http.StatusOK {
		t.Errorf("refresh once the users can be read: %d %v, want 200", status, body)
	}
}

// TestIntrospectWhileTokensUnreadable: when the token's row cannot be read,
// introspection never says it is active.
func TestIntrospectWhileTokensUnreadable(t *testing.T) {
	hs := &hookStore{}
	p, svc, _ := newProviderWith(t, Config{}, nil, withHooks(hs))
	a := newApp(t, p, svc, false)
	owner, err := svc.FindUser(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	name := "cli"
	_, signed, err := svc.OperatorCreateToken(t.Context(), owner, service.TokenRequest{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	hs.tokenErr = errors.New("the tokens table is on fire")
	if status, body := a.post(p.Introspect, url.Values{"token": {signed}}); body["active"] == true {
		t.Errorf("introspect: %d %v, want it not active", status, body)
	}
}

// TestDeleteAccessTokenSession: deleting an access token's session revokes
// the token and deletes its grant; an unknown or revoked token is no error.
func TestDeleteAccessTokenSession(t *testing.T) {
	p, svc, _ := newProvider(t)
	a := newApp(t, p, svc, false)
	access, _ := a.tokens(a.code())
	id, err := svc.SignedTokenID(access)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := p.store.DeleteAccessTokenSession(t.Context(), id); err != nil {
			t.Fatalf("DeleteAccessTokenSession, call %d: %v", i+1, err)
		}
	}
	if a.active(access) {
		t.Error("the token is active")
	}
	if _, err := p.store.st.Grant(t.Context(), latchkey.GrantAccess, id); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		t.Errorf("its grant: %v, want ENOTFOUND", err)
	}
	if err := p.store.DeleteAccessTokenSession(t.Context(), strings.Repeat("0", latchkey.TokenIDLength)); err != nil {
		t.Errorf("DeleteAccessTokenSession of an unknown token: %v", err)
	}
}

// TestDefaultLifetimes: the defaults docs/api.md states.
func TestDefaultLifetimes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want time.Duration
	}{
		{"access token", DefaultAccessTokenLifetime, time.Hour},
		{"refresh token", DefaultRefreshTokenLifetime, 720 * time.Hour},
		{"code", DefaultCodeLifetime, 600 * time.Second},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, tc.got, tc.want)
		}
	}
}
