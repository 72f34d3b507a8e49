package main

import (
	"encoding/json"
	"errors"
	"flag"
	"strconv"
	"strings"
	"testing"
)

// benchCLI runs latchkey bench with args and returns its standard output.
// Until main.go dispatches "bench", it calls the command directly.
func benchCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut syncBuffer
	err := run(t.Context(), append([]string{"bench"}, args...), testEnv(nil), strings.NewReader(""), &out, &errOut)
	if err != nil {
		t.Logf("latchkey bench %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), err
}

// TestBenchSmoke runs every workload briefly: each must answer, and answer
// as expected. It asserts no figure: they mean nothing on a test machine.
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("a few seconds of load")
	}
	out, err := benchCLI(t, "--requests", "60", "--duration", "2m", "--warmup", "0s", "--tokens", "60", "--concurrency", "4")
	if err != nil {
		t.Error(err) // and see which workload failed
	}
	t.Logf("latchkey bench:\n%s", out)
	seen := map[string]bool{}
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 6 || (f[1] != "bare" && f[1] != "latchkey") {
			continue
		}
		rps, err := strconv.ParseFloat(f[2], 64)
		if err != nil || rps <= 0 {
			t.Errorf("%s %s: rps %q, want a positive number", f[0], f[1], f[2])
		}
		if f[5] != "0" {
			t.Errorf("%s %s: %s errors, want none", f[0], f[1], f[5])
		}
		seen[f[0]+" "+f[1]] = true
	}
	for _, w := range benchNames() {
		for _, server := range []string{"bare", "latchkey"} {
			if !seen[w+" "+server] {
				t.Errorf("no line for %s against %s", w, server)
			}
		}
	}
	for _, want := range []string{"startup: ", "memory: ", "seeding: ", "reject-forged: "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestBenchScaleJSON seeds a store at a small scale and reports in JSON.
func TestBenchScaleJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("a second of load")
	}
	out, err := benchCLI(t, "--requests", "200", "--duration", "2m", "--warmup", "0s", "--tokens", "10", "--concurrency", "2",
		"--scale-users", "20", "--scale-tokens", "200", "--workloads", "show, mix", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bench --json wrote %q: %v", out, err)
	}
	if rep.ScaleUsers != 20 || rep.ScaleTokens != 200 || rep.ReadyMillis <= 0 || rep.SeedSeconds.Tokens <= 0 {
		t.Errorf("report header = %+v, want the scale, startup and seeding figures", rep)
	}
	var names []string
	for _, w := range rep.Workloads {
		names = append(names, w.Name)
		if w.Bare.RPS <= 0 || w.Latchkey.RPS <= 0 || w.Bare.Errors+w.Latchkey.Errors != 0 {
			t.Errorf("%s: %+v, want answers and no errors", w.Name, w)
		}
	}
	if got := strings.Join(names, ","); got != "show,mix" {
		t.Errorf("workloads run: %s, want show,mix", got)
	}
	if mix := rep.Workloads[1].Latchkey.Statuses; mix["201"] == 0 || mix["200"] == 0 {
		t.Errorf("mix statuses = %v, want reads and creates", mix)
	}
}

func TestBenchUsage(t *testing.T) {
	for name, args := range map[string][]string{
		"unknown workload":     {"--workloads", "show,bogus"},
		"no workload":          {"--workloads", ","},
		"tokens without users": {"--scale-tokens", "10"},
		"no concurrency":       {"--concurrency", "0"},
		"no duration":          {"--duration", "0s"},
		"no tokens":            {"--tokens", "0"},
		"argument":             {"extra"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := benchCLI(t, args...)
			var u *usageError
			if !errors.As(err, &u) {
				t.Errorf("bench %v: %v, want a usage error", args, err)
			}
		})
	}
}

func TestBenchHelp(t *testing.T) {
	var out, errOut syncBuffer
	e := &env{getenv: testEnv(nil), stdin: strings.NewReader(""), stdout: &out, stderr: &errOut}
	if err := e.bench(t.Context(), []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("bench -h: %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"Usage: latchkey bench", "--scale-users 100000 --scale-tokens 1000000", "-workloads"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("bench -h wrote %q on standard output, want it to contain %q", out.String(), want)
		}
	}
	t.Log(out.String())
}
