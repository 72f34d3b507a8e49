// Command wrkbench is the helper of scripts/wrk-bench, which measures a
// real `latchkey serve` process with wrk beside a bare net/http handler
// that answers the very same bytes. The script builds it and runs it three
// ways:
//
//	wrkbench pg-schema create URL         make a schema of its own, print URL with search_path set to it
//	wrkbench pg-schema drop URL           drop the schema URL's search_path names
//	wrkbench seed --database D --tokens N --out FILE
//	                                      seed the store as latchkey bench does, write the fixture (JSON)
//	wrkbench run --url BASE --fixture FILE [flags]
//	                                      run the workloads against BASE and a bare handler, print the table
//
// Seeding and serving share the store's secret through $LATCHKEY_SECRET.
// Traffic goes to 127.0.0.1 only: run refuses any other address.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/bench"
	"github.com/latchkey/latchkey/internal/jwt"
	"github.com/latchkey/latchkey/internal/postgres"
	"github.com/latchkey/latchkey/internal/service"
	"github.com/latchkey/latchkey/internal/sqlite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	interrupted := ctx.Err() != nil
	stop()
	switch {
	case interrupted:
		fmt.Fprintln(os.Stderr, "wrkbench: interrupted")
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "wrkbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("want a command: pg-schema, seed or run")
	}
	switch args[0] {
	case "pg-schema":
		return pgSchema(ctx, args[1:], stdout)
	case "seed":
		return seed(ctx, args[1:], getenv, stderr)
	case "run":
		return runWorkloads(ctx, args[1:], stdout, stderr)
	}
	return fmt.Errorf("unknown command %q: want pg-schema, seed or run", args[0])
}

// pgSchema makes or drops a schema of the bench's own, so that a run
// leaves the database it was given as it found it.
func pgSchema(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) != 2 || (args[0] != "create" && args[0] != "drop") {
		return errors.New("pg-schema: want create URL or drop URL")
	}
	u, err := url.Parse(args[1])
	if err != nil {
		return errors.New("pg-schema: the database is not a URL") // the error would quote its password
	}
	drop := u.Query().Get("search_path")
	if args[0] == "drop" && !strings.HasPrefix(drop, "wrkbench_") {
		return fmt.Errorf("pg-schema: drop: %q is not a schema wrkbench made", drop)
	}
	conn, err := pgx.Connect(ctx, args[1])
	if err != nil {
		return fmt.Errorf("pg-schema: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if args[0] == "drop" {
		_, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{drop}.Sanitize()+" CASCADE")
		return err
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "wrkbench_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("pg-schema: %w", err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	fmt.Fprintln(stdout, u.String())
	return nil
}

// listTokens is how many tokens the listing user has at most: list reads
// 50 of 1,000 however large the store.
const listTokens = 1000

// seed fills the store as latchkey bench does (internal/bench.Seed) and
// writes the fixture. Of --tokens, the listing user holds up to 1,000;
// the rest are spread ten a user across users of their own: the store
// writes the first of them, and SQL copies it (scale.go).
func seed(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	database := fs.String("database", "", "SQLite file or postgres:// URL")
	tokens := fs.Int("tokens", 1000, "tokens in the store, about")
	out := fs.String("out", "", "file to write the fixture to (JSON, mode 0600: it holds tokens)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secret := getenv("LATCHKEY_SECRET")
	switch {
	case *database == "" || *out == "":
		return errors.New("seed: --database and --out are required")
	case *tokens < 1:
		return fmt.Errorf("seed: --tokens: want at least 1, got %d", *tokens)
	case secret == "":
		return errors.New("seed: $LATCHKEY_SECRET must hold the secret the server will be given")
	}
	opts := bench.SeedOptions{Tokens: min(*tokens, listTokens)}
	rest := *tokens - opts.Tokens
	if rest > 0 {
		// The template of the rest.
		opts.ScaleTokens, opts.ScaleUsers = 1, 1
	}
	opts.Progress = func(format string, args ...any) {
		fmt.Fprintf(stderr, "wrk-bench: "+format+"\n", args...)
	}

	var st latchkey.Store
	var err error
	if strings.HasPrefix(*database, "postgres://") || strings.HasPrefix(*database, "postgresql://") {
		st, err = postgres.Open(ctx, *database, postgres.Options{})
	} else {
		st, err = sqlite.Open(ctx, *database)
	}
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	sealer, err := jwt.NewSealer([]byte(secret))
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	svc, err := service.New(ctx, st, sealer, service.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	start := time.Now()
	fx, _, err := bench.Seed(ctx, svc, st, opts)
	if err != nil {
		return err
	}
	if err := svc.FlushUsage(ctx); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	users := 2 + opts.ScaleUsers
	if rest > 1 {
		t := time.Now()
		more := (rest + 9) / 10
		if err := seedScale(ctx, *database, fx, more, rest-1); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		users += more
		fmt.Fprintf(stderr, "wrk-bench: copied %d users and %d tokens by SQL in %.1fs\n", more, rest-1, time.Since(t).Seconds())
	}
	fmt.Fprintf(stderr, "wrk-bench: seeded %d tokens (%d of the listing user) and %d users in %.1fs\n",
		opts.Tokens+rest, opts.Tokens, users, time.Since(start).Seconds())
	b, err := json.Marshal(fx)
	if err != nil {
		return err
	}
	return os.WriteFile(*out, b, 0o600)
}
