package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/service"
	"github.com/latchkey/latchkey/internal/wire"
)

func tokensPath(uid int64) string { return "/api/1.0/users/" + strconv.FormatInt(uid, 10) + "/tokens" }

func tokenPath(uid int64, id string) string { return tokensPath(uid) + "/" + id }

var zeroID = strings.Repeat("0", 80)

// TestGolden pins every response shape of the contract, byte for byte.
func TestGolden(t *testing.T) {
	h := newHarness(t)
	u := h.user.ID

	created := h.do("POST", tokensPath(u), bearer(h.userJWT), []byte(`{"name":"nightly export"}`))
	h.golden("create-201", created)
	var c wire.CreatedToken
	if err := json.Unmarshal(created.body, &c); err != nil {
		t.Fatal(err)
	}
	h.golden("create-201-scoped", h.do("POST", tokensPath(u), bearer(h.userJWT),
		[]byte(`{"name":"reader","scopes":["tokens.read"],"expires_at":"2026-04-01T00:00:00Z"}`)))
	h.golden("show-200", h.do("GET", tokenPath(u, c.ID), bearer(h.userJWT), nil))
	h.golden("list-200", h.do("GET", tokensPath(u)+"?per_page=2&page=2", bearer(h.userJWT), nil))
	h.golden("list-200-empty", h.do("GET", tokensPath(u)+"?filter=nothing", bearer(h.userJWT), nil))
	h.golden("delete-204", h.do("DELETE", tokenPath(u, c.ID), bearer(h.userJWT), nil))
	h.golden("error-400", h.do("POST", tokensPath(u), bearer(h.userJWT), []byte(`{"name":`)))
	h.golden("error-401", h.do("GET", tokensPath(u), "", nil))
	h.golden("error-403", h.do("GET", tokensPath(h.admin.ID), bearer(h.userJWT), nil))
	h.golden("error-403-scope", h.do("POST", tokensPath(u), bearer(h.mint(h.user, "r", []string{"tokens.read"})), []byte(`{"name":"x"}`)))
	h.golden("error-403-grant", h.do("POST", tokensPath(u), bearer(h.mint(h.user, "w", []string{"tokens.write"})), []byte(`{"name":"x"}`)))
	h.golden("error-404", h.do("GET", tokenPath(u, zeroID), bearer(h.userJWT), nil))
	h.golden("error-404-path", h.do("GET", "/api/1.0/nope", "", nil))
	h.golden("error-405", h.do("PUT", tokensPath(u), bearer(h.userJWT), nil))
	h.golden("error-413", h.do("POST", tokensPath(u), bearer(h.userJWT), []byte(`{"name":"x"`+strings.Repeat(" ", 64<<10)+`}`)))
	h.golden("error-422", h.do("POST", tokensPath(u), bearer(h.userJWT), []byte(`{"scopes":"x","expires_at":"2020-01-01T00:00:00Z"}`)))
	h.golden("error-422-list", h.do("GET", tokensPath(u)+"?per_page=0&page=x&order_by=id&order_direction=up", bearer(h.userJWT), nil))
}

// problemOf decodes an error body.
func problemOf(t *testing.T, r *response) wire.Problem {
	t.Helper()
	var p wire.Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("error body %s: %v", r.body, err)
	}
	return p
}

func TestCreateValidation(t *testing.T) {
	h := newHarness(t)
	max := start.AddDate(1, 0, 0).Format(wire.DateLayout)
	// Not a date: the contract's sentence first (callers match on it),
	// then the form wanted.
	const notADate = "The Expires At field must be a valid date. (and 1 more error)"
	notADateErrors := []string{"The Expires At field must be a valid date.", "Use an RFC 3339 date and time with a zone, e.g. 2027-01-31T00:00:00Z."}
	for _, tc := range []struct {
		name    string
		body    string
		message string
		errors  map[string][]string
	}{
		{"empty body", ``, "The Name field is required.", map[string][]string{"name": {"The Name field is required."}}},
		{"empty object", `{}`, "The Name field is required.", map[string][]string{"name": {"The Name field is required."}}},
		{"null name", `{"name":null}`, "The Name field is required.", map[string][]string{"name": {"The Name field is required."}}},
		{"blank name", `{"name":" \t\n"}`, "The Name field is required.", map[string][]string{"name": {"The Name field is required."}}},
		{"long name", `{"name":"` + strings.Repeat("é", 256) + `"}`, "The Name field must not be greater than 255 characters.", map[string][]string{"name": {"The Name field must not be greater than 255 characters."}}},
		{"number name", `{"name":42}`, "The Name field must be a string.", map[string][]string{"name": {"The Name field must be a string."}}},
		{"object name", `{"name":{"a":1}}`, "The Name field must be a string.", map[string][]string{"name": {"The Name field must be a string."}}},
		{"scopes string", `{"name":"x","scopes":"tokens.read"}`, "The Scopes field must be an array.", map[string][]string{"scopes": {"The Scopes field must be an array."}}},
		{"scopes null", `{"name":"x","scopes":null}`, "The Scopes field must be an array.", map[string][]string{"scopes": {"The Scopes field must be an array."}}},
		{"unknown scope", `{"name":"x","scopes":["tokens.read","nope"]}`, "The selected Scopes is invalid.", map[string][]string{"scopes": {"The selected Scopes is invalid."}}},
		{"number scope", `{"name":"x","scopes":[1]}`, "The selected Scopes is invalid.", map[string][]string{"scopes": {"The selected Scopes is invalid."}}},
		{"past expiry", `{"name":"x","expires_at":"2026-03-01T17:45:09Z"}`, "The Expires At field must be a date after now.", map[string][]string{"expires_at": {"The Expires At field must be a date after now."}}},
		{"expiry now", `{"name":"x","expires_at":"2026-03-01T17:45:10Z"}`, "The Expires At field must be a date after now.", map[string][]string{"expires_at": {"The Expires At field must be a date after now."}}},
		{"expiry too far", `{"name":"x","expires_at":"2027-03-01T17:45:11Z"}`, "The Expires At field must be a date before or equal to " + max + ".", map[string][]string{"expires_at": {"The Expires At field must be a date before or equal to " + max + "."}}},
		{"expiry no zone", `{"name":"x","expires_at":"2026-06-01T00:00:00"}`, notADate, map[string][]string{"expires_at": notADateErrors}},
		{"expiry date only", `{"name":"x","expires_at":"2027-01-31"}`, notADate, map[string][]string{"expires_at": notADateErrors}},
		{"expiry words", `{"name":"x","expires_at":"next tuesday"}`, notADate, map[string][]string{"expires_at": notADateErrors}},
		{"expiry number", `{"name":"x","expires_at":123}`, notADate, map[string][]string{"expires_at": notADateErrors}},
		// A key of ours in another case is a typo: refused by its name as
		// sent, not ignored into a token with every ability.
		{"key case Scopes", `{"name":"x","Scopes":["tokens.read"]}`, httpapi.MsgKeyCase("Scopes"), map[string][]string{"Scopes": {httpapi.MsgKeyCase("Scopes")}}},
		{"key case NAME", `{"NAME":"x"}`, "The Name field is required. (and 1 more error)", map[string][]string{
			"name": {"The Name field is required."}, "NAME": {"The NAME field is not known: keys are case-sensitive; did you mean name?"}}},
		{"key case Expires_At", `{"name":"x","Expires_At":"2027-01-01T00:00:00Z"}`, httpapi.MsgKeyCase("Expires_At"), map[string][]string{"Expires_At": {httpapi.MsgKeyCase("Expires_At")}}},
		{"two fields", `{"scopes":"x"}`, "The Name field is required. (and 1 more error)", map[string][]string{
			"name": {"The Name field is required."}, "scopes": {"The Scopes field must be an array."}}},
		{"three fields", `{"name":1,"scopes":{},"expires_at":"x"}`, "The Name field must be a string. (and 3 more errors)", map[string][]string{
			"name": {"The Name field must be a string."}, "scopes": {"The Scopes field must be an array."}, "expires_at": notADateErrors}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("POST", tokensPath(h.user.ID), bearer(h.userJWT), []byte(tc.body))
			if r.status != 422 {
				t.Fatalf("POST %s = %d %s, want 422", tc.body, r.status, r.body)
			}
			p := problemOf(t, r)
			got := map[string][]string{}
			for _, f := range p.Errors {
				got[f.Field] = f.Sentences
			}
			if p.Message != tc.message {
				t.Errorf("message = %q, want %q", p.Message, tc.message)
			}
			if diff := cmp.Diff(tc.errors, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("field order", func(t *testing.T) {
		r := h.do("POST", tokensPath(h.user.ID), bearer(h.userJWT), []byte(`{"expires_at":"x","scopes":1}`))
		var fields []string
		for _, f := range problemOf(t, r).Errors {
			fields = append(fields, f.Field)
		}
		if want := []string{"name", "scopes", "expires_at"}; !slices.Equal(fields, want) {
			t.Errorf("error fields = %v, want %v", fields, want)
		}
	})
}

func TestCreateAccepts(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name, body   string
		wantName     string
		wantScopes   []string
		wantExpires  string
		wantStatusOK bool
	}{
		{"trimmed", `{"name":"  padded\t"}`, "padded", []string{}, "2027-03-01T17:45:10.000000Z", true},
		{"255 multibyte", `{"name":"` + strings.Repeat("é", 255) + `"}`, strings.Repeat("é", 255), []string{}, "2027-03-01T17:45:10.000000Z", true},
		{"markup kept", `{"name":"<script>alert(1)</script>"}`, "<script>alert(1)</script>", []string{}, "2027-03-01T17:45:10.000000Z", true},
		{"scopes deduplicated", `{"name":"s","scopes":["tokens.read","tokens.read","reports.read"]}`, "s", []string{"tokens.read", "reports.read"}, "2027-03-01T17:45:10.000000Z", true},
		{"star", `{"name":"s","scopes":["*"]}`, "s", []string{"*"}, "2027-03-01T17:45:10.000000Z", true},
		{"expiry with offset", `{"name":"e","expires_at":"2026-06-01T02:00:00+02:00"}`, "e", []string{}, "2026-06-01T00:00:00.000000Z", true},
		{"expiry at max", `{"name":"e","expires_at":"2027-03-01T17:45:10Z"}`, "e", []string{}, "2027-03-01T17:45:10.000000Z", true},
		{"null expiry is default", `{"name":"e","expires_at":null}`, "e", []string{}, "2027-03-01T17:45:10.000000Z", true},
		{"unknown keys ignored", `{"name":"u","colour":"blue"}`, "u", []string{}, "2027-03-01T17:45:10.000000Z", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("POST", tokensPath(h.user.ID), bearer(h.userJWT), []byte(tc.body))
			if r.status != 201 {
				t.Fatalf("POST %s = %d %s, want 201", tc.body, r.status, r.body)
			}
			var c wire.CreatedToken
			if err := json.Unmarshal(r.body, &c); err != nil {
				t.Fatal(err)
			}
			if c.Name != tc.wantName || !slices.Equal(c.Scopes, tc.wantScopes) {
				t.Errorf("created name %q scopes %q, want %q %q", c.Name, c.Scopes, tc.wantName, tc.wantScopes)
			}
			if got := c.ExpiresAt.UTC().Format(wire.DateLayout); got != tc.wantExpires {
				t.Errorf("expires_at = %s, want %s", got, tc.wantExpires)
			}
			if c.AccessToken == "" || c.Token.ID != c.ID {
				t.Errorf("accessToken %q, token.id %q: want a JWT and the same token", c.AccessToken, c.Token.ID)
			}
		})
	}
}

func TestMalformedBodies(t *testing.T) {
	h := newHarness(t)
	for _, body := range []string{`{"name":`, `{name:"x"}`, `{"name":"x"} x`, `{"name":"x"}{"name":"y"}`, `[]`, `null`, `"name"`, `42`, "\xff"} {
		r := h.do("POST", tokensPath(h.user.ID), bearer(h.userJWT), []byte(body))
		if r.status != 400 || string(r.body) != `{"message":"The request body is not valid JSON."}`+"\n" {
			t.Errorf("POST %q = %d %s, want 400 not valid JSON", body, r.status, r.body)
		}
	}
	exact := append([]byte(`{"name":"x"`), []byte(strings.Repeat(" ", 64<<10-len(`{"name":"x"`)-1)+"}")...)
	if r := h.do("POST", tokensPath(h.user.ID), bearer(h.userJWT), exact); r.status != 201 {
		t.Errorf("POST of exactly 64 KiB = %d %s, want 201", r.status, r.body)
	}
	over := append(exact, ' ')
	if r := h.do("POST", tokensPath(h.user.ID), bearer(h.userJWT), over); r.status != 413 {
		t.Errorf("POST of 64 KiB + 1 = %d %s, want 413", r.status, r.body)
	}
}

// TestPermissions is the contract's permission table: each caller against
// each operation on the plain user's tokens and on the admin's.
func TestPermissions(t *testing.T) {
	h := newHarness(t)
	type op struct {
		name string
		run  func(auth string, owner int64) int
	}
	victim := func(owner int64) string {
		u := h.user
		if owner == h.admin.ID {
			u = h.admin
		}
		tok, _, err := h.mintToken(u, "victim", nil)
		if err != nil {
			t.Fatal(err)
		}
		return tok.ID
	}
	ops := []op{
		{"list", func(a string, o int64) int { return h.do("GET", tokensPath(o), a, nil).status }},
		{"show", func(a string, o int64) int { return h.do("GET", tokenPath(o, victim(o)), a, nil).status }},
		{"create", func(a string, o int64) int { return h.do("POST", tokensPath(o), a, []byte(`{"name":"p"}`)).status }},
		{"delete", func(a string, o int64) int { return h.do("DELETE", tokenPath(o, victim(o)), a, nil).status }},
	}
	for _, tc := range []struct {
		caller string
		auth   string
		owner  int64
		want   map[string]int
	}{
		{"user on self", bearer(h.userJWT), h.user.ID, map[string]int{"list": 200, "show": 200, "create": 201, "delete": 204}},
		{"user on admin", bearer(h.userJWT), h.admin.ID, map[string]int{"list": 403, "show": 403, "create": 403, "delete": 403}},
		{"admin on user", bearer(h.adminJWT), h.user.ID, map[string]int{"list": 200, "show": 200, "create": 201, "delete": 204}},
		{"viewer on user", bearer(h.viewerJWT), h.user.ID, map[string]int{"list": 200, "show": 200, "create": 403, "delete": 403}},
		{"editor on user", bearer(h.editorJWT), h.user.ID, map[string]int{"list": 403, "show": 403, "create": 403, "delete": 204}},
		{"nobody", "", h.user.ID, map[string]int{"list": 401, "show": 401, "create": 401, "delete": 401}},
		{"garbage", "Bearer garbage", h.user.ID, map[string]int{"list": 401, "show": 401, "create": 401, "delete": 401}},
		{"star token on admin", bearer(h.mint(h.user, "star", []string{"*"})), h.admin.ID, map[string]int{"list": 403, "show": 403, "create": 403, "delete": 403}},
		{"admin read token on user", bearer(h.mint(h.admin, "ro", []string{"tokens.read"})), h.user.ID, map[string]int{"list": 200, "show": 200, "create": 403, "delete": 403}},
		{"admin write token on user", bearer(h.mint(h.admin, "wo", []string{"tokens.write"})), h.user.ID, map[string]int{"list": 403, "show": 403, "create": 403, "delete": 204}},
		{"other scope only", bearer(h.mint(h.user, "rep", []string{"reports.read"})), h.user.ID, map[string]int{"list": 403, "show": 403, "create": 403, "delete": 403}},
		{"revoked token", bearer(revokedJWT(h)), h.user.ID, map[string]int{"list": 401, "show": 401, "create": 401, "delete": 401}},
		{"expired token", bearer(expiredJWT(h)), h.user.ID, map[string]int{"list": 401, "show": 401, "create": 401, "delete": 401}},
		{"revoked token on admin", bearer(revokedJWT(h)), h.admin.ID, map[string]int{"list": 401, "show": 401, "create": 401, "delete": 401}},
		// OAuth access tokens: the user's rights, limited by what the
		// person approved for the application.
		{"oauth read token on self", bearer(oauthJWT(h, h.user, "Reader", []string{"tokens.read"}, false)), h.user.ID, map[string]int{"list": 200, "show": 200, "create": 403, "delete": 403}},
		{"oauth star token on self", bearer(oauthJWT(h, h.user, "Helper", []string{"*"}, false)), h.user.ID, map[string]int{"list": 200, "show": 200, "create": 201, "delete": 204}},
		{"oauth star token on admin", bearer(oauthJWT(h, h.user, "Helper", []string{"*"}, false)), h.admin.ID, map[string]int{"list": 403, "show": 403, "create": 403, "delete": 403}},
		{"admin's oauth read token on user", bearer(oauthJWT(h, h.admin, "Auditor", []string{"tokens.read"}, false)), h.user.ID, map[string]int{"list": 200, "show": 200, "create": 403, "delete": 403}},
		{"oauth token of a revoked application", bearer(oauthJWT(h, h.user, "Gone", []string{"*"}, true)), h.user.ID, map[string]int{"list": 401, "show": 401, "create": 401, "delete": 401}},
	} {
		for _, o := range ops {
			t.Run(tc.caller+"/"+o.name, func(t *testing.T) {
				if got := o.run(tc.auth, tc.owner); got != tc.want[o.name] {
					t.Errorf("%s %s = %d, want %d", tc.caller, o.name, got, tc.want[o.name])
				}
			})
		}
	}
}

// TestCheckOrder: 401, then 404 for the user, then 403, then 400/422, then
// 404 for the token.
func TestCheckOrder(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name, method, path, auth, body string
		want                           int
	}{
		{"401 before 404 user", "GET", tokensPath(999999999), "", "", 401},
		{"401 before 404 non-numeric", "GET", "/api/1.0/users/abc/tokens", "Bearer x", "", 401},
		{"401 before 403", "DELETE", tokenPath(h.admin.ID, zeroID), "Bearer x", "", 401},
		{"404 user before 403", "GET", tokensPath(999999999), bearer(h.userJWT), "", 404},
		{"404 user before 422", "POST", tokensPath(999999999), bearer(h.adminJWT), "{}", 404},
		{"404 huge id", "GET", "/api/1.0/users/99999999999999999999999/tokens", bearer(h.adminJWT), "", 404},
		{"404 zero id", "GET", tokensPath(0), bearer(h.adminJWT), "", 404},
		{"404 negative id", "GET", "/api/1.0/users/-1/tokens", bearer(h.adminJWT), "", 404},
		{"404 spaced id", "GET", "/api/1.0/users/%201/tokens", bearer(h.adminJWT), "", 404},
		{"403 before 422", "POST", tokensPath(h.admin.ID), bearer(h.userJWT), `{"name":42}`, 403},
		{"403 before 400", "POST", tokensPath(h.admin.ID), bearer(h.userJWT), `{"name":`, 403},
		{"403 before list 422", "GET", tokensPath(h.admin.ID) + "?per_page=0", bearer(h.userJWT), "", 403},
		{"403 before token 404", "DELETE", tokenPath(h.admin.ID, zeroID), bearer(h.userJWT), "", 403},
		{"scope 403 before 422", "POST", tokensPath(h.user.ID), bearer(h.mint(h.user, "r", []string{"tokens.read"})), `{}`, 403},
		{"422 before grant 403", "POST", tokensPath(h.user.ID), bearer(h.mint(h.user, "w", []string{"tokens.write"})), `{"scopes":["*"]}`, 422},
		{"token 404 odd id", "GET", tokenPath(h.user.ID, "zz"), bearer(h.userJWT), "", 404},
		{"token 404 long id", "DELETE", tokenPath(h.user.ID, strings.Repeat("a", 5000)), bearer(h.userJWT), "", 404},
		{"extra segment", "GET", tokenPath(h.user.ID, zeroID) + "/extra", bearer(h.userJWT), "", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			if r := h.do(tc.method, tc.path, tc.auth, body); r.status != tc.want {
				t.Errorf("%s %s = %d %s, want %d", tc.method, tc.path, r.status, r.body, tc.want)
			}
		})
	}
}

func TestScopes(t *testing.T) {
	h := newHarness(t)
	w := h.mint(h.user, "w", []string{"tokens.write"})
	for _, tc := range []struct {
		name   string
		scopes string
		want   int
	}{
		{"subset", `["tokens.write"]`, 201},
		{"empty is everything", `[]`, 403},
		{"absent is everything", ``, 403},
		{"star", `["*"]`, 403},
		{"more", `["tokens.write","tokens.read"]`, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"name":"minted"}`
			if tc.scopes != "" {
				body = `{"name":"minted","scopes":` + tc.scopes + `}`
			}
			r := h.do("POST", tokensPath(h.user.ID), bearer(w), []byte(body))
			if r.status != tc.want {
				t.Fatalf("create with %s = %d %s, want %d", body, r.status, r.body, tc.want)
			}
			if r.status == 403 && problemOf(t, r).Message != latchkey.MsgCannotGrant {
				t.Errorf("403 message = %q, want %q", problemOf(t, r).Message, latchkey.MsgCannotGrant)
			}
		})
	}
	t.Run("lacks scope message", func(t *testing.T) {
		r := h.do("GET", tokensPath(h.user.ID), bearer(w), nil)
		if p := problemOf(t, r); r.status != 403 || p.Message != "This token lacks the scope tokens.read." {
			t.Errorf("list with a write token = %d %q, want 403 lacks tokens.read", r.status, p.Message)
		}
	})
	t.Run("limited admin token mints for itself only", func(t *testing.T) {
		aw := h.mint(h.admin, "aw", []string{"tokens.write"})
		r := h.do("POST", tokensPath(h.user.ID), bearer(aw), []byte(`{"name":"x","scopes":["tokens.write"]}`))
		if r.status != 403 || problemOf(t, r).Message != latchkey.MsgOwnUserOnly {
			t.Errorf("limited admin token creating for another user = %d %s, want 403 %q (the true reason, not %q)", r.status, r.body, latchkey.MsgOwnUserOnly, latchkey.MsgCannotGrant)
		}
	})
}

func TestAuthentication(t *testing.T) {
	h := newHarness(t)
	list := func(auth string) int { return h.do("GET", tokensPath(h.user.ID), auth, nil).status }
	for _, tc := range []struct {
		name string
		auth string
		want int
	}{
		{"bearer", "Bearer " + h.userJWT, 200},
		{"lower-case scheme", "bearer " + h.userJWT, 200},
		{"upper-case scheme", "BEARER " + h.userJWT, 200},
		{"raw api key", h.userJWT, 200},
		{"extra spaces", "Bearer   " + h.userJWT + "  ", 200},
		{"basic", "Basic dXNlcjpwYXNz", 401},
		{"bearer alone", "Bearer", 401},
		{"bearer empty", "Bearer ", 401},
		{"garbage", "garbage", 401},
		{"three dots", "Bearer a.b.c", 401},
		{"two tokens", "Bearer " + h.userJWT + " " + h.userJWT, 401},
		{"truncated", "Bearer " + h.userJWT[:len(h.userJWT)-2], 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := list(tc.auth); got != tc.want {
				t.Errorf("list with %.30q… = %d, want %d", tc.auth, got, tc.want)
			}
		})
	}
	t.Run("401 shape", func(t *testing.T) {
		// Without the authorization server there is no metadata to
		// point to: the challenge says only whether a token was
		// refused (RFC 6750 section 3.1).
		for _, tc := range []struct{ auth, want string }{
			{"", "Bearer"},
			{"Basic dXNlcjpwYXNz", "Bearer"},
			// One word is a raw key (pm_api_key), even this one.
			{"Bearer", `Bearer error="invalid_token"`},
			{"Bearer nope", `Bearer error="invalid_token"`},
			{"nope", `Bearer error="invalid_token"`},
		} {
			r := h.do("GET", tokensPath(h.user.ID), tc.auth, nil)
			if r.header.Get("WWW-Authenticate") != tc.want || string(r.body) != `{"error":"Unauthenticated."}`+"\n" {
				t.Errorf("401 with %q = %q %s, want %q %s", tc.auth, r.header.Get("WWW-Authenticate"), r.body, tc.want, `{"error":"Unauthenticated."}`)
			}
		}
	})
	t.Run("query and form tokens ignored", func(t *testing.T) {
		for _, p := range []string{"access_token", "token", "api_token"} {
			if r := h.do("GET", tokensPath(h.user.ID)+"?"+p+"="+h.userJWT, "", nil); r.status != 401 {
				t.Errorf("token in ?%s = %d, want 401", p, r.status)
			}
		}
		req, _ := http.NewRequest("POST", h.srv.URL+tokensPath(h.user.ID), strings.NewReader("access_token="+h.userJWT+"&name=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := h.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 401 {
			t.Errorf("token in a form = %d, want 401", res.StatusCode)
		}
	})
	t.Run("expired", func(t *testing.T) {
		at := h.clock.Now().Add(time.Hour)
		name := "short"
		_, jwt, err := h.svc.OperatorCreateToken(t.Context(), h.user, service.TokenRequest{Name: &name, ExpiresAt: &at})
		if err != nil {
			t.Fatal(err)
		}
		if got := list(bearer(jwt)); got != 200 {
			t.Fatalf("before expiry = %d, want 200", got)
		}
		h.clock.Advance(time.Hour)
		defer h.clock.Advance(-time.Hour)
		if got := list(bearer(jwt)); got != 401 {
			t.Errorf("at expiry = %d, want 401", got)
		}
	})
	t.Run("revoked at once", func(t *testing.T) {
		tok, jwt, _ := h.mintToken(h.user, "soon revoked", nil)
		if r := h.do("DELETE", tokenPath(h.user.ID, tok.ID), bearer(jwt), nil); r.status != 204 {
			t.Fatalf("self-delete = %d", r.status)
		}
		if got := list(bearer(jwt)); got != 401 {
			t.Errorf("after DELETE = %d, want 401", got)
		}
	})
	t.Run("disabled and deleted users", func(t *testing.T) {
		bob := h.newUser(service.NewUser{Username: "bob", Email: "bob@example.com"})
		jwt := h.mint(bob, "bob's", nil)
		path := tokensPath(bob.ID)
		if r := h.do("GET", path, bearer(jwt), nil); r.status != 200 {
			t.Fatalf("active = %d", r.status)
		}
		inactive := latchkey.StatusInactive
		if _, err := h.svc.UpdateUser(t.Context(), bob.ID, service.UserChange{UserUpdate: latchkey.UserUpdate{Status: &inactive}}); err != nil {
			t.Fatal(err)
		}
		if r := h.do("GET", path, bearer(jwt), nil); r.status != 401 {
			t.Errorf("inactive user's token = %d, want 401", r.status)
		}
		if r := h.do("GET", path, bearer(h.adminJWT), nil); r.status != 200 {
			t.Errorf("admin listing an inactive user = %d, want 200", r.status)
		}
		if err := h.svc.DeleteUser(t.Context(), bob.ID); err != nil {
			t.Fatal(err)
		}
		if r := h.do("GET", path, bearer(h.adminJWT), nil); r.status != 404 {
			t.Errorf("admin listing a deleted user = %d, want 404", r.status)
		}
	})
	t.Run("revoked client", func(t *testing.T) {
		jwt := h.mint(h.user, "client goes", nil)
		// A second personal access client's revocation must not matter;
		// the issuing client's does.
		if _, err := h.store.RevokeClient(t.Context(), latchkey.PersonalAccessClientID, h.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if got := list(bearer(jwt)); got != 401 {
			t.Errorf("token of a revoked client = %d, want 401", got)
		}
	})
}

func TestList(t *testing.T) {
	h := newHarness(t)
	u := h.user.ID
	var ids []string // oldest first; alice's own token is first of all
	names := []string{"Alpha", "beta", "100%", "1000", "a_c", "abc", "ÉCOLE"}
	for i, n := range names {
		h.clock.Advance(time.Second)
		at := h.clock.Now().AddDate(0, 0, 30-i)
		tok, _, err := h.svc.OperatorCreateToken(t.Context(), h.user, service.TokenRequest{Name: &n, ExpiresAt: &at})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tok.ID)
	}
	revoked, _, _ := h.mintToken(h.user, "revoked", nil)
	if _, err := h.svc.OperatorRevokeToken(t.Context(), revoked.ID); err != nil {
		t.Fatal(err)
	}
	list := func(q string) wire.TokenList {
		t.Helper()
		r := h.do("GET", tokensPath(u)+"?"+q, bearer(h.userJWT), nil)
		if r.status != 200 {
			t.Fatalf("GET ?%s = %d %s", q, r.status, r.body)
		}
		var l wire.TokenList
		if err := json.Unmarshal(r.body, &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	namesOf := func(l wire.TokenList) []string {
		var out []string
		for _, t := range l.Data {
			out = append(out, t.Name)
		}
		return out
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"ÉCOLE", "abc", "a_c", "1000", "100%", "beta", "Alpha", "alice's"}},
		{"order_direction=asc", []string{"alice's", "Alpha", "beta", "100%", "1000", "a_c", "abc", "ÉCOLE"}},
		{"order_by=name&order_direction=asc", []string{"100%", "1000", "a_c", "abc", "alice's", "Alpha", "beta", "ÉCOLE"}},
		{"order_by=name", []string{"ÉCOLE", "beta", "Alpha", "alice's", "abc", "a_c", "1000", "100%"}},
		{"order_by=expires_at&order_direction=asc", []string{"ÉCOLE", "abc", "a_c", "1000", "100%", "beta", "Alpha", "alice's"}},
		{"filter=ALPHA", []string{"Alpha"}},
		{"filter=100%25", []string{"100%"}},
		{"filter=a_c", []string{"a_c"}},
		{"filter=%C3%A9cole", []string{"ÉCOLE"}},
		{"filter=zzz", nil},
	} {
		t.Run("query "+tc.query, func(t *testing.T) {
			if got := namesOf(list(tc.query)); !slices.Equal(got, tc.want) {
				t.Errorf("names = %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("pages", func(t *testing.T) {
		p1, p3 := list("per_page=3"), list("per_page=3&page=3&filter=")
		if got := namesOf(p1); !slices.Equal(got, []string{"ÉCOLE", "abc", "a_c"}) {
			t.Errorf("page 1 = %q", got)
		}
		m := p3.Meta
		if m.Total != 8 || m.Count != 2 || m.TotalPages != 3 || m.LastPage != 3 || *m.From != 7 || *m.Form != 7 || *m.To != 8 || m.CurrentPage != 3 {
			t.Errorf("page 3 meta = %+v", m)
		}
		if len(m.Links) != 5 || m.Links[0].URL == nil || m.Links[4].URL != nil || !m.Links[3].Active {
			t.Errorf("page 3 links = %+v", m.Links)
		}
		if want := "/api/1.0/users/" + strconv.FormatInt(u, 10) + "/tokens?filter=&page=2&per_page=3"; *m.Links[0].URL != want {
			t.Errorf("previous url = %q, want %q", *m.Links[0].URL, want)
		}
		past := list("page=99")
		if len(past.Data) != 0 || past.Meta.From != nil || past.Meta.To != nil || past.Meta.LastPage != 1 {
			t.Errorf("page past the end = %+v", past.Meta)
		}
	})
	t.Run("invalid parameters", func(t *testing.T) {
		for q, field := range map[string]string{
			"per_page=0": "per_page", "per_page=1001": "per_page", "per_page=1.5": "per_page", "per_page=abc": "per_page",
			"per_page=99999999999999999999": "per_page", "page=0": "page", "page=-1": "page", "page=x": "page",
			"order_by=password": "order_by", "order_by=id;drop": "order_by", "order_direction=up": "order_direction",
		} {
			r := h.do("GET", tokensPath(u)+"?"+q, bearer(h.userJWT), nil)
			if p := problemOf(t, r); r.status != 422 || len(p.Errors) != 1 || p.Errors[0].Field != field {
				t.Errorf("GET ?%s = %d %s, want 422 on %s", q, r.status, r.body, field)
			}
		}
	})
}

func TestShowAndDelete(t *testing.T) {
	h := newHarness(t)
	tok, _, _ := h.mintToken(h.user, "x", nil)
	adminTok, adminJWT, _ := h.mintToken(h.admin, "admin's own", nil)
	t.Run("another user's token is 404", func(t *testing.T) {
		if r := h.do("GET", tokenPath(h.user.ID, adminTok.ID), bearer(h.adminJWT), nil); r.status != 404 {
			t.Errorf("show under the wrong user = %d, want 404", r.status)
		}
		if r := h.do("DELETE", tokenPath(h.user.ID, adminTok.ID), bearer(h.adminJWT), nil); r.status != 404 {
			t.Errorf("delete under the wrong user = %d, want 404", r.status)
		}
		if r := h.do("GET", tokensPath(h.admin.ID), bearer(adminJWT), nil); r.status != 200 {
			t.Errorf("the token after a refused delete = %d, want 200", r.status)
		}
	})
	t.Run("delete twice, row stays", func(t *testing.T) {
		h.clock.Advance(time.Second)
		for range 2 {
			r := h.do("DELETE", tokenPath(h.user.ID, tok.ID), bearer(h.userJWT), nil)
			if r.status != 204 || len(r.body) != 0 || r.header.Get("Content-Type") != "" {
				t.Errorf("DELETE = %d %q %q, want 204 with no body and no type", r.status, r.body, r.header.Get("Content-Type"))
			}
		}
		r := h.do("GET", tokenPath(h.user.ID, tok.ID), bearer(h.userJWT), nil)
		var got wire.UserToken
		if err := json.Unmarshal(r.body, &got); err != nil || r.status != 200 {
			t.Fatalf("show revoked = %d %s", r.status, r.body)
		}
		if !got.Revoked || !got.UpdatedAt.After(got.CreatedAt.Time) {
			t.Errorf("revoked token = revoked %v updated %v created %v", got.Revoked, got.UpdatedAt, got.CreatedAt)
		}
	})
}

func TestMisc(t *testing.T) {
	h := newHarness(t)
	t.Run("405 allow", func(t *testing.T) {
		for path, allow := range map[string]string{tokensPath(h.user.ID): "POST", tokenPath(h.user.ID, zeroID): "DELETE"} {
			r := h.do("PATCH", path, bearer(h.userJWT), nil)
			if r.status != 405 || !strings.Contains(r.header.Get("Allow"), allow) || r.header.Get("Content-Type") != "application/json" {
				t.Errorf("PATCH %s = %d Allow %q", path, r.status, r.header.Get("Allow"))
			}
		}
	})
	t.Run("json whatever accept", func(t *testing.T) {
		req, _ := http.NewRequest("GET", h.srv.URL+tokensPath(h.user.ID), nil)
		req.Header.Set("Accept", "text/html")
		req.Header.Set("Authorization", bearer(h.userJWT))
		res, err := h.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("Content-Type = %q", res.Header.Get("Content-Type"))
		}
	})
	t.Run("health", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz"} {
			if r := h.do("GET", p, "", nil); r.status != 200 {
				t.Errorf("GET %s = %d", p, r.status)
			}
		}
	})
	t.Run("jwks", func(t *testing.T) {
		r := h.do("GET", "/.well-known/jwks.json", "", nil)
		var set struct {
			Keys []map[string]any `json:"keys"`
		}
		if err := json.Unmarshal(r.body, &set); err != nil || r.status != 200 || len(set.Keys) != 1 {
			t.Fatalf("jwks = %d %s", r.status, r.body)
		}
		if _, ok := set.Keys[0]["d"]; ok {
			t.Error("the JWKS has a private part")
		}
	})
	t.Run("concurrent creates", func(t *testing.T) {
		const n = 20
		errs := make(chan string, n)
		for i := range n {
			go func() {
				r := h.do("POST", tokensPath(h.user.ID), bearer(h.userJWT), []byte(fmt.Sprintf(`{"name":"c%d"}`, i)))
				if r.status != 201 {
					errs <- fmt.Sprintf("create %d = %d %s", i, r.status, r.body)
					return
				}
				errs <- ""
			}()
		}
		for range n {
			if e := <-errs; e != "" {
				t.Error(e)
			}
		}
	})
}

// revokedJWT is a token of the plain user, revoked.
func revokedJWT(h *harness) string {
	h.t.Helper()
	tok, jwt, err := h.mintToken(h.user, "revoked caller", nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.svc.OperatorRevokeToken(h.t.Context(), tok.ID); err != nil {
		h.t.Fatal(err)
	}
	return jwt
}

// expiredJWT is a token of the plain user that expired a second ago by
// the harness clock (made in the past, so the clock need not move).
func expiredJWT(h *harness) string {
	h.t.Helper()
	h.clock.Advance(-2 * time.Hour)
	defer h.clock.Advance(2 * time.Hour)
	name, at := "expired caller", h.clock.Now().Add(2*time.Hour-time.Second)
	_, jwt, err := h.svc.OperatorCreateToken(h.t.Context(), h.user, service.TokenRequest{Name: &name, ExpiresAt: &at})
	if err != nil {
		h.t.Fatal(err)
	}
	return jwt
}

// oauthJWT is an OAuth access token of u from a new application named
// app, with scopes, as the authorization server issues one; revoked
// revokes the application afterwards.
func oauthJWT(h *harness, u *latchkey.User, app string, scopes []string, revoked bool) string {
	h.t.Helper()
	ctx := h.t.Context()
	c, _, err := h.svc.RegisterClient(ctx, service.NewClient{Name: app, RedirectURIs: []string{"https://app.example/callback"}})
	if err != nil {
		h.t.Fatal(err)
	}
	signed, id, kid, exp, err := h.svc.SignAccessToken(u.ID, c.ID, "", scopes, time.Hour, "", "")
	if err != nil {
		h.t.Fatal(err)
	}
	t := &latchkey.Token{ID: id, UserID: u.ID, ClientID: c.ID, Name: app, Scopes: scopes, ExpiresAt: &exp, KeyID: kid}
	g := &latchkey.Grant{Kind: latchkey.GrantAccess, Signature: id, RequestID: "request-" + id[:8], ClientID: c.ID, UserID: u.ID, Active: true, Request: []byte("{}"), ExpiresAt: exp}
	if err := h.svc.StoreAccessToken(ctx, t, g, latchkey.Origin{}); err != nil {
		h.t.Fatal(err)
	}
	if revoked {
		if err := h.svc.RevokeClient(ctx, c.ID); err != nil {
			h.t.Fatal(err)
		}
	}
	return signed
}
