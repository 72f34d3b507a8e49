package resource

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

type claimsKey struct{}

// ClaimsFrom returns the claims of the token that Require verified for
// the request whose context is ctx, or nil outside Require.
func ClaimsFrom(ctx context.Context) *Claims {
	c, _ := ctx.Value(claimsKey{}).(*Claims)
	return c
}

// Require returns middleware that lets a request through only with a
// bearer token in its Authorization header that Verify accepts and that
// grants every one of scopes; the handler finds the token's claims with
// ClaimsFrom. It answers, with a JSON body of error and
// error_description:
//
//   - no token (no Authorization header, or another scheme than Bearer):
//     401, WWW-Authenticate: Bearer scope="…", resource_metadata="…"
//     (RFC 6750 section 3.1: no error code; RFC 9728 section 5.1);
//   - a token refused: 401 with error="invalid_token" too;
//   - a token without a scope: 403 with error="insufficient_scope" and
//     scope naming all of scopes (RFC 6750 section 3.1);
//   - two Authorization headers: 400, error="invalid_request";
//   - the authorization server unreachable: 503, error
//     "temporarily_unavailable", Retry-After: 5, and no challenge: it
//     says nothing of the token.
//
// scope is left out of the challenges when scopes is empty. A scope that
// is not an RFC 6749 scope token (empty, or holding a space, a quote or a
// backslash) is a programming error: Require panics.
func (v *Verifier) Require(scopes ...string) func(http.Handler) http.Handler {
	for _, s := range scopes {
		if !validScope(s) {
			panic("resource: Require: " + strconv.Quote(s) + " is not a scope token")
		}
	}
	scopes = append([]string(nil), scopes...)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, found := bearerToken(r.Header)
			switch found {
			case tokenNone:
				v.challenge(w, http.StatusUnauthorized, "", scopes)
				writeJSONError(w, http.StatusUnauthorized, "unauthorized", "This resource needs an access token, sent as Authorization: Bearer.")
				return
			case tokenTwice:
				v.challenge(w, http.StatusBadRequest, "invalid_request", scopes)
				writeJSONError(w, http.StatusBadRequest, "invalid_request", "The request has more than one Authorization header.")
				return
			}
			c, err := v.Verify(r.Context(), token)
			switch {
			case errors.Is(err, ErrInvalidToken):
				v.challenge(w, http.StatusUnauthorized, "invalid_token", scopes)
				writeJSONError(w, http.StatusUnauthorized, "invalid_token", "The access token is invalid, expired, revoked, or not for this resource.")
				return
			case err != nil:
				w.Header().Set("Retry-After", "5")
				writeJSONError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "The access token could not be checked: the authorization server did not answer.")
				return
			case !c.HasScopes(scopes...):
				v.InsufficientScope(w, scopes...)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, c)))
		})
	}
}

// InsufficientScope answers 403 with error="insufficient_scope", for a
// handler that finds, past Require, that what the request asks for needs
// more scopes than the route did (a tool call on an endpoint that also
// lists tools, say). scopes are all the scopes the request needs, not
// only those missing: the client asks for a token with all of them.
func (v *Verifier) InsufficientScope(w http.ResponseWriter, scopes ...string) {
	v.challenge(w, http.StatusForbidden, "insufficient_scope", scopes)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusForbidden)
	_ = json.NewEncoder(w).Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Scope       string `json:"scope"`
	}{"insufficient_scope", "The access token does not grant every scope this request needs.", strings.Join(scopes, " ")})
}

// challenge sets the WWW-Authenticate of an answer of status: a Bearer
// challenge with the error code (none when code is ""), the scopes
// needed, and the URL of the resource's RFC 9728 document.
func (v *Verifier) challenge(w http.ResponseWriter, status int, code string, scopes []string) {
	var b strings.Builder
	b.WriteString("Bearer ")
	if code != "" {
		b.WriteString(`error="` + code + `", `)
	}
	if len(scopes) > 0 {
		// Scope tokens hold no quote or backslash: validScope.
		b.WriteString(`scope="` + strings.Join(scopes, " ") + `", `)
	}
	// A URI holds no quote or backslash either (RFC 3986 section 2).
	b.WriteString(`resource_metadata="` + v.metadataURL + `"`)
	w.Header().Set("WWW-Authenticate", b.String())
}

// writeJSONError writes an error answer: {"error": code,
// "error_description": description}.
func writeJSONError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, description})
}

// How a request presents its token.
const (
	tokenNone  = iota // no Authorization header, or another scheme
	tokenFound        // one Bearer credential (maybe malformed: Verify refuses it)
	tokenTwice        // more than one Authorization header
)

// bearerToken returns the token of the request's Authorization header
// (RFC 6750 section 2.1): the scheme Bearer, in any case, one or more
// spaces, and the credential. The credential is handed to Verify as it is,
// which refuses anything but a JWS. Tokens in the query string or a form
// are not read (RFC 9728 bearer_methods_supported says "header").
func bearerToken(h http.Header) (string, int) {
	values := h.Values("Authorization")
	switch {
	case len(values) == 0:
		return "", tokenNone
	case len(values) > 1:
		return "", tokenTwice
	}
	scheme, cred, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", tokenNone
	}
	return strings.TrimLeft(cred, " "), tokenFound
}
