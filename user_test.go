package latchkey_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey"
)

// TestUserActive: only an ACTIVE user that is not deleted may
// authenticate; deleting does not change the status, and an inactive user
// is not deleted.
func TestUserActive(t *testing.T) {
	deleted := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name        string
		u           latchkey.User
		wantActive  bool
		wantDeleted bool
	}{
		{"active", latchkey.User{Status: latchkey.StatusActive}, true, false},
		{"inactive", latchkey.User{Status: latchkey.StatusInactive}, false, false},
		{"no status", latchkey.User{}, false, false},
		{"active, deleted", latchkey.User{Status: latchkey.StatusActive, DeletedAt: &deleted}, false, true},
		{"inactive, deleted", latchkey.User{Status: latchkey.StatusInactive, DeletedAt: &deleted}, false, true},
	} {
		if got := tc.u.Active(); got != tc.wantActive {
			t.Errorf("%s: Active() = %t, want %t", tc.name, got, tc.wantActive)
		}
		if got := tc.u.Deleted(); got != tc.wantDeleted {
			t.Errorf("%s: Deleted() = %t, want %t", tc.name, got, tc.wantDeleted)
		}
	}
}

// TestUserCan: an administrator holds every permission; anyone else only
// those listed.
func TestUserCan(t *testing.T) {
	for _, tc := range []struct {
		name string
		u    latchkey.User
		perm string
		want bool
	}{
		{"admin", latchkey.User{Admin: true}, latchkey.PermEditUsers, true},
		{"listed", latchkey.User{Permissions: []string{latchkey.PermViewUsers}}, latchkey.PermViewUsers, true},
		{"not listed", latchkey.User{Permissions: []string{latchkey.PermViewUsers}}, latchkey.PermEditUsers, false},
		{"none", latchkey.User{}, latchkey.PermViewUsers, false},
	} {
		if got := tc.u.Can(tc.perm); got != tc.want {
			t.Errorf("%s: Can(%s) = %t, want %t", tc.name, tc.perm, got, tc.want)
		}
	}
}

// TestUserUpdateApplyTo: each field an update names is set, and each it
// leaves nil is kept.
func TestUserUpdateApplyTo(t *testing.T) {
	orig := latchkey.User{
		ID: 7, Username: "alice", Email: "alice@example.com", FirstName: "Alice", LastName: "Liddell",
		Status: latchkey.StatusActive, Permissions: []string{latchkey.PermViewUsers}, PasswordHash: "hash-1",
	}
	username, email, first, last := "bob", "bob@example.com", "Bob", "Builder"
	status, admin, perms, hash := latchkey.StatusInactive, true, []string{latchkey.PermEditUsers}, "hash-2"
	t.Run("nothing named", func(t *testing.T) {
		u := orig
		latchkey.UserUpdate{}.ApplyTo(&u)
		if diff := cmp.Diff(orig, u); diff != "" {
			t.Errorf("an empty update changed the user (-want +got):\n%s", diff)
		}
	})
	t.Run("everything named", func(t *testing.T) {
		u := orig
		latchkey.UserUpdate{
			Username: &username, Email: &email, FirstName: &first, LastName: &last,
			Status: &status, Admin: &admin, Permissions: &perms, PasswordHash: &hash,
		}.ApplyTo(&u)
		want := latchkey.User{
			ID: 7, Username: username, Email: email, FirstName: first, LastName: last,
			Status: status, Admin: admin, Permissions: perms, PasswordHash: hash,
		}
		if diff := cmp.Diff(want, u); diff != "" {
			t.Errorf("ApplyTo (-want +got):\n%s", diff)
		}
	})
}

// TestUserSearchText: the four searchable fields, lower-cased, one a line.
func TestUserSearchText(t *testing.T) {
	u := latchkey.User{Username: "Alice", Email: "ALICE@Example.com", FirstName: "Alice", LastName: "Liddell", PasswordHash: "Secret"}
	if got, want := u.SearchText(), "alice\nalice@example.com\nalice\nliddell"; got != want {
		t.Errorf("SearchText() = %q, want %q", got, want)
	}
}
