package httpapi_test

import (
	"io"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/service"
)

// TestListPageCache: a server that has answered a list page before
// answers it, after each kind of change to what the page holds, with the
// very bytes a server that never answered it does: a token created or
// revoked, a token on the page used (and used again later, from another
// address), the uses written out, the list's time running out.
func TestListPageCache(t *testing.T) {
	h := newHarness(t)
	for i := range 4 {
		h.mint(h.user, "listed "+strconv.Itoa(i), nil)
	}
	check := func(step, query string) {
		t.Helper()
		checkPath(t, h, step, tokensPath(h.user.ID)+query)
	}
	check("first", "")
	checkPath(t, h, "another user's", tokensPath(h.viewer.ID))
	check("again", "")
	check("another size", "?per_page=2&page=2")
	h.mint(h.user, "created", nil)
	check("a token created", "")
	check("a token created, the second page", "?per_page=2&page=2")
	show := func(from string) {
		t.Helper()
		r := httptest.NewRequest("GET", tokensPath(h.user.ID), nil)
		r.Header.Set("Authorization", bearer(h.userJWT))
		r.RemoteAddr = from
		w := httptest.NewRecorder()
		httpapi.New(h.svc, httpapi.Options{}).ServeHTTP(w, r)
		if w.Code != 200 {
			t.Fatalf("a use of alice's token: %d", w.Code)
		}
	}
	show("192.0.2.1:1")
	check("a token on the page used", "")
	h.clock.Advance(2 * time.Second)
	show("192.0.2.2:1")
	check("used again, later, from elsewhere", "")
	check("used again, the second page", "?per_page=2&page=2")
	if err := h.svc.FlushUsage(t.Context()); err != nil {
		t.Fatal(err)
	}
	check("the uses written out", "")
	ts, _, err := h.svc.Tokens(t.Context(), h.user, service.ListQuery{Page: 1, PerPage: 10})
	if err != nil || len(ts) == 0 {
		t.Fatalf("Tokens = %d, %v", len(ts), err)
	}
	if _, err := h.svc.OperatorRevokeToken(t.Context(), ts[0].ID); err != nil {
		t.Fatal(err)
	}
	check("a token revoked", "")
	h.clock.Advance(time.Minute)
	check("the list's time run out", "")
}

// checkPath asks h's server for the list at path, as the admin (whose
// token's uses are on no page of the users it lists), and fails unless it
// answers what a new server answers.
func checkPath(t *testing.T, h *harness, step, path string) {
	t.Helper()
	admin := bearer(h.adminJWT)
	cached := h.do("GET", path, admin, nil)
	r := httptest.NewRequest("GET", path, nil)
	r.Header.Set("Authorization", admin)
	r.RemoteAddr = "127.0.0.1:1"
	fresh := httptest.NewRecorder()
	httpapi.New(h.svc, httpapi.Options{}).ServeHTTP(fresh, r)
	body, _ := io.ReadAll(fresh.Body)
	if cached.status != 200 || fresh.Code != 200 || string(cached.body) != string(body) {
		t.Errorf("%s: GET %s answered %d\n%s\nwhere a new server answers %d\n%s", step, path, cached.status, cached.body, fresh.Code, body)
	}
}

// TestShowCache: a server that has shown a token before shows it, after
// each kind of change to it, with the very bytes a server that never
// showed it does: the token used (and used again later, from another
// address), the uses written out, its row's time running out, the token
// revoked. Through another user's path it is not found, cached or not.
func TestShowCache(t *testing.T) {
	h := newHarness(t)
	tok, jwt, err := h.mintToken(h.user, "shown", nil)
	if err != nil {
		t.Fatal(err)
	}
	path := tokenPath(h.user.ID, tok.ID)
	check := func(step string) {
		t.Helper()
		checkPath(t, h, step, path)
	}
	check("first")
	check("again")
	if r := h.do("GET", tokenPath(h.viewer.ID, tok.ID), bearer(h.adminJWT), nil); r.status != 404 {
		t.Errorf("the token through another user's path: %d %s, want 404", r.status, r.body)
	}
	use := func(from string) {
		t.Helper()
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("Authorization", bearer(jwt))
		r.RemoteAddr = from
		w := httptest.NewRecorder()
		httpapi.New(h.svc, httpapi.Options{}).ServeHTTP(w, r)
		if w.Code != 200 {
			t.Fatalf("a use of the token: %d", w.Code)
		}
	}
	use("192.0.2.1:1")
	check("used")
	h.clock.Advance(2 * time.Second)
	use("192.0.2.2:1")
	check("used again, later, from elsewhere")
	if err := h.svc.FlushUsage(t.Context()); err != nil {
		t.Fatal(err)
	}
	check("the uses written out")
	h.clock.Advance(time.Minute)
	check("the row's time run out")
	if _, err := h.svc.OperatorRevokeToken(t.Context(), tok.ID); err != nil {
		t.Fatal(err)
	}
	check("revoked")
}
