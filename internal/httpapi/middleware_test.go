package httpapi

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"testing"
)

// TestPanicRecovery: a handler that panics answers the contract's 500,
// with nothing of the panic in the body, and the stack in the log.
func TestPanicRecovery(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil)), mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("secret detail: db at 10.0.0.7") })
	rec := httptest.NewRecorder()
	s.middleware(s.mux).ServeHTTP(rec, httptest.NewRequest("GET", "/boom", nil))
	if rec.Code != 500 || rec.Body.String() != `{"message":"Server Error"}`+"\n" {
		t.Errorf("panic answered %d %q, want 500 Server Error", rec.Code, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if !strings.Contains(logs.String(), "secret detail") || !strings.Contains(logs.String(), "middleware_test.go") {
		t.Errorf("the log lacks the panic and its stack:\n%s", logs.String())
	}
}

// TestAbortHandlerPropagates: http.ErrAbortHandler is the server's own
// signal to drop the connection, and is passed on.
func TestAbortHandlerPropagates(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler), mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /abort", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler passed on", v)
		}
	}()
	s.middleware(s.mux).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/abort", nil))
}

// TestRequestID: a sane X-Request-Id is kept, in the answer and the log;
// any other, or none, is replaced by 16 characters of base32, new for each
// request. Every answer says nosniff and no-referrer.
func TestRequestID(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil)), mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /", func(http.ResponseWriter, *http.Request) {})
	id := func(sent string) string {
		t.Helper()
		r := httptest.NewRequest("GET", "/", nil)
		if sent != "" {
			r.Header.Set("X-Request-Id", sent)
		}
		rec := httptest.NewRecorder()
		s.middleware(s.mux).ServeHTTP(rec, r)
		for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
			if got := rec.Header().Values(k); len(got) != 1 || got[0] != want {
				t.Errorf("%s: %q, want %q", k, got, want)
			}
		}
		return rec.Header().Get("X-Request-Id")
	}
	if got := id("trace-42.a_B"); got != "trace-42.a_B" {
		t.Errorf("a sane id came back as %q", got)
	}
	if !strings.Contains(logs.String(), "request_id=trace-42.a_B") {
		t.Errorf("the log lacks the request's id:\n%s", logs.String())
	}
	seen := map[string]bool{}
	for _, sent := range []string{"", "has space", strings.Repeat("a", 65), "new\nline", "", ""} {
		got := id(sent)
		if len(got) != 16 || strings.Trim(got, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
			t.Errorf("sent %q: got the id %q, want 16 characters of base32", sent, got)
		}
		if seen[got] {
			t.Errorf("the id %q was given twice", got)
		}
		seen[got] = true
	}
}

// FuzzSaneRequestID: saneRequestID accepts exactly what the pattern
// ^[A-Za-z0-9._-]{1,64}$ matches.
func FuzzSaneRequestID(f *testing.F) {
	for _, seed := range []string{"trace-42.a_B", "", "has space", strings.Repeat("a", 64), strings.Repeat("a", 65), "new\nline", "é", "a/b"} {
		f.Add(seed)
	}
	pattern := regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := saneRequestID(id), pattern.MatchString(id); got != want {
			t.Fatalf("saneRequestID(%q) = %t, want %t", id, got, want)
		}
	})
}

// FuzzClientIP: without a trusted proxy, the client's address is
// RemoteAddr's, unmapped and without its zone, written by netip; or
// RemoteAddr itself when it is no address and port.
func FuzzClientIP(f *testing.F) {
	for _, seed := range []string{"127.0.0.1:40000", "[::1]:80", "[::ffff:10.0.0.1]:80", "[fe80::1%eth0]:80", "192.0.2.1:0", "01.2.3.4:5", "1.2.3.4", "", "1.2.3.4%eth0:80"} {
		f.Add(seed)
	}
	s := &Server{}
	f.Fuzz(func(t *testing.T, remote string) {
		want := remote
		if ap, err := netip.ParseAddrPort(remote); err == nil {
			want = ap.Addr().Unmap().WithZone("").String()
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		if got := s.clientIP(r); got != want {
			t.Fatalf("clientIP(RemoteAddr %q) = %q, want %q", remote, got, want)
		}
	})
}

// FuzzHasSpace: hasSpace is strings.ContainsAny with the ASCII space
// characters, wherever in the string they are.
func FuzzHasSpace(f *testing.F) {
	for _, seed := range []string{"", "a", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "abcdefgh ijklmnop", "abcdefghijklmno\x0b", "\x7f\x80\xff!!!!!!!", "é\xa0 ", "!!!!!!!!!!!!!!!\x1f"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := hasSpace(s), strings.ContainsAny(s, " \t\r\n\v\f"); got != want {
			t.Fatalf("hasSpace(%q) = %t, want %t", s, got, want)
		}
	})
}

// TestHeader: header reads what Header.Get reads, for the keys it is
// given (canonical ones), however the request wrote the names.
func TestHeader(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("authorization", "Bearer a")
	r.Header.Add("AUTHORIZATION", "Bearer b")
	r.Header.Set("x-request-id", "x")
	for _, key := range []string{"Authorization", "X-Request-Id", "User-Agent"} {
		if got, want := header(r, key), r.Header.Get(key); got != want {
			t.Errorf("header(%s) = %q, want %q", key, got, want)
		}
	}
}
