package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/loadtest"
	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/service"
)

const benchUsage = `bench [flags]

Measures the server on this machine. One run starts the real handler, on a
store and service opened as serve opens them, and a bare net/http handler
that answers a small JSON object, each on a 127.0.0.1 port of its own in
this process. Each workload drives the bare handler and then the real one
with the same number of connections, each connection sending its next
request as soon as its last is answered, and the table gives requests per
second, p50 and p99 of both, and the real handler's throughput as a share
of the bare one's: what is left once net/http and the load generator
(which share the CPUs with the server) take theirs.

Workloads (--workloads, comma-separated; default all, in this order):
  show              GET one token by id, with a valid token (cached after its first use)
  list              GET ?per_page=50 of a user with --tokens tokens
  create            POST a new token (an RS256 signature each)
  mix               90% reads (show and list, half each), 9% creates, 1% revokes of tokens the mix made
  reject-malformed  an Authorization header that is not a token at all
  reject-repeated   one revoked token, again and again
  reject-forged     the real header and claims with a signature bit-flipped differently each time:
                    every request is an RS256 verification; also printed as µs per verification
                    per core (GOMAXPROCS × duration / requests, HTTP and load generator included)

The real handler is serve's, metrics included, but without serve's rate
limits: from one address, they would answer most of this traffic 429.

Also printed: the time to seed the store, the startup time (opening the
service as serve does, until /readyz first answers 200) and the resident
memory of the process (after seeding, after startup, and the most seen
under load; the load generator's share included).

Examples:
  # the everyday figures: 1,000 tokens for the listing user, 32 connections,
  # 10s per run after 2s of warmup
  latchkey bench

  # the same at scale: 1,000,000 more tokens across 100,000 users (seeding
  # SQLite takes a minute or two, reported apart)
  latchkey bench --scale-users 100000 --scale-tokens 1000000

  # on PostgreSQL: an empty database of its own, which bench fills and leaves
  latchkey bench --database postgres://bench@localhost:5432/latchkey_bench

By default the store is a new SQLite file in a temporary directory, removed
afterwards. Never point --database at a database that matters: bench adds
users and tokens to it. Unlike the other commands, bench takes no
LATCHKEY_DATABASE from the environment, for the same reason: its own
variable is LATCHKEY_BENCH_DATABASE. The figures
are only as good as the machine is quiet: run nothing else meanwhile.

The table goes to standard output (--json for JSON), progress to standard
error. The exit status is 1 if any request met an unexpected answer, or
a run none at all.`

// benchWorkloads are the workloads, in the order they run.
var benchWorkloads = []benchWorkload{
	{name: "show", expect: []int{http.StatusOK}, make: (*benchFixture).show,
		target: func(r benchRow) (string, bool) {
			return "≥60% of bare, p99 <5ms", r.ratio >= 0.60 && r.latchkey.P99 < 5*time.Millisecond
		}},
	{name: "list", expect: []int{http.StatusOK}, make: (*benchFixture).list,
		target: func(r benchRow) (string, bool) { return "≥40% of bare", r.ratio >= 0.40 }},
	{name: "create", expect: []int{http.StatusCreated}, make: (*benchFixture).create,
		target: func(r benchRow) (string, bool) { return "≥1000/s (SQLite)", r.latchkey.RPS >= 1000 }},
	{name: "mix", expect: []int{http.StatusOK, http.StatusCreated, http.StatusNoContent}, make: (*benchFixture).mix},
	{name: "reject-malformed", expect: []int{http.StatusUnauthorized}, make: (*benchFixture).rejectMalformed,
		target: func(r benchRow) (string, bool) { return "≥60% of bare", r.ratio >= 0.60 }},
	{name: "reject-repeated", expect: []int{http.StatusUnauthorized}, make: (*benchFixture).rejectRepeated,
		target: func(r benchRow) (string, bool) { return "≥60% of bare", r.ratio >= 0.60 }},
	{name: "reject-forged", expect: []int{http.StatusUnauthorized}, make: (*benchFixture).rejectForged},
}

// benchWorkload is one kind of traffic.
type benchWorkload struct {
	name   string
	expect []int // the real handler's answers; the bare one always says 200
	// make returns the requests of one run against base, and what to do
	// with their answers (nil: nothing). It is called afresh for each run,
	// so that state it keeps (tokens made, to revoke) is that run's.
	make   func(fx *benchFixture, base string, concurrency int) (func(worker, n int) *http.Request, func(int, *http.Request, int, []byte))
	target func(benchRow) (text string, met bool) // nil: no target
}

func (e *env) bench(ctx context.Context, args []string) error {
	fs := e.flags("bench", benchUsage)
	// The database flags are serve's, with variables of their own: a
	// LATCHKEY_DATABASE meant for serve must never receive bench's rows.
	fs.setEnvVar("database", "LATCHKEY_BENCH_DATABASE")
	fs.setEnvVar("secret-file", "LATCHKEY_BENCH_SECRET_FILE")
	tempDB := false
	runSecret := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	var db *dbFlags
	db = &dbFlags{
		database:         fs.FlagSet.String("database", "", "SQLite database file, or an empty PostgreSQL database postgres://… that bench may fill (default: a new SQLite file in a temporary directory, removed afterwards)"),
		secretFile:       fs.FlagSet.String("secret-file", "", "file holding the server secret (default: $LATCHKEY_SECRET, else a new secret for a temporary or PostgreSQL database, else the file beside the SQLite database)"),
		maxConns:         fs.FlagSet.String("db-max-conns", "0", "PostgreSQL: most connections in the pool (0: the driver's default)"),
		statementTimeout: fs.FlagSet.String("db-statement-timeout", "0", "PostgreSQL: longest a statement may run (0: the URL's statement_timeout, or 10s; off: no limit)"),
		mayCreate:        true,
		getenv: func(name string) string {
			if name != "LATCHKEY_SECRET" {
				return ""
			}
			if v := e.getenv(name); v != "" {
				return v
			}
			if tempDB || db.postgres() {
				return runSecret
			}
			return ""
		},
	}
	sf := fs.serviceFlags()
	concurrency := fs.Int("concurrency", 32, "requests kept in flight, one connection each")
	duration := fs.Duration("duration", 10*time.Second, "how long each run is measured (two runs per workload: bare, then latchkey)")
	warmup := fs.Duration("warmup", 2*time.Second, "traffic before each run's measurement, not counted")
	requests := fs.Int("requests", 0, "end each run once this many requests were counted, --duration then being only its longest (0: run for --duration)")
	tokens := fs.Int("tokens", 1000, "tokens of the user that show and list read (list reads 50 of them)")
	scaleUsers := fs.Int("scale-users", 0, "more users in the store, for the figures at scale (e.g. 100000)")
	scaleTokens := fs.Int("scale-tokens", 0, "more tokens in the store, spread evenly across --scale-users (e.g. 1000000)")
	workloadList := fs.FlagSet.String("workloads", "all", "workloads to run, comma-separated: all, or some of "+strings.Join(benchNames(), ", "))
	asJSON := fs.Bool("json", false, "write the results as JSON instead of a table")
	if err := fs.parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usagef("bench: unexpected arguments %q", fs.Args())
	case *concurrency < 1:
		return usagef("bench: --concurrency: want at least 1, got %d", *concurrency)
	case *duration <= 0:
		return usagef("bench: --duration: want a positive duration such as 10s, got %v", *duration)
	case *warmup < 0:
		return usagef("bench: --warmup: want a duration such as 2s or 0s, got %v", *warmup)
	case *requests < 0:
		return usagef("bench: --requests: want 0 or more, got %d", *requests)
	case *tokens < 1:
		return usagef("bench: --tokens: want at least 1, got %d", *tokens)
	case *scaleUsers < 0 || *scaleTokens < 0:
		return usagef("bench: --scale-users and --scale-tokens: want 0 or more")
	case *scaleTokens > 0 && *scaleUsers == 0:
		return usagef("bench: --scale-tokens needs --scale-users to spread them across")
	}
	workloads, err := pickWorkloads(*workloadList)
	if err != nil {
		return err
	}
	cfg, err := sf.config(slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}

	dbName := "postgres"
	switch {
	case *db.database == "":
		dir, err := os.MkdirTemp("", "latchkey-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*db.database = filepath.Join(dir, "bench.db")
		tempDB = true
		dbName = "sqlite (temporary)"
	case !db.postgres():
		dbName = "sqlite " + *db.database
	}

	b := &bencher{
		e: e, db: db, cfg: cfg,
		opts:   loadtest.Options{Concurrency: *concurrency, Duration: *duration, Warmup: *warmup, Requests: *requests},
		tokens: *tokens, scaleUsers: *scaleUsers, scaleTokens: *scaleTokens,
	}
	rep := benchReport{
		Database: dbName, Concurrency: *concurrency,
		DurationSeconds: duration.Seconds(), WarmupSeconds: warmup.Seconds(), Requests: *requests,
		GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(), GoVersion: runtime.Version(),
		Tokens: *tokens, ScaleUsers: *scaleUsers, ScaleTokens: *scaleTokens,
	}

	fx, err := b.seed(ctx, &rep)
	if err != nil {
		return fmt.Errorf("bench: seeding: %w", err)
	}
	runtime.GC()
	debug.FreeOSMemory() // what seeding used is not the server's
	if m, err := loadtest.ReadMemory(); err == nil {
		rep.RSSSeeded = m.RSS
	}

	srv, err := b.start(ctx, &rep)
	if err != nil {
		return fmt.Errorf("bench: starting: %w", err)
	}
	defer srv.close()
	if m, err := loadtest.ReadMemory(); err == nil {
		rep.RSSStarted = m.RSS
	}
	stopWatching := loadtest.WatchMemory(50 * time.Millisecond)

	for _, w := range workloads {
		row, err := b.measure(ctx, w, fx, srv)
		if err != nil {
			stopWatching()
			return err
		}
		rep.Workloads = append(rep.Workloads, row.report(w.name))
		runtime.GC() // each run starts from a collected heap
	}
	rep.RSSMax = stopWatching()

	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		rep.writeTable(e.stdout)
	}
	if n := rep.errors(); n > 0 {
		return fmt.Errorf("bench: %d failures (requests with an unexpected answer, runs with no answer at all): the figures are not to be trusted", n)
	}
	return nil
}

// benchNames lists the workloads' names.
func benchNames() []string {
	var names []string
	for _, w := range benchWorkloads {
		names = append(names, w.name)
	}
	return names
}

// pickWorkloads reads --workloads: all, or names, run in the usual order.
func pickWorkloads(list string) ([]benchWorkload, error) {
	want := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		if name = strings.TrimSpace(name); name != "" {
			want[name] = true
		}
	}
	if want["all"] {
		return benchWorkloads, nil
	}
	var out []benchWorkload
	for _, w := range benchWorkloads {
		if want[w.name] {
			out = append(out, w)
			delete(want, w.name)
		}
	}
	if len(want) > 0 {
		var unknown []string
		for name := range want {
			unknown = append(unknown, name)
		}
		slices.Sort(unknown)
		return nil, usagef("bench: --workloads: unknown %s: want all, or some of %s", strings.Join(unknown, ", "), strings.Join(benchNames(), ", "))
	}
	if len(out) == 0 {
		return nil, usagef("bench: --workloads: name at least one")
	}
	return out, nil
}

// bencher holds what a bench run shares.
type bencher struct {
	e    *env
	db   *dbFlags
	cfg  service.Config
	opts loadtest.Options

	tokens, scaleUsers, scaleTokens int

	mu sync.Mutex // serializes progress lines
}

// progressf writes a progress line to standard error.
func (b *bencher) progressf(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprintf(b.e.stderr, "bench: "+format+"\n", args...)
}

// benchFixture is what the workloads need to know about the seeded store.
type benchFixture struct {
	listUser, writer int64    // the user show and list read; the user create writes
	listJWT          string   // a valid token of listUser
	writerJWT        string   // a valid token of writer
	revokedJWT       string   // a revoked token of listUser
	listIDs          []string // every token of listUser
	forgePrefix      string   // listJWT's header and claims, with the dot
	forgeSig         []byte   // listJWT's signature
}

// seed fills the store: the users and tokens the workloads use, then
// --scale-users users and --scale-tokens tokens. Tokens beyond the few the
// workloads authenticate with are rows written straight to the store: the
// figures need the rows, not their JWTs, and signing a million tokens
// would take a quarter of an hour.
func (b *bencher) seed(ctx context.Context, rep *benchReport) (*benchFixture, error) {
	start := time.Now()
	// A service of its own, closed before the measured one starts, so that
	// the startup time is that of a server on a full store.
	svc, st, closeSvc, err := b.e.openService(ctx, b.db, b.cfg)
	if err != nil {
		return nil, err
	}
	defer closeSvc()

	run := hex.EncodeToString(randomBytes(4)) // names unique to this run
	newUser := func(role string) (*latchkey.User, error) {
		return svc.CreateUser(ctx, service.NewUser{
			Username: "bench-" + run + "-" + role, Email: "bench-" + run + "-" + role + "@example.com", FirstName: "Bench",
		})
	}
	newToken := func(u *latchkey.User, name string) (*latchkey.Token, string, error) {
		return svc.OperatorCreateToken(ctx, u, service.TokenRequest{Name: &name})
	}
	listUser, err := newUser("list")
	if err != nil {
		return nil, err
	}
	writer, err := newUser("write")
	if err != nil {
		return nil, err
	}
	listTok, listJWT, err := newToken(listUser, "bench reader")
	if err != nil {
		return nil, err
	}
	_, writerJWT, err := newToken(writer, "bench writer")
	if err != nil {
		return nil, err
	}
	revoked, revokedJWT, err := newToken(listUser, "bench revoked")
	if err != nil {
		return nil, err
	}
	if _, err := svc.OperatorRevokeToken(ctx, revoked.ID); err != nil {
		return nil, err
	}
	dot := strings.LastIndexByte(listJWT, '.')
	sig, err := base64.RawURLEncoding.DecodeString(listJWT[dot+1:])
	if err != nil || len(sig) < 8 {
		return nil, fmt.Errorf("the signature of a new token is not base64url: %v", err)
	}
	fx := &benchFixture{
		listUser: listUser.ID, writer: writer.ID,
		listJWT: listJWT, writerJWT: writerJWT, revokedJWT: revokedJWT,
		listIDs:     make([]string, b.tokens),
		forgePrefix: listJWT[:dot+1], forgeSig: sig,
	}
	fx.listIDs[0] = listTok.ID

	now := time.Now().UTC().Truncate(time.Microsecond)
	row := func(user int64, i int) *latchkey.Token {
		created := now.Add(-time.Duration(i+1) * time.Millisecond)
		expires := now.AddDate(1, 0, 0)
		return &latchkey.Token{
			ID: hex.EncodeToString(randomBytes(latchkey.TokenIDLength / 2)), UserID: user,
			ClientID: latchkey.PersonalAccessClientID, Name: "bench " + strconv.Itoa(i), Scopes: latchkey.Scopes{},
			CreatedAt: created, UpdatedAt: created, ExpiresAt: &expires, KeyID: listTok.KeyID,
		}
	}
	err = b.parallel(ctx, "tokens of the listing user", b.tokens-1, func(i int) error {
		t := row(listUser.ID, i)
		fx.listIDs[i+1] = t.ID
		return st.CreateToken(ctx, t)
	})
	if err != nil {
		return nil, err
	}
	rep.SeedSeconds.Fixture = time.Since(start).Seconds()

	if b.scaleUsers > 0 {
		t := time.Now()
		ids := make([]int64, b.scaleUsers)
		err := b.parallel(ctx, "users at scale", b.scaleUsers, func(i int) error {
			u, err := newUser("u" + strconv.Itoa(i))
			if err == nil {
				ids[i] = u.ID
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		rep.SeedSeconds.Users = time.Since(t).Seconds()
		t = time.Now()
		err = b.parallel(ctx, "tokens at scale", b.scaleTokens, func(i int) error {
			return st.CreateToken(ctx, row(ids[i%len(ids)], i))
		})
		if err != nil {
			return nil, err
		}
		rep.SeedSeconds.Tokens = time.Since(t).Seconds()
	}
	rep.SeedSeconds.Total = time.Since(start).Seconds()
	return fx, nil
}

// parallel calls f for 0 ≤ i < n from a few goroutines, so that a store
// with a network round trip per write is kept busy, and reports progress
// on a long job.
func (b *bencher) parallel(ctx context.Context, what string, n int, f func(i int) error) error {
	if n <= 0 {
		return nil
	}
	start := time.Now()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range min(n, max(8, 2*runtime.GOMAXPROCS(0))) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					cancel(fmt.Errorf("%s: %w", what, err))
					return
				}
				done.Add(1)
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-finished:
			if err := context.Cause(ctx); err != nil {
				return err
			}
			if time.Since(start) > 5*time.Second {
				b.progressf("seeded %d %s in %.1fs", n, what, time.Since(start).Seconds())
			}
			return nil
		case <-tick.C:
			d := done.Load()
			b.progressf("seeding %s: %d of %d (%.0f/s)", what, d, n, float64(d)/time.Since(start).Seconds())
		}
	}
}

// benchServers are the two handlers under load.
type benchServers struct {
	real, bare string // base URLs
	close      func()
}

// start opens the service as serve does and serves it, and the bare
// handler, each on a port of 127.0.0.1. The startup time is from the
// moment the store is opened to the first 200 from /readyz.
func (b *bencher) start(ctx context.Context, rep *benchReport) (*benchServers, error) {
	b.progressf("starting the server on %d tokens", b.tokens+2+b.scaleTokens)
	begin := time.Now()
	m := metrics.New()
	cfg := b.cfg
	cfg.Observer = m
	svc, _, closeSvc, err := b.e.openService(ctx, b.db, cfg)
	if err != nil {
		return nil, err
	}
	if _, _, err := svc.Bootstrap(ctx); err != nil {
		closeSvc()
		return nil, err
	}
	rep.OpenMillis = benchMillis(time.Since(begin))

	var closers []func()
	cleanup := func() {
		for _, c := range slices.Backward(closers) {
			c()
		}
	}
	closers = append(closers, closeSvc)
	bg, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	bgDone := make(chan struct{})
	go func() { _ = svc.Run(bg); close(bgDone) }()
	closers = append(closers, func() { stopBg(); <-bgDone })

	serve := func(h http.Handler) (string, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", fmt.Errorf("listen: %w", err)
		}
		srv := newHTTPServer(h, slog.New(slog.DiscardHandler))
		go func() { _ = srv.Serve(ln) }()
		closers = append(closers, func() { _ = srv.Close() })
		return "http://" + ln.Addr().String(), nil
	}
	s := &benchServers{close: cleanup}
	// As serve's handler, metrics included, but with no rate limits: from
	// one address, serve's would answer most of this traffic 429.
	h := httpapi.New(svc, httpapi.Options{Logger: slog.New(slog.DiscardHandler), Metrics: m})
	if s.real, err = serve(h); err != nil {
		cleanup()
		return nil, err
	}
	if err := benchWaitReady(ctx, s.real+"/readyz"); err != nil {
		cleanup()
		return nil, err
	}
	rep.ReadyMillis = benchMillis(time.Since(begin))
	if s.bare, err = serve(loadtest.Bare()); err != nil {
		cleanup()
		return nil, err
	}
	return s, nil
}

// benchWaitReady polls url until it answers 200, for at most a minute.
func benchWaitReady(ctx context.Context, url string) error {
	tr := loadtest.NewTransport(1)
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	deadline := time.Now().Add(time.Minute)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: %s", url, resp.Status)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("not ready: %w", err)
		}
		time.Sleep(time.Millisecond)
	}
}

// benchRow is the two runs of one workload.
type benchRow struct {
	bare, latchkey loadtest.Result
	ratio          float64
	target         string
	met            bool
}

// measure runs w against the bare handler, then the real one.
func (b *bencher) measure(ctx context.Context, w benchWorkload, fx *benchFixture, s *benchServers) (benchRow, error) {
	var row benchRow
	bareReq, _ := w.make(fx, s.bare, b.opts.Concurrency)
	opts := b.opts
	opts.Expect = []int{http.StatusOK}
	b.progressf("%s: bare, %d connections, %v", w.name, opts.Concurrency, opts.Warmup+opts.Duration)
	var err error
	if row.bare, err = loadtest.Run(ctx, opts, bareReq); err != nil {
		return row, err
	}
	realReq, observe := w.make(fx, s.real, b.opts.Concurrency)
	opts.Expect, opts.Observe = w.expect, observe
	b.progressf("%s: latchkey, %d connections, %v", w.name, opts.Concurrency, opts.Warmup+opts.Duration)
	if row.latchkey, err = loadtest.Run(ctx, opts, realReq); err != nil {
		return row, err
	}
	if row.bare.RPS > 0 {
		row.ratio = row.latchkey.RPS / row.bare.RPS
	}
	if w.target != nil {
		row.target, row.met = w.target(row)
	}
	b.progressf("%s: bare %.0f/s, latchkey %.0f/s (%.0f%%)", w.name, row.bare.RPS, row.latchkey.RPS, 100*row.ratio)
	return row, nil
}

// The workloads' requests.

// benchRequest makes a request, as a workload's generator must: it cannot fail
// for the URLs the workloads build.
func benchRequest(method, url, auth, body string) *http.Request {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		panic(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	return req
}

func (fx *benchFixture) tokensURL(base string, user int64) string {
	return base + "/api/1.0/users/" + strconv.FormatInt(user, 10) + "/tokens"
}

// showRequest is a show of one of listUser's tokens, a different one per
// request, as auth.
func (fx *benchFixture) showRequest(base, auth string, worker, n int) *http.Request {
	id := fx.listIDs[(worker*7919+n)%len(fx.listIDs)]
	return benchRequest(http.MethodGet, fx.tokensURL(base, fx.listUser)+"/"+id, auth, "")
}

func (fx *benchFixture) show(base string, _ int) (func(int, int) *http.Request, func(int, *http.Request, int, []byte)) {
	auth := "Bearer " + fx.listJWT
	return func(worker, n int) *http.Request { return fx.showRequest(base, auth, worker, n) }, nil
}

func (fx *benchFixture) list(base string, _ int) (func(int, int) *http.Request, func(int, *http.Request, int, []byte)) {
	url, auth := fx.tokensURL(base, fx.listUser)+"?per_page=50", "Bearer "+fx.listJWT
	return func(int, int) *http.Request { return benchRequest(http.MethodGet, url, auth, "") }, nil
}

const benchCreateBody = `{"name":"bench"}`

func (fx *benchFixture) create(base string, _ int) (func(int, int) *http.Request, func(int, *http.Request, int, []byte)) {
	url, auth := fx.tokensURL(base, fx.writer), "Bearer "+fx.writerJWT
	return func(int, int) *http.Request { return benchRequest(http.MethodPost, url, auth, benchCreateBody) }, nil
}

// mix: of every 100 requests, on average, 1 revokes a token this worker
// made earlier in the run (a show when it has none left), 9 create one,
// 45 show and 45 list. Reads are listUser's, writes writer's, so that the
// list stays --tokens long.
func (fx *benchFixture) mix(base string, concurrency int) (func(int, int) *http.Request, func(int, *http.Request, int, []byte)) {
	type state struct {
		rng  *rand.Rand
		made []string // ids of tokens this worker made, not yet revoked
	}
	states := make([]state, concurrency) // one per worker: no lock
	read := "Bearer " + fx.listJWT
	write := "Bearer " + fx.writerJWT
	listURL, writeURL := fx.tokensURL(base, fx.listUser)+"?per_page=50", fx.tokensURL(base, fx.writer)
	next := func(worker, n int) *http.Request {
		s := &states[worker]
		if s.rng == nil {
			s.rng = rand.New(rand.NewPCG(uint64(worker), 0x6c6174636b6579))
		}
		switch r := s.rng.IntN(100); {
		case r == 0 && len(s.made) > 0:
			id := s.made[len(s.made)-1]
			s.made = s.made[:len(s.made)-1]
			return benchRequest(http.MethodDelete, writeURL+"/"+id, write, "")
		case r >= 1 && r < 10:
			return benchRequest(http.MethodPost, writeURL, write, benchCreateBody)
		case r%2 == 1:
			return benchRequest(http.MethodGet, listURL, read, "")
		default:
			return fx.showRequest(base, read, worker, n)
		}
	}
	observe := func(worker int, req *http.Request, status int, body []byte) {
		if req.Method != http.MethodPost || status != http.StatusCreated {
			return
		}
		var t struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(body, &t) == nil && latchkey.ValidTokenID(t.ID) {
			states[worker].made = append(states[worker].made, t.ID)
		}
	}
	return next, observe
}

func (fx *benchFixture) rejectMalformed(base string, _ int) (func(int, int) *http.Request, func(int, *http.Request, int, []byte)) {
	return func(worker, n int) *http.Request {
		return fx.showRequest(base, "Bearer this-is-not-a-token", worker, n)
	}, nil
}

func (fx *benchFixture) rejectRepeated(base string, _ int) (func(int, int) *http.Request, func(int, *http.Request, int, []byte)) {
	auth := "Bearer " + fx.revokedJWT
	return func(worker, n int) *http.Request { return fx.showRequest(base, auth, worker, n) }, nil
}

// rejectForged sends listJWT with the last 8 bytes of its signature, the
// least significant, XORed with a number no other request of the run uses:
// a signature that differs each time, still below the modulus, so that
// every request costs a whole RS256 verification and no cache can help.
func (fx *benchFixture) rejectForged(base string, _ int) (func(int, int) *http.Request, func(int, *http.Request, int, []byte)) {
	return func(worker, n int) *http.Request {
		sig := slices.Clone(fx.forgeSig)
		x := uint64(worker)<<40 | uint64(n+1) // never 0: never the real signature
		for i := range 8 {
			sig[len(sig)-1-i] ^= byte(x >> (8 * i))
		}
		auth := "Bearer " + fx.forgePrefix + base64.RawURLEncoding.EncodeToString(sig)
		return fx.showRequest(base, auth, worker, n)
	}, nil
}

// The report.

// benchReport is what bench prints, as a table or as JSON.
type benchReport struct {
	Database        string  `json:"database"` // never a URL: it may hold a password
	Concurrency     int     `json:"concurrency"`
	DurationSeconds float64 `json:"duration_seconds"`
	Requests        int     `json:"requests,omitempty"` // each run ends once this many were counted
	WarmupSeconds   float64 `json:"warmup_seconds"`
	GOMAXPROCS      int     `json:"gomaxprocs"`
	NumCPU          int     `json:"num_cpu"`
	GoVersion       string  `json:"go_version"`
	Tokens          int     `json:"tokens"`
	ScaleUsers      int     `json:"scale_users"`
	ScaleTokens     int     `json:"scale_tokens"`
	SeedSeconds     struct {
		Fixture float64 `json:"fixture"` // the workloads' users and tokens
		Users   float64 `json:"users"`   // --scale-users
		Tokens  float64 `json:"tokens"`  // --scale-tokens
		Total   float64 `json:"total"`
	} `json:"seed_seconds"`
	OpenMillis  float64               `json:"open_ms"`  // openService and Bootstrap
	ReadyMillis float64               `json:"ready_ms"` // to the first 200 from /readyz
	RSSSeeded   int64                 `json:"rss_seeded_bytes"`
	RSSStarted  int64                 `json:"rss_started_bytes"`
	RSSMax      int64                 `json:"rss_max_bytes"` // sampled every 50ms under load
	Workloads   []benchWorkloadReport `json:"workloads"`
}

// benchWorkloadReport is one workload's line of the report.
type benchWorkloadReport struct {
	Name      string         `json:"name"`
	Bare      benchRunReport `json:"bare"`
	Latchkey  benchRunReport `json:"latchkey"`
	Ratio     float64        `json:"ratio"` // latchkey's rps / bare's
	Target    string         `json:"target,omitempty"`
	TargetMet *bool          `json:"target_met,omitempty"`
	// MicrosPerVerifyPerCore, for reject-forged: GOMAXPROCS × duration /
	// requests, the CPU time of one rejection, RS256 verification, HTTP
	// and load generator included.
	MicrosPerVerifyPerCore float64 `json:"us_per_verify_per_core,omitempty"`
}

// benchRunReport is one run.
type benchRunReport struct {
	Requests   int            `json:"requests"`
	Seconds    float64        `json:"seconds"` // the time requests were counted
	Errors     int            `json:"errors"`
	RPS        float64        `json:"rps"`
	P50Millis  float64        `json:"p50_ms"`
	P99Millis  float64        `json:"p99_ms"`
	MaxMillis  float64        `json:"max_ms"`
	Statuses   map[string]int `json:"statuses"` // "0": no answer
	FirstError string         `json:"first_error,omitempty"`
	Unfinished int            `json:"unfinished"` // in flight when the run ended
}

func benchMillis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func benchRun(r loadtest.Result) benchRunReport {
	st := map[string]int{}
	for s, n := range r.Statuses {
		st[strconv.Itoa(s)] = n
	}
	return benchRunReport{
		Requests: r.Requests, Seconds: r.Elapsed.Seconds(), Errors: r.Errors, RPS: r.RPS,
		P50Millis: benchMillis(r.P50), P99Millis: benchMillis(r.P99), MaxMillis: benchMillis(r.Max),
		Statuses: st, FirstError: r.FirstError, Unfinished: r.Unfinished,
	}
}

func (row benchRow) report(name string) benchWorkloadReport {
	r := benchWorkloadReport{Name: name, Bare: benchRun(row.bare), Latchkey: benchRun(row.latchkey), Ratio: row.ratio}
	if row.target != "" {
		met := row.met
		r.Target, r.TargetMet = row.target, &met
	}
	if name == "reject-forged" && row.latchkey.Requests > 0 {
		cpu := time.Duration(runtime.GOMAXPROCS(0)) * row.latchkey.Elapsed
		r.MicrosPerVerifyPerCore = float64(cpu/time.Microsecond) / float64(row.latchkey.Requests)
	}
	return r
}

// errors counts the requests of every run that met an unexpected answer,
// and the runs in which no request was answered at all: a server that
// hangs answers nothing wrong.
func (rep *benchReport) errors() int {
	n := 0
	for _, w := range rep.Workloads {
		for _, r := range []benchRunReport{w.Bare, w.Latchkey} {
			n += r.Errors
			if r.Requests == 0 {
				n++
			}
		}
	}
	return n
}

// writeTable writes the report for a person: a header, then one line per
// run. Every cell of the table is one word, so that it splits on spaces.
func (rep *benchReport) writeTable(out io.Writer) {
	run := fmt.Sprintf("%gs per run", rep.DurationSeconds)
	if rep.Requests > 0 {
		run = fmt.Sprintf("%d requests per run (%gs at most)", rep.Requests, rep.DurationSeconds)
	}
	fmt.Fprintf(out, "latchkey bench: %s; %d connections; %s after %gs warmup; GOMAXPROCS %d of %d CPUs; %s\n",
		rep.Database, rep.Concurrency, run, rep.WarmupSeconds, rep.GOMAXPROCS, rep.NumCPU, rep.GoVersion)
	fmt.Fprintf(out, "store: %d tokens for show and list", rep.Tokens)
	if rep.ScaleUsers > 0 {
		fmt.Fprintf(out, "; %d more tokens across %d more users", rep.ScaleTokens, rep.ScaleUsers)
	}
	fmt.Fprintf(out, "\nseeding: %.1fs (workloads' own %.1fs, users at scale %.1fs, tokens at scale %.1fs)\n",
		rep.SeedSeconds.Total, rep.SeedSeconds.Fixture, rep.SeedSeconds.Users, rep.SeedSeconds.Tokens)
	fmt.Fprintf(out, "startup: %.1fms to open the service, %.1fms to the first 200 from /readyz\n", rep.OpenMillis, rep.ReadyMillis)
	if rep.RSSStarted > 0 {
		fmt.Fprintf(out, "memory: RSS %s after seeding, %s after startup, %s at most under load (load generator included)\n",
			benchMiB(rep.RSSSeeded), benchMiB(rep.RSSStarted), benchMiB(max(rep.RSSMax, rep.RSSStarted)))
	} else {
		fmt.Fprintln(out, "memory: unknown (no /proc/self/status)")
	}
	fmt.Fprintln(out)

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKLOAD\tSERVER\tRPS\tP50\tP99\tERRORS\tOF-BARE\tTARGET")
	var notes []string
	for _, w := range rep.Workloads {
		fmt.Fprintf(tw, "%s\tbare\t%.0f\t%s\t%s\t%d\t\t\n", w.Name, w.Bare.RPS, benchMs(w.Bare.P50Millis), benchMs(w.Bare.P99Millis), w.Bare.Errors)
		target := ""
		if w.TargetMet != nil {
			verdict := "MISSED"
			if *w.TargetMet {
				verdict = "met"
			}
			target = w.Target + ": " + verdict
		}
		fmt.Fprintf(tw, "%s\tlatchkey\t%.0f\t%s\t%s\t%d\t%.0f%%\t%s\n", w.Name, w.Latchkey.RPS,
			benchMs(w.Latchkey.P50Millis), benchMs(w.Latchkey.P99Millis), w.Latchkey.Errors, 100*w.Ratio, target)
		for server, r := range map[string]benchRunReport{"bare": w.Bare, "latchkey": w.Latchkey} {
			if r.Errors > 0 {
				notes = append(notes, fmt.Sprintf("%s %s: %d errors, statuses %v; first: %s", w.Name, server, r.Errors, r.Statuses, r.FirstError))
			}
			if r.Requests == 0 {
				notes = append(notes, fmt.Sprintf("%s %s: no request answered in %gs, %d still in flight at its end: the server hung", w.Name, server, rep.DurationSeconds, r.Unfinished))
			}
		}
		if w.MicrosPerVerifyPerCore > 0 {
			notes = append(notes, fmt.Sprintf("%s: %.1fµs of CPU per rejection (%d cores × %.3gs / %d requests): RS256 verification, HTTP and load generator included",
				w.Name, w.MicrosPerVerifyPerCore, rep.GOMAXPROCS, w.Latchkey.Seconds, w.Latchkey.Requests))
		}
	}
	tw.Flush()
	if len(notes) > 0 {
		slices.Sort(notes)
		fmt.Fprintln(out)
		for _, n := range notes {
			fmt.Fprintln(out, n)
		}
	}
}

// benchMs formats milliseconds as one word: 0.412ms, 1.23ms, 12.3ms, 123ms.
func benchMs(v float64) string {
	switch {
	case v < 1:
		return strconv.FormatFloat(v, 'f', 3, 64) + "ms"
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64) + "ms"
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64) + "ms"
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + "ms"
}

// benchMiB formats bytes as MiB.
func benchMiB(b int64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + "MiB" }
