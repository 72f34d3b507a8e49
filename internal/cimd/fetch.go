package cimd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/latchkey/latchkey/internal/ssrf"
)

// The defaults of Options.
const (
	// DefaultTimeout bounds a fetch, from dialling to the document's last
	// byte.
	DefaultTimeout = 5 * time.Second
	// DefaultMaxBytes is the largest document read: the draft recommends
	// 5 kilobytes, and a document of a few redirect URIs and a name is
	// well under 1.
	DefaultMaxBytes = 5 << 10
	// DefaultMaxEntries bounds the documents, and the failures, kept: at
	// most 5 KiB each as fetched, a few MiB in all.
	DefaultMaxEntries = 1000
	// DefaultTTL is how long a document is kept that says nothing of its
	// caching (no Cache-Control max-age, no-store or no-cache).
	DefaultTTL = 5 * time.Minute
	// DefaultMaxTTL is the longest a document is kept, whatever its
	// Cache-Control says, so that a client's changes (a redirect URI
	// withdrawn) take hold within a day.
	DefaultMaxTTL = 24 * time.Hour
	// DefaultFailureTTL is how long a URL whose fetch failed is answered
	// with that failure without being fetched again.
	DefaultFailureTTL = time.Minute
	// DefaultUserAgent is the User-Agent of a fetch.
	DefaultUserAgent = "Latchkey (OAuth client metadata)"
)

// Options configure a Fetcher; zero fields take their defaults.
type Options struct {
	// Policy says which addresses a fetch may reach: by default, public
	// ones only (ssrf.Policy). Tests, whose servers listen on the
	// loopback, set AllowLoopback; nothing else should.
	Policy ssrf.Policy
	// RootCAs are the certificate authorities a document's server must
	// have its certificate from; nil for the system's.
	RootCAs *x509.CertPool
	// Resolver resolves hosts' names; nil for the system's.
	Resolver *net.Resolver

	Timeout    time.Duration
	MaxBytes   int64
	MaxEntries int
	DefaultTTL time.Duration
	MaxTTL     time.Duration
	FailureTTL time.Duration
	UserAgent  string
	// Now is the clock that dates what is kept: time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger
}

// A Fetcher fetches Client ID Metadata Documents and keeps them: a
// document for as long as its Cache-Control says (within MaxTTL), a
// failure for FailureTTL. Many requests for a URL that is not kept wait
// for one fetch. It is safe for concurrent use.
//
// A fetch is a GET over https alone, to an address the Policy allows
// (checked as it is dialled, whatever the name resolved to), without a
// proxy, following no redirect, within Timeout, of at most MaxBytes, and
// the answer must be a 200 of JSON (application/json, or
// application/<something>+json) that Parse accepts for the URL.
type Fetcher struct {
	o      Options
	client *http.Client
	cache  *lru.Cache[string, entry]

	mu      sync.Mutex
	flights map[string]*flight
	// joinHook, set by tests, is called when a caller waits for a fetch
	// another began.
	joinHook func()
}

// entry is what is kept of a URL: its document, or why it failed, until
// expires.
type entry struct {
	doc     *Document
	err     error
	expires time.Time
}

// flight is a fetch in progress, which callers of the same URL wait for.
type flight struct {
	done chan struct{}
	doc  *Document
	err  error
}

// New returns a Fetcher configured by o.
func New(o Options) *Fetcher {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.DefaultTTL <= 0 {
		o.DefaultTTL = DefaultTTL
	}
	if o.MaxTTL <= 0 {
		o.MaxTTL = DefaultMaxTTL
	}
	if o.FailureTTL <= 0 {
		o.FailureTTL = DefaultFailureTTL
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cache, err := lru.New[string, entry](o.MaxEntries)
	if err != nil {
		panic(err) // only for a size that is not positive
	}
	return &Fetcher{
		o:     o,
		cache: cache,
		client: &http.Client{
			Transport: &http.Transport{
				Proxy:                  nil,
				DialContext:            o.Policy.Dialer(o.Resolver).DialContext,
				TLSClientConfig:        &tls.Config{RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12},
				TLSHandshakeTimeout:    o.Timeout,
				MaxIdleConns:           10,
				IdleConnTimeout:        30 * time.Second,
				MaxResponseHeaderBytes: 16 << 10,
				DisableCompression:     true,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		flights: map[string]*flight{},
	}
}

// budgetKey is the context key of WithBudget.
type budgetKey struct{}

// WithBudget returns ctx carrying allow, which a Fetcher calls before it
// fetches a document for a request made with ctx: a non-nil error refuses
// the fetch, and Fetch returns it, wrapped in an *Error. A document or a
// failure that is kept costs nothing, and neither does waiting for
// another request's fetch. So a server can make each client address pay
// for the fetches it causes.
func WithBudget(ctx context.Context, allow func() error) context.Context {
	return context.WithValue(ctx, budgetKey{}, allow)
}

// Fetch returns the document of the client whose client_id is clientID:
// kept, or fetched now (see Fetcher). Errors are *Error. A failure to
// fetch, or a document Parse refuses, is kept for FailureTTL and answered
// again meanwhile; a URL CheckURL refuses, or a budget refused, is not
// kept. ctx bounds the wait, not the fetch, which others may wait for.
func (f *Fetcher) Fetch(ctx context.Context, clientID string) (*Document, error) {
	if err := CheckURL(clientID, f.o.Policy); err != nil {
		return nil, err
	}
	if e, ok := f.cache.Get(clientID); ok && f.o.Now().Before(e.expires) {
		return e.doc, e.err
	}
	f.mu.Lock()
	fl, ok := f.flights[clientID]
	if !ok {
		fl = &flight{done: make(chan struct{})}
		f.flights[clientID] = fl
		go f.fly(ctx, clientID, fl)
	}
	hook := f.joinHook
	f.mu.Unlock()
	if ok && hook != nil {
		hook()
	}
	select {
	case <-fl.done:
		return fl.doc, fl.err
	case <-ctx.Done():
		return nil, &Error{Description: "The client's metadata document was not fetched: the request ended first.", Err: ctx.Err()}
	}
}

// fly fetches clientID for fl, keeps what came of it, and lets fl's
// waiters go. ctx is the first waiter's: its budget pays, its end does not
// stop the fetch.
func (f *Fetcher) fly(ctx context.Context, clientID string, fl *flight) {
	defer func() {
		f.mu.Lock()
		delete(f.flights, clientID)
		f.mu.Unlock()
		close(fl.done)
	}()
	if allow, ok := ctx.Value(budgetKey{}).(func() error); ok {
		if err := allow(); err != nil {
			fl.err = &Error{Description: "Too many metadata documents were fetched for requests from this address; retry later.", Err: err}
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.o.Timeout)
	defer cancel()
	doc, ttl, err := f.fetch(ctx, clientID)
	now := f.o.Now()
	switch {
	case err != nil:
		f.o.Logger.InfoContext(ctx, "client metadata document refused", "client_id", clientID, "err", err)
		f.cache.Add(clientID, entry{err: err, expires: now.Add(f.o.FailureTTL)})
	case ttl > 0:
		f.cache.Add(clientID, entry{doc: doc, expires: now.Add(ttl)})
	default:
		f.cache.Remove(clientID)
	}
	fl.doc, fl.err = doc, err
}

// fetch GETs the document at clientID and parses it, and says how long it
// may be kept.
func (f *Fetcher) fetch(ctx context.Context, clientID string) (*Document, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, clientID, nil)
	if err != nil {
		return nil, 0, errorf("The client_id URL does not parse.")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", f.o.UserAgent)
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, 0, &Error{Description: "The client's metadata document could not be fetched: " + failure(ctx, err, f.o.Timeout) + ".", Err: err}
	}
	defer resp.Body.Close()
	switch s := resp.StatusCode; {
	case 300 <= s && s < 400:
		return nil, 0, errorf("The client's metadata document is a redirect (HTTP %d), which this server does not follow.", s)
	case s != http.StatusOK:
		return nil, 0, errorf("The client's metadata document could not be fetched: HTTP %d.", s)
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" && !(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return nil, 0, errorf("The client's metadata document must be served as application/json.")
	}
	tooBig := errorf("The client's metadata document is larger than %d bytes.", f.o.MaxBytes)
	if resp.ContentLength > f.o.MaxBytes {
		return nil, 0, tooBig
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.o.MaxBytes+1))
	switch {
	case err != nil:
		return nil, 0, &Error{Description: "The client's metadata document could not be read: " + failure(ctx, err, f.o.Timeout) + ".", Err: err}
	case int64(len(body)) > f.o.MaxBytes:
		return nil, 0, tooBig
	}
	doc, err := Parse(clientID, body)
	if err != nil {
		return nil, 0, err
	}
	return doc, f.ttl(resp.Header), nil
}

// ttl is how long an answer with header h may be kept (RFC 9111): not at
// all for no-store or no-cache, its max-age less its Age when it has one,
// else DefaultTTL; at most MaxTTL.
func (f *Fetcher) ttl(h http.Header) time.Duration {
	maxAge := time.Duration(-1)
	for _, v := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(v, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache":
				return 0
			case "max-age":
				if n, ok := seconds(strings.Trim(value, `"`)); ok {
					maxAge = n
				}
			}
		}
	}
	if maxAge < 0 {
		return min(f.o.DefaultTTL, f.o.MaxTTL)
	}
	if age, ok := seconds(h.Get("Age")); ok {
		maxAge -= age
	}
	return min(max(maxAge, 0), f.o.MaxTTL)
}

// seconds reads a delta-seconds value (RFC 9111 section 1.2.2): digits,
// capped at a century.
func seconds(s string) (time.Duration, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > 100*365*24*3600 {
		n = 100 * 365 * 24 * 3600
	}
	return time.Duration(n) * time.Second, true
}

// failure says briefly why an exchange failed, err being what the HTTP
// client said, without the URL it quotes.
func failure(ctx context.Context, err error, timeout time.Duration) string {
	if ae, ok := errors.AsType[*ssrf.AddrError](err); ok {
		return ae.Error()
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within %v", timeout)
	}
	if dns, ok := errors.AsType[*net.DNSError](err); ok {
		if dns.IsNotFound {
			return "no such host"
		}
		return "looking up the host failed"
	}
	if cert, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return "its TLS certificate is not valid: " + cert.Err.Error()
	}
	if _, ok := errors.AsType[tls.RecordHeaderError](err); ok {
		return "the server does not speak TLS"
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the connection closed early"
	}
	return "the connection failed"
}
