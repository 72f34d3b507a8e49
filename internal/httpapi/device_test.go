package httpapi

import (
	"strings"
	"testing"
)

// FuzzDeviceCookie: a device cookie's value is whatever a browser sends.
// verify does not panic; what issue makes verifies, for its name only; a
// value it accepts is one signed for that name, so it is refused for any
// other name, and with any byte of its signature changed.
func FuzzDeviceCookie(f *testing.F) {
	d := deviceCookies{key: []byte("a device cookie key of 32 bytes!")}
	f.Add("login:carol", d.issue("login:carol"))
	f.Add("login:carol", "")
	f.Add("login:carol", ".")
	f.Add("login:carol", "nonce.")
	f.Add("login:carol", "nonce.!!!")
	f.Add("login:", strings.Repeat("A", 500))
	f.Add("login:carol", d.issue("login:dave"))
	f.Fuzz(func(t *testing.T, login, value string) {
		nonce, ok := d.verify(login, value)
		if ok {
			if nonce == "" || !strings.HasPrefix(value, nonce+".") {
				t.Fatalf("verify(%q, %q) = %q: want the value's nonce", login, value, nonce)
			}
			if _, again := d.verify(login+"x", value); again {
				t.Fatalf("verify accepted %q for %q and for %q", value, login, login+"x")
			}
			b := []byte(value)
			b[len(b)-1] ^= 1
			if _, again := d.verify(login, string(b)); again {
				t.Fatalf("verify accepted %q, and %q with its last byte changed", value, b)
			}
		}
		issued := d.issue(login)
		if n, ok := d.verify(login, issued); !ok || !strings.HasPrefix(issued, n+".") {
			t.Fatalf("verify(%q, issue(%q)) = %q, %v: want the issued cookie accepted", login, login, n, ok)
		}
		if d.name(login, false) == d.name(login+"x", false) {
			t.Fatalf("two names share the cookie name %q", d.name(login, false))
		}
	})
}
