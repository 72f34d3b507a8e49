package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpapi"
)

// TestParseAuthorizationBounds: the longest credential read, raw or after
// Bearer, and a byte longer.
func TestParseAuthorizationBounds(t *testing.T) {
	word := func(n int) string { return strings.Repeat("A", n) }
	for _, tc := range []struct {
		name, header, want string
		ok                 bool
	}{
		{"the longest raw token", word(8 << 10), word(8 << 10), true},
		{"a byte longer", word(8<<10 + 1), "", false},
		{"the longest after Bearer", "Bearer " + word(8<<10-7), word(8<<10 - 7), true},
		{"a byte longer after Bearer", "Bearer " + word(8<<10-6), "", false},
		{"spaces around", "  Bearer abc  ", "abc", true},
		{"empty", "", "", false},
	} {
		got, ok := httpapi.ParseAuthorization(tc.header)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: ParseAuthorization = %d bytes, %t; want %d bytes, %t", tc.name, len(got), ok, len(tc.want), tc.ok)
		}
	}
}

// TestAuthenticatedOrigin: what a token does is audited with the client's
// address, whether or not failed authentications are rate-limited.
func TestAuthenticatedOrigin(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits httpapi.Limits
	}{
		{"no limits", httpapi.Limits{}},
		{"default limits", httpapi.DefaultLimits},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessWith(t, httpapi.Options{Limits: tc.limits})
			path := "/api/1.0/users/" + strconv.FormatInt(h.user.ID, 10) + "/tokens"
			r := h.do(http.MethodPost, path, bearer(h.userJWT), []byte(`{"name":"audited"}`))
			if r.status != http.StatusCreated {
				t.Fatalf("POST %s: %d %s", path, r.status, r.body)
			}
			var created struct{ ID string }
			if err := json.Unmarshal(r.body, &created); err != nil {
				t.Fatal(err)
			}
			recs, err := h.svc.Audit(t.Context(), latchkey.AuditFilter{Action: latchkey.AuditTokenCreated})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, rec := range recs {
				if rec.SubjectID == created.ID {
					found = true
					if rec.Address != "127.0.0.1" {
						t.Errorf("the record of the token made has address %q, want 127.0.0.1", rec.Address)
					}
				}
			}
			if !found {
				t.Error("no record of the token made")
			}
		})
	}
}
