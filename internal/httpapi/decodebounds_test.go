package httpapi_test

import (
	"net/url"
	"testing"

	"github.com/latchkey/latchkey/internal/httpapi"
)

// TestParseListQueryBounds: the edges of page and per_page, in value and
// in digits: leading zeros and a sign count for nothing, past ten digits a
// number is out of range without being parsed.
func TestParseListQueryBounds(t *testing.T) {
	for _, tc := range []struct {
		key, value string
		want       int // 0: refused
	}{
		{"per_page", "1", 1},
		{"per_page", "0", 0},
		{"per_page", "1000", 1000},
		{"per_page", "1001", 0},
		{"per_page", "-1", 0},
		{"per_page", "+7", 7},
		{"page", "1000000000", 1000000000},
		{"page", "1000000001", 0},
		{"page", "0001000000000", 1000000000},
		{"page", "9999999999", 0},
		{"page", "10000000000", 0},
		{"page", "-0", 0},
		{"page", "00000000000000000000001", 1},
	} {
		lq, err := httpapi.ParseListQuery(url.Values{tc.key: {tc.value}})
		got := lq.PerPage
		if tc.key == "page" {
			got = lq.Page
		}
		if tc.want == 0 && err == nil || tc.want != 0 && (err != nil || got != tc.want) {
			t.Errorf("%s=%s: %d, %v; want %d (0: refused)", tc.key, tc.value, got, err, tc.want)
		}
	}
}
