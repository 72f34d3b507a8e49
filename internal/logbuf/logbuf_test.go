package logbuf_test

import (
	"bytes"
	"errors"
	"fmt"
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
