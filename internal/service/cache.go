package service

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/latchkey/latchkey"
)

// tokenKey is what the caches know a token by: the SHA-256 of the token as
// sent. The token itself is never kept.
type tokenKey [sha256.Size]byte

// verified is a token that passed every check of Authenticate.
type verified struct {
	key       tokenKey
	principal *latchkey.Principal // shared by every request: read only
	tokenID   string
	userID    int64
	expires   time.Time    // the token's exp, or the entry's TTL if sooner
	noted     atomic.Int64 // when its use was last recorded, unix nanoseconds
}

// tokenCache holds verified tokens, and the keys of tokens recently
// refused, so that a repeated request costs a hash and a map lookup.
//
// It never serves a revoked token: every change that could invalidate an
// entry (a token revoked, a user or client changed, the keys changed, a
// lost connection to the other replicas) removes entries and bumps gen,
// and put refuses an entry whose checks began before the last bump. A
// request that read the database before a revocation committed therefore
// cannot cache what it read after the revocation removed its entry.
type tokenCache struct {
	ttl time.Duration

	mu   sync.Mutex // held for every change to the caches, byID and gen
	gen  uint64
	good *lru.Cache[tokenKey, *verified]
	byID map[string]tokenKey // token id → key of its good entry
	bad  *lru.Cache[tokenKey, time.Time]
}

// newTokenCache holds at most size verified tokens (and size/4 refused
// ones); nil, a cache that holds nothing, when size is 0.
func newTokenCache(size int, ttl time.Duration) *tokenCache {
	if size <= 0 {
		return nil
	}
	c := &tokenCache{ttl: ttl, byID: map[string]tokenKey{}}
	// The callback runs inside Add, Remove and Purge, which are only
	// called with mu held, so it may touch byID.
	c.good, _ = lru.NewWithEvict(size, func(_ tokenKey, v *verified) {
		if c.byID[v.tokenID] == keyOf(v) {
			delete(c.byID, v.tokenID)
		}
	})
	c.bad, _ = lru.New[tokenKey, time.Time](max(size/4, 16))
	return c
}

// keyOf is the key a verified entry was stored under.
func keyOf(v *verified) tokenKey { return v.key }

// lookup returns the verified entry for key, or whether key was refused
// recently.
func (c *tokenCache) lookup(key tokenKey, now time.Time) (v *verified, refused bool) {
	if c == nil {
		return nil, false
	}
	if v, ok := c.good.Get(key); ok && now.Before(v.expires) {
		return v, false
	}
	if until, ok := c.bad.Get(key); ok && now.Before(until) {
		return nil, true
	}
	return nil, false
}

// generation is read before a miss checks the database.
func (c *tokenCache) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put keeps v unless something was invalidated since gen was read.
func (c *tokenCache) put(v *verified, gen uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if old, ok := c.byID[v.tokenID]; ok && old != v.key {
		c.good.Remove(old)
	}
	c.byID[v.tokenID] = v.key
	c.good.Add(v.key, v)
}

// refuse remembers until then that key was refused, unless something
// changed since gen was read (a user enabled again, say).
func (c *tokenCache) refuse(key tokenKey, until time.Time, gen uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.bad.Add(key, until)
	}
}

// forget drops the entry of one token.
func (c *tokenCache) forget(tokenID string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if key, ok := c.byID[tokenID]; ok {
		c.good.Remove(key)
	}
}

// purge drops every entry, good and refused.
func (c *tokenCache) purge() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.good.Purge()
	c.bad.Purge()
}

// len is how many verified tokens are held.
func (c *tokenCache) len() int {
	if c == nil {
		return 0
	}
	return c.good.Len()
}

// ttlOrZero is the cache's TTL, or 0 for no cache.
func (c *tokenCache) ttlOrZero() time.Duration {
	if c == nil {
		return 0
	}
	return c.ttl
}
