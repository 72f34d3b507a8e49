// Package loadtest drives HTTP load at servers on this machine, and knows
// nothing of what they serve (internal/bench, behind latchkey bench, does):
// a closed-loop driver that keeps a fixed number of requests in flight for
// a fixed time and reports throughput, exact latency percentiles and the
// statuses it saw; a bare handler to measure a baseline against; and the
// process's resident memory, now and the most under load.
//
// The driver is closed-loop: each of Concurrency workers sends its next
// request as soon as it has read the answer to its last one, over a shared
// keep-alive transport with one connection per worker. It measures what
// the server sustains at that concurrency, not how it behaves at a rate
// set from outside (an open-loop tool such as vegeta does that). It only
// ever dials loopback addresses: it is for a server and its baseline on the
// same machine, never for somebody else's.
package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Options configure a Run.
type Options struct {
	// Concurrency is how many requests are kept in flight: one worker,
	// and one connection, per request.
	Concurrency int
	// Duration is how long requests are counted. The run stops itself
	// when it ends; requests still in flight are cancelled and not
	// counted.
	Duration time.Duration
	// Warmup is how long requests are sent, and not counted, before
	// Duration begins: connections open, caches fill.
	Warmup time.Duration
	// Requests, when positive, ends the run as soon as this many requests
	// were counted (workers then start no new request), so that Duration
	// is only an upper bound: a run that must show traffic ran, not how
	// fast, on a machine of any speed and load.
	Requests int
	// Expect lists the statuses that count as success. Empty: any 2xx.
	// Any other status, and any request that got no answer, is an error.
	Expect []int
	// Observe, when set, is called with every answer, warmup included,
	// on the worker's goroutine, after its latency was taken. The body is
	// valid only during the call. A workload uses it to learn, say, the id
	// of a token it created.
	Observe func(worker int, req *http.Request, status int, body []byte)
	// Clock is what the run reads the time from: its Warmup and Duration,
	// its end, the latencies and Elapsed. Nil: the wall clock. A test sets
	// it to decide when a run's time passes.
	Clock Clock
}

// Clock tells the time, and ends a context when a time comes.
type Clock interface {
	Now() time.Time
	// WithDeadline returns a copy of ctx that ends when the clock reaches
	// deadline, as context.WithDeadline does by the wall clock.
	WithDeadline(ctx context.Context, deadline time.Time) (context.Context, context.CancelFunc)
}

// wallClock is the Clock of a Run that sets none.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) WithDeadline(ctx context.Context, deadline time.Time) (context.Context, context.CancelFunc) {
	return context.WithDeadline(ctx, deadline)
}

// Result is what a Run measured in its Duration.
type Result struct {
	Requests int           // answered within Duration, errors included
	Errors   int           // answers with a status not in Expect, and requests that got none
	Elapsed  time.Duration // the time requests were counted: Duration, unless ctx ended first
	RPS      float64       // Requests per second of Elapsed
	// P50 and P99 are latency percentiles (nearest rank) of the counted
	// requests: exact up to MaxSamples requests; past that, of a uniform
	// sample of MaxSamples of them (each worker keeps an equal share by
	// reservoir sampling), so that memory does not grow with the run.
	P50, P99 time.Duration
	Max      time.Duration // the slowest counted request
	// Statuses counts the counted requests by status; 0 is a request that
	// got no answer (a refused connection, a reset).
	Statuses map[int]int
	// FirstError describes the first error a worker met, for the report;
	// "" when there was none.
	FirstError string
	// Unfinished counts the requests still in flight when Duration ended,
	// cancelled and not counted: at most Concurrency. A run whose every
	// request is unfinished met a server that hung.
	Unfinished int
}

// maxBody is the most of an answer's body the driver keeps; the rest is
// read and discarded, so the connection stays usable.
const maxBody = 4 << 20

// Run sends requests made by newRequest until Warmup and then Duration have
// passed, keeping opts.Concurrency of them in flight, and returns what it
// measured. newRequest is called with the worker's number (0 to
// Concurrency-1) and the number of requests that worker made before; the
// calls for one worker come one at a time from its own goroutine, so state
// kept per worker needs no lock. A nil request ends that worker.
//
// Run returns an error for invalid options, and ctx's error, with what was
// measured until then, when ctx ends first.
func Run(ctx context.Context, opts Options, newRequest func(worker, n int) *http.Request) (Result, error) {
	switch {
	case opts.Concurrency < 1:
		return Result{}, errors.New("loadtest: Concurrency must be at least 1")
	case opts.Duration <= 0:
		return Result{}, errors.New("loadtest: Duration must be positive")
	case opts.Warmup < 0:
		return Result{}, errors.New("loadtest: Warmup must not be negative")
	case opts.Requests < 0:
		return Result{}, errors.New("loadtest: Requests must not be negative")
	}
	clock := opts.Clock
	if clock == nil {
		clock = wallClock{}
	}
	tr := NewTransport(opts.Concurrency)
	defer tr.CloseIdleConnections()

	begin := clock.Now()
	w := window{from: begin.Add(opts.Warmup)}
	w.until = w.from.Add(opts.Duration)
	runCtx, cancel := clock.WithDeadline(ctx, w.until)
	defer cancel()

	ok := expectation(opts.Expect)
	tallies := make([]tally, opts.Concurrency)
	q := quota{left: int64(opts.Requests)}
	if opts.Requests == 0 {
		q.left = -1
	}
	var wg sync.WaitGroup
	for i := range opts.Concurrency {
		wg.Go(func() {
			tallies[i] = drive(runCtx, tr, clock, i, max(MaxSamples/opts.Concurrency, 1), w, &q, ok, opts.Observe, newRequest)
		})
	}
	wg.Wait()
	ended := clock.Now()

	res := merge(tallies)
	res.Elapsed = opts.Duration
	err := ctx.Err()
	if err != nil || q.met() {
		res.Elapsed = min(max(ended.Sub(w.from), 0), opts.Duration)
	}
	if res.Elapsed > 0 {
		res.RPS = float64(res.Requests) / res.Elapsed.Seconds()
	}
	return res, err
}

// quota counts down the requests a run still wants counted; it never ends
// a run whose left is negative.
type quota struct {
	mu   sync.Mutex
	left int64
}

// count takes one counted request off the quota.
func (q *quota) count() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.left > 0 {
		q.left--
	}
}

// met reports whether the run has counted all the requests it wanted.
func (q *quota) met() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.left == 0
}

// window is when answers are counted: from ≤ t < until.
type window struct{ from, until time.Time }

func (w window) has(t time.Time) bool { return !t.Before(w.from) && t.Before(w.until) }

// MaxSamples bounds the latencies a Run keeps (8 MiB of them).
const MaxSamples = 1 << 20

// tally is what one worker counted.
type tally struct {
	counted    int           // requests counted
	max        time.Duration // the slowest of them
	keep       int           // latencies kept at most
	rng        *rand.Rand
	latencies  []time.Duration
	statuses   map[int]int
	errors     int
	firstErr   string
	unfinished int
}

// record counts one latency, keeping a uniform sample of at most keep
// (Algorithm R).
func (t *tally) record(d time.Duration) {
	t.counted++
	t.max = max(t.max, d)
	if len(t.latencies) < t.keep {
		t.latencies = append(t.latencies, d)
	} else if j := t.rng.IntN(t.counted); j < t.keep {
		t.latencies[j] = d
	}
}

func (t *tally) fail(msg string) {
	t.errors++
	if t.firstErr == "" {
		t.firstErr = msg
	}
}

// drive is one worker: a request, its whole answer, the next request.
func drive(ctx context.Context, tr http.RoundTripper, clock Clock, worker, keep int, w window, q *quota, ok func(int) bool,
	observe func(int, *http.Request, int, []byte), newRequest func(int, int) *http.Request) tally {
	t := tally{statuses: map[int]int{}, keep: keep, rng: rand.New(rand.NewPCG(uint64(worker), uint64(time.Now().UnixNano())))}
	var body bytes.Buffer
	for n := 0; ctx.Err() == nil && !q.met(); n++ {
		req := newRequest(worker, n)
		if req == nil {
			break
		}
		req = req.WithContext(ctx)
		body.Reset()
		start := clock.Now()
		resp, err := tr.RoundTrip(req)
		status := 0
		if err == nil {
			status = resp.StatusCode
			_, err = body.ReadFrom(io.LimitReader(resp.Body, maxBody))
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
			}
			resp.Body.Close()
		}
		end := clock.Now()
		if err == nil && observe != nil {
			observe(worker, req, status, body.Bytes())
		}
		if !w.has(end) {
			if err != nil && !end.Before(w.until) {
				t.unfinished++
			}
			continue
		}
		t.record(end.Sub(start))
		q.count()
		switch {
		case err != nil && status == 0:
			t.statuses[0]++
			t.fail(fmt.Sprintf("%s %s: %v", req.Method, req.URL.Path, err))
		case err != nil:
			t.statuses[status]++
			t.fail(fmt.Sprintf("%s %s: %d, then reading the body: %v", req.Method, req.URL.Path, status, err))
		default:
			t.statuses[status]++
			if !ok(status) {
				t.fail(fmt.Sprintf("%s %s: %d %s", req.Method, req.URL.Path, status, snippet(body.Bytes())))
			}
		}
	}
	return t
}

// snippet is the start of a body, for an error message.
func snippet(b []byte) string {
	const n = 200
	b = bytes.TrimSpace(b)
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// expectation returns whether a status counts as success.
func expectation(statuses []int) func(int) bool {
	if len(statuses) == 0 {
		return func(s int) bool { return s >= 200 && s < 300 }
	}
	statuses = slices.Clone(statuses)
	return func(s int) bool { return slices.Contains(statuses, s) }
}

// merge adds up the workers' tallies.
func merge(ts []tally) Result {
	res := Result{Statuses: map[int]int{}}
	var all []time.Duration
	for _, t := range ts {
		all = append(all, t.latencies...)
		for s, n := range t.statuses {
			res.Statuses[s] += n
		}
		res.Errors += t.errors
		res.Unfinished += t.unfinished
		if res.FirstError == "" {
			res.FirstError = t.firstErr
		}
	}
	for _, t := range ts {
		// A tally holds at least its sample.
		res.Requests += max(t.counted, len(t.latencies))
		res.Max = max(res.Max, t.max)
	}
	slices.Sort(all)
	res.P50 = percentile(all, 50, 100)
	res.P99 = percentile(all, 99, 100)
	if len(all) > 0 {
		res.Max = max(res.Max, all[len(all)-1])
	}
	return res
}

// percentile returns the num/den quantile of sorted by the nearest-rank
// method: the smallest value that at least num/den of the values are at
// or below. Integer arithmetic keeps 99/100 of 1000 at rank 990 exactly.
func percentile(sorted []time.Duration, num, den int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (num*len(sorted) + den - 1) / den
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// NewTransport returns the transport Run uses: HTTP/1.1 keep-alive with
// at most concurrency connections to each host, all kept alive between
// requests, no compression,
// no proxy, and a dialer that refuses any address but a loopback one.
func NewTransport(concurrency int) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy: nil, // never $HTTP_PROXY: the target is on this machine
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if !Loopback(addr) {
				return nil, fmt.Errorf("loadtest: %s is not a loopback address: only servers on this machine are driven", addr)
			}
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConns:        concurrency,
		MaxIdleConnsPerHost: concurrency,
		MaxConnsPerHost:     concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
}

// Loopback reports whether addr, a host:port, names this machine by a
// loopback IP address such as 127.0.0.1 or ::1. A name, even localhost,
// is not taken on trust.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
