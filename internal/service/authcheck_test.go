package service

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/jwt"
)

// handClock is a clock the test moves by hand.
type handClock struct {
	mu  sync.Mutex
	now time.Time
}

func newHandClock() *handClock {
	return &handClock{now: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *handClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *handClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// faultyStore is the store with faults the test switches on and off.
type faultyStore struct {
	latchkey.Store
	mu              sync.Mutex
	credentialErr   error                      // Credential fails with it
	recordErr       error                      // RecordAudit fails with it
	pruneErr        error                      // PruneAudit fails with it
	pruneOutboxErr  error                      // PruneOutbox fails with it
	revokeClientErr error                      // RevokeClient fails with it
	alter           func(*latchkey.Credential) // changes what Credential answers
}

func (f *faultyStore) set(fn func(f *faultyStore)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *faultyStore) Credential(ctx context.Context, id string) (*latchkey.Credential, error) {
	f.mu.Lock()
	err, alter := f.credentialErr, f.alter
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	c, err := f.Store.Credential(ctx, id)
	if err == nil && alter != nil {
		alter(c)
	}
	return c, err
}

func (f *faultyStore) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	f.mu.Lock()
	err := f.pruneErr
	f.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return f.Store.PruneAudit(ctx, before)
}

func (f *faultyStore) PruneOutbox(ctx context.Context, before time.Time) (int64, error) {
	f.mu.Lock()
	err := f.pruneOutboxErr
	f.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return f.Store.PruneOutbox(ctx, before)
}

func (f *faultyStore) RevokeClient(ctx context.Context, id int64, at time.Time, audit ...*latchkey.AuditRecord) ([]*latchkey.Token, error) {
	f.mu.Lock()
	err := f.revokeClientErr
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return f.Store.RevokeClient(ctx, id, at, audit...)
}

func (f *faultyStore) RecordAudit(ctx context.Context, r *latchkey.AuditRecord) error {
	f.mu.Lock()
	err := f.recordErr
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.Store.RecordAudit(ctx, r)
}

// newFaultyService is a service on a faultyStore, with cfg and obs.
func newFaultyService(t *testing.T, cfg Config) (*Service, *faultyStore) {
	t.Helper()
	base, st := newTestService(t, Config{})
	fs := &faultyStore{Store: st}
	cfg.Password = base.cfg.Password
	svc, err := New(t.Context(), fs, base.sealer, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc, fs
}

// TestCheckOutcomes: a token that fails before its row is read is refused
// with the outcome that says why: not a token of ours at all, a signature
// that fails under a key the server holds, or a key it does not hold.
func TestCheckOutcomes(t *testing.T) {
	obs := &outcomes{}
	svc, _ := newFaultyService(t, Config{Observer: obs})
	elsewhere, _ := newTestService(t, Config{})
	u := svc.mustUser(t, "checked")
	_, raw := svc.mustToken(t, u)
	_, foreign := elsewhere.mustToken(t, elsewhere.mustUser(t, "foreigner"))
	last := raw[len(raw)-1]
	tampered := raw[:len(raw)-1] + map[bool]string{true: "B", false: "A"}[last == 'A']
	for _, tc := range []struct {
		name, token, want string
	}{
		{"not a JWT", "not a token", OutcomeMalformed},
		{"its signature altered", tampered, OutcomeInvalid},
		{"another server's key", foreign, OutcomeUnknownKey},
		{"good", raw, OutcomeVerified},
	} {
		_, err := svc.Authenticate(t.Context(), tc.token, latchkey.Origin{})
		if got := obs.last(); got != tc.want || (err == nil) != (tc.want == OutcomeVerified) {
			t.Errorf("%s: outcome %q, err %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// TestKeyBoundToTheRow: a token verifies only under the key that signed
// it, as its row records: the claims of a token re-signed with another key
// the server holds (the key of today, after the token's own was rotated
// away) are refused, whatever the algorithms. A row that records no key
// takes any.
func TestKeyBoundToTheRow(t *testing.T) {
	for _, alg := range jwt.Algorithms() {
		t.Run(alg, func(t *testing.T) {
			obs := &outcomes{}
			svc, fs := newFaultyService(t, Config{Observer: obs})
			u := svc.mustUser(t, "bound")
			tok, raw := svc.mustToken(t, u)
			if _, err := svc.RotateKey(t.Context(), alg); err != nil {
				t.Fatal(err)
			}
			claims, err := svc.keys.Load().VerifySignature(raw)
			if err != nil {
				t.Fatal(err)
			}
			forged, kid, err := svc.keys.Load().Sign(*claims)
			if err != nil || kid == tok.KeyID {
				t.Fatalf("re-signing: kid %q (the token's %q), %v", kid, tok.KeyID, err)
			}
			svc.cache.purge()
			if _, err := svc.Authenticate(t.Context(), forged, latchkey.Origin{}); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED || obs.last() != OutcomeMismatch {
				t.Errorf("the token re-signed with the %s key %s: outcome %q, err %v; want %q", alg, kid, obs.last(), err, OutcomeMismatch)
			}
			// The token itself, signed with the retired key, still counts.
			svc.cache.purge()
			if _, err := svc.Authenticate(t.Context(), raw, latchkey.Origin{}); err != nil {
				t.Errorf("the token signed with its own, retired key: %v", err)
			}
			// A row that records no key (made before rows did) takes any
			// key that verifies.
			fs.set(func(f *faultyStore) { f.alter = func(c *latchkey.Credential) { c.Token.KeyID = "" } })
			svc.cache.purge()
			if _, err := svc.Authenticate(t.Context(), forged, latchkey.Origin{}); err != nil {
				t.Errorf("a row without a kid, its token signed with the %s key: %v", alg, err)
			}
		})
	}
}

// TestCheckReloadsForAnUnknownKey: a token signed with a key another
// process added (and this one has not heard of) authenticates: the keys
// are read again for it, whatever the new key's algorithm.
func TestCheckReloadsForAnUnknownKey(t *testing.T) {
	for _, alg := range jwt.Algorithms() {
		t.Run(alg, func(t *testing.T) {
			svc, st := newTestService(t, Config{})
			other, err := New(t.Context(), st, svc.sealer, svc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := other.RotateKey(t.Context(), alg); err != nil {
				t.Fatal(err)
			}
			_, raw := other.mustToken(t, other.mustUser(t, "rotated"))
			// As if this process had last read the keys long ago: the reload is
			// limited to one a second.
			svc.reloadMu.Lock()
			svc.lastReload = time.Time{}
			svc.reloadMu.Unlock()
			if _, err := svc.Authenticate(t.Context(), raw, latchkey.Origin{}); err != nil {
				t.Errorf("a token signed with a %s key another process added: %v", alg, err)
			}
		})
	}
}

// TestRefusalsRemembered: a refusal after the row was read is remembered
// (the next try is refused from the cache), and so, briefly, is a bad
// signature under a key the server holds; a token that is not ours, one
// naming a key the server does not hold, and a failure of the database are
// not remembered at all.
func TestRefusalsRemembered(t *testing.T) {
	clk := newHandClock()
	obs := &outcomes{}
	svc, fs := newFaultyService(t, Config{Observer: obs, Now: clk.Now})
	elsewhere, _ := newTestService(t, Config{})
	u := svc.mustUser(t, "refused")
	revoked, rawRevoked := svc.mustToken(t, u)
	if _, err := svc.OperatorRevokeToken(t.Context(), revoked.ID); err != nil {
		t.Fatal(err)
	}
	_, raw := svc.mustToken(t, u)
	_, foreign := elsewhere.mustToken(t, elsewhere.mustUser(t, "foreigner"))
	tampered := raw[:len(raw)-1] + map[bool]string{true: "B", false: "A"}[raw[len(raw)-1] == 'A']
	for _, tc := range []struct {
		name, token string
		first       string
		remembered  time.Duration // 0: not remembered
	}{
		{"revoked", rawRevoked, OutcomeRevoked, time.Minute},
		{"bad signature", tampered, OutcomeInvalid, 5 * time.Second},
		{"not a JWT", "not a token", OutcomeMalformed, 0},
		{"unknown key", foreign, OutcomeUnknownKey, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc.cache.purge()
			if _, err := svc.Authenticate(t.Context(), tc.token, latchkey.Origin{}); err == nil || obs.last() != tc.first {
				t.Fatalf("first try: outcome %q, err %v; want %q", obs.last(), err, tc.first)
			}
			if tc.remembered == 0 {
				if n := svc.cache.bad.len(); n != 0 {
					t.Errorf("the refusal cache holds %d entries, want none", n)
				}
			}
			_, _ = svc.Authenticate(t.Context(), tc.token, latchkey.Origin{})
			want := tc.first
			if tc.remembered > 0 {
				want = OutcomeRefusedCached
			}
			if got := obs.last(); got != want {
				t.Errorf("second try: outcome %q, want %q", got, want)
			}
			if tc.remembered > 0 {
				clk.Advance(tc.remembered - time.Nanosecond)
				_, _ = svc.Authenticate(t.Context(), tc.token, latchkey.Origin{})
				if got := obs.last(); got != OutcomeRefusedCached {
					t.Errorf("a moment before the refusal is %s old: outcome %q, want %q", tc.remembered, got, OutcomeRefusedCached)
				}
				clk.Advance(time.Nanosecond)
				_, _ = svc.Authenticate(t.Context(), tc.token, latchkey.Origin{})
				if got := obs.last(); got != tc.first {
					t.Errorf("once the refusal is %s old: outcome %q, want %q", tc.remembered, got, tc.first)
				}
			}
		})
	}
	t.Run("database failure", func(t *testing.T) {
		svc.cache.purge()
		fs.set(func(f *faultyStore) { f.credentialErr = errors.New("the tokens table is on fire") })
		if _, err := svc.Authenticate(t.Context(), raw, latchkey.Origin{}); err == nil || obs.last() != OutcomeError {
			t.Fatalf("while the database fails: outcome %q, err %v; want %q", obs.last(), err, OutcomeError)
		}
		if n := svc.cache.bad.len(); n != 0 {
			t.Errorf("the refusal cache holds %d entries, want none", n)
		}
		fs.set(func(f *faultyStore) { f.credentialErr = nil })
		if _, err := svc.Authenticate(t.Context(), raw, latchkey.Origin{}); err != nil {
			t.Errorf("once the database is back: %v", err)
		}
	})
}

// TestCacheTTL: a verified token is served from memory for CacheTTL at
// most, should the notice of a change be lost: then its row is read again.
func TestCacheTTL(t *testing.T) {
	clk := newHandClock()
	svc, fs := newFaultyService(t, Config{Now: clk.Now, CacheTTL: time.Minute})
	u := svc.mustUser(t, "cached")
	_, raw := svc.mustToken(t, u)
	if _, err := svc.Authenticate(t.Context(), raw, latchkey.Origin{}); err != nil {
		t.Fatal(err)
	}
	// The row is revoked behind the service's back: no notice comes.
	fs.set(func(f *faultyStore) { f.alter = func(c *latchkey.Credential) { c.Token.Revoked = true } })
	clk.Advance(time.Minute - time.Nanosecond)
	if _, err := svc.Authenticate(t.Context(), raw, latchkey.Origin{}); err != nil {
		t.Errorf("within the TTL: %v, want it served from memory", err)
	}
	clk.Advance(time.Nanosecond)
	if _, err := svc.Authenticate(t.Context(), raw, latchkey.Origin{}); err == nil {
		t.Error("once the TTL is over: accepted, want the revoked row read again and refused")
	}
}

// TestRefusedUseAudited: using a revoked or expired token is recorded in
// the audit log, with why; other refusals, and a resource server's
// question (Inspect), are not.
func TestRefusedUseAudited(t *testing.T) {
	for _, tc := range []struct {
		name    string
		alter   func(c *latchkey.Credential, now time.Time)
		inspect bool
		want    string // the record's detail; "" for no record
	}{
		{"revoked", func(c *latchkey.Credential, _ time.Time) { c.Token.Revoked = true }, false, OutcomeRevoked},
		{"expired", func(c *latchkey.Credential, now time.Time) { c.Token.ExpiresAt = &now }, false, OutcomeExpired},
		{"client revoked", func(c *latchkey.Credential, _ time.Time) { c.Client.Revoked = true }, false, ""},
		{"user disabled", func(c *latchkey.Credential, _ time.Time) { c.User.Status = latchkey.StatusInactive }, false, ""},
		{"revoked, inspected", func(c *latchkey.Credential, _ time.Time) { c.Token.Revoked = true }, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newHandClock()
			svc, fs := newFaultyService(t, Config{Now: clk.Now})
			u := svc.mustUser(t, "audited")
			tok, raw := svc.mustToken(t, u)
			fs.set(func(f *faultyStore) { f.alter = func(c *latchkey.Credential) { tc.alter(c, clk.Now()) } })
			var err error
			if tc.inspect {
				_, err = svc.Inspect(t.Context(), raw)
			} else {
				_, err = svc.Authenticate(t.Context(), raw, latchkey.Origin{Address: "192.0.2.7"})
			}
			if err == nil {
				t.Fatal("accepted")
			}
			recs, err := svc.Audit(t.Context(), latchkey.AuditFilter{Action: latchkey.AuditAuthRefused})
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.want == "" && len(recs) != 0:
				t.Errorf("recorded %+v, want nothing", recs[0])
			case tc.want != "" && (len(recs) != 1 || recs[0].Detail != tc.want || recs[0].SubjectID != tok.ID || recs[0].Address != "192.0.2.7"):
				t.Errorf("recorded %d records (%+v), want one about %s from 192.0.2.7, detail %q", len(recs), recs, tok.ID, tc.want)
			}
		})
	}
}

// TestRefusedUseAuditFailure: when the record of a refused use cannot be
// written, the refusal stands and the failure is logged; a record written
// logs nothing.
func TestRefusedUseAuditFailure(t *testing.T) {
	var log bytes.Buffer
	svc, fs := newFaultyService(t, Config{Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelError}))})
	u := svc.mustUser(t, "audited")
	tok, raw := svc.mustToken(t, u)
	if _, err := svc.OperatorRevokeToken(t.Context(), tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(t.Context(), raw, latchkey.Origin{}); err == nil {
		t.Fatal("a revoked token accepted")
	}
	if log.Len() != 0 {
		t.Errorf("a record written logged %q", &log)
	}
	svc.cache.purge()
	fs.set(func(f *faultyStore) { f.recordErr = errors.New("the audit table is on fire") })
	if _, err := svc.Authenticate(t.Context(), raw, latchkey.Origin{}); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("while the audit log fails: %v, want EUNAUTHENTICATED", err)
	}
	if got := log.String(); !strings.Contains(got, "recording a refused token") || !strings.Contains(got, "the audit table is on fire") {
		t.Errorf("logged %q, want the failure to record", got)
	}
}

// TestNoteUseGranularity: a use is noted at most once a second per token
// and address: a new address is noted at once.
func TestNoteUseGranularity(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	t0 := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	v := &verified{tokenID: "t1"}
	for _, tc := range []struct {
		at    time.Time
		addr  string
		want  time.Time // the use pending after it
		addrs int       // how many addresses it has
	}{
		{t0, "192.0.2.1", t0, 1},
		{t0.Add(time.Second - time.Nanosecond), "192.0.2.1", t0, 1},
		{t0.Add(time.Second - time.Nanosecond), "2001:db8::1", t0.Add(time.Second - time.Nanosecond), 2},
		{t0.Add(time.Second - time.Nanosecond/2), "2001:db8::1", t0.Add(time.Second - time.Nanosecond), 2},
		{t0.Add(2 * time.Second), "", t0.Add(2 * time.Second), 2},
	} {
		svc.noteUse(v, tc.at, tc.addr)
		svc.usage.mu.Lock()
		got := svc.usage.pending["t1"]
		svc.usage.mu.Unlock()
		if !got.At.Equal(tc.want) || len(got.Addrs) != tc.addrs {
			t.Errorf("after a use at %s from %q: pending %s with %d addresses, want %s with %d", tc.at, tc.addr, got.At, len(got.Addrs), tc.want, tc.addrs)
		}
	}
}

// TestNewTokenCacheSize: a size of zero or less makes no cache.
func TestNewTokenCacheSize(t *testing.T) {
	for _, tc := range []struct {
		size int
		want bool
	}{
		{-1, false},
		{0, false},
		{1, true},
	} {
		if got := newTokenCache(tc.size, time.Minute) != nil; got != tc.want {
			t.Errorf("newTokenCache(%d): a cache %t, want %t", tc.size, got, tc.want)
		}
	}
}

// TestPruneAudit: records older than the retention are deleted, newer ones
// kept; a negative retention keeps everything.
func TestPruneAudit(t *testing.T) {
	for _, tc := range []struct {
		name      string
		retention time.Duration
		want      []string // the records kept, newest first
	}{
		{"default", 0, []string{"a day old", "a day short of the retention"}},
		{"forever", -1, []string{"a day old", "a day short of the retention", "a day past the retention"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newHandClock()
			svc, st := newFaultyService(t, Config{Now: clk.Now, AuditRetention: tc.retention})
			now := clk.Now()
			for _, r := range []struct {
				detail string
				age    time.Duration
			}{
				{"a day past the retention", DefaultAuditRetention + 24*time.Hour},
				{"a day short of the retention", DefaultAuditRetention - 24*time.Hour},
				{"a day old", 24 * time.Hour},
			} {
				if err := st.RecordAudit(t.Context(), &latchkey.AuditRecord{At: now.Add(-r.age), Action: latchkey.AuditAuthRefused, Detail: r.detail}); err != nil {
					t.Fatal(err)
				}
			}
			svc.pruneAudit(t.Context())
			recs, err := svc.Audit(t.Context(), latchkey.AuditFilter{Action: latchkey.AuditAuthRefused})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, r.Detail)
			}
			if strings.Join(got, ", ") != strings.Join(tc.want, ", ") {
				t.Errorf("kept %q, want %q", got, tc.want)
			}
		})
	}
}

// TestPruneAuditLogged: a prune that deleted records says how many; one
// that deleted none says nothing; a failure is logged, unless the service
// is stopping.
func TestPruneAuditLogged(t *testing.T) {
	var log bytes.Buffer
	clk := newHandClock()
	svc, fs := newFaultyService(t, Config{Now: clk.Now, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err := fs.RecordAudit(t.Context(), &latchkey.AuditRecord{At: clk.Now().Add(-DefaultAuditRetention - time.Hour), Action: latchkey.AuditAuthRefused}); err != nil {
		t.Fatal(err)
	}
	svc.pruneAudit(t.Context())
	if got := log.String(); !strings.Contains(got, `msg="audit log pruned" records=1 `) {
		t.Errorf("a prune of one record logged %q", got)
	}
	log.Reset()
	svc.pruneAudit(t.Context())
	if log.Len() != 0 {
		t.Errorf("a prune of nothing logged %q", &log)
	}
	fs.set(func(f *faultyStore) { f.pruneErr = errors.New("the audit table is on fire") })
	stopped, stop := context.WithCancel(t.Context())
	stop()
	svc.pruneAudit(stopped)
	if log.Len() != 0 {
		t.Errorf("a failure while stopping logged %q", &log)
	}
	svc.pruneAudit(t.Context())
	if got := log.String(); !strings.Contains(got, "pruning the audit log") || !strings.Contains(got, "the audit table is on fire") {
		t.Errorf("a failure logged %q", got)
	}
}

// addDelivered writes a notification named name (its dedupe key) about u
// at at, fanned out to u's mail and delivered, all at at, and returns its
// MsgID.
func addDelivered(t *testing.T, st latchkey.Store, u *latchkey.User, name string, at time.Time) string {
	t.Helper()
	ctx := t.Context()
	n := &latchkey.Notification{Type: latchkey.NoteTokenRevoked, At: at, UserID: u.ID, Actor: latchkey.ActorOperator, Dedupe: name}
	if ok, err := st.AddNotification(ctx, n); err != nil || !ok {
		t.Fatalf("AddNotification(%s) = %t, %v", name, ok, err)
	}
	d := &latchkey.Delivery{Recipient: u.Email, CreatedAt: at}
	if ok, err := st.FanOut(ctx, n.ID, []byte("{}"), []*latchkey.Delivery{d}); err != nil || !ok {
		t.Fatalf("FanOut(%s) = %t, %v", name, ok, err)
	}
	if ds, err := st.ClaimDeliveries(ctx, "test", at, at.Add(time.Minute), 0); err != nil || len(ds) != 1 {
		t.Fatalf("ClaimDeliveries(%s) = %d, %v; want 1", name, len(ds), err)
	}
	if ok, err := st.RecordAttempt(ctx, latchkey.Attempt{DeliveryID: d.ID, Server: "test", At: at}); err != nil || !ok {
		t.Fatalf("RecordAttempt(%s) = %t, %v", name, ok, err)
	}
	return n.MsgID
}

// TestPruneOutbox: the hourly prune deletes the outbox's deliveries made,
// and their notifications, by the audit log's cutoff: one a microsecond
// older than the retention goes, one exactly as old stays; a negative
// retention keeps everything.
func TestPruneOutbox(t *testing.T) {
	for _, tc := range []struct {
		name      string
		retention time.Duration
		want      []string // the notifications whose deliveries are kept, newest first
	}{
		{"default", 0, []string{"a day old", "at the cutoff"}},
		{"forever", -1, []string{"a day old", "at the cutoff", "past the cutoff"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newHandClock()
			svc, st := newFaultyService(t, Config{Now: clk.Now, AuditRetention: tc.retention})
			u := svc.mustUser(t, "alice")
			cut := clk.Now().Add(-DefaultAuditRetention)
			names := map[string]string{} // by MsgID
			for _, n := range []struct {
				name string
				at   time.Time
			}{
				{"past the cutoff", cut.Add(-time.Microsecond)},
				{"at the cutoff", cut},
				{"a day old", clk.Now().Add(-24 * time.Hour)},
			} {
				names[addDelivered(t, st, u, n.name, n.at)] = n.name
			}
			svc.pruneAudit(t.Context())
			ds, err := st.Deliveries(t.Context(), "", 0)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range ds {
				got = append(got, names[d.MsgID])
			}
			if strings.Join(got, ", ") != strings.Join(tc.want, ", ") {
				t.Errorf("kept the deliveries of %q, want %q", got, tc.want)
			}
			// The notification went with its delivery: its dedupe key is
			// free again.
			again := &latchkey.Notification{Type: latchkey.NoteTokenRevoked, At: clk.Now(), UserID: u.ID, Dedupe: "past the cutoff"}
			added, err := st.AddNotification(t.Context(), again)
			if wantAdded := tc.retention >= 0; err != nil || added != wantAdded {
				t.Errorf("after the prune, AddNotification(the notification past the cutoff) = %t, %v; want %t", added, err, wantAdded)
			}
		})
	}
}

// TestPruneOutboxLogged: a prune of the outbox that deleted rows says how
// many; one that deleted none says nothing; a failure is logged, unless
// the service is stopping, and does not keep the audit log from being
// pruned.
func TestPruneOutboxLogged(t *testing.T) {
	var log bytes.Buffer
	clk := newHandClock()
	svc, fs := newFaultyService(t, Config{Now: clk.Now, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	addDelivered(t, fs, svc.mustUser(t, "alice"), "old", clk.Now().Add(-DefaultAuditRetention-time.Hour))
	svc.pruneAudit(t.Context())
	if got := log.String(); !strings.Contains(got, `msg="outbox pruned" rows=2 older_than=2160h0m0s`) {
		t.Errorf("a prune of a delivery and its notification logged %q", got)
	}
	log.Reset()
	svc.pruneAudit(t.Context())
	if log.Len() != 0 {
		t.Errorf("a prune of nothing logged %q", &log)
	}
	fs.set(func(f *faultyStore) { f.pruneOutboxErr = errors.New("the outbox is on fire") })
	stopped, stop := context.WithCancel(t.Context())
	stop()
	svc.pruneAudit(stopped)
	if log.Len() != 0 {
		t.Errorf("a failure while stopping logged %q", &log)
	}
	if err := fs.RecordAudit(t.Context(), &latchkey.AuditRecord{At: clk.Now().Add(-DefaultAuditRetention - time.Hour), Action: latchkey.AuditAuthRefused}); err != nil {
		t.Fatal(err)
	}
	svc.pruneAudit(t.Context())
	got := log.String()
	if !strings.Contains(got, "pruning the outbox") || !strings.Contains(got, "the outbox is on fire") {
		t.Errorf("a failure logged %q", got)
	}
	if !strings.Contains(got, `msg="audit log pruned" records=1 `) {
		t.Errorf("a failure of the outbox's prune kept the audit log's: logged %q", got)
	}
}

// TestTokenCacheRefusedBound: the refused tokens' cache holds a quarter of
// the verified ones' size, and 16 at least, so that a flood of bad tokens
// stays small.
func TestTokenCacheRefusedBound(t *testing.T) {
	until := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ size, want int }{{100, 25}, {8, 16}} {
		c := newTokenCache(tc.size, time.Minute)
		for i := range 2 * tc.want {
			c.refuse(tokenKey{byte(i), byte(i >> 8)}, until, c.generation())
		}
		if got := c.bad.len(); got != tc.want {
			t.Errorf("size %d: %d refusals held, want %d", tc.size, got, tc.want)
		}
	}
}
