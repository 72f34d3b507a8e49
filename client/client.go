// Package client is the Go client of Latchkey's Personal Tokens API, the
// twin of the PersonalTokensApi that ProcessMaker 4 generates from its
// OpenAPI spec: CreateToken is its createTokens, DeleteToken its
// deleteToken, Token its getTokenById and Tokens its getTokens; AllTokens
// walks every page of getTokens. Beyond ProcessMaker, Inventory,
// AllInventory and InventoryCSV read every user's tokens
// (GET /api/1.0/tokens), for administrators and holders of view-users.
//
// Every answer outside 2xx becomes a *latchkey.Error whose code is mapped
// back from the HTTP status (see StatusError for the table), so a caller
// sees the same code over the network as in-process, and whose Message is
// the server's sentence. Its Err is a *StatusError that holds the status and
// any Retry-After; StatusCode reads the status from any error.
//
// The credential a Client sends is never part of an error, a URL or the
// printed or logged form of a Client, and the access token of a
// CreatedToken is hidden when it is printed or logged.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

// APIPath is the path of the API under the server's root.
const APIPath = "/api/1.0"

// DefaultUserAgent is the User-Agent a Client sends unless WithUserAgent
// sets another.
const DefaultUserAgent = "latchkey-go-client"

// maxAnswer is how much of an answer's body a Client reads: 4 MiB. A
// successful answer over it is an error; an error answer over it keeps its
// status but loses its sentence.
const maxAnswer = 4 << 20

// Client calls the Personal Tokens API of one server. It is safe for
// concurrent use. Its zero value is not usable: make one with New.
type Client struct {
	api        string // scheme://host[/prefix]/api/1.0, no trailing slash
	http       *http.Client
	authScheme string // "bearer", "api key" or "": what String may show
	// authorize sets the Authorization header, or is nil. The credential
	// lives only in its closure, which fmt and reflection cannot reach, so
	// that not even a raw print of a Client's fields shows it.
	authorize func(http.Header)
	userAgent string
	now       func() time.Time // for Retry-After dates
}

// An Option configures a Client made by New.
type Option func(*Client) error

// WithBearerToken makes the Client send "Authorization: Bearer <token>",
// the spec's pm_api_bearer (and pm_api_auth_code) scheme. Surrounding
// whitespace, such as the newline at the end of a token file, is trimmed.
func WithBearerToken(token string) Option {
	return func(c *Client) error {
		token = strings.TrimSpace(token)
		if err := checkSecret("WithBearerToken", token); err != nil {
			return err
		}
		return c.setAuth("bearer", "Bearer "+token)
	}
}

// WithAPIKey makes the Client send the key in the Authorization header, the
// spec's pm_api_key scheme: "Authorization: <key>" when prefix is "", as
// ProcessMaker's generated clients do, else "Authorization: <prefix> <key>".
// Surrounding whitespace of both is trimmed.
func WithAPIKey(key, prefix string) Option {
	return func(c *Client) error {
		key, prefix = strings.TrimSpace(key), strings.TrimSpace(prefix)
		if err := checkSecret("WithAPIKey", key); err != nil {
			return err
		}
		header := key
		if prefix != "" {
			if strings.ContainsFunc(prefix, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
				return errors.New("WithAPIKey: the prefix holds a space or control character")
			}
			header = prefix + " " + key
		}
		return c.setAuth("api key", header)
	}
}

// WithHTTPClient makes the Client send its requests with hc instead of
// http.DefaultClient, for timeouts, proxies or TLS settings.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("WithHTTPClient: nil *http.Client")
		}
		c.http = hc
		return nil
	}
}

// WithUserAgent sets the User-Agent header the Client sends; "" keeps
// DefaultUserAgent.
func WithUserAgent(ua string) Option {
	return func(c *Client) error {
		if strings.ContainsFunc(ua, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return errors.New("WithUserAgent: the user agent holds a control character")
		}
		if ua != "" {
			c.userAgent = ua
		}
		return nil
	}
}

// checkSecret tells whether s can be sent in a header, without ever
// quoting s.
func checkSecret(option, s string) error {
	if s == "" {
		return fmt.Errorf("%s: the credential is empty", option)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return fmt.Errorf("%s: the credential holds a control character", option)
	}
	return nil
}

func (c *Client) setAuth(scheme, header string) error {
	if c.authorize != nil {
		return errors.New("more than one credential option (WithBearerToken, WithAPIKey)")
	}
	c.authScheme = scheme
	c.authorize = func(h http.Header) { h.Set("Authorization", header) }
	return nil
}

// New returns a Client of the server at baseURL, the server's root (for
// example http://127.0.0.1:8080, or https://example.com/latchkey behind a
// proxy); the API is under baseURL + APIPath. A baseURL that already ends in
// APIPath, as ProcessMaker's generated clients are configured, is taken as
// it is. baseURL must be http or https, name a host, and have no query,
// fragment or user info. Without WithBearerToken or WithAPIKey the Client
// sends no credentials, and every operation answers EUNAUTHENTICATED.
func New(baseURL string, opts ...Option) (*Client, error) {
	api, err := apiRoot(baseURL)
	if err != nil {
		return nil, err
	}
	c := &Client{
		api:       api,
		http:      http.DefaultClient,
		userAgent: DefaultUserAgent,
		now:       time.Now,
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(c); err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
	}
	return c, nil
}

// apiRoot validates baseURL and returns the root of the API under it. Its
// errors never quote user info, which may hold a credential.
func apiRoot(baseURL string) (string, error) {
	const hint = " (want for example http://127.0.0.1:8080)"
	if strings.TrimSpace(baseURL) == "" {
		return "", errors.New("client: the base URL is empty" + hint)
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // its text quotes the whole URL
		}
		return "", fmt.Errorf("client: invalid base URL"+hint+": %w", err)
	}
	if u.User != nil {
		return "", errors.New("client: the base URL must not hold user info; use WithBearerToken or WithAPIKey")
	}
	// Errors quote the URL without its query and fragment, which might
	// hold something secret too.
	shown := baseURL
	if i := strings.IndexAny(shown, "?#"); i >= 0 {
		shown = shown[:i]
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("client: base URL %q: the scheme must be http or https"+hint, shown)
	case u.Hostname() == "":
		return "", fmt.Errorf("client: base URL %q: no host"+hint, shown)
	case u.RawQuery != "" || u.ForceQuery:
		return "", fmt.Errorf("client: base URL %q: must have no query", shown)
	case u.Fragment != "":
		return "", fmt.Errorf("client: base URL %q: must have no fragment", shown)
	}
	path := strings.TrimRight(u.EscapedPath(), "/")
	if !strings.HasSuffix(path, APIPath) {
		path += APIPath
	}
	return u.Scheme + "://" + u.Host + path, nil
}

// String describes c by its API root and the kind of credential it sends,
// never the credential.
func (c *Client) String() string {
	return "client.Client{" + c.api + ", auth: " + c.auth() + "}"
}

// GoString is String, so that %#v hides the credential too.
func (c *Client) GoString() string { return c.String() }

// LogValue describes c to log/slog as String does.
func (c *Client) LogValue() slog.Value {
	return slog.GroupValue(slog.String("api", c.api), slog.String("auth", c.auth()))
}

func (c *Client) auth() string {
	if c.authScheme == "" {
		return "none"
	}
	return c.authScheme
}

// do sends a request to the API path (under c.api) with query, and in as a
// JSON body unless nil, and decodes a 2xx answer into out unless out is nil.
// An answer outside 2xx is returned as a *latchkey.Error (see answerError);
// any other failure as a plain error for the caller to wrap.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encoding the request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := c.request(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return err // a *url.Error: method and URL, never a header
	}
	defer resp.Body.Close()
	b, readErr := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if readErr != nil || len(b) > maxAnswer {
			b = nil // keep the status, drop a partial sentence
		}
		return c.answerError(resp, b)
	}
	if readErr != nil {
		return fmt.Errorf("reading the answer: %w", readErr)
	}
	if len(b) > maxAnswer {
		return fmt.Errorf("the answer is over %d MiB", maxAnswer>>20)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decoding the answer (HTTP %d, Content-Type %q): %w",
			resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	return nil
}

// request makes a request to the API path (under c.api) with query and
// body, accepting JSON, with the User-Agent and credential of c.
func (c *Client) request(ctx context.Context, method, path string, query url.Values, body io.Reader) (*http.Request, error) {
	target := c.api + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if c.authorize != nil {
		c.authorize(req.Header)
	}
	return req, nil
}

// wrap adds the operation to err unless err is the *latchkey.Error of an
// answer, which callers get as it is.
func wrap(op string, err error) error {
	if _, ok := err.(*latchkey.Error); ok {
		return err
	}
	return fmt.Errorf("client: %s: %w", op, err)
}
