package httpapi_test

import (
	"crypto/rand"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/oauthtest"
	"github.com/latchkey/latchkey/internal/service"
	"github.com/latchkey/latchkey/internal/sqlitetest"
)

// BenchmarkHandlerShow is an authenticated show through the real handler,
// without the network: what one request costs the server itself.
func BenchmarkHandlerShow(b *testing.B) {
	h := newHarness(b)
	handler := httpapi.New(h.svc, httpapi.Options{})
	tok, _, err := h.mintToken(h.user, "shown", nil)
	if err != nil {
		b.Fatal(err)
	}
	path := tokenPath(h.user.ID, tok.ID)
	auth := bearer(h.userJWT)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("GET", path, nil)
			r.Header.Set("Authorization", auth)
			w := httptest.NewRecorder()
			handler.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("show = %d", w.Code)
			}
		}
	})
}

// BenchmarkHandlerList is a page of 50 of a user's 1,000 tokens through
// the real handler, without the network.
func BenchmarkHandlerList(b *testing.B) {
	h := newHarness(b)
	handler := httpapi.New(h.svc, httpapi.Options{})
	for i := range 1000 {
		if _, _, err := h.mintToken(h.user, "t"+strconv.Itoa(i), nil); err != nil {
			b.Fatal(err)
		}
	}
	path := tokensPath(h.user.ID) + "?per_page=50&page=3"
	auth := bearer(h.userJWT)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("GET", path, nil)
			r.Header.Set("Authorization", auth)
			w := httptest.NewRecorder()
			handler.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("list = %d", w.Code)
			}
		}
	})
}

// BenchmarkOAuthRoundTrip is one authorization by a person who approved
// the application before (no page in between), the code's exchange with
// PKCE, and a refresh: over loopback HTTP, on SQLite. Sign-in is left out:
// its argon2id is the point of it, and it happens once per session.
func BenchmarkOAuthRoundTrip(b *testing.B) {
	h := newOAuthHarness(b)
	conf := h.config(h.app, h.appSecret, h.redirect, "tokens.read")
	br := oauthtest.NewBrowser(b, h.srv.URL)
	verifier := oauth2.GenerateVerifier()
	br.Authorize(conf, "alice", h.alicePassword, oauth2.S256ChallengeOption(verifier)) // sign in and approve once
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		code := br.Authorize(conf, "alice", h.alicePassword, oauth2.S256ChallengeOption(verifier))
		tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandlerCreate is a create through the real handler, without
// the network, with a signing key of each algorithm, on SQLite and on
// PostgreSQL (skipped without it), from 8 goroutines at once (wrk-bench's
// 8 connections) on the machine's cores:
//
//	go test -run '^$' -bench HandlerCreate -benchmem -cpuprofile cpu.out ./internal/httpapi/
func BenchmarkHandlerCreate(b *testing.B) {
	random := func(c *service.Config) {
		c.Random = rand.Reader // the harness's is not safe for concurrent use
	}
	stores := []struct {
		name string
		open func(b *testing.B) *harness
	}{
		{"sqlite", func(b *testing.B) *harness {
			st := sqlitetest.Open(b)
			return buildHarness(b, httpapi.Options{}, st, st, random)
		}},
		{"postgres", func(b *testing.B) *harness { return newHarnessPostgres(b, httpapi.Options{}, random) }},
	}
	for _, store := range stores {
		for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
			b.Run(store.name+"/"+alg, func(b *testing.B) {
				h := store.open(b)
				if alg != "RS256" {
					if _, err := h.svc.RotateKey(b.Context(), alg); err != nil {
						b.Fatal(err)
					}
				}
				handler := httpapi.New(h.svc, httpapi.Options{})
				path := tokensPath(h.user.ID)
				auth := bearer(h.userJWT)
				b.ReportAllocs()
				b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						r := httptest.NewRequest("POST", path, strings.NewReader(`{"name":"bench"}`))
						r.Header.Set("Authorization", auth)
						r.Header.Set("Content-Type", "application/json")
						w := httptest.NewRecorder()
						handler.ServeHTTP(w, r)
						if w.Code != 201 {
							b.Fatalf("create = %d: %s", w.Code, w.Body)
						}
					}
				})
			})
		}
	}
}
