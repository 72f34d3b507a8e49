package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/latchkey/latchkey/internal/ssrf"
)

// The defaults of a Sender's fields.
const (
	DefaultTimeout   = 10 * time.Second
	DefaultMaxAnswer = 4 << 10
	DefaultUserAgent = "Latchkey-Webhook"
)

// A Sender sends webhooks. Its fields are read at its first Send and must
// not change after it; it is safe for concurrent use, and keeps idle
// connections for the next webhook to the same host.
type Sender struct {
	// AllowPrivate lets webhooks reach addresses that are not Public, such
	// as a receiver on the same machine or network.
	AllowPrivate bool
	// Timeout bounds a Send, from connecting to reading the answer;
	// DefaultTimeout when it is not positive.
	Timeout time.Duration
	// MaxAnswer is how many bytes of a receiver's answer are read before
	// the connection is closed; DefaultMaxAnswer when it is not positive.
	MaxAnswer int64
	// UserAgent is the User-Agent of a webhook; DefaultUserAgent if "".
	UserAgent string

	once     sync.Once
	client   *http.Client
	resolver *net.Resolver // nil for the system's; set by tests
}

// errTimedOut is the cause of a Send's context when its Timeout runs out.
var errTimedOut = errors.New("the webhook's timeout ran out")

// Send posts body, a JSON document, to target, with the headers of a webhook
// signed with key: msgID, which must be printable ASCII with no "." nor
// space, and ts. It returns the receiver's HTTP status, 0 when there was
// none, and nil when it was a 2xx. A redirect is not followed, and is an
// error; so is an answer to a 2xx that cannot be read to its end or
// MaxAnswer.
//
// The target URL must pass CheckURL, and unless AllowPrivate, every address
// Send connects to must be public (ssrf.Public): checked on the address itself once the
// host's name was resolved, so that no name reaches inside. No proxy is
// used.
func (s *Sender) Send(ctx context.Context, target string, key []byte, msgID string, ts time.Time, body []byte) (status int, err error) {
	if err := CheckURL(target, s.AllowPrivate); err != nil {
		return 0, err
	}
	if msgID == "" || strings.ContainsFunc(msgID, func(r rune) bool { return r == '.' || r <= ' ' || r > '~' }) {
		return 0, errors.New("a webhook's message id is printable ASCII with no dot")
	}
	if len(key) < MinKeyLength {
		return 0, fmt.Errorf("a webhook's key is %d bytes at least", MinKeyLength)
	}
	s.once.Do(s.init)
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimedOut)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, errors.New("the URL does not parse")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.UserAgent)
	if s.UserAgent == "" {
		req.Header.Set("User-Agent", DefaultUserAgent)
	}
	req.Header.Set(HeaderID, msgID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(HeaderSignature, Sign(key, msgID, ts, body))

	resp, err := s.client.Do(req)
	if err != nil {
		return 0, failure(ctx, err, timeout)
	}
	limit := s.MaxAnswer
	if limit <= 0 {
		limit = DefaultMaxAnswer
	}
	// Closing the body before its end closes the connection.
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, limit))
	resp.Body.Close()
	switch status = resp.StatusCode; {
	case 300 <= status && status < 400:
		return status, fmt.Errorf("redirect (%d) not followed", status)
	case status < 200 || status >= 300:
		return status, fmt.Errorf("HTTP %d", status)
	case err != nil:
		return status, fmt.Errorf("HTTP %d, then reading the answer: %w", status, failure(ctx, err, timeout))
	}
	return status, nil
}

// init makes s.client.
func (s *Sender) init() {
	// Unless AllowPrivate, the dialer checks each address it is about to
	// connect to, after the name was resolved.
	d := ssrf.Policy{AllowPrivate: s.AllowPrivate}.Dialer(s.resolver)
	s.client = &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            d.DialContext,
			MaxIdleConns:           100,
			IdleConnTimeout:        90 * time.Second,
			MaxResponseHeaderBytes: 64 << 10,
			DisableCompression:     true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// failure says briefly why an exchange with a receiver failed, err being
// what the HTTP client said, without the URL it quotes.
func failure(ctx context.Context, err error, timeout time.Duration) error {
	if context.Cause(ctx) == errTimedOut {
		return fmt.Errorf("timed out after %v", timeout)
	}
	if ae, ok := errors.AsType[*ssrf.AddrError](err); ok {
		return ae
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if dns, ok := errors.AsType[*net.DNSError](err); ok {
		if dns.IsNotFound {
			return errors.New("no such host")
		}
		return fmt.Errorf("looking up the host: %s", dns.Err)
	}
	if cert, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return fmt.Errorf("TLS certificate: %w", cert.Err)
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return errors.New("connection refused")
	case errors.Is(err, syscall.ECONNRESET):
		return errors.New("connection reset")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("connection closed early")
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}
