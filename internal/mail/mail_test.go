package mail_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"
	"github.com/latchkey/latchkey/internal/mail"
)

const testFrom = "Latchkey <latchkey@example.com>"

// testMessage is a message with a subject that needs encoding, and lines
// that quoted-printable must carry.
var testMessage = mail.Message{
	To:        "Ada Lovelace <ada@example.org>",
	Subject:   "Votre jeton « nightly export » expire bientôt",
	Text:      "Hello Ada,\n\nyour token expires in 7 days.\nA line with = and trailing space \n" + strings.Repeat("long ", 40) + "\n",
	HTML:      "<p>Hello Ada,</p>\n<p>your token &laquo;nightly&raquo; expires in <b>7 days</b>.</p>\n",
	MessageID: "msg_01J0000000000000000000000A",
	Date:      time.Date(2026, 3, 1, 17, 45, 10, 0, time.UTC),
}

// newMailer returns a Mailer for rawURL that trusts the test certificate
// and, when via is not "", dials via in place of the URL's host.
func newMailer(t *testing.T, rawURL string, opts mail.Options, via string) *mail.Mailer {
	t.Helper()
	m, err := mail.New(rawURL, testFrom, opts)
	if err != nil {
		t.Fatalf("New(%q) = %v", mail.Redact(rawURL), err)
	}
	if via != "" {
		mail.DialVia(m, via)
	}
	return m
}

// noPassword fails t when s holds the test password, as it is or as a URL
// writes it.
func noPassword(t *testing.T, what, s string) {
	t.Helper()
	if strings.Contains(s, testPass) || strings.Contains(s, testPassURL) {
		t.Errorf("%s holds the password: %s", what, s)
	}
}

// received is a message as the server got it, parsed.
type received struct {
	Header      netmail.Header
	Subject     string            // decoded
	ContentType string            // without its parameters
	Parts       map[string]string // by media type, decoded
	CTEs        []string          // each part's Content-Transfer-Encoding
}

// parse reads a message as a mail reader would: net/mail, mime/multipart
// and quoted-printable.
func parse(t testing.TB, data []byte) received {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the message does not parse: %v\n%s", err, data)
	}
	r := received{Header: msg.Header, Parts: map[string]string{}}
	if r.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("Subject %q: %v", msg.Header.Get("Subject"), err)
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	r.ContentType = mediaType
	addPart := func(typ, cte string, body io.Reader) {
		t.Helper()
		r.CTEs = append(r.CTEs, cte)
		if cte == "quoted-printable" {
			body = quotedprintable.NewReader(body)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatalf("part %s: %v", typ, err)
		}
		r.Parts[typ] = string(b)
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		addPart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
		return r
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart() // raw: NextPart would decode and drop the encoding
		if err == io.EOF {
			return r
		}
		if err != nil {
			t.Fatalf("multipart: %v\n%s", err, data)
		}
		addPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
	}
}

// crlf is s with its line breaks as quoted-printable carries them.
func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n"), "\n", "\r\n")
}

// checkMessage checks a message the server got for testMessage.
func checkMessage(t *testing.T, got session) {
	t.Helper()
	if got.From != "latchkey@example.com" || !cmp.Equal(got.To, []string{"ada@example.org"}) {
		t.Errorf("envelope: MAIL FROM %q, RCPT TO %q; want latchkey@example.com, [ada@example.org]", got.From, got.To)
	}
	if bytes.Contains(bytes.ReplaceAll(got.Data, []byte("\r\n"), nil), []byte("\n")) {
		t.Errorf("the message has a line break other than CRLF:\n%q", got.Data)
	}
	r := parse(t, got.Data)
	for _, h := range []struct{ key, want string }{
		{"From", `"Latchkey" <latchkey@example.com>`},
		{"To", `"Ada Lovelace" <ada@example.org>`},
		{"Date", "Sun, 01 Mar 2026 17:45:10 +0000"},
		{"Message-Id", "<msg_01J0000000000000000000000A@example.com>"},
		{"Mime-Version", "1.0"},
	} {
		if got := r.Header.Get(h.key); got != h.want {
			t.Errorf("header %s: %q, want %q", h.key, got, h.want)
		}
	}
	if r.Subject != testMessage.Subject {
		t.Errorf("Subject decodes to %q, want %q", r.Subject, testMessage.Subject)
	}
	if r.ContentType != "multipart/alternative" {
		t.Errorf("Content-Type %q, want multipart/alternative", r.ContentType)
	}
	want := map[string]string{
		"text/plain; charset=utf-8": crlf(testMessage.Text),
		"text/html; charset=utf-8":  crlf(testMessage.HTML),
	}
	if diff := cmp.Diff(want, r.Parts); diff != "" {
		t.Errorf("parts (-want +got):\n%s", diff)
	}
	if !cmp.Equal(r.CTEs, []string{"quoted-printable", "quoted-printable"}) {
		t.Errorf("Content-Transfer-Encodings %q, want quoted-printable for both parts", r.CTEs)
	}
}

// Over STARTTLS: TLS before the password, the certificate checked against
// the URL's host (not the address dialed), and the message whole.
func TestSendSTARTTLS(t *testing.T) {
	cert, pool := testCert(t)
	srv := startServer(t, cert, serverConfig{TLS: "starttls"})
	m := newMailer(t, "smtp://"+strings.ReplaceAll(testUser, "@", "%40")+":"+testPassURL+"@mail.test", mail.Options{RootCAs: pool}, srv.Addr)
	if err := m.Send(t.Context(), testMessage); err != nil {
		t.Fatalf("Send() = %v", err)
	}
	got := srv.Mail(t)
	if !got.TLS || got.AuthUser != testUser || !got.AuthTLS {
		t.Errorf("session: TLS %v, authenticated as %q, over TLS %v; want TLS, %q, over TLS", got.TLS, got.AuthUser, got.AuthTLS, testUser)
	}
	checkMessage(t, got)
}

// Over smtps:// TLS comes first; LOGIN serves when PLAIN is not offered.
func TestSendImplicitTLS(t *testing.T) {
	cert, pool := testCert(t)
	for _, mechs := range [][]string{{sasl.Plain, sasl.Login}, {sasl.Login}} {
		t.Run(strings.Join(mechs, ","), func(t *testing.T) {
			srv := startServer(t, cert, serverConfig{TLS: "implicit", Mechs: mechs})
			m := newMailer(t, "smtps://"+testUser+":"+testPassURL+"@mail.test", mail.Options{RootCAs: pool}, srv.Addr)
			if err := m.Send(t.Context(), testMessage); err != nil {
				t.Fatalf("Send() = %v", err)
			}
			got := srv.Mail(t)
			if !got.TLS || got.AuthUser != testUser || !got.AuthTLS {
				t.Errorf("session: TLS %v, authenticated as %q, over TLS %v; want TLS, %q, over TLS", got.TLS, got.AuthUser, got.AuthTLS, testUser)
			}
			checkMessage(t, got)
		})
	}
}

// Without STARTTLS, a password goes in clear only to a loopback host;
// mail without a password goes in clear to any.
func TestSendWithoutTLS(t *testing.T) {
	cert, _ := testCert(t)
	for _, tc := range []struct {
		name, url string
		via       bool   // dial the server in place of the URL's host
		wantErr   string // "" for sent
		wantAuth  bool
	}{
		{"loopback address", "smtp://" + testUser + ":" + testPassURL + "@127.0.0.1:PORT", false, "", true},
		{"localhost", "smtp://" + testUser + ":" + testPassURL + "@LocalHost:PORT", false, "", true},
		{"password to another host", "smtp://" + testUser + ":" + testPassURL + "@mail.test", true,
			"the server did not offer STARTTLS; refusing to send the password in clear", false},
		{"no password, another host", "smtp://mail.test", true, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, cert, serverConfig{InsecureAuth: true})
			_, port, _ := net.SplitHostPort(srv.Addr)
			via := ""
			if tc.via {
				via = srv.Addr
			}
			m := newMailer(t, strings.Replace(tc.url, "PORT", port, 1), mail.Options{}, via)
			err := m.Send(t.Context(), testMessage)
			sessions := srv.Sessions()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Send() = %v, want an error saying %q", err, tc.wantErr)
				}
				noPassword(t, "Send's error", err.Error())
				for _, s := range sessions {
					if s.AuthTried || s.Data != nil {
						t.Errorf("a session tried AUTH %v, sent a message %v; want neither", s.AuthTried, s.Data != nil)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Send() = %v", err)
			}
			var sent int
			for _, s := range sessions {
				if s.TLS || s.AuthTried && !tc.wantAuth {
					t.Errorf("session: TLS %v, AUTH tried %v", s.TLS, s.AuthTried)
				}
				if s.Data != nil {
					sent++
					if tc.wantAuth && s.AuthUser != testUser {
						t.Errorf("the message came authenticated as %q, want %q", s.AuthUser, testUser)
					}
					checkMessage(t, s)
				}
			}
			if sent != 1 {
				t.Errorf("the server got %d messages, want 1", sent)
			}
		})
	}
}

// Failures: each an error that names the server without the password, and
// no message delivered.
func TestSendFails(t *testing.T) {
	cert, pool := testCert(t)
	for _, tc := range []struct {
		name, url string
		server    serverConfig
		wantErr   string
		wantCode  int  // the SMTPError's, 0 for none
		authed    bool // the client authenticated before the failure
	}{
		{"certificate for another name", "smtp://" + testUser + ":" + testPassURL + "@other.test",
			serverConfig{TLS: "starttls"}, "certificate is valid for", 0, false},
		{"certificate for another name, smtps", "smtps://" + testUser + ":" + testPassURL + "@other.test",
			serverConfig{TLS: "implicit"}, "certificate is valid for", 0, false},
		{"wrong password", "smtp://" + testUser + ":" + testPassURL + "x@mail.test",
			serverConfig{TLS: "starttls"}, "authentication as", 535, false},
		{"no AUTH offered", "smtp://" + testUser + ":" + testPassURL + "@mail.test",
			serverConfig{TLS: "starttls", Mechs: []string{}}, "the server offers no authentication", 0, false},
		{"only CRAM-MD5 offered", "smtp://" + testUser + ":" + testPassURL + "@mail.test",
			serverConfig{TLS: "starttls", Mechs: []string{"CRAM-MD5"}}, "CRAM-MD5, neither PLAIN nor LOGIN", 0, false},
		{"recipient refused", "smtp://" + testUser + ":" + testPassURL + "@mail.test",
			serverConfig{TLS: "starttls", RejectRcpt: true}, "No such user here", 550, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, cert, tc.server)
			m := newMailer(t, tc.url, mail.Options{RootCAs: pool}, srv.Addr)
			err := m.Send(t.Context(), testMessage)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), m.String()) {
				t.Fatalf("Send() = %v, want an error naming %s and saying %q", err, m, tc.wantErr)
			}
			noPassword(t, "Send's error", err.Error())
			if se, ok := errors.AsType[*smtp.SMTPError](err); tc.wantCode != 0 && (!ok || se.Code != tc.wantCode) {
				t.Errorf("Send() = %v, want an SMTP error %d in its chain", err, tc.wantCode)
			}
			for _, s := range srv.Sessions() {
				if s.Data != nil || s.AuthUser != "" && !tc.authed {
					t.Errorf("a session authenticated as %q, sent a message %v; want neither", s.AuthUser, s.Data != nil)
				}
			}
		})
	}
}

// silentServer accepts connections and never says a word. It reports on
// accepted each connection it accepts, and on closed when the client
// closed it.
func silentServer(t *testing.T) (addr string, accepted, closed <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	acc, cl := make(chan struct{}, 4), make(chan struct{}, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			acc <- struct{}{}
			go func() {
				defer c.Close()
				io.Copy(io.Discard, c) // until the client closes
				cl <- struct{}{}
			}()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return l.Addr().String(), acc, cl
}

// A server that never answers: Send returns once its context ends or its
// timeout passes, with that cause, and closes the connection.
func TestSendSilentServer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scheme string
		cancel bool // cancel the context once connected; else a short timeout
		want   error
	}{
		{"cancel", "smtp", true, context.Canceled},
		{"cancel smtps", "smtps", true, context.Canceled},
		{"timeout", "smtp", false, context.DeadlineExceeded},
		{"timeout smtps", "smtps", false, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, accepted, closed := silentServer(t)
			opts := mail.Options{}
			if !tc.cancel {
				opts.Timeout = 50 * time.Millisecond
			}
			m := newMailer(t, tc.scheme+"://"+testUser+":"+testPassURL+"@mail.test", opts, addr)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- m.Send(ctx, testMessage) }()
			<-accepted
			if tc.cancel {
				cancel()
			}
			err := <-errc
			if !errors.Is(err, tc.want) {
				t.Errorf("Send() = %v, want %v", err, tc.want)
			}
			noPassword(t, "Send's error", fmt.Sprint(err))
			<-closed
		})
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"smtp://mail.example.com", "smtp://mail.example.com:587"},
		{"SMTP://Mail.Example.com:25", "smtp://Mail.Example.com:25"},
		{"smtps://mail.example.com", "smtps://mail.example.com:465"},
		{"smtp://u:" + testPassURL + "@mail.example.com:2525", "smtp://u:REDACTED@mail.example.com:2525"},
		{"smtps://notify%40example.com:" + testPassURL + "@[::1]", "smtps://notify%40example.com:REDACTED@[::1]:465"},
		{"smtp://u:pw@127.0.0.1:0587", "smtp://u:REDACTED@127.0.0.1:587"},
		{"smtp://u:pw@mail.example.com:", "smtp://u:REDACTED@mail.example.com:587"},
	} {
		m, err := mail.New(tc.url, testFrom, mail.Options{})
		if err != nil {
			t.Errorf("New(%q) = %v", tc.url, err)
			continue
		}
		for _, got := range []string{m.String(), fmt.Sprintf("%v %+v %#v %s", m, m, m, m), logged(m)} {
			if !strings.Contains(got, tc.want) {
				t.Errorf("New(%q) shows as %q, want %q", tc.url, got, tc.want)
			}
			noPassword(t, "a Mailer shown", got)
		}
	}
}

// logged is m as a JSON log line shows it.
func logged(m *mail.Mailer) string {
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("mail", "mailer", m)
	return b.String()
}

func TestNewErrors(t *testing.T) {
	pw := testPassURL
	for _, tc := range []struct{ url, from, want string }{
		{"", testFrom, "is neither smtp://"},
		{"mail.example.com:587", testFrom, "is neither smtp://"},
		{"http://u:" + pw + "@mail.example.com", testFrom, "is neither smtp://"},
		{"smtp://u:" + pw + "@", testFrom, "names no host"},
		{"smtp:u:" + pw + "@mail.example.com", testFrom, "names no host"},
		{"smtp://u:" + pw + "@mail.example.com/", testFrom, "has a path"},
		{"smtp://u:" + pw + "@mail.example.com?tls=off", testFrom, "has a query"},
		{"smtp://u:" + pw + "@mail.example.com?", testFrom, "has a query"},
		{"smtp://u:" + pw + "@mail.example.com#x", testFrom, "has a fragment"},
		{"smtp://u:" + pw + "@mail.example.com#", testFrom, "has a fragment"},
		{"smtp://u:" + pw + "@mail.example.com:70000", testFrom, "not from 1 to 65535"},
		{"smtp://u:" + pw + "@mail.example.com:0", testFrom, "not from 1 to 65535"},
		{"smtp://u:" + pw + "@mail.example.com:25:26", testFrom, "more than one port"},
		{"smtp://u:" + pw + "@::1:25", testFrom, "more than one port"},
		{"smtp://u:" + pw + "@mail.example.com:x", testFrom, "is not a valid URL"},
		{"smtp://u:" + pw + "%zz@mail.example.com", testFrom, "has a bad %-escape"},
		{"smtp://u:" + testPass + "@mail.example.com", testFrom, "REDACTED"}, // unescaped: a path
		{"smtp://u@mail.example.com", testFrom, "a user without a password"},
		{"smtp://:" + pw + "@mail.example.com", testFrom, "a password without a user"},
		{"smtp://u:@mail.example.com", testFrom, "a user without a password"},
		{"smtp://u:" + pw + "@mail.example.com", "", "is not one mail address"},
		{"smtp://u:" + pw + "@mail.example.com", "a@example.com, b@example.com", "is not one mail address"},
		{"smtp://u:" + pw + "@mail.example.com", "latchkey@example.com\r\nBcc: x@example.com", "is not one mail address"},
		{"smtp://u:" + pw + "@mail.example.com", "latchkey", "is not one mail address"},
	} {
		_, err := mail.New(tc.url, tc.from, mail.Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q, %q) = %v, want an error saying %q", tc.url, tc.from, err, tc.want)
			continue
		}
		noPassword(t, "New's error", err.Error())
	}
	for _, opts := range []mail.Options{{HelloName: "a b"}, {HelloName: "x\r\nRSET"}, {Timeout: -time.Second}} {
		if _, err := mail.New("smtp://mail.example.com", testFrom, opts); err == nil {
			t.Errorf("New with %+v = nil, want an error", opts)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"smtp://mail.example.com", "smtp://mail.example.com"},
		{"smtp://u@mail.example.com:587", "smtp://u@mail.example.com:587"},
		{"smtp://u:pw@mail.example.com:587", "smtp://u:REDACTED@mail.example.com:587"},
		{"smtps://u%40x:p%40ss@h", "smtps://u%40x:REDACTED@h"},
		{"smtp://u:p@ss/w?r#d@h", "smtp://u:REDACTED@h"},
		{"smtp://u:p@ss@h/x@y", "smtp://u:REDACTED@y"}, // not a valid SMTP URL: more than the password goes
		{"smtp://:pw@h", "smtp://:REDACTED@h"},
		{"u:pw@h", "u:REDACTED@h"},
		{"no password here", "no password here"},
		{"smtp://u:PASS", "smtp://u:REDACTED"}, // the host forgotten: not a port
		{"smtp://mail.example.com:587", "smtp://mail.example.com:587"},
		{"smtp://mail.example.com:587/", "smtp://mail.example.com:587/"},
		{"smtp://u;PASS@h", "smtp://REDACTED@h"},
		{"smtp://u%3APASS@h", "smtp://REDACTED@h"},
		{"smtp://u%3aPASS@h", "smtp://REDACTED@h"},
		{"", ""},
	} {
		if got := mail.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// compose builds testMessage with changes, from a Mailer of testFrom.
func compose(t testing.TB, change func(*mail.Message)) ([]byte, error) {
	t.Helper()
	m, err := mail.New("smtp://mail.example.com", testFrom, mail.Options{})
	if err != nil {
		t.Fatal(err)
	}
	msg := testMessage
	if change != nil {
		change(&msg)
	}
	_, data, err := mail.Compose(m, msg, time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC))
	return data, err
}

func TestComposeRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*mail.Message)
		want   string
	}{
		{"To with CRLF", func(m *mail.Message) { m.To = "ada@example.org\r\nBcc: eve@example.net" }, "line break"},
		{"To with LF", func(m *mail.Message) { m.To = "Ada\n <ada@example.org>" }, "line break"},
		{"two recipients", func(m *mail.Message) { m.To = "ada@example.org, eve@example.net" }, "not one mail address"},
		{"no recipient", func(m *mail.Message) { m.To = "" }, "not one mail address"},
		{"Subject with CRLF", func(m *mail.Message) { m.Subject = "hi\r\nBcc: eve@example.net" }, "line break"},
		{"Subject with CR", func(m *mail.Message) { m.Subject = "hi\rthere" }, "line break"},
		{"Subject with LF", func(m *mail.Message) { m.Subject = "hi\nX-Evil: 1" }, "line break"},
		{"Subject not UTF-8", func(m *mail.Message) { m.Subject = "\xff" }, "not UTF-8"},
		{"Text not UTF-8", func(m *mail.Message) { m.Text = "\xff" }, "not UTF-8"},
		{"no text", func(m *mail.Message) { m.Text = "" }, "no text"},
		{"Message-ID with CRLF", func(m *mail.Message) { m.MessageID = "a\r\nBcc: eve@example.net" }, "Message-ID"},
		{"Message-ID with brackets", func(m *mail.Message) { m.MessageID = "<a@b>" }, "Message-ID"},
		{"Message-ID with two @", func(m *mail.Message) { m.MessageID = "a@b@c" }, "Message-ID"},
		{"long ASCII subject", func(m *mail.Message) { m.Subject = strings.Repeat("x", 990) }, "too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := compose(t, tc.change); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("compose = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestCompose(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(*mail.Message)
		check   func(t *testing.T, r received)
		wantCTE []string
	}{
		{"ASCII subject as it is", func(m *mail.Message) { m.Subject = "  Your token expires soon\t" }, func(t *testing.T, r received) {
			if got := r.Header.Get("Subject"); got != "Your token expires soon" {
				t.Errorf("Subject %q, want it as given, trimmed", got)
			}
		}, nil},
		{"long non-ASCII subject folded", func(m *mail.Message) { m.Subject = strings.Repeat("jeton expiré ", 60) }, func(t *testing.T, r received) {
			if want := strings.TrimSpace(strings.Repeat("jeton expiré ", 60)); r.Subject != want {
				t.Errorf("Subject decodes to %q, want %q", r.Subject, want)
			}
		}, nil},
		{"no HTML: text/plain alone", func(m *mail.Message) { m.HTML = "" }, func(t *testing.T, r received) {
			if diff := cmp.Diff(map[string]string{"text/plain; charset=utf-8": crlf(testMessage.Text)}, r.Parts); diff != "" {
				t.Errorf("parts (-want +got):\n%s", diff)
			}
			if !cmp.Equal(r.CTEs, []string{"quoted-printable"}) {
				t.Errorf("Content-Transfer-Encoding %q, want quoted-printable", r.CTEs)
			}
		}, nil},
		{"no Date, no Message-ID", func(m *mail.Message) { m.Date, m.MessageID = time.Time{}, "" }, func(t *testing.T, r received) {
			if d, err := r.Header.Date(); err != nil || !d.Equal(time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)) {
				t.Errorf("Date %v, %v; want the clock's", d, err)
			}
			if id := r.Header.Get("Message-Id"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.com>") || len(id) < 20 {
				t.Errorf("Message-ID %q, want <RANDOM@example.com>", id)
			}
		}, nil},
		{"Message-ID with its domain", func(m *mail.Message) { m.MessageID = "msg_1@latchkey.example" }, func(t *testing.T, r received) {
			if id := r.Header.Get("Message-Id"); id != "<msg_1@latchkey.example>" {
				t.Errorf("Message-ID %q, want <msg_1@latchkey.example>", id)
			}
		}, nil},
		{"quoted recipient", func(m *mail.Message) { m.To = `"Eve, the \"admin\"" <"e v e"@example.net>` }, func(t *testing.T, r received) {
			a, err := r.Header.AddressList("To")
			if err != nil || len(a) != 1 || a[0].Name != `Eve, the "admin"` || a[0].Address != "e v e@example.net" {
				t.Errorf("To %q parses to %v, %v", r.Header.Get("To"), a, err)
			}
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := compose(t, tc.change)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, parse(t, data))
		})
	}
	// The envelope recipient is quoted as the header is.
	m, _ := mail.New("smtp://mail.example.com", testFrom, mail.Options{})
	to, _, err := mail.Compose(m, mail.Message{To: `"e v e"@example.net`, Text: "x"}, time.Now())
	if err != nil || to != `"e v e"@example.net` {
		t.Errorf("the envelope recipient is %q, %v; want %q", to, err, `"e v e"@example.net`)
	}
}

// A server whose EHLO reply never ends: the session stops reading at
// MaxRead and fails, rather than hold all it is sent.
func TestSendEndlessReply(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	wrote := make(chan int64, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprint(c, "220 mx.test ESMTP\r\n")
		bufio.NewReader(c).ReadString('\n') // EHLO
		line := []byte("250-" + strings.Repeat("x", 1000) + "\r\n")
		var n int64
		for {
			k, err := c.Write(line)
			n += int64(k)
			if err != nil {
				wrote <- n
				return
			}
		}
	}()
	m := newMailer(t, "smtp://localhost", mail.Options{}, l.Addr().String())
	err = m.Send(t.Context(), testMessage)
	if err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("Send = %v, want it to give up on the endless reply", err)
	}
	// The client hung up: the server's writes failed soon after MaxRead.
	if n := <-wrote; n < mail.MaxRead {
		t.Errorf("the server wrote only %d bytes", n)
	}
}

func TestPermanent(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&smtp.SMTPError{Code: 550, Message: "no such mailbox"}, true},
		{fmt.Errorf("mail: sending: %w", &smtp.SMTPError{Code: 554}), true},
		{&smtp.SMTPError{Code: 500}, true},
		{&smtp.SMTPError{Code: 499}, false},
		{&smtp.SMTPError{Code: 451, Message: "try later"}, false},
		{errors.New("connection refused"), false},
		{nil, false},
	} {
		if got := mail.Permanent(c.err); got != c.want {
			t.Errorf("Permanent(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
