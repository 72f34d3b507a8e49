package wire_test

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/wire"
)

func TestCSVSafe(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"nightly export", "nightly export"},
		{"=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"},
		{"+1+1", "'+1+1"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tcmd", "'\tcmd"},
		{"\rcmd", "'\rcmd"},
		{"a=b", "a=b"},
		{"'quoted", "'quoted"},
	} {
		if got := wire.CSVSafe(tc.in); got != tc.want {
			t.Errorf("CSVSafe(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestInventoryCSV writes two rows and reads them back with encoding/csv:
// the header, every column, the empty cells of what is not there, and the
// guard on each cell a person typed.
func TestInventoryCSV(t *testing.T) {
	now := time.Date(2026, 3, 1, 17, 45, 10, 0, time.UTC)
	expires := now.Add(-time.Hour)
	used := now.Add(-2 * time.Hour)
	rows := []*latchkey.InventoryToken{
		{Token: &latchkey.Token{
			ID: "aa", UserID: 12, ClientID: 1, Name: "=cmd|' /C calc'!A0", Scopes: latchkey.Scopes{},
			CreatedAt: now.Add(-time.Hour), UpdatedAt: now, Client: &latchkey.Client{Name: "Latchkey Personal Access Client"},
		}, Username: "@alice", Email: "alice@example.com"},
		{Token: &latchkey.Token{
			ID: "bb", UserID: 3, ClientID: 7, Name: "line\nbreak, \"quoted\"", Scopes: latchkey.Scopes{"tokens.read", "tokens.write"},
			Revoked: true, RevokedReason: latchkey.ReasonParentRevoked, ParentID: "aa",
			CreatedAt: now.Add(-3 * time.Hour), UpdatedAt: now.Add(-time.Minute), ExpiresAt: &expires, LastUsedAt: &used,
			Client: &latchkey.Client{Name: "-App"},
		}, Username: "bob", Email: "+bob@example.com"},
	}
	var buf bytes.Buffer
	w := wire.NewInventoryCSV(&buf, now)
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("reading the CSV back: %v", err)
	}
	want := [][]string{
		{"id", "user_id", "username", "email", "name", "client_id", "client_name", "scopes", "state", "revoked_reason",
			"created_at", "updated_at", "expires_at", "last_used_at", "parent_id"},
		{"aa", "12", "'@alice", "alice@example.com", "'=cmd|' /C calc'!A0", "1", "Latchkey Personal Access Client", "", "active", "",
			"2026-03-01T16:45:10.000000Z", "2026-03-01T17:45:10.000000Z", "", "", ""},
		{"bb", "3", "bob", "'+bob@example.com", "line\nbreak, \"quoted\"", "7", "'-App", "tokens.read tokens.write", "revoked", "parent_revoked",
			"2026-03-01T14:45:10.000000Z", "2026-03-01T17:44:10.000000Z", "2026-03-01T16:45:10.000000Z", "2026-03-01T15:45:10.000000Z", "aa"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the CSV read back mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want[0], wire.CSVColumns()); diff != "" {
		t.Errorf("CSVColumns() mismatch (-want +got):\n%s", diff)
	}
}
