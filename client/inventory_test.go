package client_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
)

// TestInventoryQuery: each option is its query parameter, dates in UTC
// to the microsecond, states one comma-separated list; zero options send
// nothing.
func TestInventoryQuery(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.Path+"?"+r.URL.RawQuery)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"data":[],"meta":{"current_page":1,"last_page":1,"per_page":10,"total":0}}`)
	}))
	defer srv.Close()
	c, err := client.New(srv.URL, client.WithBearerToken(secret))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 18, 45, 10, 123456789, time.FixedZone("CET", 3600))
	for _, opts := range []client.InventoryOptions{
		{},
		{Page: 2, PerPage: 50, UserID: 12, ClientID: 3, States: []latchkey.TokenState{latchkey.StateActive, latchkey.StateExpired},
			CreatedAfter: &at, CreatedBefore: &at, ExpiresAfter: &at, ExpiresBefore: &at, LastUsedAfter: &at, LastUsedBefore: &at,
			NeverUsed: ptr(false), Scope: "tokens.read", Filter: "a b", OrderBy: latchkey.OrderName, Ascending: true},
	} {
		if _, err := c.Inventory(t.Context(), opts); err != nil {
			t.Fatal(err)
		}
	}
	const d = "2026-03-01T17%3A45%3A10.123457Z"
	want := []string{
		"/api/1.0/tokens?",
		"/api/1.0/tokens?client_id=3&created_after=" + d + "&created_before=" + d + "&expires_after=" + d + "&expires_before=" + d +
			"&filter=a+b&last_used_after=" + d + "&last_used_before=" + d + "&never_used=false&order_by=name&order_direction=asc" +
			"&page=2&per_page=50&scope=tokens.read&state=active%2Cexpired&user_id=12",
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("queries sent:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestInventoryCSVCutShort: a download the server cuts short (it aborts
// after the first rows when the database fails) is an error, never taken
// for the whole inventory; an answer that is not CSV is an error too.
func TestInventoryCSVCutShort(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "text/csv" {
			t.Errorf("Accept = %q, want text/csv", r.Header.Get("Accept"))
		}
		if r.URL.Query().Get("user_id") == "1" {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<p>a proxy's page</p>")
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8; header=present")
		io.WriteString(w, "id,user_id\n")
		w.(http.Flusher).Flush()
		io.WriteString(w, "aa,1\n")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}))
	defer srv.Close()
	srv.Config.ErrorLog = nil
	c, _ := client.New(srv.URL, client.WithBearerToken(secret))
	var buf bytes.Buffer
	n, err := c.InventoryCSV(t.Context(), client.InventoryOptions{}, &buf)
	if err == nil || !strings.Contains(err.Error(), "cut the download short") {
		t.Errorf("InventoryCSV of a download cut short = %d, %v; want an error saying so", n, err)
	}
	if n != int64(buf.Len()) || !strings.HasPrefix(buf.String(), "id,user_id\n") {
		t.Errorf("InventoryCSV copied %d bytes, %q", n, buf.String())
	}
	if _, err := c.InventoryCSV(t.Context(), client.InventoryOptions{UserID: 1}, &buf); err == nil || !strings.Contains(err.Error(), "not text/csv") {
		t.Errorf("InventoryCSV of an HTML answer = %v, want an error", err)
	}
}
