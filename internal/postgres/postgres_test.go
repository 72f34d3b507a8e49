package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/pgtest"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/storetest"
)

// testDSN returns the DSN of the test database (see pgtest.DSN).
func testDSN(tb testing.TB) string { return pgtest.DSN(tb) }

// admin runs sql on a connection of its own to the test database, with
// the DSN's own search_path.
func admin(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// newSchema returns the DSN of a schema of the test's own, dropped when
// the test ends.
func newSchema(tb testing.TB) string { return pgtest.Schema(tb, testDSN(tb)) }

// withParam is pgtest.WithParam.
func withParam(tb testing.TB, dsn, key, value string) string {
	return pgtest.WithParam(tb, dsn, key, value)
}

// openDSN opens the store at dsn and closes it when the test ends.
func openDSN(tb testing.TB, dsn string, opts Options) *DB {
	tb.Helper()
	db, err := Open(tb.Context(), dsn, opts)
	if err != nil {
		tb.Fatalf("Open() = %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// open opens and migrates a store in a new schema.
func open(tb testing.TB) *DB {
	tb.Helper()
	db := openDSN(tb, newSchema(tb), Options{})
	if err := db.Migrate(tb.Context()); err != nil {
		tb.Fatalf("Migrate() = %v", err)
	}
	return db
}

// migrated returns a pgtest.Migrated for the subtests of t, whose schemas
// Migrate brings up to date, and setup, if any, then runs in.
func migrated(t *testing.T, setup string) *pgtest.Migrated {
	return pgtest.NewMigrated(t, testDSN(t), func(ctx context.Context, dsn string) error {
		db, err := Open(ctx, dsn, Options{})
		if err != nil {
			return err
		}
		defer db.Close()
		if err := db.Migrate(ctx); err != nil {
			return err
		}
		if setup != "" {
			_, err = db.pool.Exec(ctx, setup)
		}
		return err
	})
}

// TestStore runs the conformance suite, each subtest in a migrated schema
// of its own, which pgtest.Migrated resets for the next subtest rather than
// migrating a new one each time.
func TestStore(t *testing.T) {
	schemas := migrated(t, "")
	storetest.Run(t, func(t *testing.T) latchkey.Store { return openDSN(t, schemas.Schema(t), Options{}) })
}

func BenchmarkStore(b *testing.B) {
	testDSN(b)
	storetest.Benchmark(b, func(b *testing.B) latchkey.Store { return open(b) })
}

// TestMigrateConcurrentHandles migrates one new schema from several store
// handles at once, as replicas that start together would: every call
// succeeds, and each migration is applied and recorded once.
func TestMigrateConcurrentHandles(t *testing.T) {
	dsn := newSchema(t)
	const n = 5
	var handles []*DB
	for range n {
		handles = append(handles, openDSN(t, dsn, Options{}))
	}
	var wg sync.WaitGroup
	for i, db := range handles {
		wg.Go(func() {
			if err := db.Migrate(t.Context()); err != nil {
				t.Errorf("handle %d: concurrent Migrate() = %v, want nil", i, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	ms, err := migrations()
	if err != nil {
		t.Fatalf("migrations() = %v", err)
	}
	db := handles[0]
	for _, m := range ms {
		var count int
		err := db.pool.QueryRow(t.Context(),
			`SELECT count(*) FROM schema_migrations WHERE version = $1 AND name = $2`,
			m.Version, m.Name).Scan(&count)
		if err != nil {
			t.Fatal(err)
		}
		if count != 1 {
			t.Errorf("schema_migrations has %d rows of %s, want 1", count, m.Name)
		}
	}
	clients, err := db.Clients(t.Context())
	if err != nil {
		t.Fatalf("Clients() = %v", err)
	}
	if len(clients) != 1 || clients[0].ID != latchkey.PersonalAccessClientID {
		t.Errorf("after concurrent Migrate, Clients() = %d clients, want the personal access client alone", len(clients))
	}
}

func TestMigrationsRecorded(t *testing.T) {
	db := open(t)
	ms, err := migrations()
	if err != nil {
		t.Fatalf("migrations() = %v", err)
	}
	if len(ms) == 0 || ms[0].Version != 1 || ms[0].Name != "0001_init" {
		t.Fatalf("migrations() = %v, want 0001_init first", ms)
	}
	var want []string
	for _, m := range ms {
		want = append(want, fmt.Sprint(m.Version, " ", m.Name))
	}
	rows, err := db.pool.Query(t.Context(), `SELECT version, name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var v int
		var name string
		err := r.Scan(&v, &name)
		return fmt.Sprint(v, " ", name), err
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("schema_migrations mismatch (-want +got):\n%s", diff)
	}
}

// TestMigrateTakesTurns holds the migration lock of a schema in another
// transaction for longer than the statement timeout: Migrate waits for it
// rather than failing.
func TestMigrateTakesTurns(t *testing.T) {
	dsn := newSchema(t)
	db := openDSN(t, dsn, Options{StatementTimeout: 50 * time.Millisecond})
	holder := openDSN(t, dsn, Options{StatementTimeout: -1})

	tx, err := holder.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.WithoutCancel(t.Context()))
	_, err = tx.Exec(t.Context(),
		`SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, int32(migrateLock))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- db.Migrate(t.Context()) }()
	select {
	case err := <-done:
		t.Fatalf("Migrate() = %v while another transaction holds the lock, want it to wait", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Migrate() after the lock was released = %v, want nil", err)
	}

	// Up to date, Migrate only reads: it does not wait for the lock.
	tx, err = holder.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.WithoutCancel(t.Context()))
	_, err = tx.Exec(t.Context(),
		`SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, int32(migrateLock))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := db.Migrate(ctx); err != nil {
		t.Errorf("Migrate() of an up-to-date schema while another transaction holds the lock = %v, want nil", err)
	}
}

// TestIdentityContinues checks that the first client created after the
// migration, which inserts client 1 with its id, gets id 2.
func TestIdentityContinues(t *testing.T) {
	db := open(t)
	c := &latchkey.Client{Name: "App", Redirect: "http://localhost"}
	if err := db.CreateClient(t.Context(), c); err != nil {
		t.Fatalf("CreateClient() = %v", err)
	}
	if c.ID != 2 {
		t.Errorf("CreateClient set ID %d, want 2", c.ID)
	}
}

func TestOptions(t *testing.T) {
	setting := func(t *testing.T, db *DB, name string) string {
		t.Helper()
		var v string
		if err := db.pool.QueryRow(t.Context(), "SELECT current_setting($1)", name).Scan(&v); err != nil {
			t.Fatalf("current_setting(%q) = %v", name, err)
		}
		return v
	}
	dsn := newSchema(t)
	tests := []struct {
		name     string
		dsn      string
		opts     Options
		want     map[string]string
		maxConns int32
	}{
		{"Defaults", dsn, Options{}, map[string]string{
			"statement_timeout": "10s",
			"application_name":  "latchkey",
		}, 0},
		{"Options", dsn, Options{MaxConns: 3, StatementTimeout: 250 * time.Millisecond}, map[string]string{
			"statement_timeout": "250ms",
		}, 3},
		{"NoTimeout", dsn, Options{StatementTimeout: -1}, map[string]string{
			"statement_timeout": "0",
		}, 0},
		{"FromDSN", withParam(t, withParam(t, dsn, "statement_timeout", "3000"), "application_name", "other"),
			Options{}, map[string]string{
				"statement_timeout": "3s",
				"application_name":  "other",
			}, 0},
		{"OptionsOverDSN", withParam(t, dsn, "statement_timeout", "3000"), Options{StatementTimeout: time.Second},
			map[string]string{"statement_timeout": "1s"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openDSN(t, tt.dsn, tt.opts)
			for name, want := range tt.want {
				if got := setting(t, db, name); got != want {
					t.Errorf("SHOW %s = %q, want %q", name, got, want)
				}
			}
			if tt.maxConns != 0 {
				if got := db.Pool().Config().MaxConns; got != tt.maxConns {
					t.Errorf("Pool().Config().MaxConns = %d, want %d", got, tt.maxConns)
				}
			}
		})
	}

	t.Run("SearchPath", func(t *testing.T) {
		db := openDSN(t, dsn, Options{})
		var schema string
		if err := db.pool.QueryRow(t.Context(), "SELECT current_schema()").Scan(&schema); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(schema, "lk_test_") {
			t.Errorf("current_schema() = %q, want the test's schema", schema)
		}
	})
}

// TestStatementTimeout runs a statement longer than the timeout: the error
// it gives is EUNAVAILABLE.
func TestStatementTimeout(t *testing.T) {
	db := openDSN(t, newSchema(t), Options{StatementTimeout: 50 * time.Millisecond})
	_, err := db.pool.Exec(t.Context(), "SELECT pg_sleep(5)")
	err = wrap("sleep", err)
	if got := latchkey.ErrorCode(err); got != latchkey.EUNAVAILABLE {
		t.Errorf("ErrorCode(%v) = %q, want %q", err, got, latchkey.EUNAVAILABLE)
	}
	if pgCode(err) != codeQueryCanceled {
		t.Errorf("error %v does not wrap the PostgreSQL error", err)
	}
}

func TestStoredTimes(t *testing.T) {
	db := open(t)
	at := time.Date(2026, 3, 1, 17, 45, 10, 123456789, time.FixedZone("CET", 3600))
	u := &latchkey.User{Username: "alice", Email: "alice@example.com", Status: latchkey.StatusActive,
		CreatedAt: at, UpdatedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	if err := db.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser() = %v", err)
	}
	var created, updated string
	err := db.pool.QueryRow(t.Context(),
		`SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
			to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
		FROM users WHERE id = $1`, u.ID).Scan(&created, &updated)
	if err != nil {
		t.Fatal(err)
	}
	// Rounded, not truncated, to the microsecond.
	if want := "2026-03-01T16:45:10.123457Z"; created != want {
		t.Errorf("stored created_at = %q, want %q", created, want)
	}
	if want := "2026-03-01T00:00:00.000000Z"; updated != want {
		t.Errorf("stored updated_at = %q, want %q", updated, want)
	}
	got, err := db.User(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := at.Round(time.Microsecond); !got.CreatedAt.Equal(want) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("User().CreatedAt = %v, want %v in UTC", got.CreatedAt, want)
	}
}

func TestErrors(t *testing.T) {
	storetest.Errors(t, "postgres", func(t *testing.T) latchkey.Store { return open(t) })
}

// TestUnstorable looks up strings PostgreSQL cannot hold in text, a NUL
// byte or invalid UTF-8: no stored value equals or contains them, as in
// the SQLite backend, rather than an error.
func TestUnstorable(t *testing.T) {
	db := open(t)
	u := &latchkey.User{Username: "alice", Email: "alice@example.com", Status: latchkey.StatusActive}
	if err := db.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	tok := &latchkey.Token{ID: fmt.Sprintf("%080x", 1), UserID: u.ID, ClientID: latchkey.PersonalAccessClientID, Name: "a"}
	if err := db.CreateToken(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"\x00", "alice\x00", "\xff", "a\xc3"} {
		if _, err := db.UserByLogin(t.Context(), s); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Errorf("UserByLogin(%q) = %v, want ENOTFOUND", s, err)
		}
		if _, err := db.Token(t.Context(), s); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Errorf("Token(%q) = %v, want ENOTFOUND", s, err)
		}
		if _, err := db.Credential(t.Context(), s); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Errorf("Credential(%q) = %v, want ENOTFOUND", s, err)
		}
		if _, _, err := db.RevokeToken(t.Context(), s, time.Now(), latchkey.ReasonRevoked); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Errorf("RevokeToken(%q) = %v, want ENOTFOUND", s, err)
		}
		if users, err := db.Users(t.Context(), latchkey.UserFilter{Search: s}); err != nil || len(users) != 0 {
			t.Errorf("Users(Search: %q) = %d users, %v; want none", s, len(users), err)
		}
		f := latchkey.TokenFilter{UserID: u.ID, Name: s}
		if tokens, total, err := db.Tokens(t.Context(), f); err != nil || len(tokens) != 0 || total != 0 {
			t.Errorf("Tokens(%+v) = %d tokens, total %d, %v; want none", f, len(tokens), total, err)
		}
		if err := db.TouchTokens(t.Context(), map[string]latchkey.Use{s: {At: time.Now()}, tok.ID: {At: time.Now()}}); err != nil {
			t.Errorf("TouchTokens(%q) = %v, want nil", s, err)
		}
		if _, err := db.Grant(t.Context(), latchkey.GrantCode, s); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Errorf("Grant(code, %q) = %v, want ENOTFOUND", s, err)
		}
		if err := db.DeactivateGrant(t.Context(), latchkey.GrantCode, s); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Errorf("DeactivateGrant(code, %q) = %v, want ENOTFOUND", s, err)
		}
		if err := db.DeactivateGrants(t.Context(), latchkey.GrantCode, s); err != nil {
			t.Errorf("DeactivateGrants(code, %q) = %v, want nil", s, err)
		}
		if err := db.DeleteGrant(t.Context(), latchkey.GrantCode, s); err != nil {
			t.Errorf("DeleteGrant(code, %q) = %v, want nil", s, err)
		}
		if tokens, err := db.RevokeRequestTokens(t.Context(), s, time.Now(), latchkey.ReasonAuthorizationEnded); err != nil || len(tokens) != 0 {
			t.Errorf("RevokeRequestTokens(%q) = %d tokens, %v; want none", s, len(tokens), err)
		}
		if _, err := db.Session(t.Context(), s); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Errorf("Session(%q) = %v, want ENOTFOUND", s, err)
		}
		if err := db.DeleteSession(t.Context(), s); err != nil {
			t.Errorf("DeleteSession(%q) = %v, want nil", s, err)
		}
	}
}

// TestConcurrentRotation rotates the signing key from many goroutines at
// once, as replicas might: every call succeeds, and one key is left
// signing, every other retired when the next one was added.
func TestConcurrentRotation(t *testing.T) {
	db := open(t)
	const n = 12
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k := &latchkey.SigningKey{ID: fmt.Sprintf("kid-%02d", i), Algorithm: "RS256",
				PublicKey: []byte{byte(i)}, SealedPrivateKey: []byte{byte(i)},
				CreatedAt: time.Date(2026, 3, 1, 0, 0, i, 0, time.UTC)}
			if err := db.AddSigningKey(t.Context(), k); err != nil {
				t.Errorf("concurrent AddSigningKey(%q) = %v, want nil", k.ID, err)
			}
		})
	}
	wg.Wait()
	keys, err := db.SigningKeys(t.Context())
	if err != nil {
		t.Fatalf("SigningKeys() = %v", err)
	}
	signing := 0
	for _, k := range keys {
		if k.Signing() {
			signing++
		}
	}
	if len(keys) != n || signing != 1 {
		t.Errorf("after %d concurrent AddSigningKey calls, SigningKeys() = %d keys, %d signing; want %d and 1", n, len(keys), signing, n)
	}
}

// TestConcurrentWrites runs writes that lock overlapping rows in different
// orders, which PostgreSQL may abort as deadlocks: every call succeeds.
func TestConcurrentWrites(t *testing.T) {
	db := open(t)
	u := &latchkey.User{Username: "alice", Email: "alice@example.com", Status: latchkey.StatusActive}
	if err := db.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	apps := make([]*latchkey.Client, 4)
	for i := range apps {
		apps[i] = &latchkey.Client{Name: fmt.Sprint("app ", i), Redirect: "http://localhost"}
		if err := db.CreateClient(t.Context(), apps[i]); err != nil {
			t.Fatal(err)
		}
	}
	const n = 40
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%080x", i+1)
		tok := &latchkey.Token{ID: ids[i], UserID: u.ID, ClientID: apps[i%len(apps)].ID, Name: "t"}
		if err := db.CreateToken(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for round := range 10 {
				uses := map[string]latchkey.Use{}
				for i := range n / 2 {
					at := base.Add(time.Duration(g*100+round) * time.Second)
					uses[ids[(g*7+i*3+round)%n]] = latchkey.Use{At: at, Addrs: map[string]latchkey.Span{"192.0.2.1": {First: at, Last: at}}}
				}
				if err := db.TouchTokens(t.Context(), uses); err != nil {
					t.Errorf("concurrent TouchTokens() = %v", err)
					return
				}
			}
		})
	}
	for _, app := range apps {
		wg.Go(func() {
			if _, err := db.RevokeClient(t.Context(), app.ID, base); err != nil {
				t.Errorf("concurrent RevokeClient(%d) = %v", app.ID, err)
			}
		})
	}
	for i := range 2 {
		wg.Go(func() {
			for round := range 20 {
				upd := latchkey.UserUpdate{FirstName: new(fmt.Sprint(round))}
				if i == 1 {
					upd = latchkey.UserUpdate{LastName: new(fmt.Sprint(round))}
				}
				if _, err := db.UpdateUser(t.Context(), u.ID, upd, base); err != nil {
					t.Errorf("concurrent UpdateUser() = %v", err)
					return
				}
			}
		})
	}
	wg.Wait()

	_, total, err := db.Tokens(t.Context(), latchkey.TokenFilter{UserID: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	if total != 0 {
		t.Errorf("after revoking every client, %d tokens are live, want 0", total)
	}
	got, err := db.User(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Neither updater's writes were lost to the other's.
	if got.FirstName != "19" || got.LastName != "19" {
		t.Errorf("after concurrent updates, user is %q %q, want %q %q", got.FirstName, got.LastName, "19", "19")
	}
}

func TestRetry(t *testing.T) {
	serialization := &pgconn.PgError{Code: codeSerializationFailure}
	deadlock := &pgconn.PgError{Code: codeDeadlockDetected}
	unique := &pgconn.PgError{Code: codeUniqueViolation}
	tests := []struct {
		name  string
		errs  []error // what each call of fn returns; nil after the end
		calls int
		code  string // of the wrapped result
	}{
		{"Success", nil, 1, ""},
		{"SerializationThenSuccess", []error{serialization, serialization}, 3, ""},
		{"DeadlockThenSuccess", []error{deadlock}, 2, ""},
		{"GivesUp", []error{serialization, deadlock, serialization, deadlock, serialization}, maxAttempts, latchkey.EUNAVAILABLE},
		{"NotRetryable", []error{unique}, 1, latchkey.ECONFLICT},
		{"Wrapped", []error{fmt.Errorf("commit: %w", serialization)}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := retry(t.Context(), func() error {
				calls++
				if calls <= len(tt.errs) {
					return tt.errs[calls-1]
				}
				return nil
			})
			if calls != tt.calls {
				t.Errorf("retry called fn %d times, want %d", calls, tt.calls)
			}
			if err != nil {
				err = wrap("op", err)
			}
			if got := latchkey.ErrorCode(err); got != tt.code {
				t.Errorf("ErrorCode(%v) = %q, want %q", err, got, tt.code)
			}
		})
	}

	t.Run("CanceledContext", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		calls := 0
		err := retry(ctx, func() error {
			calls++
			cancel()
			return serialization
		})
		if calls != 1 || !errors.Is(err, serialization) {
			t.Errorf("retry with a canceled context = %v after %d calls, want the first error after 1", err, calls)
		}
	})
}

func TestWrap(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code string
	}{
		{"NoRows", pgx.ErrNoRows, latchkey.ENOTFOUND},
		{"Unique", &pgconn.PgError{Code: codeUniqueViolation}, latchkey.ECONFLICT},
		{"ForeignKey", &pgconn.PgError{Code: codeForeignKeyViolation}, latchkey.ENOTFOUND},
		{"StatementTimeout", &pgconn.PgError{Code: codeQueryCanceled}, latchkey.EUNAVAILABLE},
		{"LockTimeout", &pgconn.PgError{Code: codeLockNotAvailable}, latchkey.EUNAVAILABLE},
		{"ConnectionFailure", &pgconn.PgError{Code: "08006"}, latchkey.EUNAVAILABLE},
		{"Shutdown", &pgconn.PgError{Code: codeAdminShutdown}, latchkey.EUNAVAILABLE},
		{"StartingUp", &pgconn.PgError{Code: codeCannotConnectNow}, latchkey.EUNAVAILABLE},
		{"TooManyConnections", &pgconn.PgError{Code: codeTooManyConnections}, latchkey.EUNAVAILABLE},
		{"Deadlock", &pgconn.PgError{Code: codeDeadlockDetected}, latchkey.EUNAVAILABLE},
		{"Syntax", &pgconn.PgError{Code: "42601"}, latchkey.EINTERNAL},
		{"EOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), latchkey.EUNAVAILABLE},
		{"ConnClosed", fmt.Errorf("query: %w", pgconn.ErrConnClosed), latchkey.EUNAVAILABLE},
		{"Network", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}, latchkey.EUNAVAILABLE},
		{"Deadline", context.DeadlineExceeded, latchkey.EUNAVAILABLE},
		{"Canceled", context.Canceled, latchkey.EINTERNAL},
		{"Domain", latchkey.Errorf(latchkey.EINVALID, "No."), latchkey.EINVALID},
		{"Other", errors.New("boom"), latchkey.EINTERNAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := wrap("op", tt.err)
			if got := latchkey.ErrorCode(err); got != tt.code {
				t.Errorf("ErrorCode(wrap(%v)) = %q, want %q", tt.err, got, tt.code)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("wrap(%v) = %v, which does not wrap the cause", tt.err, err)
			}
			if msg := latchkey.ErrorMessage(err); strings.Contains(msg, "SQLSTATE") || strings.Contains(msg, "SELECT") {
				t.Errorf("ErrorMessage(wrap(%v)) = %q, want a caller-safe sentence", tt.err, msg)
			}
			if !strings.HasPrefix(err.Error(), "postgres: op: ") {
				t.Errorf("wrap(%v) = %q, want the prefix %q", tt.err, err, "postgres: op: ")
			}
		})
	}
}

func TestCanceledContext(t *testing.T) {
	db := open(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := db.User(ctx, 1)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("User(canceled context) = %v, want context.Canceled", err)
	}
	if latchkey.ErrorCode(err) != latchkey.EINTERNAL {
		t.Errorf("ErrorCode(%v) = %q, want %q", err, latchkey.ErrorCode(err), latchkey.EINTERNAL)
	}

	// Canceled while the query runs.
	ctx, cancel = context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = db.pool.Exec(ctx, "SELECT pg_sleep(5)")
	err = wrap("sleep", err)
	if code := latchkey.ErrorCode(err); code == latchkey.EUNAVAILABLE {
		t.Errorf("a query the caller canceled gives %v, code %q, want no EUNAVAILABLE", err, code)
	}
}

func TestPingAfterClose(t *testing.T) {
	db, err := Open(t.Context(), newSchema(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := db.Ping(t.Context()); err == nil {
		t.Errorf("Ping() after Close = nil, want an error")
	}
}

// TestUnreachable opens stores on addresses where no database answers:
// each fails soon, with EUNAVAILABLE. It needs no database.
func TestUnreachable(t *testing.T) {
	// silent accepts connections and never says a word.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()

	tests := []struct {
		name string
		dsn  string
	}{
		{"Refused", "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5"},
		{"Silent", "postgres://postgres@" + silent.Addr().String() + "/test?sslmode=disable&connect_timeout=1"},
		{"SilentKeywords", "host=127.0.0.1 port=" + strconv.Itoa(silent.Addr().(*net.TCPAddr).Port) +
			" user=postgres dbname=test sslmode=disable connect_timeout=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The guard against a hang, should the connect timeout fail.
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			db, err := Open(ctx, tt.dsn, Options{})
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) = nil error, want EUNAVAILABLE", tt.dsn)
			}
			if ctx.Err() != nil {
				t.Errorf("Open(%q) outlasted its guard: %v", tt.dsn, err)
			}
			if got := latchkey.ErrorCode(err); got != latchkey.EUNAVAILABLE {
				t.Errorf("ErrorCode(Open(%q)) = %q (%v), want %q", tt.dsn, got, err, latchkey.EUNAVAILABLE)
			}
			var ce *pgconn.ConnectError
			if !errors.As(err, &ce) {
				t.Errorf("Open(%q) = %v, which does not wrap the connect error", tt.dsn, err)
			}
		})
	}
}

// proxy forwards TCP connections to a database until it is stopped.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
}

// startProxy starts a proxy to target, and stops it when the test ends.
func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		d, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, d)
		p.mu.Unlock()
		go func() { io.Copy(d, c); d.Close() }()
		go func() { io.Copy(c, d); c.Close() }()
	}
}

// stop closes the listener and every connection, as a database that went
// away would.
func (p *proxy) stop() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestDatabaseGone opens a store through a proxy, then stops the proxy:
// Ping and the reads that follow fail with EUNAVAILABLE, without hanging.
func TestDatabaseGone(t *testing.T) {
	dsn := newSchema(t)
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(cfg.Host, "/") {
		t.Skipf("the test database is on a Unix socket, %s", cfg.Host)
	}
	p := startProxy(t, net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)))
	var proxied string
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		u.Host = p.ln.Addr().String()
		proxied = u.String()
	} else {
		_, port, _ := net.SplitHostPort(p.ln.Addr().String())
		proxied = withParam(t, withParam(t, dsn, "host", "127.0.0.1"), "port", port)
	}
	db := openDSN(t, withParam(t, proxied, "connect_timeout", "5"), Options{})
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate() = %v", err)
	}
	if err := db.Ping(t.Context()); err != nil {
		t.Fatalf("Ping() through the proxy = %v", err)
	}

	p.stop()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := db.Ping(ctx); latchkey.ErrorCode(err) != latchkey.EUNAVAILABLE {
		t.Errorf("Ping() with the database gone = %v, want EUNAVAILABLE", err)
	}
	if _, err := db.Credential(ctx, fmt.Sprintf("%080x", 1)); latchkey.ErrorCode(err) != latchkey.EUNAVAILABLE {
		t.Errorf("Credential() with the database gone = %v, want EUNAVAILABLE", err)
	}
	if err := db.AddSigningKey(ctx, &latchkey.SigningKey{ID: "k"}); latchkey.ErrorCode(err) != latchkey.EUNAVAILABLE {
		t.Errorf("AddSigningKey() with the database gone = %v, want EUNAVAILABLE", err)
	}
	if ctx.Err() != nil {
		t.Errorf("the calls outlasted their guard")
	}
}

// TestDeadlockRetried makes RevokeClient the victim of a real deadlock: it
// locks the client's row, then waits for a token's row that another
// transaction holds, which then waits for the client's row. PostgreSQL
// aborts RevokeClient's transaction, and RevokeClient runs it again.
func TestDeadlockRetried(t *testing.T) {
	// The deadlock detector aborts one of the two transactions, usually the
	// one that began waiting first (RevokeClient's); when it picks the
	// other, RevokeClient was never deadlocked, and the scene is played
	// again, a bounded number of times: a run that never exercised the
	// retry fails rather than skips.
	for attempt := 1; attempt <= 5; attempt++ {
		if deadlockOnce(t, attempt) {
			return
		}
		t.Logf("attempt %d: the deadlock detector picked the other transaction; again", attempt)
	}
	t.Fatal("in 5 attempts RevokeClient was never the deadlock's victim; its retry is untested")
}

// deadlockOnce deadlocks RevokeClient against another transaction and
// checks that RevokeClient retried and succeeded. It reports false when the
// detector aborted the other transaction instead.
func deadlockOnce(t *testing.T, attempt int) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	app := fmt.Sprintf("latchkey_deadlock_test_%d", attempt)
	dsn := withParam(t, newSchema(t), "application_name", app)
	db := openDSN(t, dsn, Options{})
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	u := &latchkey.User{Username: "alice", Email: "alice@example.com", Status: latchkey.StatusActive}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	client := &latchkey.Client{Name: "App", Redirect: "http://localhost"}
	if err := db.CreateClient(ctx, client); err != nil {
		t.Fatal(err)
	}
	tok := &latchkey.Token{ID: fmt.Sprintf("%080x", 1), UserID: u.ID, ClientID: client.ID, Name: "t"}
	if err := db.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}

	other := openDSN(t, testDSN(t), Options{StatementTimeout: -1})
	tx, err := other.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// So that the detector surely picks RevokeClient's transaction; changing
	// the setting needs a superuser, and without one the order of the waits
	// usually does the same.
	if _, err := tx.Exec(ctx, `SAVEPOINT s; SET LOCAL deadlock_timeout = '60s'`); err != nil {
		if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT s`); err != nil {
			t.Fatal(err)
		}
	}
	_, err = tx.Exec(ctx, `SELECT 1 FROM `+schemaOf(t, db)+`.oauth_access_tokens WHERE id = $1 FOR UPDATE`, tok.ID)
	if err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() { _, err := db.RevokeClient(ctx, client.ID, time.Now()); done <- err }()
	// Wait until RevokeClient waits for the token's row; the context's
	// deadline bounds the wait.
	for waiting := false; !waiting; {
		err := other.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE application_name = $1 AND wait_event_type = 'Lock')`, app).Scan(&waiting)
		if err != nil {
			t.Fatalf("waiting for RevokeClient to wait for the lock: %v", err)
		}
	}
	_, err = tx.Exec(ctx, `SELECT 1 FROM `+schemaOf(t, db)+`.oauth_clients WHERE id = $1 FOR UPDATE`, client.ID)
	if pgCode(err) == codeDeadlockDetected {
		_ = tx.Rollback(ctx)
		if err := <-done; err != nil {
			t.Fatalf("RevokeClient() when the other transaction lost = %v, want nil", err)
		}
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("RevokeClient() after a deadlock = %v, want nil", err)
	}
	got, err := db.Token(ctx, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Revoked || !got.Client.Revoked {
		t.Errorf("after RevokeClient, token revoked %t, client revoked %t; want both", got.Revoked, got.Client.Revoked)
	}
	return true
}

// schemaOf returns the schema the store works in.
func schemaOf(t *testing.T, db *DB) string {
	t.Helper()
	var schema string
	if err := db.pool.QueryRow(t.Context(), "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	return schema
}
