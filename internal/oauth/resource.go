package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey"
)

// Resource indicators (RFC 8707).
//
// An authorization request, and a token request, may name with the
// resource parameter what the token is for: Latchkey's own API (its URI
// is the issuer followed by /api/1.0, as its RFC 9728 document says), or
// a resource server the operator registered (latchkey.Resource). A
// request that names none is for Latchkey's API. Each authorization is
// for one resource, and each token: a request naming two is refused,
// invalid_target, as is one naming a URI that is malformed or not
// registered. URIs are compared in their normal form
// (latchkey.NormalizeResourceURI).
//
// The resource a grant is for is fosite's granted audience (none for
// Latchkey's API), which fosite carries from the code to the tokens and
// from each refresh token to the next, and the registered resource's id
// is the session's (Session.ResourceID), so that a resource deleted and
// registered again does not take over the grants of the one deleted.
//
// A token for Latchkey's API keeps Passport's shape (aud the client's id),
// whether the request named the API or nothing; a token for another
// resource is RFC 9068's (aud the resource's URI; see
// service.SignAccessToken), and Latchkey's API refuses it
// (service.Authenticate).

// errInvalidTarget is RFC 8707's error (section 2): the resource is
// invalid, unknown, malformed, or not one the grant is for.
var errInvalidTarget = &fosite.RFC6749Error{
	ErrorField:       "invalid_target",
	DescriptionField: "The requested resource is invalid, missing, unknown, or malformed.",
	CodeField:        http.StatusBadRequest,
}

// Site is where a request to the authorization server was addressed, as
// the HTTP layer names it (from --public-url, else from the request's own
// origin): the issuer, as the metadata says, and the resource identifier
// of Latchkey's API, as its RFC 9728 document says.
type Site struct {
	Issuer string
	API    string
}

// siteKey is the context key of WithSite.
type siteKey struct{}

// WithSite returns ctx saying where the request it carries was addressed.
// ParseAuthorize and Token need it: to know Latchkey's API among the
// resources a request names, and to sign the issuer into tokens for other
// resources; introspection names the issuer from it.
func WithSite(ctx context.Context, s Site) context.Context {
	return context.WithValue(ctx, siteKey{}, s)
}

// siteOf is the site WithSite gave ctx, if any.
func siteOf(ctx context.Context) Site {
	s, _ := ctx.Value(siteKey{}).(Site)
	return s
}

// target returns the resource that the resource parameters values name:
// nil for Latchkey's API (none named, or the API's own URI), else the
// registered resource. Any other value is invalid_target.
func (p *Provider) target(ctx context.Context, values []string) (*latchkey.Resource, error) {
	if len(values) == 0 {
		return nil, nil
	}
	uri := ""
	for _, v := range values {
		norm, err := latchkey.NormalizeResourceURI(v)
		if err != nil {
			var e *latchkey.Error
			errors.As(err, &e)
			return nil, errInvalidTarget.WithHintf("The resource parameter is not a valid resource URI: %s", e.Message)
		}
		if uri != "" && norm != uri {
			return nil, errInvalidTarget.WithHint("Name one resource: this server issues each token for one resource only.")
		}
		uri = norm
	}
	if api := siteOf(ctx).API; api != "" {
		if norm, err := latchkey.NormalizeResourceURI(api); err == nil && norm == uri {
			return nil, nil
		}
	}
	r, err := p.store.st.Resource(ctx, uri)
	switch {
	case latchkey.ErrorCode(err) == latchkey.ENOTFOUND:
		return nil, errInvalidTarget.WithHintf("The resource %s is not one this server issues tokens for.", uri)
	case err != nil:
		return nil, fosite.ErrServerError.WithWrap(err)
	}
	return r, nil
}

// targetName names a resource, nil for Latchkey's API, in a hint.
func targetName(ctx context.Context, r *latchkey.Resource) string {
	if r != nil {
		return r.URI
	}
	if api := siteOf(ctx).API; api != "" {
		return "Latchkey's API (" + api + ")"
	}
	return "Latchkey's API"
}

// scopesOf are the scopes a token for r may carry: those r understands,
// or, for Latchkey's API (nil), the server's.
func (p *Provider) scopesOf(r *latchkey.Resource) []string {
	if r != nil {
		return r.Scopes
	}
	return p.svc.Scopes()
}

// checkScopes refuses, invalid_scope, a scope of scopes that a token for
// r cannot carry.
func (p *Provider) checkScopes(ctx context.Context, r *latchkey.Resource, scopes []string) error {
	allowed := p.scopesOf(r)
	for _, sc := range scopes {
		if !slices.Contains(allowed, sc) {
			return fosite.ErrInvalidScope.WithHintf("The scope '%s' is not one %s understands; ask for one or more of: %s.",
				sc, targetName(ctx, r), strings.Join(allowed, " "))
		}
	}
	return nil
}

// grantedResource is the resource req was granted for, "" for Latchkey's
// API.
func grantedResource(req fosite.Requester) (string, error) {
	switch aud := req.GetGrantedAudience(); len(aud) {
	case 0:
		return "", nil
	case 1:
		return aud[0], nil
	}
	return "", errors.New("oauth: a grant for more than one resource")
}

// RequestResource is the resource an authorization request that
// ParseAuthorize accepted names, nil for Latchkey's API.
func RequestResource(ar fosite.AuthorizeRequester) *latchkey.Resource {
	if ar == nil {
		return nil
	}
	if s, ok := ar.GetSession().(*Session); ok {
		return s.resource
	}
	return nil
}

// checkTarget holds a token request to the resource its grant is for
// (RFC 8707 section 2.2): a resource it names must be that one, and a
// grant for a registered resource still needs it registered, the same one
// (not another registered at its URI since), understanding every scope
// granted. A grant for Latchkey's API needs its scopes still offered.
// Every refusal is invalid_target, but for scopes (invalid_scope).
//
// fosite has copied the grant's requested audience and scopes to ar by
// now, but grants them only as it issues (for a code): the requested are
// checked, the same as the granted, as Approve grants what was requested.
func (p *Provider) checkTarget(ctx context.Context, ar fosite.AccessRequester) error {
	var granted string
	switch aud := ar.GetRequestedAudience(); len(aud) {
	case 0:
	case 1:
		granted = aud[0]
	default:
		return fosite.ErrServerError.WithWrap(errors.New("oauth: a grant for more than one resource"))
	}
	sess, ok := ar.GetSession().(*Session)
	if !ok {
		return fosite.ErrServerError
	}
	var r *latchkey.Resource
	if granted != "" {
		var err error
		r, err = p.store.st.Resource(ctx, granted)
		switch {
		case latchkey.ErrorCode(err) == latchkey.ENOTFOUND || err == nil && r.ID != sess.ResourceID:
			return errInvalidTarget.WithHintf("The resource %s this grant is for is no longer registered.", granted)
		case err != nil:
			return fosite.ErrServerError.WithWrap(err)
		}
	}
	if values := ar.GetRequestForm()["resource"]; len(values) > 0 {
		named, err := p.target(ctx, values)
		if err != nil {
			return err
		}
		if (named == nil) != (r == nil) || named != nil && named.URI != r.URI {
			return errInvalidTarget.WithHintf("The resource %s is not the one this grant is for: %s.", targetName(ctx, named), targetName(ctx, r))
		}
	}
	if err := p.checkScopes(ctx, r, ar.GetRequestedScopes()); err != nil {
		return err
	}
	return p.checkScopes(ctx, r, ar.GetGrantedScopes())
}

// writeIntrospection answers an introspection request (RFC 7662 section
// 2.2) as fosite does, and with what a resource server needs besides: the
// audience of a token for a resource (aud, its URI), the issuer (iss),
// and the token_type of an access token (Bearer).
func (p *Provider) writeIntrospection(ctx context.Context, w http.ResponseWriter, resp fosite.IntrospectionResponder) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if !resp.IsActive() {
		_ = json.NewEncoder(w).Encode(map[string]bool{"active": false})
		return
	}
	ar := resp.GetAccessRequester()
	m := map[string]any{"active": true}
	if exp := ar.GetSession().GetExpiresAt(fosite.AccessToken); !exp.IsZero() {
		m["exp"] = exp.Unix()
	}
	if id := ar.GetClient().GetID(); id != "" {
		m["client_id"] = id
	}
	if sc := ar.GetGrantedScopes(); len(sc) > 0 {
		m["scope"] = strings.Join(sc, " ")
	}
	if at := ar.GetRequestedAt(); !at.IsZero() {
		m["iat"] = at.Unix()
	}
	if sub := ar.GetSession().GetSubject(); sub != "" {
		m["sub"] = sub
	}
	if aud, err := grantedResource(ar); err == nil && aud != "" {
		m["aud"] = aud
	}
	if iss := siteOf(ctx).Issuer; iss != "" {
		m["iss"] = iss
	}
	if resp.GetTokenUse() == fosite.AccessToken {
		m["token_type"] = "Bearer"
	}
	_ = json.NewEncoder(w).Encode(m)
}
