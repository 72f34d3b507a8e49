package latchkey

import (
	"net/url"
	"strings"
	"testing"
)

func TestNormalizeResourceURI(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://mcp.example.com/mcp", "https://mcp.example.com/mcp"},
		// The spellings clients differ in.
		{"HTTPS://MCP.Example.COM:443/mcp/", "https://mcp.example.com/mcp"},
		{"https://mcp.example.com:/mcp", "https://mcp.example.com/mcp"},
		{"https://mcp.example.com", "https://mcp.example.com"},
		{"https://mcp.example.com/", "https://mcp.example.com"},
		{"https://mcp.example.com:8443/mcp", "https://mcp.example.com:8443/mcp"},
		{"https://mcp.example.com:08443/mcp", "https://mcp.example.com:8443/mcp"},
		{"http://localhost:80/mcp", "http://localhost/mcp"},
		{"http://127.0.0.1:3000/", "http://127.0.0.1:3000"},
		{"https://[0:0::1]:443/x", "https://[::1]/x"},
		{"https://[2001:DB8::A]/x", "https://[2001:db8::a]/x"},
		// Percent-encoding: unreserved characters decoded, the others'
		// hex in uppercase; the path's case kept.
		{"https://mcp.example.com/%7Euser/%6d%63%70", "https://mcp.example.com/~user/mcp"},
		{"https://mcp.example.com/a%2fb", "https://mcp.example.com/a%2Fb"},
		{"https://mcp.example.com/MCP", "https://mcp.example.com/MCP"},
		// Dot segments.
		{"https://mcp.example.com/a/./b/../mcp", "https://mcp.example.com/a/mcp"},
		{"https://mcp.example.com/%2E%2E/mcp", "https://mcp.example.com/mcp"},
		{"https://mcp.example.com/mcp/.", "https://mcp.example.com/mcp"},
		{"https://mcp.example.com/a:b@c!$&'()*+,;=", "https://mcp.example.com/a:b@c!$&'()*+,;="},
	} {
		got, err := NormalizeResourceURI(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeResourceURI(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestNormalizeResourceURIRefusals(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "empty"},
		{"https://mcp.example.com/mcp#frag", "fragment"},
		{"https://mcp.example.com/mcp#", "fragment"},
		{"https://mcp.example.com/mcp?x=1", "query"},
		{"https://mcp.example.com/mcp?", "query"},
		{"mcp.example.com/mcp", "absolute"},
		{"/mcp", "absolute"},
		{"urn:example:mcp", "absolute"},
		{"ftp://mcp.example.com/mcp", "https"},
		{"https://user:pw@mcp.example.com/mcp", "user name"},
		{"https:///mcp", "host"},
		{"https://mcp_server.example.com/", "host"},
		{"https://mcp.example.com./", "host"},
		{"https://01.2.3.4/", "host"},
		{"https://[fe80::1%25eth0]/", "IPv6"},
		{"https://[::1/", "IPv6"},
		{"https://[::1]x/", "IPv6"},
		{"https://mcp.example.com:0/", "port"},
		{"https://mcp.example.com:65536/", "port"},
		{"https://mcp.example.com:+443/", "port"},
		{"https://mcp.example.com:443:443/", "port"},
		{"https://mcp.example.com/a b", "printable"},
		{"https://mcp.example.com/é", "printable"},
		{"https://mcp.example.com/a\x00", "printable"},
		{"https://mcp.example.com/%zz", "hex"},
		{"https://mcp.example.com/%4", "hex"},
		{"https://mcp.example.com/<x>", "percent-encoded"},
		{"https://mcp.example.com/mcp//", "slash"},
		{"https://mcp.example.com/" + strings.Repeat("a", MaxResourceURILength), "longer"},
	} {
		got, err := NormalizeResourceURI(tc.in)
		if err == nil || ErrorCode(err) != EINVALID || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NormalizeResourceURI(%q) = %q, %v; want an EINVALID error saying %q", tc.in, got, err, tc.want)
		}
	}
}

func TestCheckResourceURI(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"https://mcp.example.com/mcp", "https://mcp.example.com/mcp", true},
		{"http://localhost:8080/mcp", "http://localhost:8080/mcp", true},
		{"http://127.0.0.1/mcp", "http://127.0.0.1/mcp", true},
		{"http://[::1]:9/mcp", "http://[::1]:9/mcp", true},
		{"HTTP://LOCALHOST/", "http://localhost", true},
		{"http://mcp.example.com/mcp", "", false},
		{"http://10.0.0.1/mcp", "", false},
		{"http://[::2]/mcp", "", false},
		{"http://localhost.example.com/", "", false},
	} {
		got, err := CheckResourceURI(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("CheckResourceURI(%q) = %q, %v; want %q, ok %t", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// FuzzNormalizeResourceURI: whatever the input, the normal form, when
// there is one, is its own normal form, names the same scheme and host as
// net/url reads them, and carries no query, fragment or user information.
func FuzzNormalizeResourceURI(f *testing.F) {
	for _, s := range []string{
		"https://mcp.example.com/mcp",
		"HTTPS://MCP.example.com:443/mcp/",
		"http://[::1]:8080/a/../b/%7e",
		"https://a.b/%2F%2e%2E/./x/",
		"https://1.2.3.4:00443/",
		"https://x.y/mcp#f",
		"https://u@x.y/",
		"https://x.y/a?b",
		"https://[::ffff:1.2.3.4]/",
		"http://x/..%2f..",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		norm, err := NormalizeResourceURI(s)
		if err != nil {
			if ErrorCode(err) != EINVALID {
				t.Fatalf("NormalizeResourceURI(%q): error %v is not EINVALID", s, err)
			}
			return
		}
		again, err := NormalizeResourceURI(norm)
		if err != nil || again != norm {
			t.Fatalf("NormalizeResourceURI(%q) = %q, whose normal form is %q, %v", s, norm, again, err)
		}
		u, err := url.Parse(norm)
		if err != nil {
			t.Fatalf("NormalizeResourceURI(%q) = %q, which net/url cannot parse: %v", s, norm, err)
		}
		if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(norm, "#?") {
			t.Fatalf("NormalizeResourceURI(%q) = %q, read by net/url as %#v", s, norm, u)
		}
		if strings.HasSuffix(norm, "/") || strings.ToLower(u.Host) != u.Host {
			t.Fatalf("NormalizeResourceURI(%q) = %q: a trailing slash, or a host not in lowercase", s, norm)
		}
		if port := u.Port(); port == defaultPorts[u.Scheme] {
			t.Fatalf("NormalizeResourceURI(%q) = %q keeps the default port", s, norm)
		}
		// The scheme's and host's case never matter.
		if i := strings.Index(s, "://"); i > 0 {
			upper := strings.ToUpper(s[:i]) + "://" + strings.ToUpper(hostPart(s[i+3:])) + s[i+3+len(hostPart(s[i+3:])):]
			if got, err := NormalizeResourceURI(upper); err != nil || got != norm {
				t.Fatalf("NormalizeResourceURI(%q) = %q, %v; want %q as for %q", upper, got, err, norm, s)
			}
		}
	})
}

// hostPart is the authority at the start of rest.
func hostPart(rest string) string {
	if j := strings.IndexByte(rest, '/'); j >= 0 {
		return rest[:j]
	}
	return rest
}
