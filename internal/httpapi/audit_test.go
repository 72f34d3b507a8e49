package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/oauthtest"
	"github.com/latchkey/latchkey/internal/service"
	"golang.org/x/oauth2"
)

// badUA is a User-Agent with a byte that is not UTF-8: PostgreSQL refuses
// it in a text column, and once lost the audit record of every change it
// came with.
const badUA = "curl/8 \xff"

// userAgent sets the User-Agent of every request it sends.
type userAgent struct {
	ua   string
	next http.RoundTripper
}

func (u userAgent) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", u.ua)
	return u.next.RoundTrip(r)
}

// both runs f on a harness over SQLite and one over PostgreSQL.
func both(t *testing.T, f func(t *testing.T, h *oauthHarness)) {
	for _, pg := range []bool{false, true} {
		t.Run(map[bool]string{false: "sqlite", true: "postgres"}[pg], func(t *testing.T) {
			f(t, newOAuthHarness(t, func(h *oauthHarness) { h.postgres = pg }))
		})
	}
}

// call sends an API request with badUA and returns the status and body.
func call(t *testing.T, h *oauthHarness, method, path, jwt string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, h.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+jwt)
	req.Header.Set("Content-Type", "application/json")
	res, err := (&http.Client{Transport: userAgent{badUA, http.DefaultTransport}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

// aliceToken gives alice a token made at the command line, and the path
// of her tokens in the API.
func aliceToken(t *testing.T, h *oauthHarness) (jwt, tokens string) {
	t.Helper()
	name := "cli"
	_, jwt, err := h.svc.OperatorCreateToken(t.Context(), h.alice, service.TokenRequest{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	return jwt, "/api/1.0/users/" + strconv.FormatInt(h.alice.ID, 10) + "/tokens"
}

// auditOf returns the audit records of action about subject.
func auditOf(t *testing.T, svc *service.Service, action latchkey.AuditAction, subject string) []*latchkey.AuditRecord {
	t.Helper()
	records, err := svc.Audit(t.Context(), latchkey.AuditFilter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	var out []*latchkey.AuditRecord
	for _, r := range records {
		if r.SubjectID == subject {
			out = append(out, r)
		}
	}
	return out
}

// TestAuditBadUserAgent: a User-Agent that is not UTF-8 neither loses the
// audit record of a change nor fails a sign-in; it is recorded cleaned.
func TestAuditBadUserAgent(t *testing.T) {
	both(t, func(t *testing.T, h *oauthHarness) {
		jwt, tokens := aliceToken(t, h)
		status, body := call(t, h, http.MethodPost, tokens, jwt, []byte(`{"name":"stolen"}`))
		if status != http.StatusCreated {
			t.Fatalf("POST %s with User-Agent %q: %d %s, want 201", tokens, badUA, status, body)
		}
		var created struct{ ID string }
		if err := json.Unmarshal(body, &created); err != nil {
			t.Fatal(err)
		}
		if status, body := call(t, h, http.MethodDelete, tokens+"/"+created.ID, jwt, nil); status != http.StatusNoContent {
			t.Fatalf("DELETE the token with User-Agent %q: %d %s, want 204", badUA, status, body)
		}
		for _, action := range []latchkey.AuditAction{latchkey.AuditTokenCreated, latchkey.AuditTokenRevoked} {
			rs := auditOf(t, h.svc, action, created.ID)
			if len(rs) != 1 {
				t.Fatalf("%d %s records of the token, want 1", len(rs), action)
			}
			if r := rs[0]; r.UserAgent != "curl/8 \uFFFD" || r.Actor != latchkey.ActorUser || *r.ActorUserID != h.alice.ID {
				t.Errorf("%s record: user agent %q, actor %s, want %q by alice", action, r.UserAgent, r.Actor, "curl/8 \uFFFD")
			}
		}

		b := oauthtest.NewBrowser(t, h.srv.URL)
		b.Client.Transport = userAgent{badUA, http.DefaultTransport}
		login := b.Get(h.srv.URL + "/login")
		if wrong := b.SignIn("alice", "not the password", login); wrong.Status != http.StatusUnauthorized {
			t.Errorf("a wrong password with User-Agent %q: %d, want 401", badUA, wrong.Status)
		}
		if ok := b.SignIn("alice", h.alicePassword, login); ok.Status >= 400 {
			t.Errorf("signing in with User-Agent %q: %d, want success", badUA, ok.Status)
		}
		id := strconv.FormatInt(h.alice.ID, 10)
		for _, action := range []latchkey.AuditAction{latchkey.AuditSignInRefused, latchkey.AuditSignInOK} {
			rs := auditOf(t, h.svc, action, id)
			if len(rs) != 1 || rs[0].UserAgent != "curl/8 \uFFFD" {
				t.Errorf("%s records of alice: %d, want 1 with the User-Agent cleaned", action, len(rs))
			}
		}
	})
}

// TestNameNotText: a token name that is not text (NUL, a byte that is not
// UTF-8, a control character, a bidirectional override) is refused alike on both stores, with a 422
// that says so about the name; nothing is stored.
func TestNameNotText(t *testing.T) {
	both(t, func(t *testing.T, h *oauthHarness) {
		jwt, tokens := aliceToken(t, h)
		for _, tc := range []struct{ name, body string }{
			{"NUL", `{"name":"a\u0000b"}`},
			{"invalid UTF-8", "{\"name\":\"a\xffb\"}"},
			{"newline", `{"name":"a\nb"}`},
			{"right-to-left override", `{"name":"invoice\u202Egnp.exe"}`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, body := call(t, h, http.MethodPost, tokens, jwt, []byte(tc.body))
				var e struct{ Errors map[string][]string }
				if err := json.Unmarshal(body, &e); err != nil {
					t.Fatalf("POST %q: %d %s", tc.body, status, body)
				}
				if status != http.StatusUnprocessableEntity || len(e.Errors["name"]) != 1 || e.Errors["name"][0] != service.MsgNameText {
					t.Errorf("POST %q = %d %s, want 422 with errors.name %q", tc.body, status, body, service.MsgNameText)
				}
			})
		}
		ts, _, err := h.svc.Tokens(t.Context(), h.alice, service.ListQuery{Page: 1, PerPage: 10})
		if err != nil || len(ts) != 1 {
			t.Errorf("alice has %d tokens, %v; want only the first", len(ts), err)
		}
	})
}

// TestReuseRevocationAudited: the tokens the server revokes because an
// authorization code was used twice are recorded as revoked by the system,
// with the reason.
func TestReuseRevocationAudited(t *testing.T) {
	both(t, func(t *testing.T, h *oauthHarness) {
		ctx := t.Context()
		conf := h.config(h.app, h.appSecret, h.redirect, latchkey.ScopeTokensRead)
		b := oauthtest.NewBrowser(t, h.srv.URL)
		v := oauth2.GenerateVerifier()
		code := b.Authorize(conf, "alice", h.alicePassword, oauth2.S256ChallengeOption(v))
		tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(v)); err == nil {
			t.Fatal("the code was exchanged twice")
		}
		id, err := h.svc.SignedTokenID(tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		rs := auditOf(t, h.svc, latchkey.AuditTokenRevoked, id)
		if len(rs) != 1 {
			t.Fatalf("%d token.revoked records of the token, want 1", len(rs))
		}
		if r := rs[0]; r.Actor != latchkey.ActorSystem || r.ActorUserID != nil || r.Detail != "authorization code used twice" {
			t.Errorf("the revocation is recorded as by %s (user %v), %q; want by the system, %q",
				r.Actor, r.ActorUserID, r.Detail, "authorization code used twice")
		}
	})
}
