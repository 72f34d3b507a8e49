package wire_test

import (
	"bytes"
	"encoding/csv"
	"net/netip"
	"strings"
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
			Revoked: true, RevokedReason: latchkey.ReasonParentRevoked, ParentID: "aa", RevokedAt: &used, RotatedFrom: "cc", RotatedTo: "dd",
			AllowedIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32")}, LastUsedIP: "192.0.2.7",
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
			"created_at", "updated_at", "expires_at", "last_used_at", "parent_id",
			"revoked_at", "rotated_from", "rotated_to", "allowed_ips", "last_used_ip"},
		{"aa", "12", "'@alice", "alice@example.com", "'=cmd|' /C calc'!A0", "1", "Latchkey Personal Access Client", "", "active", "",
			"2026-03-01T16:45:10.000000Z", "2026-03-01T17:45:10.000000Z", "", "", "", "", "", "", "", ""},
		{"bb", "3", "bob", "'+bob@example.com", "line\nbreak, \"quoted\"", "7", "'-App", "tokens.read tokens.write", "revoked", "parent_revoked",
			"2026-03-01T14:45:10.000000Z", "2026-03-01T17:44:10.000000Z", "2026-03-01T16:45:10.000000Z", "2026-03-01T15:45:10.000000Z", "aa",
			"2026-03-01T15:45:10.000000Z", "cc", "dd", "192.0.2.0/24 2001:db8::/32", "192.0.2.7"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the CSV read back mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want[0], wire.CSVColumns()); diff != "" {
		t.Errorf("CSVColumns() mismatch (-want +got):\n%s", diff)
	}
}

// FuzzInventoryCSV: whatever people typed in a token's name, their
// username or email, its row reads back with encoding/csv as one record
// of the header's width whose cells are the text with CSVSafe's guard,
// none begins as a formula, and removing the guard gives back the text.
// (A carriage return inside a field reads back as encoding/csv makes it,
// without the CR: the stores refuse control characters in names.)
func FuzzInventoryCSV(f *testing.F) {
	for _, seed := range [][3]string{
		{"nightly export", "alice", "alice@example.com"},
		{"=HYPERLINK(\"http://evil\",\"x\")", "+alice", "-1@example.com"},
		{"@SUM(1)", "\talice", "a,b\"c"},
		{"line\nbreak", "", "'"},
		{"", "=", "=="},
		{"'=already", "ü=", "名前"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	now := time.Date(2026, 3, 1, 17, 45, 10, 0, time.UTC)
	f.Fuzz(func(t *testing.T, name, username, email string) {
		if strings.ContainsRune(name+username+email, '\r') {
			t.Skip()
		}
		var buf bytes.Buffer
		w := wire.NewInventoryCSV(&buf, now)
		it := &latchkey.InventoryToken{Token: &latchkey.Token{ID: "aa", Name: name, Scopes: latchkey.Scopes{}, CreatedAt: now, UpdatedAt: now}, Username: username, Email: email}
		if err := w.Write(it); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		records, err := csv.NewReader(&buf).ReadAll()
		if err != nil || len(records) != 1 || len(records[0]) != len(wire.CSVColumns()) {
			t.Fatalf("the row of %q, %q, %q reads back as %q, %v", name, username, email, records, err)
		}
		for i, in := range map[int]string{4: name, 2: username, 3: email} {
			got := records[0][i]
			if got != wire.CSVSafe(in) {
				t.Fatalf("cell %d of %q = %q, want %q", i, in, got, wire.CSVSafe(in))
			}
			if got != "" && strings.ContainsRune("=+-@\t\r", rune(got[0])) {
				t.Fatalf("cell %d of %q = %q begins as a formula", i, in, got)
			}
			if got != in && strings.TrimPrefix(got, "'") != in {
				t.Fatalf("cell %d of %q = %q: the guard is not one leading '", i, in, got)
			}
		}
	})
}
