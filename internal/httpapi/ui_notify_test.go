package httpapi_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
)

func TestUINotifications(t *testing.T) {
	h := newOAuthHarness(t)
	b := h.signIn(t, "alice", h.alicePassword)
	page := h.srv.URL + "/settings/notifications"
	p := b.Get(page)
	for _, want := range []string{
		"Mail goes to <strong>" + h.alice.Email + "</strong>",
		`name="mail" value="token.expiring" checked>`,
		`name="mail" value="token.created" checked>`,
		`name="mail" value="token.revoked" checked disabled>`,
		`name="mail" value="token.reuse_detected" checked disabled>`,
		`aria-current="page">Notifications</a>`,
	} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("GET /settings/notifications lacks %q:\n%.3000s", want, p.Body)
		}
	}
	// Only expiry reminders, and an attempt to keep revocations off by
	// leaving them out: they stay on.
	p = b.Post(page, url.Values{"mail": {"token.expiring"}})
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "Saved.") {
		t.Fatalf("POST = %d: %.1000s", p.Status, p.Body)
	}
	off, err := h.svc.MailOff(t.Context(), &latchkey.Principal{User: h.alice})
	if err != nil {
		t.Fatal(err)
	}
	want := []latchkey.NotificationType{latchkey.NoteTokenExpired, latchkey.NoteTokenCreated, latchkey.NoteTokenRotated, latchkey.NoteAppAuthorized}
	slices.Sort(off)
	slices.Sort(want)
	if !slices.Equal(off, want) {
		t.Errorf("after the post, off = %v, want %v", off, want)
	}
	for _, want := range []string{`value="token.expiring" checked>`, `value="token.created">`, `value="token.revoked" checked disabled>`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the saved page lacks %q", want)
		}
	}
	// Signed out: the sign-in page.
	res, err := http.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Request.URL.Path != "/login" {
		t.Errorf("signed out, GET ended at %s, want /login", res.Request.URL.Path)
	}
}
