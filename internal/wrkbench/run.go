package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey/internal/bench"
	"github.com/latchkey/latchkey/internal/jwt"
)

// workload is one kind of traffic, run against the bare handler and then
// against latchkey.
type workload struct {
	key    string                         // what --workloads calls it
	name   string                         // in the table, with its route
	method string                         // GET or POST
	path   func(fx *bench.Fixture) string // with its query
	auth   func(fx *bench.Fixture) string // the Authorization header
	body   string                         // "": none
	expect int                            // the status every answer must have
	create bool                           // uses the create connections, not the read ones
	// alg is the algorithm the tokens created must be signed with, and,
	// but for RS256 (every new database's first key), the one that
	// latchkey keys rotate --alg makes the signing key's first ("": not a
	// create).
	alg  string
	goal goal
}

func tokensPath(fx *bench.Fixture) string {
	return "/api/1.0/users/" + strconv.FormatInt(fx.ListUser, 10) + "/tokens"
}

func showPath(fx *bench.Fixture) string { return tokensPath(fx) + "/" + fx.ListIDs[0] }

func writerPath(fx *bench.Fixture) string {
	return "/api/1.0/users/" + strconv.FormatInt(fx.Writer, 10) + "/tokens"
}

func bearer(jwt func(fx *bench.Fixture) string) func(fx *bench.Fixture) string {
	return func(fx *bench.Fixture) string { return "Bearer " + jwt(fx) }
}

var (
	listJWT    = bearer(func(fx *bench.Fixture) string { return fx.ListJWT })
	writerJWT  = bearer(func(fx *bench.Fixture) string { return fx.WriterJWT })
	revokedJWT = bearer(func(fx *bench.Fixture) string { return fx.RevokedJWT })
	malformed  = func(*bench.Fixture) string { return "Bearer this-is-not-a-token" }
)

// createBody is the body of every create.
const createBody = `{"name":"wrk-bench"}`

func create(alg string, least float64) workload {
	route := "`POST …/tokens`"
	if alg == "RS256" {
		route = "`POST /api/1.0/users/{id}/tokens`"
	}
	return workload{
		key:  "create-" + strings.ToLower(alg),
		name: "create " + alg + " " + route, method: http.MethodPost, path: writerPath, auth: writerJWT,
		body: createBody, expect: http.StatusCreated, create: true, alg: alg,
		goal: goal{text: "≥" + thousands(int64(least)) + "/s", rps: least},
	}
}

// workloads are the workloads, in the order they run: the creates last,
// since all but the first change the signing key.
var workloads = []workload{
	{key: "show", name: "show `GET /api/1.0/users/{id}/tokens/{token_id}`", method: http.MethodGet, path: showPath, auth: listJWT,
		expect: http.StatusOK, goal: goal{text: "≥0.75, p99 <5 ms", ratio: 0.75, p99: 5 * time.Millisecond}},
	{key: "list", name: "list `GET /api/1.0/users/{id}/tokens?per_page=50`", method: http.MethodGet,
		path: func(fx *bench.Fixture) string { return tokensPath(fx) + "?per_page=50" }, auth: listJWT,
		expect: http.StatusOK, goal: goal{text: "≥0.60", ratio: 0.60}},
	{key: "malformed", name: "reject malformed `GET …/tokens/{token_id}`", method: http.MethodGet, path: showPath, auth: malformed,
		expect: http.StatusUnauthorized, goal: goal{text: "≥0.85", ratio: 0.85}},
	{key: "revoked", name: "reject repeated revoked `GET …/tokens/{token_id}`", method: http.MethodGet, path: showPath, auth: revokedJWT,
		expect: http.StatusUnauthorized, goal: goal{text: "≥0.80", ratio: 0.80}},
	create("RS256", 1000),
	create("ES256", 4000),
	create("EdDSA", 4000),
}

// workloadKeys lists the workloads' keys, in order.
func workloadKeys() string {
	keys := make([]string, len(workloads))
	for i, w := range workloads {
		keys[i] = w.key
	}
	return strings.Join(keys, ", ")
}

// chooseWorkloads returns the workloads a comma-separated list of keys
// names, in the order they run; all of them for "".
func chooseWorkloads(list string) ([]workload, error) {
	if strings.TrimSpace(list) == "" {
		return workloads, nil
	}
	want := map[string]bool{}
	for _, k := range strings.Split(list, ",") {
		k = strings.TrimSpace(k)
		if !slices.ContainsFunc(workloads, func(w workload) bool { return w.key == k }) {
			return nil, fmt.Errorf("no workload %q: want some of %s", k, workloadKeys())
		}
		want[k] = true
	}
	var out []workload
	for _, w := range workloads {
		if want[w.key] {
			out = append(out, w)
		}
	}
	return out, nil
}

// side is one of a workload's two servers, and its runs.
type side struct {
	who, base string
	pid       string // the server's process, for its CPU time ("": not measured)
	runs      []wrkResult
	failed    string // why a run could not be made ("": none)
}

// cpu is the CPU time the side's server has spent so far.
func (sd *side) cpu() (time.Duration, error) {
	if sd.pid == "" {
		return 0, errors.New("no process to read")
	}
	return processCPU(sd.pid)
}

// runner holds what every workload of a run shares.
type runner struct {
	base     string // latchkey's base URL
	fx       *bench.Fixture
	bare     *bareServer
	dir      string // where the Lua scripts go
	latchkey string // the binary, for keys rotate
	// latchkeyPID is serve's process, whose CPU time is read around each
	// run ("": not read).
	latchkeyPID string
	accessLog   string // serve's log file ("": not watched)
	// pprofBase is serve's metrics listener with --pprof, and profileDir
	// where a CPU profile of each workload's first measured latchkey run
	// goes ("": none taken).
	pprofBase, profileDir string
	wrkCPUs               string // the CPUs wrk runs on ("": any)
	threads               int
	reads                 int // connections of a read
	creates               int // connections of a create
	duration              time.Duration
	warmup                time.Duration
	rounds                int // measured runs of each side, taking turns
	stderr                io.Writer
}

func (r *runner) progressf(format string, args ...any) {
	fmt.Fprintf(r.stderr, "wrk-bench: "+format+"\n", args...)
}

// runWorkloads runs every workload against latchkey at --url and a bare
// handler of its own, and prints the table. It fails when a workload's
// answers were wrong (after printing the table all the same).
func runWorkloads(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", "", "latchkey's base URL, http://127.0.0.1:PORT")
	fixture := fs.String("fixture", "", "the fixture seed wrote")
	bin := fs.String("latchkey", "latchkey", "the latchkey binary, for keys rotate (its database from $LATCHKEY_DATABASE)")
	pid := fs.Int("latchkey-pid", 0, "serve's process id, whose CPU time is read around each run (0: none)")
	accessLog := fs.String("access-log", "", "serve's log file: its size is reported after each workload, then it is emptied")
	threads := fs.Int("threads", 2, "wrk threads")
	reads := fs.Int("read-connections", 32, "connections of the reads and rejects")
	creates := fs.Int("create-connections", 8, "connections of the creates")
	duration := fs.Duration("duration", 10*time.Second, "each measured run, whole seconds")
	warmup := fs.Duration("warmup", 2*time.Second, "traffic before each measured run, whole seconds (0: none)")
	describe := fs.String("describe", "", "a line to print above the table")
	rounds := fs.Int("rounds", 1, "measured runs of each side per workload, bare and latchkey taking turns; the table adds up their requests and gives the median of their percentiles")
	only := fs.String("workloads", "", "comma-separated workloads to run, of "+workloadKeys()+" (default: all)")
	wrkCPUs := fs.String("wrk-cpus", "", "the CPUs wrk runs on, as taskset -c takes them, e.g. 0 (default: any)")
	pprofBase := fs.String("pprof-url", "", "serve's metrics listener, http://127.0.0.1:PORT, serving --pprof (with --profile-dir)")
	profileDir := fs.String("profile-dir", "", "where to write a CPU profile of latchkey during each workload's first measured run, WORKLOAD.pprof (needs --pprof-url)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	chosen, err := chooseWorkloads(*only)
	if err != nil {
		return fmt.Errorf("run: --workloads: %w", err)
	}
	switch {
	case *threads < 1 || *reads < 1 || *creates < 1:
		return errors.New("run: --threads and the connections: want at least 1")
	case *duration < time.Second || *duration%time.Second != 0:
		return fmt.Errorf("run: --duration: want whole seconds, at least 1s, got %v", *duration)
	case *warmup < 0 || *warmup%time.Second != 0:
		return fmt.Errorf("run: --warmup: want whole seconds, got %v", *warmup)
	case *rounds < 1 || *rounds > 99:
		return fmt.Errorf("run: --rounds: want 1 to 99, got %d", *rounds)
	}
	if err := loopback(*base); err != nil {
		return fmt.Errorf("run: --url: %w", err)
	}
	if (*pprofBase == "") != (*profileDir == "") {
		return errors.New("run: --pprof-url and --profile-dir go together")
	}
	if *pprofBase != "" {
		if err := loopback(*pprofBase); err != nil {
			return fmt.Errorf("run: --pprof-url: %w", err)
		}
	}
	b, err := os.ReadFile(*fixture)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	var fx bench.Fixture
	if err := json.Unmarshal(b, &fx); err != nil || len(fx.ListIDs) == 0 || fx.ListJWT == "" {
		return fmt.Errorf("run: %s is not a fixture seed wrote (%v)", *fixture, err)
	}
	bare, err := startBare()
	if err != nil {
		return err
	}
	defer bare.close()
	r := &runner{
		base: strings.TrimSuffix(*base, "/"), fx: &fx, bare: bare, dir: filepath.Dir(*fixture),
		latchkey: *bin, accessLog: *accessLog, pprofBase: strings.TrimSuffix(*pprofBase, "/"), profileDir: *profileDir, wrkCPUs: *wrkCPUs,
		threads: *threads, reads: *reads, creates: *creates, duration: *duration, warmup: *warmup, rounds: *rounds,
		stderr: stderr,
	}
	if *pid > 0 {
		r.latchkeyPID = strconv.Itoa(*pid)
	}
	var rows []row
	for _, w := range chosen {
		rw, err := r.measure(ctx, w)
		if err != nil {
			return err
		}
		rows = append(rows, rw)
	}
	if *describe != "" {
		fmt.Fprintln(stdout, *describe)
		fmt.Fprintln(stdout)
	}
	writeTable(stdout, rows)
	writeCPUTable(stdout, rows)
	wrong := 0
	for _, rw := range rows {
		if rw.unavailable == "" && !rw.ok() {
			wrong++
		}
	}
	if wrong > 0 {
		return fmt.Errorf("%d workloads met wrong answers: their figures are not shown", wrong)
	}
	return nil
}

// loopback checks that base is http://127.0.0.1:PORT: no traffic leaves
// this machine.
func loopback(base string) error {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.Port() == "" {
		return fmt.Errorf("want http://127.0.0.1:PORT, got %q", base)
	}
	return nil
}

// measure runs w against the bare handler, then against latchkey. An
// error is returned only when the run must stop (ctx ended); whatever
// else went wrong is the row's.
func (r *runner) measure(ctx context.Context, w workload) (row, error) {
	rw := row{path: w.name, goal: w.goal}
	if w.alg != "" && w.alg != "RS256" {
		r.progressf("%s: latchkey keys rotate --alg %s", w.name, w.alg)
		cmd := exec.CommandContext(ctx, r.latchkey, "keys", "rotate", "--alg", w.alg)
		out, err := cmd.CombinedOutput()
		if ctx.Err() != nil {
			return rw, ctx.Err()
		}
		if err != nil {
			rw.unavailable = fmt.Sprintf("`latchkey keys rotate --alg %s` failed (%v): %s", w.alg, err, firstLine(out))
			r.progressf("%s: not available: %s", w.name, rw.unavailable)
			return rw, nil
		}
	}

	// The bare handler answers what latchkey answered to this request.
	req := func(base string) (*http.Request, error) {
		var body io.Reader
		if w.body != "" {
			body = strings.NewReader(w.body)
		}
		req, err := http.NewRequestWithContext(ctx, w.method, base+w.path(r.fx), body)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", w.auth(r.fx))
		if w.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, nil
	}
	ans, err := capture(req, r.base)
	if ctx.Err() != nil {
		return rw, ctx.Err()
	}
	if err == nil {
		err = ans.check(w.expect, w.alg)
	}
	if err != nil {
		rw.realProblem = "the answer captured for the bare handler: " + err.Error()
		r.progressf("%s: %s", w.name, rw.realProblem)
		return rw, nil
	}
	r.bare.answer(ans)

	conns := r.reads
	if w.create {
		conns = r.creates
	}
	lua := filepath.Join(r.dir, fmt.Sprintf("workload%d.lua", r.bare.generation()))
	if err := os.WriteFile(lua, []byte(script(w.method, w.auth(r.fx), w.body, w.expect)), 0o600); err != nil {
		return rw, err
	}
	defer os.Remove(lua)
	// Bare and latchkey take turns, round after round, the one that went
	// second going first in the next round, so that whatever else the
	// machine does meanwhile weighs on both alike. Each side is warmed up
	// before its first run.
	bare := &side{who: "bare", base: r.bare.base, pid: "self"}
	real := &side{who: "latchkey", base: r.base, pid: r.latchkeyPID}
	for round := 1; round <= r.rounds; round++ {
		order := []*side{bare, real}
		if round%2 == 0 {
			order = []*side{real, bare}
		}
		for _, sd := range order {
			if sd.failed != "" {
				continue
			}
			run := wrkRun{Threads: r.threads, Connections: conns, Script: lua, URL: sd.base + w.path(r.fx), CPUs: r.wrkCPUs}
			if round == 1 && r.warmup > 0 {
				run.Duration = r.warmup
				r.progressf("%s: %s, warm-up, %d connections, %v", w.name, sd.who, conns, r.warmup)
				if _, err := runWrk(ctx, run); err != nil {
					if ctx.Err() != nil {
						return rw, ctx.Err()
					}
					sd.failed = err.Error()
					continue
				}
			}
			run.Duration = r.duration
			r.progressf("%s: %s, %d connections, %v (round %d of %d)", w.name, sd.who, conns, r.duration, round, r.rounds)
			before, cpuErr := sd.cpu()
			var profiled <-chan error
			if sd == real && round == 1 {
				profiled = r.profile(ctx, w.key)
			}
			res, err := runWrk(ctx, run)
			if profiled != nil {
				if perr := <-profiled; perr != nil {
					r.progressf("%s: no CPU profile: %v", w.name, perr)
				} else {
					r.progressf("%s: CPU profile of latchkey in %s", w.name, filepath.Join(r.profileDir, w.key+".pprof"))
				}
			}
			if err != nil {
				if ctx.Err() != nil {
					return rw, ctx.Err()
				}
				sd.failed = err.Error()
				continue
			}
			if after, err := sd.cpu(); err == nil && cpuErr == nil {
				res.ServerCPU = after - before
			} else if sd.pid != "" {
				r.progressf("%s: %s: the server's CPU time: %v", w.name, sd.who, errors.Join(cpuErr, err))
			}
			sd.runs = append(sd.runs, res)
		}
	}
	outcome := func(sd *side) (wrkResult, string) {
		if slices.ContainsFunc(sd.runs, func(r wrkResult) bool { return r.ServerCPU == 0 }) {
			// Not measured in every round: in none.
			for i := range sd.runs {
				sd.runs[i].ServerCPU = 0
			}
		}
		res := mergeRuns(sd.runs)
		if sd.failed != "" {
			return res, sd.failed
		}
		return res, res.problem(w.expect)
	}
	rw.bare, rw.bareProblem = outcome(bare)
	rw.real, rw.realProblem = outcome(real)
	if rw.ok() {
		r.progressf("%s: bare %s/s, latchkey %s/s (%.2f), p50 %s, p99 %s",
			w.name, rate(rw.bare), rate(rw.real), rw.real.RPS()/rw.bare.RPS(), ms(rw.real.P50), ms(rw.real.P99))
	} else {
		r.progressf("%s: wrong answers: bare %q, latchkey %q", w.name, rw.bareProblem, rw.realProblem)
	}
	r.emptyAccessLog(w.name)
	return rw, nil
}

// profile starts a CPU profile of latchkey, for the measured run about to
// start less a second, written to the profile directory as key.pprof; the
// channel tells when it is written. Nil when no profile is asked for.
func (r *runner) profile(ctx context.Context, key string) <-chan error {
	if r.profileDir == "" {
		return nil
	}
	done := make(chan error, 1)
	seconds := max(1, int(r.duration/time.Second)-1)
	go func() {
		done <- func() error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.pprofBase+"/debug/pprof/profile?seconds="+strconv.Itoa(seconds), nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s from /debug/pprof/profile (is serve running with --pprof?)", resp.Status)
			}
			f, err := os.Create(filepath.Join(r.profileDir, key+".pprof"))
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, resp.Body); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}()
	}()
	return done
}

// emptyAccessLog reports the size of serve's log (warm-up included), and
// empties it, so that a long run does not fill the disk. serve appends to
// it (O_APPEND), so its next line goes to the start of the emptied file.
func (r *runner) emptyAccessLog(name string) {
	if r.accessLog == "" {
		return
	}
	f, err := os.Open(r.accessLog)
	if err != nil {
		r.progressf("%s: access log: %v", name, err)
		return
	}
	defer f.Close()
	var size, lines int64
	br := bufio.NewReaderSize(f, 1<<20)
	for {
		chunk, err := br.ReadSlice('\n')
		size += int64(len(chunk))
		if err == nil {
			lines++
		} else if !errors.Is(err, bufio.ErrBufferFull) {
			break
		}
	}
	r.progressf("%s: access log: %s lines, %.1f MB (warm-up included); emptied", name, thousands(lines), float64(size)/1e6)
	if err := os.Truncate(r.accessLog, 0); err != nil {
		r.progressf("%s: access log: %v", name, err)
	}
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// answer is one HTTP answer, as the bare handler replays it.
type answer struct {
	status int
	header http.Header // without Date, which each server writes itself
	body   []byte
}

// capture makes the request req builds against base and reads the answer.
func capture(req func(base string) (*http.Request, error), base string) (*answer, error) {
	rq, err := req(base)
	if err != nil {
		return nil, err
	}
	// No Accept-Encoding: wrk sends none either.
	c := &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Do(rq)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	h := resp.Header.Clone()
	h.Del("Date")
	return &answer{status: resp.StatusCode, header: h, body: body}, nil
}

// check reports whether a has the status expected and, for a create, a
// token signed with alg.
func (a *answer) check(expect int, alg string) error {
	if a.status != expect {
		return fmt.Errorf("status %d, not %d: %.200s", a.status, expect, bytes.TrimSpace(a.body))
	}
	if alg == "" {
		return nil
	}
	var made struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.Unmarshal(a.body, &made); err != nil {
		return fmt.Errorf("the body of a create is not JSON: %w", err)
	}
	signed, _, ok := jwt.Header(made.AccessToken)
	if !ok {
		return errors.New("the accessToken of a create is not a JWT")
	}
	if signed != alg {
		return fmt.Errorf("the token created is signed %s, not %s", signed, alg)
	}
	return nil
}

// bareServer is the baseline: a net/http server on 127.0.0.1 whose
// handler answers whatever the request the answer it was last given,
// byte for byte but for Date.
type bareServer struct {
	base string
	srv  *http.Server
	cur  atomic.Pointer[answer]
	gen  atomic.Int64
}

func startBare() (*bareServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bare handler: %w", err)
	}
	b := &bareServer{base: "http://" + ln.Addr().String()}
	// The limits serve's listener keeps (cmd/latchkey newHTTPServer).
	b.srv = &http.Server{
		Handler:           http.HandlerFunc(b.serve),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() { _ = b.srv.Serve(ln) }()
	return b, nil
}

func (b *bareServer) serve(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	a := b.cur.Load()
	if a == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	h := w.Header()
	for k, v := range a.header {
		h[k] = v
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// answer makes a the answer to every request from now on.
func (b *bareServer) answer(a *answer) {
	b.cur.Store(a)
	b.gen.Add(1)
}

// generation counts the answers given.
func (b *bareServer) generation() int64 { return b.gen.Load() }

func (b *bareServer) close() { _ = b.srv.Close() }
