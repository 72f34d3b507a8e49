package webhook_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/webhook"
)

// TestCheckURLBoundaries: each limit of a URL, at it and one past it.
func TestCheckURLBoundaries(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	name253 := strings.Repeat(label63+".", 3) + strings.Repeat("b", 253-3*64) // 253 characters
	if len(name253) != 253 {
		t.Fatalf("name of %d", len(name253))
	}
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"https://" + label63 + ".example.com/", true},
		{"https://" + label63 + "a.example.com/", false},
		{"https://" + name253 + "/", true},
		{"https://" + name253 + "c/", false},
		{"https://hooks.example.com:1/", true},
		{"https://hooks.example.com:65535/", true},
		{"https://hooks.example.com:65536/", false},
		{"https://hooks.example.com:0/", false},
		{"https://az09-AZ_x.example.com/", true},
		{"https://a`b.example.com/", false},
		{"https://a{b.example.com/", false},
		{"https://a@b.example.com/", false},
		{"https://a[b.example.com/", false},
		{"https://a/b.example.com/", true}, // the path starts at the slash
	} {
		err := webhook.CheckURL(c.url, false)
		if (err == nil) != c.ok {
			t.Errorf("CheckURL(%q) = %v, want ok %v", c.url, err, c.ok)
		}
	}
}

// TestSendBoundaries: the shortest key, and the message ids at the edges
// of printable ASCII.
func TestSendBoundaries(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	s := &webhook.Sender{AllowPrivate: true, Timeout: 10 * time.Second}
	key := bytes.Repeat([]byte{7}, webhook.MinKeyLength)
	for _, c := range []struct {
		key []byte
		id  string
		ok  bool
	}{
		{key, "msg_~!", true},
		{key[:len(key)-1], "msg_a", false},
		{key, "msg a", false},
		{key, "msg_\x7f", false},
		{key, "msg_!", true},
	} {
		before := hits.Load()
		_, err := s.Send(t.Context(), srv.URL, c.key, c.id, time.Now(), []byte("{}"))
		if got := hits.Load() - before; (err == nil) != c.ok || (got > 0) != c.ok {
			t.Errorf("Send(key of %d, id %q) = %v, %d requests; want ok %v", len(c.key), c.id, err, got, c.ok)
		}
	}
}
