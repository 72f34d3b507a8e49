package jwt_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/jwt"
)

func TestNewSealer(t *testing.T) {
	tests := []struct {
		name    string
		secret  string
		wantErr bool
	}{
		{"empty", "", true},
		{"15 bytes", strings.Repeat("s", 15), true},
		{"16 bytes", strings.Repeat("s", 16), false},
		{"64 bytes", strings.Repeat("s", 64), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := jwt.NewSealer([]byte(tt.secret))
			if (err != nil) != tt.wantErr {
				t.Errorf("NewSealer(%d bytes) = %v, want error %t", len(tt.secret), err, tt.wantErr)
			}
		})
	}
}

func TestSealer(t *testing.T) {
	s := testSealer(t)
	plaintext := []byte("the PKCS #8 DER of a private key")
	sealed, err := s.Seal("kid1", plaintext)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, plaintext) {
		t.Fatal("Seal() output holds the plaintext")
	}
	if want := 12 + len(plaintext) + 16; len(sealed) != want {
		t.Errorf("len(Seal()) = %d, want %d (nonce, ciphertext, tag)", len(sealed), want)
	}
	again, err := s.Seal("kid1", plaintext)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(sealed, again) {
		t.Error("Seal() twice gave the same bytes; want a random nonce")
	}

	got, err := testSealer(t).Open("kid1", sealed)
	if err != nil || !bytes.Equal(got, plaintext) {
		t.Errorf("Open() = %q, %v; want %q", got, err, plaintext)
	}

	other, err := jwt.NewSealer([]byte("another secret of the server"))
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Clone(sealed)
	tampered[20] ^= 1
	tests := []struct {
		name    string
		s       *jwt.Sealer
		kid     string
		sealed  []byte
		wantMsg string
	}{
		{"wrong secret", other, "kid1", sealed, "secret does not match"},
		{"swapped kid", s, "kid2", sealed, "secret does not match"},
		{"tampered", s, "kid1", tampered, "secret does not match"},
		{"truncated", s, "kid1", sealed[:27], "truncated"},
		{"empty", s, "kid1", nil, "truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.s.Open(tt.kid, tt.sealed)
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Open() = %q, %v; want an error saying %q", got, err, tt.wantMsg)
			}
			if msg := err.Error(); strings.Contains(msg, string(plaintext)) || strings.Contains(msg, fmt.Sprintf("%x", tt.sealed[:min(8, len(tt.sealed))])) && len(tt.sealed) > 0 {
				t.Errorf("Open() error %q shows key material", msg)
			}
		})
	}
}

func TestSealerPrintsNoSecret(t *testing.T) {
	s := testSealer(t)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(format, s); got != "jwt.Sealer{REDACTED}" {
			t.Errorf("Sprintf(%q, sealer) = %s, want jwt.Sealer{REDACTED}", format, got)
		}
	}
	if got := s.LogValue().String(); got != "REDACTED" {
		t.Errorf("LogValue() = %s, want REDACTED", got)
	}
}

func TestDeriveKey(t *testing.T) {
	a, err := jwt.NewSealer([]byte("the first secret, long enough"))
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := jwt.NewSealer([]byte("the first secret, long enough"))
	b, _ := jwt.NewSealer([]byte("the second secret, long enough"))
	k := a.DeriveKey("use one")
	if len(k) != 32 {
		t.Fatalf("DeriveKey: %d bytes, want 32", len(k))
	}
	if !bytes.Equal(k, a2.DeriveKey("use one")) {
		t.Error("the same secret and use derived different keys")
	}
	if bytes.Equal(k, a.DeriveKey("use two")) {
		t.Error("two uses derived the same key")
	}
	if bytes.Equal(k, b.DeriveKey("use one")) {
		t.Error("two secrets derived the same key")
	}
}
