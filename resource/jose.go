package resource

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/latchkey/latchkey/internal/jsonread"
)

// maxTokenLength is the length in bytes of the longest token Verify reads.
// A Latchkey token bound to a resource is well under 2 KiB; the bound is
// generous for long scope lists and stops a caller from making us decode
// megabytes.
const maxTokenLength = 16 << 10

// maxHeaderLength is the length of the longest encoded header Verify
// decodes before it has checked a signature: nothing vouches for the
// header yet, so the work it makes is bounded.
const maxHeaderLength = 1 << 10

// maxMembers is the most members a header, a claims set or a key may have.
const maxMembers = 32

// b64 decodes a token's segments and a key's members. Strict refuses the
// encodings whose unused bits are not zero, so that each value has one
// spelling.
var b64 = base64.RawURLEncoding.Strict()

// header is what Verify reads of a JOSE header.
type header struct {
	alg, kid, typ string
}

// decodeHeader reads a JOSE header. alg and kid are required strings; typ
// is read for the check after the signature. A crit member is refused,
// since no extension is understood (RFC 7515 section 4.1.11), and so is
// cty: a nested token is not an access token. Members that point to keys
// elsewhere (jku, jwk, x5u, x5c) are ignored: keys come only from the
// issuer's JWKS.
func decodeHeader(data []byte) (header, bool) {
	var h header
	var hasAlg, hasKid bool
	ok := jsonread.DecodeObject(data, maxMembers, func(dec *json.Decoder, key string) bool {
		var ok bool
		switch key {
		case "alg":
			h.alg, ok = jsonread.ReadString(dec)
			hasAlg = true
		case "kid":
			h.kid, ok = jsonread.ReadString(dec)
			hasKid = true
		case "typ":
			h.typ, ok = jsonread.ReadString(dec)
		case "crit", "cty":
			return false
		default:
			ok = jsonread.SkipValue(dec)
		}
		return ok
	})
	return h, ok && hasAlg && hasKid && h.kid != ""
}

// claims are the claims of a token as read, before any is checked.
type claims struct {
	iss, sub, clientID, jti             string
	aud                                 []string
	scope                               string
	scopes                              []string
	iat, nbf, exp                       time.Time
	hasSub, hasClientID, hasExp         bool
	hasIat, hasNbf, hasScope, hasScopes bool
}

// decodeClaims reads the claims of a token: a JSON object in which iss,
// sub, client_id, jti and scope are strings, aud a string or an array of
// strings (RFC 7519 section 4.1.3), scopes an array of strings, and exp,
// iat and nbf NumericDates. A claim of another type makes the claims
// unreadable; unknown claims are ignored. Which claims are required is
// for the caller to say: it knows which are present.
func decodeClaims(data []byte) (*claims, bool) {
	c := &claims{}
	ok := jsonread.DecodeObject(data, maxMembers, func(dec *json.Decoder, key string) bool {
		var ok bool
		switch key {
		case "iss":
			c.iss, ok = jsonread.ReadString(dec)
		case "aud":
			c.aud, ok = jsonread.ReadStringOrStrings(dec)
		case "sub":
			c.sub, ok = jsonread.ReadString(dec)
			c.hasSub = true
		case "client_id":
			c.clientID, ok = jsonread.ReadString(dec)
			c.hasClientID = true
		case "jti":
			c.jti, ok = jsonread.ReadString(dec)
		case "exp":
			c.exp, ok = jsonread.ReadNumericDate(dec)
			c.hasExp = true
		case "iat":
			c.iat, ok = jsonread.ReadNumericDate(dec)
			c.hasIat = true
		case "nbf":
			c.nbf, ok = jsonread.ReadNumericDate(dec)
			c.hasNbf = true
		case "scope":
			c.scope, ok = jsonread.ReadString(dec)
			c.hasScope = true
		case "scopes":
			c.scopes, ok = jsonread.ReadStrings(dec)
			c.hasScopes = true
		default:
			ok = jsonread.SkipValue(dec)
		}
		return ok
	})
	if !ok {
		return nil, false
	}
	return c, true
}
