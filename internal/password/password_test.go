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
