package latchkey_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/latchkey/latchkey"
)

// TestCleanTextNoRoom: a cap of zero or less leaves nothing, whatever the
// text.
func TestCleanTextNoRoom(t *testing.T) {
	for _, max := range []int{0, -1} {
		if got := latchkey.CleanText("clean", max); got != "" {
			t.Errorf("CleanText(clean, %d) = %q, want \"\"", max, got)
		}
	}
}

func TestCleanText(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		max      int
		want     string
	}{
		{"clean", "curl/8.5.0", 512, "curl/8.5.0"},
		{"unicode kept", "Mozilla/5.0 ünïcode ✓", 512, "Mozilla/5.0 ünïcode ✓"},
		{"invalid byte replaced", "curl/8 \xff", 512, "curl/8 \uFFFD"},
		{"truncated sequence replaced", "a\xe2\x9cb", 512, "a\uFFFD\uFFFDb"},
		{"NUL dropped", "a\x00b", 512, "ab"},
		{"newline and escape dropped", "a\r\nb\x1b[31m", 512, "ab[31m"},
		{"C1 and DEL dropped", "a\u0085b\x7f", 512, "ab"},
		{"overrides and isolates dropped", "a\u202Eb\u202Ac\u2066d\u2069e", 512, "abcde"},
		{"invisible dropped", "Co\u200Bnf\uFEFF\u2028", 512, "Conf"},
		{"marks kept", "\u05e9\u05dc\u05d5\u05dd\u200e 1\u200f\u061c", 512, "\u05e9\u05dc\u05d5\u05dd\u200e 1\u200f\u061c"},
		{"capped", "abcdef", 4, "abcd"},
		{"capped at a character boundary", "abü", 3, "ab"},
		{"replacement counts its bytes", "ab\xff", 4, "ab"},
		{"zero max", "abc", 0, ""},
		{"empty", "", 10, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := latchkey.CleanText(tc.in, tc.max); got != tc.want {
				t.Errorf("CleanText(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
		})
	}
}

func TestOriginClean(t *testing.T) {
	o := latchkey.Origin{Address: "192.0.2.1\x00" + strings.Repeat("9", 100), UserAgent: "curl/8 \xff" + strings.Repeat("x", 1000)}
	got := o.Clean()
	if len(got.Address) != latchkey.MaxAddressLength || strings.ContainsRune(got.Address, 0) {
		t.Errorf("Clean().Address = %q, want %d bytes without NUL", got.Address, latchkey.MaxAddressLength)
	}
	if !strings.HasPrefix(got.UserAgent, "curl/8 \uFFFDxxx") || len(got.UserAgent) != latchkey.MaxUserAgentLength {
		t.Errorf("Clean().UserAgent = %q (%d bytes), want it to start curl/8 \uFFFDxxx and be %d bytes",
			got.UserAgent, len(got.UserAgent), latchkey.MaxUserAgentLength)
	}
}

func TestValidText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"my token", true},
		{"jeton ünïcode ✓ 🔑", true},
		{"", true},
		{"a\x00b", false},
		{"a\xffb", false},
		{"a\nb", false},
		{"a\tb", false},
		{"a\u0085b", false},
		// The bidirectional embeddings, overrides and isolates, each of
		// them, and the characters just outside those ranges.
		{"invoice\u202Egnp.exe", false},
		{"a\u202Ab", false},
		{"a\u202Bb", false},
		{"a\u202Cb", false},
		{"a\u202Db", false},
		{"a\u2066b", false},
		{"a\u2067b", false},
		{"a\u2068b", false},
		{"a\u2069b", false},
		{"a\u202Fb", true},                       // a narrow no-break space, just after
		{"\u05e9\u05dc\u05d5\u05dd\u200f", true}, // right-to-left text and its mark
		// Invisible formatting characters, separators, noncharacters and
		// blank fillers: a name that looks like another.
		{"Co\u200Bnf", false},     // zero width space
		{"Co\u2060nf", false},     // word joiner
		{"\uFEFFConf", false},     // byte order mark
		{"Co\u00ADnf", false},     // soft hyphen
		{"Conf\U000E0041", false}, // a tag character
		{"a\u206Ab", false},       // deprecated format characters
		{"a\uFFF9b", false},       // interlinear annotation
		{"a\u180Eb", false},       // Mongolian vowel separator
		{"a\u2028b", false},       // line separator
		{"a\u2029b", false},       // paragraph separator
		{"a\uFDD0b", false},       // noncharacters
		{"a\uFFFEb", false},
		{"a\U0010FFFFb", false},
		{"a\u3164b", false}, // Hangul fillers
		{"a\u115Fb", false},
		{"a\uFFA0b", false},
		// Kept: the joiners scripts and emoji need, and the marks.
		{"\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", true}, // Persian with a zero width non-joiner
		{"\U0001F469\u200D\U0001F4BB", true},                       // an emoji sequence with a zero width joiner
		{"\u0627\u061c1", true},                                    // Arabic letter mark
		{"\u00e9\u4e2d\u0416\U0001F511", true},                     // letters of several scripts, an emoji
	} {
		if got := latchkey.ValidText(tc.in); got != tc.want {
			t.Errorf("ValidText(%q) = %t, want %t", tc.in, got, tc.want)
		}
	}
}

// FuzzCleanText checks CleanText's promises on any input: valid UTF-8
// out, no NUL or other control character, at most max bytes, text that
// was clean and short enough kept as it is, and cleaning twice the same
// as once.
func FuzzCleanText(f *testing.F) {
	// Seeds: clean text, an invalid byte (the User-Agent that lost audit
	// records on PostgreSQL), NUL, a cut multi-byte sequence, an overlong
	// encoding, a surrogate half encoded in UTF-8, controls of both sets,
	// and a character that straddles the cap.
	for _, seed := range []struct {
		s   string
		max int
	}{
		{"curl/8.5.0", 512},
		{"curl/8 \xff", 512},
		{"a\x00b", 512},
		{"a\xe2\x9c", 512},
		{"\xc0\xaf", 512},
		{"\xed\xa0\x80", 512},
		{"\r\n\t\x1b\u0085\x7f", 512},
		{"a\u202Eb\u2066c", 512},
		{"abü", 3},
		{"", 0},
	} {
		f.Add(seed.s, seed.max)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		max %= 1024
		got := latchkey.CleanText(s, max)
		if !latchkey.ValidText(got) {
			t.Fatalf("CleanText(%q, %d) = %q, not valid text", s, max, got)
		}
		if len(got) > max && !(max <= 0 && got == "") {
			t.Fatalf("CleanText(%q, %d) = %q, %d bytes, over the cap", s, max, got, len(got))
		}
		if latchkey.ValidText(s) && len(s) <= max && got != s {
			t.Fatalf("CleanText(%q, %d) = %q, want clean text kept", s, max, got)
		}
		if again := latchkey.CleanText(got, max); again != got {
			t.Fatalf("CleanText(CleanText(%q, %d)) = %q, want %q (idempotent)", s, max, again, got)
		}
		if utf8.RuneCountInString(got) > utf8.RuneCountInString(s) {
			t.Fatalf("CleanText(%q, %d) = %q, more characters than it was given", s, max, got)
		}
	})
}
