package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

func testConcurrent(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("RevokeWhileIssuing", func(t *testing.T) { testRevokeRace(t, open) })

	t.Run("CreateToken", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		const n = 50
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				tok := newToken(i+1, u.ID)
				if err := s.CreateToken(t.Context(), tok); err != nil {
					t.Errorf("concurrent CreateToken(%q) = %v, want nil", tok.Name, err)
				}
			})
		}
		wg.Wait()
		_, total, err := s.Tokens(t.Context(), latchkey.TokenFilter{UserID: u.ID})
		if err != nil {
			t.Fatalf("Tokens() = %v", err)
		}
		if total != n {
			t.Errorf("after %d concurrent CreateToken calls, Tokens() total = %d, want %d", n, total, n)
		}
	})

	t.Run("ReadsAndWrites", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		const n = 20
		for i := 1; i <= n; i++ {
			createToken(t, s, newToken(i, u.ID))
		}
		var wg sync.WaitGroup
		for i := 1; i <= n; i++ {
			id := tokenID(i)
			wg.Go(func() {
				if _, err := s.Credential(t.Context(), id); err != nil {
					t.Errorf("concurrent Credential(%q) = %v", id, err)
				}
			})
			wg.Go(func() {
				if _, _, err := s.Tokens(t.Context(), latchkey.TokenFilter{UserID: u.ID, Limit: 5}); err != nil {
					t.Errorf("concurrent Tokens() = %v", err)
				}
			})
			wg.Go(func() {
				if err := s.TouchTokens(t.Context(), usesAt(map[string]time.Time{id: at(time.Hour)})); err != nil {
					t.Errorf("concurrent TouchTokens(%q) = %v", id, err)
				}
			})
			if i%2 == 0 {
				wg.Go(func() {
					if _, _, err := s.RevokeToken(t.Context(), id, at(time.Hour), latchkey.ReasonRevoked); err != nil {
						t.Errorf("concurrent RevokeToken(%q) = %v", id, err)
					}
				})
			}
			wg.Go(func() {
				tok := newToken(n+i, u.ID)
				if err := s.CreateToken(t.Context(), tok); err != nil {
					t.Errorf("concurrent CreateToken(%q) = %v", tok.Name, err)
				}
			})
		}
		wg.Wait()
		_, total, err := s.Tokens(t.Context(), latchkey.TokenFilter{UserID: u.ID})
		if err != nil {
			t.Fatalf("Tokens() = %v", err)
		}
		if want := 2*n - n/2; total != want {
			t.Errorf("Tokens() total = %d, want %d", total, want)
		}
		got, err := s.Token(t.Context(), tokenID(1))
		if err != nil {
			t.Fatalf("Token(%q) = %v", tokenID(1), err)
		}
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(at(time.Hour)) {
			t.Errorf("Token(%q).LastUsedAt = %v, want %v", tokenID(1), got.LastUsedAt, at(time.Hour))
		}
	})
}
