package mail_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// The account the test servers accept.
const (
	testUser    = "notify@example.com"
	testPass    = "p@ss:w/rd-7Zq" // percent-encoded in URLs
	testPassURL = "p%40ss%3Aw%2Frd-7Zq"
)

// session is what a test server saw of one SMTP session (from EHLO to
// the end of the connection, or to STARTTLS, which starts another).
type session struct {
	TLS       bool     // at EHLO
	AuthTried bool     // an AUTH command came
	AuthUser  string   // authenticated as, "" for none
	AuthTLS   bool     // TLS was on when it did
	From      string   // MAIL FROM
	To        []string // RCPT TO
	Data      []byte   // the message, nil for none
}

// serverConfig says how a test server behaves.
type serverConfig struct {
	TLS          string   // "" for none, "starttls" to offer STARTTLS, "implicit" for smtps
	InsecureAuth bool     // offer AUTH without TLS
	Mechs        []string // AUTH mechanisms; nil for PLAIN
	RejectRcpt   bool     // refuse every recipient
}

// testServer is a go-smtp server on 127.0.0.1 that records its sessions.
type testServer struct {
	Addr string
	srv  *smtp.Server
	cfg  serverConfig

	mu       sync.Mutex
	sessions []*session
}

// startServer starts a test server; its TLS certificate is cert's.
func startServer(t *testing.T, cert tls.Certificate, cfg serverConfig) *testServer {
	t.Helper()
	if cfg.Mechs == nil {
		cfg.Mechs = []string{sasl.Plain}
	}
	ts := &testServer{cfg: cfg}
	ts.srv = smtp.NewServer(smtp.BackendFunc(ts.newSession))
	ts.srv.Domain = "mx.test"
	ts.srv.AllowInsecureAuth = cfg.InsecureAuth
	ts.srv.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}}
	switch cfg.TLS {
	case "starttls":
		ts.srv.TLSConfig = tlsConfig
	case "implicit":
		l = tls.NewListener(l, tlsConfig)
	}
	ts.Addr = l.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		ts.srv.Serve(l)
	}()
	t.Cleanup(func() {
		ts.srv.Close()
		<-done
	})
	return ts
}

// Sessions stops the server and returns the sessions it saw. Call it once
// the client is done: every session has then ended.
func (ts *testServer) Sessions() []session {
	ts.srv.Close() // ends the sessions still open
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var out []session
	for _, s := range ts.sessions {
		out = append(out, *s)
	}
	return out
}

// Mail returns the one session that carried a message.
func (ts *testServer) Mail(t *testing.T) session {
	t.Helper()
	var mails []session
	for _, s := range ts.Sessions() {
		if s.Data != nil {
			mails = append(mails, s)
		}
	}
	if len(mails) != 1 {
		t.Fatalf("the server got %d messages, want 1", len(mails))
	}
	return mails[0]
}

func (ts *testServer) newSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	s := &session{TLS: isTLS}
	ts.mu.Lock()
	ts.sessions = append(ts.sessions, s)
	ts.mu.Unlock()
	return &serverSession{ts: ts, c: c, s: s}, nil
}

// serverSession is a test server's smtp.AuthSession.
type serverSession struct {
	ts *testServer
	c  *smtp.Conn
	s  *session
}

func (ss *serverSession) record(f func(s *session)) {
	ss.ts.mu.Lock()
	defer ss.ts.mu.Unlock()
	f(ss.s)
}

func (ss *serverSession) AuthMechanisms() []string { return ss.ts.cfg.Mechs }

func (ss *serverSession) Auth(mech string) (sasl.Server, error) {
	ss.record(func(s *session) { s.AuthTried = true })
	check := func(user, pass string) error {
		if user != testUser || pass != testPass {
			return smtp.ErrAuthFailed
		}
		_, isTLS := ss.c.TLSConnectionState()
		ss.record(func(s *session) { s.AuthUser, s.AuthTLS = user, isTLS })
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *serverSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.record(func(s *session) { s.From = from })
	return nil
}

func (ss *serverSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.ts.cfg.RejectRcpt {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	}
	ss.record(func(s *session) { s.To = append(s.To, to) })
	return nil
}

func (ss *serverSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.record(func(s *session) { s.Data = b })
	return nil
}

func (ss *serverSession) Reset()        {}
func (ss *serverSession) Logout() error { return nil }

// loginServer is the server side of LOGIN, which go-sasl has not: the
// client gives the user name with AUTH, and the password when asked.
type loginServer struct {
	user  []byte
	check func(user, pass string) error
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	if l.user == nil {
		if response == nil {
			return []byte("Username:"), false, nil
		}
		l.user = response
		return []byte("Password:"), false, nil
	}
	return nil, true, l.check(string(l.user), string(response))
}

// testCert returns a self-signed certificate for localhost, mail.test and
// 127.0.0.1, and a pool that trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mail.test"},
		DNSNames:              []string{"localhost", "mail.test"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
