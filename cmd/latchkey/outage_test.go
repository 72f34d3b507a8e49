package main

import (
	"io"
	"net"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/client"
	"github.com/latchkey/latchkey/internal/pgtest"
)

// proxy forwards TCP connections to a target until it is cut; restore
// listens again on the same address.
type proxy struct {
	t      *testing.T
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target}
	p.restore()
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) restore() {
	addr := p.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

// cut closes the listener and every connection: the database is gone.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestDatabaseOutage: while PostgreSQL is unreachable /readyz says 503
// and /healthz 200; when it comes back the server recovers by itself.
func TestDatabaseOutage(t *testing.T) {
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	p := newProxy(t, "127.0.0.1:5432")
	viaProxy := pgtest.WithParam(t, pgtest.WithParam(t, dsn, "host", "127.0.0.1"), "port", portOf(t, p.addr))
	viaProxy = pgtest.WithParam(t, viaProxy, "connect_timeout", "1")
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": viaProxy, "LATCHKEY_SECRET": "outage test secret"})
	base, stderr, _ := serve(t, env, "--metrics-addr", "127.0.0.1:0")
	metrics := metricsURL(t, stderr)
	cachedHits := func() string {
		_, body := get(t, metrics)
		return regexp.MustCompile(`latchkey_authentications_total\{outcome="cached"\} \S+`).FindString(string(body))
	}
	jwt := mustCLI(t, env, "token", "create", "--user", "admin", "--name", "outage")
	c, _ := client.New(base, client.WithBearerToken(jwt))
	status := func(path string) int {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := status("/readyz"); got != 200 {
		t.Fatalf("/readyz before the outage = %d", got)
	}
	// A token and its row, cached: showing it needs no database read.
	made, err := c.CreateToken(t.Context(), 1, client.CreateTokenRequest{Name: "cached"})
	if err != nil {
		t.Fatal(err)
	}
	cached, _ := client.New(base, client.WithBearerToken(made.AccessToken))
	for range 2 {
		if _, err := cached.Token(t.Context(), 1, made.Token.ID); err != nil {
			t.Fatal(err)
		}
	}
	p.cut()
	// Cut off from the events, the server cannot show it is current: it
	// stops answering verifications from its cache (fail-closed), though
	// the cache would hold the token for a minute more: no request counts
	// as a cache hit any more.
	waitFor(t, "the cached verification to be refused", func() bool {
		_, err := cached.Token(t.Context(), 1, made.Token.ID)
		return err != nil && client.StatusCode(err) >= 500
	})
	hits := cachedHits()
	for range 5 {
		if _, err := cached.Token(t.Context(), 1, made.Token.ID); err == nil {
			t.Errorf("a cached token shown while the database is cut off")
		}
	}
	if got := cachedHits(); got != hits {
		t.Errorf("verifications answered from the cache while cut off: %q, then %q", hits, got)
	}
	waitFor(t, "/readyz to say 503", func() bool { return status("/readyz") == 503 })
	if got := status("/healthz"); got != 200 {
		t.Errorf("/healthz during the outage = %d, want 200", got)
	}
	if _, err := c.Tokens(t.Context(), 1, client.ListOptions{}); client.StatusCode(err) < 500 {
		t.Errorf("an API call during the outage: %v, want a 5xx", err)
	}
	p.restore()
	waitFor(t, "/readyz to say 200 again", func() bool { return status("/readyz") == 200 })
	if _, err := c.Tokens(t.Context(), 1, client.ListOptions{}); err != nil {
		t.Errorf("an API call after the outage: %v", err)
	}
}

func portOf(t *testing.T, addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
