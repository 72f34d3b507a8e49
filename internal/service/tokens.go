package service

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/jwt"
)

// The validation sentences of the contract, which callers match on.
const (
	MsgNameRequired   = "The Name field is required."
	MsgNameTooLong    = "The Name field must not be greater than 255 characters."
	MsgNameString     = "The Name field must be a string."
	MsgNameText       = "The Name field must be valid UTF-8 text without control or formatting characters."
	MsgScopesArray    = "The Scopes field must be an array."
	MsgScopesInvalid  = "The selected Scopes is invalid."
	MsgExpiresInvalid = "The Expires At field must be a valid date."
	// MsgExpiresFormat follows MsgExpiresInvalid in errors.expires_at:
	// the contract's sentence first, which callers match on, then what
	// the API wants.
	MsgExpiresFormat = "Use an RFC 3339 date and time with a zone, e.g. 2027-01-31T00:00:00Z."
	MsgExpiresPast   = "The Expires At field must be a date after now."
	msgExpiresMax    = "The Expires At field must be a date before or equal to %s."
	// MsgExpiresParent follows the sentence of the latest date allowed
	// when that date is when the token making the request expires.
	MsgExpiresParent = "A token cannot outlive the token that creates it."
	// The sentences of allowed_ips.
	MsgAllowedIPsArray   = "The Allowed Ips field must be an array of IP addresses or CIDR ranges, e.g. 192.0.2.0/24 or 2001:db8::/32."
	MsgAllowedIPsTooMany = "The Allowed Ips field must not have more than 32 items."
	MsgAllowedIPsParent  = "The Allowed Ips field must lie within the networks of the token that creates it."
)

// MaxNameLength is the longest token name, in characters.
const MaxNameLength = 255

// dateLayout is how a date appears in sentences: the API's date form.
const dateLayout = "2006-01-02T15:04:05.000000Z"

// TokenRequest asks for a new token. A decoder fills Invalid with the
// fields whose JSON type or form was wrong; CreateToken checks the rest.
type TokenRequest struct {
	Name      *string    // nil when absent or null
	Scopes    []string   // nil when absent: no scopes, every ability
	ExpiresAt *time.Time // nil when absent: the default lifetime
	// AllowedIPs limits where the token may be used from; none is
	// anywhere, or, for a token made by a limited token, its networks.
	AllowedIPs []netip.Prefix
	Invalid    latchkey.FieldErrors
}

// ParseAllowedIPs reads a list of networks as a request gives them: each
// an IP address (one host) or a CIDR range, IPv4 or IPv6, without a zone.
// It returns them masked and without repeats, or the sentence that
// refuses them.
func ParseAllowedIPs(list []string) ([]netip.Prefix, string) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil || a.Zone() != "" {
				return nil, MsgAllowedIPsArray
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() {
			// ::ffff:a.b.c.d/n is the IPv4 network a.b.c.d/(n-96); a
			// shorter one reaches beyond IPv4, which no one means.
			if p.Bits() < 96 {
				return nil, MsgAllowedIPsArray
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		p = p.Masked()
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if len(out) > latchkey.MaxAllowedIPs {
		return nil, MsgAllowedIPsTooMany
	}
	return out, ""
}

// ParseUserID reads a {user_id} path segment: all digits, a positive int64.
func ParseUserID(s string) (int64, bool) {
	if s == "" || len(s) > 19 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

// Owner returns the user named by the path segment rawID, after checking
// that p may do a to that user's tokens: ENOTFOUND when rawID names no
// user that exists and is not deleted, then EFORBIDDEN.
func (s *Service) Owner(ctx context.Context, p *latchkey.Principal, a latchkey.Action, rawID string) (*latchkey.User, error) {
	id, ok := ParseUserID(rawID)
	if !ok {
		return nil, errNotFound
	}
	// Acting on one's own tokens, the most common case: the user was read
	// with the token (and a change to them purges the token cache).
	u := p.User
	if u.ID != id {
		var err error
		if u, err = s.store.User(ctx, id); err != nil {
			return nil, notFound(err)
		}
	}
	if u.Deleted() {
		return nil, errNotFound
	}
	if err := p.Authorize(a, u.ID); err != nil {
		return nil, err
	}
	return u, nil
}

// validate checks req against the contract, in its field order, and
// returns the name and scopes to store and when the token expires. The
// networks of req must lie within parent's (checkAllowed). A
// token made by parent (not nil when a token's bearer asks) expires no
// later than parent: by default at the default lifetime or parent's
// expiry, whichever is first; a later expires_at is refused.
func (s *Service) validate(req TokenRequest, now time.Time, parent *latchkey.Token) (string, latchkey.Scopes, time.Time, []netip.Prefix, error) {
	var fe latchkey.FieldErrors
	name := ""
	if msgs := req.Invalid.Get("name"); msgs != nil {
		for _, m := range msgs {
			fe.Add("name", m)
		}
	} else {
		if req.Name != nil {
			name = strings.TrimSpace(*req.Name)
		}
		fe = append(fe, checkName(name)...)
	}
	scopes := latchkey.Scopes{}
	if msgs := req.Invalid.Get("scopes"); msgs != nil {
		for _, m := range msgs {
			fe.Add("scopes", m)
		}
	} else {
		for _, sc := range req.Scopes {
			if !slices.Contains(s.scopes, sc) {
				fe.Add("scopes", MsgScopesInvalid)
				break
			}
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	}
	expires := s.cfg.DefaultLifetime.After(now)
	var parentExpires *time.Time
	if parent != nil && parent.ExpiresAt != nil {
		parentExpires = parent.ExpiresAt
		if expires.After(*parentExpires) {
			expires = *parentExpires
		}
	}
	if msgs := req.Invalid.Get("expires_at"); msgs != nil {
		for _, m := range msgs {
			fe.Add("expires_at", m)
		}
	} else if req.ExpiresAt != nil {
		at := req.ExpiresAt.UTC().Truncate(time.Microsecond)
		limit := s.cfg.MaxLifetime.After(now)
		switch {
		case !at.After(now):
			fe.Add("expires_at", MsgExpiresPast)
		case parentExpires != nil && at.After(*parentExpires) && parentExpires.Before(limit):
			fe.Add("expires_at", fmt.Sprintf(msgExpiresMax, parentExpires.UTC().Format(dateLayout)))
			fe.Add("expires_at", MsgExpiresParent)
		case at.After(limit):
			fe.Add("expires_at", fmt.Sprintf(msgExpiresMax, limit.Format(dateLayout)))
		}
		expires = at
	}
	// A token limited to networks makes tokens within them: one that
	// names none takes its parent's.
	allowed := req.AllowedIPs
	if len(allowed) == 0 && parent != nil {
		allowed = parent.AllowedIPs
	}
	if msgs := req.Invalid.Get("allowed_ips"); msgs != nil {
		for _, m := range msgs {
			fe.Add("allowed_ips", m)
		}
	} else if parent != nil && !latchkey.PrefixesWithin(allowed, parent.AllowedIPs) {
		fe.Add("allowed_ips", MsgAllowedIPsParent)
	}
	// What else the decoder refused (a key of ours in another case)
	// follows the contract's fields.
	for _, f := range req.Invalid {
		if f.Field != "name" && f.Field != "scopes" && f.Field != "expires_at" && f.Field != "allowed_ips" {
			for _, m := range f.Sentences {
				fe.Add(f.Field, m)
			}
		}
	}
	return name, scopes, expires, allowed, fe.Err()
}

// CreateToken issues a personal token for owner, whom Owner has already
// cleared p to act for, and returns it with its JWT: the only time the JWT
// is ever seen. When p is a token's bearer, that token is the new one's
// parent: the new token never outlives it and is revoked with it.
// EINVALID for a bad request; EFORBIDDEN when p's token cannot grant the
// scopes asked for; EUNAUTHENTICATED when p's token was revoked meanwhile.
func (s *Service) CreateToken(ctx context.Context, p *latchkey.Principal, owner *latchkey.User, req TokenRequest) (*latchkey.Token, string, error) {
	now := s.now()
	name, scopes, expires, allowed, err := s.validate(req, now, p.Token)
	if err != nil {
		return nil, "", err
	}
	if err := p.AuthorizeGrant(scopes); err != nil {
		return nil, "", err
	}
	client, err := s.personalClient(ctx, now)
	if err != nil {
		return nil, "", err
	}
	t := &latchkey.Token{
		UserID:     owner.ID,
		ClientID:   client.ID,
		Name:       name,
		Scopes:     scopes,
		CreatedAt:  now,
		UpdatedAt:  now,
		ExpiresAt:  &expires,
		AllowedIPs: allowed,
	}
	signed, err := s.sign(t)
	if err != nil {
		return nil, "", err
	}
	detail := "scopes " + strings.Join(scopesOrAll(scopes), " ")
	if p.Token != nil {
		t.ParentID = p.Token.ID
		detail += "; made by token " + t.ParentID
	}
	rec := s.auditRecord(p, latchkey.AuditRecord{Action: latchkey.AuditTokenCreated, Notify: latchkey.NoteTokenCreated, SubjectUserID: userRef(owner.ID), SubjectID: t.ID,
		Detail: detail})
	if err := s.store.CreateToken(ctx, t, rec); err != nil {
		if latchkey.ErrorCode(err) == latchkey.EUNAUTHENTICATED {
			// The parent was revoked since it authenticated this request.
			return nil, "", errUnauthenticated
		}
		return nil, "", err
	}
	t.Client = client
	// The store told the other servers in the same transaction.
	s.apply(ctx, latchkey.Event{Kind: latchkey.EventTokenCreated, ID: strconv.FormatInt(owner.ID, 10)})
	s.obs.TokenCreated()
	s.log.Info("token created", "token_id", t.ID, "user_id", owner.ID, "by_user_id", p.User.ID)
	return t, signed, nil
}

// sign gives the new token t its id and signs its JWT, with the claims of
// Passport's personal tokens, and records the key in t.KeyID.
func (s *Service) sign(t *latchkey.Token) (string, error) {
	id, err := s.newTokenID()
	if err != nil {
		return "", err
	}
	signed, kid, err := s.keys.Load().Sign(jwt.Claims{
		Audience:  strconv.FormatInt(t.ClientID, 10),
		ID:        id,
		Subject:   strconv.FormatInt(t.UserID, 10),
		IssuedAt:  t.CreatedAt,
		NotBefore: t.CreatedAt,
		ExpiresAt: *t.ExpiresAt,
		Scopes:    t.Scopes,
	})
	if err != nil {
		return "", err
	}
	t.ID, t.KeyID = id, kid
	return signed, nil
}

// personalClient returns the personal access client, read at most once
// every rowTTL; a change to any client (an event) drops it at once.
func (s *Service) personalClient(ctx context.Context, now time.Time) (*latchkey.Client, error) {
	if c, ok := s.clients.get(latchkey.PersonalAccessClientID, now); ok {
		kept := *c
		return &kept, nil
	}
	gen := s.clients.generation()
	c, err := s.store.Client(ctx, latchkey.PersonalAccessClientID)
	if err != nil {
		return nil, err
	}
	kept := *c
	s.clients.put(latchkey.PersonalAccessClientID, &kept, now.Add(rowTTL), gen)
	return c, nil
}

// ListQuery selects a page of a user's personal tokens.
type ListQuery struct {
	Page, PerPage int // from 1
	Filter        string
	OrderBy       latchkey.TokenOrder
	Ascending     bool
	// IncludeRevoked keeps revoked tokens too, for the operator's list;
	// the API never lists them.
	IncludeRevoked bool
}

// Tokens returns a page of owner's personal tokens that are not revoked
// (revoked ones too if q.IncludeRevoked), expired ones included, and how
// many there are on all pages.
func (s *Service) Tokens(ctx context.Context, owner *latchkey.User, q ListQuery) ([]*latchkey.Token, int, error) {
	ts, total, _, err := s.TokensVersioned(ctx, owner, q)
	return ts, total, err
}

// fromListCache reports whether the page q is read from the list cache:
// the default list, in the default order.
func (q ListQuery) fromListCache() bool {
	return q.Filter == "" && !q.IncludeRevoked && (q.OrderBy == "" || q.OrderBy == latchkey.OrderCreatedAt) && !q.Ascending && q.PerPage > 0
}

// TokensVersioned is Tokens, and the version of the page it returns:
// the zero Version when the page was read from the database.
func (s *Service) TokensVersioned(ctx context.Context, owner *latchkey.User, q ListQuery) ([]*latchkey.Token, int, Version, error) {
	if q.fromListCache() {
		if l, ok := s.cachedList(ctx, owner); ok {
			held := l.page(q)
			page := make([]*latchkey.Token, len(held))
			for i, t := range held {
				c := *t
				page[i] = &c
			}
			stamp := s.usage.overlayStamp(page)
			return page, len(l.tokens), Version{held: l.n, usage: stamp}, nil
		}
	}
	ts, total, err := s.store.Tokens(ctx, latchkey.TokenFilter{
		UserID:         owner.ID,
		PersonalOnly:   true,
		IncludeRevoked: q.IncludeRevoked,
		Name:           q.Filter,
		OrderBy:        q.OrderBy,
		Ascending:      q.Ascending,
		Offset:         (q.Page - 1) * q.PerPage,
		Limit:          q.PerPage,
	})
	if err != nil {
		return nil, 0, Version{}, err
	}
	s.usage.overlay(ts...)
	return ts, total, Version{}, nil
}

// TokensVersion is the version of the page that TokensVersioned would
// return for q now, and how many tokens there are on all pages, without
// copying any; false when that page would be read from the database (a
// filter, another order, a list too long to hold, no cache).
func (s *Service) TokensVersion(ctx context.Context, owner *latchkey.User, q ListQuery) (Version, int, bool) {
	if !q.fromListCache() {
		return Version{}, 0, false
	}
	l, ok := s.cachedList(ctx, owner)
	if !ok {
		return Version{}, 0, false
	}
	return Version{held: l.n, usage: s.usage.stamp(l.page(q))}, len(l.tokens), true
}

// Version names what a page of a user's default list (TokensVersion),
// or a token as Token returns it (TokenVersion), holds: while it stays the
// same, so do the page's tokens, or the token, every field of them. A
// caller may keep what it makes of them under their version, and use it
// again whenever the service says the same version. The version changes
// with whatever changes them: a token created, revoked or changed here or
// on another server (each drops the user's list and the token's row,
// whose next read has a number of its own), the 15 seconds a list or row
// is held running out, a use of one of the tokens (usage's stamp). The
// zero value names nothing.
type Version struct {
	held  uint64 // heldList.n or heldRow.n: which tokens, as read
	usage uint64 // usage's stamp of the tokens: their pending uses
}

// IsZero reports whether v is the zero Version, which names nothing.
func (v Version) IsZero() bool { return v == Version{} }

// page is the part of l that the page q shows.
func (l *heldList) page(q ListQuery) []*latchkey.Token {
	from := min((q.Page-1)*q.PerPage, len(l.tokens))
	to := min(from+q.PerPage, len(l.tokens))
	return l.tokens[from:to]
}

// Token returns owner's token with that id, personal or OAuth, revoked or
// expired. ENOTFOUND when owner has no such token.
func (s *Service) Token(ctx context.Context, owner *latchkey.User, id string) (*latchkey.Token, error) {
	t, _, err := s.TokenVersioned(ctx, owner, id)
	return t, err
}

// TokenVersioned is Token, and the version of the token it returns: the
// zero Version when its row was read from the database.
func (s *Service) TokenVersioned(ctx context.Context, owner *latchkey.User, id string) (*latchkey.Token, Version, error) {
	if !latchkey.ValidTokenID(id) {
		return nil, Version{}, errNotFound
	}
	now := s.now()
	var t *latchkey.Token
	var n uint64
	if cached, ok := s.rows.get(id, now); ok {
		c := *cached.t
		t, n = &c, cached.n
	} else {
		gen := s.rows.generation()
		read, err := s.store.Token(ctx, id)
		if err != nil {
			return nil, Version{}, notFound(err)
		}
		kept := *read
		s.rows.put(id, &heldRow{t: &kept, n: s.lastHeld.Add(1)}, now.Add(rowTTL), gen)
		t = read
	}
	if t.UserID != owner.ID {
		return nil, Version{}, errNotFound
	}
	stamp := s.usage.overlayStamp([]*latchkey.Token{t})
	if n == 0 {
		return t, Version{}, nil
	}
	return t, Version{held: n, usage: stamp}, nil
}

// TokenVersion is the version of the token that TokenVersioned would
// return now, without copying it; false when its row is not in the row
// cache, or is not owner's (TokenVersioned then says why).
func (s *Service) TokenVersion(owner *latchkey.User, id string) (Version, bool) {
	held, ok := s.rows.get(id, s.now())
	if !ok || held.t.UserID != owner.ID {
		return Version{}, false
	}
	return Version{held: held.n, usage: s.usage.stamp([]*latchkey.Token{held.t})}, true
}

// RevokeToken revokes owner's token with that id, and every token it
// made, directly or through others; they stop authenticating the moment
// this returns. Revoking a revoked token is not an error, and changes and
// records nothing. ENOTFOUND when owner has no such token.
func (s *Service) RevokeToken(ctx context.Context, p *latchkey.Principal, owner *latchkey.User, id string) (*latchkey.Token, error) {
	t, _, err := s.revokeToken(ctx, p, owner, id)
	return t, err
}

// revokeToken is RevokeToken, and also reports whether this call revoked
// the token: false when it was revoked already.
func (s *Service) revokeToken(ctx context.Context, p *latchkey.Principal, owner *latchkey.User, id string) (*latchkey.Token, bool, error) {
	if _, err := s.Token(ctx, owner, id); err != nil {
		return nil, false, err
	}
	reason := reasonFor(p, owner)
	rec := s.auditRecord(p, latchkey.AuditRecord{Action: latchkey.AuditTokenRevoked, Notify: latchkey.NoteTokenRevoked, SubjectUserID: userRef(owner.ID), SubjectID: id,
		Detail: string(reason)})
	t, ts, err := s.store.RevokeToken(ctx, id, rec.At, reason, rec)
	if err != nil {
		return nil, false, notFound(err)
	}
	revoked := len(ts) > 0 && ts[0].ID == id
	var again []latchkey.Event
	if !revoked {
		// Told even when it was revoked already: a cache that still holds
		// it as live is purged whoever revoked it.
		again = append(again, latchkey.Event{Kind: latchkey.EventTokenRevoked, ID: id, UserID: owner.ID})
	}
	s.revoked(ctx, ts, string(reason), again...)
	return t, revoked, nil
}

// Descendants counts the live tokens that revoking owner's token id would
// revoke with it: those it made, directly or through others. ENOTFOUND
// when owner has no such token.
func (s *Service) Descendants(ctx context.Context, owner *latchkey.User, id string) (int, error) {
	if _, err := s.Token(ctx, owner, id); err != nil {
		return 0, err
	}
	return s.store.Descendants(ctx, id)
}

// checkName checks a name or other free text a caller stores, trimmed:
// present, valid text (latchkey.ValidText), and at most MaxNameLength
// characters. Every store then holds it as it is.
func checkName(name string) latchkey.FieldErrors {
	var fe latchkey.FieldErrors
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		fe.Add("name", MsgNameRequired)
	case !latchkey.ValidText(name):
		fe.Add("name", MsgNameText)
	case n > MaxNameLength:
		fe.Add("name", MsgNameTooLong)
	}
	return fe
}

// scopesOrAll names a scope list for people: [] is every ability.
func scopesOrAll(s latchkey.Scopes) []string {
	if len(s) == 0 {
		return []string{"(all)"}
	}
	return s
}

// cachedList returns owner's whole list in the default order from the
// list cache, reading it when it is not there; false when it cannot be
// cached (too long, or no cache).
func (s *Service) cachedList(ctx context.Context, owner *latchkey.User) (*heldList, bool) {
	now := s.now()
	if l, ok := s.lists.get(owner.ID, now); ok {
		return l, true
	}
	if s.lists == nil {
		return nil, false
	}
	// Many requests that miss together read the list once. The flights are
	// told apart by the cache generation their callers arrived at, so a
	// caller never joins a read that began before a change it must see.
	gen := s.lists.generation()
	key := strconv.FormatInt(owner.ID, 10) + "/" + strconv.FormatUint(gen, 10)
	v, err, _ := s.listLoads.Do(key, func() (any, error) {
		limit := s.lists.max / 10
		all, total, err := s.store.Tokens(ctx, latchkey.TokenFilter{UserID: owner.ID, PersonalOnly: true, Limit: limit})
		if err != nil || total > limit {
			// Not cacheable: each caller reads its page itself.
			return loadedList{}, nil
		}
		l := &heldList{tokens: all, n: s.lastHeld.Add(1)}
		s.lists.put(owner.ID, l, now.Add(rowTTL), gen)
		return loadedList{list: l}, nil
	})
	l, _ := v.(loadedList)
	if err != nil || l.list == nil {
		return nil, false
	}
	return l.list, true
}

// loadedList is a user's whole list; nil when it could not be read
// whole.
type loadedList struct{ list *heldList }
