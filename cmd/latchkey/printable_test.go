package main

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// unprintable reverses printable: what the operator reads back from a cell.
func unprintable(cell string) (string, error) {
	if strings.HasPrefix(cell, `"`) {
		return strconv.Unquote(cell)
	}
	return cell, nil
}

// terminalSafe reports the first rune of s that a terminal would act on
// rather than show, if any: C0 and C1 controls, DEL, invalid UTF-8, and
// the bidirectional controls that reorder a line.
func terminalSafe(s string) (rune, bool) {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			return r, false
		case r < 0x20 || (r >= 0x7f && r <= 0x9f):
			return r, false
		case r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			return r, false
		case r == 0x2028 || r == 0x2029: // line and paragraph separators
			return r, false
		}
	}
	return 0, true
}

// graphic reports whether s is valid UTF-8 of letters, marks, numbers,
// punctuation, symbols and ASCII spaces only: text to show as it is.
func graphic(s string) bool {
	for i, r := range s {
		if r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD") {
			return false
		}
		if r != ' ' && !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S) {
			return false
		}
	}
	return true
}

func TestPrintable(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"ascii", "deploy key", "deploy key"},
		{"unicode letters", "école du Ünïcode 日本", "école du Ünïcode 日本"},
		{"emoji", "🔑 key", "🔑 key"},
		{"punctuation", `a\b'c"d`, `a\b'c"d`},
		{"replacement char itself", "a\uFFFDb", "a\uFFFDb"},
		{"erase line and carriage return", "evil\x1b[2K\rrow", `"evil\x1b[2K\rrow"`},
		{"newline forges a row", "a\nb 1 2", `"a\nb 1 2"`},
		{"tab forges a column", "curl\t1.2.3.4", `"curl\t1.2.3.4"`},
		{"nul", "a\x00b", `"a\x00b"`},
		{"del", "a\x7fb", `"a\x7fb"`},
		{"c1 csi", "a\u009b2Jb", `"a\u009b2Jb"`},
		{"c1 next line", "a\u0085b", `"a\u0085b"`},
		{"invalid utf-8", "a\xffb", `"a\xffb"`},
		{"truncated utf-8", "a\xc3", `"a\xc3"`},
		{"right-to-left override", "abc\u202Egpj.exe", `"abc\u202egpj.exe"`},
		{"isolates", "\u2066a\u2067b\u2068c\u2069", `"\u2066a\u2067b\u2068c\u2069"`},
		{"arabic letter mark", "a\u061Cb", `"a\u061cb"`},
		{"line separator", "a\u2028b", `"a\u2028b"`},
		{"zero width space", "ad\u200Bmin", `"ad\u200bmin"`},
		{"leading quote", `"quoted"`, `"\"quoted\""`},
		{"leading quote looks like an escape", `"evil\x1b"`, `"\"evil\\x1b\""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := printable(tc.in)
			if got != tc.want {
				t.Errorf("printable(%q) = %s, want %s", tc.in, got, tc.want)
			}
			if back, err := unprintable(got); err != nil || back != tc.in {
				t.Errorf("unprintable(%s) = %q, %v, want %q", got, back, err, tc.in)
			}
		})
	}
}

func TestAbbreviate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"", 5, ""},
		{"abcde", 5, "abcde"},
		{"abcdef", 5, "abcd…"},
		{"日本語のテキスト", 4, "日本語…"},
	} {
		if got := abbreviate(tc.in, tc.n); got != tc.want {
			t.Errorf("abbreviate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

// FuzzPrintable: no control, bidi control or invalid UTF-8 survives,
// printable text comes back unchanged, and the escaping can be undone.
func FuzzPrintable(f *testing.F) {
	for _, s := range []string{
		"",
		"deploy key",              // printable: unchanged
		"evil\x1b[2K\rrow",        // erases the line it is on
		"a\nb",                    // a forged row
		"curl/8\t203.0.113.9",     // a forged column
		"\u009b31m",               // C1 CSI
		"\x7f",                    // DEL
		"\xff\xfe",                // invalid UTF-8
		"abc\u202Egpj.exe",        // right-to-left override
		"\u2066isolated\u2069",    // bidi isolates
		`"looks quoted\n"`,        // a literal that looks like an escape
		"école \U0001F511 \u200d", // wide and joining runes
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := printable(s)
		if r, ok := terminalSafe(got); !ok {
			t.Fatalf("printable(%q) = %q keeps %U", s, got, r)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("printable(%q) = %q is not valid UTF-8", s, got)
		}
		if graphic(s) && !strings.HasPrefix(s, `"`) && got != s {
			t.Fatalf("printable(%q) = %q, want it unchanged", s, got)
		}
		back, err := unprintable(got)
		if err != nil || back != s {
			t.Fatalf("unprintable(printable(%q)) = %q, %v", s, back, err)
		}

		// The --json forms: as safe, and the same JSON to a reader.
		var line bytes.Buffer
		if err := writeJSONLine(&line, map[string]string{"s": s}); err != nil {
			t.Fatal(err)
		}
		out := strings.TrimSuffix(line.String(), "\n")
		if r, ok := terminalSafe(out); !ok || strings.Contains(out, "\n") {
			t.Fatalf("writeJSONLine(%q) = %q keeps %U", s, out, r)
		}
		var fromUs, fromJSON map[string]string
		plain, _ := json.Marshal(map[string]string{"s": s})
		if err := json.Unmarshal([]byte(out), &fromUs); err != nil {
			t.Fatalf("writeJSONLine(%q) = %q: %v", s, out, err)
		}
		_ = json.Unmarshal(plain, &fromJSON)
		if fromUs["s"] != fromJSON["s"] {
			t.Fatalf("writeJSONLine(%q) reads back as %q, encoding/json's as %q", s, fromUs["s"], fromJSON["s"])
		}
	})
}
