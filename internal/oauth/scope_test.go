package oauth

import (
	"errors"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ory/fosite"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/service"
)

// fewerScopes is the service as a server that no longer accepts
// tokens.write sees it.
type fewerScopes struct{ *service.Service }

func (fewerScopes) Scopes() []string { return []string{latchkey.ScopeTokensRead, latchkey.ScopeAll} }

// TestDefaultScopes: a request that names no scope gets its client's
// default scopes, else the server's; one that names scopes gets those.
func TestDefaultScopes(t *testing.T) {
	const redirect = "https://agent.example/callback"
	for _, tc := range []struct {
		name           string
		serverDefaults []string // Config.DefaultScopes
		fewer          bool     // the server no longer knows tokens.write
		clientDefaults []string
		scope          string // the request's; "" sends none
		want           []string
		wantErr        *fosite.RFC6749Error
	}{
		{"the client's", nil, false, []string{"tokens.write", "tokens.read"}, "", []string{"tokens.write", "tokens.read"}, nil},
		{"the server's by default", nil, false, nil, "", []string{"tokens.read"}, nil},
		{"the server's as configured", []string{"tokens.write", "*"}, false, nil, "", []string{"tokens.write", "*"}, nil},
		{"the client's before the server's", []string{"*"}, false, []string{"tokens.write"}, "", []string{"tokens.write"}, nil},
		{"asked for, not the defaults", nil, false, []string{"tokens.write"}, "*", []string{"*"}, nil},
		{"blank scope is none", nil, false, []string{"tokens.write"}, " ", []string{"tokens.write"}, nil},
		{"none anywhere", []string{}, false, nil, "", nil, fosite.ErrInvalidScope},
		{"the client's, no longer offered", nil, true, []string{"tokens.read", "tokens.write"}, "", nil, fosite.ErrInvalidScope},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var wrap func(*service.Service) Service
			if tc.fewer {
				wrap = func(s *service.Service) Service { return fewerScopes{s} }
			}
			p, svc, _ := newProviderWith(t, Config{DefaultScopes: tc.serverDefaults}, wrap, nil)
			c, _, err := svc.RegisterClient(t.Context(), service.NewClient{Name: "Agent", RedirectURIs: []string{redirect}, DefaultScopes: tc.clientDefaults})
			if err != nil {
				t.Fatal(err)
			}
			q := url.Values{"response_type": {"code"}, "client_id": {strconv.FormatInt(c.ID, 10)}, "redirect_uri": {redirect},
				"state": {"a state of some length"}}
			if tc.scope != "" {
				q.Set("scope", tc.scope)
			}
			r := httptest.NewRequestWithContext(t.Context(), "GET", "/oauth/authorize?"+q.Encode(), nil)
			ar, err := p.ParseAuthorize(t.Context(), r)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("ParseAuthorize(scope %q) = %v, want %s", tc.scope, err, tc.wantErr.ErrorField)
				}
				if !Redirectable(ar) {
					t.Errorf("ParseAuthorize(scope %q): the refusal cannot go back to the application", tc.scope)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAuthorize(scope %q) = %v", tc.scope, err)
			}
			if diff := cmp.Diff(tc.want, []string(ar.GetRequestedScopes())); diff != "" {
				t.Errorf("ParseAuthorize(scope %q): requested scopes (-want +got):\n%s", tc.scope, diff)
			}
		})
	}
}

// TestNewRefusesUnknownDefaultScopes: a server default must be a scope
// the server knows.
func TestNewRefusesUnknownDefaultScopes(t *testing.T) {
	_, svc, _ := newProvider(t)
	_, err := New(svc, nil, Config{Secret: []byte("an HMAC secret of 32 bytes or more"), DefaultScopes: []string{"tokens.read", "admin"}})
	if err == nil || !strings.Contains(err.Error(), `"admin"`) {
		t.Errorf("New(DefaultScopes [tokens.read admin]) = %v, want an error naming admin", err)
	}
}

// TestIssuerOnAuthorizationResponses: the code and every error go back
// with iss (RFC 9207), and the client's own query is kept.
func TestIssuerOnAuthorizationResponses(t *testing.T) {
	const iss = "https://latchkey.example"
	p, svc, _ := newProvider(t)
	const redirect = "https://app.example/callback?tenant=7"
	c, _, err := svc.RegisterClient(t.Context(), service.NewClient{Name: "App", RedirectURIs: []string{redirect}})
	if err != nil {
		t.Fatal(err)
	}
	u, err := svc.CreateUser(t.Context(), service.NewUser{Username: "alice", Email: "alice@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	parse := func(t *testing.T, scope string) fosite.AuthorizeRequester {
		t.Helper()
		q := url.Values{"response_type": {"code"}, "client_id": {strconv.FormatInt(c.ID, 10)}, "redirect_uri": {redirect},
			"scope": {scope}, "state": {"a state of some length"}}
		ar, err := p.ParseAuthorize(t.Context(), httptest.NewRequestWithContext(t.Context(), "GET", "/oauth/authorize?"+q.Encode(), nil))
		if scope != "admin" && err != nil {
			t.Fatal(err)
		}
		return ar
	}
	for _, tc := range []struct {
		name      string
		respond   func(t *testing.T, w *httptest.ResponseRecorder)
		wantError string
	}{
		{"approved", func(t *testing.T, w *httptest.ResponseRecorder) {
			p.Approve(t.Context(), w, parse(t, "tokens.read"), iss, u.ID)
		}, ""},
		{"denied", func(t *testing.T, w *httptest.ResponseRecorder) { p.Deny(t.Context(), w, parse(t, "tokens.read"), iss) }, "access_denied"},
		{"refused", func(t *testing.T, w *httptest.ResponseRecorder) {
			p.WriteAuthorizeError(t.Context(), w, parse(t, "admin"), iss, fosite.ErrInvalidScope)
		}, "invalid_scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			tc.respond(t, w)
			loc, err := url.Parse(w.Header().Get("Location"))
			if err != nil || w.Code != 303 {
				t.Fatalf("answer %d to %q, want 303 to the application", w.Code, w.Header().Get("Location"))
			}
			got := loc.Query()
			if got.Get("iss") != iss || got.Get("tenant") != "7" || got.Get("error") != tc.wantError || (tc.wantError == "") != (got.Get("code") != "") {
				t.Errorf("redirected to %s; want iss=%s, tenant=7 kept, and error %q or a code", loc, iss, tc.wantError)
			}
		})
	}
}
