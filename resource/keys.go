package resource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// keyCache holds the issuer's JWKS. It fetches it again when the set is
// older than its age (the answer's max-age within [minAge, maxAge]) or
// when a token names a kid the set lacks, but never twice within
// refetchInterval, and only one fetch at a time: callers that need the
// new set wait for the fetch in flight. The old set stays until a new one
// arrives, so a failed fetch costs nothing but the keys it would have
// added.
type keyCache struct {
	url            string
	get            func(ctx context.Context, url string) ([]byte, http.Header, error)
	now            func() time.Time
	minAge, maxAge time.Duration
	log            *slog.Logger

	mu        sync.Mutex
	set       keySet
	fresh     time.Time // the set is fresh before then
	attempted time.Time // the last fetch began then
	lastErr   error     // the last fetch's error; nil when it succeeded
	flight    *keyFlight
}

// keyFlight is a fetch in flight; done is closed when it ends, and err
// is then its error.
type keyFlight struct {
	done chan struct{}
	err  error
}

// load fetches the set and waits for it.
func (c *keyCache) load(ctx context.Context) error {
	c.mu.Lock()
	f := c.start(c.now())
	c.mu.Unlock()
	return c.wait(ctx, f)
}

// key returns the key kid of the issuer's JWKS. Its error is
// ErrUnknownKey when the set, fetched again if that is allowed, lacks
// kid, and matches ErrUnavailable when the fetch that should have
// brought it failed.
func (c *keyCache) key(ctx context.Context, kid string) (*publicKey, error) {
	now := c.now()
	c.mu.Lock()
	k := c.set[kid]
	stale := !now.Before(c.fresh)
	if k != nil && !stale {
		c.mu.Unlock()
		return k, nil
	}
	f, started := c.flight, false
	if f == nil && now.Sub(c.attempted) >= refetchInterval {
		f, started = c.start(now), true
	}
	lastErr := c.lastErr
	c.mu.Unlock()

	if k != nil {
		// A stale set still verifies while the fetch that refreshes it
		// runs: only the caller that started it waits for it, so that a
		// key the new set no longer has is refused from then on.
		if started && c.wait(ctx, f) == nil {
			c.mu.Lock()
			k = c.set[kid]
			c.mu.Unlock()
			if k == nil {
				return nil, ErrUnknownKey
			}
		}
		return k, nil
	}
	if f == nil {
		// Fetched within refetchInterval: the answer stands.
		if lastErr != nil {
			return nil, fmt.Errorf("%w: the JWKS: %w", ErrUnavailable, lastErr)
		}
		return nil, ErrUnknownKey
	}
	if err := c.wait(ctx, f); err != nil {
		return nil, fmt.Errorf("%w: the JWKS: %w", ErrUnavailable, err)
	}
	c.mu.Lock()
	k = c.set[kid]
	c.mu.Unlock()
	if k == nil {
		return nil, ErrUnknownKey
	}
	return k, nil
}

// start begins a fetch; c.mu is held.
func (c *keyCache) start(now time.Time) *keyFlight {
	f := &keyFlight{done: make(chan struct{})}
	c.flight = f
	c.attempted = now
	go c.fetch(f)
	return f
}

// wait waits for f to end, or for ctx to.
func (c *keyCache) wait(ctx context.Context, f *keyFlight) error {
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fetch fetches the set. It runs on its own: a caller that stops waiting
// does not end it for the others. fetchTimeout bounds it, whatever the
// client's timeout: a fetch that never ends would hold every later one.
func (c *keyCache) fetch(f *keyFlight) {
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	body, h, err := c.get(ctx, c.url)
	var set keySet
	if err == nil {
		set, err = parseJWKS(body)
	}
	c.mu.Lock()
	c.flight = nil
	c.lastErr = err
	if err == nil {
		c.set = set
		c.fresh = c.now().Add(c.age(h.Get("Cache-Control")))
	}
	c.mu.Unlock()
	if err != nil {
		c.log.Warn("resource: fetching the JWKS failed; the keys fetched before stay", slog.String("url", c.url), slog.Any("error", err))
	}
	f.err = err
	close(f.done)
}

// age is how long a set fetched with the Cache-Control cc is kept: its
// max-age within [minAge, maxAge]; 5 minutes within them when it has
// none; minAge for no-cache or no-store.
func (c *keyCache) age(cc string) time.Duration {
	age := defaultJWKSAge
	for d := range strings.SplitSeq(cc, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(name) {
		case "no-cache", "no-store":
			return c.minAge
		case "max-age":
			// A number too large to read is as large as any (RFC 9111
			// section 1.2.2).
			s, err := strconv.ParseUint(strings.Trim(val, `"`), 10, 64)
			if errors.Is(err, strconv.ErrRange) {
				s, err = math.MaxUint64, nil
			}
			if err == nil {
				age = time.Duration(min(s, uint64(c.maxAge/time.Second)+1)) * time.Second
			}
		}
	}
	return min(max(age, c.minAge), c.maxAge)
}
