// Package logbuf buffers a log's lines so that a busy server does not make
// a write system call per line.
//
// A Writer keeps what it is given in memory and writes it out when the
// buffer would overflow, at every tick of a clock (the server's is every
// 100 ms), and on Flush and Close. Each Write is written out whole and in
// order: a line is never split between two writes of the buffer, nor
// interleaved with another.
package logbuf

import (
	"io"
	"sync"
	"time"
)

// FlushInterval is how often a server's log is written out at least.
const FlushInterval = 100 * time.Millisecond

// DefaultSize is the size of the buffer a server's log is kept in.
const DefaultSize = 64 << 10

// A Writer buffers writes to an io.Writer. It is safe for concurrent use.
//
// It holds two buffers: while one is being written out, Write appends to
// the other, so that a slow write to w (64 KiB to a file on a busy
// machine) holds up no request that logs meanwhile.
type Writer struct {
	mu     sync.Mutex // held for buf, err and closed
	buf    []byte
	err    error // the first error of w; later writes are dropped
	closed bool

	// out is held while writing to w, so that writes go out one at a
	// time, in order; spare, the buffer not in use, is out's.
	out   sync.Mutex
	w     io.Writer
	spare []byte

	stop chan struct{}
	done chan struct{}
}

// New returns a Writer that buffers up to size bytes for w, and writes them
// out at every value tick delivers until Close. A nil tick writes out only
// when the buffer fills, on Flush and on Close.
func New(w io.Writer, size int, tick <-chan time.Time) *Writer {
	b := &Writer{w: w, buf: make([]byte, 0, size), spare: make([]byte, 0, size), stop: make(chan struct{}), done: make(chan struct{})}
	go b.run(tick)
	return b
}

// Start returns a Writer for w with the default size, written out every
// FlushInterval until Close.
func Start(w io.Writer) *Writer {
	t := time.NewTicker(FlushInterval)
	b := New(w, DefaultSize, t.C)
	go func() {
		<-b.done
		t.Stop()
	}()
	return b
}

func (b *Writer) run(tick <-chan time.Time) {
	defer close(b.done)
	for {
		select {
		case <-tick:
			b.Flush()
		case <-b.stop:
			return
		}
	}
}

// Write keeps p to be written out, whole, with the next flush; p longer
// than the buffer is written out at once. After Close, or once w has
// failed, it writes through (or drops p) and reports the error of w.
func (b *Writer) Write(p []byte) (int, error) {
	b.mu.Lock()
	if b.err != nil {
		b.mu.Unlock()
		return 0, b.err
	}
	if !b.closed && len(b.buf)+len(p) <= cap(b.buf) {
		b.buf = append(b.buf, p...)
		b.mu.Unlock()
		return len(p), nil
	}
	b.mu.Unlock()
	// Full, or p longer than the buffer, or closed: write out what is
	// buffered, then keep p or write it through after it.
	b.out.Lock()
	defer b.out.Unlock()
	if err := b.flushOut(); err != nil {
		return 0, err
	}
	b.mu.Lock()
	if !b.closed && len(b.buf)+len(p) <= cap(b.buf) {
		b.buf = append(b.buf, p...)
		b.mu.Unlock()
		return len(p), nil
	}
	b.mu.Unlock()
	n, err := b.w.Write(p)
	if err != nil {
		b.fail(err)
	}
	return n, err
}

// Flush writes out what is buffered.
func (b *Writer) Flush() error {
	b.out.Lock()
	defer b.out.Unlock()
	return b.flushOut()
}

// flushOut writes out what is buffered, with out held: it swaps the
// buffers and writes the full one to w, so that Write goes on with the
// other meanwhile.
func (b *Writer) flushOut() error {
	b.mu.Lock()
	if b.err != nil {
		b.mu.Unlock()
		return b.err
	}
	full := b.buf
	if len(full) == 0 {
		b.mu.Unlock()
		return nil
	}
	b.buf = b.spare[:0]
	b.mu.Unlock()
	_, err := b.w.Write(full)
	b.spare = full[:0]
	if err != nil {
		b.fail(err)
	}
	return err
}

// fail records w's first error.
func (b *Writer) fail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil {
		b.err = err
	}
}

// Close stops the clock and writes out what is buffered; writes after it go
// straight to w. Close does not close w. It is safe to call more than once.
func (b *Writer) Close() error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.stop)
	}
	b.mu.Unlock()
	<-b.done
	return b.Flush()
}
