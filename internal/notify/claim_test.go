package notify_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/notify"
)

// claimStore is an outbox of one webhook delivery that claims as the
// stores do: a claim that ran out is taken by whoever asks next, and an
// attempt is recorded only by the claimant that holds the delivery.
type claimStore struct {
	latchkey.NotificationStore // not called

	mu    sync.Mutex
	d     latchkey.Delivery
	by    string    // who holds the claim, "" for no one
	until time.Time // when it runs out
	// lost counts the attempts not recorded: another claim held the
	// delivery by then.
	lost int
}

func newClaimStore() *claimStore {
	now := time.Now()
	return &claimStore{d: latchkey.Delivery{ID: 1, WebhookID: "wh_1", Recipient: "https://hooks.example.com/",
		State: latchkey.DeliveryPending, CreatedAt: now, NextAt: now, MsgID: "msg_1", Type: latchkey.NoteTokenCreated, Body: []byte(`{}`)}}
}

func (s *claimStore) ClaimDeliveries(_ context.Context, server string, now, until time.Time, _ int) ([]*latchkey.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.d.State != latchkey.DeliveryPending || s.d.NextAt.After(now) || (s.by != "" && s.until.After(now)) {
		return nil, nil
	}
	s.by, s.until = server, until
	d := s.d
	return []*latchkey.Delivery{&d}, nil
}

func (s *claimStore) RecordAttempt(_ context.Context, a latchkey.Attempt) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.by != a.Server || s.d.State != latchkey.DeliveryPending {
		s.lost++
		return false, nil
	}
	s.d.Attempts++
	s.d.LastError = a.Err
	switch {
	case a.Err == "":
		s.d.State = latchkey.DeliveryDelivered
	case a.NextAt != nil:
		s.d.NextAt = *a.NextAt
	default:
		s.d.State = latchkey.DeliveryFailed
	}
	s.by = ""
	return true, nil
}

// claimUntil is when the claim held now runs out.
func (s *claimStore) claimUntil() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.until
}

// slowStore is one server's way to a claimStore: it hands claims over
// claimLag late, and takes recordLag to record attempts, as a database
// does when each waits for its write lock.
type slowStore struct {
	*claimStore
	claimLag, recordLag time.Duration
}

func (s slowStore) ClaimDeliveries(ctx context.Context, server string, now, until time.Time, most int) ([]*latchkey.Delivery, error) {
	time.Sleep(s.claimLag)
	return s.claimStore.ClaimDeliveries(ctx, server, now, until, most)
}

func (s slowStore) RecordAttempt(ctx context.Context, a latchkey.Attempt) (bool, error) {
	time.Sleep(s.recordLag)
	return s.claimStore.RecordAttempt(ctx, a)
}

// hangingReceiver is a webhook receiver that answers its first refuse
// posts at once with a 500, and never answers the others, reached by
// senders that give up after timeout as webhook.Sender does. It tells
// whether one sender posted while another still waited for its answer,
// and whether one waited past the claim it sent under.
type hangingReceiver struct {
	st      *claimStore
	timeout time.Duration
	refuse  int

	mu      sync.Mutex
	waiting int
	posts   map[string]int // by server
	twice   int            // posts made while another was waiting
	late    []string       // what was still waited for once its claim ran out
}

func newHangingReceiver(st *claimStore, timeout time.Duration) *hangingReceiver {
	return &hangingReceiver{st: st, timeout: timeout, posts: map[string]int{}}
}

type hangingSender struct {
	r      *hangingReceiver
	server string
}

func (h hangingSender) Send(ctx context.Context, _ string, _ []byte, _ string, _ time.Time, _ []byte) (int, error) {
	r := h.r
	r.mu.Lock()
	r.posts[h.server]++
	if r.refuse > 0 {
		r.refuse--
		r.mu.Unlock()
		return http.StatusInternalServerError, errors.New("HTTP 500")
	}
	if r.waiting > 0 {
		r.twice++
	}
	r.waiting++
	r.mu.Unlock()
	until := r.st.claimUntil()
	err := errors.New("timed out")
	select {
	case <-ctx.Done():
		err = context.Cause(ctx)
	case <-time.After(r.timeout):
	}
	r.mu.Lock()
	r.waiting--
	if time.Now().After(until) {
		r.late = append(r.late, h.server+" waited until "+time.Now().Format(time.StampMilli)+", its claim ran out at "+until.Format(time.StampMilli))
	}
	r.mu.Unlock()
	return 0, err
}

// check reports the posts made while another was waiting, and those that
// outlived their claims.
func (r *hangingReceiver) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.twice != 0 {
		t.Errorf("%d posts while another was still waiting for its answer", r.twice)
	}
	for _, l := range r.late {
		t.Errorf("an attempt outlived its claim: %s", l)
	}
}

const testClaim = 4 * time.Second

// claimNotifier is server's Notifier on st, with claims of testClaim,
// sending to r, on the bubble's clock.
func claimNotifier(t *testing.T, server string, st latchkey.NotificationStore, r *hangingReceiver) *notify.Notifier {
	return notify.New(notify.Options{Store: st, Sender: hangingSender{r, server},
		Opener: func(string, []byte) ([]byte, error) { return make([]byte, 32), nil },
		Server: server, Clock: time.Now, Claim: testClaim, Log: slog.New(slog.NewTextHandler(t.Output(), nil))})
}

// TestAttemptEndsWithinItsClaim: a server whose claim on a delivery is
// handed over late (its database was busy) still ends its attempt before
// the claim runs out, with time left to record it, or does not make it
// at all; so the server that claims the delivery next never sends it
// while the first still does.
func TestAttemptEndsWithinItsClaim(t *testing.T) {
	for _, tc := range []struct {
		name string
		lag  time.Duration // how late a's claim is handed over
		// Posts by each server, the attempts recorded, and what the
		// last one says.
		wantA, wantB, wantAttempts int
		wantErr                    string
	}{
		// The sender's timeout (half the claim) ends the attempt.
		{name: "claimed at once", lag: 0, wantA: 1, wantB: 0, wantAttempts: 1, wantErr: "timed out"},
		// Half the claim from the start would end after the claim: the
		// attempt is cut short a quarter of the claim before its end,
		// which leaves the time to record it, to be tried again after
		// its backoff.
		{name: "claimed late", lag: 2500 * time.Millisecond, wantA: 1, wantB: 0, wantAttempts: 1, wantErr: "claim"},
		// Too late to try at all: a leaves the claim to run out, and b
		// sends the delivery.
		{name: "claimed too late", lag: 3500 * time.Millisecond, wantA: 0, wantB: 1, wantAttempts: 1, wantErr: "timed out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := newClaimStore()
				r := newHangingReceiver(st, testClaim/2)
				a := claimNotifier(t, "a", slowStore{claimStore: st, claimLag: tc.lag, recordLag: testClaim / 8}, r)
				b := claimNotifier(t, "b", st, r)
				done := make(chan error, 1)
				go func() { _, err := a.Deliver(t.Context()); done <- err }()
				// b comes by just after a's claim ran out.
				time.Sleep(testClaim + 200*time.Millisecond)
				if _, err := b.Deliver(t.Context()); err != nil {
					t.Fatal(err)
				}
				if err := <-done; err != nil {
					t.Fatal(err)
				}

				r.check(t)
				if st.lost != 0 {
					t.Errorf("%d attempts recorded after their claim was taken", st.lost)
				}
				if r.posts["a"] != tc.wantA || r.posts["b"] != tc.wantB || st.d.Attempts != tc.wantAttempts {
					t.Errorf("posts by a %d, by b %d, attempts recorded %d; want %d, %d, %d",
						r.posts["a"], r.posts["b"], st.d.Attempts, tc.wantA, tc.wantB, tc.wantAttempts)
				}
				if !strings.Contains(st.d.LastError, tc.wantErr) {
					t.Errorf("the attempt recorded %q, want it to say %q", st.d.LastError, tc.wantErr)
				}
			})
		})
	}
}

// TestLateRecordLeavesLaterClaim: a server's attempt that is recorded
// only after its claim ran out and the same server claimed the delivery
// again is not recorded: recording it would release the new claim while
// its attempt is under way, and let another server send the delivery
// meanwhile.
func TestLateRecordLeavesLaterClaim(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		st := newClaimStore()
		r := newHangingReceiver(st, testClaim/2)
		r.refuse = 1 // the first attempt fails at once, due again after 5 s
		// a takes longer than a claim to record each attempt.
		a := claimNotifier(t, "a", slowStore{claimStore: st, recordLag: testClaim + 500*time.Millisecond}, r)
		b := claimNotifier(t, "b", st, r)
		var wg sync.WaitGroup
		deliver := func(n *notify.Notifier) {
			wg.Go(func() {
				if _, err := n.Deliver(t.Context()); err != nil {
					t.Error(err)
				}
			})
		}
		deliver(a) // claims until 4 s; the post fails at once; recorded at 4.5 s
		time.Sleep(testClaim + 200*time.Millisecond)
		deliver(a) // claims it again at 4.2 s, the first claim having run out
		// Past the first attempt's backoff, b comes by while a's second
		// attempt waits for its answer.
		time.Sleep(notify.Backoff(1) - testClaim + 300*time.Millisecond)
		if time.Since(start) <= notify.Backoff(1) {
			t.Fatal("b is too early to test anything")
		}
		deliver(b)
		wg.Wait()

		r.check(t)
		if r.posts["a"] != 2 || r.posts["b"] != 0 {
			t.Errorf("posts by a %d, by b %d; want 2, 0", r.posts["a"], r.posts["b"])
		}
		// Only the second attempt, made under the claim held, is
		// recorded.
		if st.lost != 1 || st.d.Attempts != 1 || !strings.Contains(st.d.LastError, "timed out") {
			t.Errorf("attempts recorded %d (%q), lost %d; want 1, the second's, and 1 lost", st.d.Attempts, st.d.LastError, st.lost)
		}
	})
}
