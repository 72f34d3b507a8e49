package resource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/jws"
)

// Config configures a Verifier. Issuer and Resource are required.
type Config struct {
	// Issuer is the authorization server's issuer identifier, as its
	// RFC 8414 metadata says it (Latchkey's --public-url, e.g.
	// https://auth.example.com). New reads the metadata at its well-known
	// address, which must name this issuer exactly (RFC 8414 section
	// 3.3), and every token's iss must equal it. It must be https, or
	// http on a loopback host with InsecureLoopback.
	Issuer string

	// Resource is this server's resource identifier (RFC 8707), as
	// registered with the authorization server: a token's aud must name
	// it. It is compared in the form NormalizeURI gives, and published in
	// that form.
	Resource string

	// ResourceName is a name for people, published in the RFC 9728
	// document as resource_name. Optional.
	ResourceName string

	// Scopes are the scopes this resource understands, published in the
	// RFC 9728 document as scopes_supported, so that a client knows what
	// to ask for. Optional.
	Scopes []string

	// ClientID and ClientSecret are this resource server's credentials
	// as a confidential client of the authorization server. When given,
	// every token is also checked at the issuer's introspection endpoint
	// (RFC 7662) with client_secret_basic, so that a revoked token is
	// refused; the answer is cached for ActiveTTL. Without them, a token
	// is good until it expires: revocation is not seen.
	ClientID     string
	ClientSecret string

	// ActiveTTL is how long an introspection's "active" answer is kept:
	// the longest a revoked token is still accepted. Zero means 30
	// seconds; a negative value keeps none, so that every request asks.
	// An inactive answer is kept until the token expires: a token
	// Latchkey revoked stays revoked.
	ActiveTTL time.Duration

	// MaxCachedTokens bounds the introspection cache, in tokens; the
	// least recently used go first. Zero means 10000.
	MaxCachedTokens int

	// JWKSMinAge and JWKSMaxAge bound how long the issuer's JWKS is kept
	// before it is fetched again: its Cache-Control max-age, within these
	// bounds (5 minutes when it sends none). Zero means 1 minute and 1
	// hour. A token naming a kid the set lacks makes it fetched again at
	// once, at most every 10 seconds.
	JWKSMinAge time.Duration
	JWKSMaxAge time.Duration

	// Leeway is the clock skew allowed when checking exp, nbf and iat.
	// Zero means 30 seconds; a negative value allows none.
	Leeway time.Duration

	// HTTPClient fetches the metadata and the JWKS and calls the
	// introspection endpoint. Nil means a client with a 10-second
	// timeout. Whichever, its redirects are followed only within the
	// issuer's origin, three at most.
	HTTPClient *http.Client

	// InsecureLoopback allows http, not only https, for an Issuer or a
	// Resource on a loopback host (localhost, 127.0.0.0/8, ::1): for
	// development and tests.
	InsecureLoopback bool

	// Now is the clock. Nil means time.Now.
	Now func() time.Time

	// Logger receives what the package has to say about the
	// authorization server (a JWKS fetch that failed) and why a token
	// was refused, at debug level; never a token. Nil means no logging.
	Logger *slog.Logger
}

// Defaults of Config.
const (
	defaultActiveTTL = 30 * time.Second
	defaultMaxCached = 10000
	defaultMinAge    = time.Minute
	defaultMaxAge    = time.Hour
	defaultJWKSAge   = 5 * time.Minute
	defaultLeeway    = 30 * time.Second
	defaultTimeout   = 10 * time.Second
	// fetchTimeout bounds a fetch of the JWKS or an introspection that
	// runs on its own, whatever the client's timeout.
	fetchTimeout = 30 * time.Second
	// refetchInterval is the least time between two fetches of the JWKS:
	// anyone can write a kid, and each unknown one would otherwise cost
	// a fetch.
	refetchInterval = 10 * time.Second
)

// Size bounds of what the package reads from the authorization server.
const (
	maxMetadataBytes      = 64 << 10
	maxJWKSBytes          = 256 << 10
	maxIntrospectionBytes = 64 << 10
)

// Verifier verifies the access tokens Latchkey issues for one resource,
// and serves what a resource server answers about them: the middleware
// (Require), its challenges, and its RFC 9728 document. It is safe for
// concurrent use.
type Verifier struct {
	issuer       string
	issuerOrigin string
	resource     string // normalised
	metadataURL  string
	metadataDoc  []byte
	leeway       time.Duration
	now          func() time.Time
	log          *slog.Logger
	client       *http.Client
	keys         *keyCache
	introspect   *introspector // nil without credentials
}

// New returns a Verifier for cfg. It checks cfg, reads the issuer's RFC
// 8414 metadata to find its JWKS and introspection endpoint, both of
// which must be at the issuer's origin, and fetches the JWKS once: it
// fails if the authorization server cannot be reached. ctx bounds these
// first fetches only.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	v, err := newVerifier(cfg)
	if err != nil {
		return nil, err
	}
	m, err := v.discover(ctx)
	if err != nil {
		return nil, err
	}
	v.keys.url = m.jwksURI
	if v.introspect != nil {
		v.introspect.endpoint = m.introspectionEndpoint
	}
	if err := v.keys.load(ctx); err != nil {
		return nil, fmt.Errorf("resource: fetching the JWKS %s: %w", m.jwksURI, err)
	}
	return v, nil
}

// newVerifier checks cfg and returns a Verifier that has not yet asked
// the authorization server anything.
func newVerifier(cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" || cfg.Resource == "" {
		return nil, errors.New("resource: Config.Issuer and Config.Resource are required")
	}
	iss, err := url.Parse(cfg.Issuer)
	switch {
	case err != nil:
		return nil, fmt.Errorf("resource: Config.Issuer: %w", err)
	case iss.Host == "" || iss.User != nil || iss.RawQuery != "" || iss.ForceQuery || iss.Fragment != "" || strings.Contains(cfg.Issuer, "#"):
		// RFC 8414 section 2: a URL with a host and no query or fragment.
		return nil, fmt.Errorf("resource: Config.Issuer %q is not an issuer identifier: an https URL with a host and no user, query or fragment", cfg.Issuer)
	}
	if err := checkScheme(iss, cfg.InsecureLoopback, "Config.Issuer"); err != nil {
		return nil, err
	}
	res, err := NormalizeURI(cfg.Resource)
	if err != nil {
		return nil, fmt.Errorf("resource: Config.Resource: %w", err)
	}
	ru, _ := url.Parse(res)
	if err := checkScheme(ru, cfg.InsecureLoopback, "Config.Resource"); err != nil {
		return nil, err
	}
	if (cfg.ClientID == "") != (cfg.ClientSecret == "") {
		return nil, errors.New("resource: Config.ClientID and Config.ClientSecret go together")
	}
	for _, s := range cfg.Scopes {
		if !validScope(s) {
			return nil, fmt.Errorf("resource: Config.Scopes: %q is not a scope token (RFC 6749 section 3.3)", s)
		}
	}
	if cfg.JWKSMinAge < 0 || cfg.JWKSMaxAge < 0 || cfg.MaxCachedTokens < 0 {
		return nil, errors.New("resource: Config.JWKSMinAge, JWKSMaxAge and MaxCachedTokens may not be negative")
	}
	minAge, maxAge := orDefault(cfg.JWKSMinAge, defaultMinAge), orDefault(cfg.JWKSMaxAge, defaultMaxAge)
	if minAge > maxAge {
		return nil, fmt.Errorf("resource: Config.JWKSMinAge %v is above JWKSMaxAge %v", minAge, maxAge)
	}

	v := &Verifier{
		issuer:       cfg.Issuer,
		issuerOrigin: origin(iss),
		resource:     res,
		metadataURL:  origin(ru) + metadataPath(res),
		leeway:       max(orDefault(cfg.Leeway, defaultLeeway), 0),
		now:          cfg.Now,
		log:          cfg.Logger,
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	v.client = v.httpClient(cfg.HTTPClient)
	v.metadataDoc = metadataDocument(res, cfg.Issuer, cfg.Scopes, cfg.ResourceName)
	v.keys = &keyCache{
		get: func(ctx context.Context, u string) ([]byte, http.Header, error) {
			return v.get(ctx, u, maxJWKSBytes)
		},
		now:    v.now,
		minAge: minAge,
		maxAge: maxAge,
		log:    v.log,
	}
	if cfg.ClientID != "" {
		v.introspect = newIntrospector(v, cfg.ClientID, cfg.ClientSecret,
			orDefault(cfg.ActiveTTL, defaultActiveTTL), orDefault(cfg.MaxCachedTokens, defaultMaxCached))
	}
	return v, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Claims are the claims of a verified access token (RFC 9068 section 2.2).
type Claims struct {
	Issuer    string    // iss: the configured issuer
	Subject   string    // sub: the user, a decimal id in Latchkey
	ClientID  string    // client_id: the application the user authorised
	Audience  []string  // aud: the resources the token is for, this one among them
	ID        string    // jti: the token's id ("" if it has none)
	Scopes    []string  // scope, else scopes: what the user granted; never nil
	IssuedAt  time.Time // iat: zero if the token has none
	NotBefore time.Time // nbf: zero if the token has none
	ExpiresAt time.Time // exp
}

// HasScope reports whether the token grants scope: it names scope, or
// "*", which Latchkey defines as every ability. An empty list grants
// nothing here (in Latchkey's own API it grants everything, but a token
// for a resource names what it is for).
func (c *Claims) HasScope(scope string) bool {
	return slices.Contains(c.Scopes, scope) || slices.Contains(c.Scopes, "*")
}

// HasScopes reports whether the token grants every one of scopes.
func (c *Claims) HasScopes(scopes ...string) bool {
	for _, s := range scopes {
		if !c.HasScope(s) {
			return false
		}
	}
	return true
}

// Verify returns the claims of token if it is an access token the issuer
// signed for this resource, valid now, and (with introspection
// credentials) still active. Otherwise its error matches ErrInvalidToken
// and the reasons for the refusal (ErrExpired, ErrAudience, ...), or
// ErrUnavailable when the authorization server could not be asked.
//
// The checks, in order: the token is a JWS of three base64url segments;
// its header names an alg of RS256, ES256 or EdDSA and a kid; the issuer's
// JWKS has that kid (fetched again if not), a key of exactly that alg; the
// signature is that key's; the claims are a JSON object whose known
// members have their types. Then, all of them, each failure reported: sub,
// client_id and exp are present; typ is at+jwt or application/at+jwt; exp
// has not passed, nbf and iat are not in the future (each with the
// leeway); iss is the configured issuer, exactly; aud names the resource.
// Last, the introspection endpoint is asked, or its kept answer used.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	c, err := v.verify(ctx, token)
	if err != nil {
		v.log.LogAttrs(ctx, slog.LevelDebug, "resource: token refused", slog.String("reason", err.Error()))
		return nil, err
	}
	return c, nil
}

func (v *Verifier) verify(ctx context.Context, token string) (*Claims, error) {
	head, payload, sig, ok := jws.Split(token, maxTokenLength, maxHeaderLength)
	if !ok {
		return nil, ErrMalformed
	}
	hb, err := b64.DecodeString(head)
	if err != nil {
		return nil, ErrMalformed
	}
	h, ok := decodeHeader(hb)
	if !ok {
		return nil, ErrMalformed
	}
	if h.alg != RS256 && h.alg != ES256 && h.alg != EdDSA {
		return nil, ErrAlgorithm
	}
	k, err := v.keys.key(ctx, h.kid)
	if err != nil {
		return nil, err
	}
	// The key decides the algorithm, never the token: a token that names
	// another one is refused before any verification by it.
	if h.alg != k.Alg {
		return nil, ErrAlgorithm
	}
	sb, err := b64.DecodeString(sig)
	if err != nil || !k.Verify([]byte(token[:len(head)+1+len(payload)]), sb) {
		return nil, ErrSignature
	}
	pb, err := b64.DecodeString(payload)
	if err != nil {
		return nil, ErrMalformed
	}
	cl, ok := decodeClaims(pb)
	if !ok {
		return nil, ErrMalformed
	}

	var errs []error
	if !cl.hasSub || !cl.hasClientID || !cl.hasExp {
		// RFC 9068 section 2.2 requires them; iss and aud, required too,
		// are checked below.
		errs = append(errs, ErrMalformed)
	}
	if !isAccessTokenType(h.typ) {
		errs = append(errs, ErrType)
	}
	now := v.now()
	if cl.hasExp && !now.Before(cl.exp.Add(v.leeway)) {
		errs = append(errs, ErrExpired)
	}
	if cl.hasNbf && now.Add(v.leeway).Before(cl.nbf) || cl.hasIat && now.Add(v.leeway).Before(cl.iat) {
		errs = append(errs, ErrNotYetValid)
	}
	if cl.iss != v.issuer {
		errs = append(errs, ErrIssuer)
	}
	if !v.audienceMatches(cl.aud) {
		errs = append(errs, ErrAudience)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	if v.introspect != nil {
		active, err := v.introspect.active(ctx, token, cl.exp.Add(v.leeway))
		if err != nil {
			return nil, err
		}
		if !active {
			return nil, ErrRevoked
		}
	}
	return cl.public(), nil
}

// isAccessTokenType reports whether typ is RFC 9068's, in either of the
// forms RFC 7515 section 4.1.9 allows, compared without regard to case.
func isAccessTokenType(typ string) bool {
	return strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
}

// audienceMatches reports whether aud names the resource, compared in
// normal form.
func (v *Verifier) audienceMatches(aud []string) bool {
	for _, a := range aud {
		if a == v.resource {
			return true
		}
		if n, err := NormalizeURI(a); err == nil && n == v.resource {
			return true
		}
	}
	return false
}

// public returns the claims as Verify hands them out: scope when the
// token has it (RFC 9068), else scopes (Laravel Passport's array).
func (c *claims) public() *Claims {
	out := &Claims{
		Issuer:    c.iss,
		Subject:   c.sub,
		ClientID:  c.clientID,
		Audience:  c.aud,
		ID:        c.jti,
		IssuedAt:  c.iat,
		NotBefore: c.nbf,
		ExpiresAt: c.exp,
		Scopes:    []string{},
	}
	switch {
	case c.hasScope:
		out.Scopes = append(out.Scopes, strings.Fields(c.scope)...)
	case c.hasScopes:
		out.Scopes = c.scopes
	}
	return out
}

// Resource returns the resource identifier, in normal form.
func (v *Verifier) Resource() string { return v.resource }

// Issuer returns the authorization server's issuer identifier.
func (v *Verifier) Issuer() string { return v.issuer }

// validScope reports whether s is a scope token of RFC 6749 section 3.3:
// one or more of %x21 / %x23-5B / %x5D-7E.
func validScope(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
