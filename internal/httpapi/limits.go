package httpapi

import (
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/latchkey/latchkey"
)

// Rate is a token-bucket limit: PerSecond on average, bursts of Burst.
// The zero Rate limits nothing.
type Rate struct {
	PerSecond float64
	Burst     int
}

// Limits are the server's rate limits. The zero value limits nothing;
// DefaultLimits never troubles normal use.
type Limits struct {
	// FailedAuthPerAddr: failed authentications from one client address.
	// Past it, requests from that address are answered 429 until the
	// bucket refills, without their token being checked.
	FailedAuthPerAddr Rate
	// CreatePerUser and CreatePerAddr: token creations by one user, and
	// from one client address.
	CreatePerUser Rate
	CreatePerAddr Rate
	// SignInPerAddr and SignInPerAccount: failed sign-ins from one client
	// address, and for one name typed (folded; whether or not it exists). Past
	// either, sign-in answers 429 without checking the password. A browser
	// with a valid device cookie for the name has a SignInPerAccount budget
	// of its own instead of the name's (device.go).
	SignInPerAddr    Rate
	SignInPerAccount Rate
	// TokenEndpointPerAddr: requests to /oauth/token, /oauth/revoke and
	// /oauth/introspect from one client address.
	TokenEndpointPerAddr Rate
	// RegistrationPerAddr: requests to /oauth/register from one client
	// address, refused or not, and the fetches of clients' metadata
	// documents that authorization requests from it cause.
	RegistrationPerAddr Rate
}

// DefaultLimits are the limits latchkey serve applies unless told
// otherwise: 10 failed authentications a second from an address (bursts
// of 50), and 10 creations a second per user and 30 per address (bursts
// of 200 and 300). A create costs about a millisecond of RSA signing, so
// these stop a runaway loop long before it matters, and leave room for a
// test suite that makes a few hundred tokens at once.
//
// Sign-in allows 20 failures from an address, then one a second, and 10
// failures for one name typed, then one every 5 seconds: a person who
// mistypes never meets it, a password guesser gets 720 guesses an hour at
// most. The token endpoint takes 10 requests a second from an address
// (bursts of 100). Registration takes 10 clients from an address, then
// one every 10 seconds: a client registers once, and an address cannot
// fill the store with registrations.
var DefaultLimits = Limits{
	FailedAuthPerAddr:    Rate{PerSecond: 10, Burst: 50},
	CreatePerUser:        Rate{PerSecond: 10, Burst: 200},
	CreatePerAddr:        Rate{PerSecond: 30, Burst: 300},
	SignInPerAddr:        Rate{PerSecond: 1, Burst: 20},
	SignInPerAccount:     Rate{PerSecond: 0.2, Burst: 10},
	TokenEndpointPerAddr: Rate{PerSecond: 10, Burst: 100},
	RegistrationPerAddr:  Rate{PerSecond: 0.1, Burst: 10},
}

// maxLimiterKeys bounds how many addresses and users are tracked; the
// least recently seen are forgotten first.
const maxLimiterKeys = 100_000

// limiter is one Rate per key.
type limiter struct {
	name  string
	rate  Rate
	mu    sync.Mutex
	cache *lru.Cache[string, *rate.Limiter]
}

func newLimiter(name string, r Rate) *limiter {
	if r.PerSecond <= 0 {
		return nil
	}
	c, _ := lru.New[string, *rate.Limiter](maxLimiterKeys)
	return &limiter{name: name, rate: r, cache: c}
}

func (l *limiter) get(key string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.cache.Get(key)
	if !ok {
		lim = rate.NewLimiter(rate.Limit(l.rate.PerSecond), max(l.rate.Burst, 1))
		l.cache.Add(key, lim)
	}
	return lim
}

// allow takes one token for key; when there is none it says how long
// until there is.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	lim := l.get(key)
	if lim.AllowN(now, 1) {
		return true, 0
	}
	return false, l.wait(lim, now)
}

// exhausted reports, without taking a token, whether key has none left.
func (l *limiter) exhausted(key string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return false, 0
	}
	lim := l.get(key)
	if lim.TokensAt(now) >= 1 {
		return false, 0
	}
	return true, l.wait(lim, now)
}

// reserve takes one token for key before the work it pays for, so that
// requests arriving together cannot all pass a check made before any of
// them is counted. ok is false, with the wait, when there is none; a
// reservation that turns out not to be owed (a sign-in that succeeded) is
// given back with release.
func (l *limiter) reserve(key string, now time.Time) (r *rate.Reservation, ok bool, after time.Duration) {
	if l == nil {
		return nil, true, 0
	}
	lim := l.get(key)
	// Look before taking: a reservation refused and cancelled would leave
	// the limiter unable to take back a later release.
	if lim.TokensAt(now) < 1 {
		return nil, false, l.wait(lim, now)
	}
	r = lim.ReserveN(now, 1)
	if !r.OK() {
		return nil, false, l.wait(lim, now)
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return nil, false, d
	}
	return r, true, 0
}

// release gives back what reserve took.
func release(r *rate.Reservation, now time.Time) {
	if r != nil {
		r.CancelAt(now)
	}
}

// spend takes a token for key if there is one.
func (l *limiter) spend(key string, now time.Time) {
	if l != nil {
		l.get(key).AllowN(now, 1)
	}
}

func (l *limiter) wait(lim *rate.Limiter, now time.Time) time.Duration {
	missing := 1 - lim.TokensAt(now)
	return time.Duration(missing / l.rate.PerSecond * float64(time.Second))
}

// refuse answers the contract's 429 with Retry-After, and counts it.
func (s *Server) refuse(w http.ResponseWriter, limit string, after time.Duration) error {
	secs := max(1, int(math.Ceil(after.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	if s.metrics != nil {
		s.metrics.RateLimited(limit)
	}
	return &latchkey.Error{Code: latchkey.ERATELIMIT, Message: "Too Many Attempts."}
}

// clientAddr is what rate limits count a request's client by: its address
// (clientIP), an IPv6 one by its /64, which one client holds.
func (s *Server) clientAddr(r *http.Request) string { return rateKey(s.clientIP(r)) }

// rateKey is what rate limits count the client at ip by.
func rateKey(ip string) string {
	if a, err := netip.ParseAddr(ip); err == nil && a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return ip
}

// clientIP is the address of the client that sent r, whole: the peer, or,
// when the peer is a trusted proxy, the last address in X-Forwarded-For
// that is not one. Token address limits and the audit log use it.
func (s *Server) clientIP(r *http.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	addr := ap.Addr().Unmap()
	xff := r.Header.Values("X-Forwarded-For")
	if ap.Addr().Is4() && (len(xff) == 0 || !s.trusted(addr)) {
		// The address as RemoteAddr writes it, which is how String
		// would: read without making the string again.
		return r.RemoteAddr[:strings.LastIndexByte(r.RemoteAddr, ':')]
	}
	if len(xff) > 0 && s.trusted(addr) {
		hops := strings.Split(strings.Join(xff, ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a, ok := parseHop(hops[i])
			if !ok {
				// A proxy named a client we cannot read: it is no
				// address, and matches no address limit.
				return unknownClient
			}
			addr = a
			if !s.trusted(addr) {
				break
			}
		}
	}
	return addr.WithZone("").String()
}

// unknownClient is clientIP's answer for a client a trusted proxy named
// in a form that is not an address.
const unknownClient = "unknown"

// parseHop reads one hop of X-Forwarded-For: an address, as proxies
// write it, with a port or IPv6 brackets or neither.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.opts.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
