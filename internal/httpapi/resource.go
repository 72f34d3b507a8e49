package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/latchkey/latchkey"
)

// apiPath is where the Personal Tokens API lives: its resource identifier
// is the issuer followed by it.
const apiPath = "/api/1.0"

// resourceMetadataPath is RFC 9728's well-known path. The API's document
// is at it followed by apiPath (section 3.1: the well-known path goes
// between the host and the resource's path).
const resourceMetadataPath = "/.well-known/oauth-protected-resource"

// resourceName is how the API's metadata names it to people.
const resourceName = "Latchkey Personal Tokens API"

// resourceMetadata is RFC 9728's protected resource metadata (section 2),
// the members that apply to the API, in the order the RFC lists them.
type resourceMetadata struct {
	Resource             string   `json:"resource"`
	AuthorizationServers []string `json:"authorization_servers"`
	ScopesSupported      []string `json:"scopes_supported"`
	// BearerMethods is "header" alone: the API reads a token from the
	// Authorization header, never from a form or the query string.
	BearerMethods []string `json:"bearer_methods_supported"`
	ResourceName  string   `json:"resource_name"`
}

// protectedResource serves the API's RFC 9728 metadata, at its own
// well-known path and at the root form, which clients fall back to. The
// API is its own authorization server's resource: both are named from the
// issuer, --public-url or else the request's own origin, as RFC 8414's
// document names them.
func (s *Server) protectedResource(w http.ResponseWriter, r *http.Request) {
	iss := s.baseURL(r)
	m := resourceMetadata{
		Resource:             iss + apiPath,
		AuthorizationServers: []string{iss},
		// The scopes the API itself tells apart; the configured ones
		// are for other services and open nothing here.
		ScopesSupported: latchkey.BuiltinScopes,
		BearerMethods:   []string{"header"},
		ResourceName:    resourceName,
	}
	w.Header().Set("Content-Type", "application/json")
	s.metadataCaching(w.Header())
	_ = json.NewEncoder(w).Encode(m)
}

// metadataCaching says how long a metadata document may be kept: a few
// minutes when it is built from --public-url; not at all when it is built
// from the request's Host, which no shared cache may answer others with.
func (s *Server) metadataCaching(h http.Header) {
	if s.opts.PublicURL != "" {
		h.Set("Cache-Control", "public, max-age=300")
	} else {
		h.Set("Cache-Control", "no-store")
	}
}

// apiChallenge is the WWW-Authenticate of the API's answer to r whose
// status is status, e the *latchkey.Error it answers (nil for another
// error), or "" for none. Every 401 challenges for a bearer token (RFC
// 6750 section 3): with error="invalid_token" when r presented a token
// and it was refused (none when r presented none, or an unknown scheme,
// as section 3.1 says), and, with the authorization server, the URL of
// the API's metadata (RFC 9728 section 5.1), where a client learns where
// to get a token. A 403 for a scope the token lacks says so
// (insufficient_scope) and names the scope, so that a client can come
// back with a token that has it.
func (s *Server) apiChallenge(r *http.Request, status int, e *latchkey.Error) string {
	switch {
	case status == http.StatusUnauthorized:
		return s.unauthorizedChallenge(r)[0]
	case status == http.StatusForbidden && e != nil && e.Scope != "":
		return s.bearerChallenge(r, authParam{"error", "insufficient_scope"}, authParam{"scope", e.Scope})
	}
	return ""
}

// bearerChallenge is the API's Bearer challenge to r with params, and,
// with the authorization server, the URL of the API's metadata.
func (s *Server) bearerChallenge(r *http.Request, params ...authParam) string {
	if s.oauth != nil {
		params = append(params, authParam{"resource_metadata", s.baseURL(r) + resourceMetadataPath + apiPath})
	}
	return bearerChallenge(params)
}

// unauthorizedChallenge is apiChallenge's WWW-Authenticate for a 401 to
// r, as a header value (shared: net/http only reads it). A 401 is what a
// flood of bad tokens is answered, so the value is built once for the
// origin it names: one with --public-url or without the authorization
// server, else each request's (the last one's is kept).
func (s *Server) unauthorizedChallenge(r *http.Request) []string {
	var host string
	var secure bool
	if s.oauth != nil && s.opts.PublicURL == "" {
		host, secure = r.Host, s.secure(r)
	}
	c := s.challenges.Load()
	if c == nil || c.host != host || c.secure != secure {
		c = &challenges401{host: host, secure: secure,
			values: [2][]string{{s.bearerChallenge(r)}, {s.bearerChallenge(r, authParam{"error", "invalid_token"})}}}
		s.challenges.Store(c)
	}
	if _, ok := ParseAuthorization(header(r, "Authorization")); ok {
		return c.values[1]
	}
	return c.values[0]
}

// challenges401 are the two challenges of a 401 for one origin: to a
// request that presented no token, and to one whose token was refused.
type challenges401 struct {
	host   string // r.Host, or "" when the origin is not the request's
	secure bool   // whether the origin is https, when it is the request's
	values [2][]string
}

// authParam is one auth-param of a challenge: a token name and its value.
type authParam struct{ name, value string }

// bearerChallenge is a Bearer challenge with params, each value written as
// a quoted-string (RFC 9110 section 11.2; RFC 6750 section 3 allows no
// other form for its own).
func bearerChallenge(params []authParam) string {
	var b strings.Builder
	b.WriteString("Bearer")
	for i, p := range params {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString(", ")
		}
		b.WriteString(p.name)
		b.WriteByte('=')
		writeQuoted(&b, p.value)
	}
	return b.String()
}

// writeQuoted writes v as an RFC 9110 quoted-string: a backslash before
// each '"' and '\', and control characters, which a quoted-string cannot
// hold and a header must not, left out.
func writeQuoted(b *strings.Builder, v string) {
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' && c != '\t' || c == 0x7f:
			// Left out.
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}
