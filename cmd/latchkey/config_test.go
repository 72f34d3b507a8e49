package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/pgtest"
	"github.com/latchkey/latchkey/internal/service"
)

// help runs "latchkey ARGS -h" and returns its standard output.
func help(t *testing.T, getenv func(string) string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(t.Context(), append(args, "-h"), getenv, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatalf("latchkey %s -h: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	if errOut.Len() > 0 {
		t.Errorf("latchkey %s -h wrote on standard error: %s", strings.Join(args, " "), errOut.String())
	}
	return out.String()
}

// commandsOf lists every command that takes flags, found as a user finds
// them: the commands "latchkey help" names, and the subcommands each
// group's -h lists.
func commandsOf(t *testing.T) [][]string {
	t.Helper()
	var leaves [][]string
	var walk func(path []string)
	walk = func(path []string) {
		out := help(t, testEnv(nil), path...)
		if _, subs, ok := strings.Cut(out, "\nSubcommands: "); ok {
			subs, _, _ = strings.Cut(subs, "\n")
			for _, sub := range strings.Fields(subs) {
				walk(append(slices.Clone(path), sub))
			}
			return
		}
		leaves = append(leaves, path)
	}
	top := regexp.MustCompile(`(?m)^  latchkey (\w+)`).FindAllStringSubmatch(help(t, testEnv(nil)), -1)
	for _, m := range top {
		walk([]string{m[1]})
	}
	if len(leaves) < 19 {
		t.Fatalf("found only %d commands: %v", len(leaves), leaves)
	}
	return leaves
}

// usageFlag is one flag as -h shows it.
type usageFlag struct {
	name, typ, text string
}

// flagsOf reads the flags of a -h.
func flagsOf(usage string) map[string]usageFlag {
	flags := map[string]usageFlag{}
	var cur *usageFlag
	for line := range strings.SplitSeq(usage, "\n") {
		if rest, ok := strings.CutPrefix(line, "  -"); ok {
			if cur != nil {
				flags[cur.name] = *cur
			}
			name, typ, _ := strings.Cut(rest, " ")
			cur = &usageFlag{name: name, typ: typ}
			continue
		}
		if cur != nil && strings.HasPrefix(line, "    ") {
			cur.text += strings.TrimSpace(line) + " "
		}
	}
	if cur != nil {
		flags[cur.name] = *cur
	}
	return flags
}

var flagVariable = regexp.MustCompile(`\(\$(LATCHKEY_[A-Z0-9_]+)\)`)

// Every flag of every command takes its environment default, and -h names
// the variable and shows what it set.
func TestEveryFlagHasAVariable(t *testing.T) {
	sample := map[string]string{"": "true", "int": "7", "duration": "7s", "string": "test-value", "value": "7d", "algorithm": "ES256"}
	shown := map[string]string{"": "true", "int": "7", "duration": "7s", "string": `"test-value"`, "value": "7d", "algorithm": "ES256"}
	total := 0
	for _, cmd := range commandsOf(t) {
		name := strings.Join(cmd, " ")
		flags := flagsOf(help(t, testEnv(nil), cmd...))
		if len(flags) == 0 {
			t.Errorf("latchkey %s -h shows no flags", name)
		}
		for _, f := range flags {
			total++
			m := flagVariable.FindStringSubmatch(f.text)
			if m == nil {
				t.Errorf("latchkey %s -h: --%s names no LATCHKEY_* variable: %q", name, f.name, f.text)
				continue
			}
			value, ok := sample[f.typ]
			if !ok {
				t.Errorf("latchkey %s: --%s is of type %q, which this test cannot set", name, f.name, f.typ)
				continue
			}
			got := flagsOf(help(t, testEnv(map[string]string{m[1]: value}), cmd...))[f.name]
			if want := "(default " + shown[f.typ] + ")"; !strings.Contains(got.text, want) {
				t.Errorf("latchkey %s with $%s=%s: --%s shows %q, want the variable's value %s", name, m[1], value, f.name, got.text, want)
			}
		}
	}
	t.Logf("%d flags checked", total)
}

// The flags of serve become one validated configuration.
func TestParseServe(t *testing.T) {
	def := func(c *serveConfig) {}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want func(*serveConfig) // changes from the defaults
	}{
		{name: "defaults", want: def},
		{name: "secure cookies by flag", args: []string{"--secure-cookies"}, want: func(c *serveConfig) { c.secureCookies = true }},
		{name: "secure cookies by variable", env: map[string]string{"LATCHKEY_SECURE_COOKIES": "true"}, want: func(c *serveConfig) { c.secureCookies = true }},
		{name: "the flag wins over the variable", args: []string{"--secure-cookies=false"}, env: map[string]string{"LATCHKEY_SECURE_COOKIES": "true"}, want: def},
		{name: "addr by variable", env: map[string]string{"LATCHKEY_ADDR": ":9090"}, want: func(c *serveConfig) { c.addr = ":9090" }},
		{name: "addr with a host name", args: []string{"--addr", "tokens.internal:8080"}, want: func(c *serveConfig) { c.addr = "tokens.internal:8080" }},
		{name: "addr IPv6", args: []string{"--addr", "[::1]:0"}, want: func(c *serveConfig) { c.addr = "[::1]:0" }},
		{name: "only the maximum lifetime", env: map[string]string{"LATCHKEY_MAX_TOKEN_LIFETIME": "30d"}, want: func(c *serveConfig) {
			c.service.MaxLifetime = service.Lifetime{Days: 30}
		}},
		{name: "both lifetimes", args: []string{"--token-lifetime", "7d", "--max-token-lifetime", "30d"}, want: func(c *serveConfig) {
			c.service.DefaultLifetime = service.Lifetime{Days: 7}
			c.service.MaxLifetime = service.Lifetime{Days: 30}
		}},
		{name: "log", args: []string{"--log-format", "JSON", "--log-level", "debug"}, want: func(c *serveConfig) { c.logFormat = "json"; c.logLevel = -4 }},
		{name: "rate off", args: []string{"--limit-failed-auth", "off"}, want: func(c *serveConfig) { c.limits.FailedAuthPerAddr = httpapi.Rate{} }},
		{name: "rate", args: []string{"--limit-create-user", "2:3"}, want: func(c *serveConfig) { c.limits.CreatePerUser = httpapi.Rate{PerSecond: 2, Burst: 3} }},
		{name: "public url", args: []string{"--public-url", "https://tokens.example.com/"}, want: func(c *serveConfig) { c.publicURL = "https://tokens.example.com" }},
		{name: "oauth lifetimes", args: []string{"--oauth-token-lifetime", "10m", "--refresh-token-lifetime", "1d"}, want: func(c *serveConfig) {
			c.oauthLifetime = 10 * time.Minute
			c.refreshLifetime = 24 * time.Hour
		}},
		{name: "oauth default scopes", args: []string{"--oauth-default-scopes", "tokens.write, tokens.read,tokens.write"}, want: func(c *serveConfig) {
			c.oauthDefaultScopes = []string{"tokens.write", "tokens.read"}
		}},
		{name: "oauth default scopes by variable", env: map[string]string{"LATCHKEY_OAUTH_DEFAULT_SCOPES": "*"}, want: func(c *serveConfig) {
			c.oauthDefaultScopes = []string{"*"}
		}},
		{name: "oauth default scopes off", args: []string{"--oauth-default-scopes", "off"}, want: func(c *serveConfig) { c.oauthDefaultScopes = []string{} }},
		{name: "oauth default scope an extra scope", args: []string{"--extra-scopes", "billing.read", "--oauth-default-scopes", "billing.read"}, want: func(c *serveConfig) {
			c.service.ExtraScopes = []string{"billing.read"}
			c.oauthDefaultScopes = []string{"billing.read"}
		}},
		{name: "oauth registration off", args: []string{"--oauth-registration", "off"}, want: func(c *serveConfig) { c.registration = httpapi.RegistrationOff }},
		{name: "oauth registration by variable", env: map[string]string{"LATCHKEY_OAUTH_REGISTRATION": "open"}, want: func(c *serveConfig) { c.registration = httpapi.RegistrationOpen }},
		{name: "oauth client metadata off", args: []string{"--oauth-client-metadata=false"}, want: func(c *serveConfig) { c.clientMetadata = false }},
		{name: "oauth client metadata off by variable", env: map[string]string{"LATCHKEY_OAUTH_CLIENT_METADATA": "false"}, want: func(c *serveConfig) { c.clientMetadata = false }},
		{name: "registration rate", args: []string{"--limit-registration", "1:5"}, want: func(c *serveConfig) { c.limits.RegistrationPerAddr = httpapi.Rate{PerSecond: 1, Burst: 5} }},
		{name: "postgres pool", args: []string{"--database", "postgres://h/db", "--db-max-conns", "5", "--db-statement-timeout", "off"}, env: map[string]string{"LATCHKEY_SECRET": "s"}, want: func(c *serveConfig) {
			*c.db.database = "postgres://h/db"
			*c.db.maxConns, c.db.conns = "5", 5
			*c.db.statementTimeout, c.db.timeout = "off", -1
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &env{getenv: testEnv(tc.env), stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
			got, err := e.parseServe(tc.args)
			if err != nil {
				t.Fatalf("parseServe(%q) with %v: %v", tc.args, tc.env, err)
			}
			want, err := (&env{getenv: testEnv(nil), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}).parseServe(nil)
			if err != nil {
				t.Fatal(err)
			}
			tc.want(want)
			opts := []cmp.Option{
				cmp.AllowUnexported(serveConfig{}, dbFlags{}),
				cmp.Comparer(func(a, b func(string) string) bool { return true }),
			}
			if diff := cmp.Diff(want, got, opts...); diff != "" {
				t.Errorf("parseServe(%q) with %v (-want +got):\n%s", tc.args, tc.env, diff)
			}
		})
	}
}

// badServe are bad configurations of serve, each refused before anything
// is created: the flag or variable, and what the error must name.
var badServe = []struct {
	name string
	args []string
	env  map[string]string
	want string
}{
	{"unknown flag", []string{"--nope"}, nil, "unknown flag --nope"},
	{"smtp url scheme", []string{"--smtp-url", "http://mail.example.com", "--mail-from", "a@example.com"}, nil, "--smtp-url"},
	{"smtp url without mail-from", []string{"--smtp-url", "smtp://mail.example.com"}, nil, "--mail-from"},
	{"mail-from without smtp url", []string{"--mail-from", "a@example.com"}, nil, "--smtp-url"},
	{"mail-from not an address", []string{"--smtp-url", "smtp://mail.example.com", "--mail-from", "not an address"}, nil, "--mail-from"},
	{"smtp password not echoed", []string{"--smtp-url", "smtp://u:hunter2-secret@mail.example.com/path", "--mail-from", "a@example.com"}, nil, "--smtp-url"},
	{"expiry reminders", []string{"--expiry-reminders", "30d,soon"}, nil, "--expiry-reminders"},
	{"expiry reminder too short", []string{"--expiry-reminders", "1s"}, nil, "--expiry-reminders"},
	{"delivery claim", []string{"--delivery-claim", "0"}, nil, "--delivery-claim"},
	{"audit retention under the reminders", []string{"--audit-retention", "30d"}, nil, "--audit-retention"},
	{"reminders over the audit retention", []string{"--expiry-reminders", "100d,1d"}, nil, "--audit-retention"},
	{"addr", []string{"--addr", "nonsense"}, nil, "--addr"},
	{"addr port", []string{"--addr", "127.0.0.1:99999"}, nil, "--addr"},
	{"addr host", []string{"--addr", "a b:80"}, nil, "--addr"},
	{"addr without a value", []string{"--addr"}, nil, "--addr: needs a value"},
	{"default lifetime over the maximum", []string{"--token-lifetime", "2y"}, nil, "--token-lifetime"},
	{"explicit default over explicit maximum", nil, map[string]string{"LATCHKEY_TOKEN_LIFETIME": "60d", "LATCHKEY_MAX_TOKEN_LIFETIME": "30d"}, "--token-lifetime"},
	{"lifetime", []string{"--max-token-lifetime", "forever"}, nil, "--max-token-lifetime"},
	{"lifetime variable", nil, map[string]string{"LATCHKEY_TOKEN_LIFETIME": "soon"}, "$LATCHKEY_TOKEN_LIFETIME (--token-lifetime)"},
	{"pool size on SQLite", []string{"--db-max-conns", "banana"}, nil, "--db-max-conns"},
	{"a pool size SQLite has not", []string{"--db-max-conns", "5"}, nil, "--db-max-conns"},
	{"statement timeout", []string{"--db-statement-timeout", "-1s"}, nil, "--db-statement-timeout"},
	{"log format", []string{"--log-format", "xml"}, nil, "--log-format"},
	{"log level", []string{"--log-level", "loud"}, nil, "--log-level"},
	{"shutdown timeout", []string{"--shutdown-timeout", "soon"}, nil, "--shutdown-timeout"},
	{"rate", []string{"--limit-failed-auth", "lots"}, nil, "--limit-failed-auth"},
	{"proxies", []string{"--trusted-proxies", "10.0.0.0/33"}, nil, "--trusted-proxies"},
	{"public url", []string{"--public-url", "ftp://tokens.example.com"}, nil, "--public-url"},
	{"secure cookies variable", nil, map[string]string{"LATCHKEY_SECURE_COOKIES": "maybe"}, "$LATCHKEY_SECURE_COOKIES (--secure-cookies)"},
	{"secure cookies", []string{"--secure-cookies=maybe"}, nil, "--secure-cookies: want true or false"},
	{"oauth lifetime", []string{"--oauth-token-lifetime", "0s"}, nil, "--oauth-token-lifetime"},
	{"refresh lifetime", []string{"--refresh-token-lifetime", "x"}, nil, "--refresh-token-lifetime"},
	{"cache size", []string{"--token-cache-size", "-1"}, nil, "--token-cache-size"},
	{"lease too short", []string{"--lease", "10ms"}, nil, "--lease"},
	{"lease not a duration", []string{"--lease", "3"}, nil, "--lease"},
	{"audit retention", []string{"--audit-retention", "x"}, nil, "--audit-retention"},
	{"extra scope", []string{"--extra-scopes", "ok,not ok"}, nil, "--extra-scopes"},
	{"oauth default scope unknown", []string{"--oauth-default-scopes", "tokens.read,admin"}, nil, "--oauth-default-scopes"},
	{"oauth default scope unknown by variable", nil, map[string]string{"LATCHKEY_OAUTH_DEFAULT_SCOPES": "admin"}, "--oauth-default-scopes"},
	{"oauth default scopes empty", []string{"--oauth-default-scopes", ","}, nil, "--oauth-default-scopes"},
	{"oauth registration", []string{"--oauth-registration", "closed"}, nil, "--oauth-registration"},
	{"oauth registration by variable", nil, map[string]string{"LATCHKEY_OAUTH_REGISTRATION": "yes"}, "--oauth-registration"},
	{"oauth client metadata by variable", nil, map[string]string{"LATCHKEY_OAUTH_CLIENT_METADATA": "sometimes"}, "--oauth-client-metadata"},
	{"registration rate", []string{"--limit-registration", "many"}, nil, "--limit-registration"},
	{"argument", []string{"extra"}, nil, "unexpected arguments"},
}

// A bad configuration of serve is refused, exit 2, with one line that
// names the flag, and nothing is created: no database, no secret.
func TestServeValidatesBeforeTouching(t *testing.T) {
	for _, tc := range badServe {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			vars := map[string]string{"LATCHKEY_DATABASE": filepath.Join(dir, "latchkey.db")}
			for k, v := range tc.env {
				vars[k] = v
			}
			var out, errOut bytes.Buffer
			err := run(t.Context(), append([]string{"serve", "--addr", "127.0.0.1:0"}, tc.args...), testEnv(vars), strings.NewReader(""), &out, &errOut)
			if err == nil {
				t.Fatalf("serve %q with %v succeeded", tc.args, tc.env)
			}
			if got := exitCode(err); got != 2 {
				t.Errorf("serve %q: exit %d (%v), want 2", tc.args, got, err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("serve %q: %q shows the password", tc.args, err)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("serve %q: %q, want one line naming %s", tc.args, err, tc.want)
			}
			if out.Len()+errOut.Len() > 0 {
				t.Errorf("serve %q printed more than its error:\n%s%s", tc.args, out.String(), errOut.String())
			}
			var report bytes.Buffer
			reportError(&report, err)
			if want := "see 'latchkey serve -h'\n"; !strings.HasSuffix(report.String(), want) || strings.Count(report.String(), "\n") != 2 {
				t.Errorf("serve %q reports %q, want the error and then %q", tc.args, report.String(), want)
			}
			assertEmpty(t, dir)
		})
	}

	// A port in use: refused before the database is created.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(dir, "latchkey.db")})
	if _, err := cli(t, env, "", "serve", "--addr", ln.Addr().String()); err == nil {
		t.Error("serve on a port in use succeeded")
	}
	assertEmpty(t, dir)
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	if ents, _ := os.ReadDir(dir); len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("%s holds %v, want nothing", dir, names)
	}
}

// Only serve and migrate create a database; every other command refuses a
// database that does not exist, and creates nothing.
func TestMissingDatabaseRefused(t *testing.T) {
	key := filepath.Join("..", "..", "internal", "httpapi", "testdata", "key.pem")
	args := map[string][]string{
		"token create":  {"--user", "admin", "--name", "x"},
		"token list":    {"--user", "admin"},
		"token revoke":  {strings.Repeat("ab", 40)},
		"user create":   {"--username", "x", "--email", "x@example.com"},
		"user list":     nil,
		"user update":   {"--email", "a@example.com", "admin"},
		"user disable":  {"admin"},
		"user enable":   {"admin"},
		"user delete":   {"admin"},
		"keys rotate":   nil,
		"keys import":   {"--private-key", key},
		"keys list":     nil,
		"client create": {"--name", "x", "--redirect-uri", "https://example.com/cb"},
		"client list":   nil,
		"client revoke": {"2"},
		"audit":         nil,
	}
	for _, cmd := range commandsOf(t) {
		name := strings.Join(cmd, " ")
		if name == "serve" || name == "migrate" || name == "bench" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			missing := filepath.Join(dir, "missing.db")
			a, known := args[name]
			line := append(append(slices.Clone(cmd), "--database", missing), a...)
			_, err := cli(t, testEnv(nil), "", line...)
			if err == nil {
				t.Fatalf("latchkey %q on a missing database succeeded", line)
			}
			if known && !strings.Contains(err.Error(), "no database at "+missing) {
				t.Errorf("latchkey %q: %v, want it to say there is no database at %s", line, err, missing)
			}
			assertEmpty(t, dir)
		})
	}
}

// The command that creates a database makes its first administrator and
// says how to use it: migrate as well as serve.
func TestMigrateCreatesFirstAdministrator(t *testing.T) {
	dir := t.TempDir()
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(dir, "m.db")})
	_, errOut, err := cliErr(t, env, "migrate")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, `created user 1, "admin"`) || !strings.Contains(errOut, "latchkey token create") {
		t.Errorf("migrate of a new database said:\n%s\nwant the first administrator and how to get a token", errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "m.db.secret")); err != nil {
		t.Errorf("migrate of a new database made no secret: %v", err)
	}
	mustCLI(t, env, "token", "create", "--user", "admin", "--name", "first")
	if _, errOut, _ := cliErr(t, env, "migrate"); strings.Contains(errOut, "new database") {
		t.Errorf("a second migrate thinks the database is new:\n%s", errOut)
	}
	_, stderr, _ := serve(t, env)
	if strings.Contains(stderr.String(), "new database") {
		t.Errorf("serve after migrate thinks the database is new:\n%s", stderr.String())
	}
}

// Flags come before, between or after the arguments; "--" ends them.
func TestFlagsAnywhere(t *testing.T) {
	db := filepath.Join(t.TempDir(), "f.db")
	env := testEnv(nil)
	mustCLI(t, env, "migrate", "--database", db)
	if _, err := cli(t, env, "a fair passphrase\n", "user", "update", "--password-stdin", "admin", "--database", db); err != nil {
		t.Errorf("user update --password-stdin admin --database DB: %v", err)
	}
	if _, err := cli(t, env, "", "user", "disable", "admin", "--database", db); err != nil {
		t.Errorf("user disable admin --database DB: %v", err)
	}
	if list := mustCLI(t, env, "user", "list", "--database", db); !strings.Contains(list, "INACTIVE") {
		t.Errorf("after user disable admin --database DB:\n%s", list)
	}
	// After "--", a flag-like word is an argument: here a user's name.
	_, err := cli(t, env, "", "user", "enable", "--database", db, "--", "--admin")
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "--admin") {
		t.Errorf("user enable -- --admin: %v, want no such user --admin", err)
	}
	if _, err := cli(t, env, "", "user", "enable", "admin", "extra", "--database", db); err == nil || exitCode(err) != 2 {
		t.Errorf("user enable admin extra: %v, want a usage error", err)
	}
}

// -h prints the usage on standard output and succeeds.
func TestHelp(t *testing.T) {
	// A bad variable does not hide the usage that would mend it.
	env := testEnv(map[string]string{"LATCHKEY_SECURE_COOKIES": "maybe"})
	for _, args := range [][]string{{"serve"}, {"token", "create"}, {"user"}, {"audit"}, {"bench"}} {
		out := help(t, env, args...)
		if !strings.HasPrefix(out, "Usage: latchkey "+strings.Join(args, " ")) {
			t.Errorf("latchkey %v -h = %q, want the usage", args, out)
		}
	}
}

// Bad values that used to be taken silently are refused.
func TestBadValuesRefused(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "v.db")
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": db})
	mustCLI(t, env, "migrate")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"audit", "--action", "bogus"}, "--action"},
		{[]string{"audit", "--limit", "-1"}, "--limit"},
		{[]string{"audit", "--limit", "banana"}, "--limit: want a whole number"},
		{[]string{"token", "list", "--user", "admin", "--db-max-conns", "banana"}, "--db-max-conns"},
		{[]string{"migrate", "--db-statement-timeout", "5s"}, "--db-statement-timeout"},
		{[]string{"token", "create", "--user", "admin", "--name", "x", "--token-lifetime", "2y"}, "--token-lifetime"},
	} {
		_, err := cli(t, env, "", tc.args...)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("latchkey %q: %v, want a usage error naming %s", tc.args, err, tc.want)
		}
	}
	if out := mustCLI(t, env, "audit", "--action", "user.created"); !strings.Contains(out, "user.created") {
		t.Errorf("audit --action user.created:\n%s", out)
	}
}

// A validation error says each complaint once.
func TestValidationErrorOnce(t *testing.T) {
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(t.TempDir(), "o.db")})
	mustCLI(t, env, "migrate")
	_, err := cli(t, env, "", "user", "create", "--username", "x", "--email", "not an email")
	if err == nil {
		t.Fatal("user create with a bad email succeeded")
	}
	if n := strings.Count(err.Error(), "must be a valid email address"); n != 1 || !strings.HasPrefix(err.Error(), "email: ") {
		t.Errorf("user create with a bad email: %q, want the field's complaint once", err)
	}
}

// With only a maximum lifetime shorter than a year, tokens default to it.
func TestOnlyMaxTokenLifetime(t *testing.T) {
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(t.TempDir(), "l.db"), "LATCHKEY_MAX_TOKEN_LIFETIME": "30d"})
	mustCLI(t, env, "migrate")
	before := time.Now()
	jwt := mustCLI(t, env, "token", "create", "--user", "admin", "--name", "short")
	_, payload, _ := strings.Cut(jwt, ".")
	payload, _, _ = strings.Cut(payload, ".")
	b, err := base64URL(payload)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct{ Exp int64 }
	if err := json.Unmarshal(b, &claims); err != nil || claims.Exp == 0 {
		t.Fatalf("token payload %s: %v", b, err)
	}
	if limit := before.AddDate(0, 0, 31).Unix(); claims.Exp > limit {
		t.Errorf("token made with only $LATCHKEY_MAX_TOKEN_LIFETIME=30d expires at %v, want within 30 days", time.Unix(claims.Exp, 0))
	}
}

func TestRedactDSN(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"./latchkey.db", "./latchkey.db"},
		{"postgres://u@h:5432/db?sslmode=disable", "postgres://u@h:5432/db?sslmode=disable"},
		{"postgres://u:pw@h:5432/db", "postgres://u:xxxxx@h:5432/db"},
		{"postgresql://u:p%40ss@h/db?sslmode=verify-full", "postgresql://u:xxxxx@h/db?sslmode=verify-full"},
		{"postgres://u:p@ss/w@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://u:p?w@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://u@h/db?sslmode=disable&password=pw&x=1", "postgres://u@h/db?sslmode=disable&password=xxxxx&x=1"},
		{"postgres://:pw@h/db", "postgres://:xxxxx@h/db"},
		{"POSTGRES://u:pw@h/db", "POSTGRES://u:xxxxx@h/db"},
		{"host=h user=u password=pw dbname=db", "host=h user=u password=xxxxx dbname=db"},
		{"host=h PASSWORD = 'p w\\'x' dbname=db", "host=h PASSWORD = xxxxx dbname=db"},
		{"password", "password"},
	} {
		if got := redactDSN(tc.in); got != tc.want {
			t.Errorf("redactDSN(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// -h shows the variable's value as the default: not its password.
	for _, cmd := range [][]string{{"serve"}, {"token", "list"}, {"migrate"}} {
		out := help(t, testEnv(map[string]string{"LATCHKEY_DATABASE": "postgres://u:pw-distinct-77@h/db"}), cmd...)
		if strings.Contains(out, "pw-distinct-77") || !strings.Contains(out, "postgres://u:xxxxx@h/db") {
			t.Errorf("latchkey %v -h with a password in $LATCHKEY_DATABASE shows:\n%s", cmd, out)
		}
	}
}

// FuzzRedactDSN: whatever the URL, a password of at least 6 characters
// written in it is not in what is printed.
func FuzzRedactDSN(f *testing.F) {
	f.Add("u", "secret", "h:5432/db?sslmode=disable")
	f.Add("", "p@ss/w?rd#x", "h/db")
	f.Add("user", "pw%20pw", "h/db?password=other")
	f.Fuzz(func(t *testing.T, user, pw, rest string) {
		if len(pw) < 6 || strings.Contains(user+rest, pw) || strings.ContainsAny(user, ":@/?#") ||
			strings.ContainsAny(rest, "@") || strings.Contains(pw, "xxxxx") {
			t.Skip()
		}
		dsn := "postgres://" + user + ":" + pw + "@" + rest
		if got := redactDSN(dsn); strings.Contains(got, pw) {
			t.Errorf("redactDSN(%q) = %q, which holds the password", dsn, got)
		}
		q := "postgres://" + user + "@h/db?password=" + url.QueryEscape(pw)
		if got := redactDSN(q); strings.Contains(got, url.QueryEscape(pw)) {
			t.Errorf("redactDSN(%q) = %q, which holds the password", q, got)
		}
	})
}

// A PostgreSQL URL's password is never printed: not in serve's log and
// first-start hints, nor migrate's report, nor an error quoting the URL.
func TestDatabasePasswordNotPrinted(t *testing.T) {
	const pw = "pw-distinct-5d1c"
	u, err := url.Parse(pgtest.Schema(t, pgtest.DSN(t)))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), pw) // the local server trusts: the password is not checked
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": u.String(), "LATCHKEY_SECRET": "a secret of a fair length for tests"})
	_, stderr, stop := serve(t, env)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "new database") || !strings.Contains(stderr.String(), "msg=serving") {
		t.Fatalf("serve's first start said:\n%s", stderr.String())
	}
	_, migrateOut, err := cliErr(t, env, "migrate")
	if err != nil {
		t.Fatal(err)
	}
	bad := *u
	bad.Host = "127.0.0.1:1"
	q := bad.Query()
	q.Set("connect_timeout", "1")
	q.Set("password", pw)
	bad.RawQuery = q.Encode()
	_, err = cli(t, testEnv(map[string]string{"LATCHKEY_SECRET": "s"}), "", "user", "list", "--database", bad.String())
	if err == nil {
		t.Fatal("user list on a closed port succeeded")
	}
	_, err2 := cli(t, testEnv(nil), "", "migrate", "--database", "postgres://u:"+pw+"@h:port/db")
	if err2 == nil {
		t.Fatal("migrate with a bad port succeeded")
	}
	for what, text := range map[string]string{"serve": stderr.String(), "migrate": migrateOut, "an error": err.Error(), "a parse error": err2.Error()} {
		if strings.Contains(text, pw) {
			t.Errorf("%s printed the database password:\n%s", what, text)
		}
	}
	if !strings.Contains(stderr.String(), "xxxxx") {
		t.Errorf("serve does not show the database, redacted:\n%s", stderr.String())
	}
}

// TestKeywordDSNPasswordNotPrinted: a keyword/value string given as the
// database by mistake is not opened as PostgreSQL, and its password is not
// printed in the refusal.
func TestKeywordDSNPasswordNotPrinted(t *testing.T) {
	dsn := "host=127.0.0.1 user=u password=kw-secret-distinct dbname=db"
	for _, args := range [][]string{{"user", "list"}, {"migrate"}} {
		_, errOut, err := cliErr(t, testEnv(map[string]string{"LATCHKEY_DATABASE": dsn}), args...)
		if err == nil {
			t.Errorf("latchkey %v on %q succeeded", args, dsn)
		}
		if all := fmt.Sprint(err) + errOut; strings.Contains(all, "kw-secret-distinct") {
			t.Errorf("latchkey %v printed the password: %s", args, all)
		}
	}
}

// TestSMTPPasswordNotPrinted: serve -h shows what $LATCHKEY_SMTP_URL set,
// its password redacted.
func TestSMTPPasswordNotPrinted(t *testing.T) {
	const pw = "smtp-pw-7e21"
	env := testEnv(map[string]string{"LATCHKEY_SMTP_URL": "smtp://tokens:" + pw + "@mail.example.com:587"})
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"serve", "-h"}, env, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	help := out.String() + errOut.String()
	if strings.Contains(help, pw) || !strings.Contains(help, "smtp://tokens:REDACTED@mail.example.com:587") {
		t.Errorf("serve -h shows the mail server as:\n%s", help)
	}
}

// A server started without --oauth-default-scopes grants tokens.read to
// an authorization request that names no scope.
func TestServeOAuthDefaultScopesDefault(t *testing.T) {
	c, err := (&env{getenv: testEnv(nil), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}).parseServe(nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"tokens.read"}, c.oauthDefaultScopes); diff != "" {
		t.Errorf("parseServe(nil).oauthDefaultScopes (-want +got):\n%s", diff)
	}
}
