package service

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/jwt"
)

// The authorization server's side of the service: it signs and stores the
// access tokens the OAuth 2.0 flow issues, revokes them by authorization,
// and keeps users' consents. The protocol itself is internal/oauth's.

// SignAccessToken signs a new OAuth access token of user for client, with
// scopes, lasting lifetime (in whole seconds) from now on the service's
// clock: its exp - iat is exactly lifetime, what the token endpoint says
// in expires_in. It returns the JWT, its id, the kid of the key that
// signed it and when it expires. Nothing is stored: StoreAccessToken does
// that once the flow has decided to issue it.
//
// With resource "", the token is for Latchkey's API, in Passport's shape:
// its aud is the client's id. Otherwise it is for that resource server
// (RFC 8707), in RFC 9068's shape: typ at+jwt, aud the resource, iss the
// issuer (the authorization server's metadata's), client_id the client's
// OAuth client_id (the URL of a metadata document's client, as
// introspection names it; clientIdentifier, or the row's id when that is
// ""), and scope besides scopes.
func (s *Service) SignAccessToken(userID, clientID int64, clientIdentifier string, scopes latchkey.Scopes, lifetime time.Duration, resource, issuer string) (signed, id, kid string, expires time.Time, err error) {
	now := s.now().Truncate(time.Second)
	expires = now.Add(max(lifetime.Truncate(time.Second), time.Second))
	if id, err = s.newTokenID(); err != nil {
		return "", "", "", time.Time{}, err
	}
	c := jwt.Claims{
		Audience:  strconv.FormatInt(clientID, 10),
		ID:        id,
		Subject:   strconv.FormatInt(userID, 10),
		IssuedAt:  now,
		NotBefore: now,
		ExpiresAt: expires,
		Scopes:    scopes,
	}
	if resource != "" {
		if clientIdentifier == "" {
			clientIdentifier = c.Audience
		}
		c.Type, c.Issuer, c.ClientID, c.Audience = jwt.TypeAccessToken, issuer, clientIdentifier, resource
	}
	signed, kid, err = s.keys.Load().Sign(c)
	return signed, id, kid, expires, err
}

// StoreAccessToken stores an access token SignAccessToken signed, with the
// grant that ties it to its authorization, and tells every replica. origin
// is where the application's request came from, for the audit log.
func (s *Service) StoreAccessToken(ctx context.Context, t *latchkey.Token, g *latchkey.Grant, origin latchkey.Origin) error {
	now := s.now()
	t.CreatedAt, t.UpdatedAt = now, now
	if t.Scopes == nil {
		t.Scopes = latchkey.Scopes{}
	}
	g.CreatedAt = now
	detail := "oauth client " + strconv.FormatInt(t.ClientID, 10) + " scopes " + strings.Join(scopesOrAll(t.Scopes), " ")
	if t.Audience != "" {
		detail += " resource " + t.Audience
	}
	rec := s.auditRecord(&latchkey.Principal{User: &latchkey.User{ID: t.UserID}, Origin: origin}, latchkey.AuditRecord{
		Action: latchkey.AuditTokenCreated, SubjectUserID: userRef(t.UserID), SubjectID: t.ID, Detail: detail})
	if err := s.store.CreateAccessToken(ctx, t, g, rec); err != nil {
		return err
	}
	s.publish(ctx, latchkey.Event{Kind: latchkey.EventTokenCreated, ID: strconv.FormatInt(t.UserID, 10)})
	s.obs.TokenCreated()
	if t.Audience != "" {
		s.log.Info("oauth token issued", "token_id", t.ID, "user_id", t.UserID, "client_id", t.ClientID, "resource", t.Audience)
	} else {
		s.log.Info("oauth token issued", "token_id", t.ID, "user_id", t.UserID, "client_id", t.ClientID)
	}
	return nil
}

// RevokeAuthorization revokes every access token issued under the
// authorization requestID, and tells every replica. The server does it
// itself (a code or refresh token was used twice, or a refresh token
// rotated): the audit log records the system as the actor, and why as the
// reason. reused says a code or refresh token was used twice: then the
// owner is told (token.revoked); a rotation or the application's own
// revocation tells no one.
func (s *Service) RevokeAuthorization(ctx context.Context, requestID, why string, reused bool) error {
	rec := s.auditRecord(nil, latchkey.AuditRecord{Action: latchkey.AuditTokenRevoked, Detail: why})
	if reused {
		rec.Notify = latchkey.NoteTokenRevoked
	}
	ts, err := s.store.RevokeRequestTokens(ctx, requestID, rec.At, latchkey.ReasonAuthorizationEnded, rec)
	if err != nil {
		return err
	}
	s.revoked(ctx, ts, why)
	return nil
}

// revoked tells every replica of tokens a store call revoked (and
// recorded), after the events also, and waits until every running server
// has applied them. A token revoked with its parent says so in the log.
func (s *Service) revoked(ctx context.Context, ts []*latchkey.Token, why string, also ...latchkey.Event) {
	es := also
	for _, t := range ts {
		es = append(es, latchkey.Event{Kind: latchkey.EventTokenRevoked, ID: t.ID, UserID: t.UserID})
	}
	s.publish(ctx, es...)
	for _, t := range ts {
		s.obs.TokenRevoked()
		reason := why
		if t.RevokedReason == latchkey.ReasonParentRevoked {
			reason = string(latchkey.ReasonParentRevoked) + ": made by token " + t.ParentID
		}
		s.log.Info("token revoked", "token_id", t.ID, "user_id", t.UserID, "client_id", t.ClientID, "why", reason)
	}
}

// Consent returns user's consent to client, or ENOTFOUND.
func (s *Service) Consent(ctx context.Context, userID, clientID int64) (*latchkey.Consent, error) {
	return s.store.Consent(ctx, userID, clientID)
}

// ApproveConsent remembers that user approved client for scopes: the
// consent grows to name what it named before, then those of scopes it did
// not. Every approval is kept, a public client's too: tokens are issued
// only under a consent (latchkey.GrantStore.AuthorizationLive), and the
// person's list of applications shows it.
func (s *Service) ApproveConsent(ctx context.Context, userID, clientID int64, scopes latchkey.Scopes) error {
	prev, err := s.store.Consent(ctx, userID, clientID)
	switch {
	case err == nil:
		scopes = unionScopes(prev.Scopes, scopes)
	case latchkey.ErrorCode(err) != latchkey.ENOTFOUND:
		return err
	}
	now := s.now()
	if scopes == nil {
		scopes = latchkey.Scopes{}
	}
	// The approval is audited, and the person told (application.authorized):
	// someone who signed in as them may have let an application in.
	rec := s.auditRecord(&latchkey.Principal{User: &latchkey.User{ID: userID}}, latchkey.AuditRecord{
		Action: latchkey.AuditAppAuthorized, Notify: latchkey.NoteAppAuthorized, SubjectUserID: userRef(userID),
		SubjectID: strconv.FormatInt(clientID, 10), Detail: "scopes " + strings.Join(scopesOrAll(scopes), " ")})
	return s.store.SaveConsent(ctx, &latchkey.Consent{UserID: userID, ClientID: clientID, Scopes: scopes, CreatedAt: now, UpdatedAt: now}, rec)
}

// ConsentRemembered reports whether user's earlier approval of c lets an
// authorization for scopes go straight back to the application, without
// asking again. Only a confidential client's: any program can claim a
// public client's id and a loopback redirect URI, so the person is asked
// every time (RFC 8252, section 8.6). And only for scopes the consent
// names, literally: a consent to * is not one to tokens.read, for the page
// the person approved named what it named.
func (s *Service) ConsentRemembered(ctx context.Context, userID int64, c *latchkey.Client, scopes latchkey.Scopes) (bool, error) {
	if c.Public() {
		return false, nil
	}
	prev, err := s.store.Consent(ctx, userID, c.ID)
	switch {
	case latchkey.ErrorCode(err) == latchkey.ENOTFOUND:
		return false, nil
	case err != nil:
		return false, err
	}
	return coversScopes(prev.Scopes, scopes), nil
}

// unionScopes is a's scopes, then b's not in a.
func unionScopes(a, b latchkey.Scopes) latchkey.Scopes {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// coversScopes reports whether have names every scope of want.
func coversScopes(have, want latchkey.Scopes) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// Consents lists the applications user has approved.
func (s *Service) Consents(ctx context.Context, userID int64) ([]*latchkey.Consent, error) {
	return s.store.Consents(ctx, userID)
}

// RevokeConsent withdraws p's user's approval of client: the consent is
// forgotten, and every token and refresh token the application holds for
// them stops working at once. ENOTFOUND when there is no such consent.
func (s *Service) RevokeConsent(ctx context.Context, p *latchkey.Principal, clientID int64) error {
	const why = "application access withdrawn"
	rec := s.auditRecord(p, latchkey.AuditRecord{Action: latchkey.AuditTokenRevoked, Detail: why})
	ts, err := s.store.RevokeConsent(ctx, p.User.ID, clientID, rec.At, rec)
	if err != nil {
		return notFound(err)
	}
	s.revoked(ctx, ts, why)
	return nil
}

// SignedTokenID returns the id of a JWT this server signed, expired or
// not, with a key it still holds. It reads no row and lets nothing in: it
// says which token a revocation names.
func (s *Service) SignedTokenID(token string) (string, error) {
	claims, err := s.keys.Load().VerifySignature(token)
	if err != nil {
		return "", errUnauthenticated
	}
	return claims.ID, nil
}

// SessionLifetime is how long a web sign-in lasts.
func (s *Service) SessionLifetime() time.Duration { return s.cfg.SessionLifetime }

// DeriveKey returns a key for the one use info names, derived from the
// server secret: the same on every replica.
func (s *Service) DeriveKey(info string) []byte { return s.sealer.DeriveKey(info) }
