package sqlite

import (
	"testing"

	"github.com/latchkey/latchkey/internal/storetest"
)

// TestWrap gives wrap the errors SQLite itself returns: they become the
// codes and sentences the PostgreSQL store gives its own.
func TestWrap(t *testing.T) {
	db := open(t)
	exec := func(q string) error {
		_, err := db.write.ExecContext(t.Context(), q)
		return err
	}
	if err := exec(`CREATE TEMP TABLE things (
		id     INTEGER PRIMARY KEY,
		name   TEXT UNIQUE,
		parent INTEGER REFERENCES things (id)
	)`); err != nil {
		t.Fatal(err)
	}
	if err := exec(`INSERT INTO things (id, name) VALUES (1, 'a')`); err != nil {
		t.Fatal(err)
	}
	var one int
	storetest.Wrap(t, "sqlite", wrap, storetest.NativeErrors{
		Unique:     exec(`INSERT INTO things (id, name) VALUES (2, 'a')`),
		ForeignKey: exec(`INSERT INTO things (id, name, parent) VALUES (3, 'c', 99)`),
		NoRows:     db.queryRow(t.Context(), `SELECT 1 WHERE 0`).Scan(&one),
		Other:      exec(`INSERT INTO nothing VALUES (1)`),
	})
}
