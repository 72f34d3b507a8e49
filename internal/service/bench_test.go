package service

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/jwt"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/pgtest"
	"github.com/latchkey/latchkey/internal/postgres"
	"github.com/latchkey/latchkey/internal/sqlite"
)

// The hot paths, on each backend:
//
//	go test -run '^$' -bench . -benchmem ./internal/service/
//
// The PostgreSQL ones use LATCHKEY_TEST_POSTGRES, or the local server.

type backend struct {
	name string
	open func(b *testing.B) latchkey.Store
}

var backends = []backend{
	{"sqlite", func(b *testing.B) latchkey.Store {
		st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		return st
	}},
	{"postgres", func(b *testing.B) latchkey.Store {
		st, err := postgres.Open(b.Context(), pgtest.Schema(b, pgtest.DSN(b)), postgres.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		return st
	}},
}

// benchService is a service on a fresh store of the backend, with a user
// who holds n tokens, and one more JWT of theirs.
func benchService(b *testing.B, be backend, n int) (*Service, *latchkey.User, string) {
	b.Helper()
	st := be.open(b)
	if err := st.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	sealer, _ := jwt.NewSealer([]byte("benchmark secret, long enough"))
	svc, err := New(b.Context(), st, sealer, Config{Password: &password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	if err != nil {
		b.Fatal(err)
	}
	u, err := svc.CreateUser(b.Context(), NewUser{Username: "bench", Email: "bench@example.com"})
	if err != nil {
		b.Fatal(err)
	}
	// Rows only: the listing needs them, not their JWTs.
	kid := svc.keys.Load().SigningKeyID()
	now := svc.now()
	exp := now.AddDate(1, 0, 0)
	for i := range n {
		id, _ := svc.newTokenID()
		if err := st.CreateToken(b.Context(), &latchkey.Token{ID: id, UserID: u.ID, ClientID: 1, Name: fmt.Sprintf("token %d", i),
			Scopes: latchkey.Scopes{}, CreatedAt: now, UpdatedAt: now, ExpiresAt: &exp, KeyID: kid}); err != nil {
			b.Fatal(err)
		}
	}
	name := "bench"
	_, raw, err := svc.OperatorCreateToken(b.Context(), u, TokenRequest{Name: &name})
	if err != nil {
		b.Fatal(err)
	}
	return svc, u, raw
}

func forEachBackend(b *testing.B, f func(b *testing.B, be backend)) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) { f(b, be) })
	}
}

// BenchmarkAuthenticateCached: a token seen before: a hash and a lookup.
func BenchmarkAuthenticateCached(b *testing.B) {
	forEachBackend(b, func(b *testing.B, be backend) {
		svc, _, raw := benchService(b, be, 0)
		ctx := b.Context()
		if _, err := svc.Authenticate(ctx, raw, latchkey.Origin{}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := svc.Authenticate(ctx, raw, latchkey.Origin{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkAuthenticateUncached: the signature check and the row read.
func BenchmarkAuthenticateUncached(b *testing.B) {
	forEachBackend(b, func(b *testing.B, be backend) {
		svc, _, raw := benchService(b, be, 0)
		svc.cache = nil
		ctx := b.Context()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := svc.Authenticate(ctx, raw, latchkey.Origin{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReject covers the refusals: garbage, a bad signature (distinct
// each time, so never cached), an unknown kid, and a revoked token
// (repeated, so cached after the first).
func BenchmarkReject(b *testing.B) {
	forEachBackend(b, func(b *testing.B, be backend) {
		svc, u, raw := benchService(b, be, 0)
		ctx := b.Context()
		head, rest, _ := strings.Cut(raw, ".")
		claims, _, _ := strings.Cut(rest, ".")
		name := "revoked"
		revoked, revokedRaw, _ := svc.OperatorCreateToken(ctx, u, TokenRequest{Name: &name})
		if _, err := svc.RevokeToken(ctx, Operator(), u, revoked.ID); err != nil {
			b.Fatal(err)
		}
		unknownKid := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"RS256","kid":"nope"}`)) + "." + claims + ".c2ln"
		sig := make([]byte, 256)
		for _, tc := range []struct {
			name  string
			token func() string
		}{
			{"garbage", func() string { return "garbage" }},
			{"bad-signature", func() string {
				_, _ = rand.Read(sig)
				return head + "." + claims + "." + base64.RawURLEncoding.EncodeToString(sig)
			}},
			{"unknown-kid", func() string { return unknownKid }},
			{"revoked", func() string { return revokedRaw }},
		} {
			b.Run(tc.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := svc.Authenticate(ctx, tc.token(), latchkey.Origin{}); err == nil {
						b.Fatal("accepted")
					}
				}
			})
		}
	})
}

// BenchmarkCreateToken: validate, sign (RS256) and insert.
func BenchmarkCreateToken(b *testing.B) {
	forEachBackend(b, func(b *testing.B, be backend) {
		svc, u, _ := benchService(b, be, 0)
		ctx := b.Context()
		p := &latchkey.Principal{User: u}
		name := "created"
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := svc.CreateToken(ctx, p, u, TokenRequest{Name: &name}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkListTokens: a page of 50 of a user's 1,000 tokens, with the
// count: from the list cache, and from the store (the cache off, or a
// filter or order the cache does not serve).
func BenchmarkListTokens(b *testing.B) {
	forEachBackend(b, func(b *testing.B, be backend) {
		for _, cached := range []bool{true, false} {
			name := "cached"
			if !cached {
				name = "store"
			}
			b.Run(name, func(b *testing.B) {
				svc, u, _ := benchService(b, be, 1000)
				if !cached {
					svc.lists = nil
				}
				ctx := b.Context()
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					ts, total, err := svc.Tokens(ctx, u, ListQuery{Page: i%20 + 1, PerPage: 50})
					if err != nil || len(ts) != 50 || total != 1001 {
						b.Fatalf("page: %d tokens of %d, %v", len(ts), total, err)
					}
				}
			})
		}
	})
}

// BenchmarkSignIn is a sign-in at the default argon2id cost, refused for
// each reason and accepted: the refusals must not tell the reason by how
// long they take (compare the sub-benchmarks' ns/op).
func BenchmarkSignIn(b *testing.B) {
	st := backends[0].open(b)
	if err := st.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	sealer, _ := jwt.NewSealer([]byte("benchmark secret, long enough"))
	svc, err := New(b.Context(), st, sealer, Config{})
	if err != nil {
		b.Fatal(err)
	}
	const pw = "the benchmark's passphrase"
	for _, n := range []NewUser{
		{Username: "has", Email: "has@example.com", Password: pw},
		{Username: "nopw", Email: "nopw@example.com"},
		{Username: "off", Email: "off@example.com", Password: pw, Inactive: true},
	} {
		if _, err := svc.CreateUser(b.Context(), n); err != nil {
			b.Fatal(err)
		}
	}
	for _, tc := range []struct{ name, login, pw string }{
		{"unknown-user", "nobody", pw},
		{"wrong-password", "has", "not it"},
		{"no-password", "nopw", pw},
		{"inactive-user", "off", pw},
		{"accepted", "has", pw},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				_, _, err := svc.SignIn(b.Context(), tc.login, tc.pw, latchkey.Origin{})
				if (err == nil) != (tc.name == "accepted") {
					b.Fatalf("%s: %v", tc.name, err)
				}
			}
		})
	}
}
