package service

import (
	"crypto/sha256"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// BenchmarkCacheMemory reports the heap one verified token costs in the
// token cache: its key, index entry and principal (user, token and client,
// each read fresh from the database, as Authenticate caches them).
//
//	go test -run '^$' -bench CacheMemory ./internal/service/
func BenchmarkCacheMemory(b *testing.B) {
	const n = 50_000
	for b.Loop() {
		c := newTokenCache(n, time.Minute)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		now := time.Now()
		for i := range n {
			exp := now.Add(time.Hour)
			user := &latchkey.User{ID: int64(i), Username: fmt.Sprintf("user%06d", i), Email: fmt.Sprintf("user%06d@example.com", i),
				FirstName: "First", LastName: "Last", Status: latchkey.StatusActive, Permissions: []string{latchkey.PermViewUsers},
				PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
				CreatedAt:    now, UpdatedAt: now}
			client := &latchkey.Client{ID: 1, Name: "Latchkey Personal Access Client", Redirect: "http://localhost", PersonalAccessClient: true, CreatedAt: now, UpdatedAt: now}
			id := fmt.Sprintf("%080x", i)
			tok := &latchkey.Token{ID: id, UserID: user.ID, ClientID: 1, Name: "nightly export", Scopes: latchkey.Scopes{"tokens.read"},
				CreatedAt: now, UpdatedAt: now, ExpiresAt: &exp, KeyID: "9VYvzSxMWR1Tsc-V3r0ToIIH7XU5a6J7vfg8f2QMcsE", Client: client}
			key := tokenKey(sha256.Sum256([]byte(id)))
			c.put(&verified{key: key, principal: &latchkey.Principal{User: user, Token: tok}, tokenID: id, userID: user.ID, expires: exp}, cacheGen{})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if c.len() != n {
			b.Fatalf("cache holds %d, want %d", c.len(), n)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/entry")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB/50k")
		runtime.KeepAlive(c)
	}
}
