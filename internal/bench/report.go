package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/latchkey/latchkey/internal/loadtest"
)

// Report is what a Run measured, written as a table or as JSON.
type Report struct {
	Database        string           `json:"database"` // never a URL: it may hold a password
	Concurrency     int              `json:"concurrency"`
	DurationSeconds float64          `json:"duration_seconds"`
	Requests        int              `json:"requests,omitempty"` // each run ends once this many were counted
	WarmupSeconds   float64          `json:"warmup_seconds"`
	GOMAXPROCS      int              `json:"gomaxprocs"`
	NumCPU          int              `json:"num_cpu"`
	GoVersion       string           `json:"go_version"`
	Tokens          int              `json:"tokens"`
	ScaleUsers      int              `json:"scale_users"`
	ScaleTokens     int              `json:"scale_tokens"`
	SeedSeconds     SeedSeconds      `json:"seed_seconds"`
	OpenMillis      float64          `json:"open_ms"`  // Options.Open and Bootstrap
	ReadyMillis     float64          `json:"ready_ms"` // to the first 200 from /readyz
	RSSSeeded       int64            `json:"rss_seeded_bytes"`
	RSSStarted      int64            `json:"rss_started_bytes"`
	RSSMax          int64            `json:"rss_max_bytes"` // sampled every 50ms under load
	Workloads       []WorkloadReport `json:"workloads"`
}

// WorkloadReport is one workload's line of the report.
type WorkloadReport struct {
	Name      string    `json:"name"`
	Bare      RunReport `json:"bare"`
	Latchkey  RunReport `json:"latchkey"`
	Ratio     float64   `json:"ratio"` // latchkey's rps / bare's
	Target    string    `json:"target,omitempty"`
	TargetMet *bool     `json:"target_met,omitempty"`
	// MicrosPerVerifyPerCore, for reject-forged: GOMAXPROCS × duration /
	// requests, the CPU time of one rejection, the signature's verification
	// (RS256 on a new database), HTTP and load generator included.
	MicrosPerVerifyPerCore float64 `json:"us_per_verify_per_core,omitempty"`
}

// RunReport is one run.
type RunReport struct {
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

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func runReport(r loadtest.Result) RunReport {
	st := map[string]int{}
	for s, n := range r.Statuses {
		st[strconv.Itoa(s)] = n
	}
	return RunReport{
		Requests: r.Requests, Seconds: r.Elapsed.Seconds(), Errors: r.Errors, RPS: r.RPS,
		P50Millis: millis(r.P50), P99Millis: millis(r.P99), MaxMillis: millis(r.Max),
		Statuses: st, FirstError: r.FirstError, Unfinished: r.Unfinished,
	}
}

func (rw row) report(name string) WorkloadReport {
	r := WorkloadReport{Name: name, Bare: runReport(rw.bare), Latchkey: runReport(rw.latchkey), Ratio: rw.ratio}
	if rw.target != "" {
		met := rw.met
		r.Target, r.TargetMet = rw.target, &met
	}
	if name == "reject-forged" && rw.latchkey.Requests > 0 {
		cpu := time.Duration(runtime.GOMAXPROCS(0)) * rw.latchkey.Elapsed
		r.MicrosPerVerifyPerCore = float64(cpu/time.Microsecond) / float64(rw.latchkey.Requests)
	}
	return r
}

// Failures counts the requests of every run that met an unexpected
// answer, and the runs in which no request was answered at all: a server
// that hangs answers nothing wrong. A report with failures is not to be
// trusted.
func (rep *Report) Failures() int {
	n := 0
	for _, w := range rep.Workloads {
		for _, r := range []RunReport{w.Bare, w.Latchkey} {
			n += r.Errors
			if r.Requests == 0 {
				n++
			}
		}
	}
	return n
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(out io.Writer) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteTable writes the report for a person: a header, then one line per
// run. Every cell of the table is one word, so that it splits on spaces.
func (rep *Report) WriteTable(out io.Writer) {
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
			mib(rep.RSSSeeded), mib(rep.RSSStarted), mib(max(rep.RSSMax, rep.RSSStarted)))
	} else {
		fmt.Fprintln(out, "memory: unknown (no /proc/self/status)")
	}
	fmt.Fprintln(out)

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKLOAD\tSERVER\tRPS\tP50\tP99\tERRORS\tOF-BARE\tTARGET")
	var notes []string
	for _, w := range rep.Workloads {
		fmt.Fprintf(tw, "%s\tbare\t%.0f\t%s\t%s\t%d\t\t\n", w.Name, w.Bare.RPS, ms(w.Bare.P50Millis), ms(w.Bare.P99Millis), w.Bare.Errors)
		target := ""
		if w.TargetMet != nil {
			verdict := "MISSED"
			if *w.TargetMet {
				verdict = "met"
			}
			target = w.Target + ": " + verdict
		}
		fmt.Fprintf(tw, "%s\tlatchkey\t%.0f\t%s\t%s\t%d\t%.0f%%\t%s\n", w.Name, w.Latchkey.RPS,
			ms(w.Latchkey.P50Millis), ms(w.Latchkey.P99Millis), w.Latchkey.Errors, 100*w.Ratio, target)
		for server, r := range map[string]RunReport{"bare": w.Bare, "latchkey": w.Latchkey} {
			if r.Errors > 0 {
				notes = append(notes, fmt.Sprintf("%s %s: %d errors, statuses %v; first: %s", w.Name, server, r.Errors, r.Statuses, r.FirstError))
			}
			if r.Requests == 0 {
				notes = append(notes, fmt.Sprintf("%s %s: no request answered in %gs, %d still in flight at its end: the server hung", w.Name, server, rep.DurationSeconds, r.Unfinished))
			}
		}
		if w.MicrosPerVerifyPerCore > 0 {
			notes = append(notes, fmt.Sprintf("%s: %.1fµs of CPU per rejection (%d cores × %.3gs / %d requests): the signature's verification, HTTP and load generator included",
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

// ms formats milliseconds as one word: 0.412ms, 1.23ms, 12.3ms, 123ms.
func ms(v float64) string {
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

// mib formats bytes as MiB.
func mib(b int64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + "MiB" }
