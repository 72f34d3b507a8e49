package httpapi

import (
	"context"
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
		if hasSpace(h) {
			return "", false
		}
		return h, true
	}
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token := strings.TrimSpace(rest)
	if token == "" || hasSpace(token) {
		return "", false
	}
	return token, true
}

// hasSpace reports whether s holds an ASCII space character, as
// strings.ContainsAny(s, " \t\r\n\v\f") does, without building its set
// and reading a byte at a time: a token is several hundred bytes, read on
// every request. strings.IndexByte reads many bytes at a time; six
// passes of it are quicker than one of a loop.
func hasSpace(s string) bool {
	for _, c := range []byte(" \t\r\n\v\f") {
		if strings.IndexByte(s, c) >= 0 {
			return true
		}
	}
	return false
}

// authenticate returns who sent r. Credentials come only from the
// Authorization header, never from the query string or a form. An address
// that has failed too often is answered 429 without its token being looked
// at, until its budget refills.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*latchkey.Principal, error) {
	return s.authenticateWith(w, r, s.svc.Authenticate)
}

// authenticateWith is authenticate with check in place of the service's
// Authenticate.
func (s *Server) authenticateWith(w http.ResponseWriter, r *http.Request, check func(context.Context, string, latchkey.Origin) (*latchkey.Principal, error)) (*latchkey.Principal, error) {
	now := s.svc.Now()
	ip := s.clientIP(r)
	addr := ""
	if s.failedAuth != nil {
		addr = rateKey(ip)
		if out, after := s.failedAuth.exhausted(addr, now); out {
			return nil, s.refuse(w, s.failedAuth.name, after)
		}
	}
	token, ok := ParseAuthorization(header(r, "Authorization"))
	if !ok {
		s.failedAuth.spend(addr, now)
		return nil, &latchkey.Error{Code: latchkey.EUNAUTHENTICATED, Message: "Unauthenticated."}
	}
	origin := latchkey.Origin{Address: ip, UserAgent: header(r, "User-Agent")}
	p, err := check(r.Context(), token, origin)
	if err != nil {
		if latchkey.ErrorCode(err) == latchkey.EUNAUTHENTICATED {
			s.failedAuth.spend(addr, now)
		}
		return nil, err
	}
	// p may be shared with other requests through the cache: copy it.
	mine := *p
	mine.Origin = origin
	return &mine, nil
}
