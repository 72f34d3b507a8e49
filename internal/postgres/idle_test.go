package postgres

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// TestRevokeIdleOneAtATime: while another sweep holds the idle sweep's
// lock, RevokeIdle revokes nothing and does not wait; once it is
// released, the next sweep does the work.
func TestRevokeIdleOneAtATime(t *testing.T) {
	db := open(t)
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	u := &latchkey.User{Username: "alice", Email: "alice@example.com", Status: latchkey.StatusActive, CreatedAt: time.Unix(0, 0), UpdatedAt: time.Unix(0, 0)}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	tok := &latchkey.Token{ID: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		UserID: u.ID, ClientID: latchkey.PersonalAccessClientID, Name: "idle", Scopes: latchkey.Scopes{},
		CreatedAt: time.Unix(0, 0), UpdatedAt: time.Unix(0, 0)}
	if err := db.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	other, err := db.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(ctx, `SELECT pg_advisory_xact_lock($1::int4, hashtext(current_schema()))`, int32(idleSweepLock)); err != nil {
		t.Fatal(err)
	}
	got, err := db.RevokeIdle(ctx, time.Unix(3600, 0), time.Unix(7200, 0))
	if err != nil || len(got) != 0 {
		t.Fatalf("RevokeIdle while another sweep runs = %d tokens, %v; want none", len(got), err)
	}
	if err := other.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	got, err = db.RevokeIdle(ctx, time.Unix(3600, 0), time.Unix(7200, 0))
	if err != nil || len(got) != 1 || got[0].RevokedReason != latchkey.ReasonIdle {
		t.Fatalf("RevokeIdle after = %v, %v; want the idle token", got, err)
	}
}
