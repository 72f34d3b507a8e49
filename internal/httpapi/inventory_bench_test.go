package httpapi_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/service"
)

// seedInventory stores n more tokens, ten users' worth of personal
// tokens a hundred users apart, through the store (no JWT is signed: the
// inventory reads rows, not JWTs), eight at a time so that SQLite commits
// them in groups.
func seedInventory(tb testing.TB, h *harness, n int) {
	tb.Helper()
	ctx := tb.Context()
	var users []*latchkey.User
	for i := range 100 {
		users = append(users, h.newUserNamed(fmt.Sprintf("seed%03d", i)))
	}
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	for range 8 {
		wg.Go(func() {
			for i := range next {
				exp := start.Add(365 * 24 * time.Hour)
				t := &latchkey.Token{
					ID: fmt.Sprintf("%080x", i+1), UserID: users[i%len(users)].ID, ClientID: latchkey.PersonalAccessClientID,
					Name: fmt.Sprintf("seeded token %07d for the nightly export", i), Scopes: latchkey.Scopes{latchkey.ScopeTokensRead},
					CreatedAt: start.Add(time.Duration(i) * time.Millisecond), UpdatedAt: start, ExpiresAt: &exp, KeyID: "seed",
				}
				if err := h.store.CreateToken(ctx, t); err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if failed != nil {
		tb.Fatal(failed)
	}
}

// newUserNamed makes a plain user named name.
func (h *harness) newUserNamed(name string) *latchkey.User {
	h.t.Helper()
	return h.newUser(service.NewUser{Username: name, Email: name + "@example.com"})
}

// exportStats describe one CSV export of the whole inventory.
type exportStats struct {
	rows      int     // data rows read
	peakLive  float64 // MiB: the highest live heap while it ran, above the live heap before
	bytes     uint64  // allocated by the process (server and client) during the export
	allocs    uint64  // allocations, likewise
	durations time.Duration
}

// export streams the CSV of every token through the real server and
// reads it to the end: as CSV records when sample > 0, and then every
// sample rows it collects garbage and reads the live heap; else as lines,
// allocating nothing of its own. The live heap: what the server holds of the
// rows it has not yet sent, and the client of those it has not yet read,
// is the export's whole cost, and must not grow with the rows.
func export(tb testing.TB, h *harness, auth string, sample int) exportStats {
	tb.Helper()
	var before, now runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	peak := before.HeapAlloc
	began := time.Now()
	req, err := http.NewRequestWithContext(tb.Context(), "GET", h.srv.URL+"/api/1.0/tokens", nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Accept", "text/csv")
	res, err := h.srv.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		tb.Fatalf("export = %d", res.StatusCode)
	}
	rows := -1 // the header
	if sample == 0 {
		// Lines, without parsing: what is allocated is the server's (and
		// the transport's).
		buf := make([]byte, 32<<10)
		for {
			n, err := res.Body.Read(buf)
			rows += bytes.Count(buf[:n], []byte{'\n'})
			if err == io.EOF {
				break
			}
			if err != nil {
				tb.Fatal(err)
			}
		}
	}
	r := csv.NewReader(res.Body)
	r.ReuseRecord = true
	for sample > 0 {
		_, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		rows++
		if sample > 0 && rows%sample == 0 {
			runtime.GC()
			runtime.ReadMemStats(&now)
			peak = max(peak, now.HeapAlloc)
		}
	}
	d := time.Since(began)
	runtime.ReadMemStats(&now)
	return exportStats{
		rows:      rows,
		peakLive:  float64(peak-before.HeapAlloc) / (1 << 20),
		bytes:     now.TotalAlloc - before.TotalAlloc,
		allocs:    now.Mallocs - before.Mallocs,
		durations: d,
	}
}

// TestInventoryCSVFlatMemory: exporting 10,000 tokens holds no more
// memory than a bound that does not depend on the number of tokens, well
// below what holding them all takes (6.8 MiB, measured by making the
// handler collect the rows before it writes them; a flat export stays
// under half a MiB).
func TestInventoryCSVFlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 10,000 tokens")
	}
	h := newHarness(t)
	const n = 10_000
	seedInventory(t, h, n)
	s := export(t, h, bearer(h.adminJWT), n/50)
	if s.rows != n+4 {
		t.Fatalf("the export has %d rows, want %d", s.rows, n+4)
	}
	// Calm, an export's live heap grows by under half a MiB; on a loaded
	// machine it was seen at 4.0 (the client lagging, more of the answer
	// in flight). Holding every row takes 6.8: the bound stays below it.
	const bound = 5.0 // MiB
	if s.peakLive > bound {
		t.Errorf("the live heap grew by %.1f MiB during an export of %d tokens, want at most %.0f MiB whatever their number", s.peakLive, n, bound)
	}
	if perRow := float64(s.bytes) / float64(s.rows); perRow < 100 {
		t.Errorf("%.0f bytes allocated a row: the export did not read the rows", perRow)
	}
	t.Logf("%d rows: live heap +%.2f MiB at most; %.0f B and %.1f allocations a row", s.rows, s.peakLive, float64(s.bytes)/float64(s.rows), float64(s.allocs)/float64(s.rows))
}

// BenchmarkInventoryCSV exports every token as CSV through the real
// server (client and server in this process), on SQLite and PostgreSQL,
// for 10,000 and 100,000 tokens: bytes and allocations a row (the process's, the client reading
// lines and allocating nothing of its own), rows a second, and the peak
// live heap of one export, parsed with encoding/csv, above the heap
// before it, which must not grow with the number of rows.
func BenchmarkInventoryCSV(b *testing.B) {
	stores := []struct {
		name string
		open func(testing.TB) *harness
	}{{"sqlite", newHarness}, {"postgres", func(tb testing.TB) *harness { return newHarnessPostgres(tb, httpapi.Options{}) }}}
	for _, st := range stores {
		for _, n := range []int{10_000, 100_000} {
			benchmarkInventoryCSV(b, st.name, st.open, n)
		}
	}
}

func benchmarkInventoryCSV(b *testing.B, store string, open func(testing.TB) *harness, n int) {
	b.Run(fmt.Sprintf("store=%s/rows=%d", store, n), func(b *testing.B) {
		h := open(b)
		seedInventory(b, h, n)
		auth := bearer(h.adminJWT)
		// One export warms what the database keeps between reads (its
		// page cache, its prepared statements); the next is measured.
		export(b, h, auth, 0)
		// As many samples for every size: the heap wavers by a MiB or
		// two from sample to sample, and more samples would catch more
		// of its highs.
		peak := export(b, h, auth, n/50)
		var bytes, allocs uint64
		var rows int
		var took time.Duration
		for b.Loop() {
			s := export(b, h, auth, 0)
			bytes += s.bytes
			allocs += s.allocs
			rows += s.rows
			took += s.durations
		}
		b.ReportMetric(float64(bytes)/float64(rows), "B/row")
		b.ReportMetric(float64(allocs)/float64(rows), "allocs/row")
		b.ReportMetric(float64(rows)/took.Seconds(), "rows/s")
		b.ReportMetric(peak.peakLive, "peak-live-MiB")
	})
}

// deadlineRecorder records an answer, and each write deadline a handler
// sets through http.ResponseController, in the order it wrote them.
type deadlineRecorder struct {
	*httptest.ResponseRecorder
	events []string // "deadline" or "flush", in order
}

func (d *deadlineRecorder) SetWriteDeadline(time.Time) error {
	d.events = append(d.events, "deadline")
	return nil
}

func (d *deadlineRecorder) Flush() {
	d.events = append(d.events, "flush")
	d.ResponseRecorder.Flush()
}

// TestInventoryCSVMovesItsDeadline: an export moves the connection's
// write deadline forward before each batch of rows it sends, so that one
// slower than the server's write timeout, while its rows flow, is not
// cut off; the server's own timeout bounds one stalled batch only.
// (Without it, an export of 2,000 tokens from a store slower than the
// timeout was cut, the client reading an unexpected EOF.) Each deadline
// is seen as the handler sets it: no waiting for one to pass.
func TestInventoryCSVMovesItsDeadline(t *testing.T) {
	h := newHarness(t)
	seedInventory(t, h, 2000)
	req := httptest.NewRequestWithContext(t.Context(), "GET", "/api/1.0/tokens", nil)
	req.Header.Set("Authorization", bearer(h.adminJWT))
	req.Header.Set("Accept", "text/csv")
	rec := &deadlineRecorder{ResponseRecorder: httptest.NewRecorder()}
	httpapi.New(h.svc, httpapi.Options{}).ServeHTTP(rec, req)
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil || len(rows) != 1+4+2000 {
		t.Fatalf("an export of 2,004 tokens: %d rows, %v; want every row", len(rows), err)
	}
	// Every flush of a batch follows a deadline moved for it.
	deadlines, flushes := 0, 0
	for i, e := range rec.events {
		switch e {
		case "deadline":
			deadlines++
		case "flush":
			flushes++
			if i == 0 || rec.events[i-1] != "deadline" {
				t.Errorf("flush %d of the export came without a new deadline before it: %v", flushes, rec.events)
			}
		}
	}
	if deadlines < 2000/256 {
		t.Errorf("the export moved its deadline %d times for 2,000 rows, want once a batch", deadlines)
	}
}
