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
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/jwt"
	"github.com/latchkey/latchkey/internal/mail"
	"github.com/latchkey/latchkey/internal/postgres"
	"github.com/latchkey/latchkey/internal/service"
	"github.com/latchkey/latchkey/internal/sqlite"
)

// flagSet is a command's flags. Its parse gives every flag its
// environment default (withEnvDefaults), accepts flags anywhere on the
// line, and turns a flag error into a one-line usage error.
type flagSet struct {
	*flag.FlagSet
	usage  string
	getenv func(string) string
	stdout io.Writer
	// envVars names the variables of flags that do not follow envName.
	envVars map[string]string
}

func (e *env) flags(name, usage string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package would print its error and the whole usage on
	// standard error; parse returns the error instead, to be printed once.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, usage: usage, getenv: e.getenv, stdout: e.stdout}
}

// printUsage writes the command's usage and flags, each with its variable.
func (fs *flagSet) printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: latchkey %s\n\nFlags:\n", fs.usage)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// envName is the environment variable of a flag: --max-token-lifetime is
// LATCHKEY_MAX_TOKEN_LIFETIME.
func envName(flagName string) string {
	return "LATCHKEY_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// setEnvVar makes $name, not envName(flagName), the variable of a flag.
func (fs *flagSet) setEnvVar(flagName, name string) {
	if fs.envVars == nil {
		fs.envVars = map[string]string{}
	}
	fs.envVars[flagName] = name
}

// envDefaulter is a flag value whose environment default is not simply
// one more Set: a list that the command line replaces rather than extends.
type envDefaulter interface {
	setDefault(string) error
}

// withEnvDefaults gives every flag of fs its environment default: the
// flag --max-token-lifetime takes the value of $LATCHKEY_MAX_TOKEN_LIFETIME
// when that is not empty, exactly as if it were given on the command line
// (so it is validated, and counts as given), and the command line still
// wins. Each flag's usage names its variable and shows the value the
// environment gave as its default.
func withEnvDefaults(fs *flagSet) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		if v, ok := fs.envVars[f.Name]; ok {
			name = v
		}
		if !strings.Contains(f.Usage, "($"+name+")") {
			f.Usage += " ($" + name + ")"
		}
		v := fs.getenv(name)
		if v == "" || err != nil {
			return
		}
		var serr error
		if d, ok := f.Value.(envDefaulter); ok {
			serr = d.setDefault(v)
		} else {
			serr = fs.Set(f.Name, v)
		}
		if serr != nil {
			err = usagef("%s: %s", fs.Name(), badValue("$"+name+" (--"+f.Name+")", f, v, serr))
			return
		}
		// -h shows what the environment set, but a password in it.
		f.DefValue = redactValue(f.Value.String())
	})
	return err
}

// badValue says what is wrong with value as the value of f, which the
// user knows as what ("--limit", or "$LATCHKEY_LIMIT (--limit)").
func badValue(what string, f *flag.Flag, value string, err error) string {
	reason := err.Error()
	if reason == "parse error" || reason == "value out of range" {
		switch typ, _ := flag.UnquoteUsage(f); {
		case isBool(f):
			reason = "want true or false"
		case typ == "int" || typ == "uint" || typ == "int64" || typ == "uint64":
			reason = "want a whole number"
		case typ == "duration":
			reason = "want a duration such as 10s"
		case typ == "float":
			reason = "want a number"
		}
	}
	return fmt.Sprintf("%s: %s, got %q", what, reason, value)
}

// parse parses args: flags first from the environment, then from the
// command line, where they may come before, between or after the
// arguments ("--" ends the flags). -h prints the usage on standard output
// and returns flag.ErrHelp; a bad flag is a one-line usage error naming it.
func (fs *flagSet) parse(args []string) error {
	if err := withEnvDefaults(fs); err != nil {
		if slices.ContainsFunc(args, func(a string) bool { return a == "-h" || a == "-help" || a == "--help" }) {
			fs.printUsage(fs.stdout) // the usage helps to mend the variable
			return flag.ErrHelp
		}
		return err
	}
	flags, positional, err := fs.interleaved(args)
	if err != nil {
		return usagef("%s: %v", fs.Name(), err)
	}
	err = fs.Parse(append(append(flags, "--"), positional...))
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.printUsage(fs.stdout)
		return err
	case err != nil:
		return usagef("%s: %s", fs.Name(), fs.flagError(err))
	}
	return nil
}

// interleaved splits args into flags (with their values) and positional
// arguments, so that "user update admin --email a@b" reads like
// "user update --email a@b admin". After "--" everything is positional.
func (fs *flagSet) interleaved(args []string) (flags, positional []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return flags, append(positional, args[i+1:]...), nil
		case len(a) < 2 || a[0] != '-':
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := fs.Lookup(name)
		if hasValue || f == nil || isBool(f) {
			continue // an unknown flag is the flag package's to refuse
		}
		if i+1 == len(args) {
			return nil, nil, fmt.Errorf("--%s: needs a value", f.Name)
		}
		i++
		flags = append(flags, args[i])
	}
	return flags, positional, nil
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// flagError rewords the flag package's errors: "unknown flag --nope",
// "--limit: want a whole number, got "x"".
func (fs *flagSet) flagError(err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return "unknown flag --" + strings.TrimLeft(name, "-")
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return "--" + strings.TrimLeft(name, "-") + ": needs a value"
	}
	// invalid value "x" for flag -limit: parse error
	// invalid boolean value "x" for -json: parse error
	if _, rest, ok := strings.Cut(msg, "value "); ok && strings.HasPrefix(msg, "invalid ") {
		if value, err := strconv.QuotedPrefix(rest); err == nil {
			after := strings.TrimPrefix(strings.TrimPrefix(rest[len(value):], " for flag -"), " for -")
			name, reason, _ := strings.Cut(after, ": ")
			if f := fs.Lookup(strings.TrimLeft(name, "-")); f != nil {
				v, _ := strconv.Unquote(value)
				return badValue("--"+f.Name, f, v, errors.New(reason))
			}
		}
	}
	return msg
}

// Lifetime defines a lifetime flag, such as 1y, 90d or 12h.
func (fs *flagSet) Lifetime(name string, def service.Lifetime, usage string) *service.Lifetime {
	l := def
	fs.Var(&l, name, usage)
	return &l
}

// given reports whether the flag name was set, on the command line or by
// its environment variable.
func (fs *flagSet) given(name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// dbFlags are the flags of every command that opens the database.
type dbFlags struct {
	database         *string
	secretFile       *string
	maxConns         *string
	statementTimeout *string
	getenv           func(string) string
	// mayCreate lets open create a database that does not exist yet:
	// serve and migrate do; every other command refuses, so that a
	// mistyped --database is not a new, empty database.
	mayCreate bool
	// log hears what the store cannot return to a caller (a PostgreSQL
	// listener that lost its connection); nil discards.
	log *slog.Logger

	// Set by check:
	conns   int32
	timeout time.Duration // -1: off
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
	scheme, _, ok := strings.Cut(*d.database, "://")
	return ok && (strings.EqualFold(scheme, "postgres") || strings.EqualFold(scheme, "postgresql"))
}

// check validates the flags without touching anything.
func (d *dbFlags) check() error {
	if *d.database == "" {
		return usagef("--database: must not be empty")
	}
	conns, err := strconv.ParseInt(*d.maxConns, 10, 32)
	if err != nil || conns < 0 {
		return usagef("--db-max-conns: want a whole number, got %q", *d.maxConns)
	}
	timeout := time.Duration(-1) // off
	if *d.statementTimeout != "off" {
		if timeout, err = time.ParseDuration(*d.statementTimeout); err != nil || timeout < 0 {
			return usagef("--db-statement-timeout: want a duration such as 10s, 0 or off, got %q", *d.statementTimeout)
		}
	}
	if !d.postgres() && redactDSN(*d.database) != *d.database {
		// host=… password=…: PostgreSQL's keyword form, not a file name.
		return usagef("--database: %s looks like a PostgreSQL keyword/value string; give a postgres:// URL (or the path of an SQLite file)", redactDSN(*d.database))
	}
	if !d.postgres() {
		switch {
		case conns != 0:
			return usagef("--db-max-conns: only for PostgreSQL; SQLite keeps its own pool")
		case timeout != 0:
			return usagef("--db-statement-timeout: only for PostgreSQL")
		}
	}
	d.conns, d.timeout = int32(conns), timeout
	return nil
}

// open opens and migrates the store. Unless mayCreate, an SQLite file that
// does not exist is refused, and nothing is created.
func (d *dbFlags) open(ctx context.Context) (latchkey.Store, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	dsn := *d.database
	var st latchkey.Store
	if d.postgres() {
		pg, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: d.conns, StatementTimeout: d.timeout, Logger: d.log})
		if err != nil {
			return nil, redactError(err, dsn)
		}
		st = pg
	} else {
		if !d.mayCreate {
			if _, err := os.Stat(dsn); errors.Is(err, os.ErrNotExist) {
				return nil, usagef("no database at %s: check --database (or $LATCHKEY_DATABASE); 'latchkey serve' or 'latchkey migrate' creates a new one", redactDSN(dsn))
			}
		}
		sq, err := sqlite.Open(ctx, dsn)
		if err != nil {
			return nil, err
		}
		st = sq
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, redactError(err, dsn)
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
	fs                    *flagSet
	lifetime, maxLifetime *service.Lifetime
	scopes                *string
	cacheSize             *string
	auditRetention        *string
	lease                 *string
	idleExpiry            *string
}

func (fs *flagSet) serviceFlags() *serviceFlags {
	return &serviceFlags{
		fs:             fs,
		lifetime:       fs.Lifetime("token-lifetime", service.OneYear, "lifetime of a token created without expires_at, e.g. 1y, 90d, 12h (at most --max-token-lifetime)"),
		maxLifetime:    fs.Lifetime("max-token-lifetime", service.OneYear, "longest lifetime expires_at may ask for"),
		scopes:         fs.String("extra-scopes", "", "comma-separated scopes accepted beyond tokens.read, tokens.write and *"),
		cacheSize:      fs.String("token-cache-size", strconv.Itoa(service.DefaultCacheSize), "verified tokens held in memory (0: no cache)"),
		auditRetention: fs.String("audit-retention", "90d", "how long audit records, and delivered or failed notifications, are kept, e.g. 90d or 1y (forever: keep them all)"),
		idleExpiry:     fs.String("idle-expiry", "off", "end tokens unused for this long (since their last use, or creation), e.g. 90d: they stop authenticating and are revoked as idle (off: never)"),
		lease:          fs.String("lease", "3s", "how long this server's lease lasts when several processes share the database: a revocation made elsewhere waits for this server's acknowledgement at most this long, and half again, should it stop answering (crashed or frozen) (100ms to 1m)"),
	}
}

// config is the validated service configuration.
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
	for _, s := range splitList(*sf.scopes) {
		if !latchkey.ValidScopeName(s) {
			return service.Config{}, usagef("--extra-scopes: %q is not a scope name: want 1 to 100 letters, digits and . _ : / -", s)
		}
		extra = append(extra, s)
	}
	lease, err := time.ParseDuration(*sf.lease)
	if err != nil || lease < 100*time.Millisecond || lease > service.MaxLease {
		return service.Config{}, usagef("--lease: want a duration from 100ms to 1m, e.g. 3s, got %q", *sf.lease)
	}
	idle := time.Duration(0)
	if *sf.idleExpiry != "off" {
		l, err := service.ParseLifetime(*sf.idleExpiry)
		if err != nil {
			return service.Config{}, usagef("--idle-expiry: %v (or off)", err)
		}
		idle = l.After(time.Time{}).Sub(time.Time{})
		if idle < time.Hour {
			return service.Config{}, usagef("--idle-expiry: want at least 1h, got %q", *sf.idleExpiry)
		}
	}
	cfg := service.Config{
		IdleExpiry:     idle,
		ExtraScopes:    extra,
		CacheSize:      size,
		AuditRetention: retention,
		Lease:          lease,
		Logger:         log,
	}
	// A lifetime left unsaid is the service's default: the default
	// lifetime is then at most the maximum.
	if sf.fs.given("token-lifetime") {
		cfg.DefaultLifetime = *sf.lifetime
	}
	if sf.fs.given("max-token-lifetime") {
		cfg.MaxLifetime = *sf.maxLifetime
	}
	if err := cfg.Validate(); err != nil {
		return service.Config{}, usagef("--token-lifetime: %v", err)
	}
	return cfg, nil
}

// openService opens the store and the service on it; close releases both.
func (e *env) openService(ctx context.Context, d *dbFlags, cfg service.Config) (svc *service.Service, st latchkey.Store, closeFn func(), err error) {
	d.log = cfg.Logger
	if cfg.Settled == nil {
		// A command: it says which running servers acknowledged.
		cfg.Settled = e.saySettled
	}
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

// saySettled tells the operator which running servers applied a change
// before the command returned (see service.Settlement).
func (e *env) saySettled(st service.Settlement) {
	names := func(ls []latchkey.Lease) string {
		var out []string
		for _, l := range ls {
			out = append(out, l.Name)
		}
		return strings.Join(out, ", ")
	}
	switch n := len(st.Acknowledged); {
	case n == 1:
		fmt.Fprintf(e.stderr, "in force: acknowledged by 1 running server (%s)\n", names(st.Acknowledged))
	case n > 1:
		fmt.Fprintf(e.stderr, "in force: acknowledged by %d running servers (%s)\n", n, names(st.Acknowledged))
	}
	switch len(st.Lapsed) {
	case 0:
	case 1:
		fmt.Fprintf(e.stderr, "not acknowledged by %s: its lease ran out (it stopped answering), and it answers no verification from its caches until it has caught up\n", names(st.Lapsed))
	default:
		fmt.Fprintf(e.stderr, "not acknowledged by %s: their leases ran out (they stopped answering), and they answer no verification from their caches until they have caught up\n", names(st.Lapsed))
	}
	if len(st.Unanswered) > 0 {
		fmt.Fprintf(e.stderr, "not yet acknowledged by %s when the command stopped waiting\n", names(st.Unanswered))
	}
	if st.Err != nil {
		fmt.Fprintf(e.stderr, "the running servers could not be asked (%v): the command waited as long as a lease lasts\n", st.Err)
	}
}

// redactValue is a flag's value fit to print: a database name's password
// hidden as redactDSN hides it, and any other URL's (--smtp-url's, say) as
// mail.Redact does.
func redactValue(v string) string {
	if r := redactDSN(v); r != v || !strings.Contains(v, "://") {
		return r
	}
	return mail.Redact(v)
}

// redactDSN is a database name fit to print: a PostgreSQL URL's password,
// in its user part or its password parameter, becomes xxxxx.
// redactKeywords hides the value of a password= in a keyword/value
// string (host=… password=… ), which is not a database we open but may be
// given by mistake, and is printed in the error that says so.
func redactKeywords(s string) string {
	lower := strings.ToLower(s)
	var b strings.Builder
	for {
		i := strings.Index(lower, "password")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := i + len("password")
		for j < len(s) && s[j] == ' ' {
			j++
		}
		if j >= len(s) || s[j] != '=' {
			b.WriteString(s[:i+len("password")])
			s, lower = s[i+len("password"):], lower[i+len("password"):]
			continue
		}
		j++
		for j < len(s) && s[j] == ' ' {
			j++
		}
		end := j
		if end < len(s) && s[end] == '\'' {
			end++
			for end < len(s) && s[end] != '\'' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			end = min(end+1, len(s))
		} else {
			for end < len(s) && s[end] != ' ' {
				end++
			}
		}
		b.WriteString(s[:j])
		b.WriteString("xxxxx")
		s, lower = s[end:], lower[end:]
	}
}

func redactDSN(dsn string) string {
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return redactKeywords(dsn)
	}
	if !strings.EqualFold(scheme, "postgres") && !strings.EqualFold(scheme, "postgresql") {
		return dsn
	}
	// The user part ends at the last @ before the query: a password may
	// hold a / that should have been escaped.
	end := strings.IndexAny(rest, "?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		at = strings.Index(rest, "@") // a ? or # in the password
	}
	var authority, tail string
	if at >= 0 {
		authority, tail = rest[:at], rest[at:]
		if user, _, ok := strings.Cut(authority, ":"); ok {
			authority = user + ":xxxxx"
		}
	} else {
		tail = rest
	}
	if path, query, ok := strings.Cut(tail, "?"); ok {
		query, frag, hasFrag := strings.Cut(query, "#")
		params := strings.Split(query, "&")
		for i, p := range params {
			if k, _, ok := strings.Cut(p, "="); ok && strings.EqualFold(k, "password") {
				params[i] = k + "=xxxxx"
			}
		}
		tail = path + "?" + strings.Join(params, "&")
		if hasFrag {
			tail += "#" + frag
		}
	}
	return scheme + "://" + authority + tail
}

// dsnPasswords are the passwords written in a PostgreSQL URL, as they
// appear in it and decoded, longest first.
func dsnPasswords(dsn string) []string {
	var out []string
	add := func(s string) {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	// As written: between the user's colon and the last @ of the
	// authority, whether or not url.Parse reads the rest.
	if _, rest, ok := strings.Cut(dsn, "://"); ok {
		at := strings.LastIndex(rest[:max(0, strings.IndexAny(rest, "?#"))], "@")
		if !strings.ContainsAny(rest, "?#") {
			at = strings.LastIndex(rest, "@")
		}
		if at < 0 {
			at = strings.Index(rest, "@")
		}
		if at >= 0 {
			if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
				add(pw)
				if dec, err := url.PathUnescape(pw); err == nil {
					add(dec)
				}
			}
		}
	}
	if u, err := url.Parse(dsn); err == nil {
		if pw, ok := u.User.Password(); ok {
			add(pw)
		}
		for _, pw := range u.Query()["password"] {
			add(pw)
			add(url.QueryEscape(pw))
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// redactError is err with any password of dsn it quotes replaced by xxxxx.
func redactError(err error, dsn string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	red := msg
	for _, pw := range dsnPasswords(dsn) {
		red = strings.ReplaceAll(red, pw, "xxxxx")
	}
	if red == msg {
		return err
	}
	return errors.New(red) // not wrapped: the cause would quote it again
}
