package service

import (
	"context"
	"strconv"

	"github.com/latchkey/latchkey"
)

// Authenticate returns who a token belongs to. The token authenticates when
// its signature verifies with a key the server still accepts, nbf ≤ now <
// exp, its row exists and is not revoked, its client exists and is not
// revoked, and its user is active and not deleted; the JWT's sub and aud
// must match the row. Anything else is the same EUNAUTHENTICATED error,
// with no hint of which check failed.
func (s *Service) Authenticate(ctx context.Context, token string) (*latchkey.Principal, error) {
	now := s.now()
	claims, err := s.keys.Load().Verify(token, now)
	if err != nil && s.reloadForUnknownKey(ctx, token) {
		claims, err = s.keys.Load().Verify(token, now)
	}
	if err != nil {
		return nil, errUnauthenticated
	}
	cred, err := s.store.Credential(ctx, claims.ID)
	if err != nil {
		if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
			return nil, errUnauthenticated
		}
		return nil, err
	}
	t, u, c := cred.Token, cred.User, cred.Client
	if t.Revoked || t.Expired(now) || c.Revoked || !u.Active() ||
		strconv.FormatInt(t.UserID, 10) != claims.Subject ||
		strconv.FormatInt(t.ClientID, 10) != claims.Audience {
		return nil, errUnauthenticated
	}
	t.Client = c
	s.usage.record(t.ID, now)
	return &latchkey.Principal{User: u, Token: t}, nil
}
