package httpapi_test

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/jwt"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/pgtest"
	"github.com/latchkey/latchkey/internal/postgres"
	"github.com/latchkey/latchkey/internal/service"
	"github.com/latchkey/latchkey/internal/sqlite"
	"github.com/latchkey/latchkey/internal/sqlitetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// start is the harness clock's first reading: the contract's example date.
var start = time.Date(2026, 3, 1, 17, 45, 10, 0, time.UTC)

// clock is a clock the test moves by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// harness is the real handler on a real SQLite database, with a fixed key,
// a hand-moved clock and seeded randomness, so that its answers are
// byte-for-byte repeatable.
type harness struct {
	t     testing.TB
	srv   *httptest.Server
	svc   *service.Service
	store latchkey.Store // the database, beneath any wrapper
	clock *clock

	admin, user, viewer, editor *latchkey.User
	// tokens of each user, every ability.
	adminJWT, userJWT, viewerJWT, editorJWT string
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	return newHarnessWith(t, httpapi.Options{})
}

// newHarnessWith is newHarness with the server's options.
func newHarnessWith(t testing.TB, opts httpapi.Options) *harness {
	t.Helper()
	return newHarnessOn(t, opts, func(db *sqlite.DB) latchkey.Store { return db })
}

// newHarnessOn is newHarnessWith with the service on wrap(the database):
// a store wrapper through which a test makes the service fail.
func newHarnessOn(t testing.TB, opts httpapi.Options, wrap func(*sqlite.DB) latchkey.Store) *harness {
	t.Helper()
	st := sqlitetest.Open(t)
	return buildHarness(t, opts, st, wrap(st))
}

// newHarnessPostgres is newHarness on a PostgreSQL schema of its own, with
// the server's options (skipped without PostgreSQL, but in CI; see
// pgtest.DSN).
func newHarnessPostgres(t testing.TB, opts httpapi.Options, configure ...func(*service.Config)) *harness {
	t.Helper()
	pg, err := postgres.Open(t.Context(), pgtest.Schema(t, pgtest.DSN(t)), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	if err := pg.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return buildHarness(t, opts, pg, pg, configure...)
}

// onEachStore runs f on a harness on each store: SQLite, then
// PostgreSQL.
func onEachStore(t *testing.T, f func(t *testing.T, h *harness)) {
	onEachStoreWith(t, httpapi.Options{}, f)
}

// onEachStoreWith is onEachStore with the server's options, and its
// service's configuration changed by configure.
func onEachStoreWith(t *testing.T, opts httpapi.Options, f func(t *testing.T, h *harness), configure ...func(*service.Config)) {
	t.Run("sqlite", func(t *testing.T) {
		st := sqlitetest.Open(t)
		f(t, buildHarness(t, opts, st, st, configure...))
	})
	t.Run("postgres", func(t *testing.T) { f(t, newHarnessPostgres(t, opts, configure...)) })
}

// buildHarness is the harness on the database st, migrated, which the
// service uses through served, its configuration changed by configure.
func buildHarness(t testing.TB, opts httpapi.Options, st, served latchkey.Store, configure ...func(*service.Config)) *harness {
	t.Helper()
	ctx := t.Context()
	sealer, err := jwt.NewSealer([]byte("a test secret of enough length"))
	if err != nil {
		t.Fatal(err)
	}
	pemKey, err := os.ReadFile("testdata/key.pem")
	if err != nil {
		t.Fatal(err)
	}
	priv, err := jwt.ParsePrivateKeyPEM(pemKey)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{now: start}
	key, err := jwt.NewSigningKey(priv, sealer, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddSigningKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	fast := password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	cfg := service.Config{
		Now:         c.Now,
		Random:      rand.NewChaCha8([32]byte{'l', 'a', 't', 'c', 'h'}),
		Password:    &fast,
		ExtraScopes: []string{"reports.read"},
	}
	for _, f := range configure {
		f(&cfg)
	}
	svc, err := service.New(ctx, served, sealer, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, svc: svc, store: st, clock: c}
	h.srv = httptest.NewServer(httpapi.New(svc, opts))
	t.Cleanup(h.srv.Close)

	h.admin = h.newUser(service.NewUser{Username: "admin", Email: "admin@example.com", Admin: true})
	h.user = h.newUser(service.NewUser{Username: "alice", Email: "alice@example.com"})
	h.viewer = h.newUser(service.NewUser{Username: "viv", Email: "viv@example.com", Permissions: []string{latchkey.PermViewUsers}})
	h.editor = h.newUser(service.NewUser{Username: "ed", Email: "ed@example.com", Permissions: []string{latchkey.PermEditUsers}})
	h.adminJWT = h.mint(h.admin, "admin's", nil)
	h.userJWT = h.mint(h.user, "alice's", nil)
	h.viewerJWT = h.mint(h.viewer, "viv's", nil)
	h.editorJWT = h.mint(h.editor, "ed's", nil)
	return h
}

func (h *harness) newUser(n service.NewUser) *latchkey.User {
	h.t.Helper()
	u, err := h.svc.CreateUser(h.t.Context(), n)
	if err != nil {
		h.t.Fatalf("CreateUser(%q): %v", n.Username, err)
	}
	return u
}

// mint makes a token for u at the command line and returns its JWT.
func (h *harness) mint(u *latchkey.User, name string, scopes []string) string {
	h.t.Helper()
	_, jwt, err := h.mintToken(u, name, scopes)
	if err != nil {
		h.t.Fatalf("mint(%s, %q): %v", u.Username, name, err)
	}
	return jwt
}

func (h *harness) mintToken(u *latchkey.User, name string, scopes []string) (*latchkey.Token, string, error) {
	return h.svc.OperatorCreateToken(h.t.Context(), u, service.TokenRequest{Name: &name, Scopes: scopes})
}

// response is an answer, read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with an Authorization header (none when "") and a
// body (none when nil).
func (h *harness) do(method, path, auth string, body []byte) *response {
	h.t.Helper()
	return send(h.t, h.srv, method, path, auth, body)
}

// send sends a request to srv with an Authorization header (none when "")
// and a JSON body (none when nil), and reads the whole answer.
func send(t testing.TB, srv *httptest.Server, method, path, auth string, body []byte) *response {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{status: res.StatusCode, header: res.Header, body: b}
}

func bearer(jwt string) string { return "Bearer " + jwt }

// golden compares r with testdata/golden/name.http: the status, the
// headers the contract speaks of, and the body byte for byte.
func (h *harness) golden(name string, r *response) {
	h.t.Helper()
	var b strings.Builder
	b.WriteString(http.StatusText(r.status) + "\n")
	for _, k := range []string{"Allow", "Cache-Control", "Content-Type", "Location", "Www-Authenticate"} {
		if v := r.header.Get(k); v != "" {
			b.WriteString(k + ": " + v + "\n")
		}
	}
	b.WriteString("\n")
	b.Write(r.body)
	got := h.stable(b.String())
	path := filepath.Join("testdata", "golden", name+".http")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			h.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			h.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		h.t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		h.t.Errorf("%s differs from %s (run go test -update if the change is meant):\ngot:\n%s\nwant:\n%s", name, path, got, want)
	}
}

// stable replaces what the migration stamped at install time (the personal
// access client's dates) with a marker.
func (h *harness) stable(s string) string {
	c, err := h.store.Client(h.t.Context(), latchkey.PersonalAccessClientID)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, at := range []time.Time{c.CreatedAt, c.UpdatedAt} {
		s = strings.ReplaceAll(s, `"`+at.UTC().Format("2006-01-02T15:04:05.000000Z")+`"`, `"<install time>"`)
	}
	return s
}

// asError is errors.As for *latchkey.Error.
func asError(err error, target **latchkey.Error) bool { return errors.As(err, target) }
