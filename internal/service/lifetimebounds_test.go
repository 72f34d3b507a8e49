package service

import (
	"strings"
	"testing"
	"time"
)

// TestParseLifetimeBounds: the edges of the numbers of years and days (0
// to 100,000 each), and which part a refusal names.
func TestParseLifetimeBounds(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Lifetime
		wantErr string // "" when accepted
	}{
		{"0y30d", Lifetime{Days: 30}, ""},
		{"1y0d", Lifetime{Years: 1}, ""},
		{"100000d", Lifetime{Days: 100000}, ""},
		{"100001d", Lifetime{}, "bad number of d"},
		{"100000y", Lifetime{Years: 100000}, ""},
		{"100001y", Lifetime{}, "bad number of y"},
		{"y", Lifetime{}, "bad number of y"},
		{"d12h", Lifetime{}, "bad number of d"},
		{"0h", Lifetime{}, "must be positive"},
		{"-1h", Lifetime{}, "want years (y), days (d) and a duration"},
		{"1y1ns", Lifetime{Years: 1, Duration: time.Nanosecond}, ""},
		{"1y0s", Lifetime{Years: 1}, ""},
	} {
		got, err := ParseLifetime(tc.in)
		switch {
		case tc.wantErr == "" && (err != nil || got != tc.want):
			t.Errorf("ParseLifetime(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("ParseLifetime(%q) = %+v, %v; want an error saying %q", tc.in, got, err, tc.wantErr)
		}
	}
}

// TestLifetimeString: each part that is there, in the form ParseLifetime
// reads; a zero duration only when nothing else is.
func TestLifetimeString(t *testing.T) {
	for _, tc := range []struct {
		l    Lifetime
		want string
	}{
		{Lifetime{Years: 1}, "1y"},
		{Lifetime{Days: 30}, "30d"},
		{Lifetime{Duration: 12 * time.Hour}, "12h0m0s"},
		{Lifetime{Years: 1, Days: 2, Duration: time.Minute}, "1y2d1m0s"},
		{Lifetime{}, "0s"},
	} {
		if got := tc.l.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.l, got, tc.want)
		}
	}
}
