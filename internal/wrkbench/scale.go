package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/bench"

	_ "modernc.org/sqlite" // the driver internal/sqlite opens its files with
)

// The store at scale is written by cloning: the store itself writes one
// user and one token of theirs (bench.Seed), and one INSERT … SELECT each
// copies that user, then that token, as many times as asked, with the
// columns that must differ written anew: a user's name, address and
// search text; a token's id, owner, name and dates. Every other column,
// whatever the migrations add, is the template's. A million tokens take
// seconds this way, where a write each through the store took minutes.

// seedScale adds users, then tokens spread across them, to database, by
// copying the one token the store wrote for neither of fx's users, and
// its owner. On PostgreSQL the tables are then analyzed, as autovacuum
// would soon do, so that the server's queries are planned on what the
// tables hold.
func seedScale(ctx context.Context, database string, fx *bench.Fixture, users, tokens int) error {
	var db scaleDB
	var err error
	if strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://") {
		db, err = openPGScale(ctx, database)
	} else {
		db, err = openSQLiteScale(database)
	}
	if err != nil {
		return err
	}
	defer db.close()
	d := db.dialect()
	var token string
	var user int64
	if err := db.queryRow(ctx, `SELECT id, user_id FROM oauth_access_tokens WHERE user_id <> `+d.param(1)+` AND user_id <> `+d.param(2),
		[]any{fx.ListUser, fx.Writer}, &token, &user); err != nil {
		return fmt.Errorf("the template token: %w", err)
	}
	run := randomRun()
	if err := cloneUsers(ctx, db, user, run, users); err != nil {
		return err
	}
	if err := cloneTokens(ctx, db, token, run, tokens, users); err != nil {
		return err
	}
	if d.param(1) == "$1" {
		return db.exec(ctx, "ANALYZE")
	}
	return nil
}

// randomRun is 8 random characters of hex: the names and ids of one
// seeding.
func randomRun() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// scaleDB is a database to clone rows in: SQLite or PostgreSQL.
type scaleDB interface {
	// columns lists table's columns, in order.
	columns(ctx context.Context, table string) ([]string, error)
	exec(ctx context.Context, query string, args ...any) error
	// queryRow reads one row's columns into dest.
	queryRow(ctx context.Context, query string, args []any, dest ...any) error
	// dialect writes the expressions that differ between the two.
	dialect() dialect
	close()
}

// dialect is what a database's SQL says its own way.
type dialect struct {
	// series is a FROM item of one column i, 0 to n-1, n the query's
	// first argument.
	series string
	// tokenID is an 80-character lowercase hex id from the run's prefix
	// (16 characters) and i.
	tokenID func(prefix string) string
	// ago is the template's date column less i milliseconds.
	ago func(column string) string
	// mod, concat, param n.
	param func(n int) string
}

var sqliteDialect = dialect{
	series:  `(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < ?1) SELECT i FROM s) AS n`,
	tokenID: func(prefix string) string { return `'` + prefix + `' || printf('%064x', n.i)` },
	// SQLite keeps dates as fixed-width text, 2006-01-02T15:04:05.000000Z.
	ago: func(column string) string {
		return `strftime('%Y-%m-%dT%H:%M:%f', julianday(t.` + column + `) - n.i / 86400000.0) || '000Z'`
	},
	param: func(n int) string { return "?" + strconv.Itoa(n) },
}

var postgresDialect = dialect{
	series:  `generate_series(0, $1::bigint - 1) AS n(i)`,
	tokenID: func(prefix string) string { return `'` + prefix + `' || lpad(to_hex(n.i), 64, '0')` },
	ago:     func(column string) string { return `t.` + column + ` - n.i * interval '1 millisecond'` },
	param:   func(n int) string { return "$" + strconv.Itoa(n) },
}

// cloneUsers adds n users, copies of the user template but for their
// names ("bench-RUN-sI"), addresses and search text.
func cloneUsers(ctx context.Context, db scaleDB, template int64, run string, n int) error {
	d := db.dialect()
	name := `'bench-` + run + `-s' || n.i`
	return clone(ctx, db, "users", map[string]string{
		"id":            "",
		"username":      name,
		"email":         name + ` || '@example.com'`,
		"search_folded": name + ` || char(10) || ` + name + ` || '@example.com' || char(10) || lower(t.firstname) || char(10) || lower(t.lastname)`,
	}, `FROM `+d.series+`, users AS t WHERE t.id = `+d.param(2), n, template)
}

// cloneTokens adds n tokens, copies of the token template but for their
// ids, names and dates (one millisecond apart), spread across the users
// cloneUsers added (token i to user i mod users).
func cloneTokens(ctx context.Context, db scaleDB, template string, run string, n, users int) error {
	d := db.dialect()
	return clone(ctx, db, "oauth_access_tokens", map[string]string{
		"id":          d.tokenID(tokenPrefix(run)),
		"user_id":     "u.id",
		"name":        `'bench ' || n.i`,
		"name_folded": `'bench ' || n.i`,
		"created_at":  d.ago("created_at"),
		"updated_at":  d.ago("created_at"),
	}, `FROM `+d.series+` JOIN users AS u ON u.username = 'bench-`+run+`-s' || (n.i % `+d.param(3)+`), oauth_access_tokens AS t WHERE t.id = `+d.param(2), n, template, users)
}

// tokenPrefix is 16 hex characters of run's, which tells this run's
// cloned ids from any other's.
func tokenPrefix(run string) string {
	var b strings.Builder
	for _, c := range []byte(run) {
		fmt.Fprintf(&b, "%02x", c)
	}
	return (b.String() + strings.Repeat("0", 16))[:16]
}

// clone runs INSERT INTO table (columns) SELECT … from: each column as
// set says (left out for ""), or else the template's (t.column).
func clone(ctx context.Context, db scaleDB, table string, set map[string]string, from string, args ...any) error {
	cols, err := db.columns(ctx, table)
	if err != nil {
		return err
	}
	var names, values []string
	for _, c := range cols {
		v, ok := set[c]
		switch {
		case ok && v == "":
			continue
		case !ok:
			v = "t." + c
		}
		names = append(names, c)
		values = append(values, v)
	}
	if db.dialect().param(1) == "$1" {
		// PostgreSQL has no char(): chr() is its name for it.
		for i := range values {
			values[i] = strings.ReplaceAll(values[i], "char(10)", "chr(10)")
		}
	}
	q := "INSERT INTO " + table + " (" + strings.Join(names, ", ") + ") SELECT " + strings.Join(values, ", ") + " " + from
	if err := db.exec(ctx, q, args...); err != nil {
		return fmt.Errorf("cloning %s: %w", table, err)
	}
	return nil
}

// sqliteScale is an SQLite file, opened on its own while no server runs.
type sqliteScale struct{ db *sql.DB }

func openSQLiteScale(path string) (*sqliteScale, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return &sqliteScale{db: db}, nil
}

func (s *sqliteScale) columns(ctx context.Context, table string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, table)
	if err != nil {
		return nil, err
	}
	return scanNames(rows)
}

func (s *sqliteScale) exec(ctx context.Context, q string, args ...any) error {
	_, err := s.db.ExecContext(ctx, q, args...)
	return err
}

func (s *sqliteScale) queryRow(ctx context.Context, q string, args []any, dest ...any) error {
	return s.db.QueryRowContext(ctx, q, args...).Scan(dest...)
}

func (s *sqliteScale) dialect() dialect { return sqliteDialect }
func (s *sqliteScale) close()           { s.db.Close() }

func scanNames(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	if len(out) == 0 && rows.Err() == nil {
		return nil, errors.New("no such table")
	}
	return out, rows.Err()
}

// pgScale is a PostgreSQL database (its URL's search_path the schema).
type pgScale struct{ conn *pgx.Conn }

func openPGScale(ctx context.Context, url string) (*pgScale, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	return &pgScale{conn: conn}, nil
}

func (p *pgScale) columns(ctx context.Context, table string) ([]string, error) {
	rows, err := p.conn.Query(ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err == nil && len(names) == 0 {
		err = errors.New("no such table")
	}
	return names, err
}

func (p *pgScale) exec(ctx context.Context, q string, args ...any) error {
	_, err := p.conn.Exec(ctx, q, args...)
	return err
}

func (p *pgScale) queryRow(ctx context.Context, q string, args []any, dest ...any) error {
	return p.conn.QueryRow(ctx, q, args...).Scan(dest...)
}

func (p *pgScale) dialect() dialect { return postgresDialect }
func (p *pgScale) close()           { p.conn.Close(context.Background()) }
