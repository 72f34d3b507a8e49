// Package oauth is Latchkey's OAuth 2.0 authorization server: the
// authorization code grant with PKCE (RFC 6749, RFC 7636), refresh token
// rotation, revocation (RFC 7009), introspection (RFC 7662), the issuer
// on authorization responses (RFC 9207) and resource indicators (RFC
// 8707, with RFC 9068's access tokens for other resource servers), on
// github.com/ory/fosite. This package wires fosite to Latchkey's stores and
// token format: access tokens are the server's own JWTs, rows of the same
// table as personal tokens; codes and refresh tokens are fosite's HMAC
// tokens, stored only as hashes. The pages a person sees (sign-in,
// consent) are internal/httpapi's.
package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/token/hmac"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/cimd"
	"github.com/latchkey/latchkey/internal/service"
)

// Config holds the authorization server's settings; zero fields take their
// documented defaults.
type Config struct {
	// AccessTokenLifetime: one hour.
	AccessTokenLifetime time.Duration
	// RefreshTokenLifetime: 30 days. Each refresh issues a new one.
	RefreshTokenLifetime time.Duration
	// CodeLifetime: ten minutes, RFC 6749's longest recommended.
	CodeLifetime time.Duration
	// Secret signs codes and refresh tokens: at least 32 bytes, the same on
	// every replica (derive it from the server secret).
	Secret []byte
	// DefaultScopes are granted to an authorization request that names
	// no scope, when its client registered no default scopes of its own
	// (latchkey.Client.DefaultScopes): DefaultDefaultScopes when nil; an
	// empty, non-nil list is none, and such a request is refused with
	// invalid_scope. Each must be one of the service's scopes.
	DefaultScopes []string
	// ClientMetadata fetches the Client ID Metadata Documents of clients
	// whose client_id is an https URL (see metadata.go); nil: such a
	// client_id names no client at the authorization endpoint.
	ClientMetadata *cimd.Fetcher
	Logger         *slog.Logger
}

// The defaults of Config.
const (
	DefaultAccessTokenLifetime  = time.Hour
	DefaultRefreshTokenLifetime = 30 * 24 * time.Hour
	DefaultCodeLifetime         = 10 * time.Minute
)

// DefaultDefaultScopes are Config.DefaultScopes when it is nil: what MCP
// clients and others that ask for no scope get, read-only.
var DefaultDefaultScopes = []string{latchkey.ScopeTokensRead}

// SecretInfo is the HKDF info under which the server derives Config.Secret
// from its own secret.
const SecretInfo = "latchkey/oauth: codes and refresh tokens, v1"

// Service is what the authorization server needs of the application core
// (internal/service's *Service): its clock, its scopes, its users, and the
// signing, storing, checking and revoking of access tokens.
type Service interface {
	// Now is the service's clock: this package dates grants and judges
	// their expiry by it, never by the wall clock.
	Now() time.Time
	Scopes() []string
	FindUser(ctx context.Context, ref string) (*latchkey.User, error)
	SignAccessToken(userID, clientID int64, clientIdentifier string, scopes latchkey.Scopes, lifetime time.Duration, resource, issuer string) (signed, id, kid string, expires time.Time, err error)
	StoreAccessToken(ctx context.Context, t *latchkey.Token, g *latchkey.Grant, origin latchkey.Origin) error
	SignedTokenID(token string) (string, error)
	Inspect(ctx context.Context, token string) (*latchkey.Principal, error)
	RevokeAuthorization(ctx context.Context, requestID, why string, reused bool) error
	OperatorRevokeToken(ctx context.Context, id string) (bool, error)
	SyncMetadataClient(ctx context.Context, origin latchkey.Origin, m service.MetadataClient) (*latchkey.Client, error)
}

// Store is what the authorization server reads and writes itself: clients,
// resources and tokens to read, and its grants (see latchkey.GrantStore).
type Store interface {
	Client(ctx context.Context, id int64) (*latchkey.Client, error)
	ClientByMetadataURL(ctx context.Context, url string) (*latchkey.Client, error)
	Resource(ctx context.Context, uri string) (*latchkey.Resource, error)
	Token(ctx context.Context, id string) (*latchkey.Token, error)
	CreateGrant(ctx context.Context, g *latchkey.Grant) error
	Grant(ctx context.Context, kind latchkey.GrantKind, signature string) (*latchkey.Grant, error)
	DeactivateGrant(ctx context.Context, kind latchkey.GrantKind, signature string) error
	DeactivateGrants(ctx context.Context, kind latchkey.GrantKind, requestID string) error
	DeleteGrant(ctx context.Context, kind latchkey.GrantKind, signature string) error
	MarkRequestRevoked(ctx context.Context, requestID string, at time.Time) error
	AuthorizationLive(ctx context.Context, requestID string, userID, clientID int64) (bool, error)
}

var (
	_ Service = (*service.Service)(nil)
	_ Store   = latchkey.Store(nil)
)

// Provider is the authorization server. It is safe for concurrent use.
type Provider struct {
	f     fosite.OAuth2Provider
	svc   Service
	store storage
	cfg   Config
	log   *slog.Logger
}

// New returns the authorization server of svc, keeping its grants in st.
func New(svc Service, st Store, cfg Config) (*Provider, error) {
	if len(cfg.Secret) < 32 {
		return nil, errors.New("oauth: the secret must be 32 bytes at least")
	}
	if cfg.AccessTokenLifetime <= 0 {
		cfg.AccessTokenLifetime = DefaultAccessTokenLifetime
	}
	// expires_in and the JWT's exp - iat are whole seconds.
	cfg.AccessTokenLifetime = max(cfg.AccessTokenLifetime.Truncate(time.Second), time.Second)
	if cfg.RefreshTokenLifetime <= 0 {
		cfg.RefreshTokenLifetime = DefaultRefreshTokenLifetime
	}
	if cfg.CodeLifetime <= 0 {
		cfg.CodeLifetime = DefaultCodeLifetime
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DefaultScopes == nil {
		cfg.DefaultScopes = DefaultDefaultScopes
	}
	for _, sc := range cfg.DefaultScopes {
		if !slices.Contains(svc.Scopes(), sc) {
			return nil, fmt.Errorf("oauth: the default scope %q is not one the server knows: %s", sc, strings.Join(svc.Scopes(), ", "))
		}
	}
	cfg.DefaultScopes = slices.Clone(cfg.DefaultScopes)
	fc := &fosite.Config{
		AccessTokenLifespan:   cfg.AccessTokenLifetime,
		RefreshTokenLifespan:  cfg.RefreshTokenLifetime,
		AuthorizeCodeLifespan: cfg.CodeLifetime,
		GlobalSecret:          cfg.Secret,
		// Scopes are names, not a hierarchy: tokens.read grants nothing
		// of tokens.write. Which names a request may ask for depends on
		// the resource it names, which fosite does not know: clients list
		// none (client.GetScopes), and this package checks each request
		// (ParseAuthorize, checkTarget).
		ScopeStrategy: scopeStrategy,
		// The resource a grant is for is its granted audience; fosite
		// holds it to the client's list of audiences, which clients do
		// not have (client.GetAudience): checkTarget holds it to the
		// registered resources.
		AudienceMatchingStrategy: audienceStrategy,
		// A refresh token with every grant: no offline scope to ask for.
		RefreshTokenScopes: []string{},
		// PKCE: S256 only, and required of clients that hold no secret.
		EnforcePKCEForPublicClients:    true,
		EnablePKCEPlainChallengeMethod: false,
		ClientSecretsHasher:            secretHasher{},
		SendDebugMessagesToClients:     false,
	}
	p := &Provider{svc: svc, cfg: cfg, log: cfg.Logger}
	p.store = storage{p: p, st: st}
	hmacStrategy := oauth2.NewHMACSHAStrategyUnPrefixed(&hmac.HMACStrategy{Config: fc}, fc)
	strategy := &compose.CommonStrategy{CoreStrategy: &tokenStrategy{HMACSHAStrategyUnPrefixed: hmacStrategy, p: p}}
	p.f = compose.Compose(fc, &p.store, strategy,
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OAuth2PKCEFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
	)
	return p, nil
}

// GrantTypes are the grants the server allows every client.
var GrantTypes = []string{"authorization_code", "refresh_token"}

// client is a Latchkey client as fosite sees it.
type client struct {
	c       *latchkey.Client
	uris    []string
	idCache string
}

// newClient returns c as fosite sees it: its id is its client_id, the
// row's id or, for a client of a metadata document, the document's URL.
func newClient(c *latchkey.Client) *client {
	id := strconv.FormatInt(c.ID, 10)
	if c.MetadataURL != "" {
		id = c.MetadataURL
	}
	return &client{c: c, uris: service.RedirectURIs(c), idCache: id}
}

func (c *client) GetID() string                      { return c.idCache }
func (c *client) GetHashedSecret() []byte            { return []byte(c.c.SecretHash) }
func (c *client) GetRedirectURIs() []string          { return c.uris }
func (c *client) GetGrantTypes() fosite.Arguments    { return GrantTypes }
func (c *client) GetResponseTypes() fosite.Arguments { return fosite.Arguments{"code"} }
func (c *client) IsPublic() bool                     { return c.c.Public() }

// GetScopes is empty: a client may ask for whatever the resource it names
// understands (the server's scopes for Latchkey's API), which the provider
// checks itself; an empty list limits nothing (scopeStrategy).
func (c *client) GetScopes() fosite.Arguments { return nil }

// GetAudience is empty: a client may ask for any registered resource,
// which the provider checks itself (audienceStrategy).
func (c *client) GetAudience() fosite.Arguments { return nil }

// scopeStrategy is fosite's exact matching of scope names, except that an
// empty list limits nothing: a client's, which lists none, and a token's
// that has none ([] is every ability of its user, as everywhere in
// Latchkey).
func scopeStrategy(haystack []string, needle string) bool {
	return len(haystack) == 0 || slices.Contains(haystack, needle)
}

// audienceStrategy is fosite's exact matching of audiences, except that a
// client's empty list limits nothing. fosite asks it at a refresh, with
// the audience the grant was given; the audience parameter it would ask
// it about at authorization is refused before (ParseAuthorize).
func audienceStrategy(haystack, needle []string) error {
	if len(haystack) == 0 {
		return nil
	}
	return fosite.ExactAudienceMatchingStrategy(haystack, needle)
}

// GetResponseModes allows response_mode=query, the default said aloud; no
// fragment or form_post.
func (c *client) GetResponseModes() []fosite.ResponseModeType {
	return []fosite.ResponseModeType{fosite.ResponseModeDefault, fosite.ResponseModeQuery}
}

// clientRowID is the id of the row of req's client (which a client_id
// URL is not).
func clientRowID(req fosite.Requester) (int64, error) {
	if c := Client(req); c != nil {
		return c.ID, nil
	}
	return 0, fmt.Errorf("oauth: a request with a %T client", req.GetClient())
}

// Client returns the application of a request, or nil.
func Client(ar fosite.Requester) *latchkey.Client {
	if ar == nil {
		return nil
	}
	if c, ok := ar.GetClient().(*client); ok {
		return c.c
	}
	return nil
}

// secretHasher checks client secrets: they are long random strings, stored
// as their SHA-256 and compared in constant time.
type secretHasher struct{}

func (secretHasher) Compare(_ context.Context, hash, data []byte) error {
	if !service.CheckClientSecret(string(hash), string(data)) {
		return errors.New("oauth: the client secret does not match")
	}
	return nil
}

func (secretHasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	return []byte(service.HashClientSecret(string(data))), nil
}

// hashSignature is how a code's or refresh token's signature is stored.
func hashSignature(sig string) string {
	h := sha256.Sum256([]byte(sig))
	return hex.EncodeToString(h[:])
}

// tokenStrategy makes codes and refresh tokens with fosite's HMAC strategy
// and access tokens as the server's JWTs.
type tokenStrategy struct {
	*oauth2.HMACSHAStrategyUnPrefixed
	p *Provider
}

// AccessTokenSignature finds a JWT's row by its id, once its signature
// verifies; an expired token is found too, so that revoking it still ends
// its authorization. A token this server did not sign finds nothing.
func (s *tokenStrategy) AccessTokenSignature(_ context.Context, token string) string {
	id, err := s.p.svc.SignedTokenID(token)
	if err != nil {
		return ""
	}
	return id
}

// GenerateAccessToken signs a JWT for the request: its user, its client as
// the audience, or the resource it was granted for (RFC 8707), its
// granted scopes, and the session's expiry.
func (s *tokenStrategy) GenerateAccessToken(ctx context.Context, req fosite.Requester) (string, string, error) {
	sess, ok := req.GetSession().(*Session)
	if !ok {
		return "", "", fmt.Errorf("oauth: a request with a %T session", req.GetSession())
	}
	uid, err := sess.userID()
	if err != nil {
		return "", "", err
	}
	cid, err := clientRowID(req)
	if err != nil {
		return "", "", err
	}
	resource, err := grantedResource(req)
	if err != nil {
		return "", "", err
	}
	iss := siteOf(ctx).Issuer
	if resource != "" && iss == "" {
		return "", "", errors.New("oauth: a token for a resource, and no issuer to sign it with (WithSite)")
	}
	// The token lasts exactly the configured lifetime from its iat, on the
	// service's clock (fosite set the session's expiry from its own reading
	// of the wall clock, rounded): the stored row, the JWT's exp and
	// expires_in agree.
	signed, id, kid, exp, err := s.p.svc.SignAccessToken(uid, cid, req.GetClient().GetID(), latchkey.Scopes(req.GetGrantedScopes()), s.p.cfg.AccessTokenLifetime, resource, iss)
	if err != nil {
		return "", "", err
	}
	sess.SetExpiresAt(fosite.AccessToken, exp)
	sess.accessKeyID = kid
	return signed, id, nil
}

// errInactiveUser: the user of a grant can no longer sign in.
var errInactiveUser = errors.New("oauth: the user of this grant is disabled or deleted")

// Expiry. fosite's HMAC strategy checks a code's and a refresh token's
// expiry against the wall clock, and fosite has no clock to hand it; so
// the two Validate methods below check the signature only, and the
// storage decides expiry on the service's clock: it dates each grant by
// that clock as it stores it, and refuses an expired one as it loads it
// (see storage.get). An access token is checked by the service
// (ValidateAccessToken), on the same clock.

// ValidateAuthorizeCode accepts a code that fosite's HMAC check accepts;
// had the code expired, the storage would have refused it already.
func (s *tokenStrategy) ValidateAuthorizeCode(ctx context.Context, _ fosite.Requester, token string) error {
	return s.Enigma.Validate(ctx, token)
}

// ValidateRefreshToken accepts a refresh token that fosite's HMAC check
// accepts (had it expired, the storage would have refused it already) and
// whose user is still active: introspection then says a disabled user's
// refresh token is inactive, and a refresh is refused.
func (s *tokenStrategy) ValidateRefreshToken(ctx context.Context, req fosite.Requester, token string) error {
	if err := s.Enigma.Validate(ctx, token); err != nil {
		return err
	}
	u, err := s.p.svc.FindUser(ctx, req.GetSession().GetSubject())
	if err != nil && latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		// fosite calls any error here invalid_request; tokenError
		// answers this one as the server's failure.
		return fosite.ErrServerError.WithWrap(err)
	}
	if err != nil || !u.Active() {
		return fosite.ErrInactiveToken.WithWrap(errInactiveUser)
	}
	return nil
}

// ValidateAccessToken accepts a token that authenticates now: signature,
// expiry, row, client and user, as every API request is checked.
func (s *tokenStrategy) ValidateAccessToken(ctx context.Context, _ fosite.Requester, token string) error {
	if _, err := s.p.svc.Inspect(ctx, token); err != nil {
		return fosite.ErrInactiveToken.WithWrap(err)
	}
	return nil
}

// requestedScopes says whether ar asks for at least one scope.
func requestedScopes(ar fosite.AuthorizeRequester) bool {
	return slices.ContainsFunc(ar.GetRequestedScopes(), func(s string) bool { return s != "" })
}

// ParseAuthorize reads an authorization request (GET or POST). On error,
// Redirectable says whether it may be reported to the redirect URI.
func (p *Provider) ParseAuthorize(ctx context.Context, r *http.Request) (fosite.AuthorizeRequester, error) {
	if err := p.metadataClient(ctx, r); err != nil {
		return nil, err
	}
	ar, err := p.f.NewAuthorizeRequest(ctx, r)
	// fosite lets a loopback redirect URI differ in its port (RFC 8252);
	// this server holds applications to exactly what they registered, and
	// sends no error, of any kind, anywhere else.
	if c := Client(ar); c != nil {
		if raw := r.Form.Get("redirect_uri"); raw != "" && !slices.Contains(service.RedirectURIs(c), raw) {
			return nil, fosite.ErrInvalidRequest.WithHint("The redirect_uri is not one the application registered.")
		}
	}
	if err != nil {
		return ar, err
	}
	// PKCE is checked again as the code is made; checking it here too
	// refuses before the person is asked to consent.
	challenge, method := r.Form.Get("code_challenge"), r.Form.Get("code_challenge_method")
	switch {
	case challenge == "" && ar.GetClient().IsPublic():
		return ar, fosite.ErrInvalidRequest.WithHint("This client must use PKCE: send code_challenge with code_challenge_method=S256.")
	case challenge == "" && method != "":
		return ar, fosite.ErrInvalidRequest.WithHint("code_challenge_method was sent without code_challenge.")
	case challenge != "" && method != "S256":
		return ar, fosite.ErrInvalidRequest.WithHint("Only code_challenge_method=S256 is supported.")
	}
	// What the token is for (RFC 8707): resource, never audience, which
	// fosite would otherwise take as a list of audiences to grant.
	if len(ar.GetRequestedAudience()) > 0 {
		return ar, fosite.ErrInvalidRequest.WithHint("Name what the token is for with the resource parameter (RFC 8707); this server takes no audience parameter.")
	}
	res, err := p.target(ctx, ar.GetRequestForm()["resource"])
	if err != nil {
		return ar, err
	}
	if !requestedScopes(ar) {
		defaults, err := p.defaultScopes(ctx, Client(ar), res)
		if err != nil {
			return ar, err
		}
		ar.SetRequestedScopes(defaults)
	} else if err := p.checkScopes(ctx, res, ar.GetRequestedScopes()); err != nil {
		return ar, err
	}
	if res != nil {
		ar.SetRequestedAudience(fosite.Arguments{res.URI})
		ar.SetSession(&Session{ResourceID: res.ID, resource: res})
	}
	return ar, nil
}

// defaultScopes are what a request of c for the resource r (nil:
// Latchkey's API) that names no scope is granted: c's registered default
// scopes, else the server's; for another resource, those of them it
// understands, else, when it understands none of them (an MCP client may
// send no scope, and an application's defaults are Latchkey's API's),
// the resource's own default scopes. A request is refused
// (invalid_scope) when there are none, or, for Latchkey's API, when one
// of them is not a scope the server knows now (a client registered while
// the server accepted more extra scopes than it does).
func (p *Provider) defaultScopes(ctx context.Context, c *latchkey.Client, r *latchkey.Resource) ([]string, error) {
	known := p.svc.Scopes()
	var defaults []string
	if c != nil {
		defaults = c.DefaultScopes
	}
	if len(defaults) == 0 {
		defaults = p.cfg.DefaultScopes
	}
	if r != nil {
		var narrowed []string
		for _, sc := range defaults {
			if slices.Contains(r.Scopes, sc) {
				narrowed = append(narrowed, sc)
			}
		}
		if len(narrowed) == 0 {
			narrowed = slices.Clone(r.DefaultScopes)
		}
		if len(narrowed) == 0 {
			// Only for a resource stored without default scopes, which
			// the service never registers.
			return nil, fosite.ErrInvalidScope.WithHintf("The resource %s has no default scope; ask for one or more of: %s.",
				targetName(ctx, r), strings.Join(r.Scopes, " "))
		}
		return narrowed, nil
	}
	if len(defaults) == 0 {
		return nil, fosite.ErrInvalidScope.WithHintf("Ask for one or more of the scopes: %s.", strings.Join(known, " "))
	}
	for _, sc := range defaults {
		if !slices.Contains(known, sc) {
			return nil, fosite.ErrInvalidScope.WithHintf("The application's default scope %q is not offered; ask for one or more of the scopes: %s.", sc, strings.Join(known, " "))
		}
	}
	return slices.Clone(defaults), nil
}

// Redirectable reports whether an error about ar may be sent to its
// redirect URI: only when the URI is one its client registered.
func Redirectable(ar fosite.AuthorizeRequester) bool {
	return ar != nil && ar.IsRedirectURIValid() && Client(ar) != nil
}

// The authorization responses below each take iss, the issuer (the
// metadata's "issuer"), and send it to the client with the code or the
// error, as RFC 9207 asks: a client that talks to several authorization
// servers can then tell which one answered, and is not sent to exchange
// one server's code at another (the mix-up attack).

// WriteAuthorizeError sends err, and the issuer iss, to ar's redirect
// URI, which must be Redirectable.
func (p *Provider) WriteAuthorizeError(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, iss string, err error) {
	p.f.WriteAuthorizeError(ctx, issuerRedirect{w, iss}, ar, err)
}

// Approve grants ar's requested scopes, and its resource, for userID and
// sends the code, and the issuer iss, to the redirect URI.
func (p *Provider) Approve(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, iss string, userID int64) {
	w = issuerRedirect{w, iss}
	for _, s := range ar.GetRequestedScopes() {
		ar.GrantScope(s)
	}
	for _, a := range ar.GetRequestedAudience() {
		ar.GrantAudience(a)
	}
	sess := NewSession(userID)
	if r := RequestResource(ar); r != nil {
		sess.ResourceID = r.ID
	}
	resp, err := p.f.NewAuthorizeResponse(ctx, ar, sess)
	if err != nil {
		p.f.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	p.f.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// Deny tells ar's client, with the issuer iss, that the person refused
// (access_denied).
func (p *Provider) Deny(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, iss string) {
	p.WriteAuthorizeError(ctx, w, ar, iss, fosite.ErrAccessDenied.WithHint("The person declined to authorize the application."))
}

// issuerRedirect adds iss to the query of the redirect fosite writes back
// to the client, a success or an error alike. Clients may only ask for
// the query response mode (client.GetResponseModes), so the query is
// where every authorization response's parameters are.
type issuerRedirect struct {
	http.ResponseWriter
	iss string
}

func (w issuerRedirect) WriteHeader(code int) {
	if loc := w.Header().Get("Location"); loc != "" && w.iss != "" && code >= 300 && code < 400 {
		if u, err := url.Parse(loc); err == nil {
			q := u.Query()
			q.Set("iss", w.iss)
			u.RawQuery = q.Encode()
			w.Header().Set("Location", u.String())
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w issuerRedirect) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// errCodeReused: an authorization code was exchanged twice at once; the
// second exchange lost the race.
var errCodeReused = errors.New("oauth: the authorization code was used already")

// Token serves POST /oauth/token: the authorization_code and refresh_token
// grants, the client authenticated by client_secret_basic or
// client_secret_post (a public client by its id and PKCE). The answer is
// Passport's: token_type, expires_in, access_token, refresh_token (and
// scope). A resource named (RFC 8707) must be the one the grant is for;
// r's context says where it was addressed (WithSite).
func (p *Provider) Token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if noClient(r) {
		writeError(w, fosite.ErrInvalidClient.WithHint("Authenticate with client_secret_basic or client_secret_post, or send client_id for a public client."))
		return
	}
	if err := r.ParseForm(); err == nil {
		gt := r.PostForm.Get("grant_type")
		if gt != "" && !slices.Contains(GrantTypes, gt) {
			p.f.WriteAccessError(ctx, w, fosite.NewAccessRequest(&Session{}), fosite.ErrUnsupportedGrantType.WithHintf("This server offers the grant types %s.", strings.Join(GrantTypes, " and ")))
			return
		}
		// As at the authorization endpoint: resource, never audience,
		// which fosite would hold against the grant's and otherwise
		// leave unanswered.
		if r.PostForm.Has("audience") {
			p.f.WriteAccessError(ctx, w, fosite.NewAccessRequest(&Session{}), fosite.ErrInvalidRequest.WithHint("Name what the token is for with the resource parameter (RFC 8707); this server takes no audience parameter."))
			return
		}
		// fosite revokes an authorization here only when its code or
		// refresh token is presented again after use.
		switch gt {
		case "authorization_code":
			ctx = withRevocationReason(ctx, "authorization code used twice", true)
		case "refresh_token":
			ctx = withRevocationReason(ctx, "refresh token used twice", true)
		}
	}
	ar, err := p.f.NewAccessRequest(ctx, r, &Session{})
	if err == nil && ar.GetGrantTypes().ExactOne("authorization_code") {
		// A refresh token's user was checked with the token
		// (ValidateRefreshToken); a code's is checked here.
		err = p.checkUser(ctx, ar)
	}
	if err == nil && ar.GetGrantTypes().ExactOne("refresh_token") {
		err = checkRefreshScope(ar, r.PostForm.Get("scope"))
	}
	if err == nil {
		// Before anything is issued, or the code or refresh token used.
		err = p.checkTarget(ctx, ar)
	}
	if err != nil {
		p.writeTokenError(ctx, w, ar, err)
		return
	}
	resp, err := p.f.NewAccessResponse(ctx, ar)
	if err != nil {
		p.writeTokenError(ctx, w, ar, err)
		return
	}
	resp.SetTokenType("Bearer")
	// fosite counts expires_in from its own later reading of the clock,
	// truncated (3599): it is the lifetime the token was signed with.
	resp.SetExpiresIn(p.cfg.AccessTokenLifetime)
	p.f.WriteAccessResponse(ctx, w, ar, resp)
}

// checkRefreshScope refuses a refresh whose scope parameter names a scope
// the authorization was not granted: RFC 6749 section 6 forbids it, and
// fosite would issue the granted scopes without a word. A refresh that
// names fewer gets, as fosite issues it, every scope granted.
func checkRefreshScope(ar fosite.AccessRequester, scope string) error {
	for _, s := range strings.Fields(scope) {
		if !scopeStrategy(ar.GetGrantedScopes(), s) {
			return fosite.ErrInvalidScope.WithHintf("The scope %q was not granted to this authorization: a refresh may ask for no more than was granted.", s)
		}
	}
	return nil
}

// checkUser refuses a grant whose user can no longer sign in.
func (p *Provider) checkUser(ctx context.Context, ar fosite.AccessRequester) error {
	sess, ok := ar.GetSession().(*Session)
	if !ok {
		return fosite.ErrServerError
	}
	u, err := p.svc.FindUser(ctx, sess.Subject)
	switch {
	case latchkey.ErrorCode(err) == latchkey.ENOTFOUND:
		return fosite.ErrInvalidGrant.WithHint("The user of this grant no longer exists.")
	case err != nil:
		return fosite.ErrServerError.WithWrap(err)
	case !u.Active():
		return fosite.ErrInvalidGrant.WithHint("The user of this grant is not active.")
	}
	return nil
}

// tokenError gives the token endpoint's refusals RFC 6749's names: an
// expired code or a code that lost an exchange race is invalid_grant.
func tokenError(err error) error {
	switch {
	case errors.Is(err, errInactiveUser):
		return fosite.ErrInvalidGrant.WithHint("The user of this grant is not active.")
	case errors.Is(err, errCodeReused), errors.Is(err, fosite.ErrTokenExpired), errors.Is(err, fosite.ErrInvalidatedAuthorizeCode),
		errors.Is(err, fosite.ErrInactiveToken), errors.Is(err, errAuthorizationRevoked):
		return fosite.ErrInvalidGrant.WithHint("The authorization code or refresh token is expired, used or revoked.")
	case errors.Is(err, fosite.ErrServerError):
		// Also within another error, as fosite wraps what
		// ValidateRefreshToken returns (invalid_request): not the client's
		// fault, and worth retrying.
		return fosite.ErrServerError.WithWrap(err)
	}
	return err
}

// writeTokenError answers the token endpoint's refusal, and logs what
// failed on the server's side.
func (p *Provider) writeTokenError(ctx context.Context, w http.ResponseWriter, ar fosite.AccessRequester, err error) {
	err = tokenError(err)
	if rfc := fosite.ErrorToRFC6749Error(err); rfc.CodeField >= http.StatusInternalServerError {
		p.log.ErrorContext(ctx, "token endpoint", "err", logged(err))
	}
	// ar may be nil: fosite then answers without it.
	p.f.WriteAccessError(ctx, w, ar, err)
}

// logged is what the log says of err. A fosite error's text is its RFC
// 6749 name alone (server_error); the causes it wraps are added.
func logged(err error) string {
	s := err.Error()
	for {
		var rfc *fosite.RFC6749Error
		if !errors.As(err, &rfc) || rfc.Unwrap() == nil {
			return s
		}
		err = rfc.Unwrap()
		s += ": " + err.Error()
	}
}

// Revoke serves POST /oauth/revoke (RFC 7009): a client revokes its own
// access or refresh token; the whole authorization it came from ends.
//
// fosite answers 200 both when the token is another client's and when
// storage failed; the first is refused (400 unauthorized_client, as RFC
// 7009 section 2.1 asks) and the second is 503, so that a client never
// takes a failed revocation for a done one.
func (p *Provider) Revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if noClient(r) {
		writeError(w, fosite.ErrInvalidClient.WithHint("Authenticate as the client the token was issued to."))
		return
	}
	ctx = withRevocationReason(ctx, "revoked by the application (token revocation request)", false)
	err := p.f.NewRevocationRequest(ctx, r)
	switch {
	case errors.Is(err, fosite.ErrUnauthorizedClient):
		writeError(w, fosite.ErrUnauthorizedClient.WithHint("The token was not issued to this client."))
	case errors.Is(err, fosite.ErrTemporarilyUnavailable):
		p.log.ErrorContext(ctx, "revoking a token", "err", logged(err))
		w.Header().Set("Retry-After", "1")
		writeError(w, fosite.ErrTemporarilyUnavailable.WithHint("The token could not be revoked just now; retry."))
	default:
		p.f.WriteRevocationResponse(ctx, w, err)
	}
}

// confidentialClient reports whether id and secret, as HTTP Basic carries
// them (form-encoded, RFC 6749 section 2.3.1), are a registered
// confidential client's, not revoked.
func (p *Provider) confidentialClient(ctx context.Context, id, secret string) (*latchkey.Client, bool) {
	id, err1 := url.QueryUnescape(id)
	secret, err2 := url.QueryUnescape(secret)
	if err1 != nil || err2 != nil {
		return nil, false
	}
	fc, err := p.store.GetClient(ctx, id)
	if err != nil {
		return nil, false
	}
	c := fc.(*client)
	if c.IsPublic() || !service.CheckClientSecret(c.c.SecretHash, secret) {
		return nil, false
	}
	return c.c, true
}

// noClient reports whether r carries no client authentication at all:
// RFC 6749 section 5.2 answers that invalid_client, where fosite says
// invalid_request.
func noClient(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		return false
	}
	if err := r.ParseForm(); err != nil {
		return false // fosite reports the unreadable form
	}
	return r.PostForm.Get("client_id") == ""
}

// writeError answers an endpoint's error as RFC 6749 section 5.2 shapes
// it.
func writeError(w http.ResponseWriter, e *fosite.RFC6749Error) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	status := e.CodeField
	if status == 0 {
		status = http.StatusBadRequest
	}
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Basic realm="latchkey"`)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": e.ErrorField, "error_description": e.GetDescription()})
}

// Introspect serves POST /oauth/introspect (RFC 7662) to a resource server
// authenticated as a client with client_secret_basic: whether a token,
// personal or OAuth, is active, whose it is, and, for a token for a
// registered resource, which (aud). A token for another resource is
// active here though Latchkey's API refuses it: its server asks.
//
// The client is authenticated here, before fosite: fosite would take a
// bearer token or an access_token parameter in place of the client's
// credentials, which would make any token holder a resource server. A
// self-registered client is refused (unauthorized_client): it is an
// application, not a resource server the operator trusts.
func (p *Provider) Introspect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		writeError(w, fosite.ErrInvalidRequest.WithHint("Send the token as application/x-www-form-urlencoded."))
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, fosite.ErrInvalidRequest.WithHint("The form could not be read."))
		return
	}
	if r.Form.Has("access_token") {
		writeError(w, fosite.ErrInvalidRequest.WithHint("Authenticate as a client with HTTP Basic, not with an access_token parameter."))
		return
	}
	id, secret, ok := r.BasicAuth()
	c, known := p.confidentialClient(ctx, id, secret)
	if !ok || !known {
		writeError(w, fosite.ErrInvalidClient.WithHint("Authenticate as a registered confidential client with HTTP Basic (client_secret_basic)."))
		return
	}
	if c.SelfRegistered {
		// Anyone may register a client where registration is open: such
		// a client would learn of any token it holds whether it is live,
		// whose it is and what it may do, where the API would refuse it
		// and record the refusal. Resource servers are the operator's.
		writeError(w, fosite.ErrUnauthorizedClient.WithHint("A self-registered client may not introspect tokens: introspection is for resource servers, registered with latchkey client create."))
		return
	}
	resp, err := p.f.NewIntrospectionRequest(ctx, r, &Session{})
	if err != nil {
		p.f.WriteIntrospectionError(ctx, w, err)
		return
	}
	p.writeIntrospection(ctx, w, resp)
}
