// Package bench measures the server on this machine: it seeds a store,
// starts the real handler on it and a bare net/http handler beside it,
// drives both with the same workloads through internal/loadtest, and
// reports each workload's throughput and latency, the real handler's as a
// share of the bare one's. It is the body of latchkey bench; the command
// only parses flags and opens the store.
//
// The boundary with internal/loadtest: loadtest knows nothing of latchkey
// (it drives HTTP load at loopback addresses, serves the baseline and reads
// the process's memory); bench knows what latchkey's traffic is (the
// seeded users and tokens, the workloads' requests and expected answers,
// the report and its targets).
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/loadtest"
	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/service"
)

// Options configure a Run.
type Options struct {
	// Open opens the store and a service on it with cfg, as serve does;
	// close releases both. Run calls it twice: once to seed the store
	// (closed again before the measured service starts, so that the
	// startup time is that of a server on a full store), then for the
	// service under load. The store should be empty, or one bench filled
	// before: bench adds users and tokens to it.
	Open func(ctx context.Context, cfg service.Config) (svc *service.Service, st latchkey.Store, close func(), err error)
	// Config is the service's configuration; Run adds the metrics.
	Config service.Config
	// NewServer makes the HTTP server of each handler under load (nil: a
	// plain http.Server), so that it keeps the limits serve's listener
	// keeps.
	NewServer func(http.Handler) *http.Server
	// Database names the store in the report. Never a URL: it may hold a
	// password.
	Database string

	// Concurrency, Duration, Warmup and Requests are each run's, as
	// loadtest.Options has them.
	Concurrency int
	Duration    time.Duration
	Warmup      time.Duration
	Requests    int

	// Tokens is how many tokens the user that show and list read has
	// (list reads 50 of them); at least 1.
	Tokens int
	// ScaleUsers and ScaleTokens are more users, and more tokens spread
	// evenly across them, for the figures at scale.
	ScaleUsers, ScaleTokens int

	// Workloads names the workloads to run, which run in the order Names
	// gives whatever the order here; empty: all of them.
	Workloads []string

	// Progress receives a line at each step (nil: none).
	Progress io.Writer
}

// Validate reports the first option that is out of range, named by the
// flag of latchkey bench that sets it (--concurrency for Concurrency).
func (o Options) Validate() error {
	switch {
	case o.Open == nil:
		return errors.New("no Open: nothing to open the store with")
	case o.Concurrency < 1:
		return fmt.Errorf("--concurrency: want at least 1, got %d", o.Concurrency)
	case o.Duration <= 0:
		return fmt.Errorf("--duration: want a positive duration such as 10s, got %v", o.Duration)
	case o.Warmup < 0:
		return fmt.Errorf("--warmup: want a duration such as 2s or 0s, got %v", o.Warmup)
	case o.Requests < 0:
		return fmt.Errorf("--requests: want 0 or more, got %d", o.Requests)
	case o.Tokens < 1:
		return fmt.Errorf("--tokens: want at least 1, got %d", o.Tokens)
	case o.ScaleUsers < 0 || o.ScaleTokens < 0:
		return errors.New("--scale-users and --scale-tokens: want 0 or more")
	case o.ScaleTokens > 0 && o.ScaleUsers == 0:
		return errors.New("--scale-tokens needs --scale-users to spread them across")
	}
	_, err := pick(o.Workloads)
	return err
}

// Run seeds the store, starts the servers and measures each workload
// against both. It returns an error when it could not measure; a report
// whose runs met unexpected answers is no error, but its Failures say so.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	workloads, _ := pick(opts.Workloads)
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	if opts.NewServer == nil {
		opts.NewServer = func(h http.Handler) *http.Server { return &http.Server{Handler: h} }
	}
	r := &runner{opts: opts}
	rep := &Report{
		Database: opts.Database, Concurrency: opts.Concurrency,
		DurationSeconds: opts.Duration.Seconds(), WarmupSeconds: opts.Warmup.Seconds(), Requests: opts.Requests,
		GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(), GoVersion: runtime.Version(),
		Tokens: opts.Tokens, ScaleUsers: opts.ScaleUsers, ScaleTokens: opts.ScaleTokens,
	}

	fx, err := r.seed(ctx, rep)
	if err != nil {
		return nil, err
	}
	runtime.GC()
	debug.FreeOSMemory() // what seeding used is not the server's
	if m, err := loadtest.ReadMemory(); err == nil {
		rep.RSSSeeded = m.RSS
	}

	srv, err := r.start(ctx, rep)
	if err != nil {
		return nil, fmt.Errorf("starting: %w", err)
	}
	defer srv.close()
	if m, err := loadtest.ReadMemory(); err == nil {
		rep.RSSStarted = m.RSS
	}
	stopWatching := loadtest.WatchMemory(50 * time.Millisecond)
	defer func() { rep.RSSMax = stopWatching() }()

	for _, w := range workloads {
		row, err := r.measure(ctx, w, fx, srv)
		if err != nil {
			return nil, err
		}
		rep.Workloads = append(rep.Workloads, row.report(w.name))
		runtime.GC() // each run starts from a collected heap
	}
	return rep, nil
}

// runner holds what one Run shares.
type runner struct {
	opts Options
	mu   sync.Mutex // serializes progress lines
}

// progressf writes a progress line.
func (r *runner) progressf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.opts.Progress, "bench: "+format+"\n", args...)
}

// seed fills the store through a service of its own, closed before the
// measured one starts, so that the startup time is that of a server on a
// full store.
func (r *runner) seed(ctx context.Context, rep *Report) (*Fixture, error) {
	svc, st, closeSvc, err := r.opts.Open(ctx, r.opts.Config)
	if err != nil {
		return nil, fmt.Errorf("seeding: %w", err)
	}
	defer closeSvc()
	fx, took, err := Seed(ctx, svc, st, SeedOptions{
		Tokens: r.opts.Tokens, ScaleUsers: r.opts.ScaleUsers, ScaleTokens: r.opts.ScaleTokens,
		Progress: r.progressf,
	})
	rep.SeedSeconds = took
	return fx, err
}

// servers are the two handlers under load.
type servers struct {
	real, bare string // base URLs
	close      func()
}

// start opens the service as serve does and serves it, and the bare
// handler, each on a port of 127.0.0.1. The startup time is from the
// moment the store is opened to the first 200 from /readyz.
func (r *runner) start(ctx context.Context, rep *Report) (*servers, error) {
	r.progressf("starting the server on %d tokens", r.opts.Tokens+2+r.opts.ScaleTokens)
	begin := time.Now()
	m := metrics.New()
	cfg := r.opts.Config
	cfg.Observer = m
	svc, _, closeSvc, err := r.opts.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if _, _, err := svc.Bootstrap(ctx); err != nil {
		closeSvc()
		return nil, err
	}
	rep.OpenMillis = millis(time.Since(begin))

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
		srv := r.opts.NewServer(h)
		go func() { _ = srv.Serve(ln) }()
		closers = append(closers, func() { _ = srv.Close() })
		return "http://" + ln.Addr().String(), nil
	}
	s := &servers{close: cleanup}
	// As serve's handler, metrics included, but with no rate limits: from
	// one address, serve's would answer most of this traffic 429.
	h := httpapi.New(svc, httpapi.Options{Logger: slog.New(slog.DiscardHandler), Metrics: m})
	if s.real, err = serve(h); err != nil {
		cleanup()
		return nil, err
	}
	if err := waitReady(ctx, s.real+"/readyz"); err != nil {
		cleanup()
		return nil, err
	}
	rep.ReadyMillis = millis(time.Since(begin))
	if s.bare, err = serve(loadtest.Bare()); err != nil {
		cleanup()
		return nil, err
	}
	return s, nil
}

// waitReady polls url until it answers 200, for at most a minute.
func waitReady(ctx context.Context, url string) error {
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

// row is the two runs of one workload.
type row struct {
	bare, latchkey loadtest.Result
	ratio          float64
	target         string
	met            bool
}

// measure runs w against the bare handler, then the real one.
func (r *runner) measure(ctx context.Context, w workload, fx *Fixture, s *servers) (row, error) {
	var rw row
	lt := loadtest.Options{Concurrency: r.opts.Concurrency, Duration: r.opts.Duration, Warmup: r.opts.Warmup, Requests: r.opts.Requests}
	bareReq, _ := w.make(fx, s.bare, lt.Concurrency)
	lt.Expect = []int{http.StatusOK}
	r.progressf("%s: bare, %d connections, %v", w.name, lt.Concurrency, lt.Warmup+lt.Duration)
	var err error
	if rw.bare, err = loadtest.Run(ctx, lt, bareReq); err != nil {
		return rw, err
	}
	realReq, observe := w.make(fx, s.real, lt.Concurrency)
	lt.Expect, lt.Observe = w.expect, observe
	r.progressf("%s: latchkey, %d connections, %v", w.name, lt.Concurrency, lt.Warmup+lt.Duration)
	if rw.latchkey, err = loadtest.Run(ctx, lt, realReq); err != nil {
		return rw, err
	}
	if rw.bare.RPS > 0 {
		rw.ratio = rw.latchkey.RPS / rw.bare.RPS
	}
	if w.target != nil {
		rw.target, rw.met = w.target(rw)
	}
	r.progressf("%s: bare %.0f/s, latchkey %.0f/s (%.0f%%)", w.name, rw.bare.RPS, rw.latchkey.RPS, 100*rw.ratio)
	return rw, nil
}
