package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what a wrk run's done function printed.
type wrkResult struct {
	Requests int64         // answers counted
	Duration time.Duration // of the run, as wrk measured it
	P50, P99 time.Duration // latency percentiles
	// Wrong is how many answers had another status than the one expected.
	Wrong int64
	// Socket errors, as wrk counts them.
	Connect, Read, Write, Timeout int64
	// WrkCPU is the CPU time wrk spent (user and system), ServerCPU the
	// server's over the same run (0: not measured).
	WrkCPU, ServerCPU time.Duration
}

// CPUPerRequest is the server's and wrk's CPU time per answer (0 when
// not measured, or no answer).
func (r wrkResult) CPUPerRequest() (server, wrk time.Duration) {
	if r.Requests == 0 {
		return 0, 0
	}
	return r.ServerCPU / time.Duration(r.Requests), r.WrkCPU / time.Duration(r.Requests)
}

// RPS is the answers per second.
func (r wrkResult) RPS() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Duration.Seconds()
}

// mergeRuns is the runs of one side as one result: their answers, time,
// wrong answers and socket errors added up, and the median of their
// percentiles (of an even number of runs, the lower of the middle two).
// A percentile of all the requests together is not to be had from
// wrk's summaries; the median of the runs' is the figure of a typical
// run.
func mergeRuns(runs []wrkResult) wrkResult {
	var m wrkResult
	var p50, p99 []time.Duration
	for _, r := range runs {
		m.Requests += r.Requests
		m.Duration += r.Duration
		m.Wrong += r.Wrong
		m.Connect += r.Connect
		m.Read += r.Read
		m.Write += r.Write
		m.Timeout += r.Timeout
		m.WrkCPU += r.WrkCPU
		m.ServerCPU += r.ServerCPU
		p50, p99 = append(p50, r.P50), append(p99, r.P99)
	}
	if len(runs) > 0 {
		slices.Sort(p50)
		slices.Sort(p99)
		m.P50, m.P99 = p50[(len(runs)-1)/2], p99[(len(runs)-1)/2]
	}
	return m
}

// doneMarker starts the line the done function of every script prints.
const doneMarker = "WRKBENCH"

// parseWrk reads the line that the script's done function printed among
// wrk's output: "WRKBENCH requests=N duration_us=N p50_us=N p99_us=N
// wrong=N connect=N read=N write=N timeout=N", every field required.
func parseWrk(out string) (wrkResult, error) {
	var line string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 0 && f[0] == doneMarker {
			if line != "" {
				return wrkResult{}, errors.New("wrk printed two result lines")
			}
			line = sc.Text()
		}
	}
	if line == "" {
		return wrkResult{}, errors.New("wrk printed no result line (did the script's done function run?)")
	}
	var r wrkResult
	fields := map[string]func(int64){
		"requests":    func(v int64) { r.Requests = v },
		"duration_us": func(v int64) { r.Duration = time.Duration(v) * time.Microsecond },
		"p50_us":      func(v int64) { r.P50 = time.Duration(v) * time.Microsecond },
		"p99_us":      func(v int64) { r.P99 = time.Duration(v) * time.Microsecond },
		"wrong":       func(v int64) { r.Wrong = v },
		"connect":     func(v int64) { r.Connect = v },
		"read":        func(v int64) { r.Read = v },
		"write":       func(v int64) { r.Write = v },
		"timeout":     func(v int64) { r.Timeout = v },
	}
	seen := map[string]bool{}
	for _, kv := range strings.Fields(line)[1:] {
		k, v, ok := strings.Cut(kv, "=")
		set := fields[k]
		if !ok || set == nil {
			return wrkResult{}, fmt.Errorf("result line: unknown field %q", kv)
		}
		if seen[k] {
			return wrkResult{}, fmt.Errorf("result line: %s twice", k)
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return wrkResult{}, fmt.Errorf("result line: %s: want a whole number, got %q", k, v)
		}
		set(n)
		seen[k] = true
	}
	for k := range fields {
		if !seen[k] {
			return wrkResult{}, fmt.Errorf("result line: no %s", k)
		}
	}
	return r, nil
}

// problem says what was wrong with a run's answers, or "" when every
// answer counted had the status expected and no socket failed. A run that
// counted no answer at all is wrong too.
func (r wrkResult) problem(expect int) string {
	var p []string
	if r.Requests == 0 {
		p = append(p, "no answers")
	}
	if r.Wrong > 0 {
		p = append(p, fmt.Sprintf("%s of %s answers not %d", thousands(r.Wrong), thousands(r.Requests), expect))
	}
	if n := r.Connect + r.Read + r.Write + r.Timeout; n > 0 {
		p = append(p, fmt.Sprintf("%s socket errors (connect %d, read %d, write %d, timeout %d)", thousands(n), r.Connect, r.Read, r.Write, r.Timeout))
	}
	return strings.Join(p, "; ")
}

// script is the wrk Lua script of a workload: the request, a response
// function that counts every status but expect (per thread), and a done
// function that prints the result line parseWrk reads.
func script(method, auth, body string, expect int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "-- written by scripts/wrk-bench\nwrk.method = %s\n", luaString(method))
	if auth != "" {
		fmt.Fprintf(&b, "wrk.headers[\"Authorization\"] = %s\n", luaString(auth))
	}
	if body != "" {
		fmt.Fprintf(&b, "wrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = %s\n", luaString(body))
	}
	fmt.Fprintf(&b, `local expect = %d
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  wrong = 0
end

function response(status, headers, body)
  if status ~= expect then
    wrong = wrong + 1
  end
end

function done(summary, latency, requests)
  local wrong = 0
  for _, t in ipairs(threads) do
    wrong = wrong + t:get("wrong")
  end
  local e = summary.errors
  io.write(string.format("%s requests=%%d duration_us=%%d p50_us=%%d p99_us=%%d wrong=%%d connect=%%d read=%%d write=%%d timeout=%%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    wrong, e.connect, e.read, e.write, e.timeout))
end
`, expect, doneMarker)
	return b.String()
}

// luaString quotes s for Lua. Only printable ASCII is expected here (a
// method, a token, a small JSON body); anything else is written as a
// decimal escape.
func luaString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// wrkRun is one wrk invocation.
type wrkRun struct {
	Threads, Connections int
	Duration             time.Duration // whole seconds
	Script               string        // the path of the Lua script
	URL                  string
	CPUs                 string // the CPUs wrk runs on, as taskset -c takes them ("": any)
}

// args are wrk's arguments for r.
func (r wrkRun) args() []string {
	return []string{
		"-t" + strconv.Itoa(min(r.Threads, r.Connections)),
		"-c" + strconv.Itoa(r.Connections),
		"-d" + strconv.Itoa(int(r.Duration/time.Second)) + "s",
		"--timeout", "2s",
		"-s", r.Script,
		r.URL,
	}
}

// runWrk runs wrk and reads its result. It kills wrk should it outlive
// its duration by half a minute, or ctx end.
func runWrk(ctx context.Context, r wrkRun) (wrkResult, error) {
	ctx, cancel := context.WithTimeout(ctx, r.Duration+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wrk", r.args()...)
	if r.CPUs != "" {
		// taskset execs wrk: the process, and so its CPU time, is wrk's.
		cmd = exec.CommandContext(ctx, "taskset", append([]string{"-c", r.CPUs, "wrk"}, r.args()...)...)
	}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %w", strings.Join(r.args(), " "), context.Cause(ctx))
	}
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %w\n%s", strings.Join(r.args(), " "), err, out)
	}
	res, err := parseWrk(string(out))
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %w\n%s", strings.Join(r.args(), " "), err, out)
	}
	res.WrkCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return res, nil
}

// processCPU is the CPU time (user and system) the process pid has spent
// so far, from /proc/PID/stat, in clock ticks of 10 ms (Linux's USER_HZ);
// "self" for this process.
func processCPU(pid string) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces:
	// the fields to read count from after its closing one.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%s/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): utime and stime, fields 14 and 15, are f[11], f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%s/stat: %d fields", pid, len(f)+2)
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%s/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}
