package service

import (
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/latchkey/latchkey"
)

// listCache holds users' personal, unrevoked tokens in the list's default
// order (newest first), so that paging through them costs no database
// read. It is bounded by the tokens it holds in all. A user's list is
// dropped when they get a new token (an event, here and on every
// replica), and every list when any token is revoked, any client revoked,
// or last-used times are written; after rowTTL at most it is read again.
// As in tokenCache, a generation counter stops a read that began before
// an invalidation from caching what it read.
type listCache struct {
	maxTokens int // in all lists together
	mu        sync.Mutex
	gen       uint64
	held      int
	lru       *lru.Cache[int64, cachedList]
}

type cachedList struct {
	tokens []*latchkey.Token // shared: callers get copies
	until  time.Time
}

// maxListUsers bounds how many users' lists are held.
const maxListUsers = 10_000

func newListCache(maxTokens int) *listCache {
	if maxTokens <= 0 {
		return nil
	}
	c := &listCache{maxTokens: maxTokens}
	// The callback runs inside Add, Remove, RemoveOldest and Purge, which
	// are only called with mu held.
	c.lru, _ = lru.NewWithEvict(maxListUsers, func(_ int64, l cachedList) { c.held -= len(l.tokens) })
	return c
}

// get returns the user's cached list, or false.
func (c *listCache) get(userID int64, now time.Time) ([]*latchkey.Token, bool) {
	if c == nil {
		return nil, false
	}
	l, ok := c.lru.Get(userID)
	if !ok || !now.Before(l.until) {
		return nil, false
	}
	return l.tokens, true
}

func (c *listCache) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put keeps a user's list unless something was invalidated since gen, or
// it would take more than a tenth of the cache.
func (c *listCache) put(userID int64, tokens []*latchkey.Token, now time.Time, gen uint64) {
	if c == nil || len(tokens) > c.maxTokens/10 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	c.lru.Remove(userID)
	for c.held+len(tokens) > c.maxTokens && c.lru.Len() > 0 {
		c.lru.RemoveOldest()
	}
	c.held += len(tokens)
	c.lru.Add(userID, cachedList{tokens: tokens, until: now.Add(rowTTL)})
}

func (c *listCache) forget(userID int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.lru.Remove(userID)
}

func (c *listCache) purge() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.lru.Purge()
}
