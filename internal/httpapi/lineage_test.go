package httpapi_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
	"github.com/latchkey/latchkey/internal/oauthtest"
	"github.com/latchkey/latchkey/internal/service"
	"golang.org/x/oauth2"
)

// TestOAuthLineage: an application approved for tokens.write makes a
// personal token with its access token, and that token another; when the
// application's access ends, in the web pages or at the operator's hand,
// both stop working with the application's own tokens. Driven with the
// x/oauth2 client and the Go client.
func TestOAuthLineage(t *testing.T) {
	for _, end := range []struct {
		name string
		do   func(t *testing.T, h *oauthHarness, b *oauthtest.Browser)
	}{
		{"consent withdrawn in the web pages", func(t *testing.T, h *oauthHarness, b *oauthtest.Browser) {
			p := b.Post(fmt.Sprintf("%s/applications/%d/revoke", h.srv.URL, h.app.ID), nil)
			if p.Status != http.StatusOK && p.Status != http.StatusSeeOther {
				t.Fatalf("withdrawing the application: %d", p.Status)
			}
		}},
		{"client revoked by the operator", func(t *testing.T, h *oauthHarness, _ *oauthtest.Browser) {
			if err := h.svc.RevokeClient(t.Context(), h.app.ID); err != nil {
				t.Fatal(err)
			}
		}},
		{"the user disabled, then enabled again", func(t *testing.T, h *oauthHarness, _ *oauthtest.Browser) {
			for _, status := range []latchkey.UserStatus{latchkey.StatusInactive, latchkey.StatusActive} {
				if _, err := h.svc.UpdateUser(t.Context(), h.alice.ID, service.UserChange{UserUpdate: latchkey.UserUpdate{Status: &status}}); err != nil {
					t.Fatal(err)
				}
			}
		}},
	} {
		t.Run(end.name, func(t *testing.T) {
			h := newOAuthHarness(t)
			ctx := t.Context()
			conf := h.config(h.app, h.appSecret, h.redirect, latchkey.ScopeTokensWrite, latchkey.ScopeTokensRead)
			b := oauthtest.NewBrowser(t, h.srv.URL)
			verifier := oauth2.GenerateVerifier()
			tok, err := conf.Exchange(ctx, b.Authorize(conf, "alice", h.alicePassword, oauth2.S256ChallengeOption(verifier)), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			byApp, err := client.New(h.srv.URL, client.WithBearerToken(tok.AccessToken))
			if err != nil {
				t.Fatal(err)
			}
			made, err := byApp.CreateToken(ctx, h.alice.ID, client.CreateTokenRequest{Name: "made by the application", Scopes: []string{latchkey.ScopeTokensWrite, latchkey.ScopeTokensRead}})
			if err != nil {
				t.Fatalf("CreateToken(with the application's access token) = %v", err)
			}
			if made.Token.ParentID == "" {
				t.Errorf("a token made with an access token has no parent_id")
			}
			accessExpires := time.Unix(int64(claims(t, tok.AccessToken)["exp"].(float64)), 0).UTC()
			if !made.Token.ExpiresAt.Equal(accessExpires) {
				t.Errorf("the token made expires at %v, want the access token's expiry, %v", made.Token.ExpiresAt, accessExpires)
			}
			byMade, err := client.New(h.srv.URL, client.WithBearerToken(made.AccessToken))
			if err != nil {
				t.Fatal(err)
			}
			grand, err := byMade.CreateToken(ctx, h.alice.ID, client.CreateTokenRequest{Name: "made by the made", Scopes: []string{latchkey.ScopeTokensRead}})
			if err != nil {
				t.Fatalf("CreateToken(with the made token) = %v", err)
			}
			if grand.Token.ParentID != made.Token.ID {
				t.Errorf("grandchild.parent_id = %q, want %q", grand.Token.ParentID, made.Token.ID)
			}
			for _, raw := range []string{tok.AccessToken, made.AccessToken, grand.AccessToken} {
				if got := h.api(raw, h.alice); got != http.StatusOK {
					t.Fatalf("before: API = %d, want 200", got)
				}
			}

			end.do(t, h, b)

			for name, raw := range map[string]string{"the access token": tok.AccessToken, "the token it made": made.AccessToken, "the token that one made": grand.AccessToken} {
				if got := h.api(raw, h.alice); got != http.StatusUnauthorized {
					t.Errorf("after the application's access ended, API with %s = %d, want 401", name, got)
				}
			}
			for _, id := range []string{made.Token.ID, grand.Token.ID} {
				got, err := h.svc.Token(ctx, h.alice, id)
				if err != nil || !got.Revoked || got.RevokedReason != latchkey.ReasonParentRevoked {
					t.Errorf("Token(%s) = %+v, %v; want revoked for %q", id, got, err, latchkey.ReasonParentRevoked)
				}
			}
		})
	}
}

// TestUILineage: the list says which token made which, and the page that
// asks before a revoke says how many tokens go with it.
func TestUILineage(t *testing.T) {
	h := newOAuthHarness(t)
	ctx := t.Context()
	parent, parentJWT := h.token(t, h.alice, "deploy bot")
	byParent, err := client.New(h.srv.URL, client.WithBearerToken(parentJWT))
	if err != nil {
		t.Fatal(err)
	}
	child, err := byParent.CreateToken(ctx, h.alice.ID, client.CreateTokenRequest{Name: "build step"})
	if err != nil {
		t.Fatal(err)
	}
	byChild, err := client.New(h.srv.URL, client.WithBearerToken(child.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := byChild.CreateToken(ctx, h.alice.ID, client.CreateTokenRequest{Name: "test step"}); err != nil {
		t.Fatal(err)
	}

	b := h.signIn(t, "alice", h.alicePassword)
	list := b.Get(h.srv.URL + "/tokens")
	row := func(id string) string {
		return regexp.MustCompile(`(?s)<tr id="token-` + id + `">.*?</tr>`).FindString(list.Body)
	}
	if r := row(child.Token.ID); !strings.Contains(r, `made by <a href="#token-`+parent.ID+`">deploy bot</a>`) || !strings.Contains(r, "made 1 token listed here") {
		t.Errorf("the child's row does not name its parent and its one child: %s", r)
	}
	if r := row(parent.ID); !strings.Contains(r, "made 1 token listed here") || strings.Contains(r, "made by") {
		t.Errorf("the parent's row does not say it made one token: %s", r)
	}

	confirm := b.Get(h.srv.URL + "/tokens/" + parent.ID + "/revoke")
	if !strings.Contains(confirm.Body, "<strong>2 tokens it made go with it</strong>") {
		t.Errorf("the revoke page of a token with two descendants does not say so: %.3000s", confirm.Body)
	}
	confirm = b.Get(h.srv.URL + "/tokens/" + child.Token.ID + "/revoke")
	if !strings.Contains(confirm.Body, "<strong>1 token it made goes with it</strong>") {
		t.Errorf("the revoke page of a token with one descendant does not say so: %.3000s", confirm.Body)
	}
	b.Post(h.srv.URL+"/tokens/"+parent.ID+"/revoke", nil)
	if got := h.api(child.AccessToken, h.alice); got != http.StatusUnauthorized {
		t.Errorf("after revoking its parent in the web pages, the child answers %d, want 401", got)
	}
	confirm = b.Get(h.srv.URL + "/tokens/" + parent.ID + "/revoke")
	if strings.Contains(confirm.Body, `id="descendants"`) {
		t.Errorf("the page of a revoked token still warns of descendants")
	}
}
