package webhook_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/ssrf/ssrftest"
	"github.com/latchkey/latchkey/internal/webhook"
)

// The message every test sends.
var (
	msgID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
	sent  = time.Unix(1674087231, 0)
	body  = []byte(`{"type":"token.revoked","timestamp":"2023-01-19T00:13:51Z","data":{"id":"abc"}}`)
)

// receiver is an HTTP server on the loopback that counts the connections
// it accepted and the requests it answered.
type receiver struct {
	*httptest.Server
	conns, calls atomic.Int64
}

// newReceiver starts a receiver answering with h, on ln if it is not nil.
func newReceiver(t *testing.T, ln net.Listener, h http.HandlerFunc) *receiver {
	t.Helper()
	r := &receiver{}
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.calls.Add(1)
		h(w, req)
	}))
	if ln != nil {
		r.Listener.Close()
		r.Listener = ln
	}
	r.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			r.conns.Add(1)
		}
	}
	r.Start()
	t.Cleanup(r.Close)
	return r
}

// untouched fails t unless r never accepted a connection.
func (r *receiver) untouched(t *testing.T) {
	t.Helper()
	if n, m := r.conns.Load(), r.calls.Load(); n != 0 || m != 0 {
		t.Errorf("the receiver accepted %d connections and answered %d requests, want none", n, m)
	}
}

// port is r's port.
func (r *receiver) port() string {
	u, _ := url.Parse(r.URL)
	return u.Port()
}

func TestSendVerified(t *testing.T) {
	secret, key := webhook.NewSecret()
	verified := make(chan error, 1)
	var got *http.Request
	r := newReceiver(t, nil, func(w http.ResponseWriter, req *http.Request) {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			t.Error(err)
		}
		// The receiver knows the secret as the operator was shown it.
		k, err := webhook.ParseSecret(secret)
		if err == nil {
			err = webhook.Verify(k, req.Header, b, sent.Add(30*time.Second), 0)
		}
		got = req
		verified <- err
		w.WriteHeader(http.StatusNoContent)
	})
	s := &webhook.Sender{AllowPrivate: true, UserAgent: "Latchkey/1.0 (webhooks)"}
	status, err := s.Send(t.Context(), r.URL+"/hooks?x=1", key, msgID, sent, body)
	if status != http.StatusNoContent || err != nil {
		t.Fatalf("Send() = %d, %v, want 204, nil", status, err)
	}
	if err := <-verified; err != nil {
		t.Errorf("Verify() at the receiver = %v", err)
	}
	for name, want := range map[string]string{
		"Content-Type":      "application/json",
		"User-Agent":        "Latchkey/1.0 (webhooks)",
		"Webhook-Id":        msgID,
		"Webhook-Timestamp": "1674087231",
	} {
		if v := got.Header.Get(name); v != want {
			t.Errorf("the request's %s = %q, want %q", name, v, want)
		}
	}
	if got.Method != http.MethodPost || got.URL.String() != "/hooks?x=1" {
		t.Errorf("the request = %s %s, want POST /hooks?x=1", got.Method, got.URL)
	}
	// A second webhook, signed with another key, fails the receiver's check.
	_, other := webhook.NewSecret()
	if status, err := s.Send(t.Context(), r.URL, other, msgID, sent, body); status != http.StatusNoContent || err != nil {
		t.Fatalf("Send() = %d, %v, want 204, nil", status, err)
	}
	if err := <-verified; err == nil {
		t.Error("Verify() at the receiver of a webhook signed with another key = nil, want an error")
	}
}

func TestSendStatus(t *testing.T) {
	_, key := webhook.NewSecret()
	for _, tc := range []struct {
		status int
		want   string
	}{
		{200, ""},
		{201, ""},
		{202, ""},
		{299, ""},
		{400, "HTTP 400"},
		{404, "HTTP 404"},
		{410, "HTTP 410"},
		{429, "HTTP 429"},
		{500, "HTTP 500"},
		{503, "HTTP 503"},
	} {
		r := newReceiver(t, nil, func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(tc.status)
			io.WriteString(w, "an answer")
		})
		s := &webhook.Sender{AllowPrivate: true}
		status, err := s.Send(t.Context(), r.URL, key, msgID, sent, body)
		if status != tc.status || errText(err) != tc.want {
			t.Errorf("Send() to a receiver answering %d = %d, %v, want %d, %q", tc.status, status, err, tc.status, tc.want)
		}
	}
}

func TestSendDoesNotFollowRedirects(t *testing.T) {
	_, key := webhook.NewSecret()
	target := newReceiver(t, nil, func(http.ResponseWriter, *http.Request) {})
	for _, code := range []int{301, 302, 303, 307, 308} {
		r := newReceiver(t, nil, func(w http.ResponseWriter, req *http.Request) {
			http.Redirect(w, req, target.URL, code)
		})
		s := &webhook.Sender{AllowPrivate: true}
		status, err := s.Send(t.Context(), r.URL, key, msgID, sent, body)
		if want := "redirect (" + strconv.Itoa(code) + ") not followed"; status != code || errText(err) != want {
			t.Errorf("Send() to a receiver redirecting with %d = %d, %v, want %d, %q", code, status, err, code, want)
		}
	}
	target.untouched(t)
}

func TestSendTimesOut(t *testing.T) {
	_, key := webhook.NewSecret()
	release := make(chan struct{})
	hang := newReceiver(t, nil, func(http.ResponseWriter, *http.Request) { <-release })
	headerThenHang := newReceiver(t, nil, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "a start")
		w.(http.Flusher).Flush()
		<-release
	})
	t.Cleanup(func() { close(release) }) // before the receivers close
	s := &webhook.Sender{AllowPrivate: true, Timeout: 50 * time.Millisecond}
	// Should the Sender not keep its timeout, this one ends the test.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	status, err := s.Send(ctx, hang.URL, key, msgID, sent, body)
	if want := "timed out after 50ms"; status != 0 || errText(err) != want {
		t.Errorf("Send() to a receiver that does not answer = %d, %v, want 0, %q", status, err, want)
	}
	status, err = s.Send(ctx, headerThenHang.URL, key, msgID, sent, body)
	if want := "HTTP 200, then reading the answer: timed out after 50ms"; status != 200 || errText(err) != want {
		t.Errorf("Send() to a receiver that stops in its answer = %d, %v, want 200, %q", status, err, want)
	}

	// The caller's own context ends a Send too, and says so.
	canceled, stop := context.WithCancel(t.Context())
	stop()
	status, err = (&webhook.Sender{AllowPrivate: true}).Send(canceled, hang.URL, key, msgID, sent, body)
	if status != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("Send() with a canceled context = %d, %v, want 0, context.Canceled", status, err)
	}
}

// TestSendReadsLittleOfTheAnswer checks that a Send reads no more than
// MaxAnswer bytes of an answer that never ends, and closes the connection.
func TestSendReadsLittleOfTheAnswer(t *testing.T) {
	_, key := webhook.NewSecret()
	var written atomic.Int64
	stopped := make(chan struct{})
	r := newReceiver(t, nil, func(w http.ResponseWriter, _ *http.Request) {
		defer close(stopped)
		chunk := []byte(strings.Repeat("x", 1<<10))
		for {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return // the sender closed the connection
			}
		}
	})
	// Were the answer read to its end, the Send would time out.
	s := &webhook.Sender{AllowPrivate: true, MaxAnswer: 100, Timeout: 5 * time.Second}
	status, err := s.Send(t.Context(), r.URL, key, msgID, sent, body)
	if status != http.StatusOK || err != nil {
		t.Fatalf("Send() to a receiver answering without end = %d, %v, want 200, nil", status, err)
	}
	<-stopped
	t.Logf("the receiver wrote %d bytes before the connection closed", written.Load())
}

func TestSendConnectionRefused(t *testing.T) {
	_, key := webhook.NewSecret()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	status, err := (&webhook.Sender{AllowPrivate: true}).Send(t.Context(), "http://"+addr+"/", key, msgID, sent, body)
	if want := "connection refused"; status != 0 || errText(err) != want {
		t.Errorf("Send() to a closed port = %d, %v, want 0, %q", status, err, want)
	}
}

// TestSendRefusesInside checks that, unless AllowPrivate, a Send reaches
// no receiver on the loopback, however its URL names it, and that no
// connection is made.
func TestSendRefusesInside(t *testing.T) {
	_, key := webhook.NewSecret()
	r := newReceiver(t, nil, func(w http.ResponseWriter, _ *http.Request) {})
	port := r.port()
	var r6 *receiver
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		r6 = newReceiver(t, ln, func(w http.ResponseWriter, _ *http.Request) {})
	} else {
		t.Logf("no IPv6 loopback (%v): [::1] is not tried", err)
	}

	resolver := ssrftest.Resolver(t, map[string][]netip.Addr{
		"receiver.example": {netip.MustParseAddr("127.0.0.1")},
		"both.example":     {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")},
		"inside.example":   {netip.MustParseAddr("10.0.0.1")},
		"mapped.example":   {netip.MustParseAddr("::ffff:127.0.0.1")},
	})
	for _, tc := range []struct{ url, want string }{
		{"http://127.0.0.1:" + port + "/", "address 127.0.0.1 is loopback"},
		{"http://localhost:" + port + "/", `the host "localhost" is this machine`},
		{"http://[::ffff:127.0.0.1]:" + port + "/", "address ::ffff:127.0.0.1 is loopback"},
		{"http://127.1:" + port + "/", `the host "127.1" is an IP address in an unusual form`},
		{"http://2130706433:" + port + "/", `the host "2130706433" is an IP address in an unusual form`},
		// Names CheckURL lets by, resolved when connecting.
		{"http://receiver.example:" + port + "/", "address 127.0.0.1 is loopback"},
		{"http://RECEIVER.example.:" + port + "/", "address 127.0.0.1 is loopback"},
		{"http://both.example:" + port + "/", "is loopback"},
		{"http://mapped.example:" + port + "/", "address 127.0.0.1 is loopback"},
		{"http://inside.example:" + port + "/", "address 10.0.0.1 is private"},
		{"http://nowhere.example:" + port + "/", "no such host"},
	} {
		s := &webhook.Sender{}
		webhook.SetResolver(s, resolver)
		status, err := s.Send(t.Context(), tc.url, key, msgID, sent, body)
		if status != 0 || err == nil || !strings.HasSuffix(err.Error(), tc.want) {
			t.Errorf("Send(%q) = %d, %v, want 0, %q", tc.url, status, err, tc.want)
		}
	}
	if r6 != nil {
		status, err := (&webhook.Sender{}).Send(t.Context(), "http://[::1]:"+r6.port()+"/", key, msgID, sent, body)
		if want := "address ::1 is loopback"; status != 0 || errText(err) != want {
			t.Errorf("Send([::1]) = %d, %v, want 0, %q", status, err, want)
		}
		r6.untouched(t)
	}
	r.untouched(t)

	// The same names reach the receiver when AllowPrivate: what refused
	// them was the check, not the test's resolver.
	for _, host := range []string{"receiver.example", "both.example", "localhost", "127.0.0.1"} {
		s := &webhook.Sender{AllowPrivate: true}
		webhook.SetResolver(s, resolver)
		if status, err := s.Send(t.Context(), "http://"+host+":"+port+"/", key, msgID, sent, body); status != 200 || err != nil {
			t.Errorf("Send(%s) with AllowPrivate = %d, %v, want 200, nil", host, status, err)
		}
	}
	if r.calls.Load() != 4 {
		t.Errorf("the receiver answered %d requests, want 4", r.calls.Load())
	}
}

func TestSendChecksItsInput(t *testing.T) {
	_, key := webhook.NewSecret()
	r := newReceiver(t, nil, func(http.ResponseWriter, *http.Request) {})
	s := &webhook.Sender{AllowPrivate: true}
	for _, tc := range []struct {
		url, id string
		key     []byte
		want    string
	}{
		{"ftp://example.com/", msgID, key, "the URL's scheme must be http or https"},
		{r.URL, "", key, "a webhook's message id is printable ASCII with no dot"},
		{r.URL, "msg.1", key, "a webhook's message id is printable ASCII with no dot"},
		{r.URL, "msg 1", key, "a webhook's message id is printable ASCII with no dot"},
		{r.URL, "msg\r\nX-Injected: 1", key, "a webhook's message id is printable ASCII with no dot"},
		{r.URL, msgID, key[:23], "a webhook's key is 24 bytes at least"},
	} {
		status, err := s.Send(t.Context(), tc.url, tc.key, tc.id, sent, body)
		if status != 0 || errText(err) != tc.want {
			t.Errorf("Send(%q, %q, %d bytes of key) = %d, %v, want 0, %q", tc.url, tc.id, len(tc.key), status, err, tc.want)
		}
	}
	r.untouched(t)
}
