package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/service"
)

// FuzzParseAuthorization: whatever the header, the parser does not panic,
// and what it accepts is one non-empty word that round-trips through
// "Bearer <token>".
func FuzzParseAuthorization(f *testing.F) {
	for _, seed := range []string{
		"Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.e30.c2ln", // a bearer JWT
		"bearer abc", "BEARER abc", // the scheme in any case
		"eyJ0eXAiOiJKV1QifQ.e30.c2ln", // pm_api_key, raw
		"Basic dXNlcjpwYXNz",          // another scheme
		"Bearer", "Bearer ", "Bearer  a b", "\tBearer\ta", "", " ",
		strings.Repeat("A", 9000),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, ok := httpapi.ParseAuthorization(h)
		if !ok {
			if tok != "" {
				t.Fatalf("ParseAuthorization(%q) = %q, false: want no token when refused", h, tok)
			}
			return
		}
		if tok == "" || strings.ContainsAny(tok, " \t\r\n\v\f") || len(tok) > 8<<10 {
			t.Fatalf("ParseAuthorization(%q) = %q: want one non-empty word", h, tok)
		}
		if again, ok := httpapi.ParseAuthorization("Bearer " + tok); !ok || again != tok {
			t.Fatalf("ParseAuthorization(Bearer %q) = %q, %v: want the token back", tok, again, ok)
		}
	})
}

// FuzzDecodeTokenRequest: the create-body decoder does not panic; it
// accepts exactly the empty body and JSON objects, and a name it reads is
// the string the object holds.
func FuzzDecodeTokenRequest(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `{"name":"x"}`, `{"name":null}`, `{"name":42}`, `{"name":"x","scopes":["tokens.read"]}`,
		`{"scopes":null}`, `{"scopes":[1,"a"]}`, `{"expires_at":"2027-01-01T00:00:00Z"}`, `{"expires_at":"2027-01-01"}`,
		`{"expires_at":123}`, `[]`, `null`, `"x"`, `{"name":"x"} x`, `{"name":"x"}{}`, "\xff", `{"name":"\ud800"}`, `{"name":"\ud83d\udd11"}`, `{"name":"\\ud800"}`, `{"name":"\udc00\ud800"}`, "{\"name\":\"a\xffb\"}",
		` {"name":"é"} `, `{"name":"x","name":"y"}`,
		`{"name":"x","Scopes":["tokens.read"]}`, `{"NAME":"x"}`, `{"name":"x","Expires_At":"2027-01-01T00:00:00Z"}`,
		`{"name":"x","ſcopes":[]}`, `{"name":"x","color":"blue","scope":"tokens.read"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := httpapi.DecodeTokenRequest(body)
		trimmed := bytes.TrimSpace(body)
		isObject := len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(trimmed)
		switch {
		case len(trimmed) == 0:
			if err != nil || req.Name != nil || req.Scopes != nil || req.ExpiresAt != nil {
				t.Fatalf("DecodeTokenRequest(%q) = %+v, %v: want an empty request", body, req, err)
			}
		case isObject && err != nil:
			t.Fatalf("DecodeTokenRequest(%q) = %v: want a JSON object accepted", body, err)
		case !isObject && err == nil:
			t.Fatalf("DecodeTokenRequest(%q) accepted what is not a JSON object", body)
		}
		// A key that is ours but for its case is refused by its name as
		// sent; any other key is ignored.
		if err == nil {
			var obj map[string]json.RawMessage
			if json.Unmarshal(trimmed, &obj) == nil {
				for k := range obj {
					if k == "name" || k == "scopes" || k == "expires_at" {
						continue
					}
					near := strings.EqualFold(k, "name") || strings.EqualFold(k, "scopes") || strings.EqualFold(k, "expires_at")
					if got := req.Invalid.Get(k); near != (len(got) > 0) {
						t.Fatalf("DecodeTokenRequest(%q): errors.%s = %q; want a refusal exactly when the key is ours in another case", body, k, got)
					}
				}
			}
		}
		// A name read holds no U+FFFD the body did not send, raw or
		// escaped: bad bytes and lone surrogates are refused, not replaced.
		if err == nil && req.Name != nil && strings.ContainsRune(*req.Name, utf8.RuneError) &&
			!bytes.Contains(body, []byte("\uFFFD")) && !bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`)) {
			t.Fatalf("DecodeTokenRequest(%q) name %q: a U+FFFD the body did not hold", body, *req.Name)
		}
		if err == nil && req.Name != nil {
			var obj map[string]any
			if json.Unmarshal(trimmed, &obj) == nil {
				if s, ok := obj["name"].(string); !ok || s != *req.Name {
					t.Fatalf("DecodeTokenRequest(%q) name %q, want %q", body, *req.Name, obj["name"])
				}
			}
		}
	})
}

// FuzzParseQuery: the query parser does not panic, keeps what
// url.Values.Encode writes, and the list query it feeds is always in range
// when it is accepted.
func FuzzParseQuery(f *testing.F) {
	for _, seed := range []string{
		"", "per_page=10&page=2", "order_by=id;drop", "filter=100%25", "filter=%zz", "page=-1",
		"per_page=99999999999999999999", "order_direction=asc&order_by=name", "a&&b=&=c", "page=%2B3",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v := httpapi.ParseQuery(raw)
		if utf8.ValidString(raw) {
			if again := httpapi.ParseQuery(v.Encode()); v.Encode() != again.Encode() {
				t.Fatalf("ParseQuery(%q) does not round-trip: %q then %q", raw, v.Encode(), again.Encode())
			}
		}
		q, err := httpapi.ParseListQuery(v)
		if err == nil && (q.PerPage < 1 || q.PerPage > 1000 || q.Page < 1) {
			t.Fatalf("ParseListQuery(%q) = %+v: out of range", raw, q)
		}
		if _, err := url.ParseQuery(raw); err == nil && !strings.Contains(raw, ";") {
			// Where the standard parser agrees, so do we.
			std, _ := url.ParseQuery(raw)
			if std.Encode() != v.Encode() {
				t.Fatalf("ParseQuery(%q) = %q, url.ParseQuery = %q", raw, v.Encode(), std.Encode())
			}
		}
	})
}

// FuzzPageLinks: a page link carries page and the first value of each of
// the list's own parameters the query gave, as url.Values.Encode writes
// them, and nothing else of the query.
func FuzzPageLinks(f *testing.F) {
	for _, seed := range []string{"", "per_page=50", "filter=a%20b&order_by=name&per_page=5&page=2", "z=1&a=2&page=9&p=3&pagf=4", "x=1&x=2", "filter=a&filter=b&junk=" + strings.Repeat("j", 100)} {
		f.Add(seed, 3)
	}
	f.Fuzz(func(t *testing.T, raw string, n int) {
		q := httpapi.ParseQuery(raw)
		want := url.Values{}
		for _, k := range []string{"filter", "order_by", "order_direction", "per_page"} {
			if v, ok := q[k]; ok && len(v) > 0 {
				want.Set(k, v[0])
			}
		}
		want.Set("page", strconv.Itoa(n))
		if got := httpapi.PageLink("/p", q, n); got != "/p?"+want.Encode() {
			t.Fatalf("PageLink(%q, %d) = %q, want %q", raw, n, got, "/p?"+want.Encode())
		}
	})
}

// FuzzDecodeRotateRequest: whatever the body, the decoder answers a JSON
// object with a request and anything else with an error, never panics,
// and keeps a grace only from 0 to a week, given as an integer.
func FuzzDecodeRotateRequest(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `{"grace_seconds":0}`, `{"grace_seconds":604800}`, `{"grace_seconds":604801}`, `{"grace_seconds":-1}`,
		`{"grace_seconds":1.5}`, `{"grace_seconds":"60"}`, `{"grace_seconds":1e3}`, `{"grace_seconds":null}`,
		`{"grace_seconds":99999999999999999999}`, `{"expires_at":"2027-01-01T00:00:00Z","grace_seconds":60}`,
		`{"Grace_Seconds":60}`, `[]`, `null`, "\xff", `{"grace_seconds":60} x`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := httpapi.DecodeRotateRequest(body)
		trimmed := bytes.TrimSpace(body)
		isObject := len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(trimmed)
		switch {
		case len(trimmed) == 0 && (err != nil || req.Grace != 0 || req.ExpiresAt != nil):
			t.Fatalf("DecodeRotateRequest(%q) = %+v, %v: want an empty request", body, req, err)
		case isObject && err != nil:
			t.Fatalf("DecodeRotateRequest(%q) = %v: want a JSON object accepted", body, err)
		case len(trimmed) > 0 && !isObject && err == nil:
			t.Fatalf("DecodeRotateRequest(%q) accepted what is not a JSON object", body)
		}
		if req.Grace < 0 || req.Grace > service.MaxGrace || req.Grace%time.Second != 0 {
			t.Fatalf("DecodeRotateRequest(%q) kept a grace of %v", body, req.Grace)
		}
		if req.Grace != 0 && req.Invalid.Get("grace_seconds") != nil {
			t.Fatalf("DecodeRotateRequest(%q) kept a grace it refused", body)
		}
	})
}

// TestDecodeLoneSurrogate: a name with half a UTF-16 surrogate pair
// escaped is refused, as a byte that is not UTF-8 is; a whole pair, and
// an escaped backslash before "ud800", are text.
func TestDecodeLoneSurrogate(t *testing.T) {
	for _, tc := range []struct {
		body string
		want string // the name read; "": refused
	}{
		{`{"name":"a\ud800b"}`, ""},
		{`{"name":"a\udc00b"}`, ""},
		{`{"name":"\ud800"}`, ""},
		{`{"name":"\ud800\u0041"}`, ""},
		{`{"name":"\ud800\ud800"}`, ""},
		{`{"name":"\udc00\ud800"}`, ""},
		{`{"name":"key \ud83d\udd11"}`, "key \U0001F511"},
		{`{"name":"key \uD83D\uDD11"}`, "key \U0001F511"},
		{`{"name":"\\ud800"}`, `\ud800`},
		{`{"name":"\"\u00e9\\"}`, `"é\`},
	} {
		req, err := httpapi.DecodeTokenRequest([]byte(tc.body))
		if err != nil {
			t.Fatalf("DecodeTokenRequest(%s) = %v", tc.body, err)
		}
		switch {
		case tc.want == "" && (req.Name != nil || len(req.Invalid.Get("name")) != 1):
			t.Errorf("DecodeTokenRequest(%s): name %v, errors %q; want it refused", tc.body, req.Name, req.Invalid.Get("name"))
		case tc.want != "" && (req.Name == nil || *req.Name != tc.want):
			t.Errorf("DecodeTokenRequest(%s): name %v, errors %q; want %q", tc.body, req.Name, req.Invalid.Get("name"), tc.want)
		}
	}
}
