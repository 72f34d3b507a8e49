package notify_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/notify"
)

// claimStore is an outbox of one webhook delivery that claims as the
// stores do (a claim that ran out is taken by whoever asks next), and
// that is slow to some servers: it hands their claims over claimLag late,
// and takes recordLag to record their attempts, as a database does when
// each waits for its write lock.
type claimStore struct {
	latchkey.NotificationStore // not called

	claimLag, recordLag map[string]time.Duration

	mu    sync.Mutex
	d     latchkey.Delivery
	by    string    // who holds the claim, "" for no one
	until time.Time // when it runs out
	// lost counts the attempts recorded after another server took the
	// claim.
	lost int
}

func (s *claimStore) ClaimDeliveries(_ context.Context, server string, now, until time.Time, _ int) ([]*latchkey.Delivery, error) {
	time.Sleep(s.claimLag[server])
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
	time.Sleep(s.recordLag[a.Server])
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

// claimHolder is who holds the claim, and until when.
func (s *claimStore) claimHolder() (string, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.by, s.until
}

// hangingReceiver is a webhook receiver that never answers, reached by
// senders that give up after timeout, as webhook.Sender does. It tells
// whether one sender posted while another still waited for its answer,
// and whether one waited past the claim it sent under.
type hangingReceiver struct {
	st      *claimStore
	timeout time.Duration

	mu      sync.Mutex
	waiting int
	posts   map[string]int // by server
	twice   int            // posts made while another was waiting
	late    []string       // what was still waited for once its claim ran out
}

type hangingSender struct {
	r      *hangingReceiver
	server string
}

func (h hangingSender) Send(ctx context.Context, _ string, _ []byte, _ string, _ time.Time, _ []byte) (int, error) {
	r := h.r
	r.mu.Lock()
	if r.waiting > 0 {
		r.twice++
	}
	r.waiting++
	r.posts[h.server]++
	r.mu.Unlock()
	_, until := r.st.claimHolder()
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

// TestAttemptEndsWithinItsClaim: a server whose claim on a delivery is
// handed over late (its database was busy) still ends its attempt before
// the claim runs out, or does not make it at all; so the server that
// claims the delivery next never sends it while the first still does.
func TestAttemptEndsWithinItsClaim(t *testing.T) {
	const claim = 4 * time.Second
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
				start := time.Now()
				st := &claimStore{claimLag: map[string]time.Duration{"a": tc.lag}, recordLag: map[string]time.Duration{"a": claim / 8}, d: latchkey.Delivery{ID: 1, WebhookID: "wh_1",
					Recipient: "https://hooks.example.com/", State: latchkey.DeliveryPending, CreatedAt: start, NextAt: start,
					MsgID: "msg_1", Type: latchkey.NoteTokenCreated, Body: []byte(`{}`)}}
				r := &hangingReceiver{st: st, timeout: claim / 2, posts: map[string]int{}}
				notifier := func(server string) *notify.Notifier {
					return notify.New(notify.Options{Store: st, Sender: hangingSender{r, server},
						Opener: func(string, []byte) ([]byte, error) { return make([]byte, 32), nil },
						Server: server, Clock: time.Now, Claim: claim, Log: slog.New(slog.NewTextHandler(t.Output(), nil))})
				}
				a, b := notifier("a"), notifier("b")
				done := make(chan error, 1)
				go func() { _, err := a.Deliver(t.Context()); done <- err }()
				// b comes by just after a's claim ran out.
				time.Sleep(claim + 200*time.Millisecond)
				if _, err := b.Deliver(t.Context()); err != nil {
					t.Fatal(err)
				}
				if err := <-done; err != nil {
					t.Fatal(err)
				}

				r.mu.Lock()
				defer r.mu.Unlock()
				if r.twice != 0 {
					t.Errorf("%d posts while another server's was still waiting for its answer", r.twice)
				}
				for _, l := range r.late {
					t.Errorf("an attempt outlived its claim: %s", l)
				}
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
