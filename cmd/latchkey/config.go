package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/jwt"
	"github.com/latchkey/latchkey/internal/postgres"
	"github.com/latchkey/latchkey/internal/service"
	"github.com/latchkey/latchkey/internal/sqlite"
)

// flagSet is a flag set whose flags take their defaults from LATCHKEY_*
// environment variables.
type flagSet struct {
	*flag.FlagSet
	getenv func(string) string
}

func (e *env) flags(name, usage string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: latchkey %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return &flagSet{FlagSet: fs, getenv: e.getenv}
}

// envName is the environment variable of a flag: --max-token-lifetime is
// LATCHKEY_MAX_TOKEN_LIFETIME.
func envName(flagName string) string {
	return "LATCHKEY_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (fs *flagSet) env(name, def string) string {
	if v := fs.getenv(envName(name)); v != "" {
		return v
	}
	return def
}

// String defines a string flag whose default comes from the environment.
func (fs *flagSet) String(name, def, usage string) *string {
	return fs.FlagSet.String(name, fs.env(name, def), usage+" ($"+envName(name)+")")
}

// Lifetime defines a lifetime flag whose default comes from the environment.
func (fs *flagSet) Lifetime(name string, def service.Lifetime, usage string) (*service.Lifetime, error) {
	l := def
	if v := fs.getenv(envName(name)); v != "" {
		var err error
		if l, err = service.ParseLifetime(v); err != nil {
			return nil, fmt.Errorf("$%s: %w", envName(name), err)
		}
	}
	fs.Var(&l, name, usage+" ($"+envName(name)+")")
	return &l, nil
}

// parse parses args, turning a flag error into a usage error.
func (fs *flagSet) parse(args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%s: %v", fs.Name(), err)
	}
	return nil
}

// dbFlags are the flags of every command that opens the database.
type dbFlags struct {
	database         *string
	secretFile       *string
	maxConns         *string
	statementTimeout *string
	getenv           func(string) string
}

func (fs *flagSet) dbFlags() *dbFlags {
	return &dbFlags{
		database:         fs.String("database", "./latchkey.db", "SQLite database file, or a PostgreSQL URL postgres://user@host:5432/db?sslmode=verify-full"),
		secretFile:       fs.String("secret-file", "", "file holding the server secret that seals the signing keys (default: beside the SQLite database; or set $LATCHKEY_SECRET)"),
		maxConns:         fs.String("db-max-conns", "0", "PostgreSQL: most connections in the pool (0: the driver's default)"),
		statementTimeout: fs.String("db-statement-timeout", "0", "PostgreSQL: longest a statement may run (0: the URL's statement_timeout, or 10s; off: no limit)"),
		getenv:           fs.getenv,
	}
}

// postgres reports whether the database is a PostgreSQL URL.
func (d *dbFlags) postgres() bool {
	return strings.HasPrefix(*d.database, "postgres://") || strings.HasPrefix(*d.database, "postgresql://")
}

// open opens and migrates the store.
func (d *dbFlags) open(ctx context.Context) (latchkey.Store, error) {
	dsn := *d.database
	if dsn == "" {
		return nil, usagef("--database: must not be empty")
	}
	var st latchkey.Store
	if d.postgres() {
		conns, err := strconv.ParseInt(*d.maxConns, 10, 32)
		if err != nil || conns < 0 {
			return nil, usagef("--db-max-conns: want a whole number, got %q", *d.maxConns)
		}
		timeout := time.Duration(-1) // off
		if *d.statementTimeout != "off" {
			if timeout, err = time.ParseDuration(*d.statementTimeout); err != nil || timeout < 0 {
				return nil, usagef("--db-statement-timeout: want a duration such as 10s, 0 or off, got %q", *d.statementTimeout)
			}
		}
		pg, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: int32(conns), StatementTimeout: timeout})
		if err != nil {
			return nil, err
		}
		st = pg
	} else {
		sq, err := sqlite.Open(ctx, dsn)
		if err != nil {
			return nil, err
		}
		st = sq
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// secretPath is where the secret file is: --secret-file, or beside the
// SQLite database.
func (d *dbFlags) secretPath() string {
	if *d.secretFile != "" || d.postgres() {
		return *d.secretFile
	}
	return *d.database + ".secret"
}

// sealer reads the server secret: the file --secret-file names, else
// $LATCHKEY_SECRET, else the file beside the SQLite database.
// With neither, and a database that holds no keys yet, it creates the file
// (mode 0600) with 32 random bytes.
func (d *dbFlags) sealer(ctx context.Context, st latchkey.Store, stderr io.Writer) (*jwt.Sealer, error) {
	if v := d.getenv("LATCHKEY_SECRET"); v != "" && *d.secretFile == "" {
		return jwt.NewSealer([]byte(v))
	}
	path := d.secretPath()
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			fmt.Fprintf(stderr, "latchkey: warning: %s is readable by others (mode %v); chmod 600 it\n", path, fi.Mode().Perm())
		}
		return jwt.NewSealer([]byte(strings.TrimSpace(string(b))))
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("secret file: %w", err)
	case *d.secretFile != "":
		return nil, fmt.Errorf("secret file %s does not exist", path)
	case d.postgres():
		return nil, errors.New("on PostgreSQL every replica must share one server secret: give it with --secret-file or $LATCHKEY_SECRET")
	}
	keys, err := st.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	if len(keys) > 0 {
		return nil, fmt.Errorf("no secret file at %s, but the database holds signing keys sealed with a secret: give it with --secret-file or $LATCHKEY_SECRET", path)
	}
	secret := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("secret file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("secret file: %w", err)
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("secret file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("secret file: %w", err)
	}
	fmt.Fprintf(stderr, "latchkey: created the server secret in %s (mode 0600); keep it with the database\n", path)
	return jwt.NewSealer([]byte(secret))
}

// warnReadable warns, as sealer does of the secret file, of each file of
// an SQLite database (the database, its -wal and its -shm) that others
// than its owner may read: they hold password hashes, emails and the
// audit log. New databases are created 0600.
func (d *dbFlags) warnReadable(stderr io.Writer) {
	if d.postgres() {
		return
	}
	for _, path := range []string{*d.database, *d.database + "-wal", *d.database + "-shm"} {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			fmt.Fprintf(stderr, "latchkey: warning: %s is readable by others (mode %v); chmod 600 it\n", path, fi.Mode().Perm())
		}
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return b
}

// serviceFlags are the settings of the service, for serve and token create.
type serviceFlags struct {
	lifetime, maxLifetime *service.Lifetime
	scopes                *string
	cacheSize             *string
	auditRetention        *string
}

func (fs *flagSet) serviceFlags() (*serviceFlags, error) {
	lt, err := fs.Lifetime("token-lifetime", service.OneYear, "lifetime of a token created without expires_at, e.g. 1y, 90d, 12h")
	if err != nil {
		return nil, err
	}
	max, err := fs.Lifetime("max-token-lifetime", service.OneYear, "longest lifetime expires_at may ask for")
	if err != nil {
		return nil, err
	}
	return &serviceFlags{
		lifetime:       lt,
		maxLifetime:    max,
		scopes:         fs.String("extra-scopes", "", "comma-separated scopes accepted beyond tokens.read, tokens.write and *"),
		cacheSize:      fs.String("token-cache-size", strconv.Itoa(service.DefaultCacheSize), "verified tokens held in memory (0: no cache)"),
		auditRetention: fs.String("audit-retention", "90d", "how long audit records are kept, e.g. 90d or 1y (forever: keep them all)"),
	}, nil
}

func (sf *serviceFlags) config(log *slog.Logger) (service.Config, error) {
	size, err := strconv.Atoi(*sf.cacheSize)
	if err != nil || size < 0 {
		return service.Config{}, usagef("--token-cache-size: want a whole number, got %q", *sf.cacheSize)
	}
	if size == 0 {
		size = -1 // the service's "no cache"
	}
	retention := time.Duration(-1) // forever
	if *sf.auditRetention != "forever" {
		l, err := service.ParseLifetime(*sf.auditRetention)
		if err != nil {
			return service.Config{}, usagef("--audit-retention: %v", err)
		}
		retention = l.After(time.Time{}).Sub(time.Time{})
	}
	var extra []string
	for _, s := range strings.Split(*sf.scopes, ",") {
		if s = strings.TrimSpace(s); s != "" {
			extra = append(extra, s)
		}
	}
	return service.Config{
		DefaultLifetime: *sf.lifetime,
		MaxLifetime:     *sf.maxLifetime,
		ExtraScopes:     extra,
		CacheSize:       size,
		AuditRetention:  retention,
		Logger:          log,
	}, nil
}

// openService opens the store and the service on it; close releases both.
func (e *env) openService(ctx context.Context, d *dbFlags, cfg service.Config) (svc *service.Service, st latchkey.Store, closeFn func(), err error) {
	st, err = d.open(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	d.warnReadable(e.stderr)
	sealer, err := d.sealer(ctx, st, e.stderr)
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	svc, err = service.New(ctx, st, sealer, cfg)
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	return svc, st, func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = svc.FlushUsage(fctx)
		st.Close()
	}, nil
}
