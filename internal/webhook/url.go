package webhook

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// CheckURL checks a URL an operator registers for a webhook: http or
// https, a host, and neither user info nor a fragment. The host is a
// name, four decimal numbers with dots (192.0.2.1), or an IPv6 address in
// brackets; a host that some resolvers would read as an address in
// another form (127.1, 0x7f.0.0.1, 2130706433, 127.0.0.1.) is refused, as
// is one that is not ASCII. Unless allowPrivate, an address must be
// Public, and the name must not be localhost nor end in .localhost, .local
// or .internal.
//
// Whatever name passes, a Sender checks the addresses it resolves to when
// it connects.
func CheckURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the whole URL, password and all.
		if ue, ok := errors.AsType[*url.Error](err); ok && !strings.Contains(raw, "@") {
			return fmt.Errorf("the URL does not parse: %v", ue.Err)
		}
		return errors.New("the URL does not parse")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("the URL's scheme must be http or https")
	}
	if u.User != nil {
		return errors.New("the URL may not have user info")
	}
	if u.Opaque != "" || u.Host == "" {
		return errors.New("the URL has no host")
	}
	if strings.Contains(raw, "#") {
		return errors.New("the URL may not have a fragment")
	}
	if port := u.Port(); port != "" || strings.HasSuffix(u.Host, ":") {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return fmt.Errorf("the URL's port %q is not a number from 1 to 65535", port)
		}
	}
	return checkHost(u.Host, u.Hostname(), allowPrivate)
}

// checkHost checks a URL's host, name being it without brackets or port.
func checkHost(host, name string, allowPrivate bool) error {
	if strings.HasPrefix(host, "[") {
		a, err := netip.ParseAddr(name)
		if err != nil || !a.Is6() {
			return fmt.Errorf("the host %q is not an IPv6 address", host)
		}
		if !allowPrivate {
			if a.Zone() != "" {
				return fmt.Errorf("the host %q names a network interface", host)
			}
			return checkAddr(a)
		}
		return nil
	}
	if a, err := netip.ParseAddr(name); err == nil && a.Is4() {
		if !allowPrivate {
			return checkAddr(a)
		}
		return nil
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
	if !allowPrivate {
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

// checkAddr returns an error naming why a is not Public, nil if it is.
func checkAddr(a netip.Addr) error {
	if why := private(a); why != "" {
		return &addrError{a, why}
	}
	return nil
}

// addrError is an address a webhook may not reach.
type addrError struct {
	addr netip.Addr
	why  string
}

func (e *addrError) Error() string { return fmt.Sprintf("address %s is %s", e.addr, e.why) }

// Public reports whether a webhook may reach a: an IPv4 address, or an
// IPv6 one of the global unicast range 2000::/3, outside every range the
// IANA special-purpose registries mark as not globally reachable
// (loopback, private, link-local, shared CGNAT, multicast, broadcast,
// reserved, documentation, benchmarking). An IPv6 address that embeds an
// IPv4 one (IPv4-mapped ::ffff:0:0/96, IPv4-translated ::ffff:0:0:0/96,
// NAT64 64:ff9b::/96, 6to4 2002::/16, Teredo 2001::/32 with both of its)
// is judged by the IPv4 address.
func Public(a netip.Addr) bool { return private(a) == "" }

// A range of addresses no webhook reaches, and why.
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

// private returns why a webhook may not reach a ("loopback", "private",
// ...), "" when it may.
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
