package service

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Lifetime is how long a token lives: calendar years and days, then a
// duration, so that one year is the same day next year, as ProcessMaker's
// default lifetime is.
type Lifetime struct {
	Years, Days int
	Duration    time.Duration
}

// OneYear is the default token lifetime and the default maximum.
var OneYear = Lifetime{Years: 1}

// ParseLifetime reads a lifetime such as "1y", "90d", "1y30d", "12h",
// "1y12h30m": whole years (y) and days (d), then a Go duration. It must be
// positive.
func ParseLifetime(s string) (Lifetime, error) {
	var l Lifetime
	rest := strings.TrimSpace(s)
	for _, unit := range []struct {
		suffix byte
		to     *int
	}{{'y', &l.Years}, {'d', &l.Days}} {
		i := strings.IndexByte(rest, unit.suffix)
		if i < 0 {
			continue
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil || n < 0 || n > 100000 {
			return Lifetime{}, fmt.Errorf("lifetime %q: bad number of %c", s, unit.suffix)
		}
		*unit.to = n
		rest = rest[i+1:]
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 {
			return Lifetime{}, fmt.Errorf("lifetime %q: want years (y), days (d) and a duration, such as 1y, 90d or 12h", s)
		}
		l.Duration = d
	}
	if l == (Lifetime{}) {
		return Lifetime{}, fmt.Errorf("lifetime %q: must be positive", s)
	}
	return l, nil
}

// After returns the moment l after t.
func (l Lifetime) After(t time.Time) time.Time {
	return t.AddDate(l.Years, 0, l.Days).Add(l.Duration)
}

// String is l in the form ParseLifetime reads.
func (l Lifetime) String() string {
	var b strings.Builder
	if l.Years > 0 {
		fmt.Fprintf(&b, "%dy", l.Years)
	}
	if l.Days > 0 {
		fmt.Fprintf(&b, "%dd", l.Days)
	}
	if l.Duration > 0 || b.Len() == 0 {
		b.WriteString(l.Duration.String())
	}
	return b.String()
}

// Set implements flag.Value.
func (l *Lifetime) Set(s string) error {
	v, err := ParseLifetime(s)
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// Longer reports whether l reaches further than m from the moment t.
func (l Lifetime) Longer(m Lifetime, t time.Time) bool {
	return l.After(t).After(m.After(t))
}
