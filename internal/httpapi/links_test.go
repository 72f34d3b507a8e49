package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/wire"
)

// seq is from..to, with 0 for each "..." given as -1.
func seq(parts ...int) []int {
	var out []int
	for i := 0; i < len(parts); i += 2 {
		if parts[i] == -1 {
			out = append(out, 0)
			i--
			continue
		}
		for n := parts[i]; n <= parts[i+1]; n++ {
			out = append(out, n)
		}
	}
	return out
}

// TestPageWindow: the links are laid out as Laravel's UrlWindow with three
// pages on each side (CONTRACT.md §3, meta.links).
func TestPageWindow(t *testing.T) {
	for _, tc := range []struct {
		page, last int
		want       []int
	}{
		{1, 1, seq(1, 1)},
		{5, 13, seq(1, 13)},
		{99, 13, seq(1, 13)},
		{1, 14, seq(1, 10, -1, 13, 14)},
		{7, 14, seq(1, 10, -1, 13, 14)},
		{8, 14, seq(1, 2, -1, 5, 14)},
		{13, 20, seq(1, 2, -1, 10, 16, -1, 19, 20)},
		{14, 20, seq(1, 2, -1, 11, 20)},
		{50, 100, seq(1, 2, -1, 47, 53, -1, 99, 100)},
		{9999, 100, seq(1, 2, -1, 91, 100)},
		{8, 1 << 30, seq(1, 2, -1, 5, 11, -1, 1<<30-1, 1<<30)},
	} {
		if got := httpapi.PageWindow(tc.page, tc.last); !slices.Equal(got, tc.want) {
			t.Errorf("pageWindow(%d, %d) = %v, want %v", tc.page, tc.last, got, tc.want)
		}
	}
	for last := 1; last <= 60; last++ {
		for page := 1; page <= last+2; page++ {
			if got := httpapi.PageWindow(page, last); len(got) > 13 {
				t.Fatalf("pageWindow(%d, %d) has %d entries, want at most 13", page, last, len(got))
			}
		}
	}
}

// TestListLinksBounded: however many pages there are and whatever else the
// query carries, a page's answer stays small and its links repeat only the
// list's own parameters (the memory exhaustion of the security review).
func TestListLinksBounded(t *testing.T) {
	h := newHarness(t)
	for i := range 30 {
		h.mint(h.user, "t"+strconv.Itoa(i), nil)
	}
	junk := strings.Repeat("j", 6000)
	for _, page := range []int{1, 9, 16, 31, 40} {
		q := fmt.Sprintf("per_page=1&page=%d&filter=t&junk=%s&order_by=name", page, junk)
		r := h.do("GET", tokensPath(h.user.ID)+"?"+q, bearer(h.userJWT), nil)
		if r.status != 200 {
			t.Fatalf("GET ?%.40s… = %d %s", q, r.status, r.body)
		}
		if len(r.body) > 4<<10 {
			t.Errorf("page %d: the answer is %d bytes for one token", page, len(r.body))
		}
		var l wire.TokenList
		if err := json.Unmarshal(r.body, &l); err != nil {
			t.Fatal(err)
		}
		if len(l.Meta.Links) > 15 {
			t.Errorf("page %d: %d links, want at most 15", page, len(l.Meta.Links))
		}
		for _, link := range l.Meta.Links {
			if link.URL == nil {
				continue
			}
			u, err := url.Parse(*link.URL)
			if err != nil {
				t.Fatalf("link %q: %v", *link.URL, err)
			}
			if got, want := u.Query().Encode(), (url.Values{"filter": {"t"}, "order_by": {"name"}, "per_page": {"1"}, "page": {u.Query().Get("page")}}).Encode(); got != want {
				t.Errorf("page %d: link %q carries %s, want %s", page, link.Label, got, want)
			}
		}
	}
}

// TestQueryBounded: a query string over the bound is refused with 414 in
// the contract's shape before anything reads it.
func TestQueryBounded(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", tokensPath(h.user.ID)+"?x="+strings.Repeat("a", httpapi.MaxQueryBytes), bearer(h.userJWT), nil)
	if r.status != 414 || !strings.Contains(string(r.body), `"message":`) {
		t.Errorf("a query of %d bytes = %d %s, want 414 with a message", httpapi.MaxQueryBytes+2, r.status, r.body)
	}
	r = h.do("GET", tokensPath(h.user.ID)+"?x="+strings.Repeat("a", httpapi.MaxQueryBytes-2), bearer(h.userJWT), nil)
	if r.status != 200 {
		t.Errorf("a query of %d bytes = %d %s, want 200", httpapi.MaxQueryBytes, r.status, r.body)
	}
}
