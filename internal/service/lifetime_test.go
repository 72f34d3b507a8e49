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

// The default lifetime is at most the maximum: a maximum shorter than a
// year, given alone, shortens the default with it; a default given longer
// than the maximum is still an error.
func TestConfigDefaultLifetimeAtMostMax(t *testing.T) {
	days := func(n int) Lifetime { return Lifetime{Days: n} }
	for _, tc := range []struct {
		name             string
		def, max         Lifetime
		wantDef, wantMax Lifetime
		wantErr          bool
	}{
		{name: "neither", wantDef: OneYear, wantMax: OneYear},
		{name: "only a shorter maximum", max: days(30), wantDef: days(30), wantMax: days(30)},
		{name: "only a longer maximum", max: Lifetime{Years: 2}, wantDef: OneYear, wantMax: Lifetime{Years: 2}},
		{name: "only a default", def: days(7), wantDef: days(7), wantMax: OneYear},
		{name: "both, default shorter", def: days(7), max: days(30), wantDef: days(7), wantMax: days(30)},
		{name: "explicit default over explicit maximum", def: days(60), max: days(30), wantErr: true},
		{name: "explicit default over the default maximum", def: Lifetime{Years: 2}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{DefaultLifetime: tc.def, MaxLifetime: tc.max}
			if err := c.Validate(); (err != nil) != tc.wantErr {
				t.Fatalf("Config{%v, %v}.Validate() = %v, want error %v", tc.def, tc.max, err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if err := c.defaults(); err != nil {
				t.Fatal(err)
			}
			if c.DefaultLifetime != tc.wantDef || c.MaxLifetime != tc.wantMax {
				t.Errorf("Config{%v, %v} defaults to %v, max %v; want %v, max %v", tc.def, tc.max, c.DefaultLifetime, c.MaxLifetime, tc.wantDef, tc.wantMax)
			}
		})
	}
}
