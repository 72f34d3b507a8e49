// Package accesslog writes the server's access log: one line a request,
// byte for byte the line slog's text or JSON handler writes for the
// record "request" with the attributes request_id, method, route, status
// and duration, as internal/httpapi logs it without a Log.
//
// It writes the line itself, into a pooled buffer, rather than through
// slog's generic machinery (the caller's program counter, the record, the
// walk over its attributes, a quoting check of every byte, time.Format):
// that was a tenth of the CPU of a request the server refuses. A line with
// anything the fast path does not write exactly as slog would (a string
// slog quotes or escapes, a time zone other than UTC, a year outside
// 0–9999) goes through slog's own handler instead. FuzzLine holds the two
// to the same bytes.
package accesslog

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// Log writes access log lines to a writer.
type Log struct {
	w    io.Writer
	json bool
	slow slog.Handler // the handler whose lines these are, for what the fast path leaves
}

// New returns a Log that writes to w the lines slog.NewTextHandler(w, nil)
// would write, or slog.NewJSONHandler(w, nil) with json. Each line is one
// Write: w must take whole lines from many goroutines at once, as a
// logbuf.Writer does.
func New(w io.Writer, json bool) *Log {
	l := &Log{w: w, json: json}
	if json {
		l.slow = slog.NewJSONHandler(w, nil)
	} else {
		l.slow = slog.NewTextHandler(w, nil)
	}
	return l
}

// buffers hold lines being written.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// Request writes the line of a request answered at t.
func (l *Log) Request(t time.Time, id, method, route string, status int, d time.Duration) {
	bp := buffers.Get().(*[]byte)
	b, ok := l.append((*bp)[:0], t, id, method, route, status, d)
	if ok {
		_, _ = l.w.Write(b)
	} else {
		r := slog.NewRecord(t, slog.LevelInfo, "request", 0)
		r.AddAttrs(slog.String("request_id", id), slog.String("method", method), slog.String("route", route),
			slog.Int("status", status), slog.Duration("duration", d))
		_ = l.slow.Handle(context.Background(), r)
	}
	*bp = b
	buffers.Put(bp)
}

// append appends the line of a request to b; false when it is not one
// the fast path writes as slog would.
func (l *Log) append(b []byte, t time.Time, id, method, route string, status int, d time.Duration) ([]byte, bool) {
	t = t.Round(0) // as slog: without the monotonic reading
	if _, offset := t.Zone(); offset != 0 || t.Year() < 0 || t.Year() > 9999 {
		return b, false
	}
	for _, s := range [...]string{id, method, route} {
		if !plain(s) {
			return b, false
		}
	}
	if l.json {
		b = append(b, `{"time":"`...)
		b = appendTime(b, t, false)
		b = append(b, `","level":"INFO","msg":"request","request_id":"`...)
		b = append(b, id...)
		b = append(b, `","method":"`...)
		b = append(b, method...)
		b = append(b, `","route":"`...)
		b = append(b, route...)
		b = append(b, `","status":`...)
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, `,"duration":`...)
		b = strconv.AppendInt(b, int64(d), 10)
		return append(b, "}\n"...), true
	}
	b = append(b, "time="...)
	b = appendTime(b, t, true)
	b = append(b, " level=INFO msg=request request_id="...)
	b = appendText(b, id)
	b = append(b, " method="...)
	b = appendText(b, method)
	b = append(b, " route="...)
	b = appendText(b, route)
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, " duration="...)
	b = append(b, d.String()...)
	return append(b, '\n'), true
}

// plain reports whether s is printable ASCII without '"' or '\': what
// slog's JSON handler writes as it is, and its text handler as it is or
// between quotes (appendText).
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// appendText appends a plain s as slog's text handler does: quoted when
// it is empty or holds a space or '='.
func appendText(b []byte, s string) []byte {
	quote := s == ""
	for i := 0; i < len(s) && !quote; i++ {
		quote = s[i] == ' ' || s[i] == '='
	}
	if !quote {
		return append(b, s...)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendTime appends t, in UTC and a year of four digits, as slog writes
// it: RFC 3339 with milliseconds in text (truncated, always three
// digits), with nanoseconds in JSON (trailing zeros dropped, and the dot
// with them when there are none, as time.RFC3339Nano).
func appendTime(b []byte, t time.Time, millis bool) []byte {
	y, mo, day := t.Date()
	h, mi, sec := t.Clock()
	b = append4(b, y)
	b = append(b, '-')
	b = append2(b, int(mo))
	b = append(b, '-')
	b = append2(b, day)
	b = append(b, 'T')
	b = append2(b, h)
	b = append(b, ':')
	b = append2(b, mi)
	b = append(b, ':')
	b = append2(b, sec)
	ns := t.Nanosecond()
	if millis {
		b = append(b, '.')
		ms := ns / 1e6
		b = append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
		return append(b, 'Z')
	}
	if ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i >= 1; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, 'Z')
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }

func append4(b []byte, v int) []byte {
	return append(b, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}
