package storetest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// Benchmark runs the benchmarks of the store operations on the hot paths
// against the stores open returns; open has the contract of Run's.
func Benchmark(b *testing.B, open func(b *testing.B) latchkey.Store) {
	const tokens = 1000
	// seed stores a user with tokens personal tokens.
	seed := func(b *testing.B, s latchkey.Store) *latchkey.User {
		b.Helper()
		u := createUser(b, s, newUser("alice"))
		for i := 1; i <= tokens; i++ {
			tok := newToken(i, u.ID)
			tok.CreatedAt = at(time.Duration(i) * time.Second)
			tok.Name = fmt.Sprintf("token %d", i)
			createToken(b, s, tok)
		}
		return u
	}

	// Revoking a token revokes its descendants in one transaction:
	// -benchtime 5x is plenty, each round makes n tokens first.
	for _, n := range []int{100, 10_000} {
		b.Run(familyName(n), func(b *testing.B) { benchmarkRevokeFamily(b, open, n) })
	}

	b.Run("Credential", func(b *testing.B) {
		s := open(b)
		seed(b, s)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				i++
				if _, err := s.Credential(b.Context(), tokenID(i%tokens+1)); err != nil {
					b.Errorf("Credential() = %v", err)
					return
				}
			}
		})
	})

	b.Run("CreateToken", func(b *testing.B) {
		s := open(b)
		u := createUser(b, s, newUser("alice"))
		i := 0
		for b.Loop() {
			i++
			if err := s.CreateToken(b.Context(), newToken(i, u.ID)); err != nil {
				b.Fatalf("CreateToken() = %v", err)
			}
		}
	})

	// Creates from 8 goroutines at once, whatever GOMAXPROCS is, as a
	// server under load makes them through the API: each made by a token
	// (whose row the create reads: the parent must be live), with a random
	// id and the time of its create, and with the audit record the service
	// writes with it, which tells the owner (a notification row).
	b.Run("CreateTokenParallel", func(b *testing.B) {
		s := open(b)
		u := createUser(b, s, newUser("alice"))
		parent := createToken(b, s, newToken(0, u.ID))
		const concurrency = 8
		procs := runtime.GOMAXPROCS(0)
		b.SetParallelism((concurrency + procs - 1) / procs)
		var next atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				n := next.Add(1)
				tok := newToken(0, u.ID)
				var id [latchkey.TokenIDLength / 2]byte
				rand.Read(id[:])
				tok.ID = hex.EncodeToString(id[:])
				tok.ParentID = parent.ID
				tok.CreatedAt = at(time.Duration(n) * time.Microsecond)
				tok.UpdatedAt = tok.CreatedAt
				rec := &latchkey.AuditRecord{
					At: tok.CreatedAt, Action: latchkey.AuditTokenCreated, Notify: latchkey.NoteTokenCreated,
					Actor: latchkey.ActorUser, ActorUserID: &u.ID, ActorTokenID: parent.ID,
					SubjectUserID: &u.ID, SubjectID: tok.ID,
					Origin: latchkey.Origin{Address: "192.0.2.9", UserAgent: "wrk/4"}, Detail: "scopes *",
				}
				if err := s.CreateToken(b.Context(), tok, rec); err != nil {
					b.Errorf("CreateToken() = %v", err)
					return
				}
			}
		})
		// The rate the store alone reaches with the whole machine: what
		// bounds the creates a server can answer.
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
	})

	b.Run("Tokens", func(b *testing.B) {
		s := open(b)
		u := seed(b, s)
		f := latchkey.TokenFilter{UserID: u.ID, PersonalOnly: true, Offset: 500, Limit: 10}
		for b.Loop() {
			if _, _, err := s.Tokens(b.Context(), f); err != nil {
				b.Fatalf("Tokens() = %v", err)
			}
		}
	})

	b.Run("TokensByName", func(b *testing.B) {
		s := open(b)
		u := seed(b, s)
		f := latchkey.TokenFilter{UserID: u.ID, Name: "EN 99", OrderBy: latchkey.OrderName, Limit: 10}
		for b.Loop() {
			if _, _, err := s.Tokens(b.Context(), f); err != nil {
				b.Fatalf("Tokens() = %v", err)
			}
		}
	})

	b.Run("TouchTokens", func(b *testing.B) {
		s := open(b)
		seed(b, s)
		uses := map[string]time.Time{}
		for i := 1; i <= 100; i++ {
			uses[tokenID(i)] = at(0)
		}
		i := 0
		for b.Loop() {
			i++
			for id := range uses {
				uses[id] = at(time.Duration(i) * time.Second)
			}
			if err := s.TouchTokens(b.Context(), usesAt(uses)); err != nil {
				b.Fatalf("TouchTokens() = %v", err)
			}
		}
	})
}
