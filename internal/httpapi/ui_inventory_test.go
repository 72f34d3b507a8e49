package httpapi_test

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestUIInventory: "All tokens" is for administrators and view-users
// holders, offered in their menu only; its GET form filters as the API
// does, says what is wrong with a filter beside it, and its CSV link
// downloads what the form selects.
func TestUIInventory(t *testing.T) {
	h := newOAuthHarness(t)
	h.uiUsers()
	h.token(t, h.alice, "=alice's deploy key")
	bobTok, _ := h.token(t, h.bob, "bob's backup")
	if _, err := h.svc.OperatorRevokeToken(t.Context(), bobTok.ID); err != nil {
		t.Fatal(err)
	}
	menu := `<a href="/inventory"`
	for _, tc := range []struct {
		login, password string
		allowed         bool
	}{
		{"bob", h.bobPassword, false},
		{"editor", uiPassword, false},
		{"viewer", uiPassword, true},
		{"root", uiPassword, true},
	} {
		t.Run(tc.login, func(t *testing.T) {
			b := h.signIn(t, tc.login, tc.password)
			if got := strings.Contains(b.Get(h.srv.URL+"/tokens").Body, menu); got != tc.allowed {
				t.Errorf("the menu of %s offers All tokens: %v, want %v", tc.login, got, tc.allowed)
			}
			for _, path := range []string{"/inventory", "/inventory?state=bogus", "/inventory.csv"} {
				p := b.Get(h.srv.URL + path)
				switch {
				case !tc.allowed && p.Status != http.StatusForbidden:
					t.Errorf("GET %s as %s = %d, want 403", path, tc.login, p.Status)
				case tc.allowed && p.Status == http.StatusForbidden:
					t.Errorf("GET %s as %s = 403", path, tc.login)
				}
			}
		})
	}

	b := h.signIn(t, "viewer", uiPassword)
	p := b.Get(h.srv.URL + "/inventory")
	for _, want := range []string{"<h1>All tokens</h1>", "=alice&#39;s deploy key", "bob&#39;s backup", `state-revoked`,
		fmt.Sprintf(`href="/users/%d"`, h.alice.ID), `aria-current="page">All tokens`, `href="/inventory.csv?page=1"`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("GET /inventory lacks %q", want)
		}
	}
	p = b.Get(h.srv.URL + "/inventory?state=revoked&user_id=&filter=")
	if p.Status != 200 || strings.Contains(p.Body, "deploy key") || !strings.Contains(p.Body, "bob&#39;s backup") ||
		!strings.Contains(p.Body, `value="revoked" checked`) || !strings.Contains(p.Body, `href="/inventory.csv?page=1&amp;state=revoked"`) {
		t.Errorf("GET /inventory?state=revoked = %d: want bob's revoked token alone, the box checked, the CSV link filtered", p.Status)
	}
	p = b.Get(h.srv.URL + "/inventory?created_after=yesterday&never_used=maybe")
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "The Created After field must be a valid date.") ||
		!strings.Contains(p.Body, `id="created_after-error"`) || !strings.Contains(p.Body, "The Never Used field must be true or false.") {
		t.Errorf("GET /inventory with bad filters = %d: want 422 and each sentence beside its field: %.2000s", p.Status, p.Body)
	}

	// The download: every token the filters select, as the API's CSV.
	res, err := b.Client.Get(h.srv.URL + "/inventory.csv?page=1&state=active")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	rows, err := csv.NewReader(res.Body).ReadAll()
	if err != nil || res.Header.Get("Content-Disposition") == "" {
		t.Fatalf("GET /inventory.csv: %v, %v", rows, err)
	}
	var names []string
	for _, row := range rows[1:] {
		names = append(names, row[4])
	}
	if strings.Join(names, "|") != "'=alice's deploy key" {
		t.Errorf("GET /inventory.csv?state=active names %q, want alice's key alone, guarded", names)
	}
}
