package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/bench"
	"github.com/latchkey/latchkey/internal/postgres"
	"github.com/latchkey/latchkey/internal/sqlite"
)

// Captured from wrk 4.1.0 (Debian's), run with a script of script(): a
// server that answered every tenth request 401, and one that kept every
// seventh answer past wrk's --timeout.
const (
	wrkOutput = `Running 1s test @ http://127.0.0.1:18777/x
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    42.87ms    6.07ms  48.13ms   96.00%
    Req/Sec    45.45      9.12    60.00     72.73%
  100 requests in 1.10s, 16.29KB read
  Non-2xx or 3xx responses: 10
Requests/sec:     90.88
Transfer/sec:     14.80KB
WRKBENCH requests=100 duration_us=1100326 p50_us=43872 p99_us=48129 wrong=10 connect=0 read=0 write=0 timeout=0
`
	wrkTimeouts = `Running 2s test @ http://127.0.0.1:18778/x
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    41.21ms   10.62ms  48.01ms   91.18%
    Req/Sec    19.53     11.24    50.00     82.35%
  37 requests in 2.00s, 6.06KB read
  Socket errors: connect 0, read 0, write 0, timeout 3
Requests/sec:     18.47
Transfer/sec:      3.03KB
WRKBENCH requests=37 duration_us=2002829 p50_us=43977 p99_us=48005 wrong=0 connect=0 read=0 write=0 timeout=3
`
)

func TestParseWrk(t *testing.T) {
	us := time.Microsecond
	for _, tc := range []struct {
		name    string
		out     string
		want    wrkResult
		wantErr string
	}{
		{name: "wrong answers", out: wrkOutput,
			want: wrkResult{Requests: 100, Duration: 1100326 * us, P50: 43872 * us, P99: 48129 * us, Wrong: 10}},
		{name: "timeouts", out: wrkTimeouts,
			want: wrkResult{Requests: 37, Duration: 2002829 * us, P50: 43977 * us, P99: 48005 * us, Timeout: 3}},
		{name: "fields in any order",
			out:  "WRKBENCH timeout=4 write=3 read=2 connect=1 wrong=0 p99_us=9 p50_us=8 duration_us=1000000 requests=7\n",
			want: wrkResult{Requests: 7, Duration: time.Second, P50: 8 * us, P99: 9 * us, Connect: 1, Read: 2, Write: 3, Timeout: 4}},
		{name: "no result line", out: "unable to connect to 127.0.0.1:1 Connection refused\n", wantErr: "no result line"},
		{name: "two result lines", out: wrkOutput + wrkOutput, wantErr: "two result lines"},
		{name: "a field missing",
			out: "WRKBENCH requests=1 duration_us=1 p50_us=1 p99_us=1 wrong=0 connect=0 read=0 write=0\n", wantErr: "no timeout"},
		{name: "a field twice",
			out:     "WRKBENCH requests=1 requests=2 duration_us=1 p50_us=1 p99_us=1 wrong=0 connect=0 read=0 write=0 timeout=0\n",
			wantErr: "requests twice"},
		{name: "an unknown field",
			out:     "WRKBENCH requests=1 duration_us=1 p50_us=1 p99_us=1 wrong=0 connect=0 read=0 write=0 timeout=0 status=3\n",
			wantErr: `unknown field "status=3"`},
		{name: "not a number",
			out:     "WRKBENCH requests=1.5 duration_us=1 p50_us=1 p99_us=1 wrong=0 connect=0 read=0 write=0 timeout=0\n",
			wantErr: `requests: want a whole number, got "1.5"`},
		{name: "negative",
			out:     "WRKBENCH requests=1 duration_us=1 p50_us=1 p99_us=1 wrong=-1 connect=0 read=0 write=0 timeout=0\n",
			wantErr: `wrong: want a whole number, got "-1"`},
		{name: "no value",
			out:     "WRKBENCH requests duration_us=1 p50_us=1 p99_us=1 wrong=0 connect=0 read=0 write=0 timeout=0\n",
			wantErr: `unknown field "requests"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseWrk(tc.out)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseWrk() error = %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseWrk() error = %v", err)
			}
			if got != tc.want {
				t.Errorf("parseWrk() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRPS(t *testing.T) {
	r, err := parseWrk(wrkOutput)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.RPS(), 100/(1100326*time.Microsecond).Seconds(); got != want {
		t.Errorf("RPS() = %v, want %v", got, want)
	}
	if got := (wrkResult{Requests: 5}).RPS(); got != 0 {
		t.Errorf("RPS() of a run of no duration = %v, want 0", got)
	}
}

func TestProblem(t *testing.T) {
	for _, tc := range []struct {
		name   string
		r      wrkResult
		expect int
		want   string
	}{
		{"clean", wrkResult{Requests: 10, Duration: time.Second}, 200, ""},
		{"no answers", wrkResult{Duration: time.Second}, 200, "no answers"},
		{"wrong status", wrkResult{Requests: 12345, Wrong: 1234}, 401, "1,234 of 12,345 answers not 401"},
		{"socket errors", wrkResult{Requests: 37, Read: 1, Timeout: 3}, 200, "4 socket errors (connect 0, read 1, write 0, timeout 3)"},
		{"both", wrkResult{Requests: 2, Wrong: 1, Connect: 1}, 201, "1 of 2 answers not 201; 1 socket errors (connect 1, read 0, write 0, timeout 0)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.problem(tc.expect); got != tc.want {
				t.Errorf("problem(%d) = %q, want %q", tc.expect, got, tc.want)
			}
		})
	}
}

// result is a run of rps requests per second and the latencies given.
func result(rps int64, p50, p99 time.Duration) wrkResult {
	return wrkResult{Requests: rps * 10, Duration: 10 * time.Second, P50: p50, P99: p99}
}

func TestGoalMet(t *testing.T) {
	show := workloads[0].goal
	create := workloads[4].goal
	for _, tc := range []struct {
		name       string
		g          goal
		bare, real wrkResult
		want       bool
	}{
		{"ratio and p99 met", show, result(1000, 0, 0), result(750, time.Millisecond, 4999*time.Microsecond), true},
		{"ratio short", show, result(1000, 0, 0), result(749, time.Millisecond, time.Millisecond), false},
		{"p99 at the bound", show, result(1000, 0, 0), result(900, time.Millisecond, 5*time.Millisecond), false},
		{"no bare figure", show, wrkResult{}, result(900, time.Millisecond, time.Millisecond), false},
		{"rate met", create, result(100, 0, 0), result(1000, 50*time.Millisecond, time.Second), true},
		{"rate short", create, result(100000, 0, 0), result(999, 0, 0), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.g.met(tc.bare, tc.real); got != tc.want {
				t.Errorf("goal %q met(%.0f/s, %.0f/s p99 %v) = %v, want %v", tc.g.text, tc.bare.RPS(), tc.real.RPS(), tc.real.P99, got, tc.want)
			}
		})
	}
}

func TestWriteTable(t *testing.T) {
	rows := []row{
		{path: "show", goal: workloads[0].goal,
			bare: result(20000, 0, 3900*time.Microsecond), real: result(16000, 1500*time.Microsecond, 4200*time.Microsecond)},
		{path: "list", goal: workloads[1].goal,
			bare: result(10000, 0, 0), real: result(3000, 8*time.Millisecond, 20*time.Millisecond)},
		{path: "reject", goal: workloads[3].goal,
			bare: result(20000, 0, 0), real: result(15000, 0, 0), realProblem: "12 of 150,000 answers not 401"},
		{path: "create RS256 refused", goal: workloads[4].goal,
			realProblem: "the answer captured for the bare handler: status 429, not 201"},
		{path: "create RS256", goal: workloads[4].goal,
			bare: result(19000, 0, 0), real: result(1200, 6*time.Millisecond, 12500*time.Microsecond)},
		{path: "create ES256", goal: workloads[5].goal, unavailable: "`latchkey keys rotate --alg ES256` failed"},
	}
	var b strings.Builder
	writeTable(&b, rows)
	want := `| path | bare rps | latchkey rps | ratio | latchkey p50 | p99 | bare p99 | goal |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |
| show | 20,000 | 16,000 | 0.80 | 1.50 ms | 4.20 ms | 3.90 ms | ≥0.75, p99 <5 ms: met |
| list | 10,000 | 3,000 | 0.30 | 8.00 ms | 20.00 ms | 0.00 ms | ≥0.60: missed |
| reject | 20,000 | wrong answers |  |  |  | 0.00 ms | ≥0.80: not measured |
| create RS256 refused | not run | wrong answers |  |  |  |  | ≥1,000/s: not measured |
| create RS256 | 19,000 | 1,200 | 0.06 | 6.00 ms | 12.50 ms | 0.00 ms | ≥1,000/s: met |
| create ES256 | not available | not available |  |  |  |  | ≥4,000/s: not available |

- reject, latchkey: 12 of 150,000 answers not 401
- create RS256 refused, latchkey: the answer captured for the bare handler: status 429, not 201
- create ES256: not available: ` + "`latchkey keys rotate --alg ES256` failed" + `
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("writeTable (-want +got):\n%s", diff)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1000: "-1,000", 100000: "100,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestLuaString(t *testing.T) {
	for in, want := range map[string]string{
		"Bearer eyJ.a-b_c.d":   `"Bearer eyJ.a-b_c.d"`,
		`{"name":"wrk-bench"}`: `"{\"name\":\"wrk-bench\"}"`,
		`a\b`:                  `"a\\b"`,
		"a\nb\x7f":             `"a\010b\127"`,
	} {
		if got := luaString(in); got != want {
			t.Errorf("luaString(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestLoopback(t *testing.T) {
	for base, ok := range map[string]bool{
		"http://127.0.0.1:8080":  true,
		"http://127.0.0.1:8080/": true,
		"http://localhost:8080":  false,
		"http://10.0.0.1:8080":   false,
		"https://127.0.0.1:8080": false,
		"http://127.0.0.1":       false,
		"":                       false,
	} {
		if err := loopback(base); (err == nil) != ok {
			t.Errorf("loopback(%q) = %v, want ok %v", base, err, ok)
		}
	}
}

// jwtWith is a token whose header names alg.
func jwtWith(alg string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"`+alg+`","kid":"k"}`)) + ".e30.c2ln"
}

func TestAnswerCheck(t *testing.T) {
	created := func(token string) *answer {
		return &answer{status: 201, body: []byte(`{"id":"ab","accessToken":"` + token + `"}`)}
	}
	for _, tc := range []struct {
		name    string
		a       *answer
		expect  int
		alg     string
		wantErr string
	}{
		{"status", &answer{status: 200}, 200, "", ""},
		{"another status", &answer{status: 429, body: []byte(`{"message":"Too Many Attempts."}` + "\n")}, 401, "", `status 429, not 401: {"message":"Too Many Attempts."}`},
		{"another status, its body cut", &answer{status: 500, body: []byte(strings.Repeat("x", 300))}, 200, "", "status 500, not 200: " + strings.Repeat("x", 200)},
		{"signed as asked", created(jwtWith("ES256")), 201, "ES256", ""},
		{"signed otherwise", created(jwtWith("RS256")), 201, "EdDSA", "signed RS256, not EdDSA"},
		{"no token", created("not a token"), 201, "RS256", "not a JWT"},
		{"no JSON", &answer{status: 201, body: []byte("created")}, 201, "RS256", "not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.a.check(tc.expect, tc.alg)
			if err != nil && strings.HasPrefix(tc.wantErr, "status ") && err.Error() != tc.wantErr {
				t.Errorf("check(%d, %q) = %q, want exactly %q", tc.expect, tc.alg, err, tc.wantErr)
			}
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("check(%d, %q) = %v, want %q", tc.expect, tc.alg, err, tc.wantErr)
			}
		})
	}
}

// TestBareReplays: the bare handler answers any request with the status,
// headers and body captured from the real one, Date apart.
func TestBareReplays(t *testing.T) {
	real := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t" || r.Method != http.MethodPost {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Location", "/api/1.0/users/2/tokens/ab")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"ab"}`))
	}))
	defer real.Close()
	req := func(base string) (*http.Request, error) {
		r, err := http.NewRequest(http.MethodPost, base+"/api/1.0/users/2/tokens", strings.NewReader(`{"name":"x"}`))
		if err == nil {
			r.Header.Set("Authorization", "Bearer t")
		}
		return r, err
	}
	want, err := capture(req, real.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, err := startBare()
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	b.answer(want)
	got, err := capture(req, b.base)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(answer{})); diff != "" {
		t.Errorf("bare answer (-real +bare):\n%s", diff)
	}
	if got.status != http.StatusCreated || got.header.Get("Location") == "" {
		t.Errorf("captured %d %v, want the real 201 and its Location", got.status, got.header)
	}
}

// needWrk skips t without wrk, but for CI (where .ci/run installs it),
// where it fails t.
func needWrk(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("wrk"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("no wrk on this machine, and CI is set: .ci/run installs it (apt-get install wrk)")
		}
		t.Skip("no wrk on this machine (apt-get install wrk)")
	}
}

// TestScriptCountsWithWrk runs wrk briefly with a script of script()
// against a server that answers every third request 500, and checks what
// the result line says against what the server did: every answer counted
// was served, and every 500 counted was one served.
func TestScriptCountsWithWrk(t *testing.T) {
	if testing.Short() {
		t.Skip("a second of wrk")
	}
	needWrk(t)
	var mu sync.Mutex
	var served, failed int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		served++
		n := served
		if n%3 == 0 {
			failed++
		}
		mu.Unlock()
		if r.Header.Get("Authorization") != `Bearer a"b` || r.Header.Get("Content-Type") != "application/json" || r.Method != http.MethodPost {
			w.WriteHeader(http.StatusBadRequest) // counted wrong too, and noticed below
			return
		}
		if n%3 == 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	lua := filepath.Join(t.TempDir(), "s.lua")
	if err := os.WriteFile(lua, []byte(script(http.MethodPost, `Bearer a"b`, `{"name":"x"}`, http.StatusCreated)), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := runWrk(t.Context(), wrkRun{Threads: 2, Connections: 2, Duration: time.Second, Script: lua, URL: srv.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close() // every answer is served
	mu.Lock()
	defer mu.Unlock()
	if res.Requests == 0 || res.Requests > served {
		t.Errorf("wrk counted %d answers, the server served %d: want at least one, at most as many", res.Requests, served)
	}
	// The 500s are a third of the answers: of those counted, at most the
	// 500s served, and at least those less the two in flight at the end.
	if res.Wrong > failed || res.Wrong < failed-2 {
		t.Errorf("wrk counted %d wrong answers, the server answered %d with 500 (of %d): want those, less the 2 in flight at most",
			res.Wrong, failed, served)
	}
	if res.problem(http.StatusCreated) == "" {
		t.Errorf("problem() = \"\" for a run with %d wrong answers", res.Wrong)
	}
	t.Logf("wrk: %d answers, %d wrong; server: %d served, %d answered 500 (%s)", res.Requests, res.Wrong, served, failed, strconv.Quote(res.problem(201)))
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// TestSeedCommand seeds a new database as the script does, SQLite and
// (with $LATCHKEY_TEST_POSTGRES) PostgreSQL: the listing user holds up to
// 1,000 tokens, the rest go ten a user to users of their own, copied by
// SQL from the first, and the store reads every copy; the fixture is
// written for the owner alone.
func TestSeedCommand(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "x.db")
		testSeed(t, db, func() latchkey.Store {
			st, err := sqlite.Open(t.Context(), db)
			if err != nil {
				t.Fatal(err)
			}
			return st
		})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := os.Getenv("LATCHKEY_TEST_POSTGRES")
		if dsn == "" {
			t.Skip("LATCHKEY_TEST_POSTGRES is not set")
		}
		var out strings.Builder
		if err := run(t.Context(), []string{"pg-schema", "create", dsn}, env(nil), &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		db := strings.TrimSpace(out.String())
		t.Cleanup(func() {
			_ = run(context.Background(), []string{"pg-schema", "drop", db}, env(nil), io.Discard, io.Discard)
		})
		testSeed(t, db, func() latchkey.Store {
			st, err := postgres.Open(t.Context(), db, postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return st
		})
	})
}

func testSeed(t *testing.T, db string, open func() latchkey.Store) {
	out := filepath.Join(t.TempDir(), "fixture.json")
	secret := env(map[string]string{"LATCHKEY_SECRET": "a secret for the test, long enough"})
	var stderr strings.Builder
	if err := run(t.Context(), []string{"seed", "--database", db, "--tokens", "1031", "--out", out}, secret, io.Discard, &stderr); err != nil {
		t.Fatalf("seed: %v\n%s", err, stderr.String())
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("fixture mode %v, want 0600: it holds tokens", fi.Mode().Perm())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var fx bench.Fixture
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.ListIDs) != 1000 || fx.ListJWT == "" || fx.WriterJWT == "" || fx.RevokedJWT == "" {
		t.Errorf("fixture: %d tokens listed, JWTs %t %t %t; want 1000 and all three", len(fx.ListIDs), fx.ListJWT != "", fx.WriterJWT != "", fx.RevokedJWT != "")
	}
	st := open()
	defer st.Close()
	users, err := st.Users(t.Context(), latchkey.UserFilter{Search: "bench-", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	scaleUsers, scaleTokens := 0, 0
	ids := map[string]bool{}
	for _, u := range users {
		if u.ID == fx.ListUser || u.ID == fx.Writer {
			continue
		}
		ts, n, err := st.Tokens(t.Context(), latchkey.TokenFilter{UserID: u.ID, IncludeRevoked: true, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range ts {
			if !latchkey.ValidTokenID(tok.ID) || ids[tok.ID] || tok.UserID != u.ID || !strings.HasPrefix(tok.Name, "bench ") || tok.CreatedAt.IsZero() || tok.Revoked {
				t.Errorf("a token at scale: %+v", tok)
			}
			ids[tok.ID] = true
			if got, err := st.Token(t.Context(), tok.ID); err != nil || got.ID != tok.ID || !got.CreatedAt.Equal(tok.CreatedAt) {
				t.Errorf("Token(%s) = %+v, %v", tok.ID, got, err)
			}
		}
		scaleUsers++
		scaleTokens += n
	}
	// The template user and token, 4 users copied, 30 tokens copied.
	if scaleUsers != 5 || scaleTokens != 31 || len(ids) != 31 {
		t.Errorf("store: %d more users with %d tokens (%d ids), want 5 with 31", scaleUsers, scaleTokens, len(ids))
	}
}

// TestWrkOnChosenCPUs: with CPUs set, wrk runs through taskset on those
// CPUs alone, and its result and CPU time are read as without.
func TestWrkOnChosenCPUs(t *testing.T) {
	if testing.Short() {
		t.Skip("a second of wrk")
	}
	needWrk(t)
	if _, err := exec.LookPath("taskset"); err != nil {
		t.Skip("no taskset on this machine (util-linux)")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	dir := t.TempDir()
	lua := filepath.Join(dir, "s.lua")
	// The script also writes the CPUs wrk may run on, as Linux reports them
	// to it, where the test reads them.
	allowed := filepath.Join(dir, "allowed")
	extra := "local f = io.open(\"/proc/self/status\")\nfor line in f:lines() do if line:match(\"^Cpus_allowed_list\") then local o = io.open(" +
		luaString(allowed) + ", \"w\"); o:write(line); o:close() end end\nf:close()\n"
	if err := os.WriteFile(lua, []byte(script(http.MethodGet, "", "", http.StatusOK)+extra), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := runWrk(t.Context(), wrkRun{Threads: 1, Connections: 1, Duration: time.Second, Script: lua, URL: srv.URL + "/", CPUs: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.WrkCPU == 0 {
		t.Errorf("wrk through taskset: %d answers, %v of CPU: want some of each", res.Requests, res.WrkCPU)
	}
	b, err := os.ReadFile(allowed)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(strings.Fields(string(b)), " "); got != "Cpus_allowed_list: 0" {
		t.Errorf("wrk ran with %q, want CPU 0 alone", got)
	}
}

// TestScriptKnowsTheWorkloads: scripts/wrk-bench checks --workloads
// before it builds anything, against a list of its own: the list is the
// workloads', in their order.
func TestScriptKnowsTheWorkloads(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "scripts", "wrk-bench"))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, w := range workloads {
		keys = append(keys, w.key)
	}
	if want := `known="` + strings.Join(keys, " ") + `"`; !strings.Contains(string(b), "\n"+want+"\n") {
		t.Errorf("scripts/wrk-bench does not hold the line %s", want)
	}
}

// TestProfile: a profile asked for is fetched from serve's pprof for the
// measured run less a second, and written as WORKLOAD.pprof; an answer
// other than 200 is an error, and writes nothing.
func TestProfile(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.String())
		code := status
		mu.Unlock()
		w.WriteHeader(code)
		io.WriteString(w, "profile bytes")
	}))
	defer srv.Close()
	dir := t.TempDir()
	r := &runner{pprofBase: srv.URL, profileDir: dir, duration: 10 * time.Second}
	if err := <-r.profile(t.Context(), "show"); err != nil {
		t.Fatalf("profile() = %v", err)
	}
	mu.Lock()
	if want := []string{"/debug/pprof/profile?seconds=9"}; !slices.Equal(asked, want) {
		t.Errorf("asked %q, want %q", asked, want)
	}
	status = http.StatusNotFound
	mu.Unlock()
	if b, err := os.ReadFile(filepath.Join(dir, "show.pprof")); err != nil || string(b) != "profile bytes" {
		t.Errorf("show.pprof = %q, %v; want what pprof answered", b, err)
	}
	if err := <-r.profile(t.Context(), "list"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("profile() of a 404 = %v, want an error saying so", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "list.pprof")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a 404 left list.pprof (%v)", err)
	}
	if ch := (&runner{duration: time.Second}).profile(t.Context(), "show"); ch != nil {
		t.Error("profile() without a profile directory started one")
	}
}

// TestRefusals: arguments the commands refuse, before any traffic.
func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	fixture := filepath.Join(dir, "fixture.json")
	if err := os.WriteFile(fixture, []byte(`{"list_user":1,"writer":2,"list_jwt":"a","writer_jwt":"b","revoked_jwt":"c","list_ids":["x"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := env(map[string]string{"LATCHKEY_SECRET": "a secret for the test, long enough"})
	runArgs := func(extra ...string) []string {
		return append([]string{"run", "--url", "http://127.0.0.1:1", "--fixture", fixture}, extra...)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		getenv func(string) string
		want   string
	}{
		{"no command", nil, secret, "want a command"},
		{"unknown command", []string{"bogus"}, secret, "unknown command"},
		{"seed without a secret", []string{"seed", "--database", filepath.Join(dir, "a.db"), "--out", filepath.Join(dir, "f")}, env(nil), "LATCHKEY_SECRET"},
		{"seed without --out", []string{"seed", "--database", filepath.Join(dir, "a.db")}, secret, "--out are required"},
		{"seed of no tokens", []string{"seed", "--database", filepath.Join(dir, "a.db"), "--out", filepath.Join(dir, "f"), "--tokens", "0"}, secret, "at least 1"},
		{"run elsewhere than 127.0.0.1", []string{"run", "--url", "http://10.1.2.3:8080", "--fixture", fixture}, secret, "want http://127.0.0.1:PORT"},
		{"run by name", []string{"run", "--url", "http://localhost:8080", "--fixture", fixture}, secret, "want http://127.0.0.1:PORT"},
		{"part of a second", runArgs("--duration", "1500ms"), secret, "--duration: want whole seconds"},
		{"negative warm-up", runArgs("--warmup", "-1s"), secret, "--warmup: want whole seconds"},
		{"no connections", runArgs("--create-connections", "0"), secret, "at least 1"},
		{"a profile without pprof", runArgs("--profile-dir", dir), secret, "--pprof-url and --profile-dir go together"},
		{"pprof without a profile", runArgs("--pprof-url", "http://127.0.0.1:2"), secret, "--pprof-url and --profile-dir go together"},
		{"pprof elsewhere", runArgs("--pprof-url", "http://10.1.2.3:2", "--profile-dir", dir), secret, "--pprof-url: want http://127.0.0.1:PORT"},
		{"no fixture", []string{"run", "--url", "http://127.0.0.1:1", "--fixture", filepath.Join(dir, "none.json")}, secret, "no such file"},
		{"pg-schema of nothing", []string{"pg-schema", "create"}, secret, "want create URL or drop URL"},
		{"pg-schema drop of a schema not ours", []string{"pg-schema", "drop", "postgres://127.0.0.1:1/x?search_path=public"}, secret, "not a schema wrkbench made"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			err := run(t.Context(), tc.args, tc.getenv, io.Discard, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("wrkbench %s = %v, want an error saying %q", strings.Join(tc.args, " "), err, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "a.db")); err == nil {
		t.Error("a refused seed created its database")
	}
}

// TestPGSchema makes a schema of the bench's own and drops it again
// (PostgreSQL: $LATCHKEY_TEST_POSTGRES).
func TestPGSchema(t *testing.T) {
	dsn := os.Getenv("LATCHKEY_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("LATCHKEY_TEST_POSTGRES is not set")
	}
	var out strings.Builder
	if err := run(t.Context(), []string{"pg-schema", "create", dsn}, env(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	made := strings.TrimSpace(out.String())
	u, err := url.Parse(made)
	if err != nil {
		t.Fatal(err)
	}
	name := u.Query().Get("search_path")
	exists := func() bool {
		t.Helper()
		conn, err := pgx.Connect(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(t.Context())
		var n int
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_namespace WHERE nspname = $1", name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	if !strings.HasPrefix(name, "wrkbench_") || !exists() {
		t.Fatalf("pg-schema create printed %q: want a URL whose search_path is a new schema wrkbench_…", made)
	}
	if err := run(t.Context(), []string{"pg-schema", "drop", made}, env(nil), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if exists() {
		t.Errorf("schema %s is still there after pg-schema drop", name)
	}
}

// TestChooseWorkloads: --workloads picks workloads by key, in the order
// they run whatever the order given; none given is all; an unknown key is
// refused.
func TestChooseWorkloads(t *testing.T) {
	keys := func(ws []workload) string {
		var out []string
		for _, w := range ws {
			out = append(out, w.key)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct{ list, want string }{
		{"", "show,list,malformed,revoked,create-rs256,create-es256,create-eddsa"},
		{"revoked, show", "show,revoked"},
		{"list,list", "list"},
		{"create-eddsa", "create-eddsa"},
	} {
		got, err := chooseWorkloads(tc.list)
		if err != nil || keys(got) != tc.want {
			t.Errorf("chooseWorkloads(%q) = %s, %v; want %s", tc.list, keys(got), err, tc.want)
		}
	}
	for _, bad := range []string{"shows", "show,", "create"} {
		if got, err := chooseWorkloads(bad); err == nil {
			t.Errorf("chooseWorkloads(%q) = %s, want an error", bad, keys(got))
		}
	}
}

// TestMergeRuns: the rounds of a side add up to one result, with the
// median of their percentiles.
func TestMergeRuns(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	runs := []wrkResult{
		{Requests: 100, Duration: time.Second, P50: ms(3), P99: ms(9), Wrong: 1, Read: 2},
		{Requests: 300, Duration: time.Second, P50: ms(1), P99: ms(30)},
		{Requests: 200, Duration: 2 * time.Second, P50: ms(2), P99: ms(7), Timeout: 1},
	}
	want := wrkResult{Requests: 600, Duration: 4 * time.Second, P50: ms(2), P99: ms(9), Wrong: 1, Read: 2, Timeout: 1}
	if got := mergeRuns(runs); got != want {
		t.Errorf("mergeRuns = %+v, want %+v", got, want)
	}
	if got := mergeRuns(runs[:2]); got.P50 != ms(1) || got.P99 != ms(9) || got.RPS() != 200 {
		t.Errorf("mergeRuns of two = %+v, want the lower middle percentiles and 200/s", got)
	}
	if got := mergeRuns(runs[:1]); got != runs[0] {
		t.Errorf("mergeRuns of one = %+v, want it unchanged", got)
	}
	if got := mergeRuns(nil); got != (wrkResult{}) {
		t.Errorf("mergeRuns of none = %+v, want nothing", got)
	}
}

// TestWriteCPUTable: the CPU table has the rows measured on both sides,
// and nothing is written when none is.
func TestWriteCPUTable(t *testing.T) {
	cpu := func(r wrkResult, server, wrk time.Duration) wrkResult {
		r.ServerCPU, r.WrkCPU = server, wrk
		return r
	}
	rows := []row{
		{path: "show", bare: cpu(result(20000, 0, 0), 2*time.Second, time.Second), real: cpu(result(16000, 0, 0), 2*time.Second, 800*time.Millisecond)},
		{path: "list", bare: result(10000, 0, 0), real: cpu(result(3000, 0, 0), time.Second, time.Second)},
	}
	var b strings.Builder
	writeCPUTable(&b, rows)
	want := `
CPU time per answer (user and system; the servers' from /proc, wrk's from its exit):

| path | bare server | latchkey server | wrk, bare's run | wrk, latchkey's run | CPU ratio |
| --- | ---: | ---: | ---: | ---: | ---: |
| show | 10.0 µs | 12.5 µs | 5.0 µs | 5.0 µs | 0.86 |

CPU ratio: (bare server + wrk) / (latchkey + wrk), per answer: the ratio of requests a second where the two use up cores that nothing else wants.
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("writeCPUTable (-want +got):\n%s", diff)
	}
	b.Reset()
	writeCPUTable(&b, rows[1:])
	if b.Len() != 0 {
		t.Errorf("writeCPUTable without a row measured on both sides wrote %q", b.String())
	}
}

// TestProcessCPU: a process's CPU time, read from /proc, grows as it
// works.
func TestProcessCPU(t *testing.T) {
	before, err := processCPU("self")
	if err != nil {
		t.Fatal(err)
	}
	for {
		x := 0
		for i := range 1_000_000 {
			x += i
		}
		_ = x
		now, err := processCPU("self")
		if err != nil {
			t.Fatal(err)
		}
		if now > before {
			break
		}
	}
	if _, err := processCPU("0"); err == nil {
		t.Error("processCPU of no process: no error")
	}
}
