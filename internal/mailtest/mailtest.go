// Package mailtest is an SMTP server for tests: a real one (go-smtp's) on
// a loopback port, that takes mail without TLS, accepts any PLAIN login,
// and hands each message over parsed as a mail reader would read it.
package mailtest

import (
	"bytes"
	"errors"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one message the server took.
type Message struct {
	From     string   // the envelope's
	To       []string // the envelope's
	Login    string   // the user who logged in, "" for none
	Header   netmail.Header
	Subject  string // decoded
	Text     string // the text/plain part, decoded
	HTML     string // the text/html part, decoded
	Raw      []byte
	ParseErr error // what went wrong reading it as a mail reader would
}

// Server is a running test SMTP server.
type Server struct {
	Addr     string // host:port
	Messages chan Message

	srv    *smtp.Server
	mu     sync.Mutex
	refuse int // the reply code to every recipient; 0 to take them
}

// Start starts a server; it stops when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{Messages: make(chan Message, 256)}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	s.srv.Domain = "mail.test"
	s.srv.AllowInsecureAuth = true
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s.Addr = l.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); _ = s.srv.Serve(l) }()
	tb.Cleanup(func() { s.srv.Close(); <-done })
	return s
}

// Refuse makes the server refuse every recipient with code: 451 is a
// temporary failure, 550 a permanent one (no such mailbox); 0 takes them
// again.
func (s *Server) Refuse(code int) {
	s.mu.Lock()
	s.refuse = code
	s.mu.Unlock()
}

// session is one SMTP session.
type session struct {
	s     *Server
	login string
	from  string
	to    []string
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, _ string) error { ss.login = user; return nil }), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error { ss.from = from; return nil }

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	refuse := ss.s.refuse
	ss.s.mu.Unlock()
	if refuse != 0 {
		return &smtp.SMTPError{Code: refuse, EnhancedCode: smtp.EnhancedCode{refuse / 100, 1, 1}, Message: "refused for the test"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Message{From: ss.from, To: ss.to, Login: ss.login, Raw: raw}
	m.ParseErr = parse(&m)
	ss.s.Messages <- m
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// parse reads m.Raw as a mail reader would: net/mail, mime/multipart and
// quoted-printable.
func parse(m *Message) error {
	msg, err := netmail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		return err
	}
	m.Header = msg.Header
	if m.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return err
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	add := func(h interface{ Get(string) string }, body io.Reader) error {
		if h.Get("Content-Transfer-Encoding") == "quoted-printable" {
			body = quotedprintable.NewReader(body)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			return err
		}
		t, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
		switch t {
		case "text/plain":
			m.Text = string(b)
		case "text/html":
			m.HTML = string(b)
		}
		return nil
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		return add(msg.Header, msg.Body)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := add(p.Header, p); err != nil {
			return err
		}
	}
}
