package password

import (
	_ "embed"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The rule for a password that is the only thing a person signs in with,
// NIST SP 800-63B rev. 4 (section 3.1.1.2): at least 15 characters, at
// least 64 allowed, any characters (no composition rules), and none of the
// passwords attackers try first.
const (
	// MinLength is the fewest characters a password may have: Unicode
	// code points, counted after NFC normalization, so that "é" typed as
	// one code point or as e and an accent counts once either way.
	MinLength = 15
	// MaxBytes is the longest password, in bytes of UTF-8: sign-in reads
	// no more (at least 256 characters of any script fit).
	MaxBytes = 1024
)

// The sentences of a refused password.
const (
	MsgTooShort = "The Password field must be at least 15 characters: a passphrase of a few words is easy to remember and hard to guess."
	MsgTooLong  = "The Password field must not be greater than 1024 bytes."
	MsgCommon   = "The Password field is one of the most commonly used passwords, which attackers try first: choose another."
	MsgRepeated = "The Password field must not be one character repeated."
	MsgContext  = "The Password field must not be the account's username or email address."
)

// common is the blocklist: the 10,000 most frequent passwords of Mark
// Burnett's ten million passwords (as ranked by zxcvbn's frequency lists,
// MIT licence), and every password of 15 characters or more among its
// most frequent 47,000, lowercased, one a line.
//
//go:embed common.txt
var commonList string

var common = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 10_100)
	for line := range strings.Lines(commonList) {
		if w := strings.TrimRight(line, "\r\n"); w != "" {
			m[w] = struct{}{}
		}
	}
	return m
})

// Common reports whether pw is on the built-in list of the most common
// passwords, compared case-insensitively.
func Common(pw string) bool {
	_, ok := common()[strings.ToLower(norm.NFC.String(pw))]
	return ok
}

// Length is pw's length in characters: code points after NFC.
func Length(pw string) int {
	return utf8.RuneCountInString(norm.NFC.String(pw))
}

// Validate returns the sentences saying why pw may not be set as a
// password, or none when it may. context holds words of the account a
// password must not be (its username and email), compared
// case-insensitively.
func Validate(pw string, context ...string) []string {
	var why []string
	n := Length(pw)
	switch {
	case len(pw) > MaxBytes:
		why = append(why, MsgTooLong)
	case n < MinLength:
		why = append(why, MsgTooShort)
	}
	folded := strings.ToLower(norm.NFC.String(pw))
	isContext := false
	for _, c := range context {
		if c != "" && folded == strings.ToLower(norm.NFC.String(strings.TrimSpace(c))) {
			isContext = true
			break
		}
	}
	switch {
	case Common(pw):
		why = append(why, MsgCommon)
	case n > 1 && repeated(pw):
		why = append(why, MsgRepeated)
	case isContext:
		why = append(why, MsgContext)
	case predictable(folded, context):
		why = append(why, MsgPredictable)
	}
	return why
}

// repeated reports whether pw is one character over and over.
func repeated(pw string) bool {
	first, _ := utf8.DecodeRuneInString(pw)
	return strings.Trim(pw, string(first)) == ""
}
