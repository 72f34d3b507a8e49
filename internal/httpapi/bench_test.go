package httpapi_test

import (
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/latchkey/latchkey/internal/httpapi"
)

// BenchmarkHandlerShow is an authenticated show through the real handler,
// without the network: what one request costs the server itself.
func BenchmarkHandlerShow(b *testing.B) {
	h := newHarness(b)
	handler := httpapi.New(h.svc, httpapi.Options{})
	tok, _, err := h.mintToken(h.user, "shown", nil)
	if err != nil {
		b.Fatal(err)
	}
	path := tokenPath(h.user.ID, tok.ID)
	auth := bearer(h.userJWT)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("GET", path, nil)
			r.Header.Set("Authorization", auth)
			w := httptest.NewRecorder()
			handler.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("show = %d", w.Code)
			}
		}
	})
}

// BenchmarkHandlerList is a page of 50 of a user's 1,000 tokens through
// the real handler, without the network.
func BenchmarkHandlerList(b *testing.B) {
	h := newHarness(b)
	handler := httpapi.New(h.svc, httpapi.Options{})
	for i := range 1000 {
		if _, _, err := h.mintToken(h.user, "t"+strconv.Itoa(i), nil); err != nil {
			b.Fatal(err)
		}
	}
	path := tokensPath(h.user.ID) + "?per_page=50&page=3"
	auth := bearer(h.userJWT)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("GET", path, nil)
			r.Header.Set("Authorization", auth)
			w := httptest.NewRecorder()
			handler.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("list = %d", w.Code)
			}
		}
	})
}
