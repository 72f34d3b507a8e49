package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
)

// secret is the credential test clients send; no error, URL or printed
// form may hold it.
const secret = "eyJhbGciOiJSUzI1NiJ9.s3cr3t-payload.s1gnature"

var (
	id1 = strings.Repeat("5be0c1a9", 10)
	id2 = strings.Repeat("0a1b2c3d", 10)
	id3 = strings.Repeat("e4f5a6b7", 10)
	id4 = strings.Repeat("99887766", 10)
	id5 = strings.Repeat("12345678", 10)
)

// tokenJSON is a UserToken as the contract shapes it: user 12, scope
// tokens.read, expiring, never used.
func tokenJSON(id, name string) string {
	return `{"id":"` + id + `","user_id":12,"client_id":1,"name":"` + name + `","scopes":["tokens.read"],` +
		`"revoked":false,"created_at":"2026-03-01T17:45:10.000000Z","updated_at":"2026-03-01T17:45:11.000000Z",` +
		`"expires_at":"2027-03-01T17:45:10.000000Z","client":` + clientJSON + `,"last_used_at":null}`
}

const clientJSON = `{"id":1,"user_id":null,"name":"Latchkey Personal Access Client","provider":null,` +
	`"redirect":"http://localhost","personal_access_client":true,"password_client":false,"revoked":false,` +
	`"created_at":"2026-01-01T00:00:00.000000Z","updated_at":"2026-01-02T00:00:00.000000Z"}`

// createdJSON is the answer to a create: the token's keys, accessToken,
// then the token again.
func createdJSON(id, name, jwt string) string {
	t := tokenJSON(id, name)
	return strings.TrimSuffix(t, "}") + `,"accessToken":"` + jwt + `","token":` + t + `}`
}

// listJSON is a page of a list with its meta.
func listJSON(page, perPage, total int, tokens ...string) string {
	return listWith("["+strings.Join(tokens, ",")+"]", len(tokens), page, perPage, total)
}

// listWith is a list whose data is the JSON given, with count items.
func listWith(data string, count, page, perPage, total int) string {
	lastPage := max((total+perPage-1)/perPage, 1)
	return `{"data":` + data + `,"meta":{"filter":"","sort_by":"","sort_order":"",` +
		`"count":` + strconv.Itoa(count) + `,"total_pages":` + strconv.Itoa((total+perPage-1)/perPage) +
		`,"current_page":` + strconv.Itoa(page) + `,"from":null,"form":null,"last_page":` + strconv.Itoa(lastPage) +
		`,"links":[],"path":"/api/1.0/users/12/tokens","per_page":` + strconv.Itoa(perPage) +
		`,"to":null,"total":` + strconv.Itoa(total) + `}}`
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr[T any](v T) *T { return &v }

// wantToken is tokenJSON(id, name) as a latchkey.Token.
func wantToken(id, name string) *latchkey.Token {
	return &latchkey.Token{
		ID:        id,
		UserID:    12,
		ClientID:  1,
		Name:      name,
		Scopes:    latchkey.Scopes{"tokens.read"},
		CreatedAt: date("2026-03-01T17:45:10Z"),
		UpdatedAt: date("2026-03-01T17:45:11Z"),
		ExpiresAt: ptr(date("2027-03-01T17:45:10Z")),
		Client: &latchkey.Client{
			ID:                   1,
			Name:                 "Latchkey Personal Access Client",
			Redirect:             "http://localhost",
			PersonalAccessClient: true,
			CreatedAt:            date("2026-01-01T00:00:00Z"),
			UpdatedAt:            date("2026-01-02T00:00:00Z"),
		},
	}
}

// request is what the fake server saw of one request.
type request struct {
	Method        string
	Path          string // escaped
	Query         string
	Authorization string
	Accept        string
	ContentType   string
	UserAgent     string
	Body          string
}

// answer is what the fake server sends back.
type answer struct {
	status int
	header map[string]string
	body   string
}

func jsonAnswer(status int, body string) answer { return answer{status: status, body: body} }

// fake is a server that records every request and sends the answers in
// order, repeating the last.
type fake struct {
	mu       sync.Mutex
	requests []request
	answers  []answer
	srv      *httptest.Server
}

func newFake(t *testing.T, answers ...answer) *fake {
	t.Helper()
	f := &fake{answers: answers}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, request{
		Method:        r.Method,
		Path:          r.URL.EscapedPath(),
		Query:         r.URL.RawQuery,
		Authorization: r.Header.Get("Authorization"),
		Accept:        r.Header.Get("Accept"),
		ContentType:   r.Header.Get("Content-Type"),
		UserAgent:     r.Header.Get("User-Agent"),
		Body:          string(body),
	})
	a := answer{status: http.StatusNotFound, body: `{"error":"Not Found"}`}
	if n := len(f.requests); n <= len(f.answers) {
		a = f.answers[n-1]
	} else if len(f.answers) > 0 {
		a = f.answers[len(f.answers)-1]
	}
	f.mu.Unlock()
	if a.status != http.StatusNoContent {
		w.Header().Set("Content-Type", "application/json")
	}
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

func (f *fake) got() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.requests...)
}

// client returns a Client of f, with the bearer token secret unless opts
// say otherwise.
func (f *fake) client(t *testing.T, opts ...client.Option) *client.Client {
	t.Helper()
	if len(opts) == 0 {
		opts = []client.Option{client.WithBearerToken(secret)}
	}
	c, err := client.New(f.srv.URL, opts...)
	if err != nil {
		t.Fatalf("New(%q) = %v", f.srv.URL, err)
	}
	return c
}

// sent is a request as a Client with the bearer token secret sends it.
func sent(method, path, query, body string) request {
	r := request{
		Method:        method,
		Path:          path,
		Query:         query,
		Authorization: "Bearer " + secret,
		Accept:        "application/json",
		UserAgent:     client.DefaultUserAgent,
		Body:          body,
	}
	if body != "" {
		r.ContentType = "application/json"
	}
	return r
}

// failure is what a test looks at in an error.
type failure struct {
	Code       string
	Message    string
	Fields     latchkey.FieldErrors
	StatusCode int
	RetryAfter time.Duration
}

func failureOf(t *testing.T, err error) failure {
	t.Helper()
	e, ok := err.(*latchkey.Error)
	if !ok {
		t.Fatalf("error = %T %v, want a *latchkey.Error", err, err)
	}
	f := failure{Code: e.Code, Message: e.Message, Fields: e.Fields}
	var se *client.StatusError
	if errors.As(err, &se) {
		f.StatusCode, f.RetryAfter = se.StatusCode, se.RetryAfter
		if got := client.StatusCode(err); got != se.StatusCode {
			t.Errorf("StatusCode(err) = %d, want %d", got, se.StatusCode)
		}
	}
	return f
}

func TestNewBaseURL(t *testing.T) {
	tests := []struct {
		name     string
		suffix   string // after the fake's http://127.0.0.1:port
		upper    bool   // the scheme in capitals
		wantPath string
	}{
		{name: "root", wantPath: "/api/1.0/users/12/tokens"},
		{name: "root with slash", suffix: "/", wantPath: "/api/1.0/users/12/tokens"},
		{name: "capital scheme", upper: true, wantPath: "/api/1.0/users/12/tokens"},
		{name: "API root given", suffix: "/api/1.0", wantPath: "/api/1.0/users/12/tokens"},
		{name: "API root with slash", suffix: "/api/1.0/", wantPath: "/api/1.0/users/12/tokens"},
		{name: "prefix", suffix: "/latchkey", wantPath: "/latchkey/api/1.0/users/12/tokens"},
		{name: "prefix with slash", suffix: "/latchkey/", wantPath: "/latchkey/api/1.0/users/12/tokens"},
		{name: "escaped prefix", suffix: "/a%20b", wantPath: "/a%20b/api/1.0/users/12/tokens"},
		{name: "prefix and API root", suffix: "/latchkey/api/1.0", wantPath: "/latchkey/api/1.0/users/12/tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, jsonAnswer(200, listJSON(1, 10, 0)))
			base := f.srv.URL + tt.suffix
			if tt.upper {
				base = "HTTP" + strings.TrimPrefix(base, "http")
			}
			c, err := client.New(base)
			if err != nil {
				t.Fatalf("New(%q) = %v", base, err)
			}
			if _, err := c.Tokens(t.Context(), 12, client.ListOptions{}); err != nil {
				t.Fatalf("Tokens = %v", err)
			}
			if got := f.got()[0].Path; got != tt.wantPath {
				t.Errorf("New(%q) then Tokens: path %q, want %q", base, got, tt.wantPath)
			}
		})
	}
}

func TestNewInvalidBaseURL(t *testing.T) {
	tests := []struct {
		name    string
		base    string
		wantErr string
	}{
		{name: "empty", base: "", wantErr: "empty"},
		{name: "blank", base: "  ", wantErr: "empty"},
		{name: "no scheme", base: "127.0.0.1:8080", wantErr: "invalid base URL"},
		{name: "host as scheme", base: "localhost:8080", wantErr: "scheme must be http or https"},
		{name: "relative", base: "/api/1.0", wantErr: "scheme must be http or https"},
		{name: "ftp", base: "ftp://example.com", wantErr: "scheme must be http or https"},
		{name: "no host", base: "http://", wantErr: "no host"},
		{name: "port only", base: "http://:8080", wantErr: "no host"},
		{name: "opaque", base: "http:example.com", wantErr: "no host"},
		{name: "query", base: "http://example.com/?token=hunter2", wantErr: "no query"},
		{name: "empty query", base: "http://example.com/?", wantErr: "no query"},
		{name: "fragment", base: "http://example.com/#hunter2", wantErr: "no fragment"},
		{name: "password", base: "https://admin:hunter2@example.com", wantErr: "user info"},
		{name: "user only", base: "https://hunter2@example.com", wantErr: "user info"},
		{name: "bad escape", base: "http://example.com/%zz", wantErr: "invalid base URL"},
		{name: "control character", base: "http://example.com/\n", wantErr: "invalid base URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := client.New(tt.base)
			if err == nil {
				t.Fatalf("New(%q) = %v, nil, want an error", tt.base, c)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New(%q) = %q, want it to say %q", tt.base, err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("New(%q) = %q, which quotes the secret", tt.base, err)
			}
		})
	}
}

func TestNewInvalidOption(t *testing.T) {
	tests := []struct {
		name    string
		opts    []client.Option
		wantErr string
	}{
		{name: "empty bearer token", opts: []client.Option{client.WithBearerToken(" \n")}, wantErr: "empty"},
		{name: "newline in bearer token", opts: []client.Option{client.WithBearerToken("hunter2\nX-Evil: 1")}, wantErr: "control character"},
		{name: "empty API key", opts: []client.Option{client.WithAPIKey("", "Bearer")}, wantErr: "empty"},
		{name: "newline in API key", opts: []client.Option{client.WithAPIKey("hunter2\r\n", "x\x00")}, wantErr: "control character"},
		{name: "space in prefix", opts: []client.Option{client.WithAPIKey("hunter2", "Token Bearer")}, wantErr: "prefix"},
		{name: "two credentials", opts: []client.Option{client.WithBearerToken("hunter2"), client.WithAPIKey("hunter2", "")}, wantErr: "more than one credential"},
		{name: "nil HTTP client", opts: []client.Option{client.WithHTTPClient(nil)}, wantErr: "nil *http.Client"},
		{name: "newline in user agent", opts: []client.Option{client.WithUserAgent("a\nb")}, wantErr: "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := client.New("http://example.com", tt.opts...)
			if err == nil {
				t.Fatalf("New = %v, nil, want an error", c)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New = %q, want it to say %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("New = %q, which quotes the credential", err)
			}
		})
	}
}

func TestAuthorization(t *testing.T) {
	tests := []struct {
		name     string
		opts     []client.Option
		wantAuth string
		wantUA   string
	}{
		{name: "none", opts: []client.Option{nil}, wantAuth: "", wantUA: client.DefaultUserAgent},
		{name: "bearer", opts: []client.Option{client.WithBearerToken(secret)}, wantAuth: "Bearer " + secret, wantUA: client.DefaultUserAgent},
		{name: "bearer from a file", opts: []client.Option{client.WithBearerToken(secret + "\n")}, wantAuth: "Bearer " + secret, wantUA: client.DefaultUserAgent},
		{name: "raw API key", opts: []client.Option{client.WithAPIKey(secret, "")}, wantAuth: secret, wantUA: client.DefaultUserAgent},
		{name: "prefixed API key", opts: []client.Option{client.WithAPIKey(secret, "Bearer")}, wantAuth: "Bearer " + secret, wantUA: client.DefaultUserAgent},
		{name: "other prefix", opts: []client.Option{client.WithAPIKey(secret, "Token")}, wantAuth: "Token " + secret, wantUA: client.DefaultUserAgent},
		{name: "user agent", opts: []client.Option{client.WithBearerToken(secret), client.WithUserAgent("nightly-export/2.1")}, wantAuth: "Bearer " + secret, wantUA: "nightly-export/2.1"},
		{name: "empty user agent", opts: []client.Option{client.WithUserAgent("")}, wantUA: client.DefaultUserAgent},
		{name: "HTTP client", opts: []client.Option{client.WithHTTPClient(&http.Client{Timeout: time.Minute}), client.WithAPIKey(secret, "")}, wantAuth: secret, wantUA: client.DefaultUserAgent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, jsonAnswer(200, tokenJSON(id1, "ci")))
			c := f.client(t, tt.opts...)
			if _, err := c.Token(t.Context(), 12, id1); err != nil {
				t.Fatalf("Token = %v", err)
			}
			got := f.got()[0]
			if got.Authorization != tt.wantAuth {
				t.Errorf("Authorization: %q, want %q", got.Authorization, tt.wantAuth)
			}
			if got.UserAgent != tt.wantUA {
				t.Errorf("User-Agent: %q, want %q", got.UserAgent, tt.wantUA)
			}
		})
	}
}

func TestHTTPClientIsUsed(t *testing.T) {
	f := newFake(t, jsonAnswer(200, tokenJSON(id1, "ci")))
	var used bool
	hc := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		used = true
		return http.DefaultTransport.RoundTrip(r)
	})}
	c := f.client(t, client.WithHTTPClient(hc))
	if _, err := c.Token(t.Context(), 12, id1); err != nil {
		t.Fatalf("Token = %v", err)
	}
	if !used {
		t.Error("WithHTTPClient: the client given sent nothing")
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestCreateToken(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		name     string
		req      client.CreateTokenRequest
		answer   answer
		wantBody string
		want     *client.CreatedToken
	}{
		{
			name:     "201 with scopes",
			req:      client.CreateTokenRequest{Name: "nightly export", Scopes: []string{"tokens.read"}},
			answer:   jsonAnswer(201, createdJSON(id1, "nightly export", "jwt.one.sig")),
			wantBody: `{"name":"nightly export","scopes":["tokens.read"]}`,
			want:     &client.CreatedToken{Token: wantToken(id1, "nightly export"), AccessToken: "jwt.one.sig"},
		},
		{
			name:     "no scopes",
			req:      client.CreateTokenRequest{Name: "ci"},
			answer:   jsonAnswer(201, createdJSON(id1, "ci", "jwt.one.sig")),
			wantBody: `{"name":"ci"}`,
			want:     &client.CreatedToken{Token: wantToken(id1, "ci"), AccessToken: "jwt.one.sig"},
		},
		{
			name:     "expiry sent in UTC",
			req:      client.CreateTokenRequest{Name: "ci", ExpiresAt: ptr(time.Date(2027, 3, 1, 18, 45, 10, 0, cet))},
			answer:   jsonAnswer(201, createdJSON(id1, "ci", "jwt.one.sig")),
			wantBody: `{"name":"ci","expires_at":"2027-03-01T17:45:10Z"}`,
			want:     &client.CreatedToken{Token: wantToken(id1, "ci"), AccessToken: "jwt.one.sig"},
		},
		{
			name:     "ProcessMaker's 200",
			req:      client.CreateTokenRequest{Name: "ci"},
			answer:   jsonAnswer(200, `{"accessToken":"jwt.pm.sig","token":`+tokenJSON(id2, "ci")+`}`),
			wantBody: `{"name":"ci"}`,
			want:     &client.CreatedToken{Token: wantToken(id2, "ci"), AccessToken: "jwt.pm.sig"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.answer)
			got, err := f.client(t).CreateToken(t.Context(), 12, tt.req)
			if err != nil {
				t.Fatalf("CreateToken(12, %+v) = %v", tt.req, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("CreateToken(12, %+v) mismatch (-want +got):\n%s", tt.req, diff)
			}
			want := []request{sent("POST", "/api/1.0/users/12/tokens", "", tt.wantBody)}
			if diff := cmp.Diff(want, f.got()); diff != "" {
				t.Errorf("CreateToken(12, %+v) sent (-want +got):\n%s", tt.req, diff)
			}
		})
	}
}

func TestCreateTokenBadAnswer(t *testing.T) {
	tests := []struct {
		name    string
		answer  answer
		wantErr string
	}{
		{name: "no access token", answer: jsonAnswer(201, tokenJSON(id1, "ci")), wantErr: "no token id or no accessToken"},
		{name: "no token", answer: jsonAnswer(201, `{"accessToken":"jwt.one.sig"}`), wantErr: "no token id or no accessToken"},
		{name: "not JSON", answer: answer{status: 201, header: map[string]string{"Content-Type": "text/html"}, body: "<html>"}, wantErr: `Content-Type "text/html"`},
		{name: "bad date", answer: jsonAnswer(201, strings.Replace(createdJSON(id1, "ci", "jwt.one.sig"), "2026-03-01T17:45:10.000000Z", "yesterday", 1)), wantErr: "date"},
		{name: "empty 204", answer: answer{status: 204}, wantErr: "decoding the answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.answer)
			got, err := f.client(t).CreateToken(t.Context(), 12, client.CreateTokenRequest{Name: "ci"})
			if err == nil {
				t.Fatalf("CreateToken = %v, nil, want an error", got)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "client: create token: ") {
				t.Errorf("CreateToken = %q, want client: create token: …%s…", err, tt.wantErr)
			}
			if code := latchkey.ErrorCode(err); code != latchkey.EINTERNAL {
				t.Errorf("ErrorCode(CreateToken) = %q, want %q", code, latchkey.EINTERNAL)
			}
		})
	}
}

func TestToken(t *testing.T) {
	revoked := `{"id":"` + id3 + `","user_id":12,"client_id":2,"name":"app","scopes":[],"revoked":true,` +
		`"created_at":"2026-03-01T17:45:10.000000Z","updated_at":"2026-03-02T08:00:00.000000Z","expires_at":null,` +
		`"client":` + clientJSON + `,"last_used_at":"2026-03-02T07:59:00.000000Z","future_extension":{"x":1}}`
	wantRevoked := wantToken(id3, "app")
	wantRevoked.ClientID = 2
	wantRevoked.Scopes = latchkey.Scopes{}
	wantRevoked.Revoked = true
	wantRevoked.UpdatedAt = date("2026-03-02T08:00:00Z")
	wantRevoked.ExpiresAt = nil
	wantRevoked.LastUsedAt = ptr(date("2026-03-02T07:59:00Z"))

	tests := []struct {
		name     string
		tokenID  string
		answer   answer
		wantPath string
		want     *latchkey.Token
	}{
		{
			name:     "personal token",
			tokenID:  id1,
			answer:   jsonAnswer(200, tokenJSON(id1, "ci")),
			wantPath: "/api/1.0/users/12/tokens/" + id1,
			want:     wantToken(id1, "ci"),
		},
		{
			name:     "revoked, used, no expiry, unknown key",
			tokenID:  id3,
			answer:   jsonAnswer(200, revoked),
			wantPath: "/api/1.0/users/12/tokens/" + id3,
			want:     wantRevoked,
		},
		{
			name:     "id escaped",
			tokenID:  "a/b c?d#e%",
			answer:   jsonAnswer(200, tokenJSON(id1, "ci")),
			wantPath: "/api/1.0/users/12/tokens/a%2Fb%20c%3Fd%23e%25",
			want:     wantToken(id1, "ci"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.answer)
			got, err := f.client(t).Token(t.Context(), 12, tt.tokenID)
			if err != nil {
				t.Fatalf("Token(12, %q) = %v", tt.tokenID, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Token(12, %q) mismatch (-want +got):\n%s", tt.tokenID, diff)
			}
			want := []request{sent("GET", tt.wantPath, "", "")}
			if diff := cmp.Diff(want, f.got()); diff != "" {
				t.Errorf("Token(12, %q) sent (-want +got):\n%s", tt.tokenID, diff)
			}
		})
	}
}

func TestTokenProcessMakerNotFound(t *testing.T) {
	f := newFake(t, jsonAnswer(200, " [ ] "))
	got, err := f.client(t).Token(t.Context(), 12, id1)
	if code := latchkey.ErrorCode(err); code != latchkey.ENOTFOUND {
		t.Errorf("Token on a 200 [] = %v, %v, want code %q", got, err, latchkey.ENOTFOUND)
	}
}

func TestTokenBadAnswer(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr string
	}{
		{name: "empty object", body: `{}`, wantErr: "client: show token: the answer holds no token id"},
		{name: "not JSON", body: `Not Found`, wantErr: "client: show token: decoding the answer"},
		{name: "array of tokens", body: `[` + tokenJSON(id1, "ci") + `]`, wantErr: "client: show token: decoding the answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, jsonAnswer(200, tt.body))
			got, err := f.client(t).Token(t.Context(), 12, id1)
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("Token on %s = %v, %v, want %s…", tt.body, got, err, tt.wantErr)
			}
		})
	}
}

func TestInvalidTokenID(t *testing.T) {
	for _, id := range []string{"", ".", ".."} {
		t.Run(strconv.Quote(id), func(t *testing.T) {
			f := newFake(t, jsonAnswer(200, tokenJSON(id1, "ci")), answer{status: 204})
			c := f.client(t)
			if _, err := c.Token(t.Context(), 12, id); latchkey.ErrorCode(err) != latchkey.EINVALID {
				t.Errorf("Token(12, %q) = %v, want code %q", id, err, latchkey.EINVALID)
			}
			if err := c.DeleteToken(t.Context(), 12, id); latchkey.ErrorCode(err) != latchkey.EINVALID {
				t.Errorf("DeleteToken(12, %q) = %v, want code %q", id, err, latchkey.EINVALID)
			}
			if got := f.got(); len(got) != 0 {
				t.Errorf("sent %d requests for token id %q, want none", len(got), id)
			}
		})
	}
}

func TestDeleteToken(t *testing.T) {
	tests := []struct {
		name   string
		answer answer
	}{
		{name: "204", answer: answer{status: 204}},
		{name: "200 with a body", answer: jsonAnswer(200, `{"ok":true}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.answer)
			if err := f.client(t).DeleteToken(t.Context(), 12, id1); err != nil {
				t.Fatalf("DeleteToken(12, %q) = %v", id1, err)
			}
			want := []request{sent("DELETE", "/api/1.0/users/12/tokens/"+id1, "", "")}
			if diff := cmp.Diff(want, f.got()); diff != "" {
				t.Errorf("DeleteToken sent (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTokensQuery(t *testing.T) {
	tests := []struct {
		name      string
		opts      client.ListOptions
		wantQuery string
	}{
		{name: "defaults", opts: client.ListOptions{}, wantQuery: ""},
		{name: "page", opts: client.ListOptions{Page: 2, PerPage: 25}, wantQuery: "page=2&per_page=25"},
		{name: "filter escaped", opts: client.ListOptions{Filter: "ci & cd/50%"}, wantQuery: "filter=ci+%26+cd%2F50%25"},
		{name: "order descending", opts: client.ListOptions{OrderBy: latchkey.OrderName}, wantQuery: "order_by=name"},
		{name: "order ascending", opts: client.ListOptions{OrderBy: latchkey.OrderLastUsedAt, Ascending: true}, wantQuery: "order_by=last_used_at&order_direction=asc"},
		{name: "ascending alone", opts: client.ListOptions{Ascending: true}, wantQuery: "order_direction=asc"},
		{
			name:      "everything",
			opts:      client.ListOptions{Page: 3, PerPage: 1000, Filter: "export", OrderBy: latchkey.OrderExpiresAt, Ascending: true},
			wantQuery: "filter=export&order_by=expires_at&order_direction=asc&page=3&per_page=1000",
		},
		{name: "negative sent as is", opts: client.ListOptions{Page: -1}, wantQuery: "page=-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, jsonAnswer(200, listJSON(1, 10, 0)))
			if _, err := f.client(t).Tokens(t.Context(), 12, tt.opts); err != nil {
				t.Fatalf("Tokens(12, %+v) = %v", tt.opts, err)
			}
			want := []request{sent("GET", "/api/1.0/users/12/tokens", tt.wantQuery, "")}
			if diff := cmp.Diff(want, f.got()); diff != "" {
				t.Errorf("Tokens(12, %+v) sent (-want +got):\n%s", tt.opts, diff)
			}
		})
	}
}

func TestTokensDecode(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *client.TokenPage
	}{
		{
			name: "page of a longer list",
			body: listJSON(2, 2, 5, tokenJSON(id1, "one"), tokenJSON(id2, "two")),
			want: &client.TokenPage{
				Tokens: []*latchkey.Token{wantToken(id1, "one"), wantToken(id2, "two")},
				Page:   2, PerPage: 2, Total: 5, LastPage: 3,
			},
		},
		{
			name: "empty list",
			body: listJSON(1, 10, 0),
			want: &client.TokenPage{Tokens: []*latchkey.Token{}, Page: 1, PerPage: 10, Total: 0, LastPage: 1},
		},
		{
			name: "ProcessMaker's object data, in document order",
			body: listWith(`{"3":`+tokenJSON(id4, "four")+`,"2":`+tokenJSON(id3, "three")+`}`, 2, 2, 2, 4),
			want: &client.TokenPage{
				Tokens: []*latchkey.Token{wantToken(id4, "four"), wantToken(id3, "three")},
				Page:   2, PerPage: 2, Total: 4, LastPage: 2,
			},
		},
		{
			name: "null data",
			body: listWith(`null`, 0, 1, 10, 0),
			want: &client.TokenPage{Tokens: []*latchkey.Token{}, Page: 1, PerPage: 10, Total: 0, LastPage: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, jsonAnswer(200, tt.body))
			got, err := f.client(t).Tokens(t.Context(), 12, client.ListOptions{})
			if err != nil {
				t.Fatalf("Tokens = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Tokens mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTokensBadAnswer(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{name: "data a string", body: listWith(`"tokens"`, 0, 1, 10, 0)},
		{name: "object data holding a string", body: listWith(`{"0":"token"}`, 1, 1, 10, 1)},
		{name: "truncated", body: listJSON(1, 10, 1, tokenJSON(id1, "ci"))[:100]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, jsonAnswer(200, tt.body))
			got, err := f.client(t).Tokens(t.Context(), 12, client.ListOptions{})
			if err == nil || !strings.HasPrefix(err.Error(), "client: list tokens: decoding the answer") {
				t.Errorf("Tokens = %v, %v, want a decoding error", got, err)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	now := date("2026-03-01T12:00:00Z")
	tests := []struct {
		name   string
		answer answer
		want   failure
	}{
		{
			name:   "400",
			answer: jsonAnswer(400, `{"message":"The request body is not valid JSON."}`),
			want:   failure{Code: latchkey.EMALFORMED, Message: "The request body is not valid JSON.", StatusCode: 400},
		},
		{
			name:   "401",
			answer: answer{status: 401, header: map[string]string{"WWW-Authenticate": "Bearer"}, body: `{"error":"Unauthenticated."}`},
			want:   failure{Code: latchkey.EUNAUTHENTICATED, Message: "Unauthenticated.", StatusCode: 401},
		},
		{
			name:   "403",
			answer: jsonAnswer(403, `{"message":"Not authorized to update this user."}`),
			want:   failure{Code: latchkey.EFORBIDDEN, Message: "Not authorized to update this user.", StatusCode: 403},
		},
		{
			name:   "404",
			answer: jsonAnswer(404, `{"error":"Not Found"}`),
			want:   failure{Code: latchkey.ENOTFOUND, Message: "Not Found", StatusCode: 404},
		},
		{
			name:   "405",
			answer: answer{status: 405, header: map[string]string{"Allow": "GET, DELETE"}, body: `{"message":"Method Not Allowed"}`},
			want:   failure{Code: latchkey.EMALFORMED, Message: "Method Not Allowed", StatusCode: 405},
		},
		{
			name:   "409",
			answer: jsonAnswer(409, `{"message":"The token exists."}`),
			want:   failure{Code: latchkey.ECONFLICT, Message: "The token exists.", StatusCode: 409},
		},
		{
			name:   "410",
			answer: jsonAnswer(410, `{}`),
			want:   failure{Code: latchkey.ENOTFOUND, Message: "Gone", StatusCode: 410},
		},
		{
			name:   "413",
			answer: jsonAnswer(413, `{"message":"The request body is over 64 KiB."}`),
			want:   failure{Code: latchkey.ETOOLARGE, Message: "The request body is over 64 KiB.", StatusCode: 413},
		},
		{
			name:   "414",
			answer: answer{status: 414, header: map[string]string{"Content-Type": "text/plain"}},
			want:   failure{Code: latchkey.ETOOLARGE, Message: "Request URI Too Long", StatusCode: 414},
		},
		{
			name:   "418, another 4xx",
			answer: jsonAnswer(418, `{"message":"I'm a teapot."}`),
			want:   failure{Code: latchkey.EMALFORMED, Message: "I'm a teapot.", StatusCode: 418},
		},
		{
			name: "422 fields in the body's order",
			answer: jsonAnswer(422, `{"message":"The Scopes field must be an array. (and 2 more errors)",`+
				`"errors":{"scopes":["The Scopes field must be an array."],`+
				`"name":["The Name field is required.","The Name field must be a string."]}}`),
			want: failure{
				Code:    latchkey.EINVALID,
				Message: "The Scopes field must be an array. (and 2 more errors)",
				Fields: latchkey.FieldErrors{
					{Field: "scopes", Sentences: []string{"The Scopes field must be an array."}},
					{Field: "name", Sentences: []string{"The Name field is required.", "The Name field must be a string."}},
				},
				StatusCode: 422,
			},
		},
		{
			name:   "422 with errors of another shape",
			answer: jsonAnswer(422, `{"message":"The Per Page field must be an integer.","errors":["per_page"]}`),
			want:   failure{Code: latchkey.EINVALID, Message: "The Per Page field must be an integer.", StatusCode: 422},
		},
		{
			name:   "429 seconds",
			answer: answer{status: 429, header: map[string]string{"Retry-After": "30"}, body: `{"message":"Too Many Attempts."}`},
			want:   failure{Code: latchkey.ERATELIMIT, Message: "Too Many Attempts.", StatusCode: 429, RetryAfter: 30 * time.Second},
		},
		{
			name:   "429 without Retry-After",
			answer: jsonAnswer(429, `{"message":"Too Many Attempts."}`),
			want:   failure{Code: latchkey.ERATELIMIT, Message: "Too Many Attempts.", StatusCode: 429},
		},
		{
			name:   "503 date",
			answer: answer{status: 503, header: map[string]string{"Retry-After": "Sun, 01 Mar 2026 12:02:00 GMT"}, body: `{"message":"The database is down."}`},
			want:   failure{Code: latchkey.EUNAVAILABLE, Message: "The database is down.", StatusCode: 503, RetryAfter: 2 * time.Minute},
		},
		{
			name:   "Retry-After ignored on 500",
			answer: answer{status: 500, header: map[string]string{"Retry-After": "30"}, body: `{"message":"Server Error"}`},
			want:   failure{Code: latchkey.EINTERNAL, Message: "Server Error", StatusCode: 500},
		},
		{
			name:   "502 HTML from a proxy",
			answer: answer{status: 502, header: map[string]string{"Content-Type": "text/html"}, body: "<html><body>Bad gateway</body></html>"},
			want:   failure{Code: latchkey.EINTERNAL, Message: "Bad Gateway", StatusCode: 502},
		},
		{
			name:   "500 plain text",
			answer: answer{status: 500, header: map[string]string{"Content-Type": "text/plain"}, body: "panic: runtime error"},
			want:   failure{Code: latchkey.EINTERNAL, Message: "Internal Server Error", StatusCode: 500},
		},
		{
			name:   "504 empty",
			answer: answer{status: 504},
			want:   failure{Code: latchkey.EINTERNAL, Message: "Gateway Timeout", StatusCode: 504},
		},
		{
			name:   "599 unknown status",
			answer: answer{status: 599},
			want:   failure{Code: latchkey.EINTERNAL, Message: "HTTP status 599", StatusCode: 599},
		},
		{
			name:   "message preferred to error",
			answer: jsonAnswer(404, `{"error":"Not Found","message":"No such token."}`),
			want:   failure{Code: latchkey.ENOTFOUND, Message: "No such token.", StatusCode: 404},
		},
		{
			name:   "sentence of the wrong type",
			answer: jsonAnswer(403, `{"message":["Not authorized."]}`),
			want:   failure{Code: latchkey.EFORBIDDEN, Message: "Forbidden", StatusCode: 403},
		},
		{
			name:   "truncated JSON",
			answer: jsonAnswer(400, `{"message":"The req`),
			want:   failure{Code: latchkey.EMALFORMED, Message: "Bad Request", StatusCode: 400},
		},
		{
			name:   "302 not followed",
			answer: answer{status: 302, body: `{}`},
			want:   failure{Code: latchkey.EINTERNAL, Message: "Found", StatusCode: 302},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.answer)
			c := f.client(t)
			client.SetNow(c, func() time.Time { return now })
			_, err := c.Token(t.Context(), 12, id1)
			if err == nil {
				t.Fatal("Token = nil error, want one")
			}
			if diff := cmp.Diff(tt.want, failureOf(t, err)); diff != "" {
				t.Errorf("Token error %q mismatch (-want +got):\n%s", err, diff)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	f := newFake(t, answer{status: 429, header: map[string]string{"Retry-After": "30"}, body: `{"message":"Too Many Attempts."}`})
	_, err := f.client(t).Token(t.Context(), 12, id1)
	const want = "rate_limited: Too Many Attempts.: HTTP 429, retry after 30s"
	if err == nil || err.Error() != want {
		t.Errorf("Token error = %v, want %q", err, want)
	}
}

func TestErrorsEveryOperation(t *testing.T) {
	ops := []struct {
		name string
		call func(context.Context, *client.Client) error
	}{
		{name: "CreateToken", call: func(ctx context.Context, c *client.Client) error {
			_, err := c.CreateToken(ctx, 99, client.CreateTokenRequest{Name: "ci"})
			return err
		}},
		{name: "DeleteToken", call: func(ctx context.Context, c *client.Client) error {
			return c.DeleteToken(ctx, 99, id1)
		}},
		{name: "Token", call: func(ctx context.Context, c *client.Client) error {
			_, err := c.Token(ctx, 99, id1)
			return err
		}},
		{name: "Tokens", call: func(ctx context.Context, c *client.Client) error {
			_, err := c.Tokens(ctx, 99, client.ListOptions{})
			return err
		}},
		{name: "AllTokens", call: func(ctx context.Context, c *client.Client) error {
			for _, err := range c.AllTokens(ctx, 99, client.ListOptions{}) {
				if err != nil {
					return err
				}
			}
			return nil
		}},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			f := newFake(t, jsonAnswer(404, `{"error":"Not Found"}`))
			err := op.call(t.Context(), f.client(t))
			want := failure{Code: latchkey.ENOTFOUND, Message: "Not Found", StatusCode: 404}
			if diff := cmp.Diff(want, failureOf(t, err)); diff != "" {
				t.Errorf("%s error mismatch (-want +got):\n%s", op.name, diff)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := date("2026-03-01T12:00:00Z")
	tests := []struct {
		header string
		want   time.Duration
	}{
		{header: "", want: 0},
		{header: "0", want: 0},
		{header: "1", want: time.Second},
		{header: " 120 ", want: 2 * time.Minute},
		{header: "-5", want: 0},
		{header: "1.5", want: 0},
		{header: "soon", want: 0},
		{header: "99999999999999999999", want: 0}, // does not parse as int64
		{header: "9223372036854775807", want: 9223372036 * time.Second},
		{header: "Sun, 01 Mar 2026 12:00:30 GMT", want: 30 * time.Second},
		{header: "Sunday, 01-Mar-26 12:01:00 GMT", want: time.Minute}, // RFC 850
		{header: "Sun Mar  1 12:00:05 2026", want: 5 * time.Second},   // ANSI C
		{header: "Sun, 01 Mar 2026 11:59:00 GMT", want: 0},            // passed
		{header: "2026-03-01T12:05:00Z", want: 0},                     // not an HTTP date
	}
	for _, tt := range tests {
		if got := client.RetryAfter(tt.header, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

func TestStatusCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{name: "nil", err: nil, want: 0},
		{name: "plain", err: errors.New("dial tcp: refused"), want: 0},
		{name: "without status", err: latchkey.Errorf(latchkey.EINVALID, "bad"), want: 0},
		{name: "status", err: &latchkey.Error{Code: latchkey.ENOTFOUND, Err: &client.StatusError{StatusCode: 404}}, want: 404},
		{name: "wrapped", err: fmt.Errorf("export: %w", &latchkey.Error{Err: &client.StatusError{StatusCode: 418}}), want: 418},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := client.StatusCode(tt.err); got != tt.want {
				t.Errorf("StatusCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestAllTokens(t *testing.T) {
	tok := func(id string) string { return tokenJSON(id, "t") }
	tests := []struct {
		name      string
		opts      client.ListOptions
		answers   []answer
		wantIDs   []string
		wantErr   string // code of the error yielded last, if any
		wantQuery []string
	}{
		{
			name: "three pages",
			opts: client.ListOptions{Filter: "t"},
			answers: []answer{
				jsonAnswer(200, listJSON(1, 2, 5, tok(id1), tok(id2))),
				jsonAnswer(200, listJSON(2, 2, 5, tok(id3), tok(id4))),
				jsonAnswer(200, listJSON(3, 2, 5, tok(id5))),
			},
			wantIDs: []string{id1, id2, id3, id4, id5},
			wantQuery: []string{
				"filter=t&page=1&per_page=100",
				"filter=t&page=2&per_page=100",
				"filter=t&page=3&per_page=100",
			},
		},
		{
			name: "stops at an error",
			answers: []answer{
				jsonAnswer(200, listJSON(1, 2, 5, tok(id1), tok(id2))),
				jsonAnswer(503, `{"message":"The database is down."}`),
				jsonAnswer(200, listJSON(3, 2, 5, tok(id5))),
			},
			wantIDs:   []string{id1, id2},
			wantErr:   latchkey.EUNAVAILABLE,
			wantQuery: []string{"page=1&per_page=100", "page=2&per_page=100"},
		},
		{
			name:      "error on the first page",
			answers:   []answer{jsonAnswer(401, `{"error":"Unauthenticated."}`)},
			wantErr:   latchkey.EUNAUTHENTICATED,
			wantQuery: []string{"page=1&per_page=100"},
		},
		{
			name:      "empty list",
			answers:   []answer{jsonAnswer(200, listJSON(1, 100, 0))},
			wantQuery: []string{"page=1&per_page=100"},
		},
		{
			name: "token pushed onto the next page yielded once",
			answers: []answer{
				jsonAnswer(200, listJSON(1, 2, 3, tok(id1), tok(id2))),
				jsonAnswer(200, listJSON(2, 2, 4, tok(id2), tok(id3))),
			},
			wantIDs:   []string{id1, id2, id3},
			wantQuery: []string{"page=1&per_page=100", "page=2&per_page=100"},
		},
		{
			name: "empty page before last_page",
			answers: []answer{
				jsonAnswer(200, listJSON(1, 1, 9, tok(id1))),
				jsonAnswer(200, listJSON(2, 1, 9)),
			},
			wantIDs:   []string{id1},
			wantQuery: []string{"page=1&per_page=100", "page=2&per_page=100"},
		},
		{
			name: "from a page, with a page size",
			opts: client.ListOptions{Page: 2, PerPage: 2, OrderBy: latchkey.OrderName, Ascending: true},
			answers: []answer{
				jsonAnswer(200, listJSON(2, 2, 6, tok(id3), tok(id4))),
				jsonAnswer(200, listJSON(3, 2, 6, tok(id5))),
			},
			wantIDs: []string{id3, id4, id5},
			wantQuery: []string{
				"order_by=name&order_direction=asc&page=2&per_page=2",
				"order_by=name&order_direction=asc&page=3&per_page=2",
			},
		},
		{
			name: "meta that never ends is bounded by empty pages",
			answers: []answer{
				jsonAnswer(200, listJSON(1, 1, 1000, tok(id1))),
				jsonAnswer(200, listJSON(1, 1, 1000, tok(id1))), // the server ignores page
				jsonAnswer(200, listJSON(1, 1, 1000)),
			},
			wantIDs:   []string{id1},
			wantQuery: []string{"page=1&per_page=100", "page=2&per_page=100", "page=3&per_page=100"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.answers...)
			var ids []string
			var gotErr string
			for tok, err := range f.client(t).AllTokens(t.Context(), 12, tt.opts) {
				if gotErr != "" {
					t.Fatalf("AllTokens yielded %v, %v after an error", tok, err)
				}
				if err != nil {
					if tok != nil {
						t.Errorf("AllTokens yielded token %v with error %v", tok, err)
					}
					gotErr = latchkey.ErrorCode(err)
					continue
				}
				ids = append(ids, tok.ID)
			}
			if diff := cmp.Diff(tt.wantIDs, ids); diff != "" {
				t.Errorf("AllTokens ids mismatch (-want +got):\n%s", diff)
			}
			if gotErr != tt.wantErr {
				t.Errorf("AllTokens error code %q, want %q", gotErr, tt.wantErr)
			}
			var queries []string
			for _, r := range f.got() {
				queries = append(queries, r.Query)
				if r.Method != "GET" || r.Path != "/api/1.0/users/12/tokens" {
					t.Errorf("AllTokens sent %s %s, want GET /api/1.0/users/12/tokens", r.Method, r.Path)
				}
			}
			if diff := cmp.Diff(tt.wantQuery, queries); diff != "" {
				t.Errorf("AllTokens queries mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAllTokensBreak(t *testing.T) {
	p1 := jsonAnswer(200, listJSON(1, 2, 4, tokenJSON(id1, "a"), tokenJSON(id2, "b")))
	p2 := jsonAnswer(200, listJSON(2, 2, 4, tokenJSON(id3, "c"), tokenJSON(id4, "d")))
	f := newFake(t, p1, p2, p1)
	seq := f.client(t).AllTokens(t.Context(), 12, client.ListOptions{})
	count := func() int {
		var n int
		for _, err := range seq {
			if err != nil {
				t.Fatalf("AllTokens: %v", err)
			}
			n++
		}
		return n
	}
	if n := count(); n != 4 {
		t.Errorf("AllTokens yielded %d tokens, want 4", n)
	}
	// Ranged over again, the sequence starts from page 1 again.
	for tok, err := range seq {
		if err != nil || tok.ID != id1 {
			t.Fatalf("AllTokens again, first = %v, %v, want %s", tok, err, id1)
		}
		break
	}
	var queries []string
	for _, r := range f.got() {
		queries = append(queries, r.Query)
	}
	want := []string{"page=1&per_page=100", "page=2&per_page=100", "page=1&per_page=100"}
	if diff := cmp.Diff(want, queries); diff != "" {
		t.Errorf("AllTokens twice, the second time with a break after the first token: queries (-want +got):\n%s", diff)
	}
}

func TestContextCanceled(t *testing.T) {
	f := newFake(t, jsonAnswer(200, tokenJSON(id1, "ci")))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := f.client(t).Token(ctx, 12, id1)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Token with a canceled context = %v, want context.Canceled", err)
	}
	if !strings.HasPrefix(fmt.Sprint(err), "client: show token: ") {
		t.Errorf("Token with a canceled context = %q, want it to name the operation", err)
	}
}

func TestLargeAnswer(t *testing.T) {
	huge := `{"message":"` + strings.Repeat("x", 4<<20) + `"}`
	t.Run("2xx", func(t *testing.T) {
		f := newFake(t, jsonAnswer(200, huge))
		_, err := f.client(t).Token(t.Context(), 12, id1)
		if err == nil || !strings.Contains(err.Error(), "over 4 MiB") {
			t.Errorf("Token on a huge answer = %v, want an error about its size", err)
		}
	})
	t.Run("error", func(t *testing.T) {
		f := newFake(t, jsonAnswer(502, huge))
		_, err := f.client(t).Token(t.Context(), 12, id1)
		want := failure{Code: latchkey.EINTERNAL, Message: "Bad Gateway", StatusCode: 502}
		if diff := cmp.Diff(want, failureOf(t, err)); diff != "" {
			t.Errorf("Token on a huge error mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("just under the limit", func(t *testing.T) {
		body := tokenJSON(id1, "ci")
		body = strings.TrimSuffix(body, "}") + `,"padding":"` + strings.Repeat("x", 4<<20-len(body)-13) + `"}`
		if len(body) != 4<<20 {
			t.Fatalf("body of %d bytes, want %d", len(body), 4<<20)
		}
		f := newFake(t, jsonAnswer(200, body))
		if _, err := f.client(t).Token(t.Context(), 12, id1); err != nil {
			t.Errorf("Token on a 4 MiB answer = %v", err)
		}
	})
}

func TestConcurrentUse(t *testing.T) {
	f := newFake(t, jsonAnswer(200, listJSON(1, 10, 1, tokenJSON(id1, "ci"))))
	c := f.client(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := c.Tokens(t.Context(), 12, client.ListOptions{}); err != nil {
				t.Errorf("Tokens = %v", err)
			}
		})
	}
	wg.Wait()
}

// TestSecretNeverShown checks that the credential is in no error, no URL
// and no printed or logged form of a Client.
func TestSecretNeverShown(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	failures := []struct {
		name   string
		base   string // "" for the fake's
		answer answer
		ctx    func(context.Context) context.Context
	}{
		{name: "401", answer: answer{status: 401, header: map[string]string{"WWW-Authenticate": "Bearer"}, body: `{"error":"Unauthenticated."}`}},
		{name: "403", answer: jsonAnswer(403, `{"message":"This token lacks the scope tokens.write."}`)},
		{name: "422", answer: jsonAnswer(422, `{"message":"The Name field is required.","errors":{"name":["The Name field is required."]}}`)},
		{name: "500 HTML", answer: answer{status: 500, header: map[string]string{"Content-Type": "text/html"}, body: "<h1>oops</h1>"}},
		{name: "bad 2xx body", answer: jsonAnswer(201, `{"id":1}`)},
		{name: "no server", base: closed.URL},
		{name: "canceled", answer: jsonAnswer(201, "{}"), ctx: func(ctx context.Context) context.Context {
			ctx, cancel := context.WithCancel(ctx)
			cancel()
			return ctx
		}},
	}
	auths := []struct {
		name string
		opt  client.Option
	}{
		{name: "bearer", opt: client.WithBearerToken(secret)},
		{name: "raw API key", opt: client.WithAPIKey(secret, "")},
		{name: "prefixed API key", opt: client.WithAPIKey(secret, "Bearer")},
	}
	for _, auth := range auths {
		for _, tt := range failures {
			t.Run(auth.name+"/"+tt.name, func(t *testing.T) {
				f := newFake(t, tt.answer)
				base := tt.base
				if base == "" {
					base = f.srv.URL
				}
				c, err := client.New(base, auth.opt)
				if err != nil {
					t.Fatal(err)
				}
				ctx := t.Context()
				if tt.ctx != nil {
					ctx = tt.ctx(ctx)
				}
				_, err = c.CreateToken(ctx, 12, client.CreateTokenRequest{Name: "ci"})
				if err == nil {
					t.Fatal("CreateToken = nil error, want one")
				}
				if s := fmt.Sprintf("%v %+v %#v", err, err, err); strings.Contains(s, "s3cr3t") {
					t.Errorf("CreateToken error shows the credential: %s", s)
				}
				for _, r := range f.got() {
					if strings.Contains(r.Path+"?"+r.Query+r.Body, "s3cr3t") {
						t.Errorf("the credential is in the URL or body: %+v", r)
					}
				}
			})
		}

		t.Run(auth.name+"/printed", func(t *testing.T) {
			c, err := client.New("https://latchkey.example.com", auth.opt)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
				fmt.Fprintf(&out, verb+"\n", c)
				fmt.Fprintf(&out, verb+"\n", *c)
				fmt.Fprintf(&out, verb+"\n", []any{c, struct{ C *client.Client }{c}, struct{ c client.Client }{*c}})
			}
			slog.New(slog.NewTextHandler(&out, nil)).Info("client", "c", c)
			slog.New(slog.NewJSONHandler(&out, nil)).Info("client", "c", c)
			if s := out.String(); strings.Contains(s, "s3cr3t") || strings.Contains(s, "czNjcjN0") {
				t.Errorf("a printed form of the Client shows the credential:\n%s", s)
			}
			if want := "client.Client{https://latchkey.example.com/api/1.0, auth: "; !strings.Contains(c.String(), want) {
				t.Errorf("String() = %q, want it to hold %q", c.String(), want)
			}
		})
	}
}

func TestCreatedTokenHidesAccessToken(t *testing.T) {
	ct := &client.CreatedToken{Token: wantToken(id1, "nightly export"), AccessToken: secret}
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q", "%10.3v"} {
		fmt.Fprintf(&out, verb+"\n", ct)
		fmt.Fprintf(&out, verb+"\n", *ct)
		fmt.Fprintf(&out, verb+"\n", []any{ct, []*client.CreatedToken{ct}, map[string]client.CreatedToken{"k": *ct}, struct{ T *client.CreatedToken }{ct}})
	}
	fmt.Fprintln(&out, ct, ct.String(), ct.GoString())
	slog.New(slog.NewTextHandler(&out, nil)).Info("created", "token", ct)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("created", "token", *ct)
	s := out.String()
	if strings.Contains(s, "s3cr3t") {
		t.Errorf("a printed form of a CreatedToken shows the access token:\n%s", s)
	}
	for _, want := range []string{
		`CreatedToken{ID: ` + id1 + `, Name: "nightly export", AccessToken: [REDACTED]}`,
		`client.CreatedToken{ID: ` + id1,
		`token.id=` + id1 + ` token.user_id=12 token.name="nightly export" token.access_token=[REDACTED]`,
		`"token":{"id":"` + id1 + `","user_id":12,"name":"nightly export","access_token":"[REDACTED]"}`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("printed forms of a CreatedToken lack %q:\n%s", want, s)
		}
	}

	empty := client.CreatedToken{}
	if got, want := empty.String(), `CreatedToken{ID: , Name: "", AccessToken: ""}`; got != want {
		t.Errorf("CreatedToken{}.String() = %q, want %q", got, want)
	}
	var nilToken *client.CreatedToken
	if got, want := fmt.Sprint(nilToken), "<nil>"; got != want {
		t.Errorf("fmt.Sprint(nil *CreatedToken) = %q, want %q", got, want)
	}
}
