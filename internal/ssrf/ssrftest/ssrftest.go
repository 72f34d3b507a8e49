// Package ssrftest gives tests of the SSRF guard a resolver of their own:
// a DNS server on the loopback that answers names the test chooses with
// addresses the test chooses, as a name server of the internet whose
// answers an attacker controls.
package ssrftest

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

// Resolver starts a DNS server for names and returns a resolver that asks
// it alone (names in /etc/hosts are still read from there). The server
// answers A and AAAA queries from names, and "no such name" for a name
// names lacks; it stops when t ends.
func Resolver(t testing.TB, names map[string][]netip.Addr) *net.Resolver {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{conn: conn, names: map[string][]netip.Addr{}}
	for name, addrs := range names {
		s.names[strings.ToLower(name)+"."] = addrs
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.serve()
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", conn.LocalAddr().String())
		},
	}
}

// dnsServer answers DNS queries over UDP from a table of names and
// addresses.
type dnsServer struct {
	conn  net.PacketConn
	names map[string][]netip.Addr // by lower-case name with its final dot
}

func (s *dnsServer) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if answer, err := s.answer(buf[:n]); err == nil {
			s.conn.WriteTo(answer, from)
		}
	}
}

// answer returns the response to query q (RFC 1035, section 4).
func (s *dnsServer) answer(q []byte) ([]byte, error) {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:]) != 1 {
		return nil, errors.New("not a query of one question")
	}
	// The question: a name in labels, its type and class.
	var name strings.Builder
	i := 12
	for {
		if i >= len(q) {
			return nil, errors.New("truncated")
		}
		l := int(q[i])
		i++
		if l == 0 {
			break
		}
		if l > 63 || i+l > len(q) {
			return nil, errors.New("bad label")
		}
		name.WriteString(strings.ToLower(string(q[i:i+l])) + ".")
		i += l
	}
	if i+4 > len(q) {
		return nil, errors.New("truncated")
	}
	qtype := binary.BigEndian.Uint16(q[i:])
	question := q[12 : i+4]

	addrs, known := s.names[name.String()]
	var records [][]byte
	for _, a := range addrs {
		if a.Is4() && qtype == 1 || a.Is6() && qtype == 28 {
			rr := []byte{0xc0, 12} // the name, pointing at the question's
			rr = binary.BigEndian.AppendUint16(rr, qtype)
			rr = binary.BigEndian.AppendUint16(rr, 1) // IN
			rr = binary.BigEndian.AppendUint32(rr, 60)
			rr = binary.BigEndian.AppendUint16(rr, uint16(a.BitLen()/8))
			records = append(records, append(rr, a.AsSlice()...))
		}
	}
	flags := uint16(0x8580) // a response, authoritative, recursion desired and available
	if !known {
		flags |= 3 // NXDOMAIN
	}
	out := append([]byte(nil), q[:2]...) // the id
	out = binary.BigEndian.AppendUint16(out, flags)
	out = binary.BigEndian.AppendUint16(out, 1)
	out = binary.BigEndian.AppendUint16(out, uint16(len(records)))
	out = binary.BigEndian.AppendUint32(out, 0) // no authority, no additional
	out = append(out, question...)
	for _, rr := range records {
		out = append(out, rr...)
	}
	return out, nil
}
