package resource

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
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

// isB64URL classes the bytes of a token: base64url, and the dot.
var isB64URL = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = true
	}
	return t
}()

// split returns the three segments of a JWS in compact form, if token has
// exactly three, holds only base64url characters and dots, is not longer
// than maxTokenLength and its header not longer than maxHeaderLength.
func split(token string) (head, payload, sig string, ok bool) {
	if len(token) > maxTokenLength {
		return "", "", "", false
	}
	dot1, dot2 := -1, -1
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case isB64URL[c]:
		case c == '.' && dot1 < 0:
			dot1 = i
		case c == '.' && dot2 < 0:
			dot2 = i
		default:
			// A fourth segment (JWE has five), or a byte outside
			// base64url: the decoder would skip CR and LF, so they are
			// refused here.
			return "", "", "", false
		}
	}
	if dot2 < 0 || dot1 > maxHeaderLength {
		return "", "", "", false
	}
	return token[:dot1], token[dot1+1 : dot2], token[dot2+1:], true
}

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
	ok := decodeObject(data, func(dec *json.Decoder, key string) bool {
		var ok bool
		switch key {
		case "alg":
			h.alg, ok = readString(dec)
			hasAlg = true
		case "kid":
			h.kid, ok = readString(dec)
			hasKid = true
		case "typ":
			h.typ, ok = readString(dec)
		case "crit", "cty":
			return false
		default:
			ok = skipValue(dec)
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
	ok := decodeObject(data, func(dec *json.Decoder, key string) bool {
		var ok bool
		switch key {
		case "iss":
			c.iss, ok = readString(dec)
		case "aud":
			c.aud, ok = readAudience(dec)
		case "sub":
			c.sub, ok = readString(dec)
			c.hasSub = true
		case "client_id":
			c.clientID, ok = readString(dec)
			c.hasClientID = true
		case "jti":
			c.jti, ok = readString(dec)
		case "exp":
			c.exp, ok = readNumericDate(dec)
			c.hasExp = true
		case "iat":
			c.iat, ok = readNumericDate(dec)
			c.hasIat = true
		case "nbf":
			c.nbf, ok = readNumericDate(dec)
			c.hasNbf = true
		case "scope":
			c.scope, ok = readString(dec)
			c.hasScope = true
		case "scopes":
			c.scopes, ok = readStrings(dec)
			c.hasScopes = true
		default:
			ok = skipValue(dec)
		}
		return ok
	})
	if !ok {
		return nil, false
	}
	return c, true
}

// decodeObject reads data, which must be one JSON object and nothing
// more, calling member with each key and the decoder before its value;
// member reads the value and reports whether it is valid.
func decodeObject(data []byte, member func(dec *json.Decoder, key string) bool) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if !readObject(dec, member) {
		return false
	}
	_, err := dec.Token()
	return err == io.EOF
}

// readObject reads one JSON object from dec, as decodeObject. A key that
// appears twice makes the object invalid, as parsers disagree on which
// one counts; more than maxMembers members make it invalid too.
func readObject(dec *json.Decoder, member func(dec *json.Decoder, key string) bool) bool {
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	seen := make(map[string]bool, 8)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		key, ok := t.(string)
		if !ok || seen[key] || len(seen) == maxMembers {
			return false
		}
		seen[key] = true
		if !member(dec, key) {
			return false
		}
	}
	t, err := dec.Token()
	return err == nil && t == json.Delim('}')
}

func readString(dec *json.Decoder) (string, bool) {
	t, err := dec.Token()
	s, ok := t.(string)
	return s, err == nil && ok
}

// readStrings reads an array of strings; an empty one is not nil.
func readStrings(dec *json.Decoder) ([]string, bool) {
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return nil, false
	}
	a := []string{}
	for dec.More() {
		s, ok := readString(dec)
		if !ok {
			return nil, false
		}
		a = append(a, s)
	}
	t, err := dec.Token()
	return a, err == nil && t == json.Delim(']')
}

// readAudience reads aud: one string, or an array of strings.
func readAudience(dec *json.Decoder) ([]string, bool) {
	t, err := dec.Token()
	if err != nil {
		return nil, false
	}
	if s, ok := t.(string); ok {
		return []string{s}, true
	}
	if t != json.Delim('[') {
		return nil, false
	}
	a := []string{}
	for dec.More() {
		s, ok := readString(dec)
		if !ok {
			return nil, false
		}
		a = append(a, s)
	}
	t, err = dec.Token()
	return a, err == nil && t == json.Delim(']')
}

// maxNumericDate is the last second of year 9999: the range of a
// NumericDate read is [0, maxNumericDate].
const maxNumericDate = 253402300799

// readNumericDate reads a NumericDate (RFC 7519 section 2): seconds since
// the epoch, maybe with a fraction.
func readNumericDate(dec *json.Decoder) (time.Time, bool) {
	t, err := dec.Token()
	n, ok := t.(json.Number)
	if err != nil || !ok {
		return time.Time{}, false
	}
	return parseNumericDate(string(n))
}

// parseNumericDate parses the text of a JSON number as a NumericDate in
// [0, maxNumericDate]. Plain decimals are read exactly, to the
// nanosecond; a number with an exponent through float64.
func parseNumericDate(s string) (time.Time, bool) {
	if strings.HasPrefix(s, "-") {
		return time.Time{}, false
	}
	if strings.ContainsAny(s, "eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || !(f >= 0 && f <= maxNumericDate) {
			return time.Time{}, false
		}
		sec := math.Floor(f)
		return time.Unix(int64(sec), int64((f-sec)*1e9)).UTC(), true
	}
	whole, frac, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || sec > maxNumericDate {
		return time.Time{}, false
	}
	var nsec int64
	for i := range 9 {
		nsec *= 10
		if i < len(frac) {
			nsec += int64(frac[i] - '0')
		}
	}
	return time.Unix(sec, nsec).UTC(), true
}

// skipValue reads one value of any kind.
func skipValue(dec *json.Decoder) bool {
	depth := 0
	for {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return true
		}
	}
}
