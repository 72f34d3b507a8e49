package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/service"
	"github.com/latchkey/latchkey/internal/wire"
)

// The handlers run the contract's checks in its order: authentication
// (401), the user in the path (404), permission then scope (403), the input
// (400, 413, 422), the scopes a token may hand on (403), the token in the
// path (404).

// owner authenticates r and returns who sent it and the user in the path,
// whom they may act on with a.
func (s *Server) owner(w http.ResponseWriter, r *http.Request, a latchkey.Action) (*latchkey.Principal, *latchkey.User, error) {
	p, err := s.authenticate(w, r)
	if err != nil {
		return nil, nil, err
	}
	u, err := s.svc.Owner(r.Context(), p, a, r.PathValue("user_id"))
	if err != nil {
		return nil, nil, err
	}
	return p, u, nil
}

// noStore marks a response that must not be cached.
func noStore(w http.ResponseWriter) { w.Header()["Cache-Control"] = noStoreValue }

// noStoreValue is the value of noStore's header: shared, as net/http only
// reads it.
var noStoreValue = []string{"no-store"}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	p, owner, err := s.owner(w, r, latchkey.CreateTokens)
	if err != nil {
		return err
	}
	if err := s.limitCreate(w, r, p); err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	req, err := DecodeTokenRequest(body)
	if err != nil {
		return err
	}
	t, jwt, err := s.svc.CreateToken(r.Context(), p, owner, req)
	if err != nil {
		return err
	}
	writeCreated(w, t, jwt)
	return nil
}

// writeCreated answers 201 with a new token t and its JWT, in the
// create's shape.
func writeCreated(w http.ResponseWriter, t *latchkey.Token, jwt string) {
	ut := wire.FromToken(t)
	noStore(w)
	w.Header().Set("Location", tokenPath(t.UserID, t.ID))
	writeJSON(w, http.StatusCreated, &wire.CreatedToken{UserToken: ut, AccessToken: jwt, Token: ut})
}

// rotateToken replaces a token with a new one: 201 in the create's shape.
// Whoever may create tokens for the user may rotate theirs.
func (s *Server) rotateToken(w http.ResponseWriter, r *http.Request) error {
	p, owner, err := s.owner(w, r, latchkey.CreateTokens)
	if err != nil {
		return err
	}
	return s.rotate(w, r, p, owner)
}

// rotate reads a rotation's body and rotates owner's token in the path,
// or p's own token when there is none.
func (s *Server) rotate(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, owner *latchkey.User) error {
	if err := s.limitCreate(w, r, p); err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	req, err := DecodeRotateRequest(body)
	if err != nil {
		return err
	}
	id := r.PathValue("token_id")
	if id == "" {
		id = p.Token.ID
	}
	t, jwt, err := s.svc.RotateToken(r.Context(), p, owner, id, req)
	if err != nil {
		return err
	}
	writeCreated(w, t, jwt)
	return nil
}

// showSelf shows the token the request was made with. Any token may.
func (s *Server) showSelf(w http.ResponseWriter, r *http.Request) error {
	p, err := s.authenticate(w, r)
	if err != nil {
		return err
	}
	return s.writeToken(w, r, p.User, p.Token.ID)
}

// deleteSelf revokes the token the request was made with, and what it
// made. Any token may.
func (s *Server) deleteSelf(w http.ResponseWriter, r *http.Request) error {
	p, err := s.authenticate(w, r)
	if err != nil {
		return err
	}
	if _, err := s.svc.RevokeToken(r.Context(), p, p.User, p.Token.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// rotateSelf rotates the token the request was made with: it needs
// tokens.write, or no scopes. A token rotated already is let in to ask
// again (service.AuthenticateRotation).
func (s *Server) rotateSelf(w http.ResponseWriter, r *http.Request) error {
	p, err := s.authenticateWith(w, r, s.svc.AuthenticateRotation)
	if err != nil {
		return err
	}
	if err := p.Authorize(latchkey.CreateTokens, p.User.ID); err != nil {
		return err
	}
	return s.rotate(w, r, p, p.User)
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	_, owner, err := s.owner(w, r, latchkey.ReadTokens)
	if err != nil {
		return err
	}
	query := ParseQuery(r.URL.RawQuery)
	q, err := ParseListQuery(query)
	if err != nil {
		return err
	}
	p, total, err := s.tokensPage(r.Context(), owner, q)
	if err != nil {
		return err
	}
	meta := listMeta(r.URL.Path, query, pageLinker(r.URL.Path, query), q.Page, q.PerPage, p.count, total)
	noStore(w)
	// {"data":…,"meta":…}: the tokens written as they are, not copied
	// into the rest.
	bp := buffers.Get().(*[]byte)
	rest := append(meta.AppendJSON(append((*bp)[:0], `,"meta":`...)), "}\n"...)
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Content-Length"] = []string{strconv.Itoa(len(dataKey) + len(p.data) + len(rest))}
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte(dataKey)); err == nil {
		if _, err := w.Write(p.data); err == nil {
			_, _ = w.Write(rest)
		}
	}
	*bp = rest
	buffers.Put(bp)
	return nil
}

// dataKey starts a list page's JSON.
const dataKey = `{"data":`

// tokensPage returns the page q of owner's tokens as JSON
// (wire.AppendTokens), from the page cache when it holds the page's
// version, and how many tokens there are on all pages.
func (s *Server) tokensPage(ctx context.Context, owner *latchkey.User, q service.ListQuery) (*cachedJSON, int, error) {
	k := pageKey{user: owner.ID, page: q.Page, perPage: q.PerPage}
	if v, total, ok := s.svc.TokensVersion(ctx, owner, q); ok {
		if p, ok := s.pages.get(k, v); ok {
			return p, total, nil
		}
	}
	ts, total, v, err := s.svc.TokensVersioned(ctx, owner, q)
	if err != nil {
		return nil, 0, err
	}
	p := &cachedJSON{version: v, count: len(ts), data: wire.AppendTokens(make([]byte, 0, 640*len(ts)+2), ts)}
	if !v.IsZero() {
		s.pages.put(k, p)
	}
	return p, total, nil
}

// listMeta describes a page of count items out of total, as Laravel's
// paginator does: a window of page links (see pageWindow) whose URLs link
// gives, which carry only the list's own parameters, so that the answer's
// size depends on neither the number of pages nor what else the query
// holds.
func listMeta(path string, query url.Values, link func(n int) *string, page, perPage, count, total int) wire.Meta {
	totalPages := (total + perPage - 1) / perPage
	lastPage := max(totalPages, 1)
	m := wire.Meta{
		Filter:      query.Get("filter"),
		SortBy:      query.Get("order_by"),
		SortOrder:   query.Get("order_direction"),
		Count:       count,
		TotalPages:  totalPages,
		CurrentPage: page,
		LastPage:    lastPage,
		Path:        path,
		PerPage:     perPage,
		Total:       total,
	}
	if count > 0 {
		from, to := (page-1)*perPage+1, (page-1)*perPage+count
		m.From, m.Form, m.To = &from, &from, &to
	}
	prev := wire.Link{Label: "&laquo; Previous"}
	if page > 1 {
		prev.URL = link(page - 1)
	}
	window := pageWindow(page, lastPage)
	m.Links = append(make([]wire.Link, 0, len(window)+2), prev)
	for _, n := range window {
		if n == 0 {
			m.Links = append(m.Links, wire.Link{Label: "..."})
			continue
		}
		m.Links = append(m.Links, wire.Link{URL: link(n), Label: strconv.Itoa(n), Active: n == page})
	}
	next := wire.Link{Label: "Next &raquo;"}
	if page < lastPage {
		next.URL = link(page + 1)
	}
	m.Links = append(m.Links, next)
	return m
}

// onEachSide is how many pages the window shows on each side of the
// current one, as Laravel's default.
const onEachSide = 3

// pageWindow lists the page numbers to link to, 0 standing for the
// "..." between two runs, laid out as Laravel's UrlWindow: every page while
// there are fewer than 14; otherwise the first ten and the last two near
// the start, the first two and the last ten near the end, and else the
// first two, the page with three on each side, and the last two. At most
// 13 entries, whatever the page and the number of pages.
func pageWindow(page, last int) []int {
	span := func(out []int, from, to int) []int {
		for n := max(from, 1); n <= to; n++ {
			out = append(out, n)
		}
		return out
	}
	out := make([]int, 0, 2*onEachSide+7)
	if last < 2*onEachSide+8 {
		return span(out, 1, last)
	}
	const window = onEachSide + 4
	switch {
	case page <= window:
		out = span(out, 1, window+onEachSide)
		out = append(out, 0)
		return span(out, last-1, last)
	case page > last-window:
		out = span(out, 1, 2)
		out = append(out, 0)
		return span(out, last-(window+onEachSide-1), last)
	}
	out = span(out, 1, 2)
	out = append(out, 0)
	out = span(out, page-onEachSide, page+onEachSide)
	out = append(out, 0)
	return span(out, last-1, last)
}

func (s *Server) showToken(w http.ResponseWriter, r *http.Request) error {
	_, owner, err := s.owner(w, r, latchkey.ReadTokens)
	if err != nil {
		return err
	}
	return s.writeToken(w, r, owner, r.PathValue("token_id"))
}

// writeToken answers 200 with owner's token id: from the cache of shown
// tokens while it holds the token's version.
func (s *Server) writeToken(w http.ResponseWriter, r *http.Request, owner *latchkey.User, id string) error {
	e, ok := (*cachedJSON)(nil), false
	if v, held := s.svc.TokenVersion(owner, id); held {
		e, ok = s.shown.get(id, v)
	}
	if !ok {
		t, v, err := s.svc.TokenVersioned(r.Context(), owner, id)
		if err != nil {
			return err
		}
		b := append(wire.AppendToken(make([]byte, 0, 1024), t), '\n')
		e = &cachedJSON{version: v, data: b, length: []string{strconv.Itoa(len(b))}}
		if !v.IsZero() {
			s.shown.put(id, e)
		}
	}
	noStore(w)
	writeBytes(w, http.StatusOK, e.data, e.length)
	return nil
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) error {
	p, owner, err := s.owner(w, r, latchkey.RevokeTokens)
	if err != nil {
		return err
	}
	if _, err := s.svc.RevokeToken(r.Context(), p, owner, r.PathValue("token_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// tokenPath is where a token lives in the API.
func tokenPath(userID int64, tokenID string) string {
	return "/api/1.0/users/" + strconv.FormatInt(userID, 10) + "/tokens/" + url.PathEscape(tokenID)
}

// limitCreate spends one of the creator's and the address's creations.
func (s *Server) limitCreate(w http.ResponseWriter, r *http.Request, p *latchkey.Principal) error {
	now := s.svc.Now()
	if ok, after := s.createByUser.allow(strconv.FormatInt(p.User.ID, 10), now); !ok {
		return s.refuse(w, s.createByUser.name, after)
	}
	if s.createByAddr != nil {
		if ok, after := s.createByAddr.allow(s.clientAddr(r), now); !ok {
			return s.refuse(w, s.createByAddr.name, after)
		}
	}
	return nil
}

// listParams are the list's own query parameters other than page, in the
// order url.Values.Encode writes them: the only ones a page link repeats.
var listParams = [...]string{"filter", "order_by", "order_direction", "per_page"}

// pageLinker returns a function that gives the URL of page n: path with
// page set to n and the list's own parameters that the query gave (the
// first value of each, the one the list used), encoded as
// url.Values.Encode encodes them. They are encoded once for all pages.
func pageLinker(path string, query url.Values) func(n int) *string {
	var before, after strings.Builder
	for _, k := range listParams {
		v, ok := query[k]
		if !ok || len(v) == 0 {
			continue
		}
		b := &before
		if k > "page" {
			b = &after
		}
		if b.Len() > 0 || b == &after {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(v[0]))
	}
	head := path + "?" + before.String()
	if before.Len() > 0 {
		head += "&"
	}
	tail := after.String()
	return func(n int) *string {
		u := head + "page=" + strconv.Itoa(n) + tail
		return &u
	}
}
