package postgres

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestResourceTokensPlan checks that deleting a resource can find the
// tokens issued for it in the partial index of migration 0019, in both of
// the statements of revokeTokens (the live tokens it selects, and the
// parents of the descendants), with the plan PostgreSQL makes for any
// value of the URI (a generic plan, as a prepared statement gets after a
// few runs). Sequential scans are turned off, as they would win on the
// test's empty table.
func TestResourceTokensPlan(t *testing.T) {
	db := open(t)
	ctx := t.Context()
	for i, where := range []string{`NOT t.revoked AND ` + resourceTokens, resourceTokens} {
		err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			for _, q := range []string{
				`SET LOCAL enable_seqscan = off`,
				`SET LOCAL plan_cache_mode = force_generic_plan`,
				`PREPARE resource_tokens (text, text, text) AS
					SELECT t.id FROM oauth_access_tokens t WHERE $1::text IS NOT NULL AND $2::text IS NOT NULL AND ` + where,
			} {
				if _, err := tx.Exec(ctx, q); err != nil {
					return err
				}
			}
			defer tx.Exec(ctx, `DEALLOCATE resource_tokens`)
			rows, err := tx.Query(ctx, `EXPLAIN EXECUTE resource_tokens ('', '', 'https://api.example.com/')`)
			if err != nil {
				return err
			}
			plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			if text := strings.Join(plan, "\n"); !strings.Contains(text, "oauth_access_tokens_audience") {
				t.Errorf("statement %d, WHERE %s: plan:\n%s\nwant a read of oauth_access_tokens_audience", i, where, text)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
