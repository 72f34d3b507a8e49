package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
	"github.com/latchkey/latchkey/internal/httpapi"
)

// TestErrorCodesRoundTrip: every error code survives the trip through the
// status table and the contract's body, and back through the Go client's
// table, so a caller sees the same code in-process and over the network.
func TestErrorCodesRoundTrip(t *testing.T) {
	table := httpapi.StatusTable()
	slices.Sort(table)
	codes := slices.Clone(latchkey.ErrorCodes)
	slices.Sort(codes)
	if !slices.Equal(table, codes) {
		t.Fatalf("the status table names %q, want every code %q", table, codes)
	}
	for _, code := range latchkey.ErrorCodes {
		t.Run(code, func(t *testing.T) {
			in := &latchkey.Error{Code: code, Message: "Something about " + code + "."}
			if code == latchkey.EINVALID {
				in.Fields = latchkey.FieldErrors{{Field: "name", Sentences: []string{"The Name field is required."}}}
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				status, body := httpapi.Problem(in)
				httpapi.WriteJSON(w, status, body)
			}))
			defer srv.Close()
			c, err := client.New(srv.URL, client.WithBearerToken("x"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Token(t.Context(), 1, "abc")
			if got := latchkey.ErrorCode(err); got != code {
				t.Errorf("client error for %q = %v (code %q), want code %q", code, err, got, code)
			}
		})
	}
}
