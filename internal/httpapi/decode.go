package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/service"
)

// MaxBodyBytes is the largest request body the API reads: 64 KiB.
const MaxBodyBytes = 64 << 10

var (
	errBadJSON  = &latchkey.Error{Code: latchkey.EMALFORMED, Message: "The request body is not valid JSON."}
	errTooLarge = &latchkey.Error{Code: latchkey.ETOOLARGE, Message: "The request body must not be larger than 64 KiB."}
)

// declaredTooLarge reports whether r's Content-Length says its body is
// longer than limit. Such a body is refused before a byte of it is read:
// a client that sent Expect: 100-continue (curl does, for large bodies)
// then hears 413 at once, not 100 Continue and then a reset.
func declaredTooLarge(r *http.Request, limit int64) bool { return r.ContentLength > limit }

// readBody reads r's body up to MaxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if declaredTooLarge(r, MaxBodyBytes) {
		return nil, errTooLarge
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, errTooLarge
	case err != nil:
		return nil, &latchkey.Error{Code: latchkey.EMALFORMED, Message: "The request body could not be read.", Err: err}
	}
	return b, nil
}

// DecodeTokenRequest reads the body of a create: a JSON object, or nothing
// (which counts as {}). It reports unreadable bodies as EMALFORMED and
// records fields of the wrong JSON type in the request's Invalid list;
// what the values mean is checked by the service.
func DecodeTokenRequest(body []byte) (service.TokenRequest, error) {
	var req service.TokenRequest
	fields, err := decodeObject(body)
	if err != nil {
		return req, err
	}
	if raw, ok := fields["name"]; ok && !isNull(raw) {
		var name string
		switch {
		case json.Unmarshal(raw, &name) != nil:
			req.Invalid.Add("name", service.MsgNameString)
		case !utf8.Valid(raw) || loneSurrogate(raw):
			// encoding/json would store U+FFFD for each bad byte, and
			// for each \u escape of half a surrogate pair: the name is
			// refused instead, as the service refuses one.
			req.Invalid.Add("name", service.MsgNameText)
		default:
			req.Name = &name
		}
	}
	if raw, ok := fields["scopes"]; ok {
		var items []json.RawMessage
		if isNull(raw) || json.Unmarshal(raw, &items) != nil {
			req.Invalid.Add("scopes", service.MsgScopesArray)
		} else {
			req.Scopes = make([]string, 0, len(items))
			for _, it := range items {
				var sc string
				if json.Unmarshal(it, &sc) != nil {
					req.Invalid.Add("scopes", service.MsgScopesInvalid)
					break
				}
				req.Scopes = append(req.Scopes, sc)
			}
		}
	}
	req.ExpiresAt = decodeExpiry(fields, &req.Invalid)
	req.AllowedIPs, _ = decodeAllowedIPs(fields, &req.Invalid)
	nearKeys(fields, tokenRequestKeys, &req.Invalid)
	return req, nil
}

// decodeAllowedIPs reads the allowed_ips of a body's fields, and whether
// it was there: an array of strings, each an IP address or a CIDR range
// (service.ParseAllowedIPs). null is absent.
func decodeAllowedIPs(fields map[string]json.RawMessage, invalid *latchkey.FieldErrors) ([]netip.Prefix, bool) {
	raw, ok := fields["allowed_ips"]
	if !ok || isNull(raw) {
		return nil, false
	}
	var list []string
	if json.Unmarshal(raw, &list) != nil || list == nil {
		invalid.Add("allowed_ips", service.MsgAllowedIPsArray)
		return nil, true
	}
	ps, msg := service.ParseAllowedIPs(list)
	if msg != "" {
		invalid.Add("allowed_ips", msg)
	}
	return ps, true
}

// decodeObject reads a request body that must be a JSON object, or
// nothing, which counts as {}: its keys and their raw values.
func decodeObject(body []byte) (map[string]json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, nil
	}
	var fields map[string]json.RawMessage
	if body[0] != '{' || json.Unmarshal(body, &fields) != nil {
		return nil, errBadJSON
	}
	return fields, nil
}

// decodeExpiry reads the expires_at of a body's fields: nil when absent
// or null, and a sentence in invalid when it is not an RFC 3339 date.
func decodeExpiry(fields map[string]json.RawMessage, invalid *latchkey.FieldErrors) *time.Time {
	raw, ok := fields["expires_at"]
	if !ok || isNull(raw) {
		return nil
	}
	var s string
	t, err := time.Time{}, error(nil)
	if err = json.Unmarshal(raw, &s); err == nil {
		t, err = time.Parse(time.RFC3339Nano, s)
	}
	if err != nil {
		invalid.Add("expires_at", service.MsgExpiresInvalid)
		invalid.Add("expires_at", service.MsgExpiresFormat)
		return nil
	}
	return &t
}

// nearKeys refuses the keys of fields that are one of known but for
// their case ("Scopes"): a typo whose value would be dropped, and a token
// made with every ability. Each is refused by the key as sent. Keys
// nothing like ours are ignored, as ProcessMaker ignores them.
func nearKeys(fields map[string]json.RawMessage, known []string, invalid *latchkey.FieldErrors) {
	var near []string
	for k := range fields {
		for _, key := range known {
			if k != key && strings.EqualFold(k, key) {
				near = append(near, k)
			}
		}
	}
	slices.Sort(near)
	for _, k := range near {
		invalid.Add(k, MsgKeyCase(k))
	}
}

// DecodeRotateRequest reads the body of a rotation: a JSON object with
// expires_at and grace_seconds, or nothing (which counts as {}), as
// DecodeTokenRequest reads a create's.
func DecodeRotateRequest(body []byte) (service.RotateRequest, error) {
	var req service.RotateRequest
	fields, err := decodeObject(body)
	if err != nil {
		return req, err
	}
	req.ExpiresAt = decodeExpiry(fields, &req.Invalid)
	if ps, ok := decodeAllowedIPs(fields, &req.Invalid); ok {
		req.AllowedIPs = &ps
	}
	if raw, ok := fields["grace_seconds"]; ok && !isNull(raw) {
		// An integer, written as one: 3600, not 3600.0, "3600" or 3.6e3.
		n, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
		if err != nil || n < 0 || n > int64(service.MaxGrace/time.Second) {
			req.Invalid.Add("grace_seconds", service.MsgGraceInvalid)
		} else {
			req.Grace = time.Duration(n) * time.Second
		}
	}
	nearKeys(fields, rotateRequestKeys, &req.Invalid)
	return req, nil
}

// The keys of a create body, and of a rotation's.
var (
	tokenRequestKeys  = []string{"name", "scopes", "expires_at", "allowed_ips"}
	rotateRequestKeys = []string{"expires_at", "grace_seconds", "allowed_ips"}
)

// MsgKeyCase is the sentence for a key of a request body that is one of
// ours written in another case.
func MsgKeyCase(key string) string {
	for _, known := range append(tokenRequestKeys, rotateRequestKeys...) {
		if strings.EqualFold(key, known) {
			return "The " + key + " field is not known: keys are case-sensitive; did you mean " + known + "?"
		}
	}
	return "The " + key + " field is not known."
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// The list's query parameters' bounds.
const (
	defaultPerPage = 10
	maxPerPage     = 1000
	maxPage        = 1_000_000_000
)

var integer = regexp.MustCompile(`^[+-]?[0-9]+$`)

// ParseListQuery reads the query parameters of a list: per_page, page,
// filter, order_by and order_direction. An empty parameter counts as absent.
func ParseListQuery(q url.Values) (service.ListQuery, error) {
	lq := service.ListQuery{Page: 1, PerPage: defaultPerPage, Filter: q.Get("filter")}
	var fe latchkey.FieldErrors
	intParam := func(key, label string, lo, hi int, dst *int) {
		v := q.Get(key)
		if v == "" {
			return
		}
		if !integer.MatchString(v) {
			fe.Add(key, "The "+label+" field must be an integer.")
			return
		}
		// Any number of digits is an integer; past ten it is out of range,
		// without parsing all of them.
		digits := strings.TrimLeft(strings.TrimLeft(v, "+-"), "0")
		n, err := strconv.ParseInt(digits, 10, 64)
		if digits == "" {
			n, err = 0, nil
		}
		if strings.HasPrefix(v, "-") {
			n = -n
		}
		if len(digits) > 10 || err != nil || n < int64(lo) || n > int64(hi) {
			fe.Add(key, "The "+label+" field must be between "+strconv.Itoa(lo)+" and "+strconv.Itoa(hi)+".")
			return
		}
		*dst = int(n)
	}
	intParam("per_page", "Per Page", 1, maxPerPage, &lq.PerPage)
	intParam("page", "Page", 1, maxPage, &lq.Page)
	if v := q.Get("order_by"); v != "" {
		if !slices.Contains(latchkey.TokenOrders, latchkey.TokenOrder(v)) {
			fe.Add("order_by", "The Order By field must be one of created_at, name, expires_at, last_used_at.")
		} else {
			lq.OrderBy = latchkey.TokenOrder(v)
		}
	}
	switch v := q.Get("order_direction"); v {
	case "", "desc":
	case "asc":
		lq.Ascending = true
	default:
		fe.Add("order_direction", "The Order Direction field must be asc or desc.")
	}
	return lq, fe.Err()
}

// ParseQuery reads a raw query string into values. Unlike url.ParseQuery it
// drops nothing: a ';' is an ordinary character (so order_by=id;drop is
// refused as the value it is, not silently ignored), and a value whose
// escapes are broken is kept as written.
func ParseQuery(raw string) url.Values {
	v := url.Values{}
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		key, value, _ := strings.Cut(pair, "=")
		v[unescape(key)] = append(v[unescape(key)], unescape(value))
	}
	return v
}

func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// loneSurrogate reports whether the JSON string raw holds a \u escape of
// half a UTF-16 surrogate pair without its other half: a high one
// (\uD800–\uDBFF) not followed at once by a low one (\uDC00–\uDFFF),
// or a low one alone. Such text is not Unicode, and encoding/json reads
// it as U+FFFD.
func loneSurrogate(raw []byte) bool {
	escape := func(i int) (rune, bool) { // the \uXXXX at raw[i:], if any
		if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 32)
		return rune(n), err == nil
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		r, ok := escape(i)
		if !ok {
			i++ // another escape: \\ \" \/ \b \f \n \r \t
			continue
		}
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			if low, ok := escape(i + 6); !ok || low < 0xDC00 || low > 0xDFFF {
				return true
			}
			i += 11 // the pair
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		default:
			i += 5
		}
	}
	return false
}
