package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlschema"
)

// TestInventoryPlan checks that the inventory's default order, newest
// first across every user, is read from the index of migration 0013 and
// never sorted: the CSV reads every token in that order. (Other orders
// sort, in SQLite's sorter, which spills to temporary files.)
func TestInventoryPlan(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate() = %v", err)
	}
	for _, tc := range []struct {
		f     latchkey.InventoryFilter
		index string
	}{
		{latchkey.InventoryFilter{}, "oauth_access_tokens_created"},
		{latchkey.InventoryFilter{States: []latchkey.TokenState{latchkey.StateRevoked}, Scope: latchkey.ScopeTokensRead, Name: "x"}, "oauth_access_tokens_created"},
		{latchkey.InventoryFilter{UserID: 1}, "oauth_access_tokens_user_created_covering"},
	} {
		f := tc.f
		q, err := inventoryQuery(f)
		if err != nil {
			t.Fatal(err)
		}
		plan := explain(t, db, `SELECT `+sqlschema.InventoryColumns+sqlschema.InventoryFrom+q.where+
			` ORDER BY `+q.order+`, t.id DESC LIMIT ? OFFSET ?`, append(q.args, 10, 0)...)
		if !strings.Contains(plan, "USING INDEX "+tc.index) || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("inventory %+v plan:\n%s\nwant a read of %s and no sort", f, plan, tc.index)
		}
	}
}

// explain returns SQLite's query plan of query, one step a line.
func explain(t *testing.T, db *DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.read.QueryContext(context.Background(), `EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		b.WriteString(detail + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestResourceTokensPlan checks that deleting a resource finds the tokens
// issued for it in the partial index of migration 0021, in both of the
// statements of revokeTokens (the live tokens it selects, and the parents
// of the descendants), rather than in a scan of every token.
func TestResourceTokensPlan(t *testing.T) {
	db := open(t)
	for _, where := range []string{`revoked = 0 AND ` + resourceTokens, resourceTokens} {
		plan := explain(t, db, `SELECT t.id FROM oauth_access_tokens t WHERE `+where, "https://api.example.com/")
		if !strings.Contains(plan, "USING INDEX oauth_access_tokens_audience") {
			t.Errorf("WHERE %s: plan:\n%s\nwant a read of oauth_access_tokens_audience", where, plan)
		}
	}
}
