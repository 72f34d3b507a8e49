package httpapi_test

import (
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
)

// TestClient drives the real handler with the Go client, the twin of
// ProcessMaker's generated PersonalTokensApi, under each of the spec's
// authentication schemes.
func TestClient(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name string
		opt  client.Option
	}{
		{"pm_api_bearer", client.WithBearerToken(h.userJWT)},
		{"pm_api_key raw", client.WithAPIKey(h.userJWT, "")},
		{"pm_api_key prefixed", client.WithAPIKey(h.userJWT, "Bearer")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := client.New(h.srv.URL, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			uid := h.user.ID
			exp := h.clock.Now().Add(30 * 24 * time.Hour)
			made, err := c.CreateToken(ctx, uid, client.CreateTokenRequest{Name: "via client " + tc.name, Scopes: []string{"tokens.read"}, ExpiresAt: &exp})
			if err != nil {
				t.Fatalf("CreateToken: %v", err)
			}
			if made.AccessToken == "" || made.Token.Name != "via client "+tc.name || !made.Token.ExpiresAt.Equal(exp) {
				t.Errorf("CreateToken = %+v", made.Token)
			}
			got, err := c.Token(ctx, uid, made.Token.ID)
			if err != nil || got.ID != made.Token.ID || !slices.Equal(got.Scopes, latchkey.Scopes{"tokens.read"}) {
				t.Errorf("Token = %+v, %v", got, err)
			}
			page, err := c.Tokens(ctx, uid, client.ListOptions{Filter: "via client " + tc.name})
			if err != nil || page.Total != 1 || page.Tokens[0].ID != made.Token.ID {
				t.Errorf("Tokens = %+v, %v", page, err)
			}
			var all []string
			for tok, err := range c.AllTokens(ctx, uid, client.ListOptions{PerPage: 2}) {
				if err != nil {
					t.Fatalf("AllTokens: %v", err)
				}
				all = append(all, tok.ID)
			}
			if !slices.Contains(all, made.Token.ID) {
				t.Errorf("AllTokens misses the new token")
			}
			if err := c.DeleteToken(ctx, uid, made.Token.ID); err != nil {
				t.Errorf("DeleteToken: %v", err)
			}
			// The new token, revoked, no longer authenticates.
			revoked, _ := client.New(h.srv.URL, client.WithBearerToken(made.AccessToken))
			if _, err := revoked.Tokens(ctx, uid, client.ListOptions{}); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED || client.StatusCode(err) != 401 {
				t.Errorf("revoked token: err = %v, want EUNAUTHENTICATED 401", err)
			}
		})
	}
	t.Run("errors map back to codes", func(t *testing.T) {
		c, _ := client.New(h.srv.URL, client.WithBearerToken(h.userJWT))
		ctx := t.Context()
		_, err := c.CreateToken(ctx, h.user.ID, client.CreateTokenRequest{Name: ""})
		var e *latchkey.Error
		if latchkey.ErrorCode(err) != latchkey.EINVALID || !asError(err, &e) || e.Fields.Get("name") == nil {
			t.Errorf("empty name: err = %v, want EINVALID on name", err)
		}
		if _, err := c.Tokens(ctx, h.admin.ID, client.ListOptions{}); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Errorf("admin's tokens: err = %v, want EFORBIDDEN", err)
		}
		if _, err := c.Token(ctx, h.user.ID, zeroID); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Errorf("unknown token: err = %v, want ENOTFOUND", err)
		}
	})
}
