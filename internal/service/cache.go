package service

import (
	"crypto/sha256"
	"sync/atomic"
	"time"

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
	expires   time.Time              // the token's exp, or the entry's TTL if sooner
	noted     atomic.Int64           // when its use was last recorded, unix nanoseconds
	notedAddr atomic.Pointer[string] // from where
}

// tokenCache holds verified tokens, and the keys of tokens recently
// refused, so that a repeated request costs a hash and a map lookup. Both
// are genCaches, so it never serves a revoked token: every change that
// could invalidate an entry (a token revoked, a user or client changed, the
// keys changed, a lost connection to the other replicas) drops entries and
// bumps their generation, and an entry whose checks began before the last
// bump is not kept. Refused tokens have their own, smaller LRU, so that a
// flood of bad tokens cannot push out the good ones.
type tokenCache struct {
	ttl  time.Duration
	good *genCache[tokenKey, *verified] // indexed by token id
	bad  *genCache[tokenKey, struct{}]
}

// cacheGen is the generations of a tokenCache, read before a miss checks
// the database.
type cacheGen struct{ good, bad uint64 }

// newTokenCache holds at most size verified tokens (and size/4 refused
// ones); nil, a cache that holds nothing, when size is 0.
func newTokenCache(size int, ttl time.Duration) *tokenCache {
	if size <= 0 {
		return nil
	}
	return &tokenCache{
		ttl:  ttl,
		good: newGenCache(size, indexed[tokenKey](func(v *verified) string { return v.tokenID })),
		bad:  newGenCache[tokenKey, struct{}](max(size/4, 16)),
	}
}

// lookup returns the verified entry for key, or whether key was refused
// recently.
func (c *tokenCache) lookup(key tokenKey, now time.Time) (v *verified, refused bool) {
	if c == nil {
		return nil, false
	}
	if v, ok := c.good.get(key, now); ok {
		return v, false
	}
	_, refused = c.bad.get(key, now)
	return nil, refused
}

// generation is read before a miss checks the database.
func (c *tokenCache) generation() cacheGen {
	if c == nil {
		return cacheGen{}
	}
	return cacheGen{c.good.generation(), c.bad.generation()}
}

// put keeps v until it expires, unless something was invalidated since gen
// was read.
func (c *tokenCache) put(v *verified, gen cacheGen) {
	if c == nil {
		return
	}
	c.good.put(v.key, v, v.expires, gen.good)
}

// refuse remembers until then that key was refused, unless something
// changed since gen was read (a user enabled again, say).
func (c *tokenCache) refuse(key tokenKey, until time.Time, gen cacheGen) {
	if c == nil {
		return
	}
	c.bad.put(key, struct{}{}, until, gen.bad)
}

// forget drops the entry of one token.
func (c *tokenCache) forget(tokenID string) {
	if c == nil {
		return
	}
	c.good.forgetIndexed(tokenID)
}

// purge drops every entry, good and refused.
func (c *tokenCache) purge() {
	if c == nil {
		return
	}
	c.good.purge()
	c.bad.purge()
}

// len is how many verified tokens are held.
func (c *tokenCache) len() int {
	if c == nil {
		return 0
	}
	return c.good.len()
}

// ttlOrZero is the cache's TTL, or 0 for no cache.
func (c *tokenCache) ttlOrZero() time.Duration {
	if c == nil {
		return 0
	}
	return c.ttl
}
