package service

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey"
)

func TestUserTokens(t *testing.T) {
	clock := newTestClock()
	svc, _ := newTestService(t, Config{Now: clock.Now})
	ctx := t.Context()
	ann, bea := svc.mustUser(t, "ann"), svc.mustUser(t, "bea")
	self := &latchkey.Principal{User: ann}
	var ids []string
	for _, name := range []string{"first", "second", "third"} {
		tok, _, err := svc.CreateToken(ctx, self, ann, TokenRequest{Name: &name})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tok.ID)
		clock.Add(time.Second)
	}
	other := "not ann's"
	if _, _, err := svc.CreateToken(ctx, &latchkey.Principal{User: bea}, bea, TokenRequest{Name: &other}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RevokeToken(ctx, self, ann, ids[1]); err != nil {
		t.Fatal(err)
	}

	got, total, err := svc.UserTokens(ctx, ann, 0)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		ID      string
		Revoked bool
	}
	var rows []row
	for _, tok := range got {
		rows = append(rows, row{tok.ID, tok.Revoked})
	}
	want := []row{{ids[2], false}, {ids[1], true}, {ids[0], false}}
	if diff := cmp.Diff(want, rows); diff != "" || total != 3 {
		t.Errorf("UserTokens(ann) = %d in all, (-want +got):\n%s", total, diff)
	}

	// The API's list leaves the revoked one out; this one does not.
	listed, _, err := svc.Tokens(ctx, ann, ListQuery{Page: 1, PerPage: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 2 {
		t.Errorf("Tokens(ann) = %d tokens, want 2", len(listed))
	}

	// A limit keeps the newest, and the total counts them all.
	got, total, err = svc.UserTokens(ctx, ann, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != ids[2] || total != 3 {
		t.Errorf("UserTokens(ann, 1) = %d tokens of %d, want the newest of 3", len(got), total)
	}

	// A use not yet written shows at once.
	used := clock.Now()
	svc.usage.record(ids[0], used, "")
	got, _, err = svc.UserTokens(ctx, ann, 0)
	if err != nil {
		t.Fatal(err)
	}
	if last := got[2].LastUsedAt; last == nil || !last.Equal(used) {
		t.Errorf("UserTokens(ann)[2].LastUsedAt = %v, want %v", last, used)
	}
}

func TestSearchUsers(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	ctx := t.Context()
	for _, name := range []string{"carol", "caroline", "dave"} {
		svc.mustUser(t, name)
	}
	gone := svc.mustUser(t, "carla")
	if err := svc.DeleteUser(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	plain := svc.mustUser(t, "plain")
	viewer, err := svc.CreateUser(ctx, NewUser{Username: "viewer", Email: "viewer@example.com", Permissions: []string{latchkey.PermViewUsers}})
	if err != nil {
		t.Fatal(err)
	}
	editor, err := svc.CreateUser(ctx, NewUser{Username: "editor", Email: "editor@example.com", Permissions: []string{latchkey.PermEditUsers}})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := svc.CreateUser(ctx, NewUser{Username: "root", Email: "root@example.com", Admin: true})
	if err != nil {
		t.Fatal(err)
	}

	names := func(us []*latchkey.User) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.Username)
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		who    *latchkey.User
		search string
		limit  int
		want   []string
		more   bool
		code   string
	}{
		{name: "viewer searches", who: viewer, search: "CAROL", limit: 10, want: []string{"carol", "caroline"}},
		{name: "admin searches", who: admin, search: "carol", limit: 10, want: []string{"carol", "caroline"}},
		{name: "a limit says there is more", who: viewer, search: "carol", limit: 1, want: []string{"carol"}, more: true},
		{name: "deleted users are left out", who: viewer, search: "carla", limit: 10},
		{name: "a plain user is refused", who: plain, search: "carol", limit: 10, code: latchkey.EFORBIDDEN},
		{name: "edit-users alone is refused", who: editor, search: "carol", limit: 10, code: latchkey.EFORBIDDEN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, more, err := svc.SearchUsers(ctx, &latchkey.Principal{User: tc.who}, tc.search, tc.limit)
			if code := latchkey.ErrorCode(err); code != tc.code {
				t.Fatalf("SearchUsers(%q) error = %v, want code %q", tc.search, err, tc.code)
			}
			if diff := cmp.Diff(tc.want, names(got)); diff != "" || more != tc.more {
				t.Errorf("SearchUsers(%q) = more %v, want %v; users (-want +got):\n%s", tc.search, more, tc.more, diff)
			}
		})
	}
}

func TestTokenLifetimes(t *testing.T) {
	clock := newTestClock()
	svc, _ := newTestService(t, Config{Now: clock.Now, DefaultLifetime: Lifetime{Days: 30}, MaxLifetime: Lifetime{Days: 90}})
	def, latest := svc.TokenLifetimes()
	now := clock.Now()
	if want := now.AddDate(0, 0, 30); !def.Equal(want) {
		t.Errorf("TokenLifetimes() default = %v, want %v", def, want)
	}
	if want := now.AddDate(0, 0, 90); !latest.Equal(want) {
		t.Errorf("TokenLifetimes() latest = %v, want %v", latest, want)
	}
}
