package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/latchkey/latchkey"
)

func testCreateUser(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("SetsID", func(t *testing.T) {
		s := open(t)
		a := createUser(t, s, newUser("alice"))
		b := createUser(t, s, newUser("bob"))
		if a.ID == 0 || b.ID == 0 || a.ID == b.ID {
			t.Errorf("CreateUser set ids %d and %d, want two distinct non-zero ids", a.ID, b.ID)
		}
	})

	t.Run("RoundTrip", func(t *testing.T) {
		paris := time.FixedZone("CET", 3600)
		tests := []struct {
			name string
			user *latchkey.User
		}{
			{"Full", &latchkey.User{
				Username:     "alice",
				Email:        "alice@example.com",
				FirstName:    "Alice",
				LastName:     "Liddell",
				Status:       latchkey.StatusActive,
				Admin:        true,
				Permissions:  []string{latchkey.PermEditUsers, latchkey.PermViewUsers},
				PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
				CreatedAt:    at(0),
				UpdatedAt:    at(time.Hour),
			}},
			{"Minimal", &latchkey.User{
				Username:  "bot",
				Email:     "bot@example.com",
				Status:    latchkey.StatusInactive,
				CreatedAt: at(0),
				UpdatedAt: at(0),
			}},
			{"Unicode", &latchkey.User{
				Username:    "élodie",
				Email:       "élodie@exemple.fr",
				FirstName:   "Élodie",
				LastName:    "Ögren-Ŝmith 山田",
				Status:      latchkey.StatusActive,
				Permissions: []string{latchkey.PermViewUsers},
				CreatedAt:   at(0),
				UpdatedAt:   at(0),
			}},
			{"Deleted", &latchkey.User{
				Username:  "gone",
				Email:     "gone@example.com",
				Status:    latchkey.StatusActive,
				CreatedAt: at(0),
				UpdatedAt: at(time.Minute),
				DeletedAt: ptr(at(time.Minute)),
			}},
			{"OtherZone", &latchkey.User{
				Username:  "zoned",
				Email:     "zoned@example.com",
				Status:    latchkey.StatusActive,
				CreatedAt: at(0).In(paris),
				UpdatedAt: at(time.Second).In(paris),
				DeletedAt: ptr(at(time.Minute).In(paris)),
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := open(t)
				createUser(t, s, tt.user)
				got, err := s.User(t.Context(), tt.user.ID)
				if err != nil {
					t.Fatalf("User(%d) = %v", tt.user.ID, err)
				}
				if diff := cmp.Diff(tt.user, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("User(%d) mismatch (-want +got):\n%s", tt.user.ID, diff)
				}
				checkUTC(t, fmt.Sprintf("User(%d)", tt.user.ID), &got.CreatedAt, &got.UpdatedAt, got.DeletedAt)
			})
		}
	})

	t.Run("PermissionsSorted", func(t *testing.T) {
		s := open(t)
		u := newUser("alice")
		u.Permissions = []string{latchkey.PermViewUsers, latchkey.PermEditUsers}
		createUser(t, s, u)
		got, err := s.User(t.Context(), u.ID)
		if err != nil {
			t.Fatalf("User(%d) = %v", u.ID, err)
		}
		want := []string{latchkey.PermEditUsers, latchkey.PermViewUsers}
		if diff := cmp.Diff(want, got.Permissions); diff != "" {
			t.Errorf("User(%d).Permissions mismatch (-want +got):\n%s", u.ID, diff)
		}
	})

	t.Run("Conflict", func(t *testing.T) {
		tests := []struct {
			name            string
			username, email string
		}{
			{"Username", "alice", "other@example.com"},
			{"Email", "other", "alice@example.com"},
			{"Both", "alice", "alice@example.com"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := open(t)
				createUser(t, s, newUser("alice"))
				u := newUser(tt.username)
				u.Email = tt.email
				err := s.CreateUser(t.Context(), u)
				checkCode(t, fmt.Sprintf("CreateUser(%q, %q)", tt.username, tt.email), err, latchkey.ECONFLICT)
				users, err := s.Users(t.Context(), latchkey.UserFilter{IncludeDeleted: true})
				if err != nil {
					t.Fatalf("Users() = %v", err)
				}
				if len(users) != 1 {
					t.Errorf("after a conflict, Users() has %d users, want 1", len(users))
				}
			})
		}
	})

	// A deleted user keeps its username and email, and a new user may
	// take them.
	t.Run("ReusesDeletedUsersLogin", func(t *testing.T) {
		for _, field := range []string{"Username", "Email", "Both"} {
			t.Run(field, func(t *testing.T) {
				s := open(t)
				gone := createUser(t, s, newUser("gone"))
				if err := s.DeleteUser(t.Context(), gone.ID, at(time.Hour)); err != nil {
					t.Fatalf("DeleteUser(%d) = %v", gone.ID, err)
				}
				u := newUser("new")
				if field != "Email" {
					u.Username = gone.Username
				}
				if field != "Username" {
					u.Email = gone.Email
				}
				if err := s.CreateUser(t.Context(), u); err != nil {
					t.Fatalf("CreateUser(%q, %q) over a deleted user = %v, want nil", u.Username, u.Email, err)
				}
				for _, want := range []*latchkey.User{gone, u} {
					got, err := s.User(t.Context(), want.ID)
					if err != nil {
						t.Fatalf("User(%d) = %v", want.ID, err)
					}
					if got.Username != want.Username || got.Email != want.Email || got.Deleted() != (want == gone) {
						t.Errorf("User(%d) = %q, %q, deleted %t; want %q, %q, deleted %t",
							want.ID, got.Username, got.Email, got.Deleted(), want.Username, want.Email, want == gone)
					}
				}
				// Taken again by a live user, it is not free.
				again := newUser("again")
				again.Username, again.Email = u.Username, u.Email
				err := s.CreateUser(t.Context(), again)
				checkCode(t, fmt.Sprintf("CreateUser(%q, %q) over a live user", again.Username, again.Email), err, latchkey.ECONFLICT)
			})
		}
	})

	t.Run("DeletedOverLive", func(t *testing.T) {
		s := open(t)
		live := createUser(t, s, newUser("alice"))
		gone := newUser("alice")
		gone.DeletedAt = ptr(at(time.Hour))
		if err := s.CreateUser(t.Context(), gone); err != nil {
			t.Fatalf("CreateUser(%q) deleted, over a live user = %v, want nil", gone.Username, err)
		}
		if gone.ID == live.ID {
			t.Errorf("CreateUser gave the deleted user the live user's id %d", live.ID)
		}
	})
}

func testUser(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("Found", func(t *testing.T) {
		s := open(t)
		createUser(t, s, newUser("alice"))
		u := createUser(t, s, newUser("bob"))
		got, err := s.User(t.Context(), u.ID)
		if err != nil {
			t.Fatalf("User(%d) = %v", u.ID, err)
		}
		if diff := cmp.Diff(u, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("User(%d) mismatch (-want +got):\n%s", u.ID, diff)
		}
	})

	t.Run("Deleted", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		if err := s.DeleteUser(t.Context(), u.ID, at(time.Hour)); err != nil {
			t.Fatalf("DeleteUser(%d) = %v", u.ID, err)
		}
		got, err := s.User(t.Context(), u.ID)
		if err != nil {
			t.Fatalf("User(%d) of a deleted user = %v, want the user", u.ID, err)
		}
		if got.DeletedAt == nil || !got.DeletedAt.Equal(at(time.Hour)) {
			t.Errorf("User(%d).DeletedAt = %v, want %v", u.ID, got.DeletedAt, at(time.Hour))
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		for _, id := range []int64{0, -1, u.ID + 1000} {
			_, err := s.User(t.Context(), id)
			checkCode(t, fmt.Sprintf("User(%d)", id), err, latchkey.ENOTFOUND)
		}
	})
}

func testUserByLogin(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	alice := createUser(t, s, newUser("alice"))
	bob := createUser(t, s, newUser("bob"))
	if err := s.DeleteUser(t.Context(), bob.ID, at(time.Hour)); err != nil {
		t.Fatalf("DeleteUser(%d) = %v", bob.ID, err)
	}
	bob.DeletedAt = ptr(at(time.Hour))
	// carol was deleted, and another carol took her username and email.
	oldCarol := createUser(t, s, newUser("carol"))
	if err := s.DeleteUser(t.Context(), oldCarol.ID, at(time.Hour)); err != nil {
		t.Fatalf("DeleteUser(%d) = %v", oldCarol.ID, err)
	}
	carol := createUser(t, s, newUser("carol"))
	// Two daves were deleted, the second one last.
	var daves []*latchkey.User
	for i := range 2 {
		d := createUser(t, s, newUser("dave"))
		if err := s.DeleteUser(t.Context(), d.ID, at(time.Duration(i+1)*time.Hour)); err != nil {
			t.Fatalf("DeleteUser(%d) = %v", d.ID, err)
		}
		d.DeletedAt = ptr(at(time.Duration(i+1) * time.Hour))
		daves = append(daves, d)
	}
	// A deleted user's username is a live user's email: the live one wins.
	ghost := newUser("erin@example.com")
	ghost.Email = "ghost@example.com"
	createUser(t, s, ghost)
	if err := s.DeleteUser(t.Context(), ghost.ID, at(time.Hour)); err != nil {
		t.Fatalf("DeleteUser(%d) = %v", ghost.ID, err)
	}
	erin := createUser(t, s, newUser("erin"))

	tests := []struct {
		name  string
		login string
		want  *latchkey.User // nil: ENOTFOUND
	}{
		{"Username", "alice", alice},
		{"Email", "alice@example.com", alice},
		{"DeletedByUsername", "bob", bob},
		{"DeletedByEmail", "bob@example.com", bob},
		{"LiveOverDeletedByUsername", "carol", carol},
		{"LiveOverDeletedByEmail", "carol@example.com", carol},
		{"DeletedLast", "dave", daves[1]},
		{"LiveEmailOverDeletedUsername", "erin@example.com", erin},
		{"Unknown", "mallory", nil},
		{"Empty", "", nil},
		{"OtherCase", "Alice", nil},
		{"EmailOtherCase", "ALICE@example.com", nil},
		{"Prefix", "ali", nil},
		{"Wildcard", "%", nil},
		{"FirstName", "First alice", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.UserByLogin(t.Context(), tt.login)
			if tt.want == nil {
				checkCode(t, fmt.Sprintf("UserByLogin(%q)", tt.login), err, latchkey.ENOTFOUND)
				return
			}
			if err != nil {
				t.Fatalf("UserByLogin(%q) = %v", tt.login, err)
			}
			// Deleting may move UpdatedAt; the rest must be as stored.
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty(),
				cmpopts.IgnoreFields(latchkey.User{}, "UpdatedAt")); diff != "" {
				t.Errorf("UserByLogin(%q) mismatch (-want +got):\n%s", tt.login, diff)
			}
		})
	}
}

func testUsers(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	fixtures := []*latchkey.User{
		{Username: "alice", Email: "alice@example.com", FirstName: "Alice", LastName: "Liddell"},
		{Username: "bob", Email: "bob@example.org", FirstName: "Robert", LastName: "Ögren"},
		{Username: "carol", Email: "carol@example.com", FirstName: "Carol", LastName: "Danvers"},
		{Username: "d_ve", Email: "d%ve@example.net", FirstName: "Élodie", LastName: `Back\slash`},
		{Username: "eve", Email: "eve@example.com", FirstName: "Eve", LastName: "Moneypenny"},
	}
	id := map[string]int64{}
	for _, u := range fixtures {
		u.Status, u.CreatedAt, u.UpdatedAt = latchkey.StatusActive, at(0), at(0)
		createUser(t, s, u)
		id[u.Username] = u.ID
	}
	if err := s.DeleteUser(t.Context(), id["carol"], at(time.Hour)); err != nil {
		t.Fatalf("DeleteUser(%d) = %v", id["carol"], err)
	}

	tests := []struct {
		name   string
		filter latchkey.UserFilter
		want   []string // usernames, in order
	}{
		{"Zero", latchkey.UserFilter{}, []string{"alice", "bob", "d_ve", "eve"}},
		{"IncludeDeleted", latchkey.UserFilter{IncludeDeleted: true}, []string{"alice", "bob", "carol", "d_ve", "eve"}},
		{"SearchUsername", latchkey.UserFilter{Search: "ALICE"}, []string{"alice"}},
		{"SearchEmail", latchkey.UserFilter{Search: "EXAMPLE.ORG"}, []string{"bob"}},
		{"SearchEmailSeveral", latchkey.UserFilter{Search: "example.com"}, []string{"alice", "eve"}},
		{"SearchFirstName", latchkey.UserFilter{Search: "robert"}, []string{"bob"}},
		{"SearchLastName", latchkey.UserFilter{Search: "liddELL"}, []string{"alice"}},
		{"SearchUnicodeFirstName", latchkey.UserFilter{Search: "ÉLODIE"}, []string{"d_ve"}},
		{"SearchUnicodeLastName", latchkey.UserFilter{Search: "ögren"}, []string{"bob"}},
		{"SearchUnderscoreLiteral", latchkey.UserFilter{Search: "_"}, []string{"d_ve"}},
		{"SearchPercentLiteral", latchkey.UserFilter{Search: "%"}, []string{"d_ve"}},
		{"SearchBackslashLiteral", latchkey.UserFilter{Search: `\`}, []string{"d_ve"}},
		{"SearchNoMatch", latchkey.UserFilter{Search: "mallory"}, []string{}},
		{"SearchDeletedHidden", latchkey.UserFilter{Search: "danvers"}, []string{}},
		{"SearchDeletedIncluded", latchkey.UserFilter{Search: "danvers", IncludeDeleted: true}, []string{"carol"}},
		{"OnlyDeleted", latchkey.UserFilter{OnlyDeleted: true}, []string{"carol"}},
		{"OnlyDeletedOverIncludeDeleted", latchkey.UserFilter{OnlyDeleted: true, IncludeDeleted: true}, []string{"carol"}},
		{"OnlyDeletedSearch", latchkey.UserFilter{OnlyDeleted: true, Search: "DANVERS"}, []string{"carol"}},
		{"OnlyDeletedSearchLive", latchkey.UserFilter{OnlyDeleted: true, Search: "alice"}, []string{}},
		{"OnlyDeletedPastEnd", latchkey.UserFilter{OnlyDeleted: true, Offset: 1}, []string{}},
		{"Limit", latchkey.UserFilter{Limit: 2}, []string{"alice", "bob"}},
		{"OffsetLimit", latchkey.UserFilter{Offset: 1, Limit: 2}, []string{"bob", "d_ve"}},
		{"Offset", latchkey.UserFilter{Offset: 3}, []string{"eve"}},
		{"OffsetPastEnd", latchkey.UserFilter{Offset: 10}, []string{}},
		{"IncludeDeletedPage", latchkey.UserFilter{IncludeDeleted: true, Offset: 2, Limit: 2}, []string{"carol", "d_ve"}},
		{"SearchPage", latchkey.UserFilter{Search: "example.com", Offset: 1, Limit: 1}, []string{"eve"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Users(t.Context(), tt.filter)
			if err != nil {
				t.Fatalf("Users(%+v) = %v", tt.filter, err)
			}
			want := []int64{}
			for _, name := range tt.want {
				want = append(want, id[name])
			}
			if diff := cmp.Diff(want, userIDs(got)); diff != "" {
				t.Errorf("Users(%+v) ids mismatch (-want +got):\n%s", tt.filter, diff)
			}
		})
	}

	t.Run("Fields", func(t *testing.T) {
		got, err := s.Users(t.Context(), latchkey.UserFilter{Search: "alice"})
		if err != nil {
			t.Fatalf("Users() = %v", err)
		}
		if diff := cmp.Diff([]*latchkey.User{fixtures[0]}, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Users() mismatch (-want +got):\n%s", diff)
		}
	})
}

func testUpdateUser(t *testing.T, open func(t *testing.T) latchkey.Store) {
	when := at(time.Hour)
	tests := []struct {
		name   string
		update latchkey.UserUpdate
		change func(u *latchkey.User)
	}{
		{"Nothing", latchkey.UserUpdate{}, func(u *latchkey.User) {}},
		{"Username", latchkey.UserUpdate{Username: ptr("alicia")},
			func(u *latchkey.User) { u.Username = "alicia" }},
		{"SameUsername", latchkey.UserUpdate{Username: ptr("alice")}, func(u *latchkey.User) {}},
		{"Email", latchkey.UserUpdate{Email: ptr("alicia@example.org")},
			func(u *latchkey.User) { u.Email = "alicia@example.org" }},
		{"FirstName", latchkey.UserUpdate{FirstName: ptr("Ålice")},
			func(u *latchkey.User) { u.FirstName = "Ålice" }},
		{"LastName", latchkey.UserUpdate{LastName: ptr("Pleasance")},
			func(u *latchkey.User) { u.LastName = "Pleasance" }},
		{"EmptyLastName", latchkey.UserUpdate{LastName: ptr("")},
			func(u *latchkey.User) { u.LastName = "" }},
		{"Status", latchkey.UserUpdate{Status: ptr(latchkey.StatusInactive)},
			func(u *latchkey.User) { u.Status = latchkey.StatusInactive }},
		{"Admin", latchkey.UserUpdate{Admin: ptr(true)},
			func(u *latchkey.User) { u.Admin = true }},
		{"Permissions", latchkey.UserUpdate{Permissions: ptr([]string{latchkey.PermEditUsers, latchkey.PermViewUsers})},
			func(u *latchkey.User) { u.Permissions = []string{latchkey.PermEditUsers, latchkey.PermViewUsers} }},
		{"PermissionsSorted", latchkey.UserUpdate{Permissions: ptr([]string{latchkey.PermViewUsers, latchkey.PermEditUsers})},
			func(u *latchkey.User) { u.Permissions = []string{latchkey.PermEditUsers, latchkey.PermViewUsers} }},
		{"NoPermissions", latchkey.UserUpdate{Permissions: ptr([]string{})},
			func(u *latchkey.User) { u.Permissions = nil }},
		{"PasswordHash", latchkey.UserUpdate{PasswordHash: ptr("$argon2id$v=19$m=65536,t=3,p=4$bmV3$bmV3")},
			func(u *latchkey.User) { u.PasswordHash = "$argon2id$v=19$m=65536,t=3,p=4$bmV3$bmV3" }},
		{"NoPasswordHash", latchkey.UserUpdate{PasswordHash: ptr("")},
			func(u *latchkey.User) { u.PasswordHash = "" }},
		{"Several", latchkey.UserUpdate{Username: ptr("al"), Email: ptr("al@example.com"), Admin: ptr(false), Status: ptr(latchkey.StatusActive)},
			func(u *latchkey.User) { u.Username, u.Email = "al", "al@example.com" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			u := newUser("alice")
			u.Permissions = []string{latchkey.PermViewUsers}
			u.PasswordHash = "$argon2id$v=19$m=65536,t=3,p=4$b2xk$b2xk"
			createUser(t, s, u)
			createUser(t, s, newUser("bob"))

			want := *u
			tt.change(&want)
			want.UpdatedAt = when
			got, err := s.UpdateUser(t.Context(), u.ID, tt.update, when)
			if err != nil {
				t.Fatalf("UpdateUser(%d, %+v) = %v", u.ID, tt.update, err)
			}
			if diff := cmp.Diff(&want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("UpdateUser(%d, %+v) mismatch (-want +got):\n%s", u.ID, tt.update, diff)
			}
			stored, err := s.User(t.Context(), u.ID)
			if err != nil {
				t.Fatalf("User(%d) = %v", u.ID, err)
			}
			if diff := cmp.Diff(&want, stored, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("after UpdateUser, User(%d) mismatch (-want +got):\n%s", u.ID, diff)
			}
		})
	}

	t.Run("SearchFindsNewName", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		if _, err := s.UpdateUser(t.Context(), u.ID, latchkey.UserUpdate{LastName: ptr("Zébulon")}, when); err != nil {
			t.Fatalf("UpdateUser(%d) = %v", u.ID, err)
		}
		for search, want := range map[string][]int64{"zÉbulon": {u.ID}, "last alice": {}} {
			got, err := s.Users(t.Context(), latchkey.UserFilter{Search: search})
			if err != nil {
				t.Fatalf("Users(%q) = %v", search, err)
			}
			if diff := cmp.Diff(want, userIDs(got)); diff != "" {
				t.Errorf("after UpdateUser, Users(%q) ids mismatch (-want +got):\n%s", search, diff)
			}
		}
	})

	// A deleted user's username and email are free for a live user.
	t.Run("TakesDeletedUsersLogin", func(t *testing.T) {
		s := open(t)
		alice := createUser(t, s, newUser("alice"))
		gone := createUser(t, s, newUser("gone"))
		if err := s.DeleteUser(t.Context(), gone.ID, at(time.Minute)); err != nil {
			t.Fatalf("DeleteUser(%d) = %v", gone.ID, err)
		}
		upd := latchkey.UserUpdate{Username: ptr(gone.Username), Email: ptr(gone.Email)}
		got, err := s.UpdateUser(t.Context(), alice.ID, upd, when)
		if err != nil {
			t.Fatalf("UpdateUser(%d, %+v) = %v, want nil", alice.ID, upd, err)
		}
		if got.Username != gone.Username || got.Email != gone.Email {
			t.Errorf("UpdateUser(%d, %+v) = %q, %q; want %q, %q", alice.ID, upd, got.Username, got.Email, gone.Username, gone.Email)
		}
	})

	errTests := []struct {
		name   string
		id     func(alice, bob, gone int64) int64
		update latchkey.UserUpdate
		code   string
	}{
		{"UsernameTaken", func(a, _, _ int64) int64 { return a }, latchkey.UserUpdate{Username: ptr("bob")}, latchkey.ECONFLICT},
		{"EmailTaken", func(a, _, _ int64) int64 { return a }, latchkey.UserUpdate{Email: ptr("bob@example.com")}, latchkey.ECONFLICT},
		{"Missing", func(a, b, g int64) int64 { return max(a, b, g) + 1000 }, latchkey.UserUpdate{FirstName: ptr("X")}, latchkey.ENOTFOUND},
		{"Deleted", func(_, _, g int64) int64 { return g }, latchkey.UserUpdate{FirstName: ptr("X")}, latchkey.ENOTFOUND},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			alice := createUser(t, s, newUser("alice"))
			bob := createUser(t, s, newUser("bob"))
			gone := createUser(t, s, newUser("gone"))
			if err := s.DeleteUser(t.Context(), gone.ID, at(time.Minute)); err != nil {
				t.Fatalf("DeleteUser(%d) = %v", gone.ID, err)
			}
			id := tt.id(alice.ID, bob.ID, gone.ID)
			before, _ := s.User(t.Context(), id)

			_, err := s.UpdateUser(t.Context(), id, tt.update, when)
			checkCode(t, fmt.Sprintf("UpdateUser(%d, %+v)", id, tt.update), err, tt.code)

			after, _ := s.User(t.Context(), id)
			if diff := cmp.Diff(before, after, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("a failed UpdateUser changed User(%d) (-before +after):\n%s", id, diff)
			}
		})
	}
}

func testDeleteUser(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("MarksDeleted", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		other := createUser(t, s, newUser("bob"))
		if err := s.DeleteUser(t.Context(), u.ID, at(time.Hour)); err != nil {
			t.Fatalf("DeleteUser(%d) = %v", u.ID, err)
		}
		got, err := s.User(t.Context(), u.ID)
		if err != nil {
			t.Fatalf("User(%d) = %v", u.ID, err)
		}
		if got.DeletedAt == nil || !got.DeletedAt.Equal(at(time.Hour)) || !got.Deleted() {
			t.Errorf("after DeleteUser, User(%d).DeletedAt = %v, want %v", u.ID, got.DeletedAt, at(time.Hour))
		}
		checkUTC(t, fmt.Sprintf("User(%d)", u.ID), got.DeletedAt)
		users, err := s.Users(t.Context(), latchkey.UserFilter{})
		if err != nil {
			t.Fatalf("Users() = %v", err)
		}
		if diff := cmp.Diff([]int64{other.ID}, userIDs(users)); diff != "" {
			t.Errorf("after DeleteUser, Users() ids mismatch (-want +got):\n%s", diff)
		}
		otherNow, err := s.User(t.Context(), other.ID)
		if err != nil || otherNow.Deleted() {
			t.Errorf("after DeleteUser(%d), User(%d) = %+v, %v, want not deleted", u.ID, other.ID, otherNow, err)
		}
	})

	t.Run("AlreadyDeleted", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		if err := s.DeleteUser(t.Context(), u.ID, at(time.Hour)); err != nil {
			t.Fatalf("DeleteUser(%d) = %v", u.ID, err)
		}
		err := s.DeleteUser(t.Context(), u.ID, at(2*time.Hour))
		checkCode(t, fmt.Sprintf("second DeleteUser(%d)", u.ID), err, latchkey.ENOTFOUND)
		got, err := s.User(t.Context(), u.ID)
		if err != nil {
			t.Fatalf("User(%d) = %v", u.ID, err)
		}
		if got.DeletedAt == nil || !got.DeletedAt.Equal(at(time.Hour)) {
			t.Errorf("after a second DeleteUser, User(%d).DeletedAt = %v, want the first %v", u.ID, got.DeletedAt, at(time.Hour))
		}
	})

	t.Run("Missing", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		err := s.DeleteUser(t.Context(), u.ID+1000, at(time.Hour))
		checkCode(t, fmt.Sprintf("DeleteUser(%d)", u.ID+1000), err, latchkey.ENOTFOUND)
	})
}

// deleteUser deletes u at when, and sets u.DeletedAt and u.UpdatedAt as
// the store does.
func deleteUser(t *testing.T, s latchkey.Store, u *latchkey.User, when time.Time) {
	t.Helper()
	if err := s.DeleteUser(t.Context(), u.ID, when); err != nil {
		t.Fatalf("DeleteUser(%d) = %v", u.ID, err)
	}
	u.DeletedAt, u.UpdatedAt = ptr(when), when
}

func testRestoreUser(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("Restores", func(t *testing.T) {
		s := open(t)
		alice := newUser("alice")
		alice.Status = latchkey.StatusInactive
		alice.Permissions = []string{latchkey.PermViewUsers}
		alice.PasswordHash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"
		createUser(t, s, alice)
		bob := createUser(t, s, newUser("bob"))
		app := createClient(t, s, newClient("App"))
		consent := saveConsent(t, s, newConsent(alice.ID, app.ID, "a"))

		personal := createToken(t, s, newToken(1, alice.ID))
		earlier := createToken(t, s, newToken(2, alice.ID))
		if _, _, err := s.RevokeToken(t.Context(), earlier.ID, at(time.Minute), latchkey.ReasonRevoked); err != nil {
			t.Fatalf("RevokeToken(%q) = %v", earlier.ID, err)
		}
		issued, _ := issueToken(t, s, 3, alice.ID, app.ID, "request-a")
		refresh := createGrant(t, s, newGrant(latchkey.GrantRefresh, signature(1), "request-a", alice.ID, app.ID))
		bobs, _ := issueToken(t, s, 4, bob.ID, app.ID, "request-b")
		bobsRefresh := createGrant(t, s, newGrant(latchkey.GrantRefresh, signature(2), "request-b", bob.ID, app.ID))

		deleteUser(t, s, alice, at(time.Hour))
		when := at(2 * time.Hour)
		got, revoked, err := s.RestoreUser(t.Context(), alice.ID, when)
		if err != nil {
			t.Fatalf("RestoreUser(%d) = %v", alice.ID, err)
		}
		after := fmt.Sprintf("RestoreUser(%d)", alice.ID)

		// The user is back as it was, but for UpdatedAt.
		want := *alice
		want.DeletedAt, want.UpdatedAt = nil, when
		if diff := cmp.Diff(&want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s mismatch (-want +got):\n%s", after, diff)
		}
		checkUTC(t, after, &got.UpdatedAt)
		stored, err := s.User(t.Context(), alice.ID)
		if err != nil {
			t.Fatalf("User(%d) = %v", alice.ID, err)
		}
		if diff := cmp.Diff(&want, stored, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("after %s, User(%d) mismatch (-want +got):\n%s", after, alice.ID, diff)
		}
		live, err := s.Users(t.Context(), latchkey.UserFilter{})
		if err != nil {
			t.Fatalf("Users() = %v", err)
		}
		if diff := cmp.Diff([]int64{alice.ID, bob.ID}, userIDs(live)); diff != "" {
			t.Errorf("after %s, Users() ids mismatch (-want +got):\n%s", after, diff)
		}

		// Nothing the user held comes back: its tokens and grants are
		// revoked, and its authorizations marked, now; the others' are
		// untouched.
		if diff := cmp.Diff(revokedAt(t, s, when, latchkey.ReasonUserRestored, personal, issued), byID(revoked)); diff != "" {
			t.Errorf("%s revoked tokens mismatch (-want +got):\n%s", after, diff)
		}
		checkRevoked(t, s, after, true, when, personal.ID, issued.ID)
		checkRevoked(t, s, after, true, at(time.Minute), earlier.ID)
		checkRevoked(t, s, after, false, time.Time{}, bobs.ID)
		checkActive(t, s, after, false, latchkey.GrantAccess, issued.ID)
		checkActive(t, s, after, false, latchkey.GrantRefresh, refresh.Signature)
		checkActive(t, s, after, true, latchkey.GrantAccess, bobs.ID)
		checkActive(t, s, after, true, latchkey.GrantRefresh, bobsRefresh.Signature)
		checkLive(t, s, after, "request-a", alice.ID, app.ID, false)
		// The consent stays: the person approves no application anew,
		// but every token the application had is gone.
		if _, err := s.Consent(t.Context(), consent.UserID, consent.ClientID); err != nil {
			t.Errorf("after %s, Consent(%d, %d) = %v, want the consent", after, consent.UserID, consent.ClientID, err)
		}

		_, _, err = s.RestoreUser(t.Context(), alice.ID, at(3*time.Hour))
		checkCode(t, after+" again", err, latchkey.ENOTFOUND)
	})

	t.Run("WithoutTokens", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		deleteUser(t, s, u, at(time.Hour))
		got, revoked, err := s.RestoreUser(t.Context(), u.ID, at(2*time.Hour))
		if err != nil {
			t.Fatalf("RestoreUser(%d) = %v", u.ID, err)
		}
		if got.Deleted() || len(revoked) != 0 {
			t.Errorf("RestoreUser(%d) = deleted %t, %d tokens revoked; want not deleted, none", u.ID, got.Deleted(), len(revoked))
		}
	})

	t.Run("NotDeleted", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		tok := createToken(t, s, newToken(1, u.ID))
		_, _, err := s.RestoreUser(t.Context(), u.ID, at(time.Hour))
		checkCode(t, fmt.Sprintf("RestoreUser(%d) of a live user", u.ID), err, latchkey.ENOTFOUND)
		got, err := s.User(t.Context(), u.ID)
		if err != nil {
			t.Fatalf("User(%d) = %v", u.ID, err)
		}
		if diff := cmp.Diff(u, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("a refused RestoreUser changed User(%d) (-before +after):\n%s", u.ID, diff)
		}
		checkRevoked(t, s, "a refused RestoreUser", false, time.Time{}, tok.ID)
	})

	t.Run("Missing", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		for _, id := range []int64{0, -1, u.ID + 1000} {
			_, _, err := s.RestoreUser(t.Context(), id, at(time.Hour))
			checkCode(t, fmt.Sprintf("RestoreUser(%d)", id), err, latchkey.ENOTFOUND)
		}
	})

	// While a live user has the deleted user's username or email, the
	// restore is refused, says which, and changes nothing.
	t.Run("Taken", func(t *testing.T) {
		tests := []struct {
			name            string
			username, email string
			says            string
		}{
			{"Username", "alice", "other@example.com", "username"},
			{"Email", "other", "alice@example.com", "email"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := open(t)
				gone := createUser(t, s, newUser("alice"))
				tok := createToken(t, s, newToken(1, gone.ID))
				refresh := createGrant(t, s, newGrant(latchkey.GrantRefresh, signature(1), "request-a", gone.ID, latchkey.PersonalAccessClientID))
				deleteUser(t, s, gone, at(time.Hour))
				taker := newUser(tt.username)
				taker.Email = tt.email
				createUser(t, s, taker)

				call := fmt.Sprintf("RestoreUser(%d) while user %d has its %s", gone.ID, taker.ID, tt.says)
				_, revoked, err := s.RestoreUser(t.Context(), gone.ID, at(2*time.Hour))
				checkCode(t, call, err, latchkey.ECONFLICT)
				if msg := latchkey.ErrorMessage(err); !strings.Contains(msg, tt.says) {
					t.Errorf("%s: message %q does not name the %s", call, msg, tt.says)
				}
				if len(revoked) != 0 {
					t.Errorf("%s revoked %d tokens, want none", call, len(revoked))
				}
				got, err := s.User(t.Context(), gone.ID)
				if err != nil {
					t.Fatalf("User(%d) = %v", gone.ID, err)
				}
				if diff := cmp.Diff(gone, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("after %s, User(%d) mismatch (-want +got):\n%s", call, gone.ID, diff)
				}
				checkRevoked(t, s, call, false, time.Time{}, tok.ID)
				checkActive(t, s, call, true, latchkey.GrantRefresh, refresh.Signature)

				// Once the taker is deleted in turn, the restore goes.
				deleteUser(t, s, taker, at(3*time.Hour))
				if _, _, err := s.RestoreUser(t.Context(), gone.ID, at(4*time.Hour)); err != nil {
					t.Errorf("RestoreUser(%d) after user %d was deleted = %v, want nil", gone.ID, taker.ID, err)
				}
			})
		}
	})

	// Of two deleted users with one username, one can come back.
	t.Run("TwoDeletedOneName", func(t *testing.T) {
		s := open(t)
		first := createUser(t, s, newUser("alice"))
		deleteUser(t, s, first, at(time.Hour))
		second := createUser(t, s, newUser("alice"))
		deleteUser(t, s, second, at(2*time.Hour))

		errs := make(chan error, 2)
		for _, u := range []*latchkey.User{first, second} {
			go func() {
				_, _, err := s.RestoreUser(t.Context(), u.ID, at(3*time.Hour))
				errs <- err
			}()
		}
		var codes []string
		for range 2 {
			codes = append(codes, latchkey.ErrorCode(<-errs))
		}
		slices.Sort(codes)
		if diff := cmp.Diff([]string{"", latchkey.ECONFLICT}, codes); diff != "" {
			t.Errorf("two concurrent RestoreUser of users named alice: codes mismatch (-want +got):\n%s", diff)
		}
		live, err := s.Users(t.Context(), latchkey.UserFilter{})
		if err != nil {
			t.Fatalf("Users() = %v", err)
		}
		if len(live) != 1 {
			t.Errorf("after two RestoreUser of users named alice, %d users are live, want 1", len(live))
		}
		found, err := s.UserByLogin(t.Context(), "alice")
		if err != nil || found.Deleted() {
			t.Errorf("UserByLogin(%q) = %+v, %v; want the restored user", "alice", found, err)
		}
	})
}
