package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/cimd"
)

// storage is fosite's storage on Latchkey's: clients from the client
// store, codes, refresh tokens and PKCE challenges as grants, access tokens
// as token rows (through the service, so that every replica hears of
// them).
type storage struct {
	p  *Provider
	st Store
}

// GetClient returns an application that may take part in the flow: not
// revoked, and not the personal access client. id is the row's id, or the
// URL of the client's metadata document (never the id of such a
// client's row: its document is what identifies it). Nothing is fetched
// here: at the authorization endpoint, ParseAuthorize has made the row
// current from the document first; elsewhere the row is what was
// authorized.
func (s *storage) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	var c *latchkey.Client
	var err error
	if cimd.IsURL(id) {
		c, err = s.st.ClientByMetadataURL(ctx, id)
	} else {
		n, perr := strconv.ParseInt(id, 10, 64)
		if perr != nil || n <= 0 {
			return nil, fosite.ErrNotFound
		}
		if c, err = s.st.Client(ctx, n); err == nil && c.MetadataURL != "" {
			return nil, fosite.ErrNotFound
		}
	}
	if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if c.Revoked || c.PersonalAccessClient {
		return nil, fosite.ErrNotFound
	}
	return newClient(c), nil
}

// errNoAssertions: client authentication by JWT assertion (RFC 7523) is
// not offered, so no assertion is ever accepted.
var errNoAssertions = errors.New("oauth: client assertions are not accepted")

func (s *storage) ClientAssertionJWTValid(context.Context, string) error { return errNoAssertions }

func (s *storage) SetClientAssertionJWT(context.Context, string, time.Time) error {
	return errNoAssertions
}

// tokenType is the token of a session whose expiry is a grant's of kind.
func tokenType(kind latchkey.GrantKind) fosite.TokenType {
	switch kind {
	case latchkey.GrantCode, latchkey.GrantPKCE:
		return fosite.AuthorizeCode
	case latchkey.GrantRefresh:
		return fosite.RefreshToken
	}
	return fosite.AccessToken
}

// newGrant makes the grant of kind that keeps req under signature, made at
// now and expiring at exp. The session's expiry of the grant's token is
// set to exp first, so that the request kept and the row agree.
func newGrant(kind latchkey.GrantKind, signature string, req fosite.Requester, now, exp time.Time) (*latchkey.Grant, error) {
	sess, ok := req.GetSession().(*Session)
	if !ok {
		return nil, fmt.Errorf("oauth: a request with a %T session", req.GetSession())
	}
	sess.SetExpiresAt(tokenType(kind), exp.UTC())
	b, _, err := encodeRequest(req)
	if err != nil {
		return nil, err
	}
	uid, err := sess.userID()
	if err != nil {
		return nil, err
	}
	cid, err := clientRowID(req)
	if err != nil {
		return nil, err
	}
	return &latchkey.Grant{
		Kind: kind, Signature: signature, RequestID: req.GetID(), ClientID: cid, UserID: uid,
		Active: true, Request: b, CreatedAt: now.UTC(), ExpiresAt: exp.UTC(),
	}, nil
}

// create stores the code, PKCE challenge or refresh token of req under
// signature, lasting its configured lifetime from now on the service's
// clock (fosite set the session's expiry by the wall clock).
func (s *storage) create(ctx context.Context, kind latchkey.GrantKind, signature string, req fosite.Requester) (*latchkey.Grant, error) {
	lifetime := s.p.cfg.CodeLifetime
	if kind == latchkey.GrantRefresh {
		lifetime = s.p.cfg.RefreshTokenLifetime
	}
	now := s.p.svc.Now()
	g, err := newGrant(kind, hashSignature(signature), req, now, now.Add(lifetime))
	if err != nil {
		return nil, err
	}
	return g, s.st.CreateGrant(ctx, g)
}

// Revoking an authorization while its tokens are being issued.
//
// fosite issues in several writes (the code or refresh token marked used,
// then the new access token, then the new refresh token), and a
// revocation (a reuse detected by another request, /oauth/revoke, the
// person withdrawing their consent) can run between them. Check after
// write closes the gap without a transaction around the whole flow: the
// revoker first marks the authorization revoked, then revokes what exists;
// the issuer first stores, then checks that the authorization is still
// live, and revokes what it stored if not. Whichever order the four steps
// run in, each a committed write or a fresh read, one side sees the other.
// A withdrawn consent is the mark for the consent's case (see
// latchkey.GrantStore.AuthorizationLive).

// errAuthorizationRevoked: the authorization was revoked while a token
// was being issued under it; the token did not survive.
var errAuthorizationRevoked = errors.New("oauth: the authorization was revoked while its tokens were issued")

// stillLive is the issuer's half: called after storing a token or grant
// of g's authorization.
func (s *storage) stillLive(ctx context.Context, g *latchkey.Grant) error {
	live, err := s.st.AuthorizationLive(ctx, g.RequestID, g.UserID, g.ClientID)
	if err != nil {
		return err
	}
	if live {
		return nil
	}
	if err := s.endAuthorization(ctx, g.RequestID, "authorization revoked while a token was issued"); err != nil {
		return err
	}
	return errAuthorizationRevoked
}

// endAuthorization is the revoker's half: mark, then revoke every refresh
// token and access token of the authorization.
func (s *storage) endAuthorization(ctx context.Context, requestID, why string) error {
	// Finished even if the request that found the reuse is gone: fosite
	// does not retry a revocation that failed.
	ctx = context.WithoutCancel(ctx)
	if err := s.st.MarkRequestRevoked(ctx, requestID, s.p.svc.Now()); err != nil {
		return err
	}
	if err := s.st.DeactivateGrants(ctx, latchkey.GrantRefresh, requestID); err != nil {
		return err
	}
	return s.p.svc.RevokeAuthorization(ctx, requestID, why, revocation(ctx).reused)
}

// get reads the grant of kind under signature (already hashed) back into
// a request: fosite.ErrNotFound when there is none, or when its client is
// gone or revoked. The request's session expires when the grant does.
func (s *storage) get(ctx context.Context, kind latchkey.GrantKind, signature string) (*latchkey.Grant, fosite.Requester, error) {
	g, err := s.st.Grant(ctx, kind, signature)
	if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
		return nil, nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	req, err := s.decode(ctx, g.Request)
	if err != nil {
		return nil, nil, err
	}
	req.GetSession().SetExpiresAt(tokenType(kind), g.ExpiresAt)
	return g, req, nil
}

// unexpired refuses a code or refresh token whose grant has expired on the
// service's clock: fosite.ErrNotFound (which fosite answers invalid_grant
// at the token endpoint, "inactive" at introspection, and nothing to do at
// revocation) wrapping fosite.ErrTokenExpired to say why. It is asked of
// an active grant only: a used one presented again is a reuse, expired or
// not, and fosite then revokes its authorization.
func (s *storage) unexpired(g *latchkey.Grant) error {
	if s.p.svc.Now().Before(g.ExpiresAt) {
		return nil
	}
	return fosite.ErrNotFound.WithWrap(fosite.ErrTokenExpired.WithHintf("It expired at %s.", g.ExpiresAt.Format(time.RFC3339)))
}

func (s *storage) decode(ctx context.Context, b []byte) (fosite.Requester, error) {
	var sr storedRequest
	if err := json.Unmarshal(b, &sr); err != nil {
		return nil, fmt.Errorf("oauth: a stored request: %w", err)
	}
	c, err := s.GetClient(ctx, sr.ClientID)
	if err != nil {
		return nil, err
	}
	req := fosite.NewRequest()
	req.ID = sr.ID
	req.RequestedAt = sr.RequestedAt
	req.Client = c
	req.RequestedScope = sr.RequestedScope
	req.GrantedScope = sr.GrantedScope
	if sr.Form != nil {
		req.Form = sr.Form
	}
	req.RequestedAudience = sr.RequestedAudience
	req.GrantedAudience = sr.GrantedAudience
	req.Session = &Session{Subject: sr.Subject, ExpiresAt: sr.ExpiresAt, ResourceID: sr.ResourceID}
	return req, nil
}

// deactivate marks one grant used; err is errCodeReused when another
// request used it first.
func (s *storage) deactivate(ctx context.Context, kind latchkey.GrantKind, signature string) error {
	err := s.st.DeactivateGrant(ctx, kind, hashSignature(signature))
	switch latchkey.ErrorCode(err) {
	case "":
		return nil
	case latchkey.ECONFLICT:
		return errCodeReused
	case latchkey.ENOTFOUND:
		return fosite.ErrNotFound
	}
	return err
}

// Authorization codes.

func (s *storage) CreateAuthorizeCodeSession(ctx context.Context, code string, req fosite.Requester) error {
	_, err := s.create(ctx, latchkey.GrantCode, code, req)
	return err
}

func (s *storage) GetAuthorizeCodeSession(ctx context.Context, code string, _ fosite.Session) (fosite.Requester, error) {
	g, req, err := s.get(ctx, latchkey.GrantCode, hashSignature(code))
	if err != nil {
		return nil, err
	}
	if !g.Active {
		return req, fosite.ErrInvalidatedAuthorizeCode
	}
	if err := s.unexpired(g); err != nil {
		return nil, err
	}
	return req, nil
}

func (s *storage) InvalidateAuthorizeCodeSession(ctx context.Context, code string) error {
	return s.deactivate(ctx, latchkey.GrantCode, code)
}

// PKCE challenges, kept beside their codes.

func (s *storage) CreatePKCERequestSession(ctx context.Context, signature string, req fosite.Requester) error {
	_, err := s.create(ctx, latchkey.GrantPKCE, signature, req)
	return err
}

// GetPKCERequestSession finds a code's challenge, expired or not: its
// code's expiry is checked with the code, and a challenge not found would
// let the exchange pass as one that never used PKCE.
func (s *storage) GetPKCERequestSession(ctx context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	_, req, err := s.get(ctx, latchkey.GrantPKCE, hashSignature(signature))
	return req, err
}

// DeletePKCERequestSession is called as a code's exchange begins, before
// the verifier is checked. Deleting the challenge then would let a second
// attempt without any verifier pass as a request that never used PKCE; so
// the challenge stays, bound to its code, until it expires with it. A code
// can be exchanged only once anyway.
func (s *storage) DeletePKCERequestSession(context.Context, string) error {
	return nil
}

// Access tokens: rows of the tokens table, found by id.

func (s *storage) CreateAccessTokenSession(ctx context.Context, id string, req fosite.Requester) error {
	sess, ok := req.GetSession().(*Session)
	if !ok || sess.accessKeyID == "" || sess.GetExpiresAt(fosite.AccessToken).IsZero() {
		return errors.New("oauth: an access token to store that this server did not sign")
	}
	// Expiring as GenerateAccessToken signed it, on the service's clock
	// (and StoreAccessToken dates the row and the grant by it).
	g, err := newGrant(latchkey.GrantAccess, id, req, s.p.svc.Now(), sess.GetExpiresAt(fosite.AccessToken))
	if err != nil {
		return err
	}
	c, ok := req.GetClient().(*client)
	if !ok {
		return fmt.Errorf("oauth: a request with a %T client", req.GetClient())
	}
	resource, err := grantedResource(req)
	if err != nil {
		return err
	}
	exp := g.ExpiresAt.Truncate(time.Second)
	t := &latchkey.Token{
		ID: id, UserID: g.UserID, ClientID: g.ClientID, Name: c.c.Name,
		Scopes: latchkey.Scopes(req.GetGrantedScopes()), ExpiresAt: &exp, KeyID: sess.accessKeyID,
		Audience: resource,
	}
	if err := s.p.svc.StoreAccessToken(ctx, t, g, originOf(ctx)); err != nil {
		return err
	}
	return s.stillLive(ctx, g)
}

// GetAccessTokenSession finds an OAuth access token's request, or makes
// one for a personal token, so that introspection answers for both. An
// expired token is found too, so that revoking it still ends its
// authorization; whether it still works is ValidateAccessToken's to say.
func (s *storage) GetAccessTokenSession(ctx context.Context, id string, _ fosite.Session) (fosite.Requester, error) {
	if id == "" {
		return nil, fosite.ErrNotFound
	}
	_, req, err := s.get(ctx, latchkey.GrantAccess, id)
	if !errors.Is(err, fosite.ErrNotFound) {
		return req, err
	}
	t, err := s.st.Token(ctx, id)
	if latchkey.ErrorCode(err) == latchkey.ENOTFOUND || err == nil && (t.Client == nil || !t.Client.PersonalAccessClient) {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	r := fosite.NewRequest()
	r.ID = t.ID
	r.RequestedAt = t.CreatedAt
	r.Client = newClient(t.Client)
	r.RequestedScope = fosite.Arguments(t.Scopes)
	r.GrantedScope = fosite.Arguments(t.Scopes)
	sess := NewSession(t.UserID)
	if t.ExpiresAt != nil {
		sess.SetExpiresAt(fosite.AccessToken, *t.ExpiresAt)
	}
	r.Session = sess
	return r, nil
}

func (s *storage) DeleteAccessTokenSession(ctx context.Context, id string) error {
	if _, err := s.p.svc.OperatorRevokeToken(ctx, id); err != nil && latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		return err
	}
	return s.st.DeleteGrant(ctx, latchkey.GrantAccess, id)
}

// Refresh tokens: rotated on every use; a used one presented again is
// reuse, and fosite then revokes the whole authorization.

func (s *storage) CreateRefreshTokenSession(ctx context.Context, signature, _ string, req fosite.Requester) error {
	g, err := s.create(ctx, latchkey.GrantRefresh, signature, req)
	if err != nil {
		return err
	}
	return s.stillLive(ctx, g)
}

func (s *storage) GetRefreshTokenSession(ctx context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	g, req, err := s.get(ctx, latchkey.GrantRefresh, hashSignature(signature))
	if err != nil {
		return nil, err
	}
	if !g.Active {
		return req, fosite.ErrInactiveToken
	}
	if err := s.unexpired(g); err != nil {
		return nil, err
	}
	return req, nil
}

func (s *storage) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	return s.st.DeleteGrant(ctx, latchkey.GrantRefresh, hashSignature(signature))
}

// RotateRefreshToken retires the refresh token just used, and with it the
// authorization's older access tokens: after a refresh only the new pair
// works (as in Passport). Two refreshes racing with one token: the loser
// gets invalid_grant.
func (s *storage) RotateRefreshToken(ctx context.Context, requestID, signature string) error {
	if err := s.deactivate(ctx, latchkey.GrantRefresh, signature); err != nil {
		if errors.Is(err, errCodeReused) {
			return fosite.ErrInactiveToken
		}
		return err
	}
	if err := s.st.DeactivateGrants(ctx, latchkey.GrantRefresh, requestID); err != nil {
		return err
	}
	return s.p.svc.RevokeAuthorization(ctx, requestID, "replaced by a refresh (rotation)", false)
}

// Revocation of a whole authorization: a reused code or refresh token,
// or /oauth/revoke. fosite calls both; each ends everything.

func (s *storage) RevokeRefreshToken(ctx context.Context, requestID string) error {
	return s.endAuthorization(ctx, requestID, revocation(ctx).why)
}

func (s *storage) RevokeAccessToken(ctx context.Context, requestID string) error {
	return s.endAuthorization(ctx, requestID, revocation(ctx).why)
}

// reasonKey is the context key of withRevocationReason.
type reasonKey struct{}

// withRevocationReason returns ctx saying why fosite, called with it,
// revokes a whole authorization: only the endpoint that calls fosite knows
// (a code or refresh token used twice at the token endpoint, a client's
// request at the revocation endpoint), and the audit log records it.
// reused says a code or refresh token was used twice: the owner is told.
func withRevocationReason(ctx context.Context, why string, reused bool) context.Context {
	return context.WithValue(ctx, reasonKey{}, revocationWhy{why, reused})
}

// revocationWhy is what withRevocationReason says.
type revocationWhy struct {
	why    string
	reused bool
}

// revocation says why ctx's revocation of an authorization happens.
func revocation(ctx context.Context) revocationWhy {
	if w, ok := ctx.Value(reasonKey{}).(revocationWhy); ok {
		return w
	}
	return revocationWhy{why: "authorization revoked"}
}

// originKey is the context key of WithOrigin.
type originKey struct{}

// WithOrigin returns ctx saying where the request to an endpoint came from
// (the client's address, as the server's trusted proxies tell it, and its
// user agent), so that the tokens issued for it are audited with it.
func WithOrigin(ctx context.Context, o latchkey.Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// originOf is the origin WithOrigin gave ctx, if any.
func originOf(ctx context.Context) latchkey.Origin {
	o, _ := ctx.Value(originKey{}).(latchkey.Origin)
	return o
}
