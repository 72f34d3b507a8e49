package httpapi_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/service"
)

// behindProxy trusts the loopback as a proxy: the test's requests say
// where they come from in X-Forwarded-For.
var behindProxy = httpapi.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}

// TestAllowedIPs: a token limited to networks works from them, IPv4 and
// IPv6, and is the same 401 as any refusal from anywhere else, the audit
// log saying why; behind trusted proxies the address is the one they
// report, and without, X-Forwarded-For changes nothing.
func TestAllowedIPs(t *testing.T) {
	onEachStoreWith(t, behindProxy, func(t *testing.T, h *harness) {
		tok := h.createVia(h.user, bearer(h.userJWT), `{"name":"office","allowed_ips":["192.0.2.0/24","2001:db8::/32","198.51.100.7"]}`)
		if got := strings.Join(tok.AllowedIPs, " "); got != "192.0.2.0/24 2001:db8::/32 198.51.100.7/32" {
			t.Errorf("allowed_ips = %q", got)
		}
		for _, tc := range []struct {
			from string
			want int
		}{
			{"192.0.2.7", 200}, {"2001:db8::5", 200}, {"::ffff:192.0.2.9", 200}, {"198.51.100.7", 200},
			{"198.51.100.8", 401}, {"2001:db9::1", 401}, {"", 401}, // "": the loopback itself
			{"203.0.113.1, 192.0.2.7", 200}, // the last hop not a proxy is the client
			{"192.0.2.7, 203.0.113.1", 401},
		} {
			if r := h.doFrom(tc.from, "GET", selfPath, bearer(tok.AccessToken), nil); r.status != tc.want {
				t.Errorf("from %q: status %d, want %d", tc.from, r.status, tc.want)
			} else if tc.want == 401 && strings.TrimSpace(string(r.body)) != `{"error":"Unauthenticated."}` {
				t.Errorf("from %q: body %s, want the contract's 401", tc.from, r.body)
			}
		}
		recs, err := h.svc.Audit(t.Context(), latchkey.AuditFilter{Action: latchkey.AuditAuthRefused})
		if err != nil || len(recs) == 0 || !strings.Contains(recs[0].Detail, "address not allowed") {
			t.Errorf("refusal records = %v, %v; want the address named", recs, err)
		}

		// Where it was used, once the uses are written.
		if err := h.svc.FlushUsage(t.Context()); err != nil {
			t.Fatal(err)
		}
		got := shown(t, h.do("GET", tokensPath(h.user.ID)+"/"+tok.ID, bearer(h.userJWT), nil))
		var ips []string
		for _, a := range got.RecentIPs {
			ips = append(ips, a.IP)
		}
		if got.LastUsedIP == nil || len(ips) != 4 || !strings.Contains(strings.Join(ips, " "), "2001:db8::5") {
			t.Errorf("last_used_ip %v, recent_ips %v; want the four addresses it was used from", got.LastUsedIP, ips)
		}
	})
}

// TestAllowedIPsWithoutProxy: X-Forwarded-For from a peer that is not a
// trusted proxy is not believed.
func TestAllowedIPsWithoutProxy(t *testing.T) {
	h := newHarness(t)
	tok := h.createVia(h.user, bearer(h.userJWT), `{"name":"office","allowed_ips":["192.0.2.0/24"]}`)
	if r := h.doFrom("192.0.2.7", "GET", selfPath, bearer(tok.AccessToken), nil); r.status != 401 {
		t.Errorf("with a forged X-Forwarded-For: status %d, want 401", r.status)
	}
	loop := h.createVia(h.user, bearer(h.userJWT), `{"name":"here","allowed_ips":["127.0.0.0/8","::1"]}`)
	if r := h.do("GET", selfPath, bearer(loop.AccessToken), nil); r.status != 200 {
		t.Errorf("from the loopback it is limited to: status %d, want 200", r.status)
	}
}

// TestAllowedIPsLineage: a limited token's child lies within its
// networks, or takes them when it names none; a rotation keeps them or
// narrows them.
func TestAllowedIPsLineage(t *testing.T) {
	onEachStoreWith(t, behindProxy, func(t *testing.T, h *harness) {
		parent := h.createVia(h.user, bearer(h.userJWT), `{"name":"parent","allowed_ips":["192.0.2.0/24"]}`)
		auth := bearer(parent.AccessToken)
		post := func(body string) *response {
			return h.doFrom("192.0.2.1", "POST", tokensPath(h.user.ID), auth, []byte(body))
		}
		if c := created(t, post(`{"name":"narrower","allowed_ips":["192.0.2.128/25"]}`)); strings.Join(c.AllowedIPs, " ") != "192.0.2.128/25" {
			t.Errorf("a narrower child has %v", c.AllowedIPs)
		}
		inherits := created(t, post(`{"name":"inherits"}`))
		if strings.Join(inherits.AllowedIPs, " ") != "192.0.2.0/24" {
			t.Errorf("a child naming no networks has %v, want its parent's", inherits.AllowedIPs)
		}
		r := post(`{"name":"wider","allowed_ips":["10.0.0.0/8"]}`)
		if p := problemOf(t, r); r.status != 422 || len(latchkey.FieldErrors(p.Errors).Get("allowed_ips")) == 0 || p.Errors[0].Sentences[0] != service.MsgAllowedIPsParent {
			t.Errorf("a wider child: %d %s", r.status, r.body)
		}

		rotated := created(t, h.do("POST", rotatePath(h.user, parent.ID), bearer(h.userJWT), nil))
		if strings.Join(rotated.AllowedIPs, " ") != "192.0.2.0/24" {
			t.Errorf("the successor has %v, want the old token's networks", rotated.AllowedIPs)
		}
		narrowed := created(t, h.do("POST", rotatePath(h.user, inherits.ID), bearer(h.userJWT), []byte(`{"allowed_ips":["192.0.2.5"]}`)))
		if strings.Join(narrowed.AllowedIPs, " ") != "192.0.2.5/32" {
			t.Errorf("a successor given networks has %v", narrowed.AllowedIPs)
		}
	})
}

// TestAllowedIPsRefused: what allowed_ips may not be.
func TestAllowedIPsRefused(t *testing.T) {
	h := newHarness(t)
	many := make([]string, 33)
	for i := range many {
		many[i] = netip.AddrFrom4([4]byte{10, 0, byte(i), 0}).String()
	}
	tooMany, _ := json.Marshal(map[string]any{"name": "x", "allowed_ips": many})
	for _, body := range []string{
		`{"name":"x","allowed_ips":"192.0.2.0/24"}`,
		`{"name":"x","allowed_ips":["not an address"]}`,
		`{"name":"x","allowed_ips":["192.0.2.0/33"]}`,
		`{"name":"x","allowed_ips":["fe80::1%eth0"]}`,
		`{"name":"x","allowed_ips":[42]}`,
		`{"name":"x","allowed_ips":["::ffff:10.0.0.0/8"]}`,
		string(tooMany),
	} {
		r := h.do("POST", tokensPath(h.user.ID), bearer(h.userJWT), []byte(body))
		if r.status != 422 || len(latchkey.FieldErrors(problemOf(t, r).Errors).Get("allowed_ips")) == 0 {
			t.Errorf("%s: %d %s, want 422 about allowed_ips", body, r.status, r.body)
		}
	}
}

// TestIdleExpiry: a token unused for the idle expiry is refused, and the
// sweep revokes it as idle; one in use is not.
func TestIdleExpiry(t *testing.T) {
	const idleFor = 90 * 24 * time.Hour
	onEachStoreWith(t, httpapi.Options{}, func(t *testing.T, h *harness) {
		idle := h.createVia(h.user, bearer(h.userJWT), `{"name":"forgotten"}`)
		child := h.createVia(h.user, bearer(idle.AccessToken), `{"name":"its child"}`)
		busy := h.createVia(h.user, bearer(h.userJWT), `{"name":"busy"}`)
		for range 3 {
			h.clock.Advance(idleFor / 3)
			shown(t, h.do("GET", selfPath, bearer(busy.AccessToken), nil))
			shown(t, h.do("GET", selfPath, bearer(h.userJWT), nil))
		}
		h.clock.Advance(time.Minute)
		if r := h.do("GET", selfPath, bearer(idle.AccessToken), nil); r.status != http.StatusUnauthorized {
			t.Errorf("a token unused for the idle expiry: status %d, want 401", r.status)
		}
		if err := h.svc.Sweep(t.Context()); err != nil {
			t.Fatal(err)
		}
		for id, want := range map[string]string{idle.ID: "idle", child.ID: "idle"} { // never used either
			got := shown(t, h.do("GET", tokensPath(h.user.ID)+"/"+id, bearer(h.userJWT), nil))
			if got.RevokedReason == nil || *got.RevokedReason != want {
				t.Errorf("token %s… reason %v, want %s", id[:8], got.RevokedReason, want)
			}
		}
		shown(t, h.do("GET", selfPath, bearer(busy.AccessToken), nil))
	}, func(c *service.Config) { c.IdleExpiry = idleFor })
}

// TestAllowedIPsIPv6Direct: with no proxy, a client connecting over IPv6
// is held to its limit by the address it connects from.
func TestAllowedIPsIPv6Direct(t *testing.T) {
	h := newHarness(t)
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatalf("no IPv6 loopback to listen on: %v", err)
	}
	srv := httptest.NewUnstartedServer(httpapi.New(h.svc, httpapi.Options{}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	get := func(jwt string) int {
		req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL+selfPath, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", bearer(jwt))
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	here := h.createVia(h.user, bearer(h.userJWT), `{"name":"v6 here","allowed_ips":["::1/128"]}`)
	elsewhere := h.createVia(h.user, bearer(h.userJWT), `{"name":"v6 elsewhere","allowed_ips":["2001:db8::/32","127.0.0.1"]}`)
	if code := get(here.AccessToken); code != http.StatusOK {
		t.Errorf("a token limited to ::1, from ::1: status %d, want 200", code)
	}
	if code := get(elsewhere.AccessToken); code != http.StatusUnauthorized {
		t.Errorf("a token limited to other networks, from ::1: status %d, want 401", code)
	}
}
