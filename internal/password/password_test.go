package password

import (
	"errors"
	"strings"
	"testing"
)

// fast keeps the tests quick; the format is the same.
var fast = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashCheck(t *testing.T) {
	h, err := Hash("correct horse", fast)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("Hash() = %q, want a PHC argon2id string", h)
	}
	if err := Check(h, "correct horse"); err != nil {
		t.Errorf("Check(right) = %v, want nil", err)
	}
	if err := Check(h, "correct horsE"); !errors.Is(err, ErrMismatch) {
		t.Errorf("Check(wrong) = %v, want ErrMismatch", err)
	}
	h2, _ := Hash("correct horse", fast)
	if h == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
}

func TestCheckRejectsBadHashes(t *testing.T) {
	for name, h := range map[string]string{
		"empty":       "",
		"bcrypt":      "$2y$10$abcdefghijklmnopqrstuu",
		"argon2i":     "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"bad version": "$argon2id$v=1$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"huge memory": "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"bad salt":    "$argon2id$v=19$m=64,t=1,p=1$!!!$a2V5a2V5a2V5a2V5a2V5a2V5",
		"short key":   "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5",
	} {
		t.Run(name, func(t *testing.T) {
			if err := Check(h, "x"); err == nil || errors.Is(err, ErrMismatch) {
				t.Errorf("Check(%q) = %v, want a parse error", h, err)
			}
		})
	}
}

func TestDummy(t *testing.T) {
	if err := Check(Dummy(), "anything"); !errors.Is(err, ErrMismatch) {
		t.Errorf("Check(Dummy(), …) = %v, want ErrMismatch", err)
	}
}

func TestValidate(t *testing.T) {
	const decomposed = "a\u0301e\u0301i\u0301o\u0301u\u0301" // áéíóú, 10 code points before NFC
	for _, tc := range []struct {
		name    string
		pw      string
		context []string
		want    []string
	}{
		{"one letter", "a", nil, []string{MsgTooShort}},
		{"14 characters", "fourteen chars", nil, []string{MsgTooShort}},
		{"15 characters", "fifteen chars!!", nil, nil},
		{"the README's passphrase", "choose a good passphrase", nil, nil},
		{"no composition rules", "all lowercase words here", nil, nil},
		{"64 characters", "the quick brown fox jumps over the lazy dog, twice as fast now!!", nil, nil},
		{"1024 bytes", strings.Repeat("xy", 512), nil, nil},
		{"1025 bytes", strings.Repeat("xy", 512) + "z", nil, []string{MsgTooLong}},
		// Code points after NFC: e + combining acute is one character.
		{"15 composed accents", strings.Repeat("áéíóú", 3), nil, nil},
		{"14 decomposed accents", strings.Repeat(decomposed, 2) + "a\u0301e\u0301i\u0301o\u0301", nil, []string{MsgTooShort}},
		{"15 decomposed accents", strings.Repeat(decomposed, 3), nil, nil},
		{"15 kanji", "日本語のパスワードは十五文字以上", nil, nil},
		{"common, long", "1qaz2wsx3edc4rfv", nil, []string{MsgCommon}},
		{"common, any case", "1QAZ2WSX3EDC4RFV", nil, []string{MsgCommon}},
		{"common, short", "password", nil, []string{MsgTooShort, MsgCommon}},
		{"common, short, upper", "PassWord", nil, []string{MsgTooShort, MsgCommon}},
		{"repeated", strings.Repeat("z", 20), nil, []string{MsgRepeated}},
		{"the username", "a.long.user.name", []string{"A.Long.User.Name", "x@example.com"}, []string{MsgContext}},
		{"the email", "alice@example.com", []string{"alice", "Alice@Example.com"}, []string{MsgContext}},
		{"containing the username", "alice in wonderland", []string{"alice"}, nil},
		// Patterns (NIST's repetitive, sequential and context-specific
		// values), each found by an attacker's review.
		{"a common word twice", "passwordpassword", nil, []string{MsgPredictable}},
		{"digits in sequence, wrapping", "123456789012345", nil, []string{MsgPredictable}},
		{"digits in sequence", "1234567890123456", nil, []string{MsgPredictable}},
		{"a keyboard walk", "qwertyuiopasdfgh", nil, []string{MsgPredictable}},
		{"the alphabet", "abcdefghijklmnop", nil, []string{MsgPredictable}},
		{"backwards", "ponmlkjihgfedcba", nil, []string{MsgPredictable}},
		{"a common phrase twice", "iloveyouiloveyou", nil, []string{MsgPredictable}},
		{"a common word and a sequence", "Password1234567", nil, []string{MsgPredictable}},
		{"a short unit repeated", "ababababababababab", nil, []string{MsgPredictable}},
		{"the service's name twice", "latchkeylatchkey", nil, []string{MsgPredictable}},
		{"the username three times", "adminadminadmin", []string{"admin"}, []string{MsgPredictable}},
		{"the email's name and digits", "bartholomew123456", []string{"bartholomew@example.com"}, []string{MsgPredictable}},
		{"words with spaces", "correct horse battery staple", nil, nil},
		{"three unrelated words", "violinglacierpepper", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Validate(tc.pw, tc.context...)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("Validate(%q) = %q, want %q", tc.pw, got, tc.want)
			}
		})
	}
}

// TestCommonList: the built-in list holds the usual top passwords and
// long common ones, lowercased, and nothing blank.
func TestCommonList(t *testing.T) {
	for _, pw := range []string{"123456", "password", "qwerty", "iloveyou", "123456789987654321", "qazwsxedcrfvtgb", "1234567890qwerty"} {
		if !Common(pw) {
			t.Errorf("Common(%q) = false, want true", pw)
		}
	}
	if n := len(common()); n < 10_000 {
		t.Errorf("the list holds %d passwords, want the top 10,000 at least", n)
	}
	long := 0
	for pw := range common() {
		if pw == "" || pw != strings.ToLower(pw) {
			t.Fatalf("list entry %q: want non-empty, lowercase", pw)
		}
		if Length(pw) >= MinLength {
			long++
		}
	}
	if long < 30 {
		t.Errorf("%d passwords of %d characters or more, want the common long ones", long, MinLength)
	}
}
