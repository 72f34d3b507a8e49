package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"github.com/latchkey/latchkey/client"
	"github.com/latchkey/latchkey/internal/pgtest"
)

// Crash test parameters: crashKills rounds per backend, each ended by a
// SIGKILL crashMinDelay to crashMaxDelay after the first write that the
// round's crashWorkers workers had acknowledged.
const (
	crashKills    = 20
	crashWorkers  = 8
	crashMinDelay = 50 * time.Millisecond
	crashMaxDelay = 400 * time.Millisecond
	// crashMaxOps bounds each worker's loop in a round (the kill ends it
	// much sooner).
	crashMaxOps = 5000
)

// revokeState is what the test knows of a token's revocation.
type revokeState int

const (
	notRevoked    revokeState = iota // no DELETE was sent
	revokeAcked                      // a DELETE was answered 204
	revokeUnknown                    // a DELETE was in flight at the kill
)

// crashToken is a token whose create was answered 201.
type crashToken struct {
	id     string
	jwt    string
	round  int
	revoke revokeState
}

// crashLedger is every answered write of a backend's rounds.
type crashLedger struct {
	mu             sync.Mutex
	tokens         []*crashToken
	ids            map[string]bool
	createsUnknown int // creates in flight at a kill
	revokesAcked   int
	revokesUnknown int
}

// TestCrash kills the real server (a subprocess) with SIGKILL at random
// moments while workers create and revoke tokens, restarts it on the same
// database and checks that every acknowledged write survived: each create
// answered 201 is there, each DELETE answered 204 left the token revoked,
// and a revoked token is refused. At the end the database itself is
// checked. LATCHKEY_CRASH_SEED replays a run's kill delays.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped with -short")
	}
	// The tests that run servers as processes spend most of their time
	// waiting on them: they run beside one another.
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LATCHKEY_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("LATCHKEY_CRASH_SEED: %v", err)
		}
	}
	t.Logf("seed %d (replay with LATCHKEY_CRASH_SEED=%d)", seed, seed)
	bin := programBinary(t)
	// The traffic is far above the default rate limits, which would answer
	// 429: every limit is off.
	// Each killed server's lease stays live until it runs out, and a
	// revocation waits for it: a short lease lets the next round's
	// revocations answer.
	noLimits := []string{"LATCHKEY_LIMIT_FAILED_AUTH=off", "LATCHKEY_LIMIT_CREATE_USER=off", "LATCHKEY_LIMIT_CREATE_ADDR=off", "LATCHKEY_LEASE=200ms"}

	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		db := filepath.Join(t.TempDir(), "crash.db")
		env := append(os.Environ(), "LATCHKEY_DATABASE="+db, "LATCHKEY_LOG_LEVEL=warn")
		env = append(env, noLimits...)
		cliEnv := testEnv(map[string]string{"LATCHKEY_DATABASE": db})
		crash(t, bin, env, cliEnv, rand.New(rand.NewPCG(seed, 1)), func(t *testing.T, ld *crashLedger) {
			checkSQLite(t, db, ld)
		})
	})

	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		dsn := pgtest.Schema(t, pgtest.DSN(t))
		const secret = "the crash test's secret, shared by every restart"
		env := append(os.Environ(), "LATCHKEY_DATABASE="+dsn, "LATCHKEY_SECRET="+secret, "LATCHKEY_LOG_LEVEL=warn")
		env = append(env, noLimits...)
		cliEnv := testEnv(map[string]string{"LATCHKEY_DATABASE": dsn, "LATCHKEY_SECRET": secret})
		crash(t, bin, env, cliEnv, rand.New(rand.NewPCG(seed, 2)), func(t *testing.T, ld *crashLedger) {
			checkPostgres(t, dsn, ld)
		})
	})
}

// crash runs the rounds on one backend, then checks the whole ledger on a
// restarted server, kills it, and runs checkDB on the database.
func crash(t *testing.T, bin string, env []string, cliEnv func(string) string, rng *rand.Rand, checkDB func(*testing.T, *crashLedger)) {
	start := time.Now()
	// The first start creates the database, the administrator and, for
	// SQLite, the secret file; the token is minted after it.
	srv := startReplica(t, bin, env)
	admin := mustCLI(t, cliEnv, "token", "create", "--user", "admin", "--name", "crash")
	ld := &crashLedger{ids: map[string]bool{}}
	kills := 0
	for round := range crashKills {
		delay := crashMinDelay + time.Duration(rng.Int64N(int64(crashMaxDelay-crashMinDelay)+1))
		before := len(ld.tokens)
		crashRound(t, srv, admin, ld, round, delay, rng)
		kills++
		if t.Failed() {
			t.FailNow()
		}
		srv = startReplica(t, bin, env) // fails the test if it does not come back
		verifyCrashTokens(t, srv, admin, fmt.Sprintf("after kill %d", round+1), ld.tokens[before:])
		if t.Failed() {
			t.FailNow()
		}
	}
	if len(ld.tokens) == 0 || ld.revokesAcked == 0 {
		t.Fatalf("%d creates and %d revokes acknowledged over %d rounds: the traffic did not run", len(ld.tokens), ld.revokesAcked, crashKills)
	}
	// Every acknowledged write of every round, after every later crash.
	verifyCrashTokens(t, srv, admin, "after the last round", ld.tokens)
	// A last kill, of an idle server, before the database is examined.
	killCrashServer(t, srv, "the last kill")
	kills++
	checkDB(t, ld)
	t.Logf("%d kills; creates: %d acknowledged, %d in flight at a kill; revokes: %d acknowledged, %d in flight at a kill; %v",
		kills, len(ld.tokens), ld.createsUnknown, ld.revokesAcked, ld.revokesUnknown, time.Since(start).Round(time.Millisecond))
}

// crashRound runs the workers against srv and kills it after delay.
func crashRound(t *testing.T, srv *replica, admin string, ld *crashLedger, round int, delay time.Duration, rng *rand.Rand) {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: crashWorkers * 2}}
	defer hc.CloseIdleConnections()
	newClient := func(token string) *client.Client {
		c, err := client.New(srv.base, client.WithBearerToken(token), client.WithHTTPClient(hc))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := newClient(admin)
	// A safety bound: the kill ends every request long before.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	// The kill comes delay after the round's first acknowledged write, so
	// that on a machine of any speed and load every round crashes a server
	// that is taking traffic.
	started := make(chan struct{})
	ackedOnce := sync.OnceFunc(func() { close(started) })
	var wg sync.WaitGroup
	for w := range crashWorkers {
		wrng := rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
		wg.Go(func() {
			var mine []*crashToken // created, not yet sent to DELETE
			for n := range crashMaxOps {
				made, err := c.CreateToken(ctx, 1, client.CreateTokenRequest{Name: fmt.Sprintf("crash r%d w%d n%d", round, w, n)})
				if err != nil {
					if client.StatusCode(err) != 0 {
						t.Errorf("round %d: a create was answered %v", round, err)
					} else {
						ld.mu.Lock()
						ld.createsUnknown++
						ld.mu.Unlock()
					}
					return
				}
				tok := &crashToken{id: made.Token.ID, jwt: made.AccessToken, round: round}
				ld.mu.Lock()
				dup := ld.ids[tok.id]
				ld.ids[tok.id] = true
				ld.tokens = append(ld.tokens, tok)
				ld.mu.Unlock()
				ackedOnce()
				if dup {
					t.Errorf("round %d: token id %s created twice", round, tok.id)
				}
				mine = append(mine, tok)
				if wrng.IntN(3) != 0 {
					continue
				}
				i := wrng.IntN(len(mine))
				victim := mine[i]
				mine = append(mine[:i], mine[i+1:]...)
				err = c.DeleteToken(ctx, 1, victim.id)
				if err != nil {
					if client.StatusCode(err) != 0 {
						t.Errorf("round %d: the revocation of %s was answered %v", round, victim.id, err)
						return
					}
					ld.mu.Lock()
					victim.revoke = revokeUnknown
					ld.revokesUnknown++
					ld.mu.Unlock()
					return
				}
				ld.mu.Lock()
				victim.revoke = revokeAcked
				ld.revokesAcked++
				ld.mu.Unlock()
				// From the 204 on the token authenticates nothing.
				_, err = newClient(victim.jwt).Token(ctx, 1, victim.id)
				switch client.StatusCode(err) {
				case 0:
					if err == nil {
						t.Errorf("round %d: token %s accepted after its revocation was answered 204", round, victim.id)
					}
					return // no answer: the server is gone
				case http.StatusUnauthorized:
				default:
					t.Errorf("round %d: token %s used after its revocation: %v, want 401", round, victim.id, err)
				}
			}
		})
	}
	select {
	case <-started:
	case <-ctx.Done():
	}
	time.Sleep(delay)
	killCrashServer(t, srv, fmt.Sprintf("kill %d, %v after the first write of round %d", round+1, delay, round))
	wg.Wait()
}

// killCrashServer sends SIGKILL to srv and reaps it.
func killCrashServer(t *testing.T, srv *replica, what string) {
	t.Helper()
	if err := srv.cmd.Process.Kill(); err != nil {
		t.Errorf("%s: the server had already ended: %v\n%s", what, err, srv.log.String())
	}
	err := srv.cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Errorf("%s: waiting for the server: %v", what, err)
		return
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("%s: the server ended with %v, not by the SIGKILL\n%s", what, err, srv.log.String())
	}
}

// verifyCrashTokens checks tokens on srv, as the administrator and as each
// token: each is there; one revoked with a 204 says revoked and is refused;
// one never sent to DELETE is not revoked and authenticates.
func verifyCrashTokens(t *testing.T, srv *replica, admin, when string, tokens []*crashToken) {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: crashWorkers * 2}}
	defer hc.CloseIdleConnections()
	c, err := client.New(srv.base, client.WithBearerToken(admin), client.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	next := make(chan *crashToken)
	var wg sync.WaitGroup
	for range crashWorkers {
		wg.Go(func() {
			for tok := range next {
				got, err := c.Token(t.Context(), 1, tok.id)
				if err != nil {
					t.Errorf("%s: token %s, created with a 201 in round %d: %v", when, tok.id, tok.round, err)
					continue
				}
				switch {
				case tok.revoke == revokeAcked && !got.Revoked:
					t.Errorf("%s: token %s, revoked with a 204 in round %d, says revoked: false", when, tok.id, tok.round)
				case tok.revoke == notRevoked && got.Revoked:
					t.Errorf("%s: token %s, created in round %d and never sent to DELETE, says revoked: true", when, tok.id, tok.round)
				}
				// A token in flight to DELETE at a kill may be either, but
				// authenticates as it says.
				own, err := client.New(srv.base, client.WithBearerToken(tok.jwt), client.WithHTTPClient(hc))
				if err != nil {
					t.Error(err)
					continue
				}
				_, err = own.Token(t.Context(), 1, tok.id)
				switch {
				case got.Revoked && client.StatusCode(err) != http.StatusUnauthorized:
					t.Errorf("%s: token %s, revoked (state %d) in round %d, used: %v, want 401", when, tok.id, tok.revoke, tok.round, err)
				case !got.Revoked && err != nil:
					t.Errorf("%s: token %s, not revoked, created in round %d, used: %v", when, tok.id, tok.round, err)
				}
			}
		})
	}
	for _, tok := range tokens {
		next <- tok
	}
	close(next)
	wg.Wait()
}

// checkCounts checks the database's token counts against the ledger: the
// administrator's "crash" token plus every create answered 201, and at most
// those in flight at a kill besides; likewise for revocations.
func checkCounts(t *testing.T, total, revoked int, ld *crashLedger) {
	t.Helper()
	if lo, hi := 1+len(ld.tokens), 1+len(ld.tokens)+ld.createsUnknown; total < lo || total > hi {
		t.Errorf("the database holds %d tokens, want %d to %d", total, lo, hi)
	}
	if lo, hi := ld.revokesAcked, ld.revokesAcked+ld.revokesUnknown; revoked < lo || revoked > hi {
		t.Errorf("the database holds %d revoked tokens, want %d to %d", revoked, lo, hi)
	}
	t.Logf("database: %d tokens, %d revoked", total, revoked)
}

const (
	crashCountQuery = `SELECT count(*), count(*) FILTER (WHERE revoked) FROM oauth_access_tokens`
	// Tokens whose user or client is missing.
	crashOrphanQuery = `SELECT count(*) FROM oauth_access_tokens t
		LEFT JOIN users u ON u.id = t.user_id
		LEFT JOIN oauth_clients c ON c.id = t.client_id
		WHERE u.id IS NULL OR c.id IS NULL`
)

// checkSQLite opens the database file the killed server left and checks
// its integrity, its foreign keys and its counts.
func checkSQLite(t *testing.T, path string, ld *crashLedger) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := t.Context()
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		t.Fatal(err)
	}
	var integrity []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		integrity = append(integrity, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(integrity) != 1 || integrity[0] != "ok" {
		t.Errorf("PRAGMA integrity_check = %q, want ok", integrity)
	}
	rows, err = db.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		t.Fatal(err)
	}
	violations := 0
	for rows.Next() {
		violations++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if violations > 0 {
		t.Errorf("PRAGMA foreign_key_check: %d violations", violations)
	}
	var total, revoked, orphans int
	if err := db.QueryRowContext(ctx, crashCountQuery).Scan(&total, &revoked); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, crashOrphanQuery).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if orphans > 0 {
		t.Errorf("%d tokens whose user or client is missing", orphans)
	}
	checkCounts(t, total, revoked, ld)
}

// checkPostgres checks that every token's user and client exist, and the
// counts.
func checkPostgres(t *testing.T, dsn string, ld *crashLedger) {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var total, revoked, orphans int
	if err := conn.QueryRow(ctx, crashCountQuery).Scan(&total, &revoked); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, crashOrphanQuery).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if orphans > 0 {
		t.Errorf("%d tokens whose user or client is missing", orphans)
	}
	checkCounts(t, total, revoked, ld)
}
