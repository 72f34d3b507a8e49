package cimd_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/cimd"
	"github.com/latchkey/latchkey/internal/ssrf"
	"github.com/latchkey/latchkey/internal/ssrf/ssrftest"
)

// docServer is a TLS server on the loopback, its certificate from a test
// authority, that serves metadata documents: by default, at each path, a
// valid document naming the URL it was fetched at. It counts the
// connections it accepted and the requests it answered.
type docServer struct {
	*httptest.Server
	roots        *x509.CertPool
	conns, calls atomic.Int64
	mu           sync.Mutex
	handle       http.HandlerFunc // nil: the valid document
	lastRequest  *http.Request
}

func newDocServer(t *testing.T) *docServer {
	t.Helper()
	d := &docServer{}
	d.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.calls.Add(1)
		d.mu.Lock()
		h := d.handle
		d.lastRequest = r
		d.mu.Unlock()
		if h == nil {
			h = d.valid
		}
		h(w, r)
	}))
	d.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes the tests refuse
	d.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			d.conns.Add(1)
		}
	}
	d.StartTLS()
	t.Cleanup(d.Close)
	d.roots = x509.NewCertPool()
	d.roots.AddCert(d.Certificate())
	return d
}

// url is the client id of the document at path.
func (d *docServer) url(path string) string { return d.URL + path }

// set makes the server answer with h.
func (d *docServer) set(h http.HandlerFunc) {
	d.mu.Lock()
	d.handle = h
	d.mu.Unlock()
}

// valid answers the document of the URL that was asked for, as
// application/json unless a content type was set.
func (d *docServer) valid(w http.ResponseWriter, r *http.Request) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	fmt.Fprintf(w, `{"client_id":%q,"client_name":"Agent","redirect_uris":["http://127.0.0.1:7777/callback"]}`, "https://"+r.Host+r.URL.RequestURI())
}

// untouched fails t unless d accepted no connection.
func (d *docServer) untouched(t *testing.T) {
	t.Helper()
	if n := d.conns.Load(); n != 0 {
		t.Errorf("the document's server accepted %d connections, want none", n)
	}
}

// clock is a clock moved by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newFetcher returns a fetcher that trusts d's authority and may reach the
// loopback, on clk, with o's other fields.
func newFetcher(d *docServer, clk *clock, o cimd.Options) *cimd.Fetcher {
	o.Policy.AllowLoopback = true
	o.RootCAs = d.roots
	if clk != nil {
		o.Now = clk.Now
	}
	return cimd.New(o)
}

func TestFetch(t *testing.T) {
	d := newDocServer(t)
	f := newFetcher(d, nil, cimd.Options{UserAgent: "latchkey-test"})
	id := d.url("/oauth/client.json")
	doc, err := f.Fetch(t.Context(), id)
	if err != nil {
		t.Fatalf("Fetch(%s) = %v", id, err)
	}
	if doc.ClientID != id || doc.ClientName != "Agent" || len(doc.RedirectURIs) != 1 {
		t.Errorf("Fetch(%s) = %+v", id, doc)
	}
	r := d.lastRequest
	if r.Method != http.MethodGet || r.Header.Get("Accept") != "application/json" || r.Header.Get("User-Agent") != "latchkey-test" {
		t.Errorf("the fetch was %s with Accept %q, User-Agent %q; want GET, application/json, latchkey-test", r.Method, r.Header.Get("Accept"), r.Header.Get("User-Agent"))
	}
	// A media type of JSON's family is taken too.
	d.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/client-metadata+json; charset=utf-8")
		d.valid(httptest.NewRecorder(), r) // not this answer
		fmt.Fprintf(w, `{"client_id":%q,"redirect_uris":["https://app.example.com/cb"]}`, "https://"+r.Host+r.URL.RequestURI())
	})
	if _, err := f.Fetch(t.Context(), d.url("/plus-json")); err != nil {
		t.Errorf("Fetch of an application/client-metadata+json document = %v, want it", err)
	}
}

// TestFetchRefuses: each way a fetch fails, the error it gives, and that
// the document is not used.
func TestFetchRefuses(t *testing.T) {
	d := newDocServer(t)
	target := newDocServer(t)
	big := strings.Repeat(" ", cimd.DefaultMaxBytes)
	for _, tc := range []struct {
		name   string
		handle http.HandlerFunc
		want   string
	}{
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.url(r.URL.Path), http.StatusFound)
		}, "The client's metadata document is a redirect (HTTP 302), which this server does not follow."},
		{"permanent redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.url(r.URL.Path), http.StatusPermanentRedirect)
		}, "The client's metadata document is a redirect (HTTP 308), which this server does not follow."},
		{"not found", http.NotFound, "The client's metadata document could not be fetched: HTTP 404."},
		{"no content", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }, "The client's metadata document could not be fetched: HTTP 204."},
		{"server error", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			d.valid(w, r)
		}, "The client's metadata document could not be fetched: HTTP 500."},
		{"HTML", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			d.valid(w, r)
		}, "The client's metadata document must be served as application/json."},
		{"no content type", func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil
			fmt.Fprint(w, `{"client_id": 1}`)
		}, "The client's metadata document must be served as application/json."},
		{"text/json", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/json")
			d.valid(w, r)
		}, "The client's metadata document must be served as application/json."},
		{"too big, said", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", fmt.Sprint(cimd.DefaultMaxBytes+1))
			io.WriteString(w, big+" ")
		}, "The client's metadata document is larger than 5120 bytes."},
		{"too big, unsaid", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.(http.Flusher).Flush() // chunked: no Content-Length
			io.WriteString(w, big)
			d.valid(w, r)
		}, "The client's metadata document is larger than 5120 bytes."},
		{"another client_id", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"client_id":"https://well-known.example.com/client.json","redirect_uris":["https://well-known.example.com/cb"]}`)
		}, "The client's metadata document names another client_id than its URL."},
		{"a secret", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"client_id":%q,"redirect_uris":["https://app.example.com/cb"],"token_endpoint_auth_method":"client_secret_post"}`, "https://"+r.Host+r.URL.RequestURI())
		}, `The client's metadata document asks for token_endpoint_auth_method "client_secret_post"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d.set(tc.handle)
			f := newFetcher(d, nil, cimd.Options{})
			id := d.url("/" + strings.ReplaceAll(tc.name, " ", "-"))
			doc, err := f.Fetch(t.Context(), id)
			if doc != nil || err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Fetch(%s) = %+v, %v; want %q", id, doc, err, tc.want)
			}
			if _, ok := errors.AsType[*cimd.Error](err); !ok {
				t.Errorf("Fetch(%s) = %T, want a *cimd.Error", id, err)
			}
		})
	}
	target.untouched(t)

	// The exact limit is read.
	d.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		doc := fmt.Sprintf(`{"client_id":%q,"redirect_uris":["https://app.example.com/cb"]}`, "https://"+r.Host+r.URL.RequestURI())
		io.WriteString(w, doc+strings.Repeat(" ", cimd.DefaultMaxBytes-len(doc)))
	})
	if _, err := newFetcher(d, nil, cimd.Options{}).Fetch(t.Context(), d.url("/just-5120")); err != nil {
		t.Errorf("Fetch of a document of exactly %d bytes = %v, want it", cimd.DefaultMaxBytes, err)
	}
}

// TestFetchTimesOut: a server that never answers is given up on after
// Timeout; so is one that stops in its answer.
func TestFetchTimesOut(t *testing.T) {
	d := newDocServer(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // before the server closes
	f := newFetcher(d, nil, cimd.Options{Timeout: 100 * time.Millisecond})
	// Should the fetcher not keep its timeout, this one ends the test.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	d.set(func(http.ResponseWriter, *http.Request) { <-release })
	_, err := f.Fetch(ctx, d.url("/silent"))
	if want := "The client's metadata document could not be fetched: no answer within 100ms."; err == nil || err.Error() != want {
		t.Errorf("Fetch of a server that never answers = %v, want %q", err, want)
	}
	d.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"client_id":`)
		w.(http.Flusher).Flush()
		<-release
	})
	_, err = f.Fetch(ctx, d.url("/halting"))
	if want := "The client's metadata document could not be read: no answer within 100ms."; err == nil || err.Error() != want {
		t.Errorf("Fetch of a server that stops in its answer = %v, want %q", err, want)
	}
}

// TestFetchRefusesInside: without the loopback allowed (as in production),
// no fetch reaches the test's server, however its URL names it: an
// address, or a name that a resolver points at the loopback (DNS
// rebinding); the same name reaches it when the loopback is allowed, so
// what refused it was the guard.
func TestFetchRefusesInside(t *testing.T) {
	d := newDocServer(t)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(d.URL, "https://"))
	// The test authority's certificate names example.com.
	resolver := ssrftest.Resolver(t, map[string][]netip.Addr{
		"example.com": {netip.MustParseAddr("127.0.0.1")},
	})
	strict := cimd.New(cimd.Options{RootCAs: d.roots, Resolver: resolver})
	for _, tc := range []struct{ url, want string }{
		{"https://127.0.0.1:" + port + "/client.json", "The client_id URL's host is not one this server fetches from: address 127.0.0.1 is loopback."},
		{"https://localhost:" + port + "/client.json", `The client_id URL's host is not one this server fetches from: the host "localhost" is this machine.`},
		{"https://[::ffff:127.0.0.1]:" + port + "/client.json", "The client_id URL's host is not one this server fetches from: address ::ffff:127.0.0.1 is loopback."},
		{"https://example.com:" + port + "/client.json", "The client's metadata document could not be fetched: address 127.0.0.1 is loopback."},
	} {
		if doc, err := strict.Fetch(t.Context(), tc.url); doc != nil || err == nil || err.Error() != tc.want {
			t.Errorf("Fetch(%s) = %+v, %v; want %q", tc.url, doc, err, tc.want)
		}
	}
	d.untouched(t)

	loose := cimd.New(cimd.Options{RootCAs: d.roots, Resolver: resolver, Policy: ssrf.Policy{AllowLoopback: true}})
	if _, err := loose.Fetch(t.Context(), "https://example.com:"+port+"/client.json"); err != nil {
		t.Errorf("Fetch(https://example.com:%s/client.json) allowing the loopback = %v, want the document", port, err)
	}
	// A certificate from an authority not trusted is refused.
	other := cimd.New(cimd.Options{Resolver: resolver, Policy: ssrf.Policy{AllowLoopback: true}})
	if _, err := other.Fetch(t.Context(), d.url("/client.json")); err == nil || !strings.Contains(err.Error(), "TLS certificate is not valid") {
		t.Errorf("Fetch from a server whose authority is not trusted = %v, want a certificate error", err)
	}
}

// TestFetchCache: a document is kept for its max-age (less its Age), at
// most MaxTTL, DefaultTTL when it says nothing, and not at all with
// no-store or no-cache, on the fetcher's clock.
func TestFetchCache(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers map[string]string
		kept    time.Duration // 0: not kept
	}{
		{"no Cache-Control", nil, 5 * time.Minute},
		{"max-age", map[string]string{"Cache-Control": "public, max-age=600"}, 10 * time.Minute},
		{"max-age quoted", map[string]string{"Cache-Control": `max-age="600"`}, 10 * time.Minute},
		{"max-age with Age", map[string]string{"Cache-Control": "max-age=600", "Age": "540"}, time.Minute},
		{"Age past max-age", map[string]string{"Cache-Control": "max-age=600", "Age": "900"}, 0},
		{"max-age over the ceiling", map[string]string{"Cache-Control": "max-age=31536000"}, 24 * time.Hour},
		{"max-age=0", map[string]string{"Cache-Control": "max-age=0"}, 0},
		{"no-store", map[string]string{"Cache-Control": "max-age=600, no-store"}, 0},
		{"no-cache", map[string]string{"Cache-Control": "No-Cache"}, 0},
		{"bad max-age", map[string]string{"Cache-Control": "max-age=-5"}, 5 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDocServer(t)
			d.set(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.headers {
					w.Header().Set(k, v)
				}
				d.valid(w, r)
			})
			clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
			f := newFetcher(d, clk, cimd.Options{})
			id := d.url("/client.json")
			fetch := func() {
				t.Helper()
				if _, err := f.Fetch(t.Context(), id); err != nil {
					t.Fatalf("Fetch(%s) = %v", id, err)
				}
			}
			fetch()
			if tc.kept > 0 {
				clk.Advance(tc.kept - time.Second)
				fetch()
				if n := d.calls.Load(); n != 1 {
					t.Fatalf("%v after the first fetch, the document was fetched %d times, want once (kept)", tc.kept-time.Second, n)
				}
				clk.Advance(time.Second)
			}
			fetch()
			if n := d.calls.Load(); n != 2 {
				t.Errorf("%v after the first fetch, the document was fetched %d times, want twice (no longer kept)", tc.kept, n)
			}
		})
	}
}

// TestFetchFailureKept: a failure is answered again for FailureTTL without
// a fetch, then the URL is fetched again.
func TestFetchFailureKept(t *testing.T) {
	d := newDocServer(t)
	d.set(http.NotFound)
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	f := newFetcher(d, clk, cimd.Options{FailureTTL: time.Minute})
	id := d.url("/client.json")
	for range 3 {
		if _, err := f.Fetch(t.Context(), id); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
			t.Fatalf("Fetch(%s) = %v, want HTTP 404", id, err)
		}
	}
	if n := d.calls.Load(); n != 1 {
		t.Errorf("three fetches of a failing URL within a minute reached its server %d times, want once", n)
	}
	d.set(nil) // mended
	clk.Advance(59 * time.Second)
	if _, err := f.Fetch(t.Context(), id); err == nil {
		t.Error("59s after a failure, Fetch = nil, want the failure kept")
	}
	clk.Advance(time.Second)
	if _, err := f.Fetch(t.Context(), id); err != nil {
		t.Errorf("a minute after a failure, the mended document: Fetch = %v, want it", err)
	}
	if n := d.calls.Load(); n != 2 {
		t.Errorf("the server was asked %d times, want twice", n)
	}
	// A URL CheckURL refuses is no fetch, and is not kept: nothing to keep.
	if _, err := f.Fetch(t.Context(), "http://app.example.com/c"); err == nil {
		t.Error("Fetch(http://...) = nil, want an error")
	}
}

// TestFetchBounded: no more than MaxEntries URLs are kept; the least
// recently used goes first.
func TestFetchBounded(t *testing.T) {
	d := newDocServer(t)
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	f := newFetcher(d, clk, cimd.Options{MaxEntries: 2})
	for _, p := range []string{"/a", "/b", "/a", "/c", "/a", "/b"} {
		if _, err := f.Fetch(t.Context(), d.url(p)); err != nil {
			t.Fatal(err)
		}
	}
	// /a, /b, (a kept), /c evicts /b, (a kept), /b again.
	if n := d.calls.Load(); n != 4 {
		t.Errorf("fetches reached the server %d times, want 4", n)
	}
}

// TestFetchOnce: many requests for a URL that is not kept wait for one
// fetch.
func TestFetchOnce(t *testing.T) {
	d := newDocServer(t)
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(free) // before the server closes, should the test fail
	d.set(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(arrived) })
		<-release
		d.valid(w, r)
	})
	f := newFetcher(d, nil, cimd.Options{})
	joined := make(chan struct{})
	cimd.SetJoinHook(f, func() { joined <- struct{}{} })
	id := d.url("/client.json")
	const n = 5
	errs := make(chan error, n)
	go func() {
		_, err := f.Fetch(t.Context(), id)
		errs <- err
	}()
	<-arrived
	for range n - 1 {
		go func() {
			_, err := f.Fetch(t.Context(), id)
			errs <- err
		}()
	}
	for i := range n - 1 {
		select {
		case <-joined:
		case <-time.After(10 * time.Second): // only the bound of a failure
			t.Fatalf("after 10s, %d of %d callers waited for the fetch in flight", i, n-1)
		}
	}
	free()
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("Fetch(%s) = %v", id, err)
		}
	}
	if c := d.calls.Load(); c != 1 {
		t.Errorf("%d concurrent fetches of one URL reached its server %d times, want once", n, c)
	}
}

// TestFetchWaitEnds: a caller whose context ends stops waiting; the fetch
// goes on, and what it brings is kept for the next.
func TestFetchWaitEnds(t *testing.T) {
	d := newDocServer(t)
	arrived, release := make(chan struct{}), make(chan struct{})
	d.set(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		d.valid(w, r)
	})
	f := newFetcher(d, nil, cimd.Options{})
	id := d.url("/client.json")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := f.Fetch(ctx, id)
		done <- err
	}()
	<-arrived
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Fetch with its context canceled = %v, want context.Canceled", err)
	}
	d.set(nil) // later fetches would answer at once
	close(release)
	// The next caller waits for the fetch still in flight, or finds its
	// document kept: either way, the server is asked once.
	if _, err := f.Fetch(t.Context(), id); err != nil {
		t.Errorf("Fetch after a caller gave up = %v", err)
	}
	if c := d.calls.Load(); c != 1 {
		t.Errorf("the server was asked %d times, want once", c)
	}
}

// TestFetchBudget: a fetch asks the request's budget first, and a refusal
// stops it; a kept document costs nothing.
func TestFetchBudget(t *testing.T) {
	d := newDocServer(t)
	f := newFetcher(d, nil, cimd.Options{})
	var asked atomic.Int64
	spent := errors.New("no budget left")
	refuse := cimd.WithBudget(t.Context(), func() error { asked.Add(1); return spent })
	allow := cimd.WithBudget(t.Context(), func() error { asked.Add(1); return nil })

	if _, err := f.Fetch(refuse, d.url("/a")); !errors.Is(err, spent) {
		t.Errorf("Fetch with its budget spent = %v, want the budget's refusal", err)
	}
	d.untouched(t)
	if _, err := f.Fetch(allow, d.url("/a")); err != nil {
		t.Fatalf("Fetch after a refused budget = %v, want the document (a refusal is not kept)", err)
	}
	if _, err := f.Fetch(refuse, d.url("/a")); err != nil {
		t.Errorf("Fetch of a kept document with a budget spent = %v, want it", err)
	}
	if n := asked.Load(); n != 2 {
		t.Errorf("the budget was asked %d times, want twice (not for the kept document)", n)
	}
}

// TestFetchURLChecked: a fetch checks the URL before anything.
func TestFetchURLChecked(t *testing.T) {
	d := newDocServer(t)
	f := newFetcher(d, nil, cimd.Options{})
	u, _ := url.Parse(d.URL)
	for _, id := range []string{"http://" + u.Host + "/client.json", d.URL, d.URL + "/a/../client.json", d.URL + "/client.json#x"} {
		if _, err := f.Fetch(t.Context(), id); err == nil {
			t.Errorf("Fetch(%s) = nil, want an error", id)
		}
	}
	d.untouched(t)
}
