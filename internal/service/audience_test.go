package service

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

const (
	testResource = "https://mcp.example.com/mcp"
	testIssuer   = "https://tokens.example.com"
)

// resourceToken issues, as the authorization server does, an access token
// of u for client c for the resource testResource (RFC 8707), and returns
// its JWT.
func (s *Service) resourceToken(t *testing.T, u *latchkey.User, c *latchkey.Client, request string) string {
	t.Helper()
	signed, id, kid, exp, err := s.SignAccessToken(u.ID, c.ID, "", latchkey.Scopes{"mcp:tools"}, time.Hour, testResource, testIssuer)
	if err != nil {
		t.Fatal(err)
	}
	tok := &latchkey.Token{ID: id, UserID: u.ID, ClientID: c.ID, Name: c.Name, Scopes: latchkey.Scopes{"mcp:tools"},
		ExpiresAt: &exp, KeyID: kid, Audience: testResource}
	g := &latchkey.Grant{Kind: latchkey.GrantAccess, Signature: id, RequestID: request, ClientID: c.ID, UserID: u.ID,
		Active: true, Request: []byte("{}"), ExpiresAt: exp}
	if err := s.StoreAccessToken(t.Context(), tok, g, latchkey.Origin{}); err != nil {
		t.Fatal(err)
	}
	return signed
}

// TestResourceTokenClaims: a token for a resource server carries the
// claims RFC 9068 asks for, with the resource as its single audience.
func TestResourceTokenClaims(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	u := svc.mustUser(t, "alice")
	c, _, err := svc.RegisterClient(t.Context(), NewClient{Name: "Agent", RedirectURIs: []string{"https://agent.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	raw := svc.resourceToken(t, u, c, "request-1")
	parts := strings.Split(raw, ".")
	head, _ := base64.RawURLEncoding.DecodeString(parts[0])
	body, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var h, claims map[string]any
	if err := json.Unmarshal(head, &h); err != nil || h["typ"] != "at+jwt" || h["alg"] == nil || h["kid"] == nil {
		t.Errorf("header %s (%v): want typ at+jwt, alg and kid", head, err)
	}
	if err := json.Unmarshal(body, &claims); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"iss": testIssuer, "aud": testResource, "sub": idString(u.ID), "client_id": idString(c.ID), "scope": "mcp:tools"} {
		if claims[k] != want {
			t.Errorf("claim %s = %v, want %v", k, claims[k], want)
		}
	}
	for _, k := range []string{"jti", "iat", "nbf", "exp", "scopes"} {
		if claims[k] == nil {
			t.Errorf("claim %s missing: %s", k, body)
		}
	}
	if len(claims) != 10 {
		t.Errorf("claims %s: want exactly iss, aud, sub, client_id, jti, iat, nbf, exp, scope and scopes", body)
	}
}

// TestAudienceGuards: Latchkey's API refuses a token issued for another
// resource server, from the cache or not, and for a rotation, while
// introspection (Inspect) reports it; and a token's aud must be the
// audience its row says. Each case fails when its guard is removed.
func TestAudienceGuards(t *testing.T) {
	ctx := t.Context()
	newService := func(t *testing.T, alter func(*latchkey.Credential)) (*Service, *outcomes, *latchkey.User, *latchkey.Client) {
		base, st := newTestService(t, Config{})
		obs := &outcomes{}
		cfg := base.cfg
		cfg.Observer = obs
		svc, err := New(ctx, &alteredStore{Store: st, alter: alter}, base.sealer, cfg)
		if err != nil {
			t.Fatal(err)
		}
		u := svc.mustUser(t, "alice")
		c, _, err := svc.RegisterClient(ctx, NewClient{Name: "Agent", RedirectURIs: []string{"https://agent.example/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		return svc, obs, u, c
	}
	refused := func(t *testing.T, what string, err error, obs *outcomes, want string) {
		t.Helper()
		if latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED || obs.last() != want {
			t.Errorf("%s = %v, outcome %q; want EUNAUTHENTICATED, %q", what, err, obs.last(), want)
		}
	}

	t.Run("API refuses, introspection reports", func(t *testing.T) {
		svc, obs, u, c := newService(t, nil)
		raw := svc.resourceToken(t, u, c, "request-1")
		// Not cached yet: the API's refusal.
		_, err := svc.Authenticate(ctx, raw, latchkey.Origin{})
		refused(t, "Authenticate (first)", err, obs, OutcomeAudience)
		// The refusal is not remembered: the resource server asking
		// hears the token is good (from the cache the check filled).
		p, err := svc.Inspect(ctx, raw)
		if err != nil || p.Token.Audience != testResource {
			t.Fatalf("Inspect = %+v, %v; want the token for %s", p, err, testResource)
		}
		// Cached now: still refused.
		_, err = svc.Authenticate(ctx, raw, latchkey.Origin{})
		refused(t, "Authenticate (cached)", err, obs, OutcomeAudience)
		_, err = svc.AuthenticateRotation(ctx, raw, latchkey.Origin{})
		refused(t, "AuthenticateRotation", err, obs, OutcomeAudience)
	})

	t.Run("introspected first", func(t *testing.T) {
		svc, obs, u, c := newService(t, nil)
		raw := svc.resourceToken(t, u, c, "request-1")
		if _, err := svc.Inspect(ctx, raw); err != nil {
			t.Fatalf("Inspect = %v", err)
		}
		_, err := svc.Authenticate(ctx, raw, latchkey.Origin{})
		refused(t, "Authenticate after Inspect", err, obs, OutcomeAudience)
	})

	t.Run("a resource's row, the JWT for the API", func(t *testing.T) {
		svc, obs, u, _ := newService(t, func(c *latchkey.Credential) { c.Token.Audience = testResource })
		_, raw := svc.mustToken(t, u)
		_, err := svc.Inspect(ctx, raw)
		refused(t, "Inspect", err, obs, OutcomeMismatch)
	})

	t.Run("the API's row, the JWT for a resource", func(t *testing.T) {
		svc, obs, u, c := newService(t, func(c *latchkey.Credential) { c.Token.Audience = "" })
		raw := svc.resourceToken(t, u, c, "request-1")
		_, err := svc.Inspect(ctx, raw)
		refused(t, "Inspect", err, obs, OutcomeMismatch)
	})

	t.Run("another resource's row", func(t *testing.T) {
		svc, obs, u, c := newService(t, func(c *latchkey.Credential) { c.Token.Audience = "https://other.example.com/mcp" })
		raw := svc.resourceToken(t, u, c, "request-1")
		_, err := svc.Inspect(ctx, raw)
		refused(t, "Inspect", err, obs, OutcomeMismatch)
	})
}
