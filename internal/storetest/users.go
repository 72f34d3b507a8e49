package storetest

import (
	"fmt"
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

	t.Run("DeletedUsersLogin", func(t *testing.T) {
		for _, field := range []string{"Username", "Email"} {
			t.Run(field, func(t *testing.T) {
				s := open(t)
				gone := createUser(t, s, newUser("gone"))
				if err := s.DeleteUser(t.Context(), gone.ID, at(time.Hour)); err != nil {
					t.Fatalf("DeleteUser(%d) = %v", gone.ID, err)
				}
				u := newUser("new")
				if field == "Username" {
					u.Username = gone.Username
				} else {
					u.Email = gone.Email
				}
				err := s.CreateUser(t.Context(), u)
				checkCode(t, fmt.Sprintf("CreateUser(%q, %q) over a deleted user", u.Username, u.Email), err, latchkey.ECONFLICT)
			})
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

	tests := []struct {
		name  string
		login string
		want  *latchkey.User // nil: ENOTFOUND
	}{
		{"Username", "alice", alice},
		{"Email", "alice@example.com", alice},
		{"DeletedByUsername", "bob", bob},
		{"DeletedByEmail", "bob@example.com", bob},
		{"Unknown", "carol", nil},
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

	errTests := []struct {
		name   string
		id     func(alice, bob, gone int64) int64
		update latchkey.UserUpdate
		code   string
	}{
		{"UsernameTaken", func(a, _, _ int64) int64 { return a }, latchkey.UserUpdate{Username: ptr("bob")}, latchkey.ECONFLICT},
		{"EmailTaken", func(a, _, _ int64) int64 { return a }, latchkey.UserUpdate{Email: ptr("bob@example.com")}, latchkey.ECONFLICT},
		{"DeletedUsersUsername", func(a, _, _ int64) int64 { return a }, latchkey.UserUpdate{Username: ptr("gone")}, latchkey.ECONFLICT},
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
