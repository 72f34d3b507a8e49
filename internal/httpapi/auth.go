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
// strings.ContainsAny(s, " \t\r\n\v\f") does, without its set: a token
// is several hundred bytes, read on every request. Eight bytes at a time
// are first asked whether any is below '!' (every space character is);
// only from a word where one is are the bytes read one by one.
func hasSpace(s string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if (x-ones*'!')&^x&highs != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\r', '\n', '\v', '\f':
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
	token, ok := ParseAuthorization(r.Header.Get("Authorization"))
	if !ok {
		s.failedAuth.spend(addr, now)
		return nil, &latchkey.Error{Code: latchkey.EUNAUTHENTICATED, Message: "Unauthenticated."}
	}
	origin := latchkey.Origin{Address: ip, UserAgent: r.UserAgent()}
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
