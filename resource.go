package latchkey

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Resource is a resource server the operator registered (RFC 8707): a
// service other than Latchkey's own API, such as an MCP server, that
// accepts access tokens this server issues for it. An access token asked
// for with the resource's URI carries that URI as its audience, and only
// scopes the resource understands.
type Resource struct {
	ID int64
	// URI identifies the resource, in the normal form
	// NormalizeResourceURI gives it: what a token's aud says, and what an
	// authorization request's resource parameter is compared with.
	URI  string
	Name string // shown to people asked to approve a token for it
	// Scopes are the scopes the resource understands, each a
	// ValidScopeName: the only ones a token for it may carry. Never
	// empty.
	Scopes []string
	// DefaultScopes are what a request for the resource that names no
	// scope is granted when none of the application's default scopes is
	// one the resource understands: some of Scopes, in their order. Never
	// empty.
	DefaultScopes []string
	CreatedAt     time.Time
}

// ResourceStore persists the registered resources.
type ResourceStore interface {
	// CreateResource stores r and sets r.ID, and writes audit with it (see
	// AuditStore), each record's SubjectID set to the new resource's id.
	// ECONFLICT when a resource with r.URI exists.
	CreateResource(ctx context.Context, r *Resource, audit ...*AuditRecord) error

	// Resource returns the resource whose URI is uri, compared exactly
	// (the caller normalizes it). ENOTFOUND when there is none.
	Resource(ctx context.Context, uri string) (*Resource, error)

	// Resources returns every resource, by id ascending.
	Resources(ctx context.Context) ([]*Resource, error)

	// DeleteResource deletes the resource, revokes at at the access
	// tokens issued for it that are not revoked (ReasonResourceDeleted:
	// those whose Audience is its URI), with the tokens those made
	// (ReasonParentRevoked), and writes audit with a record of each
	// descendant (see AuditWithDescendants), in one transaction. It
	// returns the tokens it revoked. Its grants are left: a refresh token
	// or code names the resource's id, which no resource has any more.
	// ENOTFOUND when there is none.
	DeleteResource(ctx context.Context, id int64, at time.Time, audit ...*AuditRecord) ([]*Token, error)
}

// MaxResourceURILength is the longest resource URI accepted, in bytes.
const MaxResourceURILength = 2000

// MaxResourceScopes is the most scopes a resource may understand.
const MaxResourceScopes = 100

// NormalizeResourceURI returns the resource indicator s (RFC 8707,
// section 2) in its normal form, so that the spellings clients differ in
// compare equal; or an EINVALID error saying what is wrong with it.
//
// s must be an absolute http or https URI with a host, no user
// information, no query and no fragment, written in printable ASCII
// (anything else percent-encoded). The normal form applies RFC 3986's
// syntax-based normalization (section 6.2.2) and its scheme-based one
// (section 6.2.3): the scheme and the host in lowercase; the port left
// out when it is the scheme's default, or empty; percent-encodings of
// unreserved characters decoded and the others' hex digits in uppercase;
// dot segments removed; and an empty path and "/" alike. One trailing
// slash is insignificant too (https://mcp.example.com/mcp/ is
// https://mcp.example.com/mcp), as clients differ there; the normal form
// has none. An IP address is written as net/netip writes it (RFC 5952
// for IPv6).
func NormalizeResourceURI(s string) (string, error) {
	bad := func(format string, args ...any) (string, error) {
		return "", Errorf(EINVALID, format, args...)
	}
	switch {
	case s == "":
		return bad("The resource must not be empty.")
	case len(s) > MaxResourceURILength:
		return bad("The resource is longer than %d bytes.", MaxResourceURILength)
	case strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r >= 0x7f }):
		return bad("The resource must be printable ASCII without spaces: percent-encode anything else.")
	case strings.Contains(s, "#"):
		return bad("The resource must not have a fragment (#).")
	case strings.Contains(s, "?"):
		return bad("The resource must not have a query (?).")
	}
	i := strings.Index(s, "://")
	if i <= 0 || !schemeName.MatchString(s[:i]) {
		return bad("The resource is not an absolute URI such as https://mcp.example.com/mcp.")
	}
	scheme := strings.ToLower(s[:i])
	if scheme != "https" && scheme != "http" {
		return bad("The resource must be an https (or http) URI.")
	}
	authority, path := s[i+3:], ""
	if j := strings.IndexByte(authority, '/'); j >= 0 {
		authority, path = authority[:j], authority[j:]
	}
	if strings.Contains(authority, "@") {
		return bad("The resource must not contain a user name or password.")
	}
	host, port, err := splitHostPort(authority)
	if err != nil {
		return "", err
	}
	if port == defaultPorts[scheme] {
		port = ""
	}
	path, err = normalizePath(path)
	if err != nil {
		return "", err
	}
	out := scheme + "://" + host
	if port != "" {
		out += ":" + port
	}
	return out + path, nil
}

var schemeName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

// defaultPorts are the ports each scheme leaves out.
var defaultPorts = map[string]string{"https": "443", "http": "80"}

// dnsName is a host name: labels of letters, digits and hyphens, in
// lowercase once normalized, without a trailing dot.
var dnsName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

// splitHostPort reads a resource's authority, host[:port], and returns the
// host in normal form and the port as a number without leading zeros
// ("" for none).
func splitHostPort(authority string) (host, port string, err error) {
	rawPort := ""
	if strings.HasPrefix(authority, "[") {
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return "", "", Errorf(EINVALID, "The resource's host is not a valid IPv6 address in brackets.")
		}
		a, perr := netip.ParseAddr(authority[1:end])
		if perr != nil || !a.Is6() || a.Zone() != "" {
			return "", "", Errorf(EINVALID, "The resource's host is not a valid IPv6 address in brackets.")
		}
		host = "[" + a.String() + "]"
		rest := authority[end+1:]
		if rest != "" && rest[0] != ':' {
			return "", "", Errorf(EINVALID, "The resource's host is not a valid IPv6 address in brackets.")
		}
		rawPort = strings.TrimPrefix(rest, ":")
	} else {
		host = authority
		if j := strings.IndexByte(authority, ':'); j >= 0 {
			host, rawPort = authority[:j], authority[j+1:]
		}
		host = strings.ToLower(host)
		if a, perr := netip.ParseAddr(host); perr == nil && a.Is4() {
			host = a.String()
		} else if strings.Trim(host, "0123456789.") == "" || len(host) > 253 || !dnsName.MatchString(host) {
			// All digits and dots, but not an IPv4 address as net/netip
			// reads one (no leading zeros): refused rather than guessed at.
			return "", "", Errorf(EINVALID, "The resource does not name a host: letters, digits, dots and hyphens, or an IP address.")
		}
	}
	if rawPort == "" {
		return host, "", nil
	}
	n, perr := strconv.Atoi(rawPort)
	if perr != nil || len(rawPort) > 5 || strings.Trim(rawPort, "0123456789") != "" || n < 1 || n > 65535 {
		return "", "", Errorf(EINVALID, "The resource's port is not a number from 1 to 65535.")
	}
	return host, strconv.Itoa(n), nil
}

// normalizePath returns the normal form of a resource's path, which is ""
// or starts with "/": its percent-encodings normalized, its dot segments
// removed, and without its one trailing slash. A path that would still
// end in a slash (it ends in two) is refused, so that the normal form of
// a normal form is itself.
func normalizePath(p string) (string, error) {
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '%':
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return "", Errorf(EINVALID, "The resource's path has a %% not followed by two hex digits.")
			}
			v := unhex(p[i+1])<<4 | unhex(p[i+2])
			if unreserved(v) {
				b.WriteByte(v)
			} else {
				b.WriteByte('%')
				b.WriteByte(upperHex[v>>4])
				b.WriteByte(upperHex[v&15])
			}
			i += 2
		case c == '/' || unreserved(c) || strings.IndexByte("!$&'()*+,;=:@", c) >= 0:
			b.WriteByte(c)
		default:
			// Not repeated in the message, which goes into an OAuth
			// error_description: RFC 6749 allows no '"' or '\' there.
			return "", Errorf(EINVALID, "The resource's path holds a character that must be percent-encoded.")
		}
	}
	out := removeDotSegments(b.String())
	out = strings.TrimSuffix(out, "/")
	if strings.HasSuffix(out, "/") {
		return "", Errorf(EINVALID, "The resource's path ends in more than one slash.")
	}
	return out, nil
}

const upperHex = "0123456789ABCDEF"

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// unreserved reports whether c is one of RFC 3986's unreserved
// characters, which percent-encoding never changes the meaning of.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// removeDotSegments is RFC 3986's remove_dot_segments (section 5.2.4) for
// a path that is "" or starts with "/".
func removeDotSegments(p string) string {
	if !strings.Contains(p, ".") {
		return p
	}
	var out []string
	segs := strings.Split(p, "/")[1:]
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return "/"
	}
	return "/" + strings.Join(out, "/")
}

// CheckResourceURI returns the normal form of the URI of a resource to
// register, or what is wrong with it: NormalizeResourceURI's refusals,
// and a URI that is not https, but for http on localhost, 127.0.0.1 or
// [::1], for a resource server run on the operator's own machine.
func CheckResourceURI(s string) (string, error) {
	uri, err := NormalizeResourceURI(s)
	if err != nil {
		return "", err
	}
	if rest, ok := strings.CutPrefix(uri, "http://"); ok {
		host := rest
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			host = rest[:j]
		}
		if k := strings.LastIndexByte(host, ':'); k >= 0 && !strings.HasSuffix(host, "]") {
			host = host[:k]
		}
		if host != "localhost" && host != "127.0.0.1" && host != "[::1]" {
			return "", Errorf(EINVALID, "The resource must use https (http only on localhost, 127.0.0.1 or [::1]).")
		}
	}
	return uri, nil
}

// String names the resource for logs and messages.
func (r *Resource) String() string { return fmt.Sprintf("%s (%s)", r.Name, r.URI) }
