package jwt

import (
	"crypto/rsa"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestThumbprint(t *testing.T) {
	// The example of RFC 7638, section 3.1.
	n, err := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	if err != nil {
		t.Fatal(err)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	if got, want := thumbprint(pub), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("thumbprint(RFC 7638 key) = %s, want %s", got, want)
	}
}

func TestParseNumericDate(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time // zero: refused
	}{
		{"0", time.Unix(0, 0)},
		{"1773500966", time.Unix(1773500966, 0)},
		{"1773500966.5", time.Unix(1773500966, 5e8)},
		{"1773500966.123456", time.Unix(1773500966, 123456000)},
		{"1773500966.1234567891", time.Unix(1773500966, 123456789)},
		{"1773500966.000000001", time.Unix(1773500966, 1)},
		{"1.5e9", time.Unix(15e8, 0)},
		{"15E8", time.Unix(15e8, 0)},
		{"253402300799", time.Unix(253402300799, 0)},
		{"253402300799.999", time.Unix(253402300799, 999e6)},
		{"253402300800", time.Time{}},
		{"2.6e11", time.Time{}},
		{"-1", time.Time{}},
		{"-0", time.Time{}},
		{"1e400", time.Time{}},
		{"99999999999999999999", time.Time{}},
	}
	for _, tt := range tests {
		got, ok := parseNumericDate(tt.in)
		if ok != !tt.want.IsZero() || !got.Equal(tt.want) {
			t.Errorf("parseNumericDate(%s) = %v, %t; want %v", tt.in, got, ok, tt.want)
		}
	}
}

// FuzzClaims feeds the decoders of the header and the claims what no
// signature guards in FuzzVerify. Properties: they never panic, and claims
// accepted encode to claims that decode to the same, times aside from
// their fractions.
func FuzzClaims(f *testing.F) {
	for _, seed := range []string{
		// What Sign writes.
		`{"aud":"3","jti":"abc","iat":1773497366,"nbf":1773497366,"exp":1773504566,"sub":"42","scopes":["tokens.read"]}`,
		// What Passport writes.
		`{"aud":"3","jti":"abc","iat":1773497366.123456,"nbf":1773497366.123456,"exp":1773504566.5,"sub":"42","scopes":[]}`,
		// No iat or nbf; unknown members; escapes; exponents.
		`{"iss":"x","aud":"\u0033","jti":"a\/b","exp":1.8e9,"sub":"\ud83d\ude00","scopes":["*"],"x":[{"y":null}]}`,
		// A header.
		`{"typ":"JWT","alg":"RS256","kid":"PfkoWdVaFrcpIe-2f8o3RB5caa-V73UnRlQDSYlIUXg"}`,
		// Refused: duplicates, wrong types, trailing data.
		`{"aud":"3","aud":"4","jti":"abc","exp":1,"sub":"42","scopes":[]}`,
		`{"aud":3,"jti":"abc","exp":"1","sub":"42","scopes":[1]}`,
		`{"aud":"3","jti":"abc","exp":1,"sub":"42","scopes":[]} {}`,
		`[`, ``, `null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeHeader(data)
		c, ok := decodeClaims(data)
		if !ok {
			return
		}
		if c.Scopes == nil {
			t.Fatal("decodeClaims() scopes = nil, want non-nil")
		}
		want := wholeSeconds(*c)
		encoded, err := want.encode()
		if err != nil {
			t.Fatalf("encode(%+v) = %v", want, err)
		}
		got, ok := decodeClaims(encoded)
		if !ok {
			t.Fatalf("decodeClaims(%s) refused what encode wrote", encoded)
		}
		if diff := cmp.Diff(&want, got); diff != "" {
			t.Errorf("decodeClaims(encode(claims)) (-want +got):\n%s", diff)
		}
	})
}

// wholeSeconds returns c as Sign writes it: times without their fractions,
// and the epoch for an absent iat or nbf, as Sign needs both.
func wholeSeconds(c Claims) Claims {
	for _, t := range []*time.Time{&c.IssuedAt, &c.NotBefore, &c.ExpiresAt} {
		if t.IsZero() {
			*t = time.Unix(0, 0).UTC()
		}
		*t = t.Truncate(time.Second)
	}
	return c
}

// TestNumericDateBounds: the edges of the NumericDate range, in what is
// signed and in the exponent form of what is read.
func TestNumericDateBounds(t *testing.T) {
	base := Claims{Audience: "1", ID: "x", Subject: "2"}
	for _, tc := range []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"the epoch", time.Unix(0, 0), true},
		{"a second before it", time.Unix(-1, 0), false},
		{"the last second of 9999", time.Unix(maxNumericDate, 0), true},
		{"a second after it", time.Unix(maxNumericDate+1, 0), false},
	} {
		c := base
		c.IssuedAt, c.NotBefore, c.ExpiresAt = tc.at, tc.at, tc.at
		if _, err := c.encode(); (err == nil) != tc.ok {
			t.Errorf("encode with times at %s (%v) = %v, want accepted %t", tc.name, tc.at, err, tc.ok)
		}
	}
	for _, tc := range []struct {
		in   string
		want time.Time // zero: refused
	}{
		{"0e0", time.Unix(0, 0)},
		{"2.53402300799e11", time.Unix(maxNumericDate, 0)},
		{"2.534023008e11", time.Time{}},
		{"1.7735009665e9", time.Unix(1773500966, 5e8)},
	} {
		got, ok := parseNumericDate(tc.in)
		if ok != !tc.want.IsZero() || !got.Equal(tc.want) {
			t.Errorf("parseNumericDate(%s) = %v, %t; want %v", tc.in, got, ok, tc.want)
		}
	}
}

// TestSplitBounds: the edges of what split lets through: the token's
// length, the header's, and where the dots are.
func TestSplitBounds(t *testing.T) {
	pad := func(n int) string { return strings.Repeat("a", n) }
	for _, tc := range []struct {
		name                string
		token               string
		head, payload, sign string
		ok                  bool
	}{
		{"the longest token", pad(10) + "." + pad(MaxTokenLength-22) + "." + pad(10), pad(10), pad(MaxTokenLength - 22), pad(10), true},
		{"a byte longer", pad(10) + "." + pad(MaxTokenLength-21) + "." + pad(10), "", "", "", false},
		{"the longest header", pad(maxHeaderLength) + ".b.c", pad(maxHeaderLength), "b", "c", true},
		{"a byte longer header", pad(maxHeaderLength+1) + ".b.c", "", "", "", false},
		{"an empty header", ".b.c", "", "b", "c", true},
		{"an empty payload", "a..c", "a", "", "c", true},
		{"an empty signature", "a.b.", "a", "b", "", true},
		{"two dots only", "..", "", "", "", true},
		{"one dot", "a.b", "", "", "", false},
		{"three dots", "a.b.c.d", "", "", "", false},
		{"a newline", "a.b\n.c", "", "", "", false},
		// A byte outside base64url is no dot, wherever a dot would be.
		{"a space for the second dot", "a.b c", "", "", "", false},
		{"a NUL for the first dot", "a\x00b.c", "", "", "", false},
		{"a byte above 127 for a dot", "a\xaeb.c", "", "", "", false},
	} {
		h, p, s, ok := split(tc.token)
		if ok != tc.ok || (ok && (h != tc.head || p != tc.payload || s != tc.sign)) {
			t.Errorf("split(%s) = %q, %q, %q, %t; want %q, %q, %q, %t", tc.name, h, p, s, ok, tc.head, tc.payload, tc.sign, tc.ok)
		}
	}
}

// TestCheckKeySize: the edges of the RSA key sizes accepted, on moduli of
// each size (no key of 8192 bits needs making).
func TestCheckKeySize(t *testing.T) {
	for _, tc := range []struct {
		bits int
		ok   bool
	}{
		{MinKeyBits - 1, false},
		{MinKeyBits, true},
		{MaxKeyBits, true},
		{MaxKeyBits + 1, false},
	} {
		n := new(big.Int).Lsh(big.NewInt(1), uint(tc.bits-1))
		n.SetBit(n, 0, 1)
		if err := checkKeySize(&rsa.PublicKey{N: n, E: 65537}); (err == nil) != tc.ok {
			t.Errorf("checkKeySize(%d bits) = %v, want accepted %t", tc.bits, err, tc.ok)
		}
	}
}
