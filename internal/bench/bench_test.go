package bench

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/jwt"
	"github.com/latchkey/latchkey/internal/service"
	"github.com/latchkey/latchkey/internal/sqlite"
)

// testOptions are Options for a short run on a new SQLite database: each
// run ends once requests were counted, with two minutes as a bound only
// a broken server meets.
func testOptions(t *testing.T, requests int) (Options, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bench.db")
	sealer, err := jwt.NewSealer([]byte("a test secret of enough length"))
	if err != nil {
		t.Fatal(err)
	}
	open := func(ctx context.Context, cfg service.Config) (*service.Service, latchkey.Store, func(), error) {
		st, err := openStore(ctx, path)
		if err != nil {
			return nil, nil, nil, err
		}
		svc, err := service.New(ctx, st, sealer, cfg)
		if err != nil {
			st.Close()
			return nil, nil, nil, err
		}
		return svc, st, func() { st.Close() }, nil
	}
	return Options{
		Open: open, Database: "sqlite (test)",
		Concurrency: 4, Duration: 2 * time.Minute, Requests: requests,
		Tokens: 20,
	}, path
}

// openStore opens and migrates the SQLite database at path.
func openStore(ctx context.Context, path string) (*sqlite.DB, error) {
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// checkTraffic checks that a run counted at least want requests, each
// answered with one of the statuses expected.
func checkTraffic(t *testing.T, what string, r RunReport, want int, expect ...int) {
	t.Helper()
	answered := 0
	for status, n := range r.Statuses {
		answered += n
		if s, _ := strconv.Atoi(status); !slices.Contains(expect, s) {
			t.Errorf("%s: %d answers %s, want only %v (first error: %s)", what, n, status, expect, r.FirstError)
		}
	}
	if r.Requests < want || answered != r.Requests || r.Errors != 0 {
		t.Errorf("%s: %d requests counted, %d by status, %d errors (%s); want at least %d, all answered, no errors",
			what, r.Requests, answered, r.Errors, r.FirstError, want)
	}
}

// ran lists the workloads of a report.
func ran(rep *Report) []string {
	var names []string
	for _, w := range rep.Workloads {
		names = append(names, w.Name)
	}
	return names
}

// TestRun runs every workload briefly: each run must count its requests,
// every one answered as expected. It asserts no rate and no time: they
// mean nothing on a test machine.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("a few seconds of load")
	}
	opts, _ := testOptions(t, 40)
	var progress strings.Builder
	opts.Progress = &progress
	rep, err := Run(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range rep.Workloads {
		checkTraffic(t, w.Name+" bare", w.Bare, opts.Requests, 200)
		expect, _ := pick([]string{w.Name})
		checkTraffic(t, w.Name+" latchkey", w.Latchkey, opts.Requests, expect[0].expect...)
	}
	if diff := cmp.Diff(Names(), ran(rep)); diff != "" {
		t.Errorf("workloads run (-want +got):\n%s", diff)
	}
	if n := rep.Failures(); n != 0 {
		t.Errorf("Failures() = %d, want 0", n)
	}

	var table strings.Builder
	rep.WriteTable(&table)
	t.Logf("bench:\n%s", table.String())
	seen := map[string]bool{}
	for line := range strings.Lines(table.String()) {
		f := strings.Fields(line)
		if len(f) < 6 || (f[1] != "bare" && f[1] != "latchkey") {
			continue
		}
		if f[5] != "0" {
			t.Errorf("table: %s %s: %s errors, want 0", f[0], f[1], f[5])
		}
		seen[f[0]+" "+f[1]] = true
	}
	for _, w := range Names() {
		for _, server := range []string{"bare", "latchkey"} {
			if !seen[w+" "+server] {
				t.Errorf("table: no line for %s against %s", w, server)
			}
		}
	}
	for _, want := range []string{"startup: ", "memory: ", "seeding: ", "reject-forged: "} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q", want)
		}
	}
	if !strings.Contains(progress.String(), "bench: reject-forged: latchkey") {
		t.Errorf("progress lacks the last run:\n%s", progress.String())
	}
}

// TestRunAtScale seeds the users and tokens at scale, and runs only the
// workloads named, in their usual order.
func TestRunAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("a second of load")
	}
	opts, path := testOptions(t, 200)
	opts.Concurrency, opts.Tokens = 2, 10
	opts.ScaleUsers, opts.ScaleTokens = 20, 200
	opts.Workloads = []string{"mix", "show"}
	rep, err := Run(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"show", "mix"}, ran(rep)); diff != "" {
		t.Fatalf("workloads run (-want +got):\n%s", diff)
	}
	checkTraffic(t, "show", rep.Workloads[0].Latchkey, 200, 200)
	mix := rep.Workloads[1].Latchkey
	checkTraffic(t, "mix", mix, 200, 200, 201, 204)
	if mix.Statuses["200"] == 0 || mix.Statuses["201"] == 0 {
		t.Errorf("mix statuses = %v, want reads and creates", mix.Statuses)
	}

	// The store holds what was seeded.
	st, err := openStore(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	users, err := st.Users(t.Context(), latchkey.UserFilter{Search: "bench-"})
	if err != nil {
		t.Fatal(err)
	}
	var scaleUsers, scaleTokens, listTokens int
	for _, u := range users {
		_, n, err := st.Tokens(t.Context(), latchkey.TokenFilter{UserID: u.ID, IncludeRevoked: true, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(u.Username, "-list"):
			listTokens = n
		case strings.Contains(u.Username, "-u"):
			scaleUsers++
			scaleTokens += n
		}
	}
	if scaleUsers != 20 || scaleTokens != 200 || listTokens != opts.Tokens+1 {
		t.Errorf("store: %d users at scale with %d tokens, %d tokens of the listing user; want 20, 200 and %d (one revoked)",
			scaleUsers, scaleTokens, listTokens, opts.Tokens+1)
	}
}

func TestValidate(t *testing.T) {
	// Short, should a guard be missing and Run go ahead.
	good, _ := testOptions(t, 1)
	good.Workloads = []string{"show"}
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate() of good options = %v, want nil", err)
	}
	for name, tc := range map[string]struct {
		change func(*Options)
		want   string
	}{
		"no open":              {func(o *Options) { o.Open = nil }, "Open"},
		"no concurrency":       {func(o *Options) { o.Concurrency = 0 }, "concurrency"},
		"no duration":          {func(o *Options) { o.Duration = 0 }, "duration"},
		"negative warmup":      {func(o *Options) { o.Warmup = -time.Second }, "warmup"},
		"negative requests":    {func(o *Options) { o.Requests = -1 }, "requests"},
		"no tokens":            {func(o *Options) { o.Tokens = 0 }, "tokens"},
		"negative scale":       {func(o *Options) { o.ScaleUsers = -1 }, "scale-users"},
		"tokens without users": {func(o *Options) { o.ScaleTokens = 10 }, "--scale-tokens needs --scale-users"},
		"unknown workload":     {func(o *Options) { o.Workloads = []string{"show", "bogus"} }, `unknown "bogus"`},
	} {
		t.Run(name, func(t *testing.T) {
			o := good
			tc.change(&o)
			err := o.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want an error naming %s", err, tc.want)
			}
			if _, err := Run(t.Context(), o); err == nil {
				t.Error("Run() of bad options succeeded")
			}
		})
	}
}

func TestPick(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []string
	}{
		{nil, Names()},
		{[]string{"reject-forged", "show", "show"}, []string{"show", "reject-forged"}},
	} {
		ws, err := pick(tc.in)
		if err != nil {
			t.Fatalf("pick(%q) = %v", tc.in, err)
		}
		var got []string
		for _, w := range ws {
			got = append(got, w.name)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("pick(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

// Failures counts the requests with unexpected answers, and the runs that
// counted none: a server that hangs answers nothing wrong.
func TestFailures(t *testing.T) {
	ok := RunReport{Requests: 10}
	for _, tc := range []struct {
		name string
		runs []WorkloadReport
		want int
	}{
		{"none", []WorkloadReport{{Bare: ok, Latchkey: ok}}, 0},
		{"errors", []WorkloadReport{{Bare: ok, Latchkey: RunReport{Requests: 10, Errors: 3}}, {Bare: RunReport{Requests: 5, Errors: 1}, Latchkey: ok}}, 4},
		{"hung", []WorkloadReport{{Bare: ok, Latchkey: RunReport{Unfinished: 4}}}, 1},
	} {
		rep := &Report{Workloads: tc.runs}
		if got := rep.Failures(); got != tc.want {
			t.Errorf("%s: Failures() = %d, want %d", tc.name, got, tc.want)
		}
	}
}
