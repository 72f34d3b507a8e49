package service

import (
	"testing"
	"time"
)

func TestParseLifetime(t *testing.T) {
	base := time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"1y", time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}, // Go's AddDate normalises Feb 29
		{"90d", base.AddDate(0, 0, 90)},
		{"12h", base.Add(12 * time.Hour)},
		{"1y30d", base.AddDate(1, 0, 30)},
		{"2d1h30m", base.AddDate(0, 0, 2).Add(90 * time.Minute)},
	} {
		l, err := ParseLifetime(tc.in)
		if err != nil {
			t.Errorf("ParseLifetime(%q): %v", tc.in, err)
			continue
		}
		if got := l.After(base); !got.Equal(tc.want) {
			t.Errorf("ParseLifetime(%q).After = %v, want %v", tc.in, got, tc.want)
		}
		if again, err := ParseLifetime(l.String()); err != nil || again != l {
			t.Errorf("ParseLifetime(%q).String() = %q does not round-trip: %v", tc.in, l.String(), err)
		}
	}
	for _, bad := range []string{"", "0s", "forever", "-1y", "y", "1x", "1y-3h"} {
		if _, err := ParseLifetime(bad); err == nil {
			t.Errorf("ParseLifetime(%q) succeeded, want an error", bad)
		}
	}
}

func TestParseUserID(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "007": 7, "9223372036854775807": 9223372036854775807} {
		if got, ok := ParseUserID(in); !ok || got != want {
			t.Errorf("ParseUserID(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "0", "-1", "+1", "1e3", "1.0", " 1", "abc", "9223372036854775808", "99999999999999999999999"} {
		if _, ok := ParseUserID(bad); ok {
			t.Errorf("ParseUserID(%q) accepted", bad)
		}
	}
}
