package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey"
)

// Revocation everywhere before the answer (docs/architecture.md). A
// running server holds a lease in the database, renewed every third of
// Config.Lease while its subscription says it hears every event
// (EventAlive), and acknowledges each event once it has applied it. A
// change that must hold on every server (a revocation, a user changed, a
// client revoked, a key changed) is published and then waits until every
// other server with a live lease has acknowledged it, or that lease has
// run out (settle). A server answers verifications from its cache only
// while it is current: its lease, as it counts it, has not run out, and
// its subscription was alive a moment ago. Otherwise it reads the
// database: fail-closed. A lease renewed after it ran out here first
// drops every cache: a change that stopped waiting for this server may
// have gone unheard.

// membership is this server's part: its lease and its acknowledgements.
type membership struct {
	id      string
	holding atomic.Bool  // Run holds a lease for this server
	base    time.Time    // the monotonic origin of the times below
	alive   atomic.Int64 // when the subscription last said EventAlive, since base; 0 never
	until   atomic.Int64 // when the lease runs out as counted here, since base; 0 never held

	mu    sync.Mutex
	acks  []int64       // events applied, not yet acknowledged
	kick  chan struct{} // has a value when acks wait
	first chan struct{} // has a value when the subscription is first alive
}

// start makes the membership of a server about to hold a lease.
func (m *membership) start() {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	m.id = hex.EncodeToString(b)
	m.base = time.Now()
	m.kick = make(chan struct{}, 1)
	m.first = make(chan struct{}, 1)
	m.holding.Store(true)
}

// since returns the monotonic time since base, at least 1.
func (m *membership) since() int64 { return max(int64(time.Since(m.base)), 1) }

// aliveWithin is how recently the subscription must have said EventAlive
// for this server to count as current, or to renew its lease: half a
// lease. A server whose subscription stops stops renewing within it, so
// its lease runs out within a lease and a half of the last event it may
// have missed: what a change waits for at most.
func (s *Service) aliveWithin() int64 { return int64(s.cfg.Lease / 2) }

// current reports whether this server may answer verifications from its
// caches: it holds no lease (it is the only process, or not a server), or
// its lease has not run out here and its subscription was alive a moment
// ago.
func (s *Service) current() bool {
	m := &s.member
	if !m.holding.Load() {
		return true
	}
	now := m.since()
	return now < m.until.Load() && now-m.alive.Load() < s.aliveWithin()
}

// Current reports whether this server answers verifications from its
// caches (see current): a server that runs (Run) is current once it holds
// its lease and hears every change, and stops being current as soon as
// either fails, reading every verification from the database until both
// hold again.
func (s *Service) Current() bool { return s.current() }

// holdsLease reports whether this server holds a lease that has not run
// out here.
func (s *Service) holdsLease() bool {
	m := &s.member
	return m.holding.Load() && m.since() < m.until.Load()
}

// heard takes in an event the subscription delivered: it applies it and
// has it acknowledged, or notes that the subscription is alive.
func (s *Service) heard(ctx context.Context, e latchkey.Event) {
	m := &s.member
	if e.Kind == latchkey.EventAlive {
		if m.alive.Swap(m.since()) == 0 && m.holding.Load() {
			// No need to wait for the ticker to take the first lease.
			m.first <- struct{}{}
		}
		return
	}
	s.apply(ctx, e)
	if e.Seq == 0 || !m.holding.Load() || !waitedFor(e.Kind) {
		// No change waits for a new token to be heard (its cache is a
		// list, fresh within rowTTL anyway): acknowledging each would
		// keep acknowledgements always pending under a stream of
		// creates, and a server with acknowledgements pending does not
		// renew its lease.
		return
	}
	m.mu.Lock()
	m.acks = append(m.acks, e.Seq)
	m.mu.Unlock()
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// holdLease renews this server's lease while its subscription is alive,
// and acknowledges the events it applied, at once, until ctx ends; then
// it gives the lease up.
func (s *Service) holdLease(ctx context.Context) {
	m := &s.member
	renew := time.NewTicker(s.cfg.Lease / 3)
	defer renew.Stop()
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		m.until.Store(0)
		if err := s.leases.DropLease(dctx, m.id); err != nil {
			s.log.Warn("giving up the lease", "err", err)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.kick:
			m.mu.Lock()
			acks := m.acks
			m.acks = nil
			m.mu.Unlock()
			if err := s.leases.Acknowledge(ctx, m.id, acks...); err != nil && ctx.Err() == nil {
				// Unacknowledged, the change waits for the lease to run
				// out; the lease is not renewed until acknowledging works.
				s.log.Error("acknowledging events", "err", err)
				m.mu.Lock()
				m.acks = append(acks, m.acks...)
				m.mu.Unlock()
			}
		case <-renew.C:
			s.renewLease(ctx)
		case <-m.first:
			s.renewLease(ctx)
		}
	}
}

// renewLease renews the lease if the subscription is alive and every
// event applied is acknowledged. A lease that had run out here drops
// every cache before it counts again.
func (s *Service) renewLease(ctx context.Context) {
	m := &s.member
	start := m.since()
	m.mu.Lock()
	behind := len(m.acks) > 0
	m.mu.Unlock()
	if behind || start-m.alive.Load() >= s.aliveWithin() {
		return
	}
	if err := s.leases.RenewLease(ctx, m.id, s.cfg.ServerName, s.cfg.Lease); err != nil {
		if ctx.Err() == nil {
			s.log.Error("renewing the lease", "err", err)
		}
		return
	}
	if start >= m.until.Load() {
		// Changes may have stopped waiting for this server meanwhile.
		s.apply(ctx, latchkey.Event{Kind: latchkey.EventPurge})
	}
	// Counted from before the renewal, less a margin: the lease runs out
	// here before it does on the database's clock.
	m.until.Store(start + int64(s.cfg.Lease-s.cfg.Lease/10))
}

// Settlement says how a change that must hold on every server was
// applied.
type Settlement struct {
	// Acknowledged are the servers that applied it before it answered.
	Acknowledged []latchkey.Lease
	// Lapsed are the servers that did not, before their leases ran out:
	// they answer no verification from their caches until they have
	// caught up.
	Lapsed []latchkey.Lease
	// Unanswered are the servers whose leases were still live when the
	// wait gave up (settleBound, or the request ended).
	Unanswered []latchkey.Lease
	// Err is why the leases could not be read, if they could not: then
	// the change waited as long as a lease lasts.
	Err error
}

// settleBound is the longest a change waits for the other servers: half
// again the longest lease a server may hold (see aliveWithin), and a
// margin. Each server's own lease bounds the wait for it before that.
const settleBound = MaxLease + MaxLease/2 + MaxLease/10

// MaxLease is the longest lease a server may hold.
const MaxLease = time.Minute

// settle waits until every server with a live lease, but this one, has
// acknowledged the event seq, or its lease has run out (each server's
// lease is its own: the wait reads when each runs out).
func (s *Service) settle(ctx context.Context, seq int64) {
	if s.leases == nil {
		return
	}
	bound := time.NewTimer(settleBound)
	defer bound.Stop()
	var st Settlement
	seen := map[string]latchkey.Lease{}
	wait := time.Millisecond
	for {
		leases, err := s.leases.Leases(ctx, seq, s.member.id)
		if err != nil {
			st.Err = err
			// Every lease runs out within one lease from now.
			select {
			case <-ctx.Done():
			case <-bound.C:
			}
			break
		}
		pending := false
		for _, l := range leases {
			seen[l.Server] = l
			pending = pending || !l.Acknowledged
		}
		timer := time.NewTimer(wait)
		over := false
		if pending {
			select {
			case <-ctx.Done():
				over = true
			case <-bound.C:
				over = true
			case <-timer.C:
			}
		}
		timer.Stop()
		if !pending || over {
			for _, l := range leases {
				if l.Acknowledged {
					st.Acknowledged = append(st.Acknowledged, l)
				} else {
					st.Unanswered = append(st.Unanswered, l)
				}
			}
			break
		}
		wait = min(2*wait, 10*time.Millisecond)
	}
	for id, l := range seen {
		if !acknowledged(st.Acknowledged, id) && !acknowledged(st.Unanswered, id) {
			st.Lapsed = append(st.Lapsed, l)
		}
	}
	if s.cfg.Settled != nil {
		s.cfg.Settled(st)
	}
}

func acknowledged(ls []latchkey.Lease, id string) bool {
	for _, l := range ls {
		if l.Server == id {
			return true
		}
	}
	return false
}
