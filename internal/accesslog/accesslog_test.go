package accesslog

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// slogLine is the line slog's handler writes for a request answered at
// t, as a Logger's LogAttrs gives it to the handler (at the time it is
// called): what Request must write.
func slogLine(json bool, t time.Time, id, method, route string, status int, d time.Duration) string {
	var b bytes.Buffer
	var h slog.Handler = slog.NewTextHandler(&b, nil)
	if json {
		h = slog.NewJSONHandler(&b, nil)
	}
	r := slog.NewRecord(t, slog.LevelInfo, "request", 0)
	r.AddAttrs(slog.String("request_id", id), slog.String("method", method), slog.String("route", route),
		slog.Int("status", status), slog.Duration("duration", d))
	_ = h.Handle(context.Background(), r)
	return b.String()
}

// written is what Request wrote for a request.
func written(json bool, t time.Time, id, method, route string, status int, d time.Duration) string {
	var b bytes.Buffer
	New(&b, json).Request(t, id, method, route, status, d)
	return b.String()
}

// TestRequest: the lines of a few requests, in both forms, are slog's,
// and the usual ones are written by the fast path.
func TestRequest(t *testing.T) {
	at := time.Date(2026, 12, 3, 9, 10, 4, 120_450_000, time.UTC)
	for _, tc := range []struct {
		name              string
		t                 time.Time
		id, method, route string
		status            int
		d                 time.Duration
		fast              bool
	}{
		{"a show", at, "4QBRPQCIXTAAEUBV", "GET", "GET /api/1.0/users/{user_id}/tokens/{token_id}", 200, 287070 * time.Nanosecond, true},
		{"no route", at, "trace-42.a_B", "GET", "", 404, 12 * time.Microsecond, true},
		{"a whole second", at.Truncate(time.Second), "x", "POST", "POST /oauth/token", 400, 3 * time.Second, true},
		{"a millisecond", at.Truncate(time.Millisecond), "x", "GET", "GET /healthz", 200, 0, true},
		{"an = in the route", at, "x", "GET", "a=b", 200, time.Millisecond, true},
		{"a quote", at, "x", "GET", `say "hi"`, 200, time.Millisecond, false},
		{"a backslash", at, "x", "GET", `a\b`, 200, time.Millisecond, false},
		{"a control character", at, "x", "GE\tT", "GET /", 200, time.Millisecond, false},
		{"not ASCII", at, "x", "GET", "GET /é", 200, time.Millisecond, false},
		{"another zone", at.In(time.FixedZone("CET", 3600)), "x", "GET", "GET /", 200, time.Millisecond, false},
		{"a zone of seconds", at.In(time.FixedZone("LMT", 561)), "x", "GET", "GET /", 200, time.Millisecond, false},
		{"year 10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "x", "GET", "GET /", 200, time.Millisecond, false},
		{"a monotonic reading", time.Now().UTC(), "x", "GET", "GET /", 200, time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, json := range []bool{false, true} {
				got := written(json, tc.t, tc.id, tc.method, tc.route, tc.status, tc.d)
				if want := slogLine(json, tc.t, tc.id, tc.method, tc.route, tc.status, tc.d); got != want {
					t.Errorf("json %t: Request wrote\n%s want\n%s", json, got, want)
				}
				_, fast := (&Log{json: json}).append(nil, tc.t, tc.id, tc.method, tc.route, tc.status, tc.d)
				if fast != tc.fast {
					t.Errorf("json %t: written by the fast path: %t, want %t", json, fast, tc.fast)
				}
			}
		})
	}
}

// FuzzLine: whatever the request, Request writes slog's line.
func FuzzLine(f *testing.F) {
	f.Add(int64(1796289004120450000), 0, "4QBRPQCIXTAAEUBV", "GET", "GET /api/1.0/users/{user_id}/tokens/{token_id}", 200, int64(287070), false)
	f.Add(int64(1796289004000000000), 3600, "x", "POST", `a "b"`, 404, int64(3e9), true)
	f.Add(int64(-1), 0, "", "", "", 0, int64(-1), true)
	f.Fuzz(func(t *testing.T, unixNano int64, offset int, id, method, route string, status int, d int64, json bool) {
		at := time.Unix(0, unixNano).In(time.FixedZone("Z", offset%86400))
		if offset == 0 {
			at = at.UTC()
		}
		got := written(json, at, id, method, route, status, time.Duration(d))
		if want := slogLine(json, at, id, method, route, status, time.Duration(d)); got != want {
			t.Fatalf("Request wrote\n%s want\n%s", got, want)
		}
	})
}

// BenchmarkRequest is a show's line, against slog's LogAttrs.
func BenchmarkRequest(b *testing.B) {
	const route = "GET /api/1.0/users/{user_id}/tokens/{token_id}"
	for _, json := range []bool{false, true} {
		name := map[bool]string{false: "text", true: "json"}[json]
		b.Run(name+"/accesslog", func(b *testing.B) {
			l := New(io.Discard, json)
			b.ReportAllocs()
			for b.Loop() {
				l.Request(time.Now().UTC(), "4QBRPQCIXTAAEUBV", "GET", route, 200, 287070*time.Nanosecond)
			}
		})
		b.Run(name+"/slog", func(b *testing.B) {
			var h slog.Handler = slog.NewTextHandler(io.Discard, nil)
			if json {
				h = slog.NewJSONHandler(io.Discard, nil)
			}
			log := slog.New(h)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				log.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("request_id", "4QBRPQCIXTAAEUBV"), slog.String("method", "GET"),
					slog.String("route", route), slog.Int("status", 200), slog.Duration("duration", 287070*time.Nanosecond))
			}
		})
	}
}
