package httpapi

import (
	"errors"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/service"
	"github.com/latchkey/latchkey/internal/wire"
)

// The inventory: GET /api/1.0/tokens lists every user's tokens, by the
// filters of its query, a page in the contract's list shape or, with
// Accept: text/csv, every one of them as CSV, streamed.

// InventoryQuery is what the query of the inventory asks for: a page of
// the tokens Filter selects (its Offset, Limit and Now unset).
type InventoryQuery struct {
	Page, PerPage int
	Filter        latchkey.InventoryFilter
}

// inventoryParams are the inventory's own parameters beyond the list's,
// in the order their errors are reported, and with the labels of the
// sentences.
var inventoryParams = []struct{ key, label string }{
	{"user_id", "User Id"},
	{"client_id", "Client Id"},
	{"state", "State"},
	{"created_after", "Created After"},
	{"created_before", "Created Before"},
	{"expires_after", "Expires After"},
	{"expires_before", "Expires Before"},
	{"last_used_after", "Last Used After"},
	{"last_used_before", "Last Used Before"},
	{"never_used", "Never Used"},
	{"scope", "Scope"},
}

// The inventory's sentences beyond the list's.
const (
	// MsgDateFormat follows "The … field must be a valid date." as
	// MsgExpiresFormat follows it on create.
	MsgDateFormat = "Use an RFC 3339 date and time with a zone, e.g. 2027-01-31T00:00:00Z, or a day, e.g. 2027-01-31 (its start, in UTC)."
	msgState      = "The State field must be one of active, revoked, expired."
	msgNeverUsed  = "The Never Used field must be true or false."
	msgScope      = "The Scope field must be a scope name, e.g. tokens.read, or *."
)

// ParseInventoryQuery reads the query of the inventory: the list's
// parameters (ParseListQuery), then user_id, client_id, state (repeated,
// or a comma-separated list, or both), the date bounds created_after,
// created_before, expires_after, expires_before, last_used_after and
// last_used_before (RFC 3339 with a zone, or a day YYYY-MM-DD, which is
// its start in UTC), never_used (true or false) and scope. An empty
// parameter counts as absent, and a parameter given twice counts once,
// as the list's do, but for state. Every bad value is a sentence of one
// EINVALID error, fields in the list's order and then the order above.
func ParseInventoryQuery(q url.Values) (InventoryQuery, error) {
	var fe latchkey.FieldErrors
	lq, err := ParseListQuery(q)
	if e := (*latchkey.Error)(nil); errors.As(err, &e) {
		fe = append(fe, e.Fields...)
	}
	iq := InventoryQuery{Page: lq.Page, PerPage: lq.PerPage, Filter: latchkey.InventoryFilter{
		Name: lq.Filter, OrderBy: lq.OrderBy, Ascending: lq.Ascending,
	}}
	f := &iq.Filter
	for _, p := range inventoryParams {
		v := q.Get(p.key)
		if v == "" && p.key != "state" {
			continue
		}
		switch p.key {
		case "user_id", "client_id":
			id, ok := service.ParseUserID(v)
			if !ok {
				fe.Add(p.key, "The "+p.label+" field must be a positive integer.")
				continue
			}
			if p.key == "user_id" {
				f.UserID = id
			} else {
				f.ClientID = id
			}
		case "state":
			states, ok := parseStates(q["state"])
			if !ok {
				fe.Add(p.key, msgState)
				continue
			}
			f.States = states
		case "never_used":
			switch v {
			case "true", "1":
				f.NeverUsed = ptr(true)
			case "false", "0":
				f.NeverUsed = ptr(false)
			default:
				fe.Add(p.key, msgNeverUsed)
			}
		case "scope":
			if v != latchkey.ScopeAll && !latchkey.ValidScopeName(v) {
				fe.Add(p.key, msgScope)
				continue
			}
			f.Scope = v
		default:
			t, ok := parseDate(v)
			if !ok {
				fe.Add(p.key, "The "+p.label+" field must be a valid date.")
				fe.Add(p.key, MsgDateFormat)
				continue
			}
			*inventoryBound(f, p.key) = &t
		}
	}
	return iq, fe.Err()
}

// inventoryBound is the field of f that the date parameter key sets.
func inventoryBound(f *latchkey.InventoryFilter, key string) **time.Time {
	switch key {
	case "created_after":
		return &f.CreatedAfter
	case "created_before":
		return &f.CreatedBefore
	case "expires_after":
		return &f.ExpiresAfter
	case "expires_before":
		return &f.ExpiresBefore
	case "last_used_after":
		return &f.LastUsedAfter
	}
	return &f.LastUsedBefore
}

// parseStates reads the values of state: each a state or a comma-separated
// list of them, with no empty item but in a value that is wholly empty.
// The result has no duplicates, in the order first given; nil when no
// value names one.
func parseStates(values []string) ([]latchkey.TokenState, bool) {
	var states []latchkey.TokenState
	for _, v := range values {
		if v == "" {
			continue
		}
		for item := range strings.SplitSeq(v, ",") {
			st := latchkey.TokenState(strings.TrimSpace(item))
			if !slices.Contains(latchkey.TokenStates, st) {
				return nil, false
			}
			if !slices.Contains(states, st) {
				states = append(states, st)
			}
		}
	}
	return states, true
}

// parseDate reads an RFC 3339 date and time with a zone, or a day
// (YYYY-MM-DD: its start, in UTC), in UTC.
func parseDate(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), true
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

func ptr[T any](v T) *T { return &v }

// inventoryLinkParams are the parameters a page link of the inventory
// repeats: the list's and the filters, never anything else of the query.
var inventoryLinkParams = func() []string {
	keys := slices.Clone(listParams[:])
	for _, p := range inventoryParams {
		keys = append(keys, p.key)
	}
	slices.Sort(keys)
	return keys
}()

// inventoryLinker returns the page links of the inventory: the list's own
// parameters and the filters as given (the first value of each, unless
// empty, which counts as absent; state as
// the comma-separated list of every state the query named, which
// ParseInventoryQuery has checked, so that a link's size stays bounded).
func inventoryLinker(path string, query url.Values, f latchkey.InventoryFilter) func(n int) *string {
	kept := url.Values{}
	for _, k := range inventoryLinkParams {
		if v, ok := query[k]; ok && len(v) > 0 && v[0] != "" && k != "state" {
			kept[k] = v[:1]
		}
	}
	if len(f.States) > 0 {
		names := make([]string, len(f.States))
		for i, st := range f.States {
			names[i] = string(st)
		}
		kept["state"] = []string{strings.Join(names, ",")}
	}
	return valuesLinker(path, kept)
}

// valuesLinker returns a function that gives the URL of page n: path with
// page set to n and kept, keys in order, as url.Values.Encode encodes
// them.
func valuesLinker(path string, kept url.Values) func(n int) *string {
	var before, after strings.Builder
	for _, k := range slices.Sorted(maps.Keys(kept)) {
		b := &before
		if k > "page" {
			b = &after
		}
		for _, v := range kept[k] {
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

// inventory serves GET /api/1.0/tokens. The checks run in the contract's
// order: authentication (401), permission then scope (403), the query
// (422).
func (s *Server) inventory(w http.ResponseWriter, r *http.Request) error {
	p, err := s.authenticate(w, r)
	if err != nil {
		return err
	}
	if err := s.svc.AuthorizeInventory(p); err != nil {
		return err
	}
	query := ParseQuery(r.URL.RawQuery)
	iq, err := ParseInventoryQuery(query)
	if err != nil {
		return err
	}
	w.Header().Add("Vary", "Accept")
	if wantsCSV(r.Header.Values("Accept")) {
		return s.streamInventory(w, r, p, iq.Filter)
	}
	f := iq.Filter
	f.Offset, f.Limit = (iq.Page-1)*iq.PerPage, iq.PerPage
	items, total, err := s.svc.Inventory(r.Context(), p, f)
	if err != nil {
		return err
	}
	list := wire.TokenList{Data: make([]wire.UserToken, len(items))}
	for i, it := range items {
		list.Data[i] = wire.FromToken(it.Token)
	}
	list.Meta = listMeta(r.URL.Path, query, inventoryLinker(r.URL.Path, query, iq.Filter), iq.Page, iq.PerPage, len(items), total)
	noStore(w)
	writeJSON(w, http.StatusOK, &list)
	return nil
}

// wantsCSV reports whether the Accept header values name text/csv with a
// quality above zero.
func wantsCSV(accept []string) bool {
	n := 0
	for _, v := range accept {
		if n += len(v); n > maxAcceptBytes {
			return false
		}
		for item := range strings.SplitSeq(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(item))
			if err != nil || mt != "text/csv" {
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

// The CSV is flushed to the client every csvFlushRows rows, and each
// flush gives the connection csvWriteWindow more to write in: a download
// of any length outlives the server's write timeout as long as it moves.
const (
	csvFlushRows   = 256
	csvWriteWindow = 30 * time.Second
)

// streamInventory writes every token f selects as CSV, a row as the store
// reads it (see wire.InventoryCSV): the memory it holds does not grow with
// the number of rows. An error before the first byte is answered as any
// error is; after it, the status is sent, and the connection is cut so
// that the client sees a broken download rather than a short one.
func (s *Server) streamInventory(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, f latchkey.InventoryFilter) error {
	select {
	case s.exports <- struct{}{}:
		defer func() { <-s.exports }()
	default:
		// Each export holds a database connection while it runs.
		return s.refuse(w, "inventory_export", 5*time.Second)
	}
	now := s.svc.Now()
	f.Now = now
	rc := http.NewResponseController(w)
	out := wire.NewInventoryCSV(w, now)
	started := false
	start := func() error {
		started = true
		h := w.Header()
		h.Set("Content-Type", "text/csv; charset=utf-8; header=present")
		h.Set("Content-Disposition", `attachment; filename="tokens-`+now.UTC().Format("20060102-150405")+`.csv"`)
		noStore(w)
		w.WriteHeader(http.StatusOK)
		return out.WriteHeader()
	}
	rows := 0
	err := s.svc.EachInventoryToken(r.Context(), p, f, func(it *latchkey.InventoryToken) error {
		if !started {
			if err := start(); err != nil {
				return err
			}
		}
		if err := out.Write(it); err != nil {
			return err
		}
		if rows++; rows%csvFlushRows == 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(csvWriteWindow))
			if err := out.Flush(); err != nil {
				return err
			}
			_ = rc.Flush()
		}
		return nil
	})
	if err == nil && !started {
		err = start()
	}
	if err == nil {
		err = out.Flush()
	}
	if err == nil || !started {
		return err
	}
	if r.Context().Err() == nil {
		s.log.ErrorContext(r.Context(), "inventory export cut short", "request_id", requestID(w), "rows", rows, "err", err)
	}
	panic(http.ErrAbortHandler)
}
