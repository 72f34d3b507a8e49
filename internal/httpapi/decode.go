package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
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
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return req, nil
	}
	var fields map[string]json.RawMessage
	if body[0] != '{' || json.Unmarshal(body, &fields) != nil {
		return req, errBadJSON
	}
	if raw, ok := fields["name"]; ok && !isNull(raw) {
		var name string
		switch {
		case json.Unmarshal(raw, &name) != nil:
			req.Invalid.Add("name", service.MsgNameString)
		case !utf8.Valid(raw):
			// encoding/json would store U+FFFD for each bad byte: the
			// name is refused instead, as the service refuses one.
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
	if raw, ok := fields["expires_at"]; ok && !isNull(raw) {
		var s string
		t, err := time.Time{}, error(nil)
		if err = json.Unmarshal(raw, &s); err == nil {
			t, err = time.Parse(time.RFC3339Nano, s)
		}
		if err != nil {
			req.Invalid.Add("expires_at", service.MsgExpiresInvalid)
			req.Invalid.Add("expires_at", service.MsgExpiresFormat)
		} else {
			req.ExpiresAt = &t
		}
	}
	// A key that is ours but for its case ("Scopes") is a typo whose
	// value would be dropped, and a token made with every ability: it is
	// refused, by the key as sent. Keys nothing like ours are ignored, as
	// ProcessMaker ignores them.
	var near []string
	for k := range fields {
		for _, known := range tokenRequestKeys {
			if k != known && strings.EqualFold(k, known) {
				near = append(near, k)
			}
		}
	}
	slices.Sort(near)
	for _, k := range near {
		req.Invalid.Add(k, MsgKeyCase(k))
	}
	return req, nil
}

// tokenRequestKeys are the keys of a create body.
var tokenRequestKeys = []string{"name", "scopes", "expires_at"}

// MsgKeyCase is the sentence for a key of a create body that is one of
// ours written in another case.
func MsgKeyCase(key string) string {
	for _, known := range tokenRequestKeys {
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
