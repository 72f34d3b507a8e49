// Package sqlite is the SQLite storage backend of Latchkey: it implements
// latchkey.Store on one database file with modernc.org/sqlite, a driver in
// pure Go.
//
// The database runs in WAL mode, so that reads never wait for a write,
// with synchronous=NORMAL: a COMMIT writes the WAL, and a checkpoint,
// every tenth of a second on a connection of its own beside the writer,
// or by the writer at 10,000 pages, syncs it to the disk (see
// walAutocheckpoint).
// Every write goes through a single connection, in transactions that take
// the write lock as they begin (BEGIN IMMEDIATE): writers in one process
// queue up in database/sql instead of failing with SQLITE_BUSY, and writers
// in other processes wait up to the busy timeout. Token creations, which
// come in crowds, are committed in groups: those that arrive while the
// write connection is busy are committed together in its next
// transaction, each in a savepoint of its own, so that the cost of a
// COMMIT is shared (see groupTx). Reads use a pool of read-only
// connections and prepare each query once per connection, since parsing a
// query costs more than running most of ours.
//
// Times are stored as TEXT in the fixed-width UTC form
// 2006-01-02T15:04:05.000000Z, which sorts as it compares, and read back in
// UTC, rounded to the microsecond.
//
// Native errors become the domain's codes as in the PostgreSQL store, by
// the translation both share (internal/storeerr): a unique violation is
// ECONFLICT, a foreign key violation or a missing row ENOTFOUND, and a
// lock that stayed busy past the timeout EUNAVAILABLE.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/migration"
	"github.com/latchkey/latchkey/internal/storeerr"
	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// DB is a Latchkey store in an SQLite database file. It is safe for
// concurrent use.
type DB struct {
	write        *sql.DB // one connection, for every write
	read         *sql.DB // read-only connections, for reads outside a write
	checkpointer *sql.DB // one connection, for the checkpoints (see checkpoints)

	mu    sync.Mutex
	stmts map[string]*sql.Stmt // prepared reads, by query

	group group // the writes committed together (see groupTx)

	// polls, when set, starts each poll of Subscribe in place of a ticker
	// of EventPoll, so that a test polls when it chooses.
	polls chan time.Time

	// The loop of checkpoints (see checkpoints): closing stop ends it,
	// and it closes stopped.
	closing sync.Once
	stop    chan struct{}
	stopped chan struct{}
}

var _ latchkey.Store = (*DB)(nil)

// busyTimeout is how long a connection waits for a lock that another
// process holds before it gives up with SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// Open opens the database file at path, creating it if it does not exist.
// It does not migrate the schema: call Migrate before the first use.
func Open(ctx context.Context, path string) (*DB, error) {
	tick := time.NewTicker(checkpointEvery)
	db, err := openWith(ctx, path, tick.C, nil)
	if err != nil {
		tick.Stop()
		return nil, err
	}
	go func() {
		<-db.stopped
		tick.Stop()
	}()
	return db, nil
}

// openWith is Open, with the store checkpointing at each tick of
// checkpoints, and calling checkpointed, when not nil, after each of those
// checkpoints.
func openWith(ctx context.Context, path string, checkpoints <-chan time.Time, checkpointed func()) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}
	createPrivate(path)
	write, err := openOne(path)
	if err != nil {
		return nil, err
	}
	// The writer connects first: it creates the file and turns on WAL mode
	// before any reader looks at it.
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, openError(path, err)
	}

	read, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	if err := read.PingContext(ctx); err != nil {
		read.Close()
		write.Close()
		return nil, openError(path, err)
	}
	// The checkpointer writes the database file, so it is not read-only;
	// it never runs a transaction.
	checkpointer, err := openOne(path)
	if err != nil {
		read.Close()
		write.Close()
		return nil, err
	}
	db := &DB{write: write, read: read, checkpointer: checkpointer, stmts: map[string]*sql.Stmt{},
		stop: make(chan struct{}), stopped: make(chan struct{})}
	db.group.prepare = createQueries
	go db.checkpoints(checkpoints, checkpointed, db.stop, db.stopped)
	return db, nil
}

// openOne returns a pool of one read-write connection to the database at
// path, kept open for as long as the pool is.
func openOne(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// createPrivate creates the database file at path, empty and readable by
// its owner only (0600, whatever the umask), if there is none: SQLite
// would create it 0644, and it holds password hashes, emails and the
// audit log. SQLite creates the -wal and -shm files with the mode of the
// main file. If the file cannot be created here, SQLite's open says why.
func createPrivate(path string) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	_ = f.Chmod(0o600) // the umask may have taken the owner's bits too
}

// openError says plainly why the database at path could not be opened:
// SQLite's own words ("unable to open database file") do not say whether
// the path is wrong, is not a database, or lies in a directory that
// cannot be written.
func openError(path string, err error) error {
	dir := filepath.Dir(path)
	var why string
	code := sqliteCode(err)
	switch {
	case code&0xff == sqlite3.SQLITE_NOTADB:
		why = "the file is not an SQLite database"
	case code == sqlite3.SQLITE_READONLY_DIRECTORY, code&0xff == sqlite3.SQLITE_READONLY && !writableDir(dir):
		why = "cannot write the directory " + dir + ": SQLite keeps its journal files (-wal, -shm) beside the database"
	case code&0xff == sqlite3.SQLITE_READONLY:
		why = "the database cannot be written (is the file read-only?)"
	case code&0xff == sqlite3.SQLITE_CANTOPEN:
		why = cantOpen(path, dir)
	}
	if why == "" {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return fmt.Errorf("sqlite: open %s: %s (%w)", path, why, err)
}

// cantOpen says why SQLite could not open or create the file at path.
func cantOpen(path, dir string) string {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return "it is a directory, not an SQLite database file"
	} else if err == nil {
		return "the file cannot be opened for reading and writing (its permissions?)"
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if strings.Contains(path, "://") {
			return "it looks like a URL, but only postgres:// and postgresql:// URLs name a database server; anything else is the path of an SQLite file, and the directory " + dir + " does not exist"
		}
		return "the directory " + dir + " does not exist"
	case err != nil:
		return "cannot reach the directory " + dir + ": " + err.Error()
	case !fi.IsDir():
		return dir + " is not a directory"
	case !writableDir(dir):
		return "cannot create the database: the directory " + dir + " cannot be written"
	}
	return ""
}

// writableDir reports whether a file can be created in dir, by creating
// and removing one. It runs only when opening the database failed.
func writableDir(dir string) bool {
	f, err := os.CreateTemp(dir, ".latchkey-probe-*")
	if err != nil {
		return false
	}
	f.Close()
	os.Remove(f.Name())
	return true
}

// dsn returns the data source name of a connection to the file at path.
// The pragmas run on every new connection: foreign keys and the busy
// timeout are per connection, and WAL mode is set once per file but costs
// nothing to repeat.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		// A write transaction takes the write lock when it begins, so it
		// never fails to upgrade a read lock halfway through.
		q.Set("_txlock", "immediate")
		// The savepoints of a group commit (see groupTx) journal the
		// pages each write changes, for its rollback alone: in memory,
		// not in a temporary file.
		q.Add("_pragma", "temp_store(MEMORY)")
		// When the writer checkpoints (see walAutocheckpoint).
		q.Add("_pragma", "wal_autocheckpoint("+strconv.Itoa(walAutocheckpoint)+")")
		// What the WAL file is cut back to when it starts again, after a
		// long read let it grow (see walSizeLimit).
		q.Add("_pragma", "journal_size_limit("+strconv.Itoa(walSizeLimit)+")")
	}
	// Escape what would end or change the path of an SQLite URI filename.
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + escaped + "?" + q.Encode()
}

// Close closes every connection to the database.
func (db *DB) Close() error {
	db.closing.Do(func() { close(db.stop) })
	<-db.stopped
	var errs []error
	db.mu.Lock()
	for q, stmt := range db.stmts {
		errs = append(errs, stmt.Close())
		delete(db.stmts, q)
	}
	db.mu.Unlock()
	errs = append(errs, db.group.close(), db.read.Close(), db.checkpointer.Close(), db.write.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// writeProbe is a write that changes nothing: an UPDATE that matches no
// row. It still takes the write lock and needs a writable file, journal
// and connection, so it fails where any write would.
const writeProbe = `UPDATE oauth_access_tokens SET revoked = revoked WHERE 0`

// Ping reports whether the database answers a read, and whether it
// accepts a write, with writeProbe on the write connection. It writes
// nothing.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.read.PingContext(ctx); err != nil {
		return wrap("ping", err)
	}
	if _, err := db.write.ExecContext(ctx, writeProbe); err != nil {
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

// Migrate applies the migrations the database lacks, each in a transaction
// of its own that also records it in schema_migrations. Each transaction
// holds the write lock from its start, so processes that migrate one file
// at once apply each migration once.
func (db *DB) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	) STRICT`
	if _, err := db.write.ExecContext(ctx, create); err != nil {
		return wrap("migrate", err)
	}
	for _, m := range ms {
		err := db.writeTx(ctx, func(tx *sql.Tx) error {
			var applied bool
			err := tx.QueryRowContext(ctx,
				`SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)`,
				m.Version).Scan(&applied)
			if err != nil || applied {
				return err
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx,
				`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, formatTime(time.Now()))
			return err
		})
		if err != nil {
			return wrap("migrate "+m.Name, err)
		}
	}
	return nil
}

// prepared returns the statement of query on the read pool, preparing it
// on first use. Parsing a query costs more than running most of ours, and
// the statement is prepared once per connection of the pool. Queries are
// built from constant fragments only, so the cache stays small.
func (db *DB) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	db.mu.Lock()
	stmt, ok := db.stmts[query]
	db.mu.Unlock()
	if ok {
		return stmt, nil
	}
	stmt, err := db.read.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if first, ok := db.stmts[query]; ok {
		// Another call prepared it meanwhile.
		stmt.Close()
		return first, nil
	}
	db.stmts[query] = stmt
	return stmt, nil
}

// queryRow runs a query of one row on the read pool.
func (db *DB) queryRow(ctx context.Context, query string, args ...any) rowScanner {
	stmt, err := db.prepared(ctx, query)
	if err != nil {
		return errRow{err}
	}
	return stmt.QueryRowContext(ctx, args...)
}

// errRow is a row whose query failed.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// query runs a query on the read pool.
func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	stmt, err := db.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return stmt.QueryContext(ctx, args...)
}

// writeTx runs fn in a transaction on the write connection and commits it
// when fn returns nil.
func (db *DB) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// readTx runs fn in a read transaction, which sees one snapshot of the
// database throughout.
func (db *DB) readTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// sqliteCode returns the extended result code of the SQLite error in err's
// chain, or 0.
func sqliteCode(err error) int {
	var e *modernc.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// isUnique reports whether err is the violation of a unique or primary key
// constraint.
func isUnique(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// isForeignKey reports whether err is the violation of a foreign key.
func isForeignKey(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// wrap adds the operation to err, and translates a native error the
// operation did not translate into the domain's code, as the PostgreSQL
// store does: storeerr.Translate of what errorKind finds. A database that
// cannot be written says so.
func wrap(op string, err error) error {
	var le *latchkey.Error
	if sqliteCode(err)&0xff == sqlite3.SQLITE_READONLY && !errors.As(err, &le) {
		return fmt.Errorf("sqlite: %s: the database cannot be written (a read-only file or directory?): %w", op, err)
	}
	return fmt.Errorf("sqlite: %s: %w", op, storeerr.Translate(err, errorKind(err)))
}

// errorKind returns what the native error err means: a unique or foreign key
// violation, no row, or a lock that stayed busy.
func errorKind(err error) storeerr.Kind {
	switch primary := sqliteCode(err) & 0xff; {
	case isUnique(err):
		return storeerr.Unique
	case isForeignKey(err):
		return storeerr.ForeignKey
	case errors.Is(err, sql.ErrNoRows):
		return storeerr.NoRows
	case primary == sqlite3.SQLITE_BUSY, primary == sqlite3.SQLITE_LOCKED:
		return storeerr.Busy
	}
	return storeerr.Other
}
