package service

import (
	"context"
	"crypto/sha256"
	"strconv"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/jwt"
)

// How long a refusal is remembered. A token refused after its signature
// verified (revoked, expired, unknown row, revoked client, inactive user)
// stays refused: anything that could change that (a user enabled again)
// purges the cache. A signature that fails under a key we hold is forged or
// tampered with; it is remembered briefly, in case the failure was a
// not-before a replica with a fast clock set. A token naming a key we do
// not hold is never remembered: the keyring may be behind.
const (
	refuseAfterChecks    = time.Minute
	refuseBadSignature   = 5 * time.Second
	recordUseGranularity = time.Second
)

// Authenticate returns who a token belongs to. The token authenticates when
// its signature verifies with a key the server still accepts, nbf ≤ now <
// exp, its row exists and is not revoked, its client exists and is not
// revoked, and its user is active and not deleted; the JWT's sub and aud
// must match the row. Anything else is the same EUNAUTHENTICATED error,
// with no hint of which check failed.
//
// A token that passed is cached until it expires (or the cache's TTL ends):
// the next request with it costs a hash and a map lookup. Revocations and
// other changes, here or on another replica, remove it at once.
func (s *Service) Authenticate(ctx context.Context, token string) (*latchkey.Principal, error) {
	now := s.now()
	key := tokenKey(sha256.Sum256([]byte(token)))
	if v, refused := s.cache.lookup(key, now); v != nil {
		s.noteUse(v, now)
		return v.principal, nil
	} else if refused {
		return nil, errUnauthenticated
	}
	gen := s.cache.generation()
	p, exp, refusal, err := s.check(ctx, token, now)
	switch {
	case err != nil:
		if refusal > 0 {
			s.cache.refuse(key, now.Add(refusal), gen)
		}
		return nil, err
	}
	v := &verified{key: key, principal: p, tokenID: p.Token.ID, userID: p.User.ID, expires: exp}
	if ttl := now.Add(s.cache.ttlOrZero()); s.cache != nil && ttl.Before(v.expires) {
		v.expires = ttl
	}
	s.cache.put(v, gen)
	s.noteUse(v, now)
	return p, nil
}

// check runs every check of Authenticate against the database. On a
// refusal it says how long the refusal may be remembered (0: not at all).
func (s *Service) check(ctx context.Context, token string, now time.Time) (*latchkey.Principal, time.Time, time.Duration, error) {
	claims, err := s.keys.Load().Verify(token, now)
	if err != nil && s.reloadForUnknownKey(ctx, token) {
		claims, err = s.keys.Load().Verify(token, now)
	}
	if err != nil {
		if kid := jwt.KeyID(token); kid != "" && s.keys.Load().Has(kid) {
			return nil, time.Time{}, refuseBadSignature, errUnauthenticated
		}
		return nil, time.Time{}, 0, errUnauthenticated
	}
	cred, err := s.store.Credential(ctx, claims.ID)
	if err != nil {
		if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
			return nil, time.Time{}, refuseAfterChecks, errUnauthenticated
		}
		return nil, time.Time{}, 0, err
	}
	t, u, c := cred.Token, cred.User, cred.Client
	if t.Revoked || t.Expired(now) || c.Revoked || !u.Active() ||
		strconv.FormatInt(t.UserID, 10) != claims.Subject ||
		strconv.FormatInt(t.ClientID, 10) != claims.Audience {
		return nil, time.Time{}, refuseAfterChecks, errUnauthenticated
	}
	t.Client = c
	exp := claims.ExpiresAt
	if t.ExpiresAt != nil && t.ExpiresAt.Before(exp) {
		exp = *t.ExpiresAt
	}
	return &latchkey.Principal{User: u, Token: t}, exp, 0, nil
}

// noteUse records that v was used at now, at most once a second per token,
// so that a cached request takes no lock for it.
func (s *Service) noteUse(v *verified, now time.Time) {
	last := v.noted.Load()
	if now.UnixNano()-last < int64(recordUseGranularity) || !v.noted.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	s.usage.record(v.tokenID, now)
}
