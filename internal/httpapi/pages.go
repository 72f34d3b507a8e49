package httpapi

import (
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/latchkey/latchkey/internal/service"
)

// jsonCache holds JSON the server wrote, each piece under the version of
// what it was made from (service.Version): the tokens of list pages
// (wire.AppendTokens), and single tokens as show answers them. Encoding
// them was most of a list's cost beyond net/http, and a fifth of a show's;
// a page or token asked for again is written from here as long as the
// service says the same version, which it does exactly while the tokens
// stay the same (a create, a revocation or any change to the user's
// tokens, here or on another server, and a use of one of the tokens each
// give a new one). An entry of another version is never written; it is
// replaced.
type jsonCache[K comparable] struct {
	mu    sync.Mutex // held for every use of lru and bytes
	lru   *simplelru.LRU[K, *cachedJSON]
	bytes int // the sum of the entries' data
}

// pageKey is a page of a user's default list.
type pageKey struct {
	user          int64
	page, perPage int
}

// cachedJSON is JSON, and what it was made from.
type cachedJSON struct {
	version service.Version
	count   int      // tokens in it, for a list page
	data    []byte   // the JSON
	length  []string // len(data) as a Content-Length, for a token: shared, net/http only reads it
}

// The bounds of each cache: how many entries, how many bytes in all, and
// the largest entry kept (a page of 1,000 tokens, per_page's most, is
// about 640 KB without addresses of use).
const (
	maxCachedJSON      = 4096
	maxCachedJSONBytes = 16 << 20
	maxCachedJSONEntry = 1 << 20
)

func newJSONCache[K comparable]() *jsonCache[K] {
	c := &jsonCache[K]{}
	// The callback runs inside Add and RemoveOldest, with mu held.
	c.lru, _ = simplelru.NewLRU(maxCachedJSON, func(_ K, e *cachedJSON) { c.bytes -= len(e.data) })
	return c
}

// get returns the entry under k if it was made from version v.
func (c *jsonCache[K]) get(k K, v service.Version) (*cachedJSON, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Get(k)
	if !ok || e.version != v {
		return nil, false
	}
	return e, true
}

// put keeps e under k, in place of what k held.
func (c *jsonCache[K]) put(k K, e *cachedJSON) {
	if len(e.data) > maxCachedJSONEntry {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Remove(k)
	for c.bytes+len(e.data) > maxCachedJSONBytes && c.lru.Len() > 0 {
		c.lru.RemoveOldest()
	}
	c.bytes += len(e.data)
	c.lru.Add(k, e)
}
