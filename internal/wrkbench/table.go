package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// goal is what a workload's figures should reach.
type goal struct {
	text string
	// ratio is the least latchkey rps / bare rps (0: none); rps the least
	// latchkey requests per second (0: none); p99 the most latchkey's p99
	// may be (0: none).
	ratio, rps float64
	p99        time.Duration
}

// met reports whether latchkey's figures reach g.
func (g goal) met(bare, latchkey wrkResult) bool {
	if g.ratio > 0 && (bare.RPS() == 0 || latchkey.RPS()/bare.RPS() < g.ratio) {
		return false
	}
	if g.rps > 0 && latchkey.RPS() < g.rps {
		return false
	}
	if g.p99 > 0 && latchkey.P99 >= g.p99 {
		return false
	}
	return true
}

// row is one workload's line of the table.
type row struct {
	path string // the workload and its route
	goal goal
	bare wrkResult
	real wrkResult
	// unavailable says why the workload was not run ("": it was).
	unavailable string
	// bareProblem and realProblem say what was wrong with a run's
	// answers ("": nothing): its figures are then not shown.
	bareProblem, realProblem string
}

// ok reports whether both runs were made and answered as expected.
func (r row) ok() bool {
	return r.unavailable == "" && r.bareProblem == "" && r.realProblem == ""
}

// writeTable writes the rows as one markdown table, and below it what
// went wrong where it did not fit in a cell.
func writeTable(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| path | bare rps | latchkey rps | ratio | latchkey p50 | p99 | bare p99 | goal |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	var notes []string
	for _, r := range rows {
		cells := []string{r.path}
		switch {
		case r.unavailable != "":
			cells = append(cells, "not available", "not available", "", "", "", "", r.goal.text+": not available")
			notes = append(notes, r.path+": not available: "+r.unavailable)
		case !r.ok():
			bare, real := rate(r.bare), rate(r.real)
			if r.bare == (wrkResult{}) && r.bareProblem == "" {
				bare = "not run" // the answer to copy was wrong already
			}
			if r.bareProblem != "" {
				bare = "wrong answers"
				notes = append(notes, r.path+", bare: "+r.bareProblem)
			}
			if r.realProblem != "" {
				real = "wrong answers"
				notes = append(notes, r.path+", latchkey: "+r.realProblem)
			}
			p50, p99, bareP99 := "", "", ""
			if r.realProblem == "" {
				p50, p99 = ms(r.real.P50), ms(r.real.P99)
			}
			if r.bareProblem == "" && r.bare != (wrkResult{}) {
				bareP99 = ms(r.bare.P99)
			}
			cells = append(cells, bare, real, "", p50, p99, bareP99, r.goal.text+": not measured")
		default:
			verdict := "missed"
			if r.goal.met(r.bare, r.real) {
				verdict = "met"
			}
			cells = append(cells, rate(r.bare), rate(r.real),
				strconv.FormatFloat(r.real.RPS()/r.bare.RPS(), 'f', 2, 64),
				ms(r.real.P50), ms(r.real.P99), ms(r.bare.P99), r.goal.text+": "+verdict)
		}
		fmt.Fprintln(w, "| "+strings.Join(cells, " | ")+" |")
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintln(w, "- "+n)
		}
	}
}

// writeCPUTable writes, for the rows whose servers' CPU time was read on
// both sides, the CPU time each server and wrk spent per answer, and the
// ratio of the two sides' totals: bare's server and wrk over latchkey's.
// On a machine with nothing else to do, where the server and wrk share
// its cores and use them up, that is what the ratio of requests a second
// comes to; on a busy one, where each process gets what share of the
// cores it can, it is the steadier figure. Nothing is written when no
// row has it.
func writeCPUTable(w io.Writer, rows []row) {
	var lines []string
	for _, r := range rows {
		if !r.ok() || r.bare.ServerCPU == 0 || r.real.ServerCPU == 0 || r.bare.WrkCPU == 0 || r.real.WrkCPU == 0 {
			continue
		}
		bs, bw := r.bare.CPUPerRequest()
		ls, lw := r.real.CPUPerRequest()
		ratio := float64(bs+bw) / float64(ls+lw)
		lines = append(lines, "| "+strings.Join([]string{r.path, us(bs), us(ls), us(bw), us(lw),
			strconv.FormatFloat(ratio, 'f', 2, 64)}, " | ")+" |")
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "CPU time per answer (user and system; the servers' from /proc, wrk's from its exit):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| path | bare server | latchkey server | wrk, bare's run | wrk, latchkey's run | CPU ratio |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: |")
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "CPU ratio: (bare server + wrk) / (latchkey + wrk), per answer: the ratio of requests a second where the two use up cores that nothing else wants.")
}

// us is d in microseconds, one decimal.
func us(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 1, 64) + " µs"
}

// rate is a run's requests per second, rounded, with thousands separated.
func rate(r wrkResult) string {
	return thousands(int64(r.RPS() + 0.5))
}

// ms is d in milliseconds, two decimals.
func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + " ms"
}

// thousands writes n with a comma between each group of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
