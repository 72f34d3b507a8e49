package loadtest

import (
	"io"
	"net/http"
	"strconv"
)

// bareBody is the baseline's answer: a small JSON object.
var bareBody = []byte(`{"status":"ok"}` + "\n")

// Bare returns the baseline handler: whatever the request, it reads the
// body and answers 200 with a small JSON object. What net/http and the
// load generator cost on this machine is what it measures; a real
// handler's figures are read as a fraction of it.
func Bare() http.Handler {
	length := strconv.Itoa(len(bareBody))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", length)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(bareBody)
	})
}
