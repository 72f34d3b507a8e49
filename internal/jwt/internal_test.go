package jwt

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/latchkey/latchkey"

	"github.com/latchkey/latchkey/internal/jsonread"
	"github.com/latchkey/latchkey/internal/jws"
)

func TestThumbprint(t *testing.T) {
	b64 := base64.RawURLEncoding
	decode := func(s string) []byte {
		t.Helper()
		b, err := b64.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// The key of RFC 7638, section 3.1.
	rsaKey := &rsa.PublicKey{N: new(big.Int).SetBytes(decode("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")), E: 65537}
	// The key of RFC 8037, appendix A.3.
	edKey := ed25519.PublicKey(decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"))
	// The key of RFC 7515, appendix A.3: its thumbprint is the SHA-256 of
	// the members as RFC 7638 orders them, written out here.
	ecKey := rfc7515ES256Key(t)
	ecSum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`))
	for _, tc := range []struct {
		name string
		pub  crypto.PublicKey
		want string
	}{
		{"RFC 7638 RSA", rsaKey, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"},
		{"RFC 8037 Ed25519", edKey, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"},
		{"RFC 7515 P-256", ecKey, b64.EncodeToString(ecSum[:])},
	} {
		j, err := publicJWK(tc.pub)
		if err != nil {
			t.Fatalf("publicJWK(%s) = %v", tc.name, err)
		}
		if got := j.thumbprint(); got != tc.want {
			t.Errorf("thumbprint(%s) = %s, want %s", tc.name, got, tc.want)
		}
	}
}

// rfc7515ES256Key is the public key of RFC 7515, appendix A.3.
func rfc7515ES256Key(t *testing.T) *ecdsa.PublicKey {
	t.Helper()
	x, _ := base64.RawURLEncoding.DecodeString("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU")
	y, _ := base64.RawURLEncoding.DecodeString("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0")
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// TestJWKCoordinatesPadded: an EC key's x and y are 32 bytes each, however
// many leading zeros they have (RFC 7518, section 6.2.1.2), and so is its
// thumbprint's input.
func TestJWKCoordinatesPadded(t *testing.T) {
	// Keys whose x or y is below 2^248 come about once in 128 draws.
	var short *ecdsa.PublicKey
	for i := 0; short == nil && i < 10000; i++ {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := priv.PublicKey.Bytes(); b[1] == 0 || b[33] == 0 {
			short = &priv.PublicKey
		}
	}
	if short == nil {
		t.Fatal("no key with a short coordinate in 10000")
	}
	j, err := publicJWK(short)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]string{"x": j.X, "y": j.Y} {
		if b, err := base64.RawURLEncoding.DecodeString(c); err != nil || len(b) != 32 {
			t.Errorf("%s = %q (%d bytes), want 32 bytes", name, c, len(b))
		}
	}
}

// TestKnownAnswers verifies the signatures of RFC 7515 (ES256, appendix
// A.3) and RFC 8037 (EdDSA, appendix A.4) by their keys, and signs the
// latter again: Ed25519 signatures are deterministic.
func TestKnownAnswers(t *testing.T) {
	b64 := base64.RawURLEncoding
	es256 := &verifier{Key: jws.Key{Alg: ES256, EC: rfc7515ES256Key(t), SigSize: 64}}
	esInput := "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
	esSig, _ := b64.DecodeString("DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q")
	if !es256.Verify([]byte(esInput), esSig) {
		t.Error("the ES256 signature of RFC 7515, A.3, does not verify")
	}
	if es256.Verify([]byte(esInput+"x"), esSig) {
		t.Error("the ES256 signature of RFC 7515, A.3, verifies another input")
	}

	seed, _ := b64.DecodeString("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
	priv := ed25519.NewKeyFromSeed(seed)
	eddsa := &verifier{Key: jws.Key{Alg: EdDSA, Ed: priv.Public().(ed25519.PublicKey), SigSize: 64}}
	edInput := "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
	edSig := "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
	sig, err := sign(priv, []byte(edInput))
	if err != nil {
		t.Fatal(err)
	}
	if got := b64.EncodeToString(sig); got != edSig {
		t.Errorf("sign(RFC 8037 key, A.4 input) = %s, want %s", got, edSig)
	}
	if !eddsa.Verify([]byte(edInput), sig) {
		t.Error("the EdDSA signature of RFC 8037, A.4, does not verify")
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
		got, ok := jsonread.ParseNumericDate(tt.in)
		if ok != !tt.want.IsZero() || !got.Equal(tt.want) {
			t.Errorf("jsonread.ParseNumericDate(%s) = %v, %t; want %v", tt.in, got, ok, tt.want)
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
		// What Sign writes for a resource server (RFC 9068).
		`{"iss":"https://t.example","aud":"https://mcp.example/mcp","sub":"42","client_id":"3","jti":"abc","iat":1773497366,"nbf":1773497366,"exp":1773504566,"scope":"a b","scopes":["a","b"]}`,
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
		if want.Issuer != "" && want.ClientID != "" {
			want.Type = TypeAccessToken
		} else {
			// Passport's claims carry neither.
			want.Issuer, want.ClientID = "", ""
		}
		encoded, err := want.encode()
		if err != nil {
			t.Fatalf("encode(%+v) = %v", want, err)
		}
		got, ok := decodeClaims(encoded)
		if !ok {
			t.Fatalf("decodeClaims(%s) refused what encode wrote", encoded)
		}
		want.Type = "" // the header's
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
		got, ok := jsonread.ParseNumericDate(tc.in)
		if ok != !tc.want.IsZero() || !got.Equal(tc.want) {
			t.Errorf("jsonread.ParseNumericDate(%s) = %v, %t; want %v", tc.in, got, ok, tc.want)
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

// TestFastPath: for every key, of each algorithm, the header Sign writes
// with the key (its algorithm and kid) is in byHead, so that Verify reads
// no JSON of a token of ours; byHead holds nothing else.
func TestFastPath(t *testing.T) {
	s, err := NewSealer([]byte("correct horse battery staple, 32"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	retired := now.Add(-time.Hour)
	var keys []*latchkey.SigningKey
	for i, file := range []string{"ed25519-pkcs8.pem", "ec-pkcs8.pem", "key1-pkcs1.pem"} {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		priv, err := ParsePrivateKeyPEM(data)
		if err != nil {
			t.Fatal(err)
		}
		k, err := NewSigningKey(priv, s, now.Add(-time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			k.RetiredAt = &retired
		}
		keys = append(keys, k)
	}
	r, err := NewKeyring(keys, s)
	if err != nil {
		t.Fatal(err)
	}
	// Each key's two headers: Passport's typ JWT, RFC 9068's at+jwt.
	if len(r.byHead) != 2*len(keys) {
		t.Errorf("byHead has %d headers, want %d", len(r.byHead), 2*len(keys))
	}
	for _, k := range keys {
		for _, typ := range []string{TypeJWT, TypeAccessToken} {
			head := b64.EncodeToString([]byte(`{"typ":"` + typ + `","alg":"` + k.Algorithm + `","kid":"` + k.ID + `"}`))
			if v := r.byHead[head]; v == nil || v.kid != k.ID || v.Alg != k.Algorithm {
				t.Errorf("byHead[%s header of %s key %s] = %+v, want its verifier", typ, k.Algorithm, k.ID, v)
			}
			if v := r.lookup(head); v == nil || v.kid != k.ID {
				t.Errorf("lookup(%s header of %s key %s) = %+v, want its verifier", typ, k.Algorithm, k.ID, v)
			}
		}
	}
	for _, c := range []Claims{
		{Audience: "3", ID: "j", Subject: "42", IssuedAt: now, NotBefore: now, ExpiresAt: now.Add(time.Hour)},
		{Type: TypeAccessToken, Issuer: "https://x", ClientID: "3", Audience: "https://mcp", ID: "j", Subject: "42", IssuedAt: now, NotBefore: now, ExpiresAt: now.Add(time.Hour)},
	} {
		token, _, err := r.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		head, _, _ := strings.Cut(token, ".")
		if v := r.byHead[head]; v == nil || v.kid != keys[0].ID {
			t.Errorf("byHead[the header Sign wrote for %q] = %+v, want the EdDSA key", c.Type, v)
		}
	}
}

// TestPublicJWKRefuses: keys of no algorithm of ours.
func TestPublicJWKRefuses(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		pub     crypto.PublicKey
		wantErr string
	}{
		{"Ed25519 of 31 bytes", ed25519.PublicKey(make([]byte, 31)), "31 bytes"},
		{"Ed25519 of 33 bytes", ed25519.PublicKey(make([]byte, 33)), "33 bytes"},
		{"P-384", &p384.PublicKey, "curve P-384"},
		{"P-224", &p224.PublicKey, "curve P-224"},
		{"X25519", x25519.PublicKey(), "X25519"},
		{"nil", nil, "want RSA, ECDSA P-256 or Ed25519"},
	} {
		if j, err := publicJWK(tc.pub); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("publicJWK(%s) = %+v, %v; want an error saying %q", tc.name, j, err, tc.wantErr)
		}
	}
}

// TestSmallOrderEd25519Refused: an Ed25519 public key of small order
// (the identity, the point of order 2, the two of order 4), which would
// verify a forged (R = the identity, S = 0) signature, is refused,
// whether imported or stored; one that is not a point at all too.
func TestSmallOrderEd25519Refused(t *testing.T) {
	point := func(first byte, last byte) ed25519.PublicKey {
		p := make([]byte, 32)
		p[0], p[31] = first, last
		return p
	}
	order2 := make([]byte, 32)
	for i := range order2 {
		order2[i] = 0xff
	}
	order2[0], order2[31] = 0xec, 0x7f
	for name, pub := range map[string]ed25519.PublicKey{
		"identity":         point(1, 0),
		"order 2":          order2,
		"order 4":          point(0, 0),
		"order 4, negated": point(0, 0x80),
		"not on the curve": point(2, 0),
	} {
		if _, err := publicJWK(pub); err == nil {
			t.Errorf("%s: publicJWK accepted it", name)
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`))
		retired := time.Now()
		k := &latchkey.SigningKey{ID: base64.RawURLEncoding.EncodeToString(sum[:]), Algorithm: EdDSA, PublicKey: der, CreatedAt: retired, RetiredAt: &retired}
		if _, err := NewKeyring([]*latchkey.SigningKey{k}, nil); err == nil {
			t.Errorf("%s: a stored key of it was loaded", name)
		}
	}
	// A key made by signing software is accepted.
	good, _, _ := ed25519.GenerateKey(nil)
	if _, err := publicJWK(good); err != nil {
		t.Errorf("a generated key: %v", err)
	}
}

// split is jws.Split with Verify's bounds.
func split(token string) (head, payload, sig string, ok bool) {
	return jws.Split(token, MaxTokenLength, maxHeaderLength)
}
