package latchkey

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on the request metadata the server keeps (see CleanText).
const (
	MaxUserAgentLength = 512 // bytes of a User-Agent kept
	MaxAddressLength   = 64  // bytes of a client address kept
)

// CleanText returns s as text every store can hold and every reader can
// show, at most max bytes long: each byte that is not part of valid UTF-8
// becomes U+FFFD, control characters (NUL, newlines, escapes) and
// formatting and invisible characters (see unsafeRune) are dropped, and
// the text is cut at a character boundary. It is for what a request
// carries that the server keeps as it came, and does not refuse: a
// User-Agent, a client address. Cleaning clean text changes nothing.
func CleanText(s string, max int) string {
	if len(s) <= max && utf8.ValidString(s) && strings.IndexFunc(s, unsafeRune) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		// A byte that is not part of valid UTF-8 decodes as U+FFFD.
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if unsafeRune(r) {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > max {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Clean returns o with both fields cleaned by CleanText: what the server
// records of where a request came from, whatever the request sent.
func (o Origin) Clean() Origin {
	return Origin{
		Address:   CleanText(o.Address, MaxAddressLength),
		UserAgent: CleanText(o.UserAgent, MaxUserAgentLength),
	}
}

// ValidText reports whether s may be stored as a name or other free text
// a caller chooses: valid UTF-8 without control characters (NUL included)
// or formatting and invisible characters (see unsafeRune). Text that is
// not is refused, never altered, so that what is stored is what the
// caller sent, on every store alike.
func ValidText(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, unsafeRune) < 0
}

// unsafeRune reports whether r may not stand in text the server keeps and
// shows, as a name a person reads on the consent page, in the web UI or in
// a terminal:
//
//   - a control character (NUL, newline, escape…);
//   - a formatting character (Unicode's Cf), which shows nothing itself
//     but changes what is around it: the bidirectional embeddings,
//     overrides and isolates (U+202A–U+202E, U+2066–U+2069), which
//     reorder the text that follows them (an application named
//     "\u202Egnp.exe" shows as "exe.png"; CVE-2021-42574), and the
//     invisible ones (zero width space U+200B, word joiner U+2060, the
//     byte order mark U+FEFF, the soft hyphen U+00AD, tags…), which make
//     "Co\u200Bnf" look like "Conf";
//   - the line and paragraph separators U+2028 and U+2029, noncharacters,
//     and the Hangul fillers, which show as blank space.
//
// Kept: the zero width non-joiner and joiner (U+200C, U+200D), which
// Persian, Indic scripts and emoji sequences need, and the directional
// marks (U+200E, U+200F, U+061C), which right-to-left text needs and which
// reorder nothing beyond themselves.
func unsafeRune(r rune) bool {
	if r < utf8.RuneSelf {
		// ASCII, most text: no formatting character or noncharacter
		// among it, only the controls.
		return r < ' ' || r == 0x7f
	}
	switch r {
	case '\u200C', '\u200D', '\u200E', '\u200F', '\u061C':
		return false
	case '\u115F', '\u1160', '\u3164', '\uFFA0', '\u2028', '\u2029':
		return true
	}
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Noncharacter_Code_Point, r)
}
