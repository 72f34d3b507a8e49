package sqlitetest_test

import (
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlitetest"
)

// TestOpenIsMigrated: a copy of the template is a working database that
// Migrate leaves be, and each copy is a database of its own.
func TestOpenIsMigrated(t *testing.T) {
	a, b := sqlitetest.Open(t), sqlitetest.Open(t)
	if err := a.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	u := &latchkey.User{Username: "alice", Email: "alice@example.com", Status: latchkey.StatusActive}
	if err := a.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser on a copy = %v", err)
	}
	if got, err := b.Users(t.Context(), latchkey.UserFilter{IncludeDeleted: true}); err != nil || len(got) != 0 {
		t.Errorf("another copy holds %d users (%v), want none", len(got), err)
	}
}
