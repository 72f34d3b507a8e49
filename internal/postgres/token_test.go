package postgres

import (
	"testing"

	"github.com/latchkey/latchkey/internal/storetest"
)

// TestTokensPersonalClients checks the personal filter of Tokens, which
// compares with the id of the personal access client when there is only
// one, as the last call saw it, as the personal access clients change:
// another one, none, one again.
func TestTokensPersonalClients(t *testing.T) {
	db := open(t)
	storetest.TokensPersonalClients(t, db, func(personal bool, ids ...int64) {
		t.Helper()
		for _, id := range ids {
			if _, err := db.pool.Exec(t.Context(),
				`UPDATE oauth_clients SET personal_access_client = $1 WHERE id = $2`, personal, id); err != nil {
				t.Fatal(err)
			}
		}
	})
}
