package resource

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/latchkey/latchkey/internal/jsonread"
)

// introspector asks the issuer's introspection endpoint (RFC 7662)
// whether a token is active, and keeps the answers: "active" for ttl
// (and never past the token's expiry), "not active" until the token
// expires. It asks once per token at a time: callers that need the
// answer for a token being asked about wait for it. Tokens are kept by
// their SHA-256, never as they are.
type introspector struct {
	v          *Verifier
	endpoint   string
	authHeader string // "Basic ...", the client's credentials
	ttl        time.Duration

	mu      sync.Mutex
	cache   *simplelru.LRU[[sha256.Size]byte, answer]
	flights map[[sha256.Size]byte]*introFlight
}

// answer is what the endpoint said of a token, kept until until.
type answer struct {
	active bool
	until  time.Time
}

// introFlight is a question in flight; done is closed when it ends, and
// active and err are then its answer.
type introFlight struct {
	done   chan struct{}
	active bool
	err    error
}

func newIntrospector(v *Verifier, id, secret string, ttl time.Duration, size int) *introspector {
	cache, _ := simplelru.NewLRU[[sha256.Size]byte, answer](size, nil) // size > 0: checked by newVerifier
	// client_secret_basic: the id and the secret form-encoded, then
	// joined by a colon (RFC 6749 section 2.3.1).
	cred := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
	return &introspector{
		v:          v,
		authHeader: "Basic " + base64Std(cred),
		ttl:        ttl,
		cache:      cache,
		flights:    map[[sha256.Size]byte]*introFlight{},
	}
}

// active reports whether the issuer says token is active. exp is when
// the token stops being accepted anyway: no answer is kept past it.
func (in *introspector) active(ctx context.Context, token string, exp time.Time) (bool, error) {
	key := sha256.Sum256([]byte(token))
	now := in.v.now()
	in.mu.Lock()
	if a, ok := in.cache.Get(key); ok && now.Before(a.until) {
		in.mu.Unlock()
		return a.active, nil
	}
	f := in.flights[key]
	if f == nil {
		f = &introFlight{done: make(chan struct{})}
		in.flights[key] = f
		go in.ask(ctx, key, token, exp, f)
	}
	in.mu.Unlock()
	select {
	case <-f.done:
		return f.active, f.err
	case <-ctx.Done():
		return false, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
}

// ask asks the endpoint about token and keeps the answer. It runs on its
// own, with the values of the context of the caller that started it but
// not its cancellation: another caller may be waiting for the answer.
// fetchTimeout bounds it, whatever the client's timeout.
func (in *introspector) ask(ctx context.Context, key [sha256.Size]byte, token string, exp time.Time, f *introFlight) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	active, err := in.post(ctx, token)
	now := in.v.now()
	in.mu.Lock()
	delete(in.flights, key)
	if err == nil {
		until := exp
		if t := now.Add(in.ttl); active && t.Before(until) {
			until = t
		}
		if now.Before(until) {
			in.cache.Add(key, answer{active: active, until: until})
		}
	}
	in.mu.Unlock()
	if err != nil {
		in.v.log.Warn("resource: introspection failed", "endpoint", in.endpoint, "error", err)
		err = fmt.Errorf("%w: introspection: %w", ErrUnavailable, err)
	}
	f.active, f.err = active, err
	close(f.done)
}

// post sends the introspection request (RFC 7662 section 2.1) and reads
// the answer.
func (in *introspector) post(ctx context.Context, token string) (bool, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", in.authHeader)
	body, _, err := in.v.do(req, maxIntrospectionBytes)
	if err != nil {
		return false, err
	}
	return parseIntrospection(body)
}

// parseIntrospection reads an introspection answer (RFC 7662 section
// 2.2): a JSON object whose active member is a boolean; only true is
// active. A member that appears twice makes the answer unreadable, as for
// tokens.
func parseIntrospection(body []byte) (bool, error) {
	var active, hasActive bool
	ok := jsonread.DecodeObject(body, maxMembers, func(dec *json.Decoder, key string) bool {
		if key != "active" {
			return jsonread.SkipValue(dec)
		}
		t, err := dec.Token()
		active, hasActive = t == true, err == nil && (t == true || t == false)
		return hasActive
	})
	if !ok || !hasActive {
		return false, errors.New("the introspection answer is not a JSON object of RFC 7662 with a boolean active")
	}
	return active, nil
}

// base64Std is the standard base64 of s, padded, as HTTP Basic wants.
func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
