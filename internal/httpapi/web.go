package httpapi

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

// The web pages: server-rendered with html/template, which escapes what
// people typed, styled and scripted from embedded files. No inline script
// or style, so the Content-Security-Policy forbids both.

//go:embed web
var webFiles embed.FS

// pages are the templates, each page with the layout.
var pages = func() map[string]*template.Template {
	names, err := fs.Glob(webFiles, "web/templates/*.html")
	if err != nil {
		panic(err)
	}
	m := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "web/templates/"), ".html")
		if name == "layout" {
			continue
		}
		m[name] = template.Must(template.New(name).Funcs(templateFuncs).ParseFS(webFiles, "web/templates/layout.html", n))
	}
	return m
}()

var templateFuncs = template.FuncMap{
	"date": func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	// duration says a grace period the way the pages offer them.
	"duration": func(d time.Duration) string {
		for _, g := range graceChoices {
			if time.Duration(g.Seconds)*time.Second == d {
				return g.Label
			}
		}
		return d.String()
	},
	// dayField is a date field of the inventory's form.
	"dayField": func(p *inventoryPage, key, label string) dateField {
		return dateField{Key: key, Label: label, Value: p.Get(key), Errors: p.Errors[key]}
	},
}

// dateField is one date input of a form, as filled in, with its errors.
type dateField struct {
	Key, Label, Value string
	Errors            []string
}

// pageData is what every page gets; Page is the page's own.
type pageData struct {
	Title        string
	User         *latchkey.User
	CanViewUsers bool
	// CanViewInventory: the menu offers "All tokens".
	CanViewInventory bool
	Nav              string
	Flash            string
	Page             any
}

// contentSecurityPolicy allows the page's own script, style and forms and
// nothing else; formTargets adds the origins a form may end up at (the
// consent form redirects to the application).
func contentSecurityPolicy(formTargets ...string) string {
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
		"form-action 'self'" + strings.Join(append([]string{""}, formTargets...), " ") +
		"; frame-ancestors 'none'; base-uri 'none'"
}

// render writes the page name with status, and the headers every page
// carries.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, d pageData, formTargets ...string) {
	if d.User != nil {
		// The menu offers the search to those the search lets in.
		d.CanViewUsers = (&latchkey.Principal{User: d.User}).Authorize(latchkey.SearchUsers, 0) == nil
		d.CanViewInventory = (&latchkey.Principal{User: d.User}).Authorize(latchkey.ReadInventory, 0) == nil
	}
	var buf bytes.Buffer
	if err := pages[name].ExecuteTemplate(&buf, "layout", d); err != nil {
		s.log.ErrorContext(r.Context(), "rendering a page", "page", name, "request_id", requestID(w), "err", err)
		http.Error(w, "Server Error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", contentSecurityPolicy(formTargets...))
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// renderError shows a page that explains a refusal with status. A
// handler's error goes through fail instead, which takes the status from
// the table.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, heading, message, code string) {
	s.render(w, r, status, "error", pageData{Title: heading, User: s.sessionUserOrNil(r), Page: struct{ Heading, Message, Code string }{heading, message, code}})
}

// static serves the embedded style sheet and script.
func static() http.Handler {
	sub, err := fs.Sub(webFiles, "web/static")
	if err != nil {
		panic(err)
	}
	files := http.FileServerFS(sub)
	return http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	}))
}

// The sign-in cookie holds a random secret; the database holds its hash.
// Behind TLS its name carries the __Host- prefix, with which a browser
// keeps it only when it is Secure, for this host alone and the whole
// site: no subdomain or plain-HTTP page can plant or shadow it.
const (
	sessionCookie       = "latchkey_session"
	secureSessionCookie = "__Host-latchkey_session"
)

// sessionCookieName is the sign-in cookie's name for r.
func (s *Server) sessionCookieName(r *http.Request) string {
	if s.secure(r) {
		return secureSessionCookie
	}
	return sessionCookie
}

// sessionSecret is the secret of r's sign-in cookie, or "".
func (s *Server) sessionSecret(r *http.Request) string {
	c, err := r.Cookie(s.sessionCookieName(r))
	if err != nil {
		return ""
	}
	return c.Value
}

// secure reports whether r reached the server over TLS, directly or
// through a trusted proxy that says so.
func (s *Server) secure(r *http.Request) bool {
	if r.TLS != nil || s.opts.SecureCookies {
		return true
	}
	return r.Header.Get("X-Forwarded-Proto") == "https" && s.fromTrustedProxy(r)
}

// setSession sets the sign-in cookie: HttpOnly, SameSite=Lax, Secure
// behind TLS, for the whole site, ending with the session.
func (s *Server) setSession(w http.ResponseWriter, r *http.Request, secret string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: s.sessionCookieName(r), Value: secret, Path: "/", MaxAge: int(maxAge.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secure(r),
	})
}

// clearSession removes the sign-in cookie.
func (s *Server) clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: s.sessionCookieName(r), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secure(r),
	})
}

// sessionUser is who r's cookie signs in, or nil.
func (s *Server) sessionUserOrNil(r *http.Request) *latchkey.User {
	secret := s.sessionSecret(r)
	if secret == "" {
		return nil
	}
	u, err := s.svc.SessionUser(r.Context(), secret)
	if err != nil {
		return nil
	}
	return u
}

// redirectToLogin sends a person who is not signed in to the sign-in
// page, to come back to back afterwards.
func redirectToLogin(w http.ResponseWriter, r *http.Request, back string) {
	http.Redirect(w, r, "/login?"+url.Values{"return": {back}}.Encode(), http.StatusSeeOther)
}

// redirectToLoginAgain is redirectToLogin for a person who must sign in
// again although signed in.
func redirectToLoginAgain(w http.ResponseWriter, r *http.Request, back string) {
	http.Redirect(w, r, "/login?"+url.Values{"return": {back}, "again": {"1"}}.Encode(), http.StatusSeeOther)
}

// localPath returns p when it is a path on this server, else "/": the
// return address after sign-in never leads elsewhere.
func localPath(p string) string {
	if p == "" || p[0] != '/' || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return p
}

// page wraps a web page handler: cross-origin form posts are refused
// (the standard library's protection, which reads Sec-Fetch-Site and
// Origin), so no other site can post a form here in a person's name.
//
// A form declared larger than maxFormBytes is refused before it is read.
func (s *Server) page(h http.HandlerFunc) http.Handler {
	return s.csrf.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if declaredTooLarge(r, maxFormBytes) {
			s.formTooLarge(w, r)
			return
		}
		h(w, r)
	}))
}

// formTooLarge answers a form over maxFormBytes.
func (s *Server) formTooLarge(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, facePage, errTooLarge)
}

// csrfRefused answers a cross-origin form post.
func (s *Server) csrfRefused(w http.ResponseWriter, r *http.Request) {
	s.renderError(w, r, http.StatusForbidden, "Request refused", "This form was sent from another site. Go back, reload the page, and try again.", "cross_origin_request")
}

// notFound answers a path the server does not have: a browser (Accept
// includes text/html) gets the styled page, outside the API and the
// endpoints programs call; everything else gets the contract's JSON 404.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, faceFor(r), &latchkey.Error{Code: latchkey.ENOTFOUND})
}

// forPrograms reports whether path is under the API or an endpoint that
// programs call, where a 404 is always JSON.
func forPrograms(path string) bool {
	switch {
	case path == "/api" || strings.HasPrefix(path, "/api/"), strings.HasPrefix(path, "/.well-known/"):
		return true
	}
	for _, p := range []string{"/oauth/token", "/oauth/revoke", "/oauth/introspect"} {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// maxAcceptBytes bounds how much of Accept is read.
const maxAcceptBytes = 4 << 10

// wantsHTML reports whether the Accept header values name text/html with
// a quality above zero, as browsers do. text/* and */* are not enough:
// curl and API clients send */*.
func wantsHTML(accept []string) bool {
	n := 0
	for _, v := range accept {
		if n += len(v); n > maxAcceptBytes {
			return false
		}
		for _, item := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(item))
			if err != nil || mt != "text/html" {
				continue
			}
			if q, err := strconv.ParseFloat(params["q"], 64); params["q"] != "" && (err != nil || q <= 0) {
				continue
			}
			return true
		}
	}
	return false
}
