package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/service"
)

// Fixture is what the workloads need to know about a seeded store. Its
// JSON form (for a program that seeds a store that another process then
// serves) holds every field but those of the forged tokens, which only
// reject-forged reads.
type Fixture struct {
	ListUser   int64    `json:"list_user"`   // the user show and list read
	Writer     int64    `json:"writer"`      // the user create writes
	ListJWT    string   `json:"list_jwt"`    // a valid token of ListUser
	WriterJWT  string   `json:"writer_jwt"`  // a valid token of Writer
	RevokedJWT string   `json:"revoked_jwt"` // a revoked token of ListUser
	ListIDs    []string `json:"list_ids"`    // every token of ListUser but the revoked one
	// ListJWT's header and claims with the dot, and its signature.
	forgePrefix string
	forgeSig    []byte
}

// SeedOptions say what Seed adds to a store.
type SeedOptions struct {
	// Tokens is how many tokens ListUser has (list reads 50 of them), its
	// revoked one aside; at least 1.
	Tokens int
	// ScaleUsers and ScaleTokens are more users, and more tokens spread
	// evenly across them, for the figures at scale. ScaleTokens needs
	// ScaleUsers.
	ScaleUsers, ScaleTokens int
	// Progress hears a line now and then on a long job (nil: nothing).
	Progress func(format string, args ...any)
}

// SeedSeconds is how long each part of seeding took, in seconds.
type SeedSeconds struct {
	Fixture float64 `json:"fixture"` // the workloads' users and tokens
	Users   float64 `json:"users"`   // ScaleUsers
	Tokens  float64 `json:"tokens"`  // ScaleTokens
	Total   float64 `json:"total"`
}

// randomHex is n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// Seed fills a store, through svc and st, svc's own: the users and tokens
// the workloads use, then ScaleUsers users and ScaleTokens tokens. Users
// and the few tokens the workloads authenticate with go through the
// service; the other tokens are rows written straight to the store, from
// a few goroutines at once: the figures need the rows, not their JWTs, and
// signing a million tokens would take a quarter of an hour. Names are new
// at each call, so that a store may be seeded again.
func Seed(ctx context.Context, svc *service.Service, st latchkey.Store, opts SeedOptions) (*Fixture, SeedSeconds, error) {
	var took SeedSeconds
	switch {
	case opts.Tokens < 1:
		return nil, took, fmt.Errorf("seeding: want at least 1 token, got %d", opts.Tokens)
	case opts.ScaleUsers < 0 || opts.ScaleTokens < 0:
		return nil, took, errors.New("seeding: want 0 or more users and tokens at scale")
	case opts.ScaleTokens > 0 && opts.ScaleUsers == 0:
		return nil, took, errors.New("seeding: tokens at scale need users at scale to spread them across")
	}
	if opts.Progress == nil {
		opts.Progress = func(string, ...any) {}
	}
	fx, err := seed(ctx, svc, st, opts, &took)
	if err != nil {
		return nil, took, fmt.Errorf("seeding: %w", err)
	}
	return fx, took, nil
}

func seed(ctx context.Context, svc *service.Service, st latchkey.Store, opts SeedOptions, took *SeedSeconds) (*Fixture, error) {
	start := time.Now()
	run := randomHex(4) // names unique to this run
	newUser := func(role string) (*latchkey.User, error) {
		return svc.CreateUser(ctx, service.NewUser{
			Username: "bench-" + run + "-" + role, Email: "bench-" + run + "-" + role + "@example.com", FirstName: "Bench",
		})
	}
	newToken := func(u *latchkey.User, name string) (*latchkey.Token, string, error) {
		return svc.OperatorCreateToken(ctx, u, service.TokenRequest{Name: &name})
	}
	listUser, err := newUser("list")
	if err != nil {
		return nil, err
	}
	writer, err := newUser("write")
	if err != nil {
		return nil, err
	}
	listTok, listJWT, err := newToken(listUser, "bench reader")
	if err != nil {
		return nil, err
	}
	_, writerJWT, err := newToken(writer, "bench writer")
	if err != nil {
		return nil, err
	}
	revoked, revokedJWT, err := newToken(listUser, "bench revoked")
	if err != nil {
		return nil, err
	}
	if _, err := svc.OperatorRevokeToken(ctx, revoked.ID); err != nil {
		return nil, err
	}
	dot := strings.LastIndexByte(listJWT, '.')
	sig, err := base64.RawURLEncoding.DecodeString(listJWT[dot+1:])
	if err != nil || len(sig) < 8 {
		return nil, fmt.Errorf("the signature of a new token is not base64url: %v", err)
	}
	fx := &Fixture{
		ListUser: listUser.ID, Writer: writer.ID,
		ListJWT: listJWT, WriterJWT: writerJWT, RevokedJWT: revokedJWT,
		ListIDs:     make([]string, opts.Tokens),
		forgePrefix: listJWT[:dot+1], forgeSig: sig,
	}
	fx.ListIDs[0] = listTok.ID

	now := time.Now().UTC().Truncate(time.Microsecond)
	tokenRow := func(user int64, i int) *latchkey.Token {
		created := now.Add(-time.Duration(i+1) * time.Millisecond)
		expires := now.AddDate(1, 0, 0)
		return &latchkey.Token{
			ID: randomHex(latchkey.TokenIDLength / 2), UserID: user,
			ClientID: latchkey.PersonalAccessClientID, Name: "bench " + strconv.Itoa(i), Scopes: latchkey.Scopes{},
			CreatedAt: created, UpdatedAt: created, ExpiresAt: &expires, KeyID: listTok.KeyID,
		}
	}
	err = parallel(ctx, opts.Progress, "tokens of the listing user", opts.Tokens-1, func(i int) error {
		t := tokenRow(listUser.ID, i)
		fx.ListIDs[i+1] = t.ID
		return st.CreateToken(ctx, t)
	})
	if err != nil {
		return nil, err
	}
	took.Fixture = time.Since(start).Seconds()

	if opts.ScaleUsers > 0 {
		t := time.Now()
		ids := make([]int64, opts.ScaleUsers)
		err := parallel(ctx, opts.Progress, "users at scale", opts.ScaleUsers, func(i int) error {
			u, err := newUser("u" + strconv.Itoa(i))
			if err == nil {
				ids[i] = u.ID
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		took.Users = time.Since(t).Seconds()
		t = time.Now()
		err = parallel(ctx, opts.Progress, "tokens at scale", opts.ScaleTokens, func(i int) error {
			return st.CreateToken(ctx, tokenRow(ids[i%len(ids)], i))
		})
		if err != nil {
			return nil, err
		}
		took.Tokens = time.Since(t).Seconds()
	}
	took.Total = time.Since(start).Seconds()
	return fx, nil
}

// parallel calls f for 0 ≤ i < n from a few goroutines, so that a store
// with a network round trip per write is kept busy, and reports progress
// on a long job.
func parallel(ctx context.Context, progressf func(string, ...any), what string, n int, f func(i int) error) error {
	if n <= 0 {
		return nil
	}
	start := time.Now()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range min(n, max(8, 2*runtime.GOMAXPROCS(0))) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					cancel(fmt.Errorf("%s: %w", what, err))
					return
				}
				done.Add(1)
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-finished:
			if err := context.Cause(ctx); err != nil {
				return err
			}
			if time.Since(start) > 5*time.Second {
				progressf("seeded %d %s in %.1fs", n, what, time.Since(start).Seconds())
			}
			return nil
		case <-tick.C:
			d := done.Load()
			progressf("seeding %s: %d of %d (%.0f/s)", what, d, n, float64(d)/time.Since(start).Seconds())
		}
	}
}
