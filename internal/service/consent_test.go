package service

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey"
)

// TestApproveConsent: each approval adds to what the person approved
// before, and takes nothing away.
func TestApproveConsent(t *testing.T) {
	const read, write, all = latchkey.ScopeTokensRead, latchkey.ScopeTokensWrite, latchkey.ScopeAll
	for _, tc := range []struct {
		name      string
		approvals []latchkey.Scopes
		want      latchkey.Scopes
	}{
		{"one", []latchkey.Scopes{{read}}, latchkey.Scopes{read}},
		{"the same twice", []latchkey.Scopes{{read}, {read}}, latchkey.Scopes{read}},
		{"a wider one after", []latchkey.Scopes{{read}, {read, write}}, latchkey.Scopes{read, write}},
		{"another one after", []latchkey.Scopes{{read}, {write}}, latchkey.Scopes{read, write}},
		{"a narrower one after", []latchkey.Scopes{{read, write}, {write}}, latchkey.Scopes{read, write}},
		{"a scope after everything", []latchkey.Scopes{{all}, {read}}, latchkey.Scopes{all, read}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc, _ := newTestService(t, Config{})
			u := svc.mustUser(t, "alice")
			c, _, err := svc.RegisterClient(t.Context(), NewClient{Name: "App", RedirectURIs: []string{"https://app.example/cb"}})
			if err != nil {
				t.Fatal(err)
			}
			for _, scopes := range tc.approvals {
				if err := svc.ApproveConsent(t.Context(), u.ID, c.ID, scopes); err != nil {
					t.Fatal(err)
				}
			}
			got, err := svc.Consent(t.Context(), u.ID, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got.Scopes); diff != "" {
				t.Errorf("ApproveConsent %v: consent (-want +got):\n%s", tc.approvals, diff)
			}
		})
	}
}

// TestConsentRemembered: an authorization skips the consent page only for
// a confidential client, and only for scopes the person approved, named
// as they were.
func TestConsentRemembered(t *testing.T) {
	const read, write, all = latchkey.ScopeTokensRead, latchkey.ScopeTokensWrite, latchkey.ScopeAll
	for _, tc := range []struct {
		name     string
		public   bool
		approved latchkey.Scopes // nil: never approved
		request  latchkey.Scopes
		want     bool
	}{
		{"never approved", false, nil, latchkey.Scopes{read}, false},
		{"the scopes approved", false, latchkey.Scopes{read}, latchkey.Scopes{read}, true},
		{"fewer than approved", false, latchkey.Scopes{read, write}, latchkey.Scopes{write}, true},
		{"more than approved", false, latchkey.Scopes{read}, latchkey.Scopes{read, write}, false},
		{"others than approved", false, latchkey.Scopes{read}, latchkey.Scopes{write}, false},
		{"a scope within one approved", false, latchkey.Scopes{all}, latchkey.Scopes{read}, false},
		{"a public client, the scopes approved", true, latchkey.Scopes{read}, latchkey.Scopes{read}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc, _ := newTestService(t, Config{})
			u := svc.mustUser(t, "alice")
			c, _, err := svc.RegisterClient(t.Context(), NewClient{Name: "App", RedirectURIs: []string{"https://app.example/cb"}, Public: tc.public})
			if err != nil {
				t.Fatal(err)
			}
			if tc.approved != nil {
				if err := svc.ApproveConsent(t.Context(), u.ID, c.ID, tc.approved); err != nil {
					t.Fatal(err)
				}
			}
			got, err := svc.ConsentRemembered(t.Context(), u.ID, c, tc.request)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("ConsentRemembered(approved %v, request %v) = %t, want %t", tc.approved, tc.request, got, tc.want)
			}
		})
	}
}
