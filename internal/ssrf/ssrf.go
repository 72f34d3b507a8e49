// Package ssrf keeps the server's own requests to URLs that others chose
// (a webhook's receiver, an OAuth client's metadata document) away from
// the network the server sits in: server-side request forgery.
//
// The guard has two parts. Policy.CheckHost refuses, before any request, a
// URL whose host is an address that is not Public or a local name, or an
// address in one of the forms only some resolvers read (0x7f.1,
// 2130706433). And a Policy's dialer refuses to connect to any address
// that is not Public, checked on the address a name resolved to at the
// moment of connecting (in the dialer's Control), so that a name that
// points inside, or one that changes what it points to after it was
// checked (DNS rebinding), is refused too.
package ssrf

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
)

// Policy says which addresses a request may reach. The zero Policy allows
// only Public ones.
type Policy struct {
	// AllowPrivate lets a request reach any address, and any name: a
	// webhook's receiver on the same machine or network, when the
	// operator says so.
	AllowPrivate bool
	// AllowLoopback lets a request reach the loopback addresses
	// (127.0.0.0/8, ::1) besides the Public ones, and nothing else
	// inside; local names (localhost) stay refused. It is for tests,
	// whose servers listen on the loopback.
	AllowLoopback bool
}

// Check returns an error (an *AddrError) naming why p does not let a
// request reach a, nil if it does.
func (p Policy) Check(a netip.Addr) error {
	switch {
	case p.AllowPrivate:
		return nil
	case p.AllowLoopback && a.IsValid() && a.WithZone("").Unmap().IsLoopback():
		return nil
	}
	if why := private(a); why != "" {
		return &AddrError{Addr: a, Why: why}
	}
	return nil
}

// AddrError is an address a Policy does not let a request reach.
type AddrError struct {
	Addr netip.Addr
	Why  string // "loopback", "private", ...
}

func (e *AddrError) Error() string { return fmt.Sprintf("address %s is %s", e.Addr, e.Why) }

// Dialer returns a dialer that connects only to the addresses p allows,
// resolving names with r (nil: the system's resolver). Its Control runs on
// each address the dialer tries, after the name was resolved and before
// the connection is made.
func (p Policy) Dialer(r *net.Resolver) *net.Dialer {
	d := &net.Dialer{Resolver: r}
	if !p.AllowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("address %q is not an IP address", address)
			}
			return p.Check(ap.Addr())
		}
	}
	return d
}

// CheckHost checks the host and port of u, a parsed URL. The port, if
// any, is a number from 1 to 65535 without a leading zero. The host is a
// name, four decimal numbers with dots (192.0.2.1), or an IPv6 address in
// brackets; a host that some resolvers would read as an address in
// another form (127.1, 0x7f.0.0.1, 2130706433, 127.0.0.1.) is refused, as
// is one that is not ASCII. Unless p allows it, an address must be Public,
// and the name must not be localhost nor end in .localhost, .local or
// .internal.
//
// Whatever name passes, p's Dialer checks the addresses it resolves to.
func (p Policy) CheckHost(u *url.URL) error {
	if u.Opaque != "" || u.Host == "" {
		return fmt.Errorf("the URL has no host")
	}
	if port := u.Port(); port != "" || strings.HasSuffix(u.Host, ":") {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return fmt.Errorf("the URL's port %q is not a number from 1 to 65535", port)
		}
	}
	host, name := u.Host, u.Hostname()
	if strings.HasPrefix(host, "[") {
		a, err := netip.ParseAddr(name)
		if err != nil || !a.Is6() {
			return fmt.Errorf("the host %q is not an IPv6 address", host)
		}
		if !p.AllowPrivate && a.Zone() != "" {
			return fmt.Errorf("the host %q names a network interface", host)
		}
		return p.Check(a)
	}
	if a, err := netip.ParseAddr(name); err == nil && a.Is4() {
		return p.Check(a)
	}
	labels := strings.Split(strings.TrimSuffix(name, "."), ".")
	if len(strings.TrimSuffix(name, ".")) > 253 {
		return fmt.Errorf("the host %q is too long a name", name)
	}
	for _, l := range labels {
		if !label(l) {
			return fmt.Errorf("the host %q is not a valid name", name)
		}
	}
	if last := labels[len(labels)-1]; numeric(last) {
		return fmt.Errorf("the host %q is an IP address in an unusual form", name)
	}
	lower := strings.ToLower(strings.TrimSuffix(name, "."))
	if !p.AllowPrivate {
		if lower == "localhost" {
			return fmt.Errorf("the host %q is this machine", name)
		}
		for _, suffix := range []string{".localhost", ".local", ".internal"} {
			if strings.HasSuffix(lower, suffix) {
				return fmt.Errorf("the host %q is a local name", name)
			}
		}
	}
	return nil
}

// label reports whether l is a label of a host name: 1 to 63 ASCII
// letters, digits, "-" and "_" (found in names a resolver answers, if not
// in host names).
func label(l string) bool {
	if l == "" || len(l) > 63 {
		return false
	}
	for _, c := range []byte(l) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// numeric reports whether a name's last label l makes a resolver, or a
// browser by the WHATWG URL standard, read the name as an IPv4 address:
// decimal digits, or 0x and hexadecimal ones.
func numeric(l string) bool {
	if h, ok := strings.CutPrefix(strings.ToLower(l), "0x"); ok {
		return strings.TrimLeft(h, "0123456789abcdef") == ""
	}
	return strings.TrimLeft(l, "0123456789") == ""
}

// Public reports whether a request may reach a by default: an IPv4
// address, or an IPv6 one of the global unicast range 2000::/3, outside
// every range the IANA special-purpose registries mark as not globally
// reachable (loopback, private, link-local, shared CGNAT, multicast,
// broadcast, reserved, documentation, benchmarking). An IPv6 address that
// embeds an IPv4 one (IPv4-mapped ::ffff:0:0/96, IPv4-translated
// ::ffff:0:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16, Teredo 2001::/32
// with both of its) is judged by the IPv4 address.
func Public(a netip.Addr) bool { return private(a) == "" }

// A range of addresses no request reaches by default, and why.
type blocked struct {
	prefix netip.Prefix
	why    string
}

var blocked4 = []blocked{
	{netip.MustParsePrefix("0.0.0.0/32"), "unspecified"},
	{netip.MustParsePrefix("0.0.0.0/8"), "reserved"}, // "this network"; 0.0.0.0 reaches this host
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (carrier-grade NAT)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved"}, // IETF protocol assignments
	{netip.MustParsePrefix("192.0.2.0/24"), "for documentation"},
	{netip.MustParsePrefix("192.88.99.0/24"), "reserved"}, // the retired 6to4 relay anycast
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "for benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "for documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "for documentation"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("255.255.255.255/32"), "broadcast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
}

var blocked6 = []blocked{
	{netip.MustParsePrefix("2001:2::/48"), "for benchmarking"},
	{netip.MustParsePrefix("2001:10::/28"), "reserved"}, // ORCHID, retired
	{netip.MustParsePrefix("2001:db8::/32"), "for documentation"},
	{netip.MustParsePrefix("3fff::/20"), "for documentation"},
	// Outside 2000::/3 (none of it global unicast), for a better word
	// than "reserved".
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("fc00::/7"), "private"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

var (
	global     = netip.MustParsePrefix("2000::/3")
	translated = netip.MustParsePrefix("::ffff:0:0:0/96")
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour  = netip.MustParsePrefix("2002::/16")
	teredo     = netip.MustParsePrefix("2001::/32")
)

// private returns why a is not Public ("loopback", "private", ...), ""
// when it is.
func private(a netip.Addr) string {
	if !a.IsValid() {
		return "not an address"
	}
	a = a.WithZone("")
	if a.Is4In6() {
		return private(a.Unmap())
	}
	if a.Is4() {
		for _, b := range blocked4 {
			if b.prefix.Contains(a) {
				return b.why
			}
		}
		return ""
	}
	b := a.As16()
	switch {
	case translated.Contains(a), nat64.Contains(a):
		return inside(netip.AddrFrom4([4]byte(b[12:])))
	case sixToFour.Contains(a):
		return inside(netip.AddrFrom4([4]byte(b[2:6])))
	case teredo.Contains(a):
		if why := inside(netip.AddrFrom4([4]byte(b[4:8]))); why != "" { // the server
			return why
		}
		return inside(netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]})) // the client
	}
	for _, b := range blocked6 {
		if b.prefix.Contains(a) {
			return b.why
		}
	}
	if !global.Contains(a) {
		return "reserved"
	}
	return ""
}

// inside is private of an IPv4 address a that an IPv6 one embeds.
func inside(a netip.Addr) string {
	if why := private(a); why != "" {
		return why + " (" + a.String() + " inside)"
	}
	return ""
}
