package httpapi_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/service"
	"github.com/latchkey/latchkey/internal/sqlite"
	"github.com/latchkey/latchkey/internal/wire"
)

// inventoryFixture is the harness with tokens of every kind and state:
//
//	name              owner  client          created  scopes        state
//	admin's, alice's,
//	viv's, ed's       each   personal        t0       []            active
//	nightly export    alice  personal        t0+1h    tokens.read   active
//	=HYPERLINK(1)     alice  personal        t0+2h    []            active
//	short-lived       viv    personal        t0+3h    []            expired (at t0+5h)
//	revoked one       ed     personal        t0+4h    []            revoked
//	Report Builder    alice  Report Builder  t0+7h    tokens.write  active, used
//	inventory reader  viv    personal        t0+7h1m  tokens.read   active, used: the caller
//
// now is t0+7h1m, and last-used times are written.
type inventoryFixture struct {
	*harness
	reader string // the JWT of "inventory reader"
	app    int64  // Report Builder's client id
}

func newInventoryFixture(t *testing.T, h *harness) *inventoryFixture {
	t.Helper()
	ctx := t.Context()
	f := &inventoryFixture{harness: h}
	mint := func(u *latchkey.User, name string, scopes []string, expires *time.Time) (*latchkey.Token, string) {
		t.Helper()
		tok, jwt, err := h.svc.OperatorCreateToken(ctx, u, service.TokenRequest{Name: &name, Scopes: scopes, ExpiresAt: expires})
		if err != nil {
			t.Fatalf("OperatorCreateToken(%q) = %v", name, err)
		}
		return tok, jwt
	}
	h.clock.Advance(time.Hour)
	mint(h.user, "nightly export", []string{latchkey.ScopeTokensRead}, nil)
	h.clock.Advance(time.Hour)
	mint(h.user, "=HYPERLINK(1)", nil, nil)
	h.clock.Advance(time.Hour)
	mint(h.viewer, "short-lived", nil, ptr(h.clock.Now().Add(2*time.Hour)))
	h.clock.Advance(time.Hour)
	revoked, _ := mint(h.editor, "revoked one", nil, nil)
	if _, err := h.svc.OperatorRevokeToken(ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(3 * time.Hour)
	appJWT := oauthJWT(h, h.user, "Report Builder", []string{latchkey.ScopeTokensWrite}, false)
	h.clock.Advance(time.Minute)
	_, f.reader = mint(h.viewer, "inventory reader", []string{latchkey.ScopeTokensRead}, nil)
	// The application's token is used once (and refused: alice may not
	// read the inventory); then the last-used times are written.
	if r := h.do("GET", "/api/1.0/tokens", bearer(appJWT), nil); r.status != http.StatusForbidden {
		t.Fatalf("the app's token: %d %s, want 403", r.status, r.body)
	}
	if r := h.do("GET", "/api/1.0/tokens", bearer(f.reader), nil); r.status != http.StatusOK {
		t.Fatalf("the reader's token: %d %s, want 200", r.status, r.body)
	}
	if err := h.svc.FlushUsage(ctx); err != nil {
		t.Fatal(err)
	}
	cs, err := h.store.Clients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Name == "Report Builder" {
			f.app = c.ID
		}
	}
	return f
}

func ptr[T any](v T) *T { return &v }

// onBothStores runs test on SQLite and on PostgreSQL.
func onBothStores(t *testing.T, test func(t *testing.T, h *harness)) {
	t.Run("sqlite", func(t *testing.T) { test(t, newHarness(t)) })
	t.Run("postgres", func(t *testing.T) { test(t, newHarnessPostgres(t, httpapi.Options{})) })
}

// list asks the inventory for query as the reader and returns the names
// of the tokens on the page, and the answer.
func (f *inventoryFixture) list(t *testing.T, query string) ([]string, wire.TokenList) {
	t.Helper()
	r := f.do("GET", "/api/1.0/tokens?"+query, bearer(f.reader), nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /api/1.0/tokens?%s = %d %s, want 200", query, r.status, r.body)
	}
	var list wire.TokenList
	if err := json.Unmarshal(r.body, &list); err != nil {
		t.Fatalf("GET /api/1.0/tokens?%s: %v", query, err)
	}
	names := []string{}
	for _, ut := range list.Data {
		names = append(names, ut.Name)
	}
	return names, list
}

func TestInventoryFilters(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		f := newInventoryFixture(t, h)
		at := func(d time.Duration) string { return url.QueryEscape(start.Add(d).Format(time.RFC3339Nano)) }
		all := []string{"admin's", "alice's", "viv's", "ed's", "nightly export", "=HYPERLINK(1)", "short-lived", "revoked one", "Report Builder", "inventory reader"}
		live := slices.DeleteFunc(slices.Clone(all), func(n string) bool { return n == "short-lived" || n == "revoked one" })
		tests := []struct {
			query string
			want  []string // in any order
		}{
			{"", all},
			{"user_id=" + id(h.user), []string{"alice's", "nightly export", "=HYPERLINK(1)", "Report Builder"}},
			{"user_id=9999", nil},
			{"client_id=" + strconv.FormatInt(f.app, 10), []string{"Report Builder"}},
			{"state=active", live},
			{"state=expired", []string{"short-lived"}},
			{"state=revoked", []string{"revoked one"}},
			{"state=expired,revoked", []string{"short-lived", "revoked one"}},
			{"state=expired&state=revoked", []string{"short-lived", "revoked one"}},
			{"state=expired&state=", []string{"short-lived"}},
			{"created_after=" + at(2*time.Hour), []string{"=HYPERLINK(1)", "short-lived", "revoked one", "Report Builder", "inventory reader"}},
			{"created_before=" + at(2*time.Hour), []string{"admin's", "alice's", "viv's", "ed's", "nightly export"}},
			{"created_after=" + at(time.Hour) + "&created_before=" + at(3*time.Hour), []string{"nightly export", "=HYPERLINK(1)"}},
			{"created_after=2026-03-03", nil},
			{"created_before=2026-03-03", all},
			{"created_after=2026-03-02", []string{"Report Builder", "inventory reader"}},
			{"expires_before=" + at(6*time.Hour), []string{"short-lived"}},
			{"expires_before=" + at(8*time.Hour), []string{"short-lived"}},
			{"expires_before=" + at(8*time.Hour+time.Microsecond), []string{"short-lived", "Report Builder"}},
			{"expires_after=" + at(8*time.Hour), slices.DeleteFunc(slices.Clone(all), func(n string) bool { return n == "short-lived" })},
			{"expires_after=" + at(8*time.Hour+time.Microsecond), slices.DeleteFunc(slices.Clone(all), func(n string) bool { return n == "short-lived" || n == "Report Builder" })},
			{"last_used_after=" + at(7*time.Hour+time.Minute), []string{"Report Builder", "inventory reader"}},
			{"last_used_after=" + at(7*time.Hour+time.Minute+time.Microsecond), nil},
			{"last_used_before=" + at(7*time.Hour+time.Minute), nil},
			{"last_used_before=" + at(7*time.Hour+2*time.Minute), []string{"Report Builder", "inventory reader"}},
			{"never_used=false", []string{"Report Builder", "inventory reader"}},
			{"never_used=true", slices.DeleteFunc(slices.Clone(all), func(n string) bool { return n == "Report Builder" || n == "inventory reader" })},
			{"scope=tokens.write", slices.DeleteFunc(slices.Clone(all), func(n string) bool { return n == "nightly export" || n == "inventory reader" })},
			{"scope=tokens.read", slices.DeleteFunc(slices.Clone(all), func(n string) bool { return n == "Report Builder" })},
			{"scope=*", slices.DeleteFunc(slices.Clone(all), func(n string) bool {
				return n == "Report Builder" || n == "inventory reader" || n == "nightly export"
			})},
			{"filter=EXPORT", []string{"nightly export"}},
			{"filter=%25", nil},
			{"user_id=" + id(h.user) + "&scope=tokens.read&state=active", []string{"alice's", "nightly export", "=HYPERLINK(1)"}},
		}
		for _, tc := range tests {
			t.Run(tc.query, func(t *testing.T) {
				got, list := f.list(t, tc.query+"&per_page=1000")
				slices.Sort(got)
				want := slices.Sorted(slices.Values(tc.want))
				if want == nil {
					want = []string{}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("GET /api/1.0/tokens?%s mismatch (-want +got):\n%s", tc.query, diff)
				}
				if list.Meta.Total != len(want) {
					t.Errorf("GET /api/1.0/tokens?%s meta.total = %d, want %d", tc.query, list.Meta.Total, len(want))
				}
			})
		}
	})
}

func id(u *latchkey.User) string { return strconv.FormatInt(u.ID, 10) }

func TestInventoryOrderAndPages(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		f := newInventoryFixture(t, h)
		got, _ := f.list(t, "state=active,expired&order_by=name&order_direction=asc")
		want := []string{"=HYPERLINK(1)", "admin's", "alice's", "ed's", "inventory reader", "nightly export", "Report Builder", "short-lived", "viv's"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("order_by=name asc mismatch (-want +got):\n%s", diff)
		}
		got, _ = f.list(t, "created_after=2026-03-01T18:00:00Z")
		want = []string{"inventory reader", "Report Builder", "revoked one", "short-lived", "=HYPERLINK(1)", "nightly export"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("newest first mismatch (-want +got):\n%s", diff)
		}
		// The second page of three, and links that keep the filters, and
		// only them.
		_, list := f.list(t, "state=revoked,active&state=expired&user_id=&created_after=2026-03-01T18:00:00Z&per_page=3&page=2&color=blue")
		names := []string{}
		for _, ut := range list.Data {
			names = append(names, ut.Name)
		}
		if diff := cmp.Diff([]string{"short-lived", "=HYPERLINK(1)", "nightly export"}, names); diff != "" {
			t.Errorf("page 2 mismatch (-want +got):\n%s", diff)
		}
		m := list.Meta
		if m.Total != 6 || m.CurrentPage != 2 || m.LastPage != 2 || m.Count != 3 || *m.From != 4 || m.Path != "/api/1.0/tokens" {
			t.Errorf("meta = %+v, want total 6, page 2 of 2, 3 from 4, path /api/1.0/tokens", m)
		}
		wantPrev := "/api/1.0/tokens?created_after=2026-03-01T18%3A00%3A00Z&page=1&per_page=3&state=revoked%2Cactive%2Cexpired"
		if got := m.Links[0].URL; got == nil || *got != wantPrev {
			t.Errorf("previous link = %s, want %s", ptrString(got), wantPrev)
		}
		// A link, followed, gives the page it names.
		first, _ := f.list(t, strings.SplitN(wantPrev, "?", 2)[1])
		if diff := cmp.Diff([]string{"inventory reader", "Report Builder", "revoked one"}, first); diff != "" {
			t.Errorf("following the previous link mismatch (-want +got):\n%s", diff)
		}
		// Each item is a UserToken, with its client.
		for _, ut := range list.Data {
			if ut.Client.ID != ut.ClientID || ut.Client.Name == "" || ut.UserID == 0 {
				t.Errorf("item %s: client %+v, user %d, want its client and user", ut.Name, ut.Client, ut.UserID)
			}
		}
	})
}

func TestInventoryRefusals(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		f := newInventoryFixture(t, h)
		viewerWrite := h.mint(h.viewer, "viv's writer", []string{latchkey.ScopeTokensWrite})
		adminRead := h.mint(h.admin, "admin's reader", []string{latchkey.ScopeTokensRead})
		for _, tc := range []struct {
			name, auth, query string
			status            int
			body              string
		}{
			{"no credentials", "", "", 401, `{"error":"Unauthenticated."}`},
			{"no credentials, bad query", "", "per_page=0", 401, `{"error":"Unauthenticated."}`},
			{"a wrong token", bearer("not.a.token"), "", 401, `{"error":"Unauthenticated."}`},
			{"a plain user", bearer(h.userJWT), "", 403, `{"message":"Not authorized to update this user."}`},
			{"a plain user naming themself", bearer(h.userJWT), "user_id=" + id(h.user), 403, `{"message":"Not authorized to update this user."}`},
			{"a plain user, bad query", bearer(h.userJWT), "state=dormant", 403, `{"message":"Not authorized to update this user."}`},
			{"edit-users is not view-users", bearer(h.editorJWT), "", 403, `{"message":"Not authorized to update this user."}`},
			{"a token without tokens.read", bearer(viewerWrite), "", 403, `{"message":"This token lacks the scope tokens.read."}`},
			{"without tokens.read, bad query", bearer(viewerWrite), "state=dormant", 403, `{"message":"This token lacks the scope tokens.read."}`},
			{"an administrator's read token", bearer(adminRead), "per_page=1", 200, ""},
			{"view-users, every ability", bearer(h.viewerJWT), "per_page=1", 200, ""},
			{"view-users, tokens.read", bearer(f.reader), "per_page=1", 200, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := h.do("GET", "/api/1.0/tokens?"+tc.query, tc.auth, nil)
				if r.status != tc.status {
					t.Fatalf("status = %d %s, want %d", r.status, r.body, tc.status)
				}
				if tc.body != "" && strings.TrimSpace(string(r.body)) != tc.body {
					t.Errorf("body = %s, want %s", r.body, tc.body)
				}
				if ct := r.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q, want application/json", ct)
				}
				// The challenge: a refused token is invalid_token, a
				// missing scope insufficient_scope (RFC 6750 section 3.1).
				want := ""
				switch {
				case tc.status == 401 && tc.auth == "":
					want = "Bearer"
				case tc.status == 401:
					want = `Bearer error="invalid_token"`
				case strings.Contains(tc.body, "lacks the scope"):
					want = `Bearer error="insufficient_scope", scope="tokens.read"`
				}
				if got := r.header.Get("WWW-Authenticate"); got != want {
					t.Errorf("WWW-Authenticate = %q, want %q", got, want)
				}
			})
		}
		if r := h.do("POST", "/api/1.0/tokens", bearer(f.reader), []byte(`{}`)); r.status != 405 || r.header.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST /api/1.0/tokens = %d, Allow %q, want 405, GET, HEAD", r.status, r.header.Get("Allow"))
		}
	})
}

func TestInventoryInvalid(t *testing.T) {
	h := newHarness(t)
	f := newInventoryFixture(t, h)
	dateErr := func(label string) []string {
		return []string{"The " + label + " field must be a valid date.", httpapiMsgDateFormat}
	}
	for _, tc := range []struct {
		query  string
		errors map[string][]string
	}{
		{"user_id=abc", map[string][]string{"user_id": {"The User Id field must be a positive integer."}}},
		{"user_id=0", map[string][]string{"user_id": {"The User Id field must be a positive integer."}}},
		{"user_id=-3", map[string][]string{"user_id": {"The User Id field must be a positive integer."}}},
		{"user_id=99999999999999999999", map[string][]string{"user_id": {"The User Id field must be a positive integer."}}},
		{"client_id=1.5", map[string][]string{"client_id": {"The Client Id field must be a positive integer."}}},
		{"state=dormant", map[string][]string{"state": {"The State field must be one of active, revoked, expired."}}},
		{"state=active,", map[string][]string{"state": {"The State field must be one of active, revoked, expired."}}},
		{"state=active&state=ACTIVE", map[string][]string{"state": {"The State field must be one of active, revoked, expired."}}},
		{"created_after=yesterday", map[string][]string{"created_after": dateErr("Created After")}},
		{"created_before=2026-03-01T00:00:00", map[string][]string{"created_before": dateErr("Created Before")}},
		{"expires_after=2026-02-30", map[string][]string{"expires_after": dateErr("Expires After")}},
		{"expires_before=1772387110", map[string][]string{"expires_before": dateErr("Expires Before")}},
		{"last_used_after=2026-3-1", map[string][]string{"last_used_after": dateErr("Last Used After")}},
		{"last_used_before=now", map[string][]string{"last_used_before": dateErr("Last Used Before")}},
		{"never_used=yes", map[string][]string{"never_used": {"The Never Used field must be true or false."}}},
		{"scope=tokens+read", map[string][]string{"scope": {"The Scope field must be a scope name, e.g. tokens.read, or *."}}},
		{"scope=**", map[string][]string{"scope": {"The Scope field must be a scope name, e.g. tokens.read, or *."}}},
		{"order_by=user_id", map[string][]string{"order_by": {"The Order By field must be one of created_at, name, expires_at, last_used_at."}}},
		{"per_page=1001&state=x&never_used=2", map[string][]string{
			"per_page":   {"The Per Page field must be between 1 and 1000."},
			"state":      {"The State field must be one of active, revoked, expired."},
			"never_used": {"The Never Used field must be true or false."},
		}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			for _, accept := range []string{"", "text/csv"} {
				req, _ := http.NewRequestWithContext(t.Context(), "GET", h.srv.URL+"/api/1.0/tokens?"+tc.query, nil)
				req.Header.Set("Authorization", bearer(f.reader))
				if accept != "" {
					req.Header.Set("Accept", accept)
				}
				res, err := h.srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var p struct {
					Message string              `json:"message"`
					Errors  map[string][]string `json:"errors"`
				}
				err = json.NewDecoder(res.Body).Decode(&p)
				res.Body.Close()
				if res.StatusCode != 422 || err != nil || res.Header.Get("Content-Type") != "application/json" {
					t.Fatalf("Accept %q: %d %s (%v), want 422 in JSON", accept, res.StatusCode, res.Header.Get("Content-Type"), err)
				}
				if diff := cmp.Diff(tc.errors, p.Errors); diff != "" {
					t.Errorf("Accept %q: errors mismatch (-want +got):\n%s", accept, diff)
				}
				if len(tc.errors) == 3 && !strings.HasSuffix(p.Message, " (and 2 more errors)") {
					t.Errorf("message = %q, want the first error and 2 more", p.Message)
				}
			}
		})
	}
}

// httpapiMsgDateFormat is the second sentence of a bad date.
const httpapiMsgDateFormat = "Use an RFC 3339 date and time with a zone, e.g. 2027-01-31T00:00:00Z, or a day, e.g. 2027-01-31 (its start, in UTC)."

// csvGet asks the inventory for query as CSV with accept.
func (f *inventoryFixture) csvGet(t *testing.T, query, accept string) (*http.Response, [][]string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", f.srv.URL+"/api/1.0/tokens?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", bearer(f.reader))
	req.Header.Set("Accept", accept)
	res, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s as %s = %d", query, accept, res.StatusCode)
	}
	rows, err := csv.NewReader(res.Body).ReadAll()
	if err != nil {
		t.Fatalf("reading the CSV: %v", err)
	}
	return res, rows
}

func TestInventoryCSV(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		f := newInventoryFixture(t, h)
		res, rows := f.csvGet(t, "per_page=1&page=3", "text/csv")
		for k, want := range map[string]string{
			"Content-Type":        "text/csv; charset=utf-8; header=present",
			"Content-Disposition": `attachment; filename="tokens-20260302-004610.csv"`,
			"Cache-Control":       "no-store",
			"Vary":                "Accept",
		} {
			if got := res.Header.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
		if diff := cmp.Diff(wire.CSVColumns(), rows[0]); diff != "" {
			t.Errorf("header row mismatch (-want +got):\n%s", diff)
		}
		// No paging: every token, in the list's order.
		if len(rows) != 1+10 {
			t.Fatalf("%d rows, want the header and 10 tokens", len(rows))
		}
		col := func(name string) int { return slices.Index(rows[0], name) }
		_, list := f.list(t, "per_page=1000")
		for i, ut := range list.Data {
			row := rows[1+i]
			if row[col("id")] != ut.ID || row[col("user_id")] != strconv.FormatInt(ut.UserID, 10) {
				t.Errorf("row %d = %v, want token %s of user %d", 1+i, row, ut.ID, ut.UserID)
			}
		}
		byName := map[string][]string{}
		for _, row := range rows[1:] {
			byName[row[col("name")]] = row
		}
		if row := byName["'=HYPERLINK(1)"]; row == nil || row[col("username")] != "alice" || row[col("email")] != "alice@example.com" {
			t.Errorf("the row of =HYPERLINK(1) = %v, want its name guarded with a ' and alice's username and email", row)
		}
		if row := byName["Report Builder"]; row == nil || row[col("client_name")] != "Report Builder" || row[col("scopes")] != "tokens.write" ||
			row[col("state")] != "active" || row[col("last_used_at")] != "2026-03-02T00:46:10.000000Z" {
			t.Errorf("the row of Report Builder = %v", row)
		}
		if row := byName["revoked one"]; row == nil || row[col("state")] != "revoked" || row[col("revoked_reason")] != "admin" || row[col("revoked_at")] == "" {
			t.Errorf("the row of revoked one = %v, want revoked, by an administrator, with its time", row)
		}
		if row := byName["short-lived"]; row == nil || row[col("state")] != "expired" || row[col("expires_at")] != "2026-03-01T22:45:10.000000Z" {
			t.Errorf("the row of short-lived = %v, want expired at 22:45:10", row)
		}
		if row := byName["alice's"]; row == nil || row[col("scopes")] != "" || row[col("last_used_at")] != "" || row[col("parent_id")] != "" {
			t.Errorf("the row of alice's = %v, want no scopes, never used, no parent", row)
		}
		// The filters apply; an empty result is the header alone.
		_, rows = f.csvGet(t, "state=revoked,expired&order_by=name&order_direction=asc", "text/csv;q=0.9, application/json;q=0.5")
		if len(rows) != 3 || rows[1][col("name")] != "revoked one" || rows[2][col("name")] != "short-lived" {
			t.Errorf("state=revoked,expired as CSV = %v, want revoked one, short-lived", rows)
		}
		_, rows = f.csvGet(t, "user_id=9999", "text/csv")
		if len(rows) != 1 {
			t.Errorf("an empty inventory as CSV = %v, want the header row alone", rows)
		}
		// text/csv;q=0 is not a request for CSV.
		r := h.do("GET", "/api/1.0/tokens", bearer(f.reader), nil)
		if r.header.Get("Content-Type") != "application/json" {
			t.Errorf("without Accept: Content-Type %q, want JSON", r.header.Get("Content-Type"))
		}
	})
}

func TestInventoryCSVRefusedWithoutAccept(t *testing.T) {
	h := newHarness(t)
	f := newInventoryFixture(t, h)
	req, _ := http.NewRequestWithContext(t.Context(), "GET", h.srv.URL+"/api/1.0/tokens", nil)
	req.Header.Set("Authorization", bearer(f.reader))
	req.Header.Set("Accept", "text/csv;q=0, application/json")
	res, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Accept text/csv;q=0: Content-Type %q, want application/json", ct)
	}
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	if !json.Valid(b.Bytes()) {
		t.Errorf("Accept text/csv;q=0: body %q, want JSON", b.String())
	}
}

// gatedInventory is a store whose EachInventoryToken says when it starts
// and waits for release before it reads.
type gatedInventory struct {
	latchkey.Store
	started chan struct{}
	release chan struct{}
}

func (g *gatedInventory) EachInventoryToken(ctx context.Context, f latchkey.InventoryFilter, fn func(*latchkey.InventoryToken) error) error {
	g.started <- struct{}{}
	<-g.release
	return g.Store.EachInventoryToken(ctx, f, fn)
}

// TestInventoryExportSlots: exports beyond two at once are refused with
// 429 until one ends; pages are not limited; an export that ends gives
// its slot back.
func TestInventoryExportSlots(t *testing.T) {
	gate := &gatedInventory{started: make(chan struct{}), release: make(chan struct{})}
	h := newHarnessOn(t, httpapi.Options{}, func(db *sqlite.DB) latchkey.Store {
		gate.Store = db
		return gate
	})
	f := newInventoryFixture(t, h)
	get := func(accept string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", h.srv.URL+"/api/1.0/tokens", nil)
		req.Header.Set("Authorization", bearer(f.reader))
		req.Header.Set("Accept", accept)
		return h.srv.Client().Do(req)
	}
	type answer struct {
		rows [][]string
		err  error
	}
	done := make(chan answer, 2)
	for range 2 {
		go func() {
			res, err := get("text/csv")
			if err != nil {
				done <- answer{err: err}
				return
			}
			defer res.Body.Close()
			rows, err := csv.NewReader(res.Body).ReadAll()
			done <- answer{rows, err}
		}()
	}
	<-gate.started
	<-gate.started
	res, err := get("text/csv")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "5" {
		t.Errorf("a third export at once = %d (Retry-After %q), want 429, Retry-After 5", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if res, err := get("application/json"); err != nil || res.StatusCode != 200 {
		t.Errorf("a page while two exports run = %v, %v, want 200", res, err)
	} else {
		res.Body.Close()
	}
	close(gate.release)
	for range 2 {
		a := <-done
		if a.err != nil || len(a.rows) != 1+10 {
			t.Fatalf("an export within the limit: %d rows, %v; want 11", len(a.rows), a.err)
		}
	}
	// Each answer ends after its handler returned, and gave its slot back.
	for range 3 {
		go func() { <-gate.started }()
	}
	for range 3 {
		res, err := get("text/csv")
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(res.Body).ReadAll()
		res.Body.Close()
		if res.StatusCode != 200 || err != nil || len(rows) != 11 {
			t.Fatalf("an export after the others ended = %d, %d rows, %v; want 200 and 11 rows", res.StatusCode, len(rows), err)
		}
	}
}

func ptrString(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

// TestClientInventory drives the inventory with the Go client on the real
// server: a page by each kind of option, every page by the iterator, the
// CSV, and the refusals mapped back to their codes.
func TestClientInventory(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		f := newInventoryFixture(t, h)
		ctx := t.Context()
		c, err := client.New(h.srv.URL, client.WithBearerToken(f.reader))
		if err != nil {
			t.Fatal(err)
		}
		names := func(ts []*latchkey.Token) []string {
			out := []string{}
			for _, tok := range ts {
				out = append(out, tok.Name)
			}
			return out
		}
		after := start.Add(time.Hour + time.Microsecond) // just after nightly export was made
		for _, tc := range []struct {
			name string
			opts client.InventoryOptions
			want []string
		}{
			{"user", client.InventoryOptions{UserID: h.user.ID, OrderBy: latchkey.OrderName, Ascending: true},
				[]string{"=HYPERLINK(1)", "alice's", "nightly export", "Report Builder"}},
			{"client", client.InventoryOptions{ClientID: f.app}, []string{"Report Builder"}},
			{"states", client.InventoryOptions{States: []latchkey.TokenState{latchkey.StateRevoked, latchkey.StateExpired}}, []string{"revoked one", "short-lived"}},
			{"created", client.InventoryOptions{CreatedAfter: &after, CreatedBefore: ptr(start.Add(3 * time.Hour))}, []string{"=HYPERLINK(1)"}},
			{"expires", client.InventoryOptions{ExpiresBefore: ptr(start.Add(8*time.Hour + time.Microsecond)), ExpiresAfter: ptr(start.Add(6 * time.Hour))}, []string{"Report Builder"}},
			{"used", client.InventoryOptions{NeverUsed: ptr(false), LastUsedAfter: ptr(start), LastUsedBefore: ptr(start.Add(24 * time.Hour))}, []string{"inventory reader", "Report Builder"}},
			{"scope", client.InventoryOptions{Scope: latchkey.ScopeAll, Filter: "S", OrderBy: latchkey.OrderName}, []string{"viv's", "short-lived", "ed's", "alice's", "admin's"}},
		} {
			page, err := c.Inventory(ctx, tc.opts)
			if err != nil {
				t.Fatalf("Inventory(%s) = %v", tc.name, err)
			}
			if diff := cmp.Diff(tc.want, names(page.Tokens)); diff != "" {
				t.Errorf("Inventory(%s) mismatch (-want +got):\n%s", tc.name, diff)
			}
			if page.Total != len(tc.want) {
				t.Errorf("Inventory(%s).Total = %d, want %d", tc.name, page.Total, len(tc.want))
			}
		}

		// Every page, three at a time, is the whole list.
		whole, err := c.Inventory(ctx, client.InventoryOptions{PerPage: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var walked []*latchkey.Token
		for tok, err := range c.AllInventory(ctx, client.InventoryOptions{PerPage: 3}) {
			if err != nil {
				t.Fatalf("AllInventory: %v", err)
			}
			walked = append(walked, tok)
		}
		if diff := cmp.Diff(names(whole.Tokens), names(walked)); diff != "" || len(walked) != 10 {
			t.Errorf("AllInventory (3 a page) mismatch (-want +got):\n%s", diff)
		}
		n := 0
		for range c.AllInventory(ctx, client.InventoryOptions{PerPage: 3}) {
			if n++; n == 4 {
				break
			}
		}

		// The CSV: every token, the list's order.
		var buf bytes.Buffer
		if _, err := c.InventoryCSV(ctx, client.InventoryOptions{PerPage: 2, States: []latchkey.TokenState{latchkey.StateActive}}, &buf); err != nil {
			t.Fatalf("InventoryCSV = %v", err)
		}
		rows, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1+8 || rows[1][0] != whole.Tokens[0].ID {
			t.Errorf("InventoryCSV: %d rows, first %v; want the header and the 8 active tokens, newest first", len(rows), rows[1])
		}

		// Refusals, mapped back to their codes.
		plain, _ := client.New(h.srv.URL, client.WithBearerToken(h.userJWT))
		if _, err := plain.Inventory(ctx, client.InventoryOptions{}); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN || client.StatusCode(err) != 403 {
			t.Errorf("a plain user's Inventory = %v, want EFORBIDDEN 403", err)
		}
		if _, err := plain.InventoryCSV(ctx, client.InventoryOptions{}, &buf); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN || latchkey.ErrorMessage(err) != latchkey.MsgNotAuthorized {
			t.Errorf("a plain user's InventoryCSV = %v, want EFORBIDDEN with the contract's sentence", err)
		}
		_, err = c.Inventory(ctx, client.InventoryOptions{PerPage: 5000, Scope: "a b", States: []latchkey.TokenState{"dormant"}})
		var e *latchkey.Error
		if latchkey.ErrorCode(err) != latchkey.EINVALID || !asError(err, &e) || e.Fields.Get("per_page") == nil || e.Fields.Get("scope") == nil || e.Fields.Get("state") == nil {
			t.Errorf("bad options: Inventory = %v, want EINVALID on per_page, state and scope", err)
		}
		anon, _ := client.New(h.srv.URL)
		for tok, err := range anon.AllInventory(ctx, client.InventoryOptions{}) {
			if tok != nil || latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
				t.Errorf("AllInventory without credentials yields %v, %v; want EUNAUTHENTICATED", tok, err)
			}
		}
	})
}
