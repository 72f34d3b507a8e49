package httpapi

import (
	"errors"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/service"
)

// fromTrustedProxy reports whether r's peer is a trusted proxy.
func (s *Server) fromTrustedProxy(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && s.trusted(ap.Addr().Unmap())
}

type loginPage struct {
	Return, Login, Error string
}

// maxFormBytes bounds a web form's body.
const maxFormBytes = 64 << 10

// loginForm shows the sign-in page; a person already signed in goes on.
func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	back := localPath(r.URL.Query().Get("return"))
	// Signed in already: straight on, unless sent to sign in again
	// (an application's prompt=login).
	if u := s.sessionUserOrNil(r); u != nil && r.URL.Query().Get("again") == "" {
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login", pageData{Title: "Sign in", Page: loginPage{Return: back}})
}

// login signs a person in. Failures are throttled per address and per
// account name (known or not, so the throttle tells nothing either), and
// answered alike whatever failed. A browser with a valid device cookie for
// the name (device.go) draws on the cookie's budget instead of the name's,
// so guesses by others do not lock the name's owner out.
//
// A failure on the server's side is the handler's error, answered as
// every page's is (ui): 503 while the server is busy checking passwords.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	back := localPath(r.PostForm.Get("return"))
	login := strings.TrimSpace(r.PostForm.Get("login"))
	addr := s.clientAddr(r)
	now := s.svc.Now()
	// A failure is paid for before the password is checked: a burst of
	// guesses sent together gets no more checks than the budget allows.
	// The account's budget is the typed name's (service.SignInKey), or
	// the device cookie's when the browser has a valid one for it.
	key := service.SignInKey(login)
	byAddr, ok, after := s.signInByAddr.reserve(addr, now)
	if !ok {
		s.signInThrottled(w, r, after, back, login)
		return nil
	}
	budget, budgetKey := s.signInByAccount, key
	// A device cookie is bound to the name exactly as typed when it was
	// issued: names that differ only in case may be different accounts.
	device := "device:" + login
	if nonce, ok := s.deviceNonce(r, device); ok {
		budget, budgetKey = s.signInByDevice, nonce
	}
	byAccount, ok, after := budget.reserve(budgetKey, now)
	if !ok {
		release(byAddr, now)
		s.signInThrottled(w, r, after, back, login)
		return nil
	}
	origin := latchkey.Origin{Address: addr, UserAgent: r.UserAgent()}
	u, secret, err := s.svc.SignIn(r.Context(), login, r.PostForm.Get("password"), origin)
	if err != nil {
		var e *latchkey.Error
		if !errors.As(err, &e) || e.Code != latchkey.EUNAUTHENTICATED {
			release(byAddr, now)
			release(byAccount, now)
			if e != nil && e.Code == latchkey.EUNAVAILABLE {
				w.Header().Set("Retry-After", "5")
			}
			return err
		}
		s.render(w, r, http.StatusUnauthorized, "login", pageData{Title: "Sign in", Page: loginPage{Return: back, Login: login, Error: e.Message}})
		return nil
	}
	release(byAddr, now)
	release(byAccount, now)
	// A new session at every sign-in: a cookie planted before it is
	// worthless (no session fixation).
	if old := s.sessionSecret(r); old != "" {
		_ = s.svc.SignOut(r.Context(), old)
	}
	s.setSession(w, r, secret, s.svc.SessionLifetime())
	s.setDeviceCookie(w, r, device)
	s.log.InfoContext(r.Context(), "signed in", "request_id", requestID(w), "user_id", u.ID)
	http.Redirect(w, r, back, http.StatusSeeOther)
	return nil
}

// signInThrottled answers 429 with Retry-After on the sign-in page.
func (s *Server) signInThrottled(w http.ResponseWriter, r *http.Request, after time.Duration, back, login string) {
	secs := max(1, int(math.Ceil(after.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	if s.metrics != nil {
		s.metrics.RateLimited("sign_in")
	}
	s.render(w, r, http.StatusTooManyRequests, "login", pageData{Title: "Sign in", Page: loginPage{
		Return: back, Login: login,
		Error: "Too many failed attempts. Try again in " + strconv.Itoa(secs) + " seconds.",
	}})
}

// logout ends the session.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if secret := s.sessionSecret(r); secret != "" {
		if err := s.svc.SignOut(r.Context(), secret); err != nil {
			s.log.ErrorContext(r.Context(), "signing out", "request_id", requestID(w), "err", err)
		}
	}
	s.clearSession(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// parseForm reads the form of a page's POST, at most maxFormBytes: 413
// past that, 400 for one that cannot be read.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
			return errTooLarge
		}
		return &latchkey.Error{Code: latchkey.EMALFORMED, Err: err}
	}
	return nil
}
