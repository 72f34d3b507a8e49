package httpapi

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
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
func noStore(w http.ResponseWriter) { w.Header().Set("Cache-Control", "no-store") }

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
	ut := wire.FromToken(t)
	noStore(w)
	w.Header().Set("Location", tokenPath(owner.ID, t.ID))
	writeJSON(w, http.StatusCreated, &wire.CreatedToken{UserToken: ut, AccessToken: jwt, Token: ut})
	return nil
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
	ts, total, err := s.svc.Tokens(r.Context(), owner, q)
	if err != nil {
		return err
	}
	list := wire.TokenList{Data: make([]wire.UserToken, len(ts))}
	for i, t := range ts {
		list.Data[i] = wire.FromToken(t)
	}
	list.Meta = listMeta(r.URL.Path, query, q.Page, q.PerPage, len(ts), total)
	noStore(w)
	writeJSON(w, http.StatusOK, &list)
	return nil
}

// listMeta describes a page of count items out of total, as Laravel's
// paginator does, with links that keep the other query parameters.
func listMeta(path string, query url.Values, page, perPage, count, total int) wire.Meta {
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
	link := pageLinker(path, query)
	prev := wire.Link{Label: "&laquo; Previous"}
	if page > 1 {
		prev.URL = link(page - 1)
	}
	m.Links = append(make([]wire.Link, 0, lastPage+2), prev)
	for n := 1; n <= lastPage; n++ {
		m.Links = append(m.Links, wire.Link{URL: link(n), Label: strconv.Itoa(n), Active: n == page})
	}
	next := wire.Link{Label: "Next &raquo;"}
	if page < lastPage {
		next.URL = link(page + 1)
	}
	m.Links = append(m.Links, next)
	return m
}

func (s *Server) showToken(w http.ResponseWriter, r *http.Request) error {
	_, owner, err := s.owner(w, r, latchkey.ReadTokens)
	if err != nil {
		return err
	}
	t, err := s.svc.Token(r.Context(), owner, r.PathValue("token_id"))
	if err != nil {
		return err
	}
	noStore(w)
	ut := wire.FromToken(t)
	writeJSON(w, http.StatusOK, &ut)
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
	now := time.Now()
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

// pageLinker returns a function that gives the URL of page n: path with
// the query, its page set to n, encoded as url.Values.Encode encodes it
// (keys sorted). The other parameters are encoded once for all pages.
func pageLinker(path string, query url.Values) func(n int) *string {
	var before, after strings.Builder
	keys := make([]string, 0, len(query))
	for k := range query {
		if k != "page" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		b := &before
		if k > "page" {
			b = &after
		}
		for _, v := range query[k] {
			if b.Len() > 0 || b == &after {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k))
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(v))
		}
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
