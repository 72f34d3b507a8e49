package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// get returns a newRequest that GETs url, numbering each request in the
// X-Worker and X-N headers.
func get(url string) func(worker, n int) *http.Request {
	return func(worker, n int) *http.Request {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			panic(err)
		}
		req.Header.Set("X-Worker", strconv.Itoa(worker))
		req.Header.Set("X-N", strconv.Itoa(n))
		return req
	}
}

func nth(r *http.Request) int {
	n, _ := strconv.Atoi(r.Header.Get("X-N"))
	return n
}

// hangBound is how long a test waits for what must happen before it
// calls it a hang: a bound on a broken run, never a measure of a working
// one, so that a loaded machine passes.
const hangBound = 2 * time.Minute

// bounded is t.Context() ended after hangBound.
func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), hangBound)
	t.Cleanup(cancel)
	return ctx
}

// fakeClock is a Clock that moves only when Advance is called, and ends
// a context the moment it reaches its deadline, before Advance returns.
type fakeClock struct {
	mu        sync.Mutex
	now       time.Time
	deadlines []time.Time // every deadline asked for
	pending   []deadline
}

type deadline struct {
	at  time.Time
	end context.CancelCauseFunc
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) WithDeadline(ctx context.Context, at time.Time) (context.Context, context.CancelFunc) {
	ctx, end := context.WithCancelCause(ctx)
	c.mu.Lock()
	c.deadlines = append(c.deadlines, at)
	due := !at.After(c.now)
	if !due {
		c.pending = append(c.pending, deadline{at, end})
	}
	c.mu.Unlock()
	if due {
		end(context.DeadlineExceeded)
	}
	return ctx, func() { end(context.Canceled) }
}

// Advance moves the clock on by d, ending the contexts whose deadline
// came.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []deadline
	c.pending = slices.DeleteFunc(c.pending, func(dl deadline) bool {
		if dl.at.After(c.now) {
			return false
		}
		due = append(due, dl)
		return true
	})
	c.mu.Unlock()
	for _, dl := range due {
		dl.end(context.DeadlineExceeded)
	}
}

// Deadlines returns the deadlines asked for, as offsets from start.
func (c *fakeClock) Deadlines(start time.Time) []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ds []time.Duration
	for _, at := range c.deadlines {
		ds = append(ds, at.Sub(start))
	}
	return ds
}

// ticking returns a newRequest that moves clock on by step before each
// request it makes.
func ticking(clock *fakeClock, step time.Duration, newRequest func(worker, n int) *http.Request) func(worker, n int) *http.Request {
	return func(worker, n int) *http.Request {
		clock.Advance(step)
		return newRequest(worker, n)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(n int) []time.Duration {
		d := make([]time.Duration, n)
		for i := range d {
			d[i] = time.Duration(i+1) * time.Millisecond
		}
		return d
	}
	for _, tc := range []struct {
		name     string
		sorted   []time.Duration
		num, den int
		want     time.Duration
	}{
		{"empty", nil, 50, 100, 0},
		{"one", ms(1), 99, 100, time.Millisecond},
		{"p50 of 1..100", ms(100), 50, 100, 50 * time.Millisecond},
		{"p99 of 1..100", ms(100), 99, 100, 99 * time.Millisecond},
		{"p50 of 1..1000", ms(1000), 50, 100, 500 * time.Millisecond},
		// 0.99 × 1000 in floating point is 990.0000000000001: its ceiling
		// would wrongly be rank 991.
		{"p99 of 1..1000", ms(1000), 99, 100, 990 * time.Millisecond},
		{"p99 of 1..10 is the max", ms(10), 99, 100, 10 * time.Millisecond},
		{"p50 of 1..3", ms(3), 50, 100, 2 * time.Millisecond},
		{"p50 of 1..4", ms(4), 50, 100, 2 * time.Millisecond},
		{"p100", ms(7), 100, 100, 7 * time.Millisecond},
		{"p0 is the min", ms(7), 0, 100, time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.sorted, tc.num, tc.den); got != tc.want {
				t.Errorf("percentile(%d values, %d/%d) = %v, want %v", len(tc.sorted), tc.num, tc.den, got, tc.want)
			}
		})
	}
}

func TestMergeKnownDistribution(t *testing.T) {
	// 1,000 latencies of 1..1000 µs spread over three workers, shuffled.
	var ts [3]tally
	for i := range ts {
		ts[i].statuses = map[int]int{}
	}
	for i := 1000; i >= 1; i-- {
		w := &ts[i%3]
		w.latencies = append(w.latencies, time.Duration(i)*time.Microsecond)
		w.statuses[200]++
	}
	ts[1].fail("first")
	ts[2].fail("second")
	got := merge(ts[:])
	want := Result{
		Requests: 1000, Errors: 2,
		P50: 500 * time.Microsecond, P99: 990 * time.Microsecond, Max: 1000 * time.Microsecond,
		Statuses: map[int]int{200: 1000}, FirstError: "first",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("merge: (-want +got)\n%s", diff)
	}
}

func TestRunCountsStatuses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch nth(r) % 4 {
		case 1:
			w.WriteHeader(http.StatusCreated)
		case 2:
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"message":"Server Error"}`))
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	defer srv.Close()

	// 40 requests: one of the three workers makes at least 14, its third
	// a 500. Duration is only a bound on a hang.
	res, err := Run(t.Context(), Options{Concurrency: 3, Duration: hangBound, Requests: 40, Expect: []int{200, 201}}, get(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests < 40 {
		t.Fatalf("Run(Requests: 40) counted %d requests", res.Requests)
	}
	sum := 0
	for _, n := range res.Statuses {
		sum += n
	}
	if sum != res.Requests {
		t.Errorf("statuses %v add up to %d, want Requests = %d", res.Statuses, sum, res.Requests)
	}
	for s := range res.Statuses {
		if !slices.Contains([]int{200, 201, 500}, s) {
			t.Errorf("status %d counted; the server sends only 200, 201 and 500", s)
		}
	}
	if res.Errors != res.Statuses[500] || res.Errors == 0 {
		t.Errorf("Errors = %d, want the %d 500s", res.Errors, res.Statuses[500])
	}
	if !strings.Contains(res.FirstError, "500") || !strings.Contains(res.FirstError, "Server Error") {
		t.Errorf("FirstError = %q, want the 500 and its body", res.FirstError)
	}
	if want := float64(res.Requests) / res.Elapsed.Seconds(); res.Elapsed <= 0 || res.RPS != want {
		t.Errorf("RPS = %v, Elapsed = %v; want Requests/Elapsed = %v", res.RPS, res.Elapsed, want)
	}
}

func TestRunDefaultExpectsSuccess(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	// One worker stops at its fifth request: exactly five counted.
	res, err := Run(t.Context(), Options{Concurrency: 1, Duration: hangBound, Requests: 5}, get(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 5 || res.Errors != 5 {
		t.Errorf("Run against a server that answers 401: Errors = %d of %d requests, want all 5", res.Errors, res.Requests)
	}
	res, err = Run(t.Context(), Options{Concurrency: 1, Duration: hangBound, Requests: 5, Expect: []int{401}}, get(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 5 || res.Errors != 0 {
		t.Errorf("Run expecting 401: Errors = %d of %d requests, want none of 5", res.Errors, res.Requests)
	}
}

// TestRunHonoursDuration runs against a server that never answers: the run
// must end on its own when its clock reaches Warmup+Duration, count
// nothing, and leave no worker behind.
func TestRunHonoursDuration(t *testing.T) {
	const c = 4
	arrived := make(chan struct{}, c)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	defer srv.Close()

	const warmup, duration = 5 * time.Second, 15 * time.Second
	clock := newFakeClock()
	start := clock.Now()
	ctx := bounded(t)
	done := make(chan struct{})
	var res Result
	var err error
	go func() {
		defer close(done)
		res, err = Run(ctx, Options{Concurrency: c, Warmup: warmup, Duration: duration, Clock: clock}, get(srv.URL))
	}()
	for range c {
		select {
		case <-arrived:
		case <-ctx.Done():
			t.Fatal("the workers' requests never all reached the server")
		}
	}
	if got, want := clock.Deadlines(start), []time.Duration{warmup + duration}; !slices.Equal(got, want) {
		t.Errorf("Run set deadlines %v from its start, want Warmup+Duration: %v", got, want)
	}
	// The requests were sent at the start: ended before the clock reached
	// Warmup+Duration, they would be dropped with the warmup's or counted
	// as errors, never unfinished.
	clock.Advance(warmup + duration)
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("Run did not stop when its clock reached Warmup+Duration")
	}
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 0 || res.RPS != 0 || res.Elapsed != duration || res.Unfinished != c {
		t.Errorf("Run against a server that never answers = %+v, want no requests in %v and %d unfinished", res, duration, c)
	}
}

func TestRunWarmupIsNotCounted(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
	}))
	defer srv.Close()
	// Each request is sent a second after the last: requests 1 to 9 end
	// in the warmup, 10 to 19 in Duration, and the 20th is cancelled
	// before it is sent, as Duration ends.
	clock := newFakeClock()
	res, err := Run(bounded(t), Options{Concurrency: 1, Warmup: 10 * time.Second, Duration: 10 * time.Second, Clock: clock},
		ticking(clock, time.Second, get(srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	got := []any{res.Requests, served.Load(), res.Unfinished, res.Elapsed, res.RPS}
	want := []any{10, int64(19), 1, 10 * time.Second, 1.0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Run with a warmup: [counted, served, unfinished, Elapsed, RPS] (-want +got):\n%s", diff)
	}
}

// TestRunPercentiles: every tenth request is slow. The slow ones are a
// tenth of the requests, so the p50 is a quick one and the p99 a slow one.
// The server moves the run's clock on by the time each request takes.
func TestRunPercentiles(t *testing.T) {
	const quick, slow = time.Millisecond, 100 * time.Millisecond
	clock := newFakeClock()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if nth(r)%10 == 9 {
			clock.Advance(slow)
		} else {
			clock.Advance(quick)
		}
	}))
	defer srv.Close()
	res, err := Run(bounded(t), Options{Concurrency: 1, Duration: time.Hour, Requests: 20, Clock: clock}, get(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	got := Result{Requests: res.Requests, Elapsed: res.Elapsed, RPS: res.RPS, P50: res.P50, P99: res.P99, Max: res.Max}
	want := Result{Requests: 20, Elapsed: 18*quick + 2*slow, RPS: 20 / (18*quick + 2*slow).Seconds(), P50: quick, P99: slow, Max: slow}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Run of 18 quick and 2 slow requests (-want +got):\n%s", diff)
	}
}

// TestRunConcurrency: exactly Concurrency requests in flight, on as many
// kept-alive connections. The server holds the first requests until
// Concurrency of them are in flight together; a run that never has them
// all in flight ends at Duration, a bound on a hang, with fewer.
func TestRunConcurrency(t *testing.T) {
	const c = 6
	var inFlight, most atomic.Int64
	var mu sync.Mutex
	conns := map[string]bool{}
	all := make(chan struct{})
	var allOnce sync.Once
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		mu.Lock()
		conns[r.RemoteAddr] = true
		mu.Unlock()
		if n == c {
			allOnce.Do(func() { close(all) })
		}
		select {
		case <-all:
		case <-r.Context().Done():
		}
	}))
	srv.Start()
	defer srv.Close()

	res, err := Run(t.Context(), Options{Concurrency: c, Duration: hangBound, Requests: 5 * c}, get(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 {
		t.Fatalf("Errors = %d: %s", res.Errors, res.FirstError)
	}
	if got := most.Load(); got != c {
		t.Errorf("at most %d requests in flight, want %d", got, c)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(conns) != c {
		t.Errorf("%d connections for %d requests, want %d kept alive", len(conns), res.Requests, c)
	}
}

func TestRunObserve(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"worker": r.Header.Get("X-Worker"), "n": r.Header.Get("X-N")})
	}))
	defer srv.Close()
	const c = 3
	// Per worker, with no lock: Observe runs on the worker's goroutine.
	next := make([]int, c)
	bad := make([]string, c)
	res, err := Run(t.Context(), Options{
		Concurrency: c,
		Duration:    hangBound,
		Requests:    30,
		Observe: func(worker int, req *http.Request, status int, body []byte) {
			var got map[string]string
			if err := json.Unmarshal(body, &got); err != nil || status != 200 ||
				got["worker"] != strconv.Itoa(worker) || got["n"] != strconv.Itoa(next[worker]) || nth(req) != next[worker] {
				bad[worker] = string(body)
			}
			next[worker]++
		},
	}, get(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	for w := range c {
		if bad[w] != "" {
			t.Errorf("worker %d observed %q out of order", w, bad[w])
		}
	}
	if total := next[0] + next[1] + next[2]; res.Requests < 30 || total < res.Requests {
		t.Errorf("observed %d answers of the %d counted, want all of at least 30", total, res.Requests)
	}
}

func TestRunNilRequestEndsWorker(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	g := get(srv.URL)
	res, err := Run(t.Context(), Options{Concurrency: 2, Duration: time.Hour}, func(worker, n int) *http.Request {
		if n == 5 {
			return nil
		}
		return g(worker, n)
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 10 {
		t.Errorf("Requests = %d, want 2 workers × 5", res.Requests)
	}
}

func TestRunOnlyLoopback(t *testing.T) {
	// 192.0.2.0/24 is TEST-NET-1: never routed. The dialer must refuse it
	// before trying.
	res, err := Run(t.Context(), Options{Concurrency: 1, Duration: hangBound, Requests: 3}, get("http://192.0.2.1:80/"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 3 || res.Errors != 3 || res.Statuses[0] != 3 {
		t.Errorf("Run at a remote address = %+v, want every request refused", res)
	}
	if !strings.Contains(res.FirstError, "not a loopback address") {
		t.Errorf("FirstError = %q, want the refusal", res.FirstError)
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:80":     true,
		"127.8.9.10:1":     true,
		"[::1]:8080":       true,
		"localhost:80":     false,
		"192.0.2.1:80":     false,
		"[2001:db8::1]:80": false,
		"example.com:443":  false,
		"127.0.0.1":        false,
	} {
		if got := Loopback(addr); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestRunOptions(t *testing.T) {
	never := func(int, int) *http.Request { t.Fatal("newRequest called"); return nil }
	for name, o := range map[string]Options{
		"no concurrency":  {Duration: time.Second},
		"no duration":     {Concurrency: 1},
		"negative warmup": {Concurrency: 1, Duration: time.Second, Warmup: -time.Second},
		"negative count":  {Concurrency: 1, Duration: time.Second, Requests: -1},
	} {
		if _, err := Run(t.Context(), o, never); err == nil {
			t.Errorf("Run(%s) succeeded, want an error", name)
		}
	}
}

// TestRunRequests: a run that wants a number of requests ends once they
// were counted, long before its Duration, with each of them counted once
// and none started after.
func TestRunRequests(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served.Add(1) }))
	defer srv.Close()
	res, err := Run(t.Context(), Options{Concurrency: 3, Duration: time.Hour, Requests: 50}, get(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	// Workers in flight when the 50th was counted finish theirs.
	if res.Requests < 50 || res.Requests > 50+2 || res.Errors != 0 {
		t.Errorf("Run(Requests: 50) counted %d requests, %d errors; want 50 to 52 and none", res.Requests, res.Errors)
	}
	if n := served.Load(); n != int64(res.Requests) {
		t.Errorf("the server answered %d requests, the run counted %d", n, res.Requests)
	}
	if res.Elapsed >= time.Hour || res.RPS <= 0 {
		t.Errorf("Elapsed = %v, RPS = %v; want the time the requests took, and a rate from it", res.Elapsed, res.RPS)
	}
}

// TestRunContextCancelled: a second passes before each request, and the
// context ends once the fifth is answered.
func TestRunContextCancelled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(bounded(t))
	defer cancel()
	clock := newFakeClock()
	res, err := Run(ctx, Options{
		Concurrency: 1, Duration: time.Hour, Clock: clock,
		Observe: func(_ int, req *http.Request, _ int, _ []byte) {
			if nth(req) == 4 {
				cancel()
			}
		},
	}, ticking(clock, time.Second, get(srv.URL)))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run with its context cancelled = %v, want %v", err, context.Canceled)
	}
	got := []any{res.Requests, res.Errors, res.Elapsed, res.RPS}
	want := []any{5, 0, 5 * time.Second, 1.0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Run cut short: [Requests, Errors, Elapsed, RPS] (-want +got), want what it measured until then:\n%s", diff)
	}
}

func TestBare(t *testing.T) {
	rec := httptest.NewRecorder()
	Bare().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/anything", strings.NewReader(`{"name":"x"}`)))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("Bare answered %d %q, want 200 application/json", rec.Code, rec.Header().Get("Content-Type"))
	}
	var v map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || v["status"] != "ok" {
		t.Errorf("Bare body = %q, want {\"status\":\"ok\"}", rec.Body.String())
	}
	if got, want := rec.Header().Get("Content-Length"), strconv.Itoa(rec.Body.Len()); got != want {
		t.Errorf("Content-Length = %s, want %s", got, want)
	}
}

func TestParseStatus(t *testing.T) {
	const status = "Name:\tlatchkey\nVmPeak:\t  900000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\nThreads:\t7\n"
	got, err := parseStatus([]byte(status))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Memory{RSS: 40 << 20, Peak: 50 << 20}); got != want {
		t.Errorf("parseStatus = %+v, want %+v", got, want)
	}
	if _, err := parseStatus([]byte("Name:\tx\n")); err == nil {
		t.Error("parseStatus without VmRSS succeeded")
	}
	if _, err := parseStatus([]byte("VmRSS:\t12 MB\nVmHWM:\t1 kB\n")); err == nil {
		t.Error("parseStatus of an unknown unit succeeded")
	}
}

func TestReadMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("no /proc")
	}
	m, err := ReadMemory()
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.Peak < m.RSS {
		t.Errorf("ReadMemory = %+v, want 0 < RSS ≤ Peak", m)
	}
}

// TestReservoir: past its share, a worker keeps a uniform sample of its
// latencies, still counting and timing every request.
func TestReservoir(t *testing.T) {
	tl := tally{keep: 1000, rng: rand.New(rand.NewPCG(1, 2))}
	for i := range 100_000 {
		tl.record(time.Duration(i+1) * time.Microsecond)
	}
	if tl.counted != 100_000 || len(tl.latencies) != 1000 || tl.max != 100*time.Millisecond {
		t.Fatalf("counted %d, kept %d, max %v", tl.counted, len(tl.latencies), tl.max)
	}
	res := merge([]tally{tl})
	if res.Requests != 100_000 || res.Max != 100*time.Millisecond {
		t.Errorf("merge: %d requests, max %v", res.Requests, res.Max)
	}
	// A uniform sample of 1,000 puts the median within a few percent.
	if d := res.P50 - 50*time.Millisecond; d < -5*time.Millisecond || d > 5*time.Millisecond {
		t.Errorf("median of a uniform 1..100ms = %v, want about 50ms", res.P50)
	}
}

func TestWatchMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("no /proc")
	}
	stop := WatchMemory(time.Millisecond)
	most := stop()
	if m, err := ReadMemory(); err != nil || most <= 0 || most > m.Peak {
		t.Errorf("WatchMemory: most %d, want 0 < most ≤ the peak %d (%v)", most, m.Peak, err)
	}
}
