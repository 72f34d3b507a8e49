package service

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/latchkey/latchkey"
)

// TestSignInLongestPassword: a password of exactly MaxPasswordLength bytes
// is checked, and signs in; one byte more is refused unchecked.
func TestSignInLongestPassword(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	longest := strings.Repeat("a passphrase ", MaxPasswordLength)[:MaxPasswordLength]
	if _, err := svc.CreateUser(t.Context(), NewUser{Username: "long", Email: "long@example.com", Password: longest}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.SignIn(t.Context(), "long", longest, testOrigin); err != nil {
		t.Errorf("a password of %d bytes, the longest: %v", MaxPasswordLength, err)
	}
	if _, _, err := svc.SignIn(t.Context(), "long", longest+"x", testOrigin); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("a password one byte longer: %v, want EUNAUTHENTICATED", err)
	}
}

// failingHasher fails to hash.
type failingHasher struct{ argon2id }

func (failingHasher) Hash(string) (string, error) { return "", errors.New("out of memory for argon2") }

// TestSpendPasswordCheckLogsFailure: the hash that spends a refused
// sign-in's time logs its failure, and nothing when it works.
func TestSpendPasswordCheckLogsFailure(t *testing.T) {
	for _, fail := range []bool{false, true} {
		var logs bytes.Buffer
		base, _ := newTestService(t, Config{})
		cfg := Config{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Password: base.cfg.Password}
		if fail {
			cfg.Hasher = failingHasher{}
		}
		svc, err := New(t.Context(), base.store, base.sealer, cfg)
		if err != nil {
			t.Fatal(err)
		}
		svc.spendPasswordCheck("nobody's password")
		if logged := strings.Contains(logs.String(), "hashing a password to spend the time of a check"); logged != fail {
			t.Errorf("hasher failing %t: logged %t:\n%s", fail, logged, logs.String())
		}
	}
}

// TestSessionOfAUserGone: a session whose user no longer exists is
// refused as unauthenticated and ended; a failure to read the user is an
// error, and ends nothing.
func TestSessionOfAUserGone(t *testing.T) {
	var logs bytes.Buffer
	base, _ := newTestService(t, Config{})
	svc, err := New(t.Context(), &userFaults{Store: base.store}, base.sealer, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Password: base.cfg.Password})
	if err != nil {
		t.Fatal(err)
	}
	uf := svc.store.(*userFaults)
	svc.userWithPassword(t, "gone")
	_, secret, err := svc.SignIn(t.Context(), "gone", testPassword, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	uf.err = errors.New("the users table is on fire")
	if _, err := svc.SessionUser(t.Context(), secret); err == nil || latchkey.ErrorCode(err) != latchkey.EINTERNAL {
		t.Errorf("SessionUser while users cannot be read = %v, want EINTERNAL", err)
	}
	uf.err = latchkey.Errorf(latchkey.ENOTFOUND, "no such user")
	if _, err := svc.SessionUser(t.Context(), secret); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("SessionUser of a user gone = %v, want EUNAUTHENTICATED", err)
	}
	uf.err = nil
	if _, err := svc.SessionUser(t.Context(), secret); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("the session after its user was found gone = %v, want it ended", err)
	}
	if strings.Contains(logs.String(), "deleting a session") {
		t.Errorf("ending the session logged a failure:\n%s", logs.String())
	}
}

// userFaults is a store whose User fails with err, when set.
type userFaults struct {
	latchkey.Store
	err error
}

func (u *userFaults) User(ctx context.Context, id int64) (*latchkey.User, error) {
	if u.err != nil {
		return nil, u.err
	}
	return u.Store.User(ctx, id)
}

// TestTokenNameKept: the name a create asks for, trimmed, is the token's;
// a name the decoder refused is refused with its sentence.
func TestTokenNameKept(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	u := svc.mustUser(t, "namer")
	name := "  nightly export  "
	tok, _, err := svc.OperatorCreateToken(t.Context(), u, TokenRequest{Name: &name})
	if err != nil || tok.Name != "nightly export" {
		t.Fatalf("created %+v, %v; want the name %q", tok, err, "nightly export")
	}
	var invalid latchkey.FieldErrors
	invalid.Add("name", "The name must be a string.")
	_, _, err = svc.OperatorCreateToken(t.Context(), u, TokenRequest{Name: &name, Invalid: invalid})
	var e *latchkey.Error
	if !errors.As(err, &e) || e.Code != latchkey.EINVALID || e.Message != "The name must be a string." {
		t.Errorf("a name the decoder refused: %v, want EINVALID saying so", err)
	}
}

// TestListsAgreeWithTheStore: every list query answers what the store
// answers, whether from the list cache or not: filters, other orders,
// ascending, revoked tokens included, every page, and lists too long to
// cache. A service without caches on the same database is the reference.
func TestListsAgreeWithTheStore(t *testing.T) {
	for _, size := range []int{DefaultCacheSize, 40} { // 40: a list of more than 4 tokens is not cached
		svc, st := newTestService(t, Config{CacheSize: size})
		plain, err := New(t.Context(), st, svc.sealer, Config{CacheSize: 0, Password: svc.cfg.Password})
		if err != nil {
			t.Fatal(err)
		}
		u := svc.mustUser(t, "lister")
		// Named out of the order they are made, so that every order differs.
		for i, name := range []string{"golf", "alpha", "echo bravo", "Bravo", "foxtrot", "charlie", "delta"} {
			tok, _, err := svc.OperatorCreateToken(t.Context(), u, TokenRequest{Name: &name})
			if err != nil {
				t.Fatal(err)
			}
			if i%3 == 1 {
				if _, err := svc.OperatorRevokeToken(t.Context(), tok.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		ids := func(ts []*latchkey.Token) []string {
			out := make([]string, len(ts))
			for i, tok := range ts {
				out[i] = tok.ID
			}
			return out
		}
		for _, filter := range []string{"", "bravo"} {
			for _, order := range []latchkey.TokenOrder{"", latchkey.OrderCreatedAt, latchkey.OrderName} {
				for _, asc := range []bool{false, true} {
					for _, revoked := range []bool{false, true} {
						for _, perPage := range []int{0, 1, 2, 3, 50} { // 0: all, as the command line asks
							for page := 1; page <= 5; page++ {
								q := ListQuery{Page: page, PerPage: perPage, Filter: filter, OrderBy: order, Ascending: asc, IncludeRevoked: revoked}
								want, wantTotal, err := plain.Tokens(t.Context(), u, q)
								if err != nil {
									t.Fatal(err)
								}
								for try := range 2 { // the second may come from the cache
									got, total, err := svc.Tokens(t.Context(), u, q)
									if err != nil || total != wantTotal || !slices.Equal(ids(got), ids(want)) {
										t.Fatalf("cache size %d, %+v, try %d: %d of %v, %v; want %d of %v", size, q, try, total, ids(got), err, wantTotal, ids(want))
									}
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestRevokeTokenSaysWhetherItRevoked: a first revocation says it revoked
// the token, a second that it was revoked already.
func TestRevokeTokenSaysWhetherItRevoked(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	u := svc.mustUser(t, "twice")
	tok, _ := svc.mustToken(t, u)
	for _, want := range []bool{true, false} {
		if _, revoked, err := svc.revokeToken(t.Context(), Operator(), u, tok.ID); err != nil || revoked != want {
			t.Errorf("revokeToken = %t, %v; want %t", revoked, err, want)
		}
	}
}

// createFails is a store whose CreateToken fails with err.
type createFails struct {
	latchkey.Store
	err error
}

func (c *createFails) CreateToken(context.Context, *latchkey.Token, ...*latchkey.AuditRecord) error {
	return c.err
}

// TestCreateTokenStoreErrors: a create whose parent was revoked meanwhile
// is unauthenticated; any other failure of the store is passed on.
func TestCreateTokenStoreErrors(t *testing.T) {
	base, _ := newTestService(t, Config{})
	u := base.mustUser(t, "failing")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{latchkey.Errorf(latchkey.EUNAUTHENTICATED, "the parent is revoked"), latchkey.EUNAUTHENTICATED},
		{errors.New("the disk is full"), latchkey.EINTERNAL},
		{latchkey.Errorf(latchkey.ECONFLICT, "the id exists"), latchkey.ECONFLICT},
	} {
		svc, err := New(t.Context(), &createFails{Store: base.store, err: tc.err}, base.sealer, Config{Password: base.cfg.Password})
		if err != nil {
			t.Fatal(err)
		}
		name := "n"
		if _, _, err := svc.OperatorCreateToken(t.Context(), u, TokenRequest{Name: &name}); latchkey.ErrorCode(err) != tc.want {
			t.Errorf("store failing with %v: %v, want %s", tc.err, err, tc.want)
		}
	}
}

// listReads counts the lists read from the store.
type listReads struct {
	latchkey.Store
	n atomic.Int32
}

func (l *listReads) Tokens(ctx context.Context, f latchkey.TokenFilter) ([]*latchkey.Token, int, error) {
	l.n.Add(1)
	return l.Store.Tokens(ctx, f)
}

// TestDefaultListReadOnce: the default list is read from the store once,
// then answered from memory, page after page, until a change drops it.
func TestDefaultListReadOnce(t *testing.T) {
	base, _ := newTestService(t, Config{})
	reads := &listReads{Store: base.store}
	svc, err := New(t.Context(), reads, base.sealer, Config{Password: base.cfg.Password})
	if err != nil {
		t.Fatal(err)
	}
	u := svc.mustUser(t, "reader")
	svc.mustToken(t, u)
	svc.mustToken(t, u)
	for page, want := range []int32{1, 0, 0} {
		reads.n.Store(0)
		if _, total, err := svc.Tokens(t.Context(), u, ListQuery{Page: page + 1, PerPage: 1}); err != nil || total != 2 {
			t.Fatalf("page %d: total %d, %v", page+1, total, err)
		}
		if got := reads.n.Load(); got != want {
			t.Errorf("page %d: %d reads of the store, want %d", page+1, got, want)
		}
	}
	svc.mustToken(t, u)
	reads.n.Store(0)
	if _, total, err := svc.Tokens(t.Context(), u, ListQuery{Page: 1, PerPage: 10}); err != nil || total != 3 || reads.n.Load() != 1 {
		t.Errorf("after a create: total %d, %v, %d reads; want 3 tokens read once", total, err, reads.n.Load())
	}
}
