package password

import (
	"strings"
	"unicode/utf8"
)

// MsgPredictable is the sentence of a password made of a pattern: NIST SP
// 800-63B rev. 4 lists repetitive or sequential characters and
// context-specific words among the values a blocklist holds.
const MsgPredictable = "The Password field is made of what attackers try early (common words, sequences such as 12345 or qwerty, repetitions, or the account's or the service's name): choose another."

// sequences are orders people type along: the alphabet, the digits (which
// wrap: 7890123), keyboard rows, and the keyboard's columns.
var sequences = func() []string {
	base := []string{
		"abcdefghijklmnopqrstuvwxyz",
		"012345678901234567890123456789",
		"qwertyuiopasdfghjklzxcvbnm",
		"qwertzuiopasdfghjklyxcvbnm",
		"azertyuiopqsdfghjklmwxcvbn",
		"1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
		"zaq1xsw2cde3vfr4bgt5nhy6mju7,ki8.lo9/;p0",
	}
	out := base
	for _, s := range base {
		r := []rune(s)
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		out = append(out, string(r))
	}
	return out
}()

// maxPatternRunes bounds the passwords searched for patterns: a longer one
// is no pattern a guesser starts with, and the search grows with the
// square of the length.
const maxPatternRunes = 64

// predictable reports whether folded (lowercased) splits into at most two
// guessable pieces: a common password, a word of the account or service
// (context), a run along a sequence, or a repetition of a short or
// guessable unit. "Password1234567", "qwertyuiopasdfgh" and
// "latchkeylatchkey" are; a passphrase of words with spaces is not.
func predictable(folded string, context []string) bool {
	if utf8.RuneCountInString(folded) > maxPatternRunes {
		return false
	}
	words := map[string]bool{"latchkey": true, "processmaker": true}
	for _, c := range context {
		c = strings.ToLower(strings.TrimSpace(c))
		if c == "" {
			continue
		}
		words[c] = true
		if local, _, ok := strings.Cut(c, "@"); ok && local != "" {
			words[local] = true
		}
	}
	piece := func(s string) bool { return guessable(s, words, 0) }
	if piece(folded) {
		return true
	}
	for i := range folded {
		if i > 0 && piece(folded[:i]) && piece(folded[i:]) {
			return true
		}
	}
	return false
}

// guessable reports whether s is one guessable piece (see predictable).
func guessable(s string, words map[string]bool, depth int) bool {
	n := utf8.RuneCountInString(s)
	if n == 0 {
		return false
	}
	if _, ok := common()[s]; ok || words[s] {
		return true
	}
	if n >= 3 {
		for _, seq := range sequences {
			if strings.Contains(seq, s) {
				return true
			}
		}
	}
	if depth > 0 {
		return false
	}
	// A repetition: a unit of up to four characters, or a guessable one,
	// two times or more.
	for size := 1; size <= len(s)/2; size++ {
		if len(s)%size != 0 || !utf8.RuneStart(s[size]) {
			continue
		}
		unit := s[:size]
		if strings.Repeat(unit, len(s)/size) == s && (utf8.RuneCountInString(unit) <= 4 || guessable(unit, words, depth+1)) {
			return true
		}
	}
	return false
}
