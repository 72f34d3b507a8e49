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

// Authenticate returns who a token belongs to, for a request to
// Latchkey's API. The token authenticates when its signature verifies
// with a key the server still accepts, nbf ≤ now < exp, its row exists
// and is not revoked, its client exists and is not revoked, and its user
// is active and not deleted; the JWT's sub and aud must match the row
// (aud the client's id, or the resource the row names); and it is for
// Latchkey's API, not a token issued for another resource server (RFC
// 8707), which is that server's alone. Anything else is the same
// EUNAUTHENTICATED error, with no hint of which check failed.
//
// A token that passed is cached until it expires (or the cache's TTL ends):
// the next request with it costs a hash and a map lookup. Revocations and
// other changes, here or on another replica, remove it at once.
//
// origin is where the request came from; a refusal of a revoked or expired
// token is recorded in the audit log with it.
func (s *Service) Authenticate(ctx context.Context, token string, origin latchkey.Origin) (*latchkey.Principal, error) {
	return s.authenticate(ctx, token, origin, true)
}

// Inspect is Authenticate for a resource server asking about a token
// (introspection): the same checks, but it is not a use of the token, so
// last_used_at does not move, and a token for another resource server
// passes: that server is the one asking.
func (s *Service) Inspect(ctx context.Context, token string) (*latchkey.Principal, error) {
	return s.authenticate(ctx, token, latchkey.Origin{}, false)
}

func (s *Service) authenticate(ctx context.Context, token string, origin latchkey.Origin, use bool) (*latchkey.Principal, error) {
	now := s.now()
	key := tokenKey(sha256.Sum256([]byte(token)))
	// A server that cannot show it is current reads the database, and
	// caches nothing: it drops its caches before it counts as current
	// again, or hears a resync.
	current := s.current()
	if !current {
		// Read below.
	} else if v, refused := s.cache.lookup(key, now); v != nil {
		if use && !forAPI(v.principal.Token) {
			s.obs.Authenticated(OutcomeAudience)
			return nil, errUnauthenticated
		}
		if s.idle(v.principal.Token, now, v.noted.Load()) {
			s.obs.Authenticated(OutcomeIdle)
			return nil, errUnauthenticated
		}
		if use && !s.allowedFrom(ctx, v.principal.Token, origin) {
			return nil, errUnauthenticated
		}
		if use {
			s.noteUse(v, now, origin.Address)
		}
		s.obs.Authenticated(OutcomeCached)
		return v.principal, nil
	} else if refused {
		s.obs.Authenticated(OutcomeRefusedCached)
		return nil, errUnauthenticated
	}
	gen := s.cache.generation()
	p, exp, refusal, outcome, err := s.check(ctx, token, now, origin, use, false)
	if err != nil {
		s.obs.Authenticated(outcome)
		if refusal > 0 {
			s.cache.refuse(key, now.Add(refusal), gen)
		}
		return nil, err
	}
	v := &verified{key: key, principal: p, tokenID: p.Token.ID, userID: p.User.ID, expires: exp}
	if ttl := now.Add(s.cache.ttlOrZero()); s.cache != nil && ttl.Before(v.expires) {
		v.expires = ttl
	}
	if current {
		// Cached though the API refuses it below, if it is another
		// resource's: its server introspects it, and the refusal is a
		// comparison.
		s.cache.put(v, gen)
	}
	if use && !forAPI(p.Token) {
		s.obs.Authenticated(OutcomeAudience)
		return nil, errUnauthenticated
	}
	if use && !s.allowedFrom(ctx, p.Token, origin) {
		return nil, errUnauthenticated
	}
	s.obs.Authenticated(outcome)
	if use {
		s.noteUse(v, now, origin.Address)
	}
	return p, nil
}

// idle reports whether t has gone unused for IdleExpiry or longer at
// now: since its last use this server knows of (written, pending, or
// noted, in unix nanoseconds, by a cache entry), or its creation.
func (s *Service) idle(t *latchkey.Token, now time.Time, noted int64) bool {
	if s.cfg.IdleExpiry <= 0 {
		return false
	}
	last := t.CreatedAt
	if t.LastUsedAt != nil && t.LastUsedAt.After(last) {
		last = *t.LastUsedAt
	}
	if n := time.Unix(0, noted); noted != 0 && n.After(last) {
		last = n
	}
	if now.Sub(last) < s.cfg.IdleExpiry {
		return false
	}
	// Perhaps used here since, and not yet written.
	pending := latchkey.Token{ID: t.ID}
	s.usage.overlay(&pending)
	return pending.LastUsedAt == nil || now.Sub(*pending.LastUsedAt) >= s.cfg.IdleExpiry
}

// allowedFrom reports whether the token t may be used from origin. A use
// from elsewhere is refused as every refusal is, and recorded in the
// audit log with the address; it is not remembered, for the same token
// is good from its own networks.
func (s *Service) allowedFrom(ctx context.Context, t *latchkey.Token, origin latchkey.Origin) bool {
	if t.AllowsAddr(origin.Address) {
		return true
	}
	s.obs.Authenticated(OutcomeAddressRefused)
	if err := s.recordAudit(ctx, &latchkey.Principal{Origin: origin}, latchkey.AuditRecord{
		Action: latchkey.AuditAuthRefused, SubjectUserID: userRef(t.UserID), SubjectID: t.ID,
		Detail: "address not allowed: " + origin.Address}); err != nil {
		s.log.Error("recording a token refused for its address", "token_id", t.ID, "err", err)
	}
	return false
}

// AuthenticateRotation is Authenticate for a token asking to rotate
// itself: it also accepts a token already rotated, revoked for it or in
// a grace period that is over, until its JWT expires, so that a client
// whose answer was lost can ask again (see RotateToken). Nothing is
// cached.
func (s *Service) AuthenticateRotation(ctx context.Context, token string, origin latchkey.Origin) (*latchkey.Principal, error) {
	p, _, _, outcome, err := s.check(ctx, token, s.now(), origin, true, true)
	if err != nil {
		s.obs.Authenticated(outcome)
		return nil, err
	}
	if !forAPI(p.Token) {
		s.obs.Authenticated(OutcomeAudience)
		return nil, errUnauthenticated
	}
	if !s.allowedFrom(ctx, p.Token, origin) {
		return nil, errUnauthenticated
	}
	s.obs.Authenticated(outcome)
	s.usage.record(p.Token.ID, s.now(), origin.Address) // a use as any other
	return p, nil
}

// The outcomes of Authenticate, as an Observer hears them.
const (
	OutcomeCached         = "cached"         // accepted from the cache
	OutcomeVerified       = "verified"       // accepted after every check
	OutcomeRefusedCached  = "refused_cached" // refused from the cache
	OutcomeMalformed      = "malformed"      // not a JWT of ours at all
	OutcomeUnknownKey     = "unknown_key"    // names a key the server does not hold
	OutcomeInvalid        = "invalid"        // bad signature, or outside nbf/exp
	OutcomeNotFound       = "not_found"      // no such token row
	OutcomeRevoked        = "revoked"
	OutcomeExpired        = "expired"
	OutcomeClientRevoked  = "client_revoked"
	OutcomeUserInactive   = "user_inactive"   // disabled or deleted
	OutcomeMismatch       = "mismatch"        // sub, aud or the signing key differ from the row
	OutcomeAddressRefused = "address_refused" // used from outside its allowed networks
	OutcomeIdle           = "idle"            // unused for longer than IdleExpiry
	OutcomeAudience       = "audience"        // issued for another resource server (RFC 8707)
	OutcomeError          = "error"           // the database failed
)

// check runs every check of Authenticate against the database. On a
// refusal it says how long the refusal may be remembered (0: not at all);
// it always names the outcome. A refused use of a revoked or expired token
// is audited; a resource server asking about one (use false) is not.
//
// With rotating, a token replaced by rotation passes too, though revoked
// for it (ReasonRotated) or past its grace period, until the expiry its
// JWT says: the one thing its secret still does is ask for the rotation
// again (AuthenticateRotation).
func (s *Service) check(ctx context.Context, token string, now time.Time, origin latchkey.Origin, use, rotating bool) (*latchkey.Principal, time.Time, time.Duration, string, error) {
	claims, kid, err := s.keys.Load().VerifyKey(token, now)
	if err != nil {
		named := jwt.KeyID(token) // read only on a refusal
		if s.reloadForUnknownKey(ctx, named) {
			claims, kid, err = s.keys.Load().VerifyKey(token, now)
		}
		if err != nil {
			kid = named
		}
	}
	if err != nil {
		switch {
		case kid == "":
			return nil, time.Time{}, 0, OutcomeMalformed, errUnauthenticated
		case s.keys.Load().Has(kid):
			return nil, time.Time{}, refuseBadSignature, OutcomeInvalid, errUnauthenticated
		default:
			return nil, time.Time{}, 0, OutcomeUnknownKey, errUnauthenticated
		}
	}
	cred, err := s.store.Credential(ctx, claims.ID)
	if err != nil {
		if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
			return nil, time.Time{}, refuseAfterChecks, OutcomeNotFound, errUnauthenticated
		}
		return nil, time.Time{}, 0, OutcomeError, err
	}
	t, u, c := cred.Token, cred.User, cred.Client
	refused := ""
	rotated := rotating && t.Rotated() && (!t.Revoked || t.RevokedReason == latchkey.ReasonRotated)
	switch {
	case t.Revoked && !rotated:
		refused = OutcomeRevoked
	case t.Expired(now) && !rotated:
		refused = OutcomeExpired
	case s.idle(t, now, 0):
		refused = OutcomeIdle
	case c.Revoked:
		refused = OutcomeClientRevoked
	case !u.Active():
		refused = OutcomeUserInactive
	case strconv.FormatInt(t.UserID, 10) != claims.Subject || claims.Audience != audience(t):
		refused = OutcomeMismatch
	case t.KeyID != "" && t.KeyID != kid:
		// Signed by another of the keys that still verify: a retired
		// key vouches for its own tokens only, so whoever still holds
		// one (a Passport key imported, then rotated away) cannot speak
		// for tokens made since. A row without a kid predates them.
		refused = OutcomeMismatch
	}
	if refused != "" {
		if use && (refused == OutcomeRevoked || refused == OutcomeExpired) {
			// Remembered by the refusal cache for a while, so recorded at
			// most about once a minute per token however often it is tried.
			// The refusal stands whether or not it is recorded.
			if err := s.recordAudit(ctx, &latchkey.Principal{Origin: origin}, latchkey.AuditRecord{
				Action: latchkey.AuditAuthRefused, SubjectUserID: userRef(t.UserID), SubjectID: t.ID, Detail: refused}); err != nil {
				s.log.Error("recording a refused token", "token_id", t.ID, "err", err)
			}
		}
		return nil, time.Time{}, refuseAfterChecks, refused, errUnauthenticated
	}
	t.Client = c
	exp := claims.ExpiresAt
	if t.ExpiresAt != nil && t.ExpiresAt.Before(exp) {
		exp = *t.ExpiresAt
	}
	return &latchkey.Principal{User: u, Token: t}, exp, 0, OutcomeVerified, nil
}

// audience is the aud of t's JWT: the resource it was issued for, or,
// for a token for Latchkey's API, its client's id.
func audience(t *latchkey.Token) string {
	if t.Audience != "" {
		return t.Audience
	}
	return strconv.FormatInt(t.ClientID, 10)
}

// forAPI reports whether t is for Latchkey's API: not issued for another
// resource server (RFC 8707). The row says so; the JWT's aud was held to
// the row as the token was checked.
func forAPI(t *latchkey.Token) bool { return t.Audience == "" }

// noteUse records that v was used at now from addr, at most once a
// second per token and address, so that a cached request takes no lock
// for it.
func (s *Service) noteUse(v *verified, now time.Time, addr string) {
	last := v.noted.Load()
	if now.UnixNano()-last < int64(recordUseGranularity) && (addr == "" || v.notedAddr.Load() != nil && *v.notedAddr.Load() == addr) {
		return
	}
	if !v.noted.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	if addr != "" {
		v.notedAddr.Store(&addr)
	}
	s.usage.record(v.tokenID, now, addr)
}
