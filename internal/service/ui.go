package service

import (
	"context"
	"time"

	"github.com/latchkey/latchkey"
)

// What the web pages need beyond the API's operations: a person sees
// their revoked tokens too, searches users, and is told the lifetimes a
// new token may have.

// UserTokens returns owner's personal tokens, revoked and expired ones
// included, newest first: at most limit of them (0: all), and how many
// there are. Owner has already cleared the caller to read them.
func (s *Service) UserTokens(ctx context.Context, owner *latchkey.User, limit int) ([]*latchkey.Token, int, error) {
	ts, total, err := s.store.Tokens(ctx, latchkey.TokenFilter{
		UserID:         owner.ID,
		PersonalOnly:   true,
		IncludeRevoked: true,
		Limit:          limit,
	})
	if err != nil {
		return nil, 0, err
	}
	s.usage.overlay(ts...)
	return ts, total, nil
}

// SearchUsers returns the users, deleted ones left out, whose username,
// email or name contains search (all of them when it is ""), by id: at
// most limit of them, and whether there are more. Who may search is
// Authorize's decision (latchkey.SearchUsers): EFORBIDDEN for anyone else.
func (s *Service) SearchUsers(ctx context.Context, p *latchkey.Principal, search string, limit int) ([]*latchkey.User, bool, error) {
	if err := p.Authorize(latchkey.SearchUsers, 0); err != nil {
		return nil, false, err
	}
	us, err := s.store.Users(ctx, latchkey.UserFilter{Search: search, Limit: limit + 1})
	if err != nil {
		return nil, false, err
	}
	if len(us) > limit {
		return us[:limit], true, nil
	}
	return us, false, nil
}

// TokenLifetimes returns when a token created now expires without an
// expires_at, and the latest expires_at may be.
func (s *Service) TokenLifetimes() (def, latest time.Time) {
	now := s.now()
	return s.cfg.DefaultLifetime.After(now), s.cfg.MaxLifetime.After(now)
}
