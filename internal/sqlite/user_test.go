package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/latchkey/latchkey"
)

// migrateTo applies the migrations up to version, as Migrate does.
func migrateTo(t *testing.T, db *DB, version int) {
	t.Helper()
	ms, err := migrations()
	if err != nil {
		t.Fatalf("migrations() = %v", err)
	}
	if _, err := db.write.ExecContext(t.Context(), `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	) STRICT`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Version > version {
			break
		}
		err := db.writeTx(t.Context(), func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(t.Context(), m.SQL); err != nil {
				return err
			}
			_, err := tx.ExecContext(t.Context(),
				`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, formatTime(time.Now()))
			return err
		})
		if err != nil {
			t.Fatalf("migration %s: %v", m.Name, err)
		}
	}
}

// TestMigrateUsersLiveUnique migrates a database that holds users, a
// deleted one among them, and rows of every table that refers to users,
// through 0008, which builds the users table again: every row stays, the
// other tables' foreign keys still name the users table, ids are never
// given twice, and a deleted user's username becomes free.
func TestMigrateUsersLiveUnique(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	migrateTo(t, db, 7)
	ctx := t.Context()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	var users []*latchkey.User
	for _, name := range []string{"alice", "bob", "carol"} {
		u := &latchkey.User{Username: name, Email: name + "@example.com", FirstName: "Ö" + name,
			Status: latchkey.StatusActive, Permissions: []string{latchkey.PermViewUsers},
			PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", CreatedAt: now, UpdatedAt: now}
		if err := db.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser(%q) = %v", name, err)
		}
		users = append(users, u)
	}
	// carol's row goes, so that the id counter is past every id left.
	if _, err := db.write.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, users[2].ID); err != nil {
		t.Fatal(err)
	}
	users = users[:2]
	alice, bob := users[0], users[1]
	if err := db.DeleteUser(ctx, bob.ID, now.Add(time.Hour)); err != nil {
		t.Fatalf("DeleteUser(%d) = %v", bob.ID, err)
	}
	bob.DeletedAt, bob.UpdatedAt = ptr(now.Add(time.Hour)), now.Add(time.Hour)

	// The client row as version 7 has it: later columns are not there yet.
	app := &latchkey.Client{Name: "App", UserID: &alice.ID, Redirect: "https://app.example.com/cb", CreatedAt: now, UpdatedAt: now}
	if err := db.write.QueryRowContext(ctx, `INSERT INTO oauth_clients (user_id, name, redirect, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`, alice.ID, app.Name, app.Redirect, formatTime(now), formatTime(now)).Scan(&app.ID); err != nil {
		t.Fatalf("inserting a client = %v", err)
	}
	// The token row as version 7 has it: later columns are not there yet.
	if _, err := db.write.ExecContext(ctx, `INSERT INTO oauth_access_tokens
		(id, user_id, client_id, name, name_folded, scopes, revoked, created_at, updated_at, key_id)
		VALUES (?, ?, ?, 't', 't', '[]', 0, ?, ?, '')`,
		fmt.Sprintf("%080x", 1), alice.ID, latchkey.PersonalAccessClientID, formatTime(now), formatTime(now)); err != nil {
		t.Fatalf("inserting a token = %v", err)
	}
	if err := db.CreateGrant(ctx, &latchkey.Grant{Kind: latchkey.GrantRefresh, Signature: fmt.Sprintf("%064x", 1),
		RequestID: "r", ClientID: app.ID, UserID: bob.ID, Active: true, Request: []byte("{}"), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatalf("CreateGrant() = %v", err)
	}
	if err := db.SaveConsent(ctx, &latchkey.Consent{UserID: alice.ID, ClientID: app.ID, Scopes: latchkey.Scopes{}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatalf("SaveConsent() = %v", err)
	}
	if err := db.CreateSession(ctx, &latchkey.Session{ID: fmt.Sprintf("%064x", 2), UserID: alice.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatalf("CreateSession() = %v", err)
	}

	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate() from version 7 = %v", err)
	}

	got, err := db.Users(ctx, latchkey.UserFilter{IncludeDeleted: true})
	if err != nil {
		t.Fatalf("Users() = %v", err)
	}
	if diff := cmp.Diff(users, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("after Migrate, Users() mismatch (-want +got):\n%s", diff)
	}
	for _, u := range users {
		found, err := db.Users(ctx, latchkey.UserFilter{Search: strings.ToUpper(u.FirstName), IncludeDeleted: true})
		if err != nil || len(found) != 1 || found[0].ID != u.ID {
			t.Errorf("after Migrate, Users(search %q) = %v, %v; want user %d", strings.ToUpper(u.FirstName), userIDsOf(found), err, u.ID)
		}
	}
	rows, err := db.write.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatal(err)
	}
	if rows.Next() {
		t.Errorf("after Migrate, PRAGMA foreign_key_check finds violations")
	}
	rows.Close()
	var leftover, unmoved int
	if err := db.write.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_master WHERE name LIKE '%before_0008%' OR sql LIKE '%before_0008%'`).Scan(&leftover); err != nil {
		t.Fatal(err)
	}
	if err := db.write.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND sql LIKE '%REFERENCES users (id)%'`).Scan(&unmoved); err != nil {
		t.Fatal(err)
	}
	if leftover != 0 || unmoved < 5 {
		t.Errorf("after Migrate, %d schema objects name the old table and %d tables refer to users, want 0 and at least 5", leftover, unmoved)
	}

	// The foreign keys hold against the new table.
	orphan := &latchkey.Token{ID: fmt.Sprintf("%080x", 2), UserID: 999, ClientID: latchkey.PersonalAccessClientID,
		Name: "orphan", Scopes: latchkey.Scopes{}, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateToken(ctx, orphan); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		t.Errorf("after Migrate, CreateToken() for no user = %v, want ENOTFOUND", err)
	}
	// Ids are never given twice, and bob's username is free.
	newBob := &latchkey.User{Username: "bob", Email: "bob@example.com", Status: latchkey.StatusActive, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateUser(ctx, newBob); err != nil {
		t.Fatalf("after Migrate, CreateUser(%q) over the deleted bob = %v", "bob", err)
	}
	if newBob.ID <= 3 {
		t.Errorf("after Migrate, CreateUser() gave id %d, want one past 3, the last given", newBob.ID)
	}
	again := &latchkey.User{Username: "bob", Email: "bob2@example.com", Status: latchkey.StatusActive, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateUser(ctx, again); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
		t.Errorf("after Migrate, CreateUser(%q) over the live bob = %v, want ECONFLICT", "bob", err)
	}
}

func ptr[T any](v T) *T { return &v }

func userIDsOf(us []*latchkey.User) []int64 {
	var ids []int64
	for _, u := range us {
		ids = append(ids, u.ID)
	}
	return ids
}
