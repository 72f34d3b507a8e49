package ssrf_test

import (
	"net/netip"
	"testing"

	"github.com/latchkey/latchkey/internal/ssrf"
)

func TestPublic(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		public bool
	}{
		{"8.8.8.8", true},
		{"1.1.1.1", true},
		{"93.184.215.14", true},
		{"100.63.255.255", true}, // beside CGNAT
		{"100.128.0.0", true},
		{"172.15.255.255", true}, // beside 172.16/12
		{"172.32.0.0", true},
		{"192.0.1.255", true},
		{"198.17.255.255", true},
		{"198.20.0.0", true},
		{"223.255.255.255", true},
		{"2606:4700:4700::1111", true},
		{"2a00:1450:4001:82a::200e", true},
		{"2606:4700:4700::1111%eth0", true},
		{"::ffff:8.8.8.8", true},
		{"::ffff:0:808:808", true},                     // IPv4-translated 8.8.8.8
		{"64:ff9b::808:808", true},                     // NAT64 8.8.8.8
		{"2002:808:808::1", true},                      // 6to4 8.8.8.8
		{"2001:0:4136:e378:8000:63bf:f7f7:f7f7", true}, // Teredo, server 65.54.227.120, client 8.8.8.8

		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"10.0.0.1", false},
		{"10.255.255.255", false},
		{"100.64.0.1", false},
		{"100.127.255.255", false},
		{"127.0.0.1", false},
		{"127.1.2.3", false},
		{"169.254.169.254", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"192.0.0.8", false},
		{"192.0.2.1", false},
		{"192.88.99.1", false},
		{"192.168.0.1", false},
		{"198.18.0.1", false},
		{"198.19.255.255", false},
		{"198.51.100.1", false},
		{"203.0.113.1", false},
		{"224.0.0.1", false},
		{"233.252.0.1", false},
		{"239.255.255.250", false},
		{"240.0.0.1", false},
		{"255.255.255.255", false},

		{"::", false},
		{"::1", false},
		{"::127.0.0.1", false},      // IPv4-compatible, retired
		{"::808:808", false},        // likewise, of a public address
		{"::ffff:127.0.0.1", false}, // IPv4-mapped
		{"::ffff:10.0.0.1", false},
		{"::ffff:169.254.169.254", false},
		{"::ffff:0:7f00:1", false}, // IPv4-translated
		{"64:ff9b::7f00:1", false}, // NAT64
		{"64:ff9b::a9fe:a9fe", false},
		{"64:ff9b:1::808:808", false},                   // local-use NAT64
		{"100::1", false},                               // discard-only
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", false}, // Teredo, client 192.0.2.45
		{"2001:0:4136:e378:8000:63bf:80ff:fffe", false}, // Teredo, client 127.0.0.1
		{"2001:0:a00:1:8000:63bf:f7f7:f7f7", false},     // Teredo, server 10.0.0.1
		{"2001:2::1", false},                            // benchmarking
		{"2001:10::1", false},                           // ORCHID
		{"2001:db8::1", false},                          // documentation
		{"3fff::1", false},
		{"2002:7f00:1::1", false}, // 6to4 127.0.0.1
		{"2002:a00:1::", false},
		{"2002:c0a8:101::1", false},
		{"4000::1", false}, // outside global unicast
		{"5f00::1", false}, // SRv6
		{"fc00::1", false},
		{"fd12:3456:789a::1", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"febf::1", false},
		{"fec0::1", false},
		{"ff02::1", false},
		{"ff0e::1", false},
	} {
		a := netip.MustParseAddr(tc.addr)
		if got := ssrf.Public(a); got != tc.public {
			t.Errorf("Public(%s) = %v, want %v", tc.addr, got, tc.public)
		}
	}
	if ssrf.Public(netip.Addr{}) {
		t.Error("Public(netip.Addr{}) = true, want false")
	}
}
