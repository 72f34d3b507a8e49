package postgres

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latchkey/latchkey"
)

// TestMigrateUsersLiveUnique migrates a schema that holds a deleted user
// through 0006: the users stay, and the deleted user's username and email
// become free for a new user, once.
func TestMigrateUsersLiveUnique(t *testing.T) {
	ctx := t.Context()
	db := openDSN(t, newSchema(t), Options{})
	ms, err := migrations()
	if err != nil {
		t.Fatalf("migrations() = %v", err)
	}
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TABLE schema_migrations (
			version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`); err != nil {
			return err
		}
		for _, m := range ms {
			if m.Version > 5 {
				break
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations VALUES ($1, $2, now())`, m.Version, m.Name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("migrating to version 5: %v", err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	user := func(name, email string) *latchkey.User {
		return &latchkey.User{Username: name, Email: email, Status: latchkey.StatusActive, CreatedAt: now, UpdatedAt: now}
	}
	bob := user("bob", "bob@example.com")
	if err := db.CreateUser(ctx, bob); err != nil {
		t.Fatalf("CreateUser(%q) = %v", "bob", err)
	}
	if err := db.DeleteUser(ctx, bob.ID, now); err != nil {
		t.Fatalf("DeleteUser(%d) = %v", bob.ID, err)
	}
	if err := db.CreateUser(ctx, user("bob", "bob2@example.com")); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
		t.Fatalf("before the migration, CreateUser(%q) over a deleted bob = %v, want ECONFLICT", "bob", err)
	}

	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate() from version 5 = %v", err)
	}
	if got, err := db.User(ctx, bob.ID); err != nil || !got.Deleted() || got.Username != "bob" {
		t.Errorf("after Migrate, User(%d) = %+v, %v; want the deleted bob", bob.ID, got, err)
	}
	if err := db.CreateUser(ctx, user("bob", "bob@example.com")); err != nil {
		t.Errorf("after Migrate, CreateUser(%q) over a deleted bob = %v, want nil", "bob", err)
	}
	for _, u := range []*latchkey.User{user("bob", "other@example.com"), user("other", "bob@example.com")} {
		err := db.CreateUser(ctx, u)
		if latchkey.ErrorCode(err) != latchkey.ECONFLICT {
			t.Errorf("after Migrate, CreateUser(%q, %q) over a live bob = %v, want ECONFLICT", u.Username, u.Email, err)
		}
	}
}
