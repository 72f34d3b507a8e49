package service

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
)

// TestRestoreUser: a restored user is back, with its password, but none
// of its tokens: they stay refused, even from the caches that held them
// before the deletion, and the restore is audited.
func TestRestoreUser(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	ctx := t.Context()
	alice := svc.userWithPassword(t, "alice")
	tok, raw := svc.mustToken(t, alice)
	// The caches hold the token, its row and alice's list.
	if _, err := svc.Authenticate(ctx, raw, latchkey.Origin{}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Token(ctx, alice, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, n, err := svc.Tokens(ctx, alice, ListQuery{Page: 1, PerPage: 10}); err != nil || n != 1 {
		t.Fatalf("Tokens() = %d tokens, %v; want 1", n, err)
	}
	if err := svc.DeleteUser(ctx, alice.ID); err != nil {
		t.Fatal(err)
	}

	got, err := svc.RestoreUser(ctx, alice.ID)
	if err != nil {
		t.Fatalf("RestoreUser(%d) = %v", alice.ID, err)
	}
	if got.ID != alice.ID || !got.Active() {
		t.Errorf("RestoreUser(%d) = %+v, want user %d active", alice.ID, got, alice.ID)
	}
	if _, err := svc.Authenticate(ctx, raw, latchkey.Origin{}); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("after RestoreUser, the token of before the deletion authenticates: %v", err)
	}
	if row, err := svc.Token(ctx, got, tok.ID); err != nil || !row.Revoked {
		t.Errorf("after RestoreUser, Token(%q) = %+v, %v; want it revoked", tok.ID, row, err)
	}
	if _, n, err := svc.Tokens(ctx, got, ListQuery{Page: 1, PerPage: 10}); err != nil || n != 0 {
		t.Errorf("after RestoreUser, Tokens() = %d tokens, %v; want none", n, err)
	}
	_, fresh := svc.mustToken(t, got)
	if _, err := svc.Authenticate(ctx, fresh, latchkey.Origin{}); err != nil {
		t.Errorf("a token made after RestoreUser: %v", err)
	}
	if u, _, err := svc.SignIn(ctx, "alice", testPassword, testOrigin); err != nil || u.ID != alice.ID {
		t.Errorf("after RestoreUser, SignIn(%q) = %+v, %v; want user %d", "alice", u, err, alice.ID)
	}

	rs, err := svc.Audit(ctx, latchkey.AuditFilter{Action: latchkey.AuditUserRestored})
	if err != nil || len(rs) != 1 || rs[0].SubjectUserID == nil || *rs[0].SubjectUserID != alice.ID || rs[0].ActorUserID != nil {
		t.Errorf("audit of the restore: %+v, %v; want one record of user %d by the operator", rs, err, alice.ID)
	}
	rs, err = svc.Audit(ctx, latchkey.AuditFilter{Action: latchkey.AuditTokenRevoked})
	if err != nil || len(rs) != 1 || rs[0].SubjectID != tok.ID || rs[0].Detail != "user restored" {
		t.Errorf("audit of the tokens the restore revoked: %+v, %v; want token %s, user restored", rs, err, tok.ID)
	}

	_, err = svc.RestoreUser(ctx, alice.ID)
	if latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		t.Errorf("RestoreUser(%d) of a user not deleted = %v, want ENOTFOUND", alice.ID, err)
	}
}

// TestRestoreUserTaken: while a live user has the deleted user's username
// or email, the restore is refused with a conflict that names which, and
// who has it; the deleted user stays deleted.
func TestRestoreUserTaken(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	ctx := t.Context()
	alice := svc.mustUser(t, "alice")
	bob := svc.mustUser(t, "bob")
	for _, u := range []*latchkey.User{alice, bob} {
		if err := svc.DeleteUser(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	newAlice, err := svc.CreateUser(ctx, NewUser{Username: "alice", Email: "alice2@example.com"})
	if err != nil {
		t.Fatalf("CreateUser(%q) over a deleted alice = %v, want nil", "alice", err)
	}
	carol, err := svc.CreateUser(ctx, NewUser{Username: "carol", Email: "bob@example.com"})
	if err != nil {
		t.Fatalf("CreateUser(%q) with a deleted user's email = %v, want nil", "carol", err)
	}

	for _, tc := range []struct {
		user *latchkey.User
		want string
	}{
		{alice, fmt.Sprintf(`user %d cannot be restored: its username "alice" has been taken by user %d meanwhile`, alice.ID, newAlice.ID)},
		{bob, fmt.Sprintf(`user %d cannot be restored: its email "bob@example.com" has been taken by user %d meanwhile`, bob.ID, carol.ID)},
	} {
		_, err := svc.RestoreUser(ctx, tc.user.ID)
		if latchkey.ErrorCode(err) != latchkey.ECONFLICT || latchkey.ErrorMessage(err) != tc.want {
			t.Errorf("RestoreUser(%d) = %v, want ECONFLICT %q", tc.user.ID, err, tc.want)
		}
		if u, err := svc.FindUser(ctx, idString(tc.user.ID)); err != nil || !u.Deleted() {
			t.Errorf("after a refused RestoreUser, user %d = %+v, %v; want it deleted", tc.user.ID, u, err)
		}
	}
	rs, err := svc.Audit(ctx, latchkey.AuditFilter{Action: latchkey.AuditUserRestored})
	if err != nil || len(rs) != 0 {
		t.Errorf("refused restores audited as done: %+v, %v", rs, err)
	}
}

// TestFindUserPrefersLive: a username or email names the live user that
// has it, never a deleted one, at the command line and at sign-in.
func TestFindUserPrefersLive(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	ctx := t.Context()
	old := svc.userWithPassword(t, "alice")
	if err := svc.DeleteUser(ctx, old.ID); err != nil {
		t.Fatal(err)
	}
	pw := "another password, as long"
	live, err := svc.CreateUser(ctx, NewUser{Username: "alice", Email: "alice@example.com", Password: pw})
	if err != nil {
		t.Fatalf("CreateUser(%q) over a deleted alice = %v", "alice", err)
	}
	for _, ref := range []string{"alice", "alice@example.com"} {
		if u, err := svc.FindUser(ctx, ref); err != nil || u.ID != live.ID {
			t.Errorf("FindUser(%q) = %+v, %v; want user %d", ref, u, err, live.ID)
		}
		if u, _, err := svc.SignIn(ctx, ref, pw, testOrigin); err != nil || u.ID != live.ID {
			t.Errorf("SignIn(%q) = %+v, %v; want user %d", ref, u, err, live.ID)
		}
		if _, _, err := svc.SignIn(ctx, ref, testPassword, testOrigin); err == nil {
			t.Errorf("SignIn(%q) with the deleted user's password succeeded", ref)
		}
	}
	if u, err := svc.FindUser(ctx, idString(old.ID)); err != nil || u.ID != old.ID {
		t.Errorf("FindUser(%d) = %+v, %v; want the deleted user by its id", old.ID, u, err)
	}
}

func TestFindDeletedUser(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	ctx := t.Context()
	live := svc.mustUser(t, "live")
	gone := svc.mustUser(t, "gone")
	twice := []*latchkey.User{svc.mustUser(t, "twice")}
	for _, u := range []*latchkey.User{gone, twice[0]} {
		if err := svc.DeleteUser(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	twice = append(twice, svc.mustUser(t, "twice"))
	if err := svc.DeleteUser(ctx, twice[1].ID); err != nil {
		t.Fatal(err)
	}
	// 123 is a username, not an id.
	numeric := svc.mustUser(t, "123")
	if err := svc.DeleteUser(ctx, numeric.ID); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		ref  string
		want *latchkey.User
		code string
		says string
	}{
		{idString(gone.ID), gone, "", ""},
		{"gone", gone, "", ""},
		{"gone@example.com", gone, "", ""},
		{"GONE", nil, latchkey.ENOTFOUND, `no deleted user "GONE"`},
		{"gon", nil, latchkey.ENOTFOUND, `no deleted user "gon"`},
		{idString(twice[0].ID), twice[0], "", ""},
		{"twice", nil, latchkey.EINVALID, fmt.Sprintf(`2 deleted users have the username or email "twice" (ids %d, %d): name one by its id`, twice[0].ID, twice[1].ID)},
		{idString(live.ID), nil, latchkey.ENOTFOUND, fmt.Sprintf("user %d is not deleted", live.ID)},
		{"live", nil, latchkey.ENOTFOUND, `no deleted user "live"`},
		{"123", numeric, "", ""},
		{"nobody", nil, latchkey.ENOTFOUND, `no deleted user "nobody"`},
	} {
		got, err := svc.FindDeletedUser(ctx, tc.ref)
		if tc.want != nil {
			if err != nil || got.ID != tc.want.ID {
				t.Errorf("FindDeletedUser(%q) = %+v, %v; want user %d", tc.ref, got, err, tc.want.ID)
			}
			continue
		}
		if latchkey.ErrorCode(err) != tc.code || !strings.Contains(latchkey.ErrorMessage(err), tc.says) {
			t.Errorf("FindDeletedUser(%q) = %+v, %v; want %s %q", tc.ref, got, err, tc.code, tc.says)
		}
	}
}

// TestRestoreReachesOtherProcess: a restore made by another process (the
// command line) reaches a running server through the events it polls: the
// token rows and lists it cached show the tokens the restore revoked. Its
// clock stands still, so that nothing it cached expires on its own.
func TestRestoreReachesOtherProcess(t *testing.T) {
	clock := newTestClock()
	svc, st := newTestService(t, Config{Now: clock.Now})
	other, err := New(t.Context(), st, svc.sealer, svc.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	before := svc.rows.generation()
	go func() { _ = svc.Run(ctx) }()
	// Subscribing purges the caches once; cache only after that.
	for svc.rows.generation() == before {
		runtime.Gosched()
	}
	alice := svc.mustUser(t, "alice")
	tok, raw := svc.mustToken(t, alice)
	if _, err := svc.Authenticate(ctx, raw, latchkey.Origin{}); err != nil {
		t.Fatal(err)
	}
	if row, err := svc.Token(ctx, alice, tok.ID); err != nil || row.Revoked {
		t.Fatalf("Token(%q) = %+v, %v", tok.ID, row, err)
	}
	if _, n, err := svc.Tokens(ctx, alice, ListQuery{Page: 1, PerPage: 10}); err != nil || n != 1 {
		t.Fatalf("Tokens() = %d, %v; want 1", n, err)
	}

	if err := other.DeleteUser(ctx, alice.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := other.RestoreUser(ctx, alice.ID); err != nil {
		t.Fatal(err)
	}
	// The events arrive within sqlite.EventPoll; only the test's own
	// deadline ends a wait for what never comes.
	eventually(t, fmt.Sprintf("after another process restored user %d, its token %s shown revoked and none listed", alice.ID, tok.ID), func() bool {
		row, err := svc.Token(ctx, alice, tok.ID)
		_, n, lerr := svc.Tokens(ctx, alice, ListQuery{Page: 1, PerPage: 10})
		return err == nil && row.Revoked && lerr == nil && n == 0
	})
	if _, err := svc.Authenticate(ctx, raw, latchkey.Origin{}); err == nil {
		t.Error("after another process restored the user, the token of before the deletion authenticates")
	}
}

func TestEmailRule(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	local := strings.Repeat("a", 64)
	longest := local + "@" + strings.Repeat("b", MaxEmailLength-len(local)-1-4) + ".com"
	if len(longest) != MaxEmailLength {
		t.Fatalf("longest is %d", len(longest))
	}
	for _, c := range []struct {
		email string
		ok    bool
	}{
		{"alice@example.com", true},
		{longest, true},
		{"a" + longest, false},
		{strings.Repeat("a", 990) + "@example.com", false},
		{"\u202emoc.elpmaxe@x.com", false},
		{"ali\u200bce@example.com", false},
		{"Alice <alice@example.com>", false},
	} {
		_, err := svc.CreateUser(t.Context(), NewUser{Username: "u" + strconv.Itoa(len(c.email)) + strconv.FormatBool(c.ok), Email: c.email})
		if (err == nil) != c.ok {
			t.Errorf("CreateUser(email %.40q… of %d bytes) = %v, want ok %v", c.email, len(c.email), err, c.ok)
		}
		if err != nil && latchkey.ErrorCode(err) != latchkey.EINVALID {
			t.Errorf("CreateUser(email %.40q) = %v, want EINVALID", c.email, err)
		}
	}
}
