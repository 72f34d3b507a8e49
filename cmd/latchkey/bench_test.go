package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/bench"
)

// TestBenchWired runs latchkey bench on its own temporary database, until
// a few requests of one workload were counted: the command reaches
// internal/bench and reports the traffic. internal/bench's own tests cover
// the workloads.
func TestBenchWired(t *testing.T) {
	var out, errOut syncBuffer
	args := []string{"bench", "--workloads", "show", "--requests", "20", "--duration", "2m", "--warmup", "0s",
		"--tokens", "5", "--concurrency", "2", "--json"}
	if err := run(t.Context(), args, testEnv(nil), strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatalf("latchkey %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	var rep bench.Report
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
		t.Fatalf("latchkey bench --json wrote %q: %v", out.String(), err)
	}
	if len(rep.Workloads) != 1 || rep.Database != "sqlite (temporary)" || rep.Tokens != 5 {
		t.Fatalf("latchkey bench --json = %+v, want one workload on a temporary database with 5 tokens", rep)
	}
	w := rep.Workloads[0]
	if w.Name != "show" || w.Latchkey.Requests < 20 || w.Latchkey.Statuses["200"] != w.Latchkey.Requests || w.Bare.Requests < 20 {
		t.Errorf("latchkey bench: %+v, want show with at least 20 requests counted against each server, each answered 200", w)
	}
}
