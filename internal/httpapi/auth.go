package httpapi

import (
	"net/http"
	"strings"

	"github.com/latchkey/latchkey"
)

// maxCredential bounds the credential read from a header; no token of ours
// comes near it.
const maxCredential = 8 << 10

// ParseAuthorization reads the token from an Authorization header value.
// The spec's three schemes all arrive there: "Bearer <jwt>" (the scheme
// word in any case, RFC 7235) for pm_api_bearer and pm_api_auth_code, and
// the raw token for pm_api_key. Any other scheme, or an empty token, is not
// a credential.
func ParseAuthorization(h string) (string, bool) {
	h = strings.TrimSpace(h)
	if h == "" || len(h) > maxCredential {
		return "", false
	}
	scheme, rest, found := strings.Cut(h, " ")
	if !found {
		// pm_api_key without a prefix: one word.
		if strings.ContainsAny(h, " \t\r\n\v\f") {
			return "", false
		}
		return h, true
	}
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token := strings.TrimSpace(rest)
	if token == "" || strings.ContainsAny(token, " \t\r\n\v\f") {
		return "", false
	}
	return token, true
}

// authenticate returns who sent r. Credentials come only from the
// Authorization header, never from the query string or a form.
func (s *Server) authenticate(r *http.Request) (*latchkey.Principal, error) {
	token, ok := ParseAuthorization(r.Header.Get("Authorization"))
	if !ok {
		return nil, &latchkey.Error{Code: latchkey.EUNAUTHENTICATED, Message: "Unauthenticated."}
	}
	return s.svc.Authenticate(r.Context(), token)
}
