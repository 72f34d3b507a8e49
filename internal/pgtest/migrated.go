package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Migrated hands out migrated schemas to the subtests of one test, each as
// if new. Making a schema and migrating it is DDL, hundreds of
// milliseconds on a busy server; so a schema a subtest is done with is not
// dropped but reset, in a few milliseconds, and handed to the next: every
// table emptied and given again the rows the migration left (in
// PostgreSQL's COPY text form, exact for every type), and every sequence
// set back where the migration left it. A schema whose structure the
// subtest changed (a trigger or a table added, a column altered, …) or
// whose reset failed is dropped instead, and the next subtest gets a new
// one. Every schema is dropped when the test that made the Migrated ends.
//
// A copy of a migrated template database (CREATE DATABASE … TEMPLATE) would
// be the other way to skip the migration, but it is slower, not faster:
// it copies the whole catalog, and DROP DATABASE forces a checkpoint of the
// whole server each time (PostgreSQL 15).
type Migrated struct {
	dsn     string
	migrate func(ctx context.Context, dsn string) error
	admin   *pgxpool.Pool

	mu   sync.Mutex
	free []*migratedSchema
}

// migratedSchema is a schema as its migration left it.
type migratedSchema struct {
	name  string
	dsn   string
	shape string   // the fingerprint of its structure
	empty string   // the statement that empties every table
	seqs  []string // its sequences, qualified
	vals  []int64  // and each one's last_value,
	calls []bool   // and is_called
	rows  []tableRows
}

// tableRows is the rows of a table in COPY text form.
type tableRows struct {
	copyFrom string // COPY table (columns) FROM STDIN
	data     []byte
}

// NewMigrated returns a Migrated that makes its schemas in the database
// that dsn names and brings each new one up to date with migrate, which
// is given the schema's DSN (search_path set to it). It drops every schema
// it made when t ends; the Migrated must not be used after.
func NewMigrated(t testing.TB, dsn string, migrate func(ctx context.Context, dsn string) error) *Migrated {
	t.Helper()
	admin, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	m := &Migrated{dsn: dsn, migrate: migrate, admin: admin}
	t.Cleanup(func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, s := range m.free {
			if err := m.drop(s.name); err != nil {
				t.Errorf("pgtest: dropping %s: %v", s.name, err)
			}
		}
		m.free = nil
		admin.Close()
	})
	return m
}

// Schema returns the DSN of a migrated schema of t's own, as the migration
// left it, with its search_path set to that schema, and takes the schema
// back when t ends. t must be the test that made m or one of its subtests,
// and whatever t opened on the schema must be closed by then: opened after
// Schema was called, with its closing left to t.Cleanup, it is.
func (m *Migrated) Schema(t testing.TB) string {
	t.Helper()
	m.mu.Lock()
	var s *migratedSchema
	if n := len(m.free); n > 0 {
		s, m.free = m.free[n-1], m.free[:n-1]
	}
	m.mu.Unlock()
	if s == nil {
		var err error
		if s, err = m.create(t); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
	}
	t.Cleanup(func() { m.put(t, s) })
	return s.dsn
}

// create makes, migrates and describes a new schema.
func (m *Migrated) create(t testing.TB) (*migratedSchema, error) {
	ctx := context.Background()
	name := "lk_test_" + strings.ToLower(rand.Text()[:12])
	if _, err := m.admin.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		return nil, err
	}
	s := &migratedSchema{name: name, dsn: WithParam(t, m.dsn, "search_path", name)}
	err := m.migrate(ctx, s.dsn)
	if err != nil {
		err = fmt.Errorf("migrating %s: %w", name, err)
	} else {
		err = m.describe(ctx, s)
	}
	if err != nil {
		if dropErr := m.drop(name); dropErr != nil {
			err = fmt.Errorf("%w (and dropping it: %v)", err, dropErr)
		}
		return nil, err
	}
	return s, nil
}

// put resets s and keeps it for the next subtest, or drops it when its
// structure changed or the reset failed.
func (m *Migrated) put(t testing.TB, s *migratedSchema) {
	ctx := context.Background()
	if m.reset(ctx, s) != nil {
		if err := m.drop(s.name); err != nil {
			t.Errorf("pgtest: dropping %s: %v", s.name, err)
		}
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.free = append(m.free, s)
}

// drop drops the schema name and everything in it.
func (m *Migrated) drop(name string) error {
	_, err := m.admin.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE")
	return err
}

// shapeSQL returns a fingerprint of the structure of the schema $1: its
// tables, columns, constraints, indexes, triggers, rules, policies,
// sequences, functions and types, and their settings.
const shapeSQL = `
WITH n AS (SELECT oid FROM pg_namespace WHERE nspname = $1),
c AS (SELECT c.* FROM pg_class c, n WHERE c.relnamespace = n.oid)
SELECT md5(coalesce(string_agg(x, E'\n' ORDER BY x), '')) FROM (
	SELECT concat_ws(' ', 'rel', relname, relkind, relpersistence, relrowsecurity,
		relforcerowsecurity, relreplident, reloptions::text, relacl::text) AS x FROM c
	UNION ALL
	SELECT concat_ws(' ', 'col', c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
		a.attnotnull, a.attidentity, a.attgenerated, a.attcollation::regcollation::text,
		pg_get_expr(d.adbin, d.adrelid), a.attacl::text)
	FROM c JOIN pg_attribute a ON a.attrelid = c.oid
	LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	WHERE a.attnum > 0 AND NOT a.attisdropped
	UNION ALL
	SELECT concat_ws(' ', 'con', co.conname, pg_get_constraintdef(co.oid))
	FROM pg_constraint co, n WHERE co.connamespace = n.oid
	UNION ALL
	SELECT concat_ws(' ', 'idx', pg_get_indexdef(i.indexrelid))
	FROM c JOIN pg_index i ON i.indexrelid = c.oid
	UNION ALL
	SELECT concat_ws(' ', 'trg', tg.tgenabled, pg_get_triggerdef(tg.oid))
	FROM c JOIN pg_trigger tg ON tg.tgrelid = c.oid
	UNION ALL
	SELECT concat_ws(' ', 'rule', r.ev_enabled, pg_get_ruledef(r.oid))
	FROM c JOIN pg_rewrite r ON r.ev_class = c.oid
	UNION ALL
	SELECT concat_ws(' ', 'pol', c.relname, p.polname, p.polcmd, p.polpermissive, p.polroles::text,
		pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
	FROM c JOIN pg_policy p ON p.polrelid = c.oid
	UNION ALL
	SELECT concat_ws(' ', 'seq', c.relname, s.seqtypid, s.seqstart, s.seqincrement, s.seqmax,
		s.seqmin, s.seqcache, s.seqcycle)
	FROM c JOIN pg_sequence s ON s.seqrelid = c.oid
	UNION ALL
	SELECT concat_ws(' ', 'fn', p.oid::regprocedure::text, md5(pg_get_functiondef(p.oid)))
	FROM pg_proc p, n WHERE p.pronamespace = n.oid AND p.prokind IN ('f', 'p', 'w')
	UNION ALL
	SELECT concat_ws(' ', 'agg', p.oid::regprocedure::text)
	FROM pg_proc p, n WHERE p.pronamespace = n.oid AND p.prokind = 'a'
	UNION ALL
	SELECT concat_ws(' ', 'typ', t.typname, t.typtype)
	FROM pg_type t, n WHERE t.typnamespace = n.oid
) AS shape`

// describe records what reset needs: the structure of s, the rows of its
// tables, the state of its sequences.
func (m *Migrated) describe(ctx context.Context, s *migratedSchema) error {
	conn, err := m.admin.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if err := conn.QueryRow(ctx, shapeSQL, s.name).Scan(&s.shape); err != nil {
		return fmt.Errorf("describing %s: %w", s.name, err)
	}

	rows, err := conn.Query(ctx, `
		SELECT c.oid::regclass::text, string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		GROUP BY c.oid ORDER BY 1`, s.name)
	if err != nil {
		return fmt.Errorf("describing %s: %w", s.name, err)
	}
	type table struct{ name, columns string }
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (table, error) {
		var t table
		err := r.Scan(&t.name, &t.columns)
		return t, err
	})
	if err != nil {
		return fmt.Errorf("describing %s: %w", s.name, err)
	}
	// One statement: the foreign keys are checked once every table is
	// empty, so that the order does not matter.
	var empty strings.Builder
	for i, t := range tables {
		switch {
		case i == len(tables)-1:
			fmt.Fprintf(&empty, "DELETE FROM %s", t.name)
		case i == 0:
			fmt.Fprintf(&empty, "WITH d%d AS (DELETE FROM %s)", i, t.name)
		default:
			fmt.Fprintf(&empty, ", d%d AS (DELETE FROM %s)", i, t.name)
		}
		if i < len(tables)-1 {
			empty.WriteString(" ")
		}
	}
	s.empty = empty.String()
	for _, t := range tables {
		var data bytes.Buffer
		if _, err := conn.Conn().PgConn().CopyTo(ctx, &data,
			fmt.Sprintf("COPY %s (%s) TO STDOUT", t.name, t.columns)); err != nil {
			return fmt.Errorf("describing %s: %w", s.name, err)
		}
		if data.Len() > 0 {
			s.rows = append(s.rows, tableRows{fmt.Sprintf("COPY %s (%s) FROM STDIN", t.name, t.columns), data.Bytes()})
		}
	}

	rows, err = conn.Query(ctx, `
		SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind = 'S' ORDER BY 1`, s.name)
	if err != nil {
		return fmt.Errorf("describing %s: %w", s.name, err)
	}
	if s.seqs, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return fmt.Errorf("describing %s: %w", s.name, err)
	}
	for _, seq := range s.seqs {
		var v int64
		var called bool
		if err := conn.QueryRow(ctx, "SELECT last_value, is_called FROM "+seq).Scan(&v, &called); err != nil {
			return fmt.Errorf("describing %s: %w", s.name, err)
		}
		s.vals, s.calls = append(s.vals, v), append(s.calls, called)
	}
	return nil
}

// reset brings s back to what describe recorded, in one transaction, or
// fails when its structure is no longer what it was.
func (m *Migrated) reset(ctx context.Context, s *migratedSchema) error {
	conn, err := m.admin.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		var shape string
		if err := tx.QueryRow(ctx, shapeSQL, s.name).Scan(&shape); err != nil {
			return err
		}
		if shape != s.shape {
			return fmt.Errorf("the structure of %s changed", s.name)
		}
		if s.empty != "" {
			if _, err := tx.Exec(ctx, s.empty); err != nil {
				return err
			}
		}
		for _, r := range s.rows {
			if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(r.data), r.copyFrom); err != nil {
				return err
			}
		}
		if len(s.seqs) > 0 {
			_, err := tx.Exec(ctx, `SELECT setval(s::regclass, v, c) FROM unnest($1::text[], $2::bigint[], $3::boolean[]) AS x (s, v, c)`,
				s.seqs, s.vals, s.calls)
			return err
		}
		return nil
	})
}
