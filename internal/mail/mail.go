// Package mail sends Latchkey's notification mail through an SMTP server.
//
// A Mailer is configured by a URL (--smtp-url) and a From address
// (--mail-from). smtp://[user[:password]@]host[:port] speaks to port 587 by
// default and switches to TLS with STARTTLS whenever the server offers it;
// smtps://… speaks TLS from the first byte, to port 465 by default. TLS
// always verifies the server's certificate for the URL's host.
//
// The password is never sent in clear: without TLS, Send refuses to
// authenticate unless the host is a loopback address or localhost. (A URL
// without a password sends in clear to a server that does not offer
// STARTTLS, as SMTP always has; smtps:// requires TLS.) Nor is the password
// ever printed: String, the errors of New and Send, and a Mailer in a log
// show the URL with it replaced by REDACTED.
package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// DefaultTimeout bounds a Send when Options.Timeout is not set.
const DefaultTimeout = 10 * time.Second

// The default ports: submission with STARTTLS, and submission over TLS.
const (
	portSubmission  = "587"
	portSubmissions = "465"
)

// redacted stands for a password wherever a URL is shown.
const redacted = "REDACTED"

// Options are a Mailer's settings other than its URL and From address.
type Options struct {
	// RootCAs verify the server's certificate; nil means the system's.
	RootCAs *x509.CertPool
	// Timeout bounds each Send, from dialing to the server's acceptance of
	// the message; zero means DefaultTimeout.
	Timeout time.Duration
	// HelloName is the name the client gives in EHLO; "" means
	// "localhost". Over STARTTLS the first EHLO, before TLS, always says
	// "localhost" (the SMTP library's client does not let it be changed);
	// the EHLO over TLS, the one a server judges, says HelloName.
	HelloName string
}

// A Mailer sends mail through one SMTP server, from one address. It is safe
// for concurrent use: each Send opens its own connection.
type Mailer struct {
	implicitTLS bool   // smtps
	host, port  string // host without brackets
	user, pass  string // decoded; user "" for no authentication
	from        *netmail.Address
	fromDomain  string // for generated Message-IDs
	envFrom     string // MAIL FROM
	opts        Options

	// dialAddr, when not "", is dialed instead of host:port (tests: a
	// listener on 127.0.0.1 standing for another host).
	dialAddr string
}

// New returns a Mailer for the SMTP URL rawURL, sending from the address
// from (such as "Latchkey <latchkey@example.com>"). Its errors show rawURL
// redacted, never its password.
func New(rawURL, from string, opts Options) (*Mailer, error) {
	m, err := parseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("mail: the SMTP URL %q %w", Redact(rawURL), err)
	}
	if m.from, err = netmail.ParseAddress(from); err != nil || strings.ContainsAny(from, "\r\n") {
		return nil, fmt.Errorf("mail: the From address %q is not one mail address such as \"Latchkey <latchkey@example.com>\"", from)
	}
	m.envFrom = envelope(m.from)
	m.fromDomain = m.from.Address[strings.LastIndexByte(m.from.Address, '@')+1:]
	if len("From: ")+len(m.from.String()) > maxLine {
		return nil, fmt.Errorf("mail: the From address %q is too long", from)
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("mail: a negative timeout (%v)", opts.Timeout)
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.HelloName == "" {
		opts.HelloName = "localhost"
	}
	if !validHelloName(opts.HelloName) {
		return nil, fmt.Errorf("mail: the EHLO name %q is not a host name", opts.HelloName)
	}
	m.opts = opts
	return m, nil
}

// parseURL reads an SMTP URL into a Mailer. Its errors complete a sentence
// that begins with the URL, and never quote a part of it.
func parseURL(rawURL string) (*Mailer, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error quotes the whole URL, and its cause may quote a
		// piece of the password: neither is repeated.
		if _, ok := errors.AsType[url.EscapeError](err); ok {
			return nil, errors.New("has a bad %-escape")
		}
		return nil, errors.New("is not a valid URL")
	}
	m := &Mailer{}
	switch u.Scheme {
	case "smtp":
		m.port = portSubmission
	case "smtps":
		m.implicitTLS, m.port = true, portSubmissions
	default:
		return nil, errors.New("is neither smtp://HOST[:PORT] nor smtps://HOST[:PORT]")
	}
	switch {
	case u.Opaque != "" || u.Host == "":
		return nil, errors.New("names no host")
	case u.Path != "" || u.RawPath != "":
		return nil, errors.New("has a path: want only [USER:PASSWORD@]HOST[:PORT]")
	case u.RawQuery != "" || u.ForceQuery:
		return nil, errors.New("has a query: want only [USER:PASSWORD@]HOST[:PORT]")
	case strings.Contains(rawURL, "#"):
		return nil, errors.New("has a fragment: want only [USER:PASSWORD@]HOST[:PORT]")
	}
	m.host = u.Hostname()
	if m.host == "" {
		return nil, errors.New("names no host")
	}
	if strings.Contains(m.host, ":") && !strings.HasPrefix(u.Host, "[") {
		// url.Parse takes the last colon's digits as the port and leaves
		// the rest, "h:25" of "h:25:26", as the host; an IPv6 address
		// is written in brackets.
		return nil, errors.New("has more than one port, or an IPv6 address without brackets")
	}
	if p := u.Port(); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return nil, errors.New("has a port that is not from 1 to 65535")
		}
		m.port = strconv.Itoa(port) // "0587" is 587
	}
	if u.User != nil {
		m.user = u.User.Username()
		pass, ok := u.User.Password()
		if m.user == "" || !ok || pass == "" {
			return nil, errors.New("has a user without a password, or a password without a user")
		}
		m.pass = pass
	}
	return m, nil
}

// validHelloName reports whether s can follow EHLO: printable ASCII, no
// space.
func validHelloName(s string) bool {
	for i := range len(s) {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return len(s) <= 255
}

// String returns the Mailer's URL, with its default port if none was
// given, and its password redacted: "smtp://user:REDACTED@host:587".
func (m *Mailer) String() string {
	u := url.URL{Scheme: "smtp", Host: net.JoinHostPort(m.host, m.port)}
	if m.implicitTLS {
		u.Scheme = "smtps"
	}
	if m.user != "" {
		u.User = url.UserPassword(m.user, redacted)
	}
	return u.String()
}

// GoString is String, so that %#v does not print the password.
func (m *Mailer) GoString() string { return m.String() }

// LogValue is String, so that a log never holds the password.
func (m *Mailer) LogValue() slog.Value { return slog.StringValue(m.String()) }

// Redact returns rawURL with its password replaced by REDACTED, whether or
// not it is a valid URL: whatever lies between the first colon after the
// scheme's "//" and the last "@" (as much as any URL parser could take for a
// password, and sometimes more). For error messages and logs.
func Redact(rawURL string) string {
	prefix, rest := "", rawURL
	if i := strings.Index(rawURL, "://"); i >= 0 {
		prefix, rest = rawURL[:i+3], rawURL[i+3:]
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		// No user information, unless a password was written where a
		// port goes ("smtp://user:password", the host forgotten): what
		// follows the last colon is shown only when it is a port.
		host, after, ok := cutLast(rest, ":")
		if !ok || strings.Trim(strings.TrimRight(after, "/"), "0123456789") == "" {
			return rawURL
		}
		return prefix + host + ":" + redacted
	}
	user, _, ok := strings.Cut(rest[:at], ":")
	if strings.Contains(user, ";") || strings.Contains(strings.ToLower(user), "%3a") {
		// A user that may hold the password in another spelling
		// ("u;pass", "u%3Apass"): all of it is hidden.
		return prefix + redacted + rest[at:]
	}
	if !ok {
		return rawURL
	}
	return prefix + user + ":" + redacted + rest[at:]
}

// cutLast is strings.Cut at the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// Send sends msg, and returns once the server has accepted it. It gives up
// when ctx ends or the Mailer's timeout passes, whichever is first.
//
// Its errors name the server by String(). A server's refusal is an
// *smtp.SMTPError in the chain (unless its text quoted the password, which
// is then replaced, and the chain cut): a code of 500 and up is permanent
// (a recipient that does not exist), one below is worth retrying. When ctx
// ends or the timeout passes, the chain holds ctx's error.
func (m *Mailer) Send(ctx context.Context, msg Message) error {
	to, data, err := m.compose(msg, time.Now)
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, m.opts.Timeout)
	defer cancel()
	if err := m.deliver(ctx, to, data); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			// Closing the connection at the deadline failed the
			// exchange: the deadline is the cause.
			err = ctxErr
		}
		return m.redactError(fmt.Errorf("mail: sending through %s: %w", m, err))
	}
	return nil
}

// MaxRead is the most a session reads from the server: its replies are a
// few lines each.
const MaxRead = 256 << 10

// errTooMuch is the error of a session that read MaxRead.
var errTooMuch = fmt.Errorf("the mail server said more than %d KiB: hung up", MaxRead>>10)

// boundedConn is a connection that reads at most left bytes more.
type boundedConn struct {
	net.Conn
	left int
}

func (c *boundedConn) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errTooMuch
	}
	if len(p) > c.left {
		p = p[:c.left]
	}
	n, err := c.Conn.Read(p)
	c.left -= n
	return n, err
}

// errNoStartTLS is go-smtp's error when the server does not offer STARTTLS
// (NewClientStartTLS). Only this error lets deliver go on without TLS;
// should the library reword it, mail that could go in clear fails instead.
const errNoStartTLS = "smtp: server doesn't support STARTTLS"

// deliver speaks SMTP to the server until it accepts data for to.
func (m *Mailer) deliver(ctx context.Context, to string, data []byte) error {
	c, hangUp, err := m.connect(ctx, true)
	if err != nil && err.Error() == errNoStartTLS {
		// go-smtp closed that connection rather than go on in clear.
		c, hangUp, err = m.connect(ctx, false)
	}
	if err != nil {
		return err
	}
	defer hangUp()
	if m.user != "" {
		if err := m.auth(c); err != nil {
			return err
		}
	}
	if err := c.SendMail(m.envFrom, []string{to}, bytes.NewReader(data)); err != nil {
		return err
	}
	// The server accepted the message: a failed QUIT does not undo
	// that, and sending again would deliver it twice.
	_ = c.Quit()
	return nil
}

// connect dials the server and returns a client that said EHLO: over TLS
// for smtps, over STARTTLS for smtp when startTLS is set, in clear
// otherwise; and hangUp, which closes the connection. The connection also
// closes when ctx ends, whatever the client is waiting for.
func (m *Mailer) connect(ctx context.Context, startTLS bool) (c *smtp.Client, hangUp func(), err error) {
	addr := m.dialAddr
	if addr == "" {
		addr = net.JoinHostPort(m.host, m.port)
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	// The client reads a reply of any length: a server, or anyone on the
	// way before STARTTLS, could make it hold gigabytes.
	conn := &boundedConn{Conn: raw, left: MaxRead}
	// The client's own deadlines are per command, and it clears them
	// after each: closing the connection is what holds it to ctx.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	hangUp = func() {
		stop()
		conn.Close() // under TLS too: a close_notify is not worth a wait
	}
	if c, err = m.client(ctx, conn, startTLS); err != nil {
		hangUp()
		return nil, nil, err
	}
	return c, hangUp, nil
}

func (m *Mailer) client(ctx context.Context, conn net.Conn, startTLS bool) (*smtp.Client, error) {
	config := &tls.Config{ServerName: m.host, RootCAs: m.opts.RootCAs, MinVersion: tls.VersionTLS12}
	var c *smtp.Client
	switch {
	case m.implicitTLS:
		tc := tls.Client(conn, config)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("TLS: %w", err)
		}
		c = smtp.NewClient(tc)
	case startTLS:
		var err error
		if c, err = smtp.NewClientStartTLS(conn, config); err != nil {
			return nil, err
		}
	default:
		c = smtp.NewClient(conn)
	}
	if err := c.Hello(m.opts.HelloName); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// auth authenticates with PLAIN, or LOGIN when the server offers only
// that, and only over TLS or to a loopback host.
func (m *Mailer) auth(c *smtp.Client) error {
	if _, ok := c.TLSConnectionState(); !ok && !m.loopback() {
		// The one way here without TLS: smtp:// to a server that does
		// not offer STARTTLS.
		return errors.New("the server did not offer STARTTLS; refusing to send the password in clear")
	}
	var a sasl.Client
	switch {
	case c.SupportsAuth(sasl.Plain):
		a = sasl.NewPlainClient("", m.user, m.pass)
	case c.SupportsAuth(sasl.Login):
		a = sasl.NewLoginClient(m.user, m.pass)
	default:
		_, mechs := c.Extension("AUTH")
		if mechs == "" {
			return errors.New("the URL has a password, but the server offers no authentication")
		}
		return fmt.Errorf("the server offers authentication by %s, neither PLAIN nor LOGIN", mechs)
	}
	if err := c.Auth(a); err != nil {
		return fmt.Errorf("authentication as %q: %w", m.user, err)
	}
	return nil
}

// loopback reports whether the URL's host is localhost or a loopback
// address, where a password may go in clear: it never leaves the machine.
func (m *Mailer) loopback() bool {
	if strings.EqualFold(m.host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(m.host)
	return err == nil && ip.IsLoopback()
}

// redactError returns err with the password, should a server's reply quote
// it, replaced by REDACTED.
func (m *Mailer) redactError(err error) error {
	if m.pass == "" {
		return err
	}
	msg := err.Error()
	red := strings.ReplaceAll(msg, m.pass, redacted)
	if esc := url.PathEscape(m.pass); esc != m.pass {
		red = strings.ReplaceAll(red, esc, redacted)
	}
	if red == msg {
		return err
	}
	return errors.New(red) // not wrapped: the cause would quote it again
}

// Permanent reports whether err, from Send, is a refusal the server says
// will not change (a reply code of 500 and up: no such mailbox, say), so
// that sending again is pointless.
func Permanent(err error) bool {
	var e *smtp.SMTPError
	return errors.As(err, &e) && e.Code >= 500
}
