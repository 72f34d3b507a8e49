package service

import (
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/latchkey/latchkey"
)

// genCache is the one cache of the service: a bounded LRU whose entries
// live until a deadline, and whose invalidations a generation counter
// guards. Every forget or purge bumps it, and put refuses a value whose
// read began (generation taken) before the last bump. A request that read
// the database before a change committed therefore cannot cache what it
// read after the change dropped the entry. Values are shared: callers copy
// what they mutate.
//
// The caches built on it: verified tokens and refused ones (tokenCache),
// token rows for show (rowTTL), and each user's list of tokens in the
// default order, bounded by the tokens held in all.
type genCache[K comparable, V any] struct {
	mu  sync.Mutex // held for every change to lru, gen, held and byIndex
	gen uint64
	lru *lru.Cache[K, genEntry[V]]

	// weight, when set, bounds the sum of the entries' weights by max.
	weight    func(V) int
	max, held int

	// index, when set, names each value by a second key: one entry at most
	// per index key, and forgetIndexed drops it.
	index   func(V) string
	byIndex map[string]K
}

type genEntry[V any] struct {
	v     V
	until time.Time
}

// rowTTL is how long a token row or a user's list is served from memory
// at most, should a change notice be lost.
const rowTTL = 15 * time.Second

// maxListUsers bounds how many users' lists are held.
const maxListUsers = 10_000

// cacheOption sets an optional part of a genCache.
type cacheOption[K comparable, V any] func(*genCache[K, V])

// weighed bounds the sum of weight over the entries by max.
func weighed[K comparable, V any](weight func(V) int, max int) cacheOption[K, V] {
	return func(c *genCache[K, V]) { c.weight, c.max = weight, max }
}

// indexed names each entry by index(value) as well.
func indexed[K comparable, V any](index func(V) string) cacheOption[K, V] {
	return func(c *genCache[K, V]) { c.index, c.byIndex = index, map[string]K{} }
}

// newGenCache holds at most size entries; nil (a cache that holds nothing)
// when size is 0 or less.
func newGenCache[K comparable, V any](size int, opts ...cacheOption[K, V]) *genCache[K, V] {
	if size <= 0 {
		return nil
	}
	c := &genCache[K, V]{}
	for _, o := range opts {
		o(c)
	}
	// The callback runs inside Add, Remove, RemoveOldest and Purge, which
	// are only called with mu held.
	c.lru, _ = lru.NewWithEvict(size, func(k K, e genEntry[V]) {
		if c.weight != nil {
			c.held -= c.weight(e.v)
		}
		if c.index != nil {
			if ix := c.index(e.v); c.byIndex[ix] == k {
				delete(c.byIndex, ix)
			}
		}
	})
	return c
}

// newRowCache holds token rows by id.
func newRowCache(size int) *genCache[string, *heldRow] {
	return newGenCache[string, *heldRow](size)
}

// heldRow is a token's row as read, shared by every request (read only),
// and the number it was given when read, which nothing else read by this
// process has: the token's Version.
type heldRow struct {
	t *latchkey.Token
	n uint64
}

// newListCache holds users' lists, at most maxTokens tokens in all.
func newListCache(maxTokens int) *genCache[int64, *heldList] {
	if maxTokens <= 0 {
		return nil
	}
	return newGenCache(maxListUsers, weighed[int64](func(l *heldList) int { return len(l.tokens) }, maxTokens))
}

// heldList is a user's whole list in the default order, as read, shared
// by every request (read only), and the number it was given when read,
// which nothing else read by this process has: a page's Version.
type heldList struct {
	tokens []*latchkey.Token
	n      uint64
}

// get returns the live value under k.
func (c *genCache[K, V]) get(k K, now time.Time) (V, bool) {
	var zero V
	if c == nil {
		return zero, false
	}
	e, ok := c.lru.Get(k)
	if !ok || !now.Before(e.until) {
		return zero, false
	}
	return e.v, true
}

// generation is taken before the read whose result put may keep.
func (c *genCache[K, V]) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put keeps v under k until then, unless something was invalidated since
// gen, or v alone would weigh more than a tenth of the cache. With an
// index, it replaces the entry of the same index key.
func (c *genCache[K, V]) put(k K, v V, until time.Time, gen uint64) {
	if c == nil {
		return
	}
	w := 0
	if c.weight != nil {
		if w = c.weight(v); w > c.max/10 {
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	c.lru.Remove(k)
	if c.index != nil {
		if old, ok := c.byIndex[c.index(v)]; ok {
			c.lru.Remove(old)
		}
	}
	for c.weight != nil && c.held+w > c.max && c.lru.Len() > 0 {
		c.lru.RemoveOldest()
	}
	c.held += w
	c.lru.Add(k, genEntry[V]{v: v, until: until})
	if c.index != nil {
		c.byIndex[c.index(v)] = k
	}
}

// forget drops the entries under keys.
func (c *genCache[K, V]) forget(keys ...K) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, k := range keys {
		c.lru.Remove(k)
	}
}

// forgetIndexed drops the entry whose index key is ix.
func (c *genCache[K, V]) forgetIndexed(ix string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if k, ok := c.byIndex[ix]; ok {
		c.lru.Remove(k)
	}
}

// purge drops every entry.
func (c *genCache[K, V]) purge() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.lru.Purge()
}

// len is how many entries are held.
func (c *genCache[K, V]) len() int {
	if c == nil {
		return 0
	}
	return c.lru.Len()
}
