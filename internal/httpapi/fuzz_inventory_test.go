package httpapi_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpapi"
)

// FuzzParseInventoryQuery: whatever the query string, the inventory's
// parser does not panic; what it accepts is in range (a page and size the
// list allows, known states without duplicates, a scope a token may
// carry, a bound only where the query gave one); and a page link of an
// accepted query, read again, asks for the same tokens.
func FuzzParseInventoryQuery(f *testing.F) {
	for _, seed := range []string{
		"", "per_page=10&page=2", "user_id=12", "user_id=0", "user_id=-1", "user_id=99999999999999999999",
		"client_id=1", "state=active", "state=active,revoked", "state=active&state=expired", "state=", "state=,",
		"state=active,,revoked", "state=ACTIVE", "state=active%2Cexpired",
		"created_after=2026-03-01", "created_before=2026-03-01T17:45:10Z", "expires_after=2026-03-01T17:45:10.123456%2B09:00",
		"expires_before=2026-02-30", "last_used_after=2026-03-01T17:45:10", "last_used_before=0000-01-01T00:00:00Z",
		"never_used=true", "never_used=0", "never_used=yes", "scope=tokens.read", "scope=*", "scope=**", "scope=a%20b",
		"filter=%25_", "filter=%ff", "order_by=name&order_direction=asc", "order_by=id;drop",
		"per_page=1001&state=x&never_used=2&scope=", "page=1&page=2&user_id=3&user_id=x", "%zz=1&user_id=%zz",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q := httpapi.ParseQuery(raw)
		iq, err := httpapi.ParseInventoryQuery(q)
		if err != nil {
			if latchkey.ErrorCode(err) != latchkey.EINVALID {
				t.Fatalf("ParseInventoryQuery(%q) = %v, want EINVALID", raw, err)
			}
			return
		}
		fl := iq.Filter
		if iq.Page < 1 || iq.Page > 1_000_000_000 || iq.PerPage < 1 || iq.PerPage > 1000 {
			t.Fatalf("ParseInventoryQuery(%q): page %d, per_page %d out of range", raw, iq.Page, iq.PerPage)
		}
		if fl.UserID < 0 || fl.ClientID < 0 || (fl.UserID == 0) != (q.Get("user_id") == "") {
			t.Fatalf("ParseInventoryQuery(%q): user %d, client %d", raw, fl.UserID, fl.ClientID)
		}
		for i, st := range fl.States {
			if !slices.Contains(latchkey.TokenStates, st) || slices.Contains(fl.States[:i], st) {
				t.Fatalf("ParseInventoryQuery(%q): states %v", raw, fl.States)
			}
		}
		if fl.Scope != "" && fl.Scope != latchkey.ScopeAll && !latchkey.ValidScopeName(fl.Scope) {
			t.Fatalf("ParseInventoryQuery(%q): scope %q", raw, fl.Scope)
		}
		for key, bound := range map[string]bool{
			"created_after": fl.CreatedAfter != nil, "created_before": fl.CreatedBefore != nil,
			"expires_after": fl.ExpiresAfter != nil, "expires_before": fl.ExpiresBefore != nil,
			"last_used_after": fl.LastUsedAfter != nil, "last_used_before": fl.LastUsedBefore != nil,
			"never_used": fl.NeverUsed != nil,
		} {
			if bound != (q.Get(key) != "") {
				t.Fatalf("ParseInventoryQuery(%q): %s set %v, given %q", raw, key, bound, q.Get(key))
			}
		}
		// A link of the page, read again, asks for the same.
		link := httpapi.InventoryLink("/api/1.0/tokens", q, iq, iq.Page)
		path, rawLink, _ := strings.Cut(link, "?")
		if path != "/api/1.0/tokens" {
			t.Fatalf("InventoryLink(%q) = %q: want the inventory's path", raw, link)
		}
		again, err := httpapi.ParseInventoryQuery(httpapi.ParseQuery(rawLink))
		if err != nil {
			t.Fatalf("InventoryLink(%q) = %q, which is refused: %v", raw, link, err)
		}
		if diff := cmp.Diff(iq, again); diff != "" {
			t.Fatalf("InventoryLink(%q) = %q asks for another list (-want +got):\n%s", raw, link, diff)
		}
		if _, err := url.ParseQuery(rawLink); err != nil {
			t.Fatalf("InventoryLink(%q) = %q: not a valid query: %v", raw, link, err)
		}
	})
}
