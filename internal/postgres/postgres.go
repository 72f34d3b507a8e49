// Package postgres is the PostgreSQL storage backend of Latchkey: it
// implements latchkey.Store on a pool of connections (pgx's pgxpool), for
// installs that run several replicas on one database.
//
// It behaves as the SQLite backend does, down to the order of lists: names
// and search fields are folded in Go with strings.ToLower and stored beside
// the originals, the columns lists sort by compare byte by byte (COLLATE
// "C"), times are rounded to the microsecond before they are stored and
// read back in UTC, and filters match literal substrings.
//
// Everything about the connection comes from the DSN (host, TLS with
// sslmode, search_path, …); Options adds the pool size and a statement
// timeout. Native errors become the domain's codes, by the translation
// both stores share (internal/storeerr): a unique violation is ECONFLICT,
// a foreign key violation or a missing row ENOTFOUND, and a connection
// failure or a timeout EUNAVAILABLE. Operations that are one
// transaction are retried a few times when PostgreSQL aborts them for a
// serialization failure or a deadlock.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/migration"
	"github.com/latchkey/latchkey/internal/storeerr"
)

// DB is a Latchkey store in a PostgreSQL database. It is safe for
// concurrent use.
type DB struct {
	pool *pgxpool.Pool

	// The ids of the personal access clients, as Tokens last read them.
	personal atomic.Pointer[[]int64]

	// The NOTIFY channel of the schema, found on first successful use.
	chanMu   sync.Mutex
	chanName string

	log *slog.Logger
}

var _ latchkey.Store = (*DB)(nil)

// Options tunes the connection pool. The zero value is the defaults.
type Options struct {
	// MaxConns is the most connections the pool opens; 0 keeps the DSN's
	// pool_max_conns, or pgxpool's default, the greater of 4 and the
	// number of CPUs.
	MaxConns int32
	// StatementTimeout is how long PostgreSQL lets one statement run
	// before it cancels it; 0 keeps the DSN's statement_timeout, or
	// DefaultStatementTimeout, and a negative value means no limit.
	StatementTimeout time.Duration
	// Logger hears what the store cannot return to a caller: a listener
	// for other replicas' changes that lost its connection. nil discards.
	Logger *slog.Logger
}

// DefaultStatementTimeout is the statement timeout of a pool whose Options
// and DSN set none.
const DefaultStatementTimeout = 10 * time.Second

// DefaultConnectTimeout is how long establishing a connection may take
// when the DSN sets no connect_timeout.
const DefaultConnectTimeout = 10 * time.Second

// Open opens a pool of connections to the database that dsn names, a URL
// (postgres://user@host:5432/db?sslmode=verify-full) or a keyword/value
// string, and checks that the database answers. Run-time parameters in the
// DSN, such as search_path, apply to every connection. Open does not
// migrate the schema: call Migrate before the first use. EUNAVAILABLE when
// the database cannot be reached.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	cc := cfg.ConnConfig
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = DefaultConnectTimeout
	}
	switch {
	case opts.StatementTimeout > 0:
		cc.RuntimeParams["statement_timeout"] = milliseconds(opts.StatementTimeout)
	case opts.StatementTimeout < 0:
		cc.RuntimeParams["statement_timeout"] = "0"
	default:
		if _, ok := cc.RuntimeParams["statement_timeout"]; !ok {
			cc.RuntimeParams["statement_timeout"] = milliseconds(DefaultStatementTimeout)
		}
	}
	if _, ok := cc.RuntimeParams["application_name"]; !ok {
		cc.RuntimeParams["application_name"] = "latchkey"
	}
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		// Times come back in UTC, as the contracts promise.
		conn.TypeMap().RegisterType(&pgtype.Type{
			Name:  "timestamptz",
			OID:   pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC},
		})
		return nil
	}

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, wrap("open", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &DB{pool: pool, log: log}, nil
}

// milliseconds returns d as a PostgreSQL setting in milliseconds, at least
// 1, since 0 would mean no limit.
func milliseconds(d time.Duration) string {
	return strconv.FormatInt(max(d.Milliseconds(), 1), 10)
}

// Pool returns the pool of connections, for what the store does not do,
// such as LISTEN and NOTIFY. Closing the store closes it.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Close closes every connection of the pool, waiting for the connections
// in use to be released.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// writeProbe is a write that changes nothing: an UPDATE that matches no
// row. PostgreSQL checks it as any write (a read-only transaction or
// replica, the role's privileges) before it finds that no row matches,
// and writes nothing for it: no transaction id, no row version, no WAL.
const writeProbe = `UPDATE oauth_access_tokens SET revoked = revoked WHERE false`

// Ping reports whether the database answers, and whether it accepts a
// write, with writeProbe. It writes nothing. EUNAVAILABLE when the
// database cannot be reached.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return wrap("ping", err)
	}
	if _, err := db.pool.Exec(ctx, writeProbe); err != nil {
		return wrap("ping: writing", err)
	}
	return nil
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations returns the embedded migrations by version ascending.
func migrations() ([]migration.Migration, error) {
	return migration.Load(migrationFiles, "migrations")
}

// migrateLock is the first key of the advisory lock that Migrate takes;
// the second is the hash of the schema it migrates, so that stores in
// different schemas of one database do not wait for each other.
const migrateLock = 0x4c4b4d47 // "LKMG"

// Migrate applies the migrations the database lacks, each in a transaction
// of its own that also records it in schema_migrations. Each transaction
// first takes a transaction-level advisory lock on the schema, so that
// processes that migrate one database at once apply each migration once:
// the others wait for the lock, then find the migration recorded. The
// migrations run without the statement timeout; ctx bounds them. On an
// up-to-date database Migrate only reads schema_migrations, so a role
// that may not create tables can run it.
func (db *DB) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	applied, err := db.applied(ctx)
	if err != nil {
		return wrap("migrate", err)
	}
	if !slices.ContainsFunc(ms, func(m migration.Migration) bool { return !applied[m.Version] }) {
		return nil
	}

	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL
	)`
	err = db.migrateTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, create)
		return err
	})
	if err != nil {
		return wrap("migrate", err)
	}
	for _, m := range ms {
		err := db.migrateTx(ctx, func(tx pgx.Tx) error {
			var applied bool
			err := tx.QueryRow(ctx,
				`SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`,
				m.Version).Scan(&applied)
			if err != nil || applied {
				return err
			}
			// Without arguments, Exec runs every statement of the file.
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err = tx.Exec(ctx,
				`INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())`,
				m.Version, m.Name)
			return err
		})
		if err != nil {
			return wrap("migrate "+m.Name, err)
		}
	}
	return nil
}

// applied returns the versions that schema_migrations records, none when
// the table does not exist.
func (db *DB) applied(ctx context.Context) (map[int]bool, error) {
	var exists bool
	err := db.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists)
	if err != nil || !exists {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, err
	}
	applied := map[int]bool{}
	for _, v := range versions {
		applied[v] = true
	}
	return applied, nil
}

// migrateTx runs fn in a transaction that holds the migration lock of the
// current schema and has no statement timeout.
func (db *DB) migrateTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = 0`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx,
			`SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))`,
			int32(migrateLock))
		if err != nil {
			return err
		}
		return fn(tx)
	})
}

// maxAttempts is how many times retry runs an operation.
const maxAttempts = 4

// retry runs fn, and runs it again, up to maxAttempts times in all, while
// it fails in a way that running it again may cure and that leaves nothing
// done: PostgreSQL aborted its transaction for a serialization failure or
// a deadlock, or the driver failed before it sent anything. fn must start
// from scratch each time: one transaction, or one statement.
func retry(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt == maxAttempts || !retryable(err) || ctx.Err() != nil {
			return err
		}
		// A few milliseconds, doubling, with jitter so that the
		// transactions that collided do not collide again.
		backoff := time.Duration(rand.Int64N(int64(time.Millisecond)<<attempt)) + time.Millisecond
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return err
		case <-timer.C:
		}
	}
}

// retryable reports whether err leaves nothing done and may not happen
// again: a transaction PostgreSQL aborted for a serialization failure or a
// deadlock, or a failure before anything was sent on a connection that
// was established.
func retryable(err error) bool {
	switch pgCode(err) {
	case codeSerializationFailure, codeDeadlockDetected:
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return false // another attempt would wait for the same timeout
	}
	return pgconn.SafeToRetry(err)
}

// tx runs fn in a transaction with the options opts and commits it when
// fn returns nil, retrying as retry does.
func (db *DB) tx(ctx context.Context, opts pgx.TxOptions, fn func(tx pgx.Tx) error) error {
	return retry(ctx, func() error {
		return pgx.BeginTxFunc(ctx, db.pool, opts, fn)
	})
}

// The SQLSTATE codes the store tells apart.
const (
	codeUniqueViolation       = "23505"
	codeForeignKeyViolation   = "23503"
	codeSerializationFailure  = "40001"
	codeDeadlockDetected      = "40P01"
	codeQueryCanceled         = "57014" // statement_timeout, or a cancel request
	codeLockNotAvailable      = "55P03" // lock_timeout
	codeTooManyConnections    = "53300"
	codeAdminShutdown         = "57P01"
	codeCrashShutdown         = "57P02"
	codeCannotConnectNow      = "57P03"
	codeCharacterNotSupported = "22021" // e.g. a NUL byte or invalid UTF-8 in text
	codeUntranslatable        = "22P05"
)

// pgCode returns the SQLSTATE of the PostgreSQL error in err's chain, or "".
func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// constraint returns the constraint that the PostgreSQL error in err's
// chain names, or "".
func constraint(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.ConstraintName
	}
	return ""
}

// wrap adds the operation to err, and translates a native error the
// operation did not translate into the domain's code: storeerr.Translate
// of what errorKind finds. A context the caller canceled stays as it is.
func wrap(op string, err error) error {
	return fmt.Errorf("postgres: %s: %w", op, storeerr.Translate(err, errorKind(err)))
}

// errorKind returns what the native error err means: a unique or foreign key
// violation, no rows, text the database cannot store, contention that
// outlasted the retries, or a failure to reach the database or a timeout.
func errorKind(err error) storeerr.Kind {
	switch code := pgCode(err); {
	case code == codeUniqueViolation:
		return storeerr.Unique
	case code == codeForeignKeyViolation:
		return storeerr.ForeignKey
	case errors.Is(err, pgx.ErrNoRows):
		return storeerr.NoRows
	case code == codeCharacterNotSupported, code == codeUntranslatable:
		return storeerr.Unstorable
	case code == codeSerializationFailure, code == codeDeadlockDetected, code == codeLockNotAvailable:
		return storeerr.Busy
	case unavailable(err):
		return storeerr.Unavailable
	}
	return storeerr.Other
}

// unavailable reports whether err says the database could not be reached
// or did not answer in time, rather than that the request was wrong or
// the caller gave up.
func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			pe.Code == codeQueryCanceled,
			pe.Code == codeTooManyConnections,
			pe.Code == codeAdminShutdown,
			pe.Code == codeCrashShutdown,
			pe.Code == codeCannotConnectNow:
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) ||
		errors.As(err, &ne) ||
		pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}
