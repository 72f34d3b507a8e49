package service

import (
	"bytes"
	"encoding/base64"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/jwt"
)

func TestRegisterClientRefuses(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	ok := []string{"https://app.example.com/callback"}
	long := "https://app.example.com/" + strings.Repeat("a", MaxRedirectURILength)
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = "https://app.example.com/cb" + strconv.Itoa(i)
	}
	for _, tc := range []struct {
		name  string
		n     NewClient
		field string
		want  string // the sentence about field
	}{
		{"no name", NewClient{RedirectURIs: ok}, "name", MsgNameRequired},
		{"blank name", NewClient{Name: " \t ", RedirectURIs: ok}, "name", MsgNameRequired},
		{"name too long", NewClient{Name: strings.Repeat("é", 256), RedirectURIs: ok}, "name", MsgNameTooLong},
		{"no redirect URI", NewClient{Name: "App"}, "redirect_uris", "At least one redirect URI is required."},
		{"only blank redirect URIs", NewClient{Name: "App", RedirectURIs: []string{" ", ""}}, "redirect_uris", "A redirect URI must not be empty."},
		{"eleven redirect URIs", NewClient{Name: "App", RedirectURIs: eleven}, "redirect_uris", "At most 10 redirect URIs may be registered."},
		{"host with a semicolon", NewClient{Name: "App", RedirectURIs: []string{"https://app.example;sandbox/cb"}}, "redirect_uris",
			`The redirect URI "https://app.example;sandbox/cb" does not name a host: letters, digits, dots and hyphens, or an IP address.`},
		{"host with a quote", NewClient{Name: "App", RedirectURIs: []string{"https://app'x.example/cb"}}, "redirect_uris",
			`The redirect URI "https://app'x.example/cb" does not name a host: letters, digits, dots and hyphens, or an IP address.`},
		{"port out of range", NewClient{Name: "App", RedirectURIs: []string{"http://127.0.0.1:70000/cb"}}, "redirect_uris",
			`The redirect URI "http://127.0.0.1:70000/cb" has a port that is not a number from 1 to 65535.`},
		{"relative", NewClient{Name: "App", RedirectURIs: []string{"/callback"}}, "redirect_uris",
			`The redirect URI "/callback" is not an absolute URL such as https://app.example.com/callback.`},
		{"no scheme", NewClient{Name: "App", RedirectURIs: []string{"app.example.com/cb"}}, "redirect_uris",
			`The redirect URI "app.example.com/cb" is not an absolute URL such as https://app.example.com/callback.`},
		{"no host", NewClient{Name: "App", RedirectURIs: []string{"https:///cb"}}, "redirect_uris",
			`The redirect URI "https:///cb" is not an absolute URL such as https://app.example.com/callback.`},
		{"opaque", NewClient{Name: "App", RedirectURIs: []string{"https:app.example.com"}}, "redirect_uris",
			`The redirect URI "https:app.example.com" is not an absolute URL such as https://app.example.com/callback.`},
		{"unparsable", NewClient{Name: "App", RedirectURIs: []string{"https://[::1/cb"}}, "redirect_uris",
			`The redirect URI "https://[::1/cb" is not an absolute URL such as https://app.example.com/callback.`},
		{"fragment", NewClient{Name: "App", RedirectURIs: []string{"https://app.example.com/cb#x"}}, "redirect_uris",
			`The redirect URI "https://app.example.com/cb#x" must not have a fragment (#).`},
		{"empty fragment", NewClient{Name: "App", RedirectURIs: []string{"https://app.example.com/cb#"}}, "redirect_uris",
			`The redirect URI "https://app.example.com/cb#" must not have a fragment (#).`},
		{"comma", NewClient{Name: "App", RedirectURIs: []string{"https://app.example.com/cb?a=1,2"}}, "redirect_uris",
			`The redirect URI "https://app.example.com/cb?a=1,2" must not contain a comma.`},
		{"user info", NewClient{Name: "App", RedirectURIs: []string{"https://eve@app.example.com/cb"}}, "redirect_uris",
			`The redirect URI "https://eve@app.example.com/cb" must not contain a user name or password.`},
		{"space", NewClient{Name: "App", RedirectURIs: []string{"https://app.example.com/a b"}}, "redirect_uris",
			`The redirect URI "https://app.example.com/a b" must not contain spaces or control characters.`},
		{"too long", NewClient{Name: "App", RedirectURIs: []string{long}}, "redirect_uris",
			`The redirect URI "https://app.example.com/` + strings.Repeat("a", 36) + `"… is longer than 2000 bytes.`},
		{"http elsewhere", NewClient{Name: "App", RedirectURIs: []string{"http://app.example.com/cb"}}, "redirect_uris",
			`The redirect URI "http://app.example.com/cb" must use https, or http on localhost, 127.0.0.1 or [::1].`},
		{"http on a host named like localhost", NewClient{Name: "App", RedirectURIs: []string{"http://localhost.example.com/cb"}}, "redirect_uris",
			`The redirect URI "http://localhost.example.com/cb" must use https, or http on localhost, 127.0.0.1 or [::1].`},
		{"http on another loopback address", NewClient{Name: "App", RedirectURIs: []string{"http://127.0.0.2/cb"}}, "redirect_uris",
			`The redirect URI "http://127.0.0.2/cb" must use https, or http on localhost, 127.0.0.1 or [::1].`},
		{"custom scheme", NewClient{Name: "App", RedirectURIs: []string{"com.example.app://cb"}}, "redirect_uris",
			`The redirect URI "com.example.app://cb" must use https, or http on localhost, 127.0.0.1 or [::1].`},
		{"unknown default scope", NewClient{Name: "App", RedirectURIs: ok, DefaultScopes: []string{"tokens.read", "admin"}}, "default_scopes",
			`The default scope "admin" is not one this server knows: tokens.read, tokens.write, *.`},
		{"another server's extra scope as default", NewClient{Name: "App", RedirectURIs: ok, DefaultScopes: []string{"billing.read"}}, "default_scopes",
			`The default scope "billing.read" is not one this server knows: tokens.read, tokens.write, *.`},
		{"a bad one among good ones", NewClient{Name: "App", RedirectURIs: []string{ok[0], "ftp://files.example.com/"}}, "redirect_uris",
			`The redirect URI "ftp://files.example.com/" must use https, or http on localhost, 127.0.0.1 or [::1].`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, secret, err := svc.RegisterClient(t.Context(), tc.n)
			if latchkey.ErrorCode(err) != latchkey.EINVALID {
				t.Fatalf("RegisterClient(%+v) = %+v, %q, %v; want EINVALID", tc.n, c, secret, err)
			}
			var e *latchkey.Error
			if !errors.As(err, &e) {
				t.Fatalf("RegisterClient: %T is not a *latchkey.Error", err)
			}
			if got := e.Fields.Get(tc.field); len(got) != 1 || got[0] != tc.want {
				t.Errorf("RegisterClient: %s = %q, want [%q]", tc.field, got, tc.want)
			}
			if !strings.HasPrefix(e.Message, tc.want) {
				t.Errorf("RegisterClient: message %q, want it to start %q", e.Message, tc.want)
			}
		})
	}
	cs, err := svc.Clients(t.Context())
	if err != nil || len(cs) != 1 {
		t.Errorf("Clients after only refusals = %d clients, %v; want only the personal access client", len(cs), err)
	}
}

func TestRegisterClientAccepts(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	for _, tc := range []struct {
		name string
		uris []string
		want []string // as stored
	}{
		{"https", []string{"https://app.example.com/cb?x=1"}, []string{"https://app.example.com/cb?x=1"}},
		{"https on any port", []string{"https://app.example.com:8443/cb"}, []string{"https://app.example.com:8443/cb"}},
		{"http on localhost", []string{"http://localhost/cb"}, []string{"http://localhost/cb"}},
		{"http on localhost with a port", []string{"http://localhost:8080/cb"}, []string{"http://localhost:8080/cb"}},
		{"http on 127.0.0.1", []string{"http://127.0.0.1:51234/"}, []string{"http://127.0.0.1:51234/"}},
		{"http on [::1]", []string{"http://[::1]:51234/cb"}, []string{"http://[::1]:51234/cb"}},
		{"trimmed, without duplicates", []string{" https://a.example.com/ ", "https://b.example.com/", "https://a.example.com/"},
			[]string{"https://a.example.com/", "https://b.example.com/"}},
		{"ten", tenURIs(), tenURIs()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := svc.RegisterClient(t.Context(), NewClient{Name: "  App  ", RedirectURIs: tc.uris})
			if err != nil {
				t.Fatalf("RegisterClient(%q) = %v", tc.uris, err)
			}
			stored, err := svc.Client(t.Context(), c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, RedirectURIs(stored)); diff != "" {
				t.Errorf("RedirectURIs(stored) (-want +got):\n%s", diff)
			}
			if stored.Name != "App" || stored.Revoked || stored.PersonalAccessClient || stored.PasswordClient {
				t.Errorf("stored client = %+v, want the name trimmed, not revoked, not personal, not password", stored)
			}
		})
	}
}

func TestRegisterClientDefaultScopes(t *testing.T) {
	svc, _ := newTestService(t, Config{ExtraScopes: []string{"billing.read"}})
	for _, tc := range []struct {
		name     string
		defaults []string
		want     latchkey.Scopes // as stored
	}{
		{"none", nil, nil},
		{"blank", []string{" ", ""}, nil},
		{"one", []string{"tokens.read"}, latchkey.Scopes{"tokens.read"}},
		{"trimmed, without duplicates, in order", []string{" tokens.write", "billing.read ", "tokens.write"}, latchkey.Scopes{"tokens.write", "billing.read"}},
		{"every ability", []string{"*"}, latchkey.Scopes{"*"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := svc.RegisterClient(t.Context(), NewClient{Name: "Agent", RedirectURIs: []string{"https://agent.example.com/cb"}, DefaultScopes: tc.defaults})
			if err != nil {
				t.Fatalf("RegisterClient(DefaultScopes %q) = %v", tc.defaults, err)
			}
			stored, err := svc.Client(t.Context(), c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, stored.DefaultScopes); diff != "" {
				t.Errorf("stored DefaultScopes (-want +got):\n%s", diff)
			}
		})
	}
}

func tenURIs() []string {
	uris := make([]string, 10)
	for i := range uris {
		uris[i] = "https://app.example.com/cb" + strconv.Itoa(i)
	}
	return uris
}

func TestRegisterClientSecret(t *testing.T) {
	var logs bytes.Buffer
	svc, st := newTestService(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := t.Context()
	c, secret, err := svc.RegisterClient(ctx, NewClient{Name: "Confidential", RedirectURIs: []string{"https://app.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := base64.RawURLEncoding.DecodeString(secret); err != nil || len(b) != 32 {
		t.Errorf("secret %q: %d bytes, %v; want 32 random bytes in base64url", secret, len(b), err)
	}
	stored, err := st.Client(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.SecretHash == "" || strings.Contains(stored.SecretHash, secret) {
		t.Fatalf("stored SecretHash = %q, want a hash of the secret, not the secret", stored.SecretHash)
	}
	if stored.SecretHash != HashClientSecret(secret) || len(stored.SecretHash) != 64 {
		t.Errorf("stored SecretHash = %q, want HashClientSecret(secret) = %q", stored.SecretHash, HashClientSecret(secret))
	}
	if !CheckClientSecret(stored.SecretHash, secret) {
		t.Error("CheckClientSecret(stored, secret) = false, want true")
	}
	for _, wrong := range []string{"", secret[:len(secret)-1], secret + "x", stored.SecretHash, strings.ToUpper(secret)} {
		if CheckClientSecret(stored.SecretHash, wrong) {
			t.Errorf("CheckClientSecret(stored, %q) = true, want false", wrong)
		}
	}
	// The secret is shown once: nothing that can be read later holds it.
	if strings.Contains(logs.String(), secret) || !strings.Contains(logs.String(), "client registered") {
		t.Errorf("logs hold the secret or lack the registration:\n%s", logs.String())
	}
	rs, err := svc.Audit(ctx, latchkey.AuditFilter{Action: latchkey.AuditClientAdded})
	if err != nil || len(rs) != 1 {
		t.Fatalf("audit records of registration = %d, %v; want 1", len(rs), err)
	}
	if r := rs[0]; r.SubjectID != strconv.FormatInt(c.ID, 10) || r.ActorUserID != nil || strings.Contains(r.Detail, secret) {
		t.Errorf("audit record = %+v, want subject %d, the operator, no secret", r, c.ID)
	}
	again, secret2, err := svc.RegisterClient(ctx, NewClient{Name: "Confidential", RedirectURIs: []string{"https://app.example.com/cb"}})
	if err != nil || secret2 == secret || again.ID == c.ID {
		t.Errorf("a second registration: id %d, secret %q, %v; want a new id and a new secret", again.ID, secret2, err)
	}
}

func TestRegisterPublicClient(t *testing.T) {
	svc, st := newTestService(t, Config{})
	c, secret, err := svc.RegisterClient(t.Context(), NewClient{Name: "Native", RedirectURIs: []string{"http://127.0.0.1/cb"}, Public: true})
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" {
		t.Errorf("public client's secret = %q, want none", secret)
	}
	stored, err := st.Client(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.SecretHash != "" {
		t.Errorf("public client's SecretHash = %q, want \"\"", stored.SecretHash)
	}
	for _, s := range []string{"", HashClientSecret("")} {
		if CheckClientSecret(stored.SecretHash, s) {
			t.Errorf("CheckClientSecret(\"\", %q) = true: a public client has no secret to match", s)
		}
	}
}

func TestRedirectURIs(t *testing.T) {
	for _, tc := range []struct {
		redirect string
		want     []string
	}{
		{"", nil},
		{"https://a/", []string{"https://a/"}},
		{"https://a/,http://localhost/cb", []string{"https://a/", "http://localhost/cb"}},
	} {
		if got := RedirectURIs(&latchkey.Client{Redirect: tc.redirect}); !cmp.Equal(got, tc.want) {
			t.Errorf("RedirectURIs(%q) = %q, want %q", tc.redirect, got, tc.want)
		}
	}
}

// appToken issues, as the authorization server would, an access token of
// client c for u, and returns its row and JWT.
func appToken(t *testing.T, svc *Service, c *latchkey.Client, u *latchkey.User) (*latchkey.Token, string) {
	t.Helper()
	id, err := svc.newTokenID()
	if err != nil {
		t.Fatal(err)
	}
	now := svc.now()
	exp := now.Add(time.Hour)
	signed, kid, err := svc.keys.Load().Sign(jwt.Claims{
		Audience: strconv.FormatInt(c.ID, 10), ID: id, Subject: strconv.FormatInt(u.ID, 10),
		IssuedAt: now, NotBefore: now, ExpiresAt: exp, Scopes: latchkey.Scopes{"tokens.read"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tok := &latchkey.Token{ID: id, UserID: u.ID, ClientID: c.ID, Name: c.Name, Scopes: latchkey.Scopes{"tokens.read"},
		CreatedAt: now, UpdatedAt: now, ExpiresAt: &exp, KeyID: kid}
	if err := svc.store.CreateToken(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	return tok, signed
}

func TestRevokeClient(t *testing.T) {
	svc, st := newTestService(t, Config{})
	ctx := t.Context()
	u := svc.mustUser(t, "carol")
	app, _, err := svc.RegisterClient(ctx, NewClient{Name: "App", RedirectURIs: []string{"https://app.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := svc.RegisterClient(ctx, NewClient{Name: "Other", RedirectURIs: []string{"https://other.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	appTok, appJWT := appToken(t, svc, app, u)
	_, otherJWT := appToken(t, svc, other, u)
	_, personalJWT := svc.mustToken(t, u)
	for _, raw := range []string{appJWT, otherJWT, personalJWT} {
		if _, err := svc.Authenticate(ctx, raw, latchkey.Origin{}); err != nil {
			t.Fatalf("Authenticate before the revocation: %v", err) // and now cached
		}
	}

	if err := svc.RevokeClient(ctx, app.ID); err != nil {
		t.Fatalf("RevokeClient(%d) = %v", app.ID, err)
	}
	if _, err := svc.Authenticate(ctx, appJWT, latchkey.Origin{}); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("Authenticate(the revoked client's token) = %v, want EUNAUTHENTICATED", err)
	}
	if row, err := st.Token(ctx, appTok.ID); err != nil || !row.Revoked {
		t.Errorf("the revoked client's token row: %+v, %v; want it revoked", row, err)
	}
	for name, raw := range map[string]string{"another client's": otherJWT, "a personal": personalJWT} {
		if _, err := svc.Authenticate(ctx, raw, latchkey.Origin{}); err != nil {
			t.Errorf("Authenticate(%s token) after revoking another client = %v, want it accepted", name, err)
		}
	}
	if c, err := svc.Client(ctx, app.ID); err != nil || !c.Revoked {
		t.Errorf("Client(%d) after RevokeClient = %+v, %v; want it revoked", app.ID, c, err)
	}
	if err := svc.RevokeClient(ctx, app.ID); err != nil {
		t.Errorf("RevokeClient of a revoked client = %v, want nil", err)
	}
	rs, err := svc.Audit(ctx, latchkey.AuditFilter{Action: latchkey.AuditClientRevoked})
	if err != nil || len(rs) == 0 || rs[0].SubjectID != strconv.FormatInt(app.ID, 10) {
		t.Errorf("audit of the revocation = %+v, %v; want one naming client %d", rs, err, app.ID)
	}
}

func TestRevokeClientRefuses(t *testing.T) {
	svc, st := newTestService(t, Config{})
	ctx := t.Context()
	u := svc.mustUser(t, "dave")
	_, personalJWT := svc.mustToken(t, u)
	// A second personal access client, as a Passport install may have.
	second := &latchkey.Client{Name: "Another personal access client", PersonalAccessClient: true, CreatedAt: svc.now(), UpdatedAt: svc.now()}
	if err := st.CreateClient(ctx, second); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		id   int64
		code string
		msg  string
	}{
		{"the personal access client", latchkey.PersonalAccessClientID, latchkey.EINVALID, "the personal access client cannot be revoked: revoke tokens one by one"},
		{"another personal access client", second.ID, latchkey.EINVALID, "the personal access client cannot be revoked: revoke tokens one by one"},
		{"an unknown client", 999, latchkey.ENOTFOUND, "no client 999"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := svc.RevokeClient(ctx, tc.id)
			if latchkey.ErrorCode(err) != tc.code || latchkey.ErrorMessage(err) != tc.msg {
				t.Errorf("RevokeClient(%d) = %v, want %s %q", tc.id, err, tc.code, tc.msg)
			}
		})
	}
	if _, err := svc.Authenticate(ctx, personalJWT, latchkey.Origin{}); err != nil {
		t.Errorf("a personal token after the refused revocations: %v, want it accepted", err)
	}
	if c, err := svc.Client(ctx, latchkey.PersonalAccessClientID); err != nil || c.Revoked {
		t.Errorf("the personal access client: %+v, %v; want it not revoked", c, err)
	}
	if _, err := svc.Client(ctx, 999); latchkey.ErrorCode(err) != latchkey.ENOTFOUND || latchkey.ErrorMessage(err) != "no client 999" {
		t.Errorf("Client(999) = %v, want ENOTFOUND \"no client 999\"", err)
	}
}
