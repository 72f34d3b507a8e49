// Package service is Latchkey's application core: it decides who may do
// what (through the domain's Principal), validates input, issues and
// verifies tokens, and keeps the signing keys, on top of any
// latchkey.Store. Stores stay plain persistence; the HTTP API and the
// command line both call this package, so the rules live in one place.
package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/jwt"
	"github.com/latchkey/latchkey/internal/password"
)

// Config holds the service's settings. The zero value of each field means
// its documented default.
type Config struct {
	// DefaultLifetime of a token created without expires_at: one year, or
	// MaxLifetime if that is shorter. Longer than MaxLifetime is an error.
	DefaultLifetime Lifetime
	// MaxLifetime caps expires_at: one year.
	MaxLifetime Lifetime
	// ExtraScopes are scopes the server accepts beyond its own, for other
	// services that read the JWT.
	ExtraScopes []string
	// KeyRefresh is how often the signing keys are read again from the
	// database, so that a key rotated by another process is picked up: 30s.
	KeyRefresh time.Duration
	// UsageFlush is how often last-used times are written: one minute.
	UsageFlush time.Duration
	// IdleExpiry, when positive, ends a token unused for that long
	// (since its last use, or its creation): it stops authenticating,
	// and Sweep revokes it with reason idle. Zero is off.
	IdleExpiry time.Duration
	// CacheSize caps how many verified tokens are held in memory: 50,000.
	// Negative: no cache (every request checks the signature and the row).
	CacheSize int
	// CacheTTL is the longest a verified token is served from memory
	// without reading its row again, should a change notice be lost: 1m.
	CacheTTL time.Duration
	// Password is the argon2id cost: password.Default.
	Password *password.Params
	// Hasher makes and checks password hashes: argon2id at Password.
	Hasher Hasher

	// SessionLifetime is how long a web sign-in lasts: 12 hours.
	SessionLifetime time.Duration

	// AuditRetention is how long audit records are kept, and the outbox's
	// finished deliveries and their notifications: 90 days. Negative keeps
	// them forever.
	AuditRetention time.Duration
	// PasswordChecks caps how many sign-ins check a password at once
	// (argon2id holds its memory cost, 64 MiB by default, while it runs);
	// others wait their turn, up to 10 seconds: GOMAXPROCS.
	PasswordChecks int
	// Observer hears what the service does, for metrics; nil hears nothing.
	Observer Observer

	// Lease is how long a running server's lease lasts (see LeaseStore):
	// the longest a change waits for a server that stopped answering, and
	// how long a frozen server could have gone on serving from its
	// caches: 3s. It is renewed every third of it.
	Lease time.Duration
	// ServerName names this server in the leases, for people: host and
	// process id.
	ServerName string
	// Settled hears, after each change that must hold on every server,
	// which servers acknowledged it (nil hears nothing): the command line
	// says it, the server logs those that did not.
	Settled func(Settlement)

	Now    func() time.Time // the clock: time.Now
	Random io.Reader        // token ids and keys: crypto/rand
	Logger *slog.Logger     // discards when nil
}

// Validate reports whether c can configure a service, so that a program
// can check its configuration before it touches anything.
func (c Config) Validate() error {
	return c.defaults()
}

func (c *Config) defaults() error {
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	if c.MaxLifetime == (Lifetime{}) {
		c.MaxLifetime = OneYear
	}
	if c.DefaultLifetime == (Lifetime{}) {
		c.DefaultLifetime = OneYear
		if OneYear.Longer(c.MaxLifetime, now) {
			c.DefaultLifetime = c.MaxLifetime
		}
	}
	if c.DefaultLifetime.Longer(c.MaxLifetime, now) {
		return fmt.Errorf("the default token lifetime %s is longer than the maximum %s", c.DefaultLifetime, c.MaxLifetime)
	}
	if c.KeyRefresh <= 0 {
		c.KeyRefresh = 30 * time.Second
	}
	if c.UsageFlush <= 0 {
		c.UsageFlush = time.Minute
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.CacheTTL <= 0 {
		c.CacheTTL = time.Minute
	}
	if c.Lease <= 0 {
		c.Lease = 3 * time.Second
	}
	if c.ServerName == "" {
		host, _ := os.Hostname()
		c.ServerName = host + ":" + strconv.Itoa(os.Getpid())
	}
	if c.Password == nil {
		c.Password = &password.Default
	}
	if c.Hasher == nil {
		c.Hasher = argon2id{*c.Password}
	}
	if c.SessionLifetime <= 0 {
		c.SessionLifetime = DefaultSessionLifetime
	}
	if c.AuditRetention == 0 {
		c.AuditRetention = DefaultAuditRetention
	}
	if c.PasswordChecks <= 0 {
		c.PasswordChecks = runtime.GOMAXPROCS(0)
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Random == nil {
		c.Random = rand.Reader
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	for _, s := range c.ExtraScopes {
		if !latchkey.ValidScopeName(s) {
			return fmt.Errorf("scope %q: want 1 to 100 letters, digits and . _ : / -", s)
		}
	}
	return nil
}

// Service is the application core. It is safe for concurrent use.
type Service struct {
	store  latchkey.Store
	sealer *jwt.Sealer
	cfg    Config
	log    *slog.Logger
	scopes []string // every scope a token may carry, in display order

	keys       atomic.Pointer[jwt.Keyring]
	reloadMu   sync.Mutex
	lastReload time.Time

	usage usage

	// events carries changes between replicas, when the store can; leases
	// make a change wait until every running server applied it.
	events latchkey.Broadcaster
	leases latchkey.LeaseStore
	member membership
	cache  *tokenCache
	rows   *genCache[string, *heldRow] // token rows, for show
	lists  *genCache[int64, *heldList] // users' default lists
	// clients holds the personal access client, which every create
	// names and answers with.
	clients *genCache[int64, *latchkey.Client]
	obs     Observer

	listLoads singleflight.Group // list reads in flight, by user
	lastHeld  atomic.Uint64      // the number of the last list or row read (heldList.n, heldRow.n)

	passwordChecks chan struct{} // a slot per password check running
}

// Observer is told what the service does, for metrics. Its methods must
// be quick and safe for concurrent use.
type Observer interface {
	// Authenticated hears each authentication's outcome (the Outcome
	// constants): accepted from the cache or after the checks, or why not.
	Authenticated(outcome string)
	TokenCreated()
	TokenRevoked()
	// SignedIn hears each sign-in whose password was checked:
	// SignInAccepted or SignInRefused. Why one was refused is the audit
	// log's to say, not a metric's: metrics are read by more people.
	SignedIn(outcome string)
}

type nopObserver struct{}

func (nopObserver) Authenticated(string) {}
func (nopObserver) TokenCreated()        {}
func (nopObserver) TokenRevoked()        {}
func (nopObserver) SignedIn(string)      {}

// CacheLen is how many verified tokens the cache holds.
func (s *Service) CacheLen() int { return s.cache.len() }

// DefaultCacheSize is how many verified tokens a replica holds by default:
// about 50 MiB (BenchmarkCacheMemory measures 1 KiB a token). The row
// cache holds as many token rows, and the list cache as many tokens in
// all lists together.
const DefaultCacheSize = 50_000

// New returns a service on store whose signing keys are sealed with sealer.
// It loads the keys, making the first one when the database has none.
func New(ctx context.Context, store latchkey.Store, sealer *jwt.Sealer, cfg Config) (*Service, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	s := &Service{store: store, sealer: sealer, cfg: cfg, log: cfg.Logger, cache: newTokenCache(cfg.CacheSize, cfg.CacheTTL), rows: newRowCache(cfg.CacheSize), lists: newListCache(cfg.CacheSize), clients: newGenCache[int64, *latchkey.Client](4), obs: cfg.Observer}
	s.scopes = slices.Clone(latchkey.BuiltinScopes)
	for _, sc := range cfg.ExtraScopes {
		if !slices.Contains(s.scopes, sc) {
			s.scopes = append(s.scopes, sc)
		}
	}
	s.usage.pending = map[string]latchkey.Use{}
	s.usage.changed = map[string]uint64{}
	s.passwordChecks = make(chan struct{}, cfg.PasswordChecks)
	s.events, _ = store.(latchkey.Broadcaster)
	if s.events != nil {
		s.leases, _ = store.(latchkey.LeaseStore)
	}
	if err := s.loadKeys(ctx); err != nil {
		return nil, err
	}
	if s.keys.Load().SigningKeyID() == "" {
		if _, err := s.addKey(ctx, nil); err != nil && latchkey.ErrorCode(err) != latchkey.ECONFLICT {
			return nil, err
		}
		if err := s.loadKeys(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Run does the service's background work until ctx ends: it listens for
// other replicas' changes (when the store can broadcast), reads the signing
// keys again now and then, and writes last-used times in batches. On the
// way out it writes what is pending.
func (s *Service) Run(ctx context.Context) error {
	if s.events != nil {
		if s.leases != nil {
			s.member.start()
			held := make(chan struct{})
			go func() { defer close(held); s.holdLease(ctx) }()
			// The lease is given up before Run returns, while the store
			// is still open: nothing waits for a server that stopped.
			defer func() { <-held }()
		}
		// Run returns once the listener has: the store may be closed
		// the moment Run returns, and a read still under way on a closed
		// SQLite store keeps its connection open past the last writer's,
		// which then leaves its -wal file behind.
		listened := make(chan struct{})
		go func() {
			defer close(listened)
			if err := s.events.Subscribe(ctx, func(e latchkey.Event) { s.heard(ctx, e) }); err != nil && ctx.Err() == nil {
				s.log.Error("listening for other replicas' changes", "err", err)
			}
		}()
		defer func() { <-listened }()
	}
	keys := time.NewTicker(s.cfg.KeyRefresh)
	defer keys.Stop()
	flush := time.NewTicker(s.cfg.UsageFlush)
	defer flush.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	sweep := time.NewTicker(time.Minute)
	defer sweep.Stop()
	s.pruneAudit(ctx)
	s.pruneExpired(ctx)
	for {
		select {
		case <-ctx.Done():
			// A last flush with a context of its own: ctx is already done.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			return s.FlushUsage(fctx)
		case <-keys.C:
			if err := s.loadKeys(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("reloading signing keys", "err", err)
			}
		case <-prune.C:
			s.pruneAudit(ctx)
			s.pruneExpired(ctx)
		case <-sweep.C:
			if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("revoking rotated tokens whose grace is over", "err", err)
			}
		case <-flush.C:
			if err := s.FlushUsage(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("recording token use", "err", err)
			}
		}
	}
}

// apply takes in a change made by this or another replica: it drops what
// the token cache holds that the change could make wrong, and reads the
// signing keys again when they changed or events may have been missed.
func (s *Service) apply(ctx context.Context, e latchkey.Event) {
	switch e.Kind {
	case latchkey.EventTokenCreated:
		if id, err := strconv.ParseInt(e.ID, 10, 64); err == nil {
			s.lists.forget(id)
		} else {
			s.lists.purge()
		}
	case latchkey.EventTokenRevoked:
		s.cache.forget(e.ID)
		s.rows.forget(e.ID)
		if e.UserID != 0 {
			s.lists.forget(e.UserID)
		} else {
			s.lists.purge()
		}
	case latchkey.EventUserChanged:
		s.cache.purge()
	case latchkey.EventClientRevoked:
		s.cache.purge()
		s.rows.purge()
		s.clients.purge()
		s.lists.purge()
	case latchkey.EventKeysChanged, latchkey.EventResync, latchkey.EventPurge:
		s.cache.purge()
		s.rows.purge()
		s.clients.purge()
		s.lists.purge()
		if err := s.loadKeys(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("reloading signing keys", "event", e.Kind, "err", err)
		}
	default:
		// An event this version does not know: be safe.
		s.cache.purge()
		s.rows.purge()
		s.clients.purge()
		s.lists.purge()
	}
}

// publish applies a change already committed here, at once, then tells
// the other replicas, and waits until every running server has applied it
// (settle). A lost notice is bounded by the cache's TTL and the periodic
// key refresh; it is logged, not returned.
func (s *Service) publish(ctx context.Context, es ...latchkey.Event) {
	if len(es) > purgeOver {
		// Too many to tell one by one: every cache drops everything.
		for _, e := range es {
			s.apply(ctx, e)
		}
		es = []latchkey.Event{{Kind: latchkey.EventPurge}}
	}
	var last int64 // the last event a change waits for
	for _, e := range es {
		s.apply(ctx, e)
		if s.events == nil {
			continue
		}
		seq, err := s.events.Publish(ctx, e)
		if err != nil {
			s.log.Error("telling other replicas", "event", e.Kind, "err", err)
			continue
		}
		if waitedFor(e.Kind) {
			last = seq
		}
	}
	if last > 0 {
		s.settle(ctx, last)
	}
}

// purgeOver is the most events a change tells one by one.
const purgeOver = 100

// waitedFor reports whether a change that publishes an event of kind
// waits until every running server has applied it: every change but a
// new token, which only a list cache (fresh within rowTTL) has to hear.
func waitedFor(kind latchkey.EventKind) bool { return kind != latchkey.EventTokenCreated }

// Scopes lists every scope a token may carry, in display order.
func (s *Service) Scopes() []string { return slices.Clone(s.scopes) }

// Ping reports whether the database answers.
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }

// now is the service's clock, at the microsecond precision stores keep.
func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// newTokenID returns 40 random bytes in lowercase hex.
func (s *Service) newTokenID() (string, error) {
	b := make([]byte, latchkey.TokenIDLength/2)
	if _, err := io.ReadFull(s.cfg.Random, b); err != nil {
		return "", fmt.Errorf("token id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Errors the service answers with. Their messages are the contract's.
var (
	errUnauthenticated = &latchkey.Error{Code: latchkey.EUNAUTHENTICATED, Message: "Unauthenticated."}
	errNotFound        = &latchkey.Error{Code: latchkey.ENOTFOUND, Message: "Not Found"}
)

// notFound maps a store's ENOTFOUND to the API's 404 and passes anything
// else on.
func notFound(err error) error {
	if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
		return errNotFound
	}
	return err
}

// usage collects when and from where tokens were used, to be written in
// batches.
type usage struct {
	mu      sync.Mutex
	pending map[string]latchkey.Use
	// changed says, for each token pending, the number of its use's last
	// change: every change takes the next of seq, so no two changes ever
	// share one (see stamp).
	changed map[string]uint64
	seq     uint64
}

// record notes a use of the token id at at, from addr ("" unknown).
func (u *usage) record(id string, at time.Time, addr string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	use := u.pending[id]
	if at.After(use.At) {
		use.At = at
	}
	if addr != "" {
		if use.Addrs == nil {
			use.Addrs = map[string]latchkey.Span{}
		}
		span, ok := use.Addrs[addr]
		if !ok || at.Before(span.First) {
			span.First = at
		}
		if at.After(span.Last) {
			span.Last = at
		}
		use.Addrs[addr] = span
	}
	u.pending[id] = use
	u.seq++
	u.changed[id] = u.seq
}

// merge puts back a use that could not be written.
func (u *usage) merge(id string, use latchkey.Use) {
	u.record(id, use.At, "")
	for addr, span := range use.Addrs {
		u.record(id, span.First, addr)
		u.record(id, span.Last, addr)
	}
}

// overlay sets LastUsedAt, LastUsedIP and RecentIPs from what is pending
// but not yet written.
func (u *usage) overlay(ts ...*latchkey.Token) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.overlayLocked(ts)
}

// overlayStamp is overlay, and the stamp of what it laid over ts, taken
// together.
func (u *usage) overlayStamp(ts []*latchkey.Token) uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.overlayLocked(ts)
	return u.stampLocked(ts)
}

// stamp names what overlay would lay over ts now: the number of the
// latest change to a use of theirs that is pending, 0 when none is. Any
// change to one of their uses takes a number larger than every stamp
// before it, and writing the uses out (FlushUsage) leaves none pending;
// so whenever the stamp of ts is the same, so is what overlay lays over
// them.
func (u *usage) stamp(ts []*latchkey.Token) uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.stampLocked(ts)
}

func (u *usage) stampLocked(ts []*latchkey.Token) uint64 {
	var latest uint64
	if len(u.changed) == 0 {
		return 0
	}
	for _, t := range ts {
		latest = max(latest, u.changed[t.ID])
	}
	return latest
}

func (u *usage) overlayLocked(ts []*latchkey.Token) {
	if len(u.pending) == 0 {
		return
	}
	for _, t := range ts {
		use, ok := u.pending[t.ID]
		if !ok {
			continue
		}
		if t.LastUsedAt == nil || use.At.After(*t.LastUsedAt) {
			at := use.At
			t.LastUsedAt = &at
			if addr := use.LastAddr(); addr != "" {
				t.LastUsedIP = addr
			}
		}
		if len(use.Addrs) > 0 {
			t.RecentIPs = latchkey.MergeRecent(t.RecentIPs, use.Addrs)
		}
	}
}

// FlushUsage writes pending uses: at most one write per token per flush.
// On failure they are kept for the next flush.
func (s *Service) FlushUsage(ctx context.Context) error {
	s.usage.mu.Lock()
	batch := s.usage.pending
	s.usage.pending = map[string]latchkey.Use{}
	s.usage.changed = map[string]uint64{}
	s.usage.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if err := s.store.TouchTokens(ctx, batch); err != nil {
		for id, use := range batch {
			s.usage.merge(id, use)
		}
		return fmt.Errorf("touch tokens: %w", err)
	}
	// The rows cached before this write no longer say when they were used.
	ids := make([]string, 0, len(batch))
	for id := range batch {
		ids = append(ids, id)
	}
	s.rows.forget(ids...)
	s.lists.purge()
	return nil
}

// isCode reports whether err carries code.
func isCode(err error, code string) bool {
	var e *latchkey.Error
	return errors.As(err, &e) && e.Code == code
}
