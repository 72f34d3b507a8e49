package notify_test

import (
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/notify"
	"github.com/latchkey/latchkey/internal/service"
)

// TestRemindersOnceAcrossReplicas: two servers on one database, a clock
// moved across the three thresholds and past expiry: each reminder is
// written once, at the smallest threshold reached, and delivered once.
func TestRemindersOnceAcrossReplicas(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	w.register(t, latchkey.NoteTokenExpiring, latchkey.NoteTokenExpired)
	alice := w.user(t, "alice")
	day := 24 * time.Hour
	mk := func(name string, life time.Duration) *latchkey.Token {
		t.Helper()
		exp := w.clk.Now().Add(life)
		tok, _, err := w.svc.CreateToken(ctx, &latchkey.Principal{User: alice}, alice, service.TokenRequest{Name: &name, ExpiresAt: &exp})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	long := mk("long", 60*day) // every threshold, then expired
	mk("short", 5*day)         // lived less than 7 and 30 days: the 1-day reminder only
	mk("hour", time.Hour)      // lived less than a day: nothing at all
	revoked := mk("revoked", 10*day)
	if _, err := w.svc.OperatorRevokeToken(ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}
	a, b := w.notifier(t, "a"), w.notifier(t, "b")
	both := func() {
		t.Helper()
		var wg sync.WaitGroup
		for _, n := range []*notify.Notifier{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := n.Remind(ctx); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		run(t, a)
		run(t, b)
	}
	type seen struct {
		typ       latchkey.NotificationType
		token     string
		threshold string
	}
	var got []seen
	step := func(to time.Duration) {
		// The clock walks six hours at a time, both servers reminding at
		// each step.
		for w.clk.Now().Before(long.CreatedAt.Add(to)) {
			w.clk.Advance(6 * time.Hour)
			both()
		}
	}
	step(65 * day)
	for _, p := range w.hook.posts() {
		if p.VerifyErr != nil {
			t.Fatal(p.VerifyErr)
		}
		got = append(got, seen{p.Body.Type, p.Body.Data.TokenName, p.Body.Data.Reason})
	}
	want := []seen{
		{latchkey.NoteTokenExpiring, "short", "1d"},
		{latchkey.NoteTokenExpired, "short", ""},
		{latchkey.NoteTokenExpiring, "long", "30d"},
		{latchkey.NoteTokenExpiring, "long", "7d"},
		{latchkey.NoteTokenExpiring, "long", "1d"},
		{latchkey.NoteTokenExpired, "long", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("posts %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("post %d: %v, want %v", i, got[i], want[i])
		}
	}
	// And the token the operator revoked: one mail (the webhook takes
	// reminders only).
	if n := len(mails(w.smtp)); n != len(want)+1 {
		t.Errorf("%d mails, want %d", n, len(want)+1)
	}
}
