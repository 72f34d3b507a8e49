package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// printable returns s as it may safely be written to the operator's
// terminal in a table cell. Text that users typed (a token's name, a user
// agent, an email) must not move the cursor, clear a line, end a row or
// reorder the line it is on, so s comes back unchanged only when every
// rune of it is printable (strconv.IsPrint: letters, marks, numbers,
// punctuation, symbols and the ASCII space) and it does not begin with a
// double quote. Otherwise it comes back as a Go string literal, in double
// quotes, in which C0 and C1 controls, DEL, invalid UTF-8, bidirectional
// overrides and isolates (U+202A–U+202E, U+2066–U+2069) and every other
// format, separator or unassigned rune are escaped (\x1b, \n, \u202e, \xff).
//
// The result is unambiguous: a cell that begins with a double quote is
// such a literal (strconv.Unquote gives back s), any other cell is s.
func printable(s string) string {
	if !strings.HasPrefix(s, `"`) && allPrintable(s) {
		return s
	}
	return strconv.Quote(s)
}

func allPrintable(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || !strconv.IsPrint(r) {
			return false
		}
		i += size
	}
	return true
}

// abbreviate returns s cut to at most n runes, the last of them an
// ellipsis when anything was cut.
func abbreviate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	runes := []rune(s)
	return string(runes[:n-1]) + "…"
}

// writeJSONLine writes v as one line of JSON in which every rune that
// printable would escape is written as a \u escape, so that a --json
// listing, too, is safe to read on a terminal and means the same to a
// JSON reader. (encoding/json escapes C0 controls and replaces invalid
// UTF-8 itself, but leaves DEL, C1 controls and bidi overrides as they
// are.)
func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var out []byte
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if strconv.IsPrint(r) {
			out = append(out, b[i:i+size]...)
		} else if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		} else {
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		i += size
	}
	_, err = w.Write(append(out, '\n'))
	return err
}
