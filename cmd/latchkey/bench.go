package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/bench"
	"github.com/latchkey/latchkey/internal/service"
)

const benchUsage = `bench [flags]

Measures the server on this machine. One run starts the real handler, on a
store and service opened as serve opens them, and a bare net/http handler
that answers a small JSON object, each on a 127.0.0.1 port of its own in
this process. Each workload drives the bare handler and then the real one
with the same number of connections, each connection sending its next
request as soon as its last is answered, and the table gives requests per
second, p50 and p99 of both, and the real handler's throughput as a share
of the bare one's: what is left once net/http and the load generator
(which share the CPUs with the server) take theirs.

Workloads (--workloads, comma-separated; default all, in this order):
  show              GET one token by id, with a valid token (cached after its first use)
  list              GET ?per_page=50 of a user with --tokens tokens
  create            POST a new token (a signature each: RS256, the algorithm of a new database's key)
  mix               90% reads (show and list, half each), 9% creates, 1% revokes of tokens the mix made
  reject-malformed  an Authorization header that is not a token at all
  reject-repeated   one revoked token, again and again
  reject-forged     the real header and claims with a signature bit-flipped differently each time:
                    every request is a verification (RS256 on a new database); also printed as µs per verification
                    per core (GOMAXPROCS × duration / requests, HTTP and load generator included)

The real handler is serve's, metrics included, but without serve's rate
limits: from one address, they would answer most of this traffic 429.

Also printed: the time to seed the store, the startup time (opening the
service as serve does, until /readyz first answers 200) and the resident
memory of the process (after seeding, after startup, and the most seen
under load; the load generator's share included).

Examples:
  # the everyday figures: 1,000 tokens for the listing user, 32 connections,
  # 10s per run after 2s of warmup
  latchkey bench

  # the same at scale: 1,000,000 more tokens across 100,000 users (seeding
  # SQLite takes a minute or two, reported apart)
  latchkey bench --scale-users 100000 --scale-tokens 1000000

  # on PostgreSQL: an empty database of its own, which bench fills and leaves
  latchkey bench --database postgres://bench@localhost:5432/latchkey_bench

By default the store is a new SQLite file in a temporary directory, removed
afterwards. Never point --database at a database that matters: bench adds
users and tokens to it. Unlike the other commands, bench takes no
LATCHKEY_DATABASE from the environment, for the same reason: its own
variable is LATCHKEY_BENCH_DATABASE. The figures
are only as good as the machine is quiet: run nothing else meanwhile.

The table goes to standard output (--json for JSON), progress to standard
error. The exit status is 1 if any request met an unexpected answer, or
a run none at all.`

// bench parses the flags of latchkey bench, opens the store as serve
// does, and leaves the rest to internal/bench.
func (e *env) bench(ctx context.Context, args []string) error {
	fs := e.flags("bench", benchUsage)
	// The database flags are serve's, with variables of their own: a
	// LATCHKEY_DATABASE meant for serve must never receive bench's rows.
	fs.setEnvVar("database", "LATCHKEY_BENCH_DATABASE")
	fs.setEnvVar("secret-file", "LATCHKEY_BENCH_SECRET_FILE")
	tempDB := false
	runSecret := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	var db *dbFlags
	db = &dbFlags{
		database:         fs.FlagSet.String("database", "", "SQLite database file, or an empty PostgreSQL database postgres://… that bench may fill (default: a new SQLite file in a temporary directory, removed afterwards)"),
		secretFile:       fs.FlagSet.String("secret-file", "", "file holding the server secret (default: $LATCHKEY_SECRET, else a new secret for a temporary or PostgreSQL database, else the file beside the SQLite database)"),
		maxConns:         fs.FlagSet.String("db-max-conns", "0", "PostgreSQL: most connections in the pool (0: the driver's default)"),
		statementTimeout: fs.FlagSet.String("db-statement-timeout", "0", "PostgreSQL: longest a statement may run (0: the URL's statement_timeout, or 10s; off: no limit)"),
		mayCreate:        true,
		getenv: func(name string) string {
			if name != "LATCHKEY_SECRET" {
				return ""
			}
			if v := e.getenv(name); v != "" {
				return v
			}
			if tempDB || db.postgres() {
				return runSecret
			}
			return ""
		},
	}
	sf := fs.serviceFlags()
	concurrency := fs.Int("concurrency", 32, "requests kept in flight, one connection each")
	duration := fs.Duration("duration", 10*time.Second, "how long each run is measured (two runs per workload: bare, then latchkey)")
	warmup := fs.Duration("warmup", 2*time.Second, "traffic before each run's measurement, not counted")
	requests := fs.Int("requests", 0, "end each run once this many requests were counted, --duration then being only its longest (0: run for --duration)")
	tokens := fs.Int("tokens", 1000, "tokens of the user that show and list read (list reads 50 of them)")
	scaleUsers := fs.Int("scale-users", 0, "more users in the store, for the figures at scale (e.g. 100000)")
	scaleTokens := fs.Int("scale-tokens", 0, "more tokens in the store, spread evenly across --scale-users (e.g. 1000000)")
	workloadList := fs.FlagSet.String("workloads", "all", "workloads to run, comma-separated: all, or some of "+strings.Join(bench.Names(), ", "))
	asJSON := fs.Bool("json", false, "write the results as JSON instead of a table")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("bench: unexpected arguments %q", fs.Args())
	}
	workloads := splitList(*workloadList)
	switch {
	case len(workloads) == 0:
		return usagef("bench: --workloads: name at least one")
	case slices.Contains(workloads, "all"):
		workloads = nil
	}
	cfg, err := sf.config(slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	opts := bench.Options{
		Open: func(ctx context.Context, cfg service.Config) (*service.Service, latchkey.Store, func(), error) {
			return e.openService(ctx, db, cfg)
		},
		Config:      cfg,
		NewServer:   func(h http.Handler) *http.Server { return newHTTPServer(h, slog.New(slog.DiscardHandler)) },
		Concurrency: *concurrency, Duration: *duration, Warmup: *warmup, Requests: *requests,
		Tokens: *tokens, ScaleUsers: *scaleUsers, ScaleTokens: *scaleTokens,
		Workloads: workloads,
		Progress:  e.stderr,
	}
	if err := opts.Validate(); err != nil {
		return usagef("bench: %v", err)
	}

	opts.Database = "postgres"
	switch {
	case *db.database == "":
		dir, err := os.MkdirTemp("", "latchkey-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*db.database = filepath.Join(dir, "bench.db")
		tempDB = true
		opts.Database = "sqlite (temporary)"
	case !db.postgres():
		opts.Database = "sqlite " + *db.database
	}

	rep, err := bench.Run(ctx, opts)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if *asJSON {
		if err := rep.WriteJSON(e.stdout); err != nil {
			return err
		}
	} else {
		rep.WriteTable(e.stdout)
	}
	if n := rep.Failures(); n > 0 {
		return fmt.Errorf("bench: %d failures (requests with an unexpected answer, runs with no answer at all): the figures are not to be trusted", n)
	}
	return nil
}
