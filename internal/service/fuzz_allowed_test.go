package service

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
)

// FuzzParseAllowedIPs: whatever the list, the networks kept are masked,
// without repeats, at most MaxAllowedIPs, each one the input named, and a
// refusal keeps none.
func FuzzParseAllowedIPs(f *testing.F) {
	for _, seed := range []string{"192.0.2.0/24", "2001:db8::/32\n192.0.2.1", "::ffff:192.0.2.1", "::ffff:192.0.2.0/120",
		"fe80::1%eth0", "192.0.2.1/33", "", " 10.0.0.1 \n10.0.0.1", "0.0.0.0/0\n::/0", "1.2.3"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, lines string) {
		list := strings.Split(lines, "\n")
		ps, msg := ParseAllowedIPs(list)
		if msg != "" {
			if ps != nil {
				t.Fatalf("ParseAllowedIPs(%q) refused (%s) but kept %v", list, msg, ps)
			}
			return
		}
		if len(ps) > latchkey.MaxAllowedIPs {
			t.Fatalf("ParseAllowedIPs(%q) kept %d networks", list, len(ps))
		}
		seen := map[netip.Prefix]bool{}
		for _, p := range ps {
			if p != p.Masked() || !p.IsValid() || p.Addr().Zone() != "" || p.Addr().Is4In6() {
				t.Fatalf("ParseAllowedIPs(%q) kept %v, not a plain masked network", list, p)
			}
			if seen[p] {
				t.Fatalf("ParseAllowedIPs(%q) kept %v twice", list, p)
			}
			seen[p] = true
		}
	})
}
