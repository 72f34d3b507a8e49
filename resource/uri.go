package resource

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// NormalizeURI returns the form in which resource URIs are compared: the
// scheme and host in lower case, no default port (443 for https, 80 for
// http), percent-encodings of unreserved characters decoded and the others
// in upper case (RFC 3986 section 6.2.2), and no trailing slash on the
// path (nor several), so that https://MCP.example.com:443/mcp/ and
// https://mcp.example.com/mcp are one resource. Latchkey normalises the
// resources it registers, and so the aud of its tokens, in the same way
// (RFC 3986 section 6.2.2); the token's aud is normalised here too before
// it is compared, so that what one side does beyond the other matters
// not.
//
// It refuses what cannot name a resource (RFC 8707 section 2): a URI that
// is not absolute http or https with a host, or that has user information,
// a fragment, a query, or dot segments in its path.
func NormalizeURI(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", err
	}
	switch {
	case u.Scheme == "" || u.Opaque != "":
		return "", fmt.Errorf("%q is not an absolute URI", uri)
	case u.User != nil:
		return "", fmt.Errorf("%q has user information", uri)
	case u.Fragment != "" || strings.Contains(uri, "#"):
		return "", fmt.Errorf("%q has a fragment", uri)
	case u.RawQuery != "" || u.ForceQuery:
		return "", fmt.Errorf("%q has a query", uri)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", fmt.Errorf("%q is not an http or https URI", uri)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return "", fmt.Errorf("%q has no host", uri)
	}
	if strings.HasSuffix(u.Host, ":") {
		return "", fmt.Errorf("%q has an empty port", uri)
	}
	if strings.Contains(host, "%") {
		return "", fmt.Errorf("%q has a zone in its host", uri)
	}
	host = strings.ToLower(host)
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	p, err := normalizePath(u.EscapedPath())
	if err != nil {
		return "", fmt.Errorf("%q: %w", uri, err)
	}
	return scheme + "://" + host + p, nil
}

// normalizePath normalises an escaped path as NormalizeURI says.
func normalizePath(p string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			return "", errors.New("a bad percent-encoding")
		}
		d := unhex(p[i+1])<<4 | unhex(p[i+2])
		if isUnreserved(d) {
			b.WriteByte(d)
		} else {
			b.WriteByte('%')
			b.WriteString(strings.ToUpper(p[i+1 : i+3]))
		}
		i += 2
	}
	s := strings.TrimRight(b.String(), "/")
	for seg := range strings.SplitSeq(s, "/") {
		if seg == "." || seg == ".." {
			return "", errors.New("dot segments in the path")
		}
	}
	return s, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

// isUnreserved reports whether c is an unreserved character of RFC 3986
// (section 2.3).
func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// isLoopback reports whether host (a URL's Hostname) is localhost or a
// loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkScheme refuses a URL that is not https, unless it is http on a
// loopback host and loopback is true. what names the URL in the error.
func checkScheme(u *url.URL, loopback bool, what string) error {
	switch {
	case strings.EqualFold(u.Scheme, "https"):
		return nil
	case strings.EqualFold(u.Scheme, "http") && isLoopback(u.Hostname()):
		if loopback {
			return nil
		}
		return fmt.Errorf("resource: %s %q is http: set Config.InsecureLoopback to allow http on a loopback host", what, u.Redacted())
	default:
		return fmt.Errorf("resource: %s %q is not https", what, u.Redacted())
	}
}

// origin is the scheme, host and port of u, lower case, with the default
// port left out: two URLs of one origin are served by one server.
func origin(u *url.URL) string {
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}
