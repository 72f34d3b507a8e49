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
type Writer struct {
	mu     sync.Mutex
	w      io.Writer
	buf    []byte
	err    error // the first error of w; later writes are dropped
	closed bool

	stop chan struct{}
	done chan struct{}
}

// New returns a Writer that buffers up to size bytes for w, and writes them
// out at every value tick delivers until Close. A nil tick writes out only
// when the buffer fills, on Flush and on Close.
func New(w io.Writer, size int, tick <-chan time.Time) *Writer {
	b := &Writer{w: w, buf: make([]byte, 0, size), stop: make(chan struct{}), done: make(chan struct{})}
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
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if len(b.buf)+len(p) > cap(b.buf) {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
	}
	if b.closed || len(p) > cap(b.buf) {
		n, err := b.w.Write(p)
		if err != nil {
			b.err = err
		}
		return n, err
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// Flush writes out what is buffered.
func (b *Writer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *Writer) flushLocked() error {
	if b.err != nil {
		return b.err
	}
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	if err != nil {
		b.err = err
	}
	return err
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
