package httpapi_test

import (
	"encoding/csv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/service"
)

// TestBrowserInventory: in Chromium, a holder of view-users finds "All
// tokens" in the menu, filters it with the form, downloads the CSV the
// filters select, and reads a bad filter's sentence beside its field; the
// pages pass the accessibility audit.
func TestBrowserInventory(t *testing.T) {
	browser := startChromium(t)
	h := newOAuthHarness(t)
	ctx := t.Context()
	const password = "the auditor's passphrase"
	if _, err := h.svc.CreateUser(ctx, service.NewUser{Username: "audit", Email: "audit@example.com", Permissions: []string{latchkey.PermViewUsers}, Password: password}); err != nil {
		t.Fatal(err)
	}
	h.token(t, h.alice, "laptop backup")
	gone, _ := h.token(t, h.bob, "old deploy key")
	if _, err := h.svc.OperatorRevokeToken(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}

	tb := newTab(t, browser, h.srv.URL)
	tb.open(t, "/tokens", 200)
	if resp := tb.signIn(t, "audit", password); resp.Status != 200 {
		t.Fatalf("signing in answered %d", resp.Status)
	}
	if link := tb.text(t, `nav a[href="/inventory"]`); link != "All tokens" {
		t.Fatalf("the menu's link to the inventory = %q, want All tokens", link)
	}
	if resp := tb.load(t, chromedp.Click(chromedp.CSS(`nav a[href="/inventory"]`))); resp.Status != 200 {
		t.Fatalf("All tokens answered %d", resp.Status)
	}
	if h1 := tb.text(t, "h1"); h1 != "All tokens" {
		t.Fatalf("h1 = %q, want All tokens", h1)
	}
	if rows := eval[int](t, tb, `document.querySelectorAll("table.inventory tbody tr").length`); rows != 2 {
		t.Errorf("All tokens lists %d tokens, want 2", rows)
	}
	tb.shot(t, "inventory")

	// Check "revoked" and apply: the address carries the filter, the
	// table the revoked token alone.
	tb.do(t, chromedp.Click(chromedp.CSS(`input[name=state][value=revoked]`)))
	if resp := tb.load(t, chromedp.Click(chromedp.CSS(`form.inventory-filters button[type=submit]`))); resp.Status != 200 {
		t.Fatalf("applying the filters answered %d", resp.Status)
	}
	if loc := tb.location(); !strings.Contains(loc, "state=revoked") {
		t.Errorf("after applying, the address is %s, want state=revoked in it", loc)
	}
	if names := eval[[]string](t, tb, `[...document.querySelectorAll("table.inventory td.name")].map(td => td.textContent.trim())`); len(names) != 1 || names[0] != "old deploy key" {
		t.Errorf("filtered by revoked, the table lists %q, want old deploy key alone", names)
	}
	if checked := eval[bool](t, tb, `document.querySelector("input[name=state][value=revoked]").checked`); !checked {
		t.Error("after applying, the revoked box is no longer checked")
	}

	// The download link carries the same filters; what it gives is the CSV
	// of the revoked token.
	href := eval[string](t, tb, `document.querySelector("a[download]").getAttribute("href")`)
	if !strings.HasPrefix(href, "/inventory.csv?") || !strings.Contains(href, "state=revoked") {
		t.Errorf("Download CSV links to %q, want /inventory.csv with state=revoked", href)
	}
	body := run(t, tb, chromedp.Evaluate[string](`fetch(document.querySelector("a[download]").href).then(r => r.text())`, chromedp.EvalAsValue, chromedp.EvalAwaitPromise))
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(rows) != 2 || rows[0][0] != "id" || rows[1][4] != "old deploy key" || rows[1][8] != "revoked" {
		t.Errorf("the download = %q (%v), want the header and the revoked token", body, err)
	}

	// A bad filter in the address: the page says what is wrong, beside
	// the field, and the field says it is invalid.
	tb.open(t, "/inventory?created_after=yesterday", 422)
	if msg := tb.text(t, "#created_after-error"); msg != "The Created After field must be a valid date. "+httpapiMsgDateFormat {
		t.Errorf("the error beside Created after = %q", msg)
	}
	if invalid := eval[string](t, tb, `document.getElementById("created_after").getAttribute("aria-invalid")`); invalid != "true" {
		t.Errorf("the Created after field's aria-invalid = %q, want true", invalid)
	}
	tb.audit(t)
}
