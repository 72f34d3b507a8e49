package service

import (
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/latchkey/latchkey"
)

// rowCache holds token rows read by id, for show: a row changes when the
// token is revoked (an event removes it, here and on every replica), when
// its client is revoked (the same), and when its last use is written
// (this replica's writes remove it; another replica's are at most
// rowTTL old, inside last_used_at's minute of accuracy). As in
// tokenCache, a generation counter stops a read that began before an
// invalidation from caching what it read.
type rowCache struct {
	ttl time.Duration
	mu  sync.Mutex // held for every change to rows and gen
	gen uint64
	lru *lru.Cache[string, cachedRow]
}

type cachedRow struct {
	t     *latchkey.Token // shared: callers get a copy
	until time.Time
}

// rowTTL is how long a token row is served from memory at most.
const rowTTL = 15 * time.Second

func newRowCache(size int) *rowCache {
	if size <= 0 {
		return nil
	}
	c, _ := lru.New[string, cachedRow](size)
	return &rowCache{ttl: rowTTL, lru: c}
}

// get returns a copy of the cached row, or nil.
func (c *rowCache) get(id string, now time.Time) *latchkey.Token {
	if c == nil {
		return nil
	}
	r, ok := c.lru.Get(id)
	if !ok || !now.Before(r.until) {
		return nil
	}
	t := *r.t
	return &t
}

func (c *rowCache) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put keeps a copy of t unless something was invalidated since gen.
func (c *rowCache) put(t *latchkey.Token, now time.Time, gen uint64) {
	if c == nil {
		return
	}
	kept := *t
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.lru.Add(t.ID, cachedRow{t: &kept, until: now.Add(c.ttl)})
	}
}

func (c *rowCache) forget(ids ...string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, id := range ids {
		c.lru.Remove(id)
	}
}

func (c *rowCache) purge() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.lru.Purge()
}
