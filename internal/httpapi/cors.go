package httpapi

import (
	"net/http"
	"strconv"
)

// CORS (the Fetch standard's cross-origin resource sharing) for the
// endpoints a public client running in a browser, such as an MCP client
// in a web page, calls with fetch: the metadata, the keys, and the token,
// registration and revocation endpoints. Any origin may read their
// answers, since none of them looks at a cookie or any other credential a
// browser adds by itself: a client authenticates there, if at all, with
// what it sends (its id and secret, a code and its PKCE verifier, a
// refresh token), which a page of another origin does not have. The
// header says "*" and never allows credentials, so a browser sends no
// cookie with such a request in the first place.
//
// Not here: /oauth/authorize (a navigation, not a fetch, and the
// signed-in person's cookie is what it acts on), /oauth/introspect (a
// resource server's, from its own server), the web pages and the token
// API.

// corsMaxAge is how long, in seconds, a browser may keep a preflight's
// answer: an hour (browsers cap it lower: Chromium at two hours, Firefox
// at a day).
const corsMaxAge = 3600

// corsAllowHeaders are the request headers a cross-origin call may send
// beyond the CORS-safelisted ones: Authorization for client_secret_basic,
// Content-Type for registration's JSON, and the one MCP clients add to
// every request.
const corsAllowHeaders = "Authorization, Content-Type, MCP-Protocol-Version"

// corsExposeHeaders are the answer's headers, beyond the safelisted ones,
// a cross-origin caller may read: the challenge of a failed client
// authentication and the wait a throttled one is told.
const corsExposeHeaders = "WWW-Authenticate, Retry-After"

// cors lets any origin read h's answers.
func cors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Expose-Headers", corsExposeHeaders)
		h.ServeHTTP(w, r)
	})
}

// preflight answers a CORS preflight (OPTIONS) for a route whose methods
// are methods: 204, allowing any origin those methods and
// corsAllowHeaders. It answers an OPTIONS that is no preflight the same
// way, with Allow, as RFC 9110 has OPTIONS say what a route supports.
func preflight(methods string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Allow", methods+", OPTIONS")
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", methods)
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", strconv.Itoa(corsMaxAge))
		w.WriteHeader(http.StatusNoContent)
	})
}
