package httpapi_test

import (
	"net/http/httptest"
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
