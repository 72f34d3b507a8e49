package jwt_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/jwt"
)

// algFixture returns a keyring whose one key, the test key of alg, signs.
func algFixture(b *testing.B, alg string) *jwt.Keyring {
	b.Helper()
	k := keyOf(b, alg)
	return newKeyring(b, signingKey(b, privateKey(b, k.file), now.Add(-24*time.Hour), time.Time{}))
}

// BenchmarkSign signs a token with a key of each algorithm.
func BenchmarkSign(b *testing.B) {
	for _, k := range testKeys {
		b.Run(k.alg, func(b *testing.B) {
			r := algFixture(b, k.alg)
			c := testClaims()
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := r.Sign(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify verifies a valid token of each algorithm.
func BenchmarkVerify(b *testing.B) {
	for _, k := range testKeys {
		b.Run(k.alg, func(b *testing.B) {
			r := algFixture(b, k.alg)
			token, _, err := r.Sign(testClaims())
			if err != nil {
				b.Fatal(err)
			}
			benchmarkVerify(b, r, token, nil)
		})
	}
}

// BenchmarkVerifyGarbage verifies three segments of random base64url as
// long as a token, as a scanner sends.
func BenchmarkVerifyGarbage(b *testing.B) {
	r, _ := fixture(b)
	seg := func(n int) string {
		buf := make([]byte, n)
		rand.Read(buf)
		return base64.RawURLEncoding.EncodeToString(buf)
	}
	benchmarkVerify(b, r, seg(60)+"."+seg(200)+"."+seg(256), jwt.ErrInvalid)
}

// BenchmarkVerifyBadSignature verifies a token of each algorithm whose
// signature has a flipped bit: the cost of each distinct forgery.
func BenchmarkVerifyBadSignature(b *testing.B) {
	for _, k := range testKeys {
		b.Run(k.alg, func(b *testing.B) {
			r := algFixture(b, k.alg)
			token, _, err := r.Sign(testClaims())
			if err != nil {
				b.Fatal(err)
			}
			head, claims, sig := segments(b, token)
			raw, _ := base64.RawURLEncoding.DecodeString(sig)
			raw[0] ^= 1
			benchmarkVerify(b, r, head+"."+claims+"."+base64.RawURLEncoding.EncodeToString(raw), jwt.ErrInvalid)
		})
	}
}

func BenchmarkVerifyUnknownKid(b *testing.B) {
	r, priv := fixture(b)
	token := signRaw(b, priv, `{"typ":"JWT","alg":"RS256","kid":"QHIAiTQzv7nvXJxqdv0TuOZ5uIamTa7AvURmNHuD37k"}`,
		claimsJSON(-1, -1, 1<<40))
	benchmarkVerify(b, r, token, jwt.ErrInvalid)
}

func benchmarkVerify(b *testing.B, r *jwt.Keyring, token string, want error) {
	b.Helper()
	if _, err := r.Verify(token, now); err != want {
		b.Fatalf("Verify() = %v, want %v", err, want)
	}
	b.ReportAllocs()
	for b.Loop() {
		r.Verify(token, now)
	}
}

// BenchmarkVerifyHostile verifies the unsigned headers that cost Verify the
// most before it reaches a signature: each must cost less than checking
// one (BenchmarkVerifyBadSignature/RS256).
func BenchmarkVerifyHostile(b *testing.B) {
	r, _ := fixture(b)
	var members strings.Builder // distinct, as duplicates are refused at once
	members.WriteString(`{"alg":"RS256"`)
	for i := range 15 {
		fmt.Fprintf(&members, `,"%02x":0`, i)
	}
	most := members.String() + "}"
	members.WriteString(`,"too":0}`)
	tooMany := members.String()
	for _, bm := range []struct {
		name  string
		token string
	}{
		{"longest header", enc(most+strings.Repeat(" ", 384-len(most))) + ".e30.AAAA"},
		{"too long a header", strings.Repeat("A", 513) + ".e30.AAAA"},
		{"most members", enc(most) + ".e30.AAAA"},
		{"too many members", enc(tooMany) + ".e30.AAAA"},
		{"deepest nesting", enc(`{"x":`+strings.Repeat("[", 379)) + ".e30.AAAA"},
		{"longest token", "e30." + strings.Repeat("A", jwt.MaxTokenLength-10) + ".AAAA"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			benchmarkVerify(b, r, bm.token, jwt.ErrInvalid)
		})
	}
}

// BenchmarkRS256Bound is the bare cost of one RS256 check with the
// standard library, the floor under every distinct forged signature.
func BenchmarkRS256Bound(b *testing.B) {
	_, priv := fixture(b)
	digest := sha256.Sum256([]byte("header.claims"))
	sig, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	sig[len(sig)/2] ^= 1
	b.ReportAllocs()
	for b.Loop() {
		if rsa.VerifyPKCS1v15(&priv.PublicKey, crypto.SHA256, digest[:], sig) == nil {
			b.Fatal("a bad signature verified")
		}
	}
}
