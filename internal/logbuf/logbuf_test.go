package logbuf_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/logbuf"
)

// sink records the writes it is given, each as one element, and tells of
// each on written.
type sink struct {
	mu      sync.Mutex
	writes  []string
	written chan struct{}
	fail    error
}

func newSink() *sink { return &sink{written: make(chan struct{}, 100)} }

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return 0, s.fail
	}
	s.writes = append(s.writes, string(p))
	s.written <- struct{}{}
	return len(p), nil
}

func (s *sink) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.writes)
}

func write(t *testing.T, w *logbuf.Writer, s string) {
	t.Helper()
	if n, err := w.Write([]byte(s)); err != nil || n != len(s) {
		t.Fatalf("Write(%q) = %d, %v", s, n, err)
	}
}

func TestWrittenOutAtTheTick(t *testing.T) {
	s := newSink()
	tick := make(chan time.Time)
	w := logbuf.New(s, 1024, tick)
	defer w.Close()
	write(t, w, "one\n")
	write(t, w, "two\n")
	if got := s.got(); len(got) != 0 {
		t.Fatalf("before the tick: written %q, want nothing", got)
	}
	tick <- time.Time{}
	<-s.written
	if got, want := s.got(), []string{"one\ntwo\n"}; !slices.Equal(got, want) {
		t.Fatalf("after the tick: written %q, want %q (one write)", got, want)
	}
	// A tick with nothing buffered writes nothing.
	tick <- time.Time{}
	write(t, w, "three\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := s.got(), []string{"one\ntwo\n", "three\n"}; !slices.Equal(got, want) {
		t.Fatalf("after Flush: written %q, want %q", got, want)
	}
}

func TestFullBufferWrittenOut(t *testing.T) {
	s := newSink()
	w := logbuf.New(s, 8, nil)
	defer w.Close()
	write(t, w, "12345")
	write(t, w, "678") // exactly full: kept
	if got := s.got(); len(got) != 0 {
		t.Fatalf("a full buffer: written %q, want nothing", got)
	}
	write(t, w, "9")
	if got, want := s.got(), []string{"12345678"}; !slices.Equal(got, want) {
		t.Fatalf("one byte past full: written %q, want %q", got, want)
	}
	// A write longer than the buffer goes out at once, after what was
	// buffered.
	write(t, w, "abcdefghij")
	if got, want := s.got(), []string{"12345678", "9", "abcdefghij"}; !slices.Equal(got, want) {
		t.Fatalf("a long write: written %q, want %q", got, want)
	}
}

func TestCloseWritesOut(t *testing.T) {
	s := newSink()
	w := logbuf.New(s, 1024, make(chan time.Time))
	write(t, w, "last words\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := s.got(), []string{"last words\n"}; !slices.Equal(got, want) {
		t.Fatalf("after Close: written %q, want %q", got, want)
	}
	// After Close, writes go straight through.
	write(t, w, "after\n")
	if got, want := s.got(), []string{"last words\n", "after\n"}; !slices.Equal(got, want) {
		t.Fatalf("a write after Close: written %q, want %q", got, want)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
}

func TestLinesWhole(t *testing.T) {
	var out bytes.Buffer
	w := logbuf.New(&out, 100, nil)
	const writers, lines = 8, 500
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range lines {
				fmt.Fprintf(w, "writer %d line %d %s\n", g, i, strings.Repeat("x", i%40))
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("%d lines written, want %d", len(got), writers*lines)
	}
	next := make([]int, writers)
	for _, l := range got {
		var g, i int
		var xs string
		if n, _ := fmt.Sscanf(l, "writer %d line %d %s", &g, &i, &xs); n < 2 || i != next[g] || len(xs) != i%40 {
			t.Fatalf("line %q: split, interleaved or out of order (want writer %d's line %d)", l, g, next[g])
		}
		next[g]++
	}
}

func TestWriterFailure(t *testing.T) {
	s := newSink()
	w := logbuf.New(s, 1024, nil)
	write(t, w, "kept\n")
	broken := errors.New("disk full")
	s.mu.Lock()
	s.fail = broken
	s.mu.Unlock()
	if err := w.Flush(); !errors.Is(err, broken) {
		t.Fatalf("Flush onto a failing writer: %v, want %v", err, broken)
	}
	if _, err := w.Write([]byte("more\n")); !errors.Is(err, broken) {
		t.Fatalf("Write after the failure: %v, want %v", err, broken)
	}
	if err := w.Close(); !errors.Is(err, broken) {
		t.Fatalf("Close after the failure: %v, want %v", err, broken)
	}
}

// gatedSink is a writer whose writes wait until the test opens the gate,
// and that says when one has begun.
type gatedSink struct {
	began chan struct{}
	gate  chan struct{}
	out   bytes.Buffer
}

func (s *gatedSink) Write(p []byte) (int, error) {
	s.began <- struct{}{}
	<-s.gate
	return s.out.Write(p)
}

// TestWriteDuringWriteOut: while the buffer is being written out, Write
// goes on with the other buffer: a slow disk holds up no request that
// logs. (With a single buffer, the Write below would wait for the write
// out, which waits for the test: the test would never end.)
func TestWriteDuringWriteOut(t *testing.T) {
	s := &gatedSink{began: make(chan struct{}), gate: make(chan struct{})}
	w := logbuf.New(s, 1024, nil)
	write(t, w, "one\n")
	flushed := make(chan error)
	go func() { flushed <- w.Flush() }()
	<-s.began // "one" is being written out, and is held there
	write(t, w, "two\n")
	write(t, w, "three\n")
	close(s.gate)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	go func() {
		for range s.began {
		}
	}()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	close(s.began)
	if got, want := s.out.String(), "one\ntwo\nthree\n"; got != want {
		t.Errorf("written %q, want %q", got, want)
	}
}

// BenchmarkWrite is access log lines from many goroutines at once, as a
// busy server writes them, into a file.
func BenchmarkWrite(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "log"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := logbuf.New(f, logbuf.DefaultSize, nil)
	defer w.Close()
	line := []byte(`time=2026-12-03T09:10:04.120Z level=INFO msg=request request_id=4QBRPQCIXTAAEUBV method=GET route="GET /api/1.0/users/{user_id}/tokens/{token_id}" status=200 duration=287.07µs` + "\n")
	b.SetParallelism(16)
	b.SetBytes(int64(len(line)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := w.Write(line); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
