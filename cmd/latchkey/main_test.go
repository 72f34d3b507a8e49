package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
	"github.com/latchkey/latchkey/internal/jwt"
)

// syncBuffer is a buffer that a server goroutine writes while a test reads.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	written chan struct{} // has a value after a write, once made by await
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.written != nil {
		select {
		case s.written <- struct{}{}:
		default:
		}
	}
	return s.b.Write(p)
}

// await returns the first match of re in what was written, waiting for
// writes until it appears or until deadline.
func (s *syncBuffer) await(t *testing.T, re *regexp.Regexp, deadline time.Duration) []string {
	t.Helper()
	s.mu.Lock()
	if s.written == nil {
		s.written = make(chan struct{}, 1)
	}
	written := s.written
	s.mu.Unlock()
	timeout := time.After(deadline)
	for {
		if m := re.FindStringSubmatch(s.String()); m != nil {
			return m
		}
		select {
		case <-written:
		case <-timeout:
			t.Fatalf("%v not written within %v:\n%s", re, deadline, s.String())
		}
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testEnv is the environment every command of a test sees.
func testEnv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// cli runs one command and returns its standard output.
func cli(t *testing.T, getenv func(string) string, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), args, getenv, strings.NewReader(stdin), &out, &errOut)
	if err != nil {
		t.Logf("latchkey %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return strings.TrimSpace(out.String()), err
}

// mustCLI is cli that fails the test on an error.
func mustCLI(t *testing.T, getenv func(string) string, args ...string) string {
	t.Helper()
	out, err := cli(t, getenv, "", args...)
	if err != nil {
		t.Fatalf("latchkey %s: %v", strings.Join(args, " "), err)
	}
	return out
}

var servingLine = regexp.MustCompile(`serving on (http://\S+)`)

// serve starts "latchkey serve" on a free port and returns its URL, its
// standard error and a function that stops it (SIGTERM's path) and
// returns run's error.
func serve(t *testing.T, getenv func(string) string, args ...string) (string, *syncBuffer, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), getenv, strings.NewReader(""), io.Discard, stderr)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := servingLine.FindStringSubmatch(stderr.String()); m != nil {
			base := m[1]
			waitHealthy(t, base)
			var once sync.Once
			var err error
			stop := func() error {
				once.Do(func() { cancel(); err = <-done })
				return err
			}
			t.Cleanup(func() { _ = stop() })
			return base, stderr, stop
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve ended before serving: %v\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not start:\n%s", stderr.String())
		}
	}
}

// waitCurrent waits until the server whose metrics are at url says it is
// current (latchkey_current 1): it holds its lease.
func waitCurrent(t *testing.T, url string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; {
		if _, body := get(t, url); strings.Contains(string(body), "\nlatchkey_current 1\n") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server at %s was not current within a minute", url)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitHealthy(t *testing.T, base string) {
	t.Helper()
	for range 100 {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s/healthz never answered 200", base)
}

func TestServeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(dir, "latchkey.db")})
	base, stderr, stop := serve(t, env, "--metrics-addr", "127.0.0.1:0")
	// Until it holds its lease, the server verifies every token against
	// the database; the metrics below count answers from its cache.
	waitCurrent(t, metricsURL(t, stderr))

	// First start: user 1, admin, and the hint on standard error.
	if !strings.Contains(stderr.String(), "latchkey token create") {
		t.Errorf("first start does not tell how to get a token:\n%s", stderr.String())
	}
	fi, err := os.Stat(filepath.Join(dir, "latchkey.db.secret"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file: %v, mode %v; want one with mode 0600", err, fi.Mode().Perm())
	}

	jwt := mustCLI(t, env, "token", "create", "--user", "admin", "--name", "first")
	if strings.Count(jwt, ".") != 2 || strings.ContainsAny(jwt, " \n") {
		t.Fatalf("token create printed %q, want only the JWT", jwt)
	}
	c, err := client.New(base, client.WithBearerToken(jwt))
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.Tokens(t.Context(), 1, client.ListOptions{})
	if err != nil || page.Total != 1 || page.Tokens[0].Name != "first" {
		t.Fatalf("admin's tokens = %+v, %v", page, err)
	}
	made, err := c.CreateToken(t.Context(), 1, client.CreateTokenRequest{Name: "made over HTTP"})
	if err != nil {
		t.Fatal(err)
	}

	// A user made at the command line while the server runs can use it.
	uid := mustCLI(t, env, "user", "create", "--username", "alice", "--email", "alice@example.com", "--grant", "view-users")
	if uid != "2" {
		t.Errorf("user create printed %q, want the id 2", uid)
	}
	alice, _ := client.New(base, client.WithAPIKey(mustCLI(t, env, "token", "create", "--user", "alice@example.com", "--name", "a", "--scopes", "tokens.read"), ""))
	if _, err := alice.Tokens(t.Context(), 1, client.ListOptions{}); err != nil {
		t.Errorf("alice, a viewer, listing admin's tokens: %v", err)
	}
	// The metrics, on their own listener, hear the service and the
	// database pool.
	res, err := http.Get(metricsURL(t, stderr))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`latchkey_authentications_total{outcome="verified"}`,
		`latchkey_authentications_total{outcome="cached"}`,
		`latchkey_tokens_created_total 1`,
		`latchkey_token_cache_entries`,
		`latchkey_current`,
		`latchkey_db_connections_open`,
		`latchkey_db_group_commits 1`, // the one create over HTTP
		`latchkey_db_group_writes 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("serve after SIGTERM's path: %v, want nil", err)
	}

	// Restart: every token is kept and still authenticates.
	base, stderr, _ = serve(t, env, "--metrics-addr", "127.0.0.1:0")
	if strings.Contains(stderr.String(), "this is a new database") {
		t.Error("a restart thinks the database is new")
	}
	for _, tok := range []string{jwt, made.AccessToken} {
		c, _ := client.New(base, client.WithBearerToken(tok))
		if page, err := c.Tokens(t.Context(), 1, client.ListOptions{}); err != nil || page.Total != 2 {
			t.Errorf("after restart: %+v, %v", page, err)
		}
	}
	// Revoked at the command line (another process), while the running
	// server holds the token in its cache: refused the instant the command
	// returns, which waited for the server's acknowledgement.
	c, _ = client.New(base, client.WithBearerToken(made.AccessToken))
	if _, err := c.Tokens(t.Context(), 1, client.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	// The server counts once it holds its lease, which a server just
	// started may not yet: until then it reads every verification from the
	// database, and a change made elsewhere need not wait for it.
	waitCurrent(t, metricsURL(t, stderr))
	var out, said bytes.Buffer
	if err := run(t.Context(), []string{"token", "revoke", made.Token.ID}, env, strings.NewReader(""), &out, &said); err != nil {
		t.Fatalf("token revoke: %v\n%s", err, said.String())
	}
	if _, err := c.Tokens(t.Context(), 1, client.ListOptions{}); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("a token revoked at the command line was accepted after the command returned: %v", err)
	}
	if !strings.Contains(said.String(), "in force: acknowledged by 1 running server") {
		t.Errorf("token revoke said %q on standard error, want it to say which servers acknowledged", said.String())
	}
}

func TestKeys(t *testing.T) {
	dir := t.TempDir()
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(dir, "k.db"), "LATCHKEY_SECRET": "a secret of a fair length for tests"})
	mustCLI(t, env, "migrate")
	mustCLI(t, env, "user", "create", "--username", "root", "--email", "root@example.com", "--admin")
	old := mustCLI(t, env, "token", "create", "--user", "root", "--name", "before rotation")
	kid := mustCLI(t, env, "keys", "rotate")
	newer := mustCLI(t, env, "token", "create", "--user", "root", "--name", "after rotation")
	if headerKID(t, newer) != kid || headerKID(t, old) == kid {
		t.Errorf("kids: old %s, new %s, rotated to %s", headerKID(t, old), headerKID(t, newer), kid)
	}
	base, _, _ := serve(t, env)
	for _, tok := range []string{old, newer} {
		c, _ := client.New(base, client.WithBearerToken(tok))
		if _, err := c.Tokens(t.Context(), 1, client.ListOptions{}); err != nil {
			t.Errorf("token of kid %s after rotation: %v", headerKID(t, tok), err)
		}
	}
	res, err := http.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var set struct{ Keys []struct{ Kid string } }
	_ = json.NewDecoder(res.Body).Decode(&set)
	res.Body.Close()
	if len(set.Keys) != 2 {
		t.Errorf("JWKS after one rotation has %d keys, want 2 (the old one still signs a live token)", len(set.Keys))
	}
	list := mustCLI(t, env, "keys", "list")
	if !strings.Contains(list, "signing") || !strings.Contains(list, "verifying") {
		t.Errorf("keys list:\n%s", list)
	}

	// Import a Passport-style PEM pair.
	priv := filepath.Join("..", "..", "internal", "httpapi", "testdata", "key.pem")
	imported := mustCLI(t, env, "keys", "import", "--private-key", priv)
	if tok := mustCLI(t, env, "token", "create", "--user", "root", "--name", "imported"); headerKID(t, tok) != imported {
		t.Errorf("after import, tokens are signed by %s, want %s", headerKID(t, tok), imported)
	}
	if _, err := cli(t, env, "", "keys", "import", "--private-key", priv); err == nil {
		t.Error("importing the same key twice succeeded")
	}
}

// TestKeysRotateAlgorithms: keys rotate --alg makes keys of each
// algorithm; tokens of every one keep working, the JWKS publishes each
// kind, and keys list shows each key's algorithm. An unknown algorithm is a
// usage error that changes nothing.
func TestKeysRotateAlgorithms(t *testing.T) {
	dir := t.TempDir()
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(dir, "k.db"), "LATCHKEY_SECRET": "a secret of a fair length for tests"})
	mustCLI(t, env, "migrate")
	mustCLI(t, env, "user", "create", "--username", "root", "--email", "root@example.com", "--admin")
	tokens := map[string]string{"RS256": mustCLI(t, env, "token", "create", "--user", "root", "--name", "RS256")}
	for _, alg := range []string{"ES256", "EdDSA"} {
		kid := mustCLI(t, env, "keys", "rotate", "--alg", alg)
		tok := mustCLI(t, env, "token", "create", "--user", "root", "--name", alg)
		if got := headerAlg(t, tok); got != alg || headerKID(t, tok) != kid {
			t.Errorf("after keys rotate --alg %s: a token of %s by %s, want %s by %s", alg, got, headerKID(t, tok), alg, kid)
		}
		tokens[alg] = tok
	}
	for _, bad := range []string{"HS256", "es256", "none", ""} {
		_, err := cli(t, env, "", "keys", "rotate", "--alg", bad)
		var u *usageError
		if !errors.As(err, &u) || (bad != "" && !strings.Contains(err.Error(), "want RS256, ES256, EdDSA")) {
			t.Errorf("keys rotate --alg %q = %v, want a usage error naming the algorithms", bad, err)
		}
	}
	list := mustCLI(t, env, "keys", "list")
	if n := strings.Count(list, "\n"); n != 3 {
		t.Errorf("keys list has %d keys, want 3:\n%s", n, list)
	}
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		if !strings.Contains(list, "  "+alg+"  ") {
			t.Errorf("keys list shows no %s key:\n%s", alg, list)
		}
	}

	base, _, _ := serve(t, env)
	for alg, tok := range tokens {
		c, _ := client.New(base, client.WithBearerToken(tok))
		if _, err := c.Tokens(t.Context(), 1, client.ListOptions{}); err != nil {
			t.Errorf("a token of the %s key: %v", alg, err)
		}
	}
	res, err := http.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var set struct{ Keys []struct{ Kty, Alg string } }
	_ = json.NewDecoder(res.Body).Decode(&set)
	res.Body.Close()
	var kinds []string
	for _, k := range set.Keys {
		kinds = append(kinds, k.Kty+" "+k.Alg)
	}
	if got, want := strings.Join(kinds, ", "), "OKP EdDSA, EC ES256, RSA RS256"; got != want {
		t.Errorf("JWKS keys = %s, want %s", got, want)
	}
}

// TestKeysRotateAlgorithmsWhileServing changes the signing key's
// algorithm at the command line while a server runs, from RS256 to
// ES256, EdDSA and back: once each command returns, the server signs the
// tokens it makes by the new key's algorithm, every token made before,
// by whichever key, still authenticates, and its JWKS publishes a key of
// each algorithm that still verifies.
func TestKeysRotateAlgorithmsWhileServing(t *testing.T) {
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(t.TempDir(), "k.db")})
	base, stderr, _ := serve(t, env, "--metrics-addr", "127.0.0.1:0")
	// The command waits for the servers that hold a lease.
	waitCurrent(t, metricsURL(t, stderr))
	c, err := client.New(base, client.WithBearerToken(mustCLI(t, env, "token", "create", "--user", "admin", "--name", "root")))
	if err != nil {
		t.Fatal(err)
	}
	var made []string
	for i, alg := range []string{"RS256", "ES256", "EdDSA", "RS256"} {
		kid := ""
		if i > 0 {
			kid = mustCLI(t, env, "keys", "rotate", "--alg", alg)
		}
		created, err := c.CreateToken(t.Context(), 1, client.CreateTokenRequest{Name: alg})
		if err != nil {
			t.Fatalf("a create after the change to %s: %v", alg, err)
		}
		if got := headerAlg(t, created.AccessToken); got != alg || kid != "" && headerKID(t, created.AccessToken) != kid {
			t.Errorf("after keys rotate --alg %s (kid %s), the server signed a token %s by %s", alg, kid, got, headerKID(t, created.AccessToken))
		}
		made = append(made, created.AccessToken)
		for j, tok := range made {
			bearer, _ := client.New(base, client.WithBearerToken(tok))
			if _, err := bearer.Tokens(t.Context(), 1, client.ListOptions{}); err != nil {
				t.Errorf("after the change to %s, the token of the %d-th key (%s): %v", alg, j+1, headerAlg(t, tok), err)
			}
		}
		res, err := http.Get(base + "/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		var set struct{ Keys []struct{ Kid string } }
		_ = json.NewDecoder(res.Body).Decode(&set)
		res.Body.Close()
		published := map[string]bool{}
		for _, k := range set.Keys {
			published[k.Kid] = true
		}
		for _, tok := range made {
			if !published[headerKID(t, tok)] {
				t.Errorf("after the change to %s, the JWKS lacks key %s (%s), whose token is live", alg, headerKID(t, tok), headerAlg(t, tok))
			}
		}
	}
}

// headerAlg is the alg of a JWT's header.
func headerAlg(t *testing.T, jwt string) string {
	t.Helper()
	head, _, _ := strings.Cut(jwt, ".")
	b, err := base64URL(head)
	if err != nil {
		t.Fatalf("JWT header: %v", err)
	}
	var h struct{ Alg string }
	_ = json.Unmarshal(b, &h)
	return h.Alg
}

// headerKID is the kid of a JWT's header.
func headerKID(t *testing.T, token string) string {
	t.Helper()
	_, kid, ok := jwt.Header(token)
	if !ok {
		t.Fatalf("%q has no JWT header", token)
	}
	return kid
}

func TestSecretGuards(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": db})
	mustCLI(t, env, "migrate")
	mustCLI(t, env, "user", "create", "--username", "u", "--email", "u@example.com")
	mustCLI(t, env, "token", "create", "--user", "u", "--name", "n")
	if err := os.Remove(db + ".secret"); err != nil {
		t.Fatal(err)
	}
	_, err := cli(t, env, "", "token", "create", "--user", "u", "--name", "n")
	if err == nil || !strings.Contains(err.Error(), "sealed with a secret") {
		t.Errorf("with the secret file gone: %v, want a refusal naming the secret", err)
	}
	wrong := testEnv(map[string]string{"LATCHKEY_DATABASE": db, "LATCHKEY_SECRET": "not the secret the keys were sealed with"})
	if _, err := cli(t, wrong, "", "token", "create", "--user", "u", "--name", "n"); err == nil {
		t.Error("a wrong secret opened the keys")
	}
}

func TestUserCommands(t *testing.T) {
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(t.TempDir(), "u.db")})
	mustCLI(t, env, "migrate")
	if _, err := cli(t, env, "hunter2 is long enough\n", "user", "create", "--username", "bob", "--email", "bob@example.com", "--first-name", "Bob", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, env, "user", "update", "--permissions", "edit-users", "--last-name", "Builder", "bob")
	mustCLI(t, env, "user", "disable", "bob")
	list := mustCLI(t, env, "user", "list")
	if !strings.Contains(list, "Bob Builder") || !strings.Contains(list, "INACTIVE") || !strings.Contains(list, "edit-users") {
		t.Errorf("user list after update and disable:\n%s", list)
	}
	if _, err := cli(t, env, "", "token", "create", "--user", "bob", "--name", "x"); err != nil {
		t.Errorf("an inactive user can still be given a token at the command line: %v", err)
	}
	mustCLI(t, env, "user", "enable", "bob")
	mustCLI(t, env, "user", "delete", "bob")
	if list := mustCLI(t, env, "user", "list"); strings.Contains(list, "bob") {
		t.Errorf("deleted user listed:\n%s", list)
	}
	if list := mustCLI(t, env, "user", "list", "--all"); !strings.Contains(list, "DELETED") {
		t.Errorf("user list --all does not show the deleted user:\n%s", list)
	}
	if _, err := cli(t, env, "", "token", "create", "--user", "bob", "--name", "x"); err == nil {
		t.Error("a deleted user was given a token")
	}
}

func TestBadCommandLines(t *testing.T) {
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(t.TempDir(), "b.db")})
	mustCLI(t, env, "migrate")
	for _, tc := range []struct {
		name string
		args []string
		want int // exit code
	}{
		{"no command", nil, 2},
		{"unknown command", []string{"frobnicate"}, 2},
		{"unknown subcommand", []string{"user", "frob"}, 2},
		{"unknown flag", []string{"serve", "--nope"}, 2},
		{"bad lifetime", []string{"serve", "--max-token-lifetime", "forever"}, 2},
		{"bad log format", []string{"serve", "--log-format", "xml"}, 2},
		{"default over max", []string{"serve", "--token-lifetime", "2y"}, 2},
		{"token create without user", []string{"token", "create", "--name", "x"}, 2},
		{"token create for nobody", []string{"token", "create", "--user", "nobody", "--name", "x"}, 1},
		{"token create unknown scope", []string{"token", "create", "--user", "1", "--name", "x", "--scopes", "nope"}, 1},
		{"token revoke bad id", []string{"token", "revoke", "xyz"}, 2},
		{"token rotate bad id", []string{"token", "rotate", strings.Repeat("AB", 40)}, 2},
		{"user create bad email", []string{"user", "create", "--username", "x", "--email", "not an email"}, 1},
		{"user create bad permission", []string{"user", "create", "--username", "x", "--email", "x@example.com", "--grant", "root"}, 1},
		{"user update nothing", []string{"user", "update", "1"}, 2},
		{"postgres without a secret", []string{"token", "list", "--user", "1", "--database", "postgres://postgres@127.0.0.1:1/test?connect_timeout=1"}, 1},
		{"bad pool size", []string{"migrate", "--database", "postgres://h/db", "--db-max-conns", "many"}, 2},
		{"bench unknown workload", []string{"bench", "--workloads", "show,bogus"}, 2},
		{"bench no workload", []string{"bench", "--workloads", ","}, 2},
		{"bench tokens without users", []string{"bench", "--scale-tokens", "10"}, 2},
		{"bench no concurrency", []string{"bench", "--concurrency", "0"}, 2},
		{"bench argument", []string{"bench", "extra"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(t.Context(), tc.args, env, strings.NewReader(""), &out, &out)
			if err == nil {
				t.Fatalf("latchkey %v succeeded, want exit %d", tc.args, tc.want)
			}
			if got := exitCode(err); got != tc.want {
				t.Errorf("latchkey %v: exit %d (%v), want %d", tc.args, got, err, tc.want)
			}
		})
	}
}

// TestTokenArgumentNotEchoed: a token given where its id belongs is
// refused as a bad command line, without being written back.
func TestTokenArgumentNotEchoed(t *testing.T) {
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(t.TempDir(), "b.db")})
	mustCLI(t, env, "migrate")
	const secret = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
	for _, cmd := range []string{"revoke", "rotate"} {
		var out bytes.Buffer
		err := run(t.Context(), []string{"token", cmd, secret}, env, strings.NewReader(""), &out, &out)
		if exitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), "TOKEN_ID is a token's id") {
			t.Errorf("token %s TOKEN: %v (exit %d), want a usage error saying what TOKEN_ID is", cmd, err, exitCode(err))
		}
		if strings.Contains(fmt.Sprint(err), "eyJ") || strings.Contains(out.String(), "eyJ") {
			t.Errorf("token %s TOKEN wrote the token back: %v %q", cmd, err, out.String())
		}
	}
}

// TestTwoServersOneFile: two servers on one SQLite file, each with the
// token cached; revoked on one, refused by the other the instant the 204
// arrives, every round.
func TestTwoServersOneFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(dir, "latchkey.db")})
	first, _, stopFirst := serve(t, env)
	second, _, stopSecond := serve(t, env)
	defer stopFirst()
	defer stopSecond()
	admin := mustCLI(t, env, "token", "create", "--user", "admin", "--name", "admin")
	bases := []string{first, second}
	const rounds = 100
	stale := 0
	for n := range rounds {
		c, err := client.New(bases[n%2], client.WithBearerToken(admin))
		if err != nil {
			t.Fatal(err)
		}
		made, err := c.CreateToken(t.Context(), 1, client.CreateTokenRequest{Name: fmt.Sprintf("round %d", n)})
		if err != nil {
			t.Fatal(err)
		}
		for _, base := range bases { // cached on both
			tc, _ := client.New(base, client.WithBearerToken(made.AccessToken))
			if _, err := tc.Tokens(t.Context(), 1, client.ListOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		revoker, _ := client.New(bases[(n+1)%2], client.WithBearerToken(admin))
		if err := revoker.DeleteToken(t.Context(), 1, made.Token.ID); err != nil {
			t.Fatal(err)
		}
		other, _ := client.New(bases[n%2], client.WithBearerToken(made.AccessToken))
		if _, err := other.Tokens(t.Context(), 1, client.ListOptions{}); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
			stale++
			t.Errorf("round %d: the other server accepted the token after the 204 (err %v)", n, err)
		}
	}
	t.Logf("%d revocations on one of two servers sharing a SQLite file, the other asked the instant the 204 arrived: %d stale answers", rounds, stale)
}
