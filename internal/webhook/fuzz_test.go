package webhook_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/ssrf"
	"github.com/latchkey/latchkey/internal/webhook"
)

// FuzzParseSecret feeds ParseSecret arbitrary text. Properties: it never
// panics, and a secret it accepts has a key of 24 to 64 bytes and is that
// key's one way of being written.
func FuzzParseSecret(f *testing.F) {
	for _, seed := range []string{
		vectorSecret,
		"whsec_",
		"",
		"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",      // no prefix
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", // not a whole quantum
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", // a line break, which the decoder skips
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La\rLaSw",
		"whsec_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_",                    // URL alphabet
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMA==",              // 25 bytes, padded
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMB==",              // padding bits set
		"whsec_" + strings.Repeat("AAAA", 21) + "AA==",            // 64 bytes
		"whsec_" + strings.Repeat("AAAA", 22),                     // 66 bytes
		"whsec_whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",            // twice prefixed
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw====",              // too much padding
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw MfKQ9r8GKYqrTwjU", // a space
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, err := webhook.ParseSecret(s)
		if err != nil {
			return
		}
		if len(key) < webhook.MinKeyLength || len(key) > webhook.MaxKeyLength {
			t.Fatalf("ParseSecret(%q) = %d bytes, want %d to %d", s, len(key), webhook.MinKeyLength, webhook.MaxKeyLength)
		}
		if again := webhook.SecretPrefix + base64.StdEncoding.EncodeToString(key); again != s {
			t.Fatalf("ParseSecret(%q) = a key written %q", s, again)
		}
	})
}

// FuzzVerify feeds Verify arbitrary headers and bodies. Properties: it
// never panics; it accepts headers only when one of their signatures is
// the one Sign makes of them; and the signature Sign makes, added to any
// others, always verifies when the id has no dot.
func FuzzVerify(f *testing.F) {
	key := vectorKey(f)
	now := time.Unix(vectorTimestamp, 0)
	for _, seed := range []struct{ id, ts, sigs, body string }{
		{vectorID, "1614265330", vectorSignature, vectorBody},
		{vectorID, "1614265330", "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " + vectorSignature, vectorBody},
		{vectorID, "1614265330", "v1a," + strings.TrimPrefix(vectorSignature, "v1,"), vectorBody},
		{vectorID, "1614265330", "v1,", ""},
		{vectorID, "1614265330", ",,, v1 ,v1", ""},
		{vectorID, "1614265030", vectorSignature, vectorBody},
		{vectorID, "+1614265330", vectorSignature, vectorBody},
		{vectorID, "99999999999999999999", vectorSignature, vectorBody},
		{"msg.1", "1614265330", vectorSignature, vectorBody},
		{"", "", "", ""},
		{"a", "0", "\t v1,\x00 \u00a0", "\xff"},
	} {
		f.Add(seed.id, seed.ts, seed.sigs, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, id, ts, sigs string, body []byte) {
		h := http.Header{webhook.HeaderID: {id}, webhook.HeaderTimestamp: {ts}, webhook.HeaderSignature: {sigs}}
		if err := webhook.Verify(key, h, body, now, 0); err == nil {
			n, perr := strconv.ParseInt(ts, 10, 64)
			if perr != nil {
				t.Fatalf("Verify(id %q, timestamp %q) = nil, but the timestamp is no number", id, ts)
			}
			if want := webhook.Sign(key, id, time.Unix(n, 0), body); !slices.Contains(strings.Fields(sigs), want) {
				t.Fatalf("Verify(id %q, timestamp %q, signatures %q) = nil, and none is %q", id, ts, sigs, want)
			}
		}

		if id == "" || strings.Contains(id, ".") {
			return
		}
		for _, at := range []time.Time{now, now.Add(-webhook.DefaultTolerance), now.Add(webhook.DefaultTolerance)} {
			good := webhook.Sign(key, id, at, body)
			h := http.Header{
				webhook.HeaderID:        {id},
				webhook.HeaderTimestamp: {strconv.FormatInt(at.Unix(), 10)},
				webhook.HeaderSignature: {sigs + " " + good},
			}
			if err := webhook.Verify(key, h, body, now, 0); err != nil {
				t.Fatalf("Verify(id %q, signatures %q, %q) = %v, want nil", id, sigs+" "+good, body, err)
			}
			other := bytes.Clone(body)
			other = append(other, ' ')
			if err := webhook.Verify(key, h, other, now, 0); err == nil && !strings.Contains(sigs, webhook.Sign(key, id, at, other)) {
				t.Fatalf("Verify(a body its signature does not cover) = nil")
			}
		}
	})
}

// FuzzCheckURL feeds CheckURL arbitrary URLs. Properties: it never panics;
// what it accepts without allowPrivate it accepts with it; and what it
// accepts without allowPrivate is an http or https URL with a host and no
// user info, whose host is a public address in its usual form or a name
// that no resolver reads as an address (by inet_aton, which takes 127.1
// and 0x7f000001) and that is not local.
func FuzzCheckURL(f *testing.F) {
	for _, seed := range []string{
		"https://example.com/hook",
		"http://example.com:8080/a?b=c",
		"https://93.184.215.14/",
		"https://[2606:4700:4700::1111]:8443/",
		"http://127.0.0.1/",
		"http://127.1/",
		"http://0x7f.1/",
		"http://0x7f000001/",
		"http://2130706433/",
		"http://0177.0.0.1/",
		"http://127.0.0.1./",
		"http://[::ffff:127.0.0.1]/",
		"http://[::ffff:7f00:1]/",
		"http://[64:ff9b::a9fe:a9fe]/",
		"http://[2002:7f00:1::]/",
		"http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
		"http://[fe80::1%25eth0]/",
		"http://localhost/",
		"http://LOCALHOST./",
		"http://a.localhost/",
		"http://printer.local/",
		"http://metadata.google.internal/",
		"http://169.254.169.254/latest/meta-data/",
		"http://user:pass@example.com/",
		"http://example.com/#x",
		"http://１２７.０.０.１/",
		"http://%31%32%37.0.0.1/",
		"http://example.com:0/",
		"http:example.com",
		"ftp://example.com/",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		loose := webhook.CheckURL(raw, true)
		if err := webhook.CheckURL(raw, false); err != nil {
			return
		} else if loose != nil {
			t.Fatalf("CheckURL(%q) = nil, but with allowPrivate = %v", raw, loose)
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("CheckURL(%q) = nil, but url.Parse = %v", raw, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.User != nil || u.Hostname() == "" {
			t.Fatalf("CheckURL(%q) = nil: scheme %q, user info %v, host %q", raw, u.Scheme, u.User != nil, u.Hostname())
		}
		host := u.Hostname()
		if a, err := netip.ParseAddr(host); err == nil {
			if !ssrf.Public(a) || a.Zone() != "" {
				t.Fatalf("CheckURL(%q) = nil, but its address %s is not public", raw, a)
			}
			return
		}
		if a, ok := inetAton(host); ok {
			t.Fatalf("CheckURL(%q) = nil, but inet_aton reads its host as %s", raw, a)
		}
		name := strings.ToLower(strings.TrimSuffix(host, "."))
		if name == "localhost" || strings.HasSuffix(name, ".localhost") || strings.HasSuffix(name, ".local") || strings.HasSuffix(name, ".internal") {
			t.Fatalf("CheckURL(%q) = nil, but its host %q is local", raw, host)
		}
		for _, c := range []byte(name) {
			if c >= 0x80 {
				t.Fatalf("CheckURL(%q) = nil, but its host %q is not ASCII", raw, host)
			}
		}
	})
}

// inetAton reads s as the C library's inet_aton does: one to four numbers
// separated by dots, each decimal, octal after a 0, or hexadecimal after
// 0x, the last filling the bytes that remain; a final dot is forgiven, as
// some resolvers do.
func inetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(strings.TrimSuffix(s, "."), ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var n uint64
	for i, p := range parts {
		base := 10
		switch {
		case len(p) >= 2 && (p[:2] == "0x" || p[:2] == "0X"):
			base, p = 16, p[2:]
			if p == "" {
				p = "0"
			}
		case len(p) >= 2 && p[0] == '0':
			base, p = 8, p[1:]
		}
		v, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 {
			if v > 255 {
				return netip.Addr{}, false
			}
			n = n<<8 | v
			continue
		}
		rest := uint(8 * (4 - i))
		if rest < 32 && v >= 1<<rest {
			return netip.Addr{}, false
		}
		n = n<<rest | v
	}
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

func TestInetAton(t *testing.T) {
	for s, want := range map[string]string{
		"127.1": "127.0.0.1", "0x7f.1": "127.0.0.1", "2130706433": "127.0.0.1", "0x7f000001": "127.0.0.1",
		"0177.0.0.1": "127.0.0.1", "127.0.0.1.": "127.0.0.1", "10.1.1": "10.1.0.1", "0": "0.0.0.0", "0x": "0.0.0.0",
		"256.1": "", "1.2.3.4.5": "", "08": "", "example.com": "", "1.0x100": "1.0.1.0", "": "",
	} {
		a, ok := inetAton(s)
		if got := a.String(); !ok && want != "" || ok && got != want {
			t.Errorf("inetAton(%q) = %v, %v, want %q", s, a, ok, want)
		}
	}
}
