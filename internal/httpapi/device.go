package httpapi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// Device cookies, after OWASP's "Slow Down Online Guessing Attacks with
// Device Cookies": the per-name sign-in budget can be spent by anyone who
// types a name, which would lock its owner out too. So a successful
// sign-in leaves a device cookie in the browser, signed for the name
// typed; a later sign-in to that name carrying a valid one draws on the
// cookie's own budget instead of the name's. A guesser without it meets
// the name's budget; the owner's browser goes through; a device cookie
// that fails too often is itself throttled. The address budget applies
// to everyone.

// DeviceCookieInfo is the HKDF info under which the server derives the
// device cookies' HMAC key from its secret.
const DeviceCookieInfo = "latchkey/httpapi: sign-in device cookies, v1"

// deviceCookieLifetime is how long a browser keeps a device cookie: each
// successful sign-in issues a new one.
const deviceCookieLifetime = 180 * 24 * time.Hour

// maxDeviceCookie bounds a device cookie's value: a longer one is none of
// ours.
const maxDeviceCookie = 128

// deviceCookies issues and checks device cookies with key.
type deviceCookies struct{ key []byte }

func (d deviceCookies) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, d.key)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return m.Sum(nil)
}

// name is the cookie's name for the sign-in key login (service.SignInKey):
// one cookie per name, so that a browser shared by several people keeps
// each one's. The name hides the login: it is a MAC of it.
func (d deviceCookies) name(login string, secure bool) string {
	n := "latchkey_device_" + hex.EncodeToString(d.mac("name", login)[:8])
	if secure {
		return "__Host-" + n
	}
	return n
}

// issue returns a new device cookie value for login: a random nonce and
// the MAC of login and nonce.
func (d deviceCookies) issue(login string) string {
	nonce := rand.Text()
	return nonce + "." + base64.RawURLEncoding.EncodeToString(d.mac("cookie", login, nonce))
}

// verify returns the nonce of value when value is a device cookie issued
// for login; the MAC is compared in constant time.
func (d deviceCookies) verify(login, value string) (string, bool) {
	if len(value) > maxDeviceCookie {
		return "", false
	}
	nonce, sig, ok := strings.Cut(value, ".")
	if !ok || nonce == "" {
		return "", false
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil || !hmac.Equal(got, d.mac("cookie", login, nonce)) {
		return "", false
	}
	return nonce, true
}

// deviceNonce returns the nonce of r's valid device cookie for login, or
// false when it has none.
func (s *Server) deviceNonce(r *http.Request, login string) (string, bool) {
	c, err := r.Cookie(s.device.name(login, s.secure(r)))
	if err != nil {
		return "", false
	}
	return s.device.verify(login, c.Value)
}

// setDeviceCookie gives the browser a new device cookie for login:
// HttpOnly, SameSite=Strict (only our own sign-in form needs it), Secure
// behind TLS.
func (s *Server) setDeviceCookie(w http.ResponseWriter, r *http.Request, login string) {
	http.SetCookie(w, &http.Cookie{
		Name: s.device.name(login, s.secure(r)), Value: s.device.issue(login), Path: "/",
		MaxAge: int(deviceCookieLifetime.Seconds()), HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secure(r),
	})
}
