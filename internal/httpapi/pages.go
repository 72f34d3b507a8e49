package httpapi

import (
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/latchkey/latchkey/internal/service"
)

// pageCache holds the JSON of list pages' tokens (wire.AppendTokens), each
// under the version of the page it was made from (service.ListVersion).
// Encoding 50 tokens was most of a list's cost; a page asked for again is
// written from here as long as the service says the same version, which
// it does exactly while the page's tokens stay the same (a create, a
// revocation or any change to the user's tokens, here or on another
// server, and a use of one of the page's tokens each give a new one). An
// entry of another version is never written; it is replaced.
//
// The links and counts around the tokens depend on the request and are
// written each time.
type pageCache struct {
	mu    sync.Mutex // held for every use of lru and bytes
	lru   *simplelru.LRU[pageKey, *cachedPage]
	bytes int // the sum of the entries' data
}

// pageKey is a page of a user's default list.
type pageKey struct {
	user          int64
	page, perPage int
}

// cachedPage is a page's tokens as JSON, and what they were made from.
type cachedPage struct {
	version service.ListVersion
	count   int // tokens on the page
	data    []byte
}

// The bounds of a page cache: how many pages, how many bytes in all, and
// the largest page kept (a page of 1,000 tokens, per_page's most, is
// about 640 KB without addresses of use).
const (
	maxCachedPages     = 4096
	maxCachedPageBytes = 16 << 20
	maxCachedPage      = 1 << 20
)

func newPageCache() *pageCache {
	c := &pageCache{}
	// The callback runs inside Add and RemoveOldest, with mu held.
	c.lru, _ = simplelru.NewLRU(maxCachedPages, func(_ pageKey, p *cachedPage) { c.bytes -= len(p.data) })
	return c
}

// get returns the page under k if it was made from version v.
func (c *pageCache) get(k pageKey, v service.ListVersion) (*cachedPage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.lru.Get(k)
	if !ok || p.version != v {
		return nil, false
	}
	return p, true
}

// put keeps p under k, in place of what k held.
func (c *pageCache) put(k pageKey, p *cachedPage) {
	if len(p.data) > maxCachedPage {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Remove(k)
	for c.bytes+len(p.data) > maxCachedPageBytes && c.lru.Len() > 0 {
		c.lru.RemoveOldest()
	}
	c.bytes += len(p.data)
	c.lru.Add(k, p)
}
