package webhook

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/internal/ssrf"
)

// CheckURL checks a URL an operator registers for a webhook: http or
// https, a host, and neither user info nor a fragment. The host is a
// name, four decimal numbers with dots (192.0.2.1), or an IPv6 address in
// brackets; a host that some resolvers would read as an address in
// another form (127.1, 0x7f.0.0.1, 2130706433, 127.0.0.1.) is refused, as
// is one that is not ASCII. Unless allowPrivate, an address must be
// public (ssrf.Public), and the name must not be localhost nor end in
// .localhost, .local or .internal (ssrf.Policy.CheckHost).
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
	return ssrf.Policy{AllowPrivate: allowPrivate}.CheckHost(u)
}
