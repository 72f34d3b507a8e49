package ssrf_test

import (
	"errors"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/latchkey/latchkey/internal/ssrf"
	"github.com/latchkey/latchkey/internal/ssrf/ssrftest"
)

// TestPolicyCheck: the zero Policy allows only public addresses;
// AllowLoopback adds the loopback and nothing else inside; AllowPrivate
// allows everything.
func TestPolicyCheck(t *testing.T) {
	strict, loopback, open := ssrf.Policy{}, ssrf.Policy{AllowLoopback: true}, ssrf.Policy{AllowPrivate: true}
	for _, tc := range []struct {
		addr                  string
		strict, loopback, all bool
	}{
		{"8.8.8.8", true, true, true},
		{"2606:4700:4700::1111", true, true, true},
		{"127.0.0.1", false, true, true},
		{"127.3.2.1", false, true, true},
		{"::1", false, true, true},
		{"::ffff:127.0.0.1", false, true, true},
		{"10.0.0.1", false, false, true},
		{"169.254.169.254", false, false, true},
		{"192.168.1.1", false, false, true},
		{"fe80::1", false, false, true},
		{"0.0.0.0", false, false, true},
		{"64:ff9b::7f00:1", false, false, true}, // NAT64 of 127.0.0.1: not this machine's loopback
	} {
		a := netip.MustParseAddr(tc.addr)
		for _, c := range []struct {
			name string
			p    ssrf.Policy
			want bool
		}{{"strict", strict, tc.strict}, {"loopback", loopback, tc.loopback}, {"private", open, tc.all}} {
			err := c.p.Check(a)
			if (err == nil) != c.want {
				t.Errorf("%s Check(%s) = %v, want allowed %v", c.name, a, err, c.want)
			}
			if _, ok := errors.AsType[*ssrf.AddrError](err); err != nil && !ok {
				t.Errorf("%s Check(%s) = %T, want *ssrf.AddrError", c.name, a, err)
			}
		}
	}
}

// TestPolicyCheckHost: AllowLoopback lets a loopback address through, but
// no local name and no other inside address.
func TestPolicyCheckHost(t *testing.T) {
	for _, tc := range []struct {
		url              string
		strict, loopback string // "" for allowed, else the error's end
	}{
		{"https://client.example.com/meta.json", "", ""},
		{"https://127.0.0.1:8443/meta.json", "is loopback", ""},
		{"https://[::1]:8443/meta.json", "is loopback", ""},
		{"https://localhost/meta.json", "is this machine", "is this machine"},
		{"https://app.localhost/meta.json", "is a local name", "is a local name"},
		{"https://10.0.0.1/meta.json", "is private", "is private"},
		{"https://127.1/meta.json", "in an unusual form", "in an unusual form"},
		{"https://[fe80::1%25eth0]/meta.json", "names a network interface", "names a network interface"},
		{"https://client.example.com:0/", "not a number from 1 to 65535", "not a number from 1 to 65535"},
		{"https://client.example.com:/", "not a number from 1 to 65535", "not a number from 1 to 65535"},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			p    ssrf.Policy
			want string
		}{{"strict", ssrf.Policy{}, tc.strict}, {"loopback", ssrf.Policy{AllowLoopback: true}, tc.loopback}} {
			err := c.p.CheckHost(u)
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.HasSuffix(err.Error(), c.want)) {
				t.Errorf("%s CheckHost(%s) = %v, want %q", c.name, tc.url, err, c.want)
			}
		}
	}
}

// TestDialer: a Policy's dialer checks the address a name resolved to, at
// the moment of connecting, so that a name that points inside (DNS
// rebinding) is refused with no connection made; AllowLoopback lets the
// loopback through and nothing else.
func TestDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	r := ssrftest.Resolver(t, map[string][]netip.Addr{
		"rebound.example": {netip.MustParseAddr("127.0.0.1")},
		"inside.example":  {netip.MustParseAddr("10.255.255.1")},
	})
	for _, tc := range []struct {
		p      ssrf.Policy
		host   string
		refuse string // the error's end, "" to connect
	}{
		{ssrf.Policy{}, "rebound.example", "address 127.0.0.1 is loopback"},
		{ssrf.Policy{}, "127.0.0.1", "address 127.0.0.1 is loopback"},
		{ssrf.Policy{AllowLoopback: true}, "inside.example", "address 10.255.255.1 is private"},
		{ssrf.Policy{AllowLoopback: true}, "rebound.example", ""},
		{ssrf.Policy{AllowPrivate: true}, "rebound.example", ""},
	} {
		before := accepted.Load()
		c, err := tc.p.Dialer(r).DialContext(t.Context(), "tcp", net.JoinHostPort(tc.host, port))
		if err == nil {
			c.Close()
		}
		switch {
		case tc.refuse == "" && err != nil:
			t.Errorf("%+v dialing %s = %v, want a connection", tc.p, tc.host, err)
		case tc.refuse != "" && (err == nil || !strings.HasSuffix(err.Error(), tc.refuse)):
			t.Errorf("%+v dialing %s = %v, want %q", tc.p, tc.host, err, tc.refuse)
		case tc.refuse != "" && accepted.Load() != before:
			t.Errorf("%+v dialing %s: refused, but the listener accepted a connection", tc.p, tc.host)
		}
	}
}
