package httpapi

import (
	"strings"
	"testing"
)

// FuzzWantsHTML: the Accept reader does not panic, and says yes only when
// the header names text/html.
func FuzzWantsHTML(f *testing.F) {
	for _, seed := range []string{
		"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", // a browser
		"*/*", "application/json", "text/html;q=0", "TEXT/HTML", "text/html;q=abc", "text/html;q=0.001",
		"text/*", ",,,", "text/html; charset=", strings.Repeat("a,", 3000),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		if wantsHTML([]string{accept}) && !strings.Contains(strings.ToLower(accept), "text/html") {
			t.Fatalf("wantsHTML(%q) = true without text/html", accept)
		}
	})
}

func TestWantsHTML(t *testing.T) {
	for accept, want := range map[string]bool{
		"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8": true,
		"TEXT/HTML":             true,
		"text/html;q=0.5":       true,
		"*/*":                   false,
		"application/json":      false,
		"text/html;q=0":         false,
		"text/*":                false,
		"":                      false,
		"text/plain, text/html": true,
	} {
		if got := wantsHTML([]string{accept}); got != want {
			t.Errorf("wantsHTML(%q) = %v, want %v", accept, got, want)
		}
	}
}
