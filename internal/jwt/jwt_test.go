package jwt_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/jwt"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// now is the clock of the tests: 1773500966 seconds.
var now = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

const testSecret = "correct horse battery staple, 32"

// The keys in testdata are for tests only, made once with OpenSSL 3.0
// (openssl genpkey, then openssl pkey / rsa / pkcs8 / ec to convert):
// key1 in every form, key2, a 1024-bit key and key1 encrypted (RSA); ec
// and ec2 (P-256), ec384 (P-384); ed25519 and ed25519-2. RS256 and EdDSA
// signatures are deterministic, so the token goldens stay valid; ES256
// signatures are not.

// The thumbprints of testdata/key1-*.pem (RSA), ec-*.pem (P-256) and
// ed25519-*.pem.
const (
	kid1  = "PfkoWdVaFrcpIe-2f8o3RB5caa-V73UnRlQDSYlIUXg"
	kidEC = "f2yPsWz1UjD3iCoWZjtdLzg0XadSGqGCyMyXBXvg5io"
	kidEd = "Q1T9CVZh8g_De7dff98X3mEaDYIxVyR01AMMRFhe444"
)

func testClaims() jwt.Claims {
	return jwt.Claims{
		Audience:  "3",
		ID:        strings.Repeat("0123456789abcdef", 5),
		Subject:   "42",
		IssuedAt:  now.Add(-time.Hour),
		NotBefore: now.Add(-time.Hour),
		ExpiresAt: now.Add(time.Hour),
		Scopes:    []string{"tokens.read", "tokens.write"},
	}
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func privateKey(t testing.TB, name string) crypto.Signer {
	t.Helper()
	priv, err := jwt.ParsePrivateKeyPEM(readFile(t, name))
	if err != nil {
		t.Fatalf("ParsePrivateKeyPEM(%s): %v", name, err)
	}
	return priv
}

// rsaKey returns the RSA private key in testdata/name.
func rsaKey(t testing.TB, name string) *rsa.PrivateKey {
	t.Helper()
	priv, ok := privateKey(t, name).(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("%s holds no RSA key", name)
	}
	return priv
}

func testSealer(t testing.TB) *jwt.Sealer {
	t.Helper()
	s, err := jwt.NewSealer([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signingKey returns priv as a signing key created at created, retired at
// retired unless that is zero.
func signingKey(t testing.TB, priv crypto.Signer, created, retired time.Time) *latchkey.SigningKey {
	t.Helper()
	k, err := jwt.NewSigningKey(priv, testSealer(t), created)
	if err != nil {
		t.Fatal(err)
	}
	if !retired.IsZero() {
		k.RetiredAt = &retired
	}
	return k
}

func newKeyring(t testing.TB, keys ...*latchkey.SigningKey) *jwt.Keyring {
	t.Helper()
	r, err := jwt.NewKeyring(keys, testSealer(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fixture returns a keyring whose one key, key1, signs.
func fixture(t testing.TB) (*jwt.Keyring, *rsa.PrivateKey) {
	t.Helper()
	priv := rsaKey(t, "key1-pkcs1.pem")
	return newKeyring(t, signingKey(t, priv, now.Add(-24*time.Hour), time.Time{})), priv
}

func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func dec(t testing.TB, s string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// signRaw returns a token of header and claims, taken as they are, signed
// with priv by the algorithm of its kind: RS256, ES256 or EdDSA.
func signRaw(t testing.TB, priv crypto.Signer, header, claims string) string {
	t.Helper()
	input := enc(header) + "." + enc(claims)
	return input + "." + base64.RawURLEncoding.EncodeToString(rawSignature(t, priv, input))
}

// rawSignature returns the JWS signature of input by priv: PKCS #1 v1.5
// for RSA, R and S of 32 bytes each for ECDSA, Ed25519's own.
func rawSignature(t testing.TB, priv crypto.Signer, input string) []byte {
	t.Helper()
	sum := sha256.Sum256([]byte(input))
	switch priv := priv.(type) {
	case *rsa.PrivateKey:
		sig, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, priv, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	case ed25519.PrivateKey:
		return ed25519.Sign(priv, []byte(input))
	}
	t.Fatalf("a key of type %T", priv)
	return nil
}

// hs256 returns a token of header and claims with an HMAC-SHA256 tag made
// with secret.
func hs256(header, claims string, secret []byte) string {
	input := enc(header) + "." + enc(claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func segments(t testing.TB, token string) (header, claims, sig string) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d segments", token, len(parts))
	}
	return parts[0], parts[1], parts[2]
}

// claimsJSON returns claims as Passport writes them, the times relative to
// now.
func claimsJSON(iat, nbf, exp time.Duration) string {
	return fmt.Sprintf(`{"aud":"3","jti":"abc","iat":%d,"nbf":%d,"exp":%d,"sub":"42","scopes":[]}`,
		now.Add(iat).Unix(), now.Add(nbf).Unix(), now.Add(exp).Unix())
}

// TestSignGolden: the tokens of the deterministic algorithms, RS256 and
// EdDSA, byte for byte. (ES256 signatures are random; its header and
// signature length are checked in TestSignVerifyEachAlgorithm.)
func TestSignGolden(t *testing.T) {
	for _, tc := range []struct {
		alg, file, kid, golden string
	}{
		{"RS256", "key1-pkcs1.pem", kid1, "token.golden"},
		{"EdDSA", "ed25519-pkcs8.pem", kidEd, "token-eddsa.golden"},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			r := newKeyring(t, signingKey(t, privateKey(t, tc.file), now.Add(-24*time.Hour), time.Time{}))
			token, kid, err := r.Sign(testClaims())
			if err != nil {
				t.Fatal(err)
			}
			if kid != tc.kid {
				t.Errorf("Sign() kid = %s, want %s", kid, tc.kid)
			}
			header, claims, _ := segments(t, token)
			wantHeader := `{"typ":"JWT","alg":"` + tc.alg + `","kid":"` + tc.kid + `"}`
			if got := dec(t, header); got != wantHeader {
				t.Errorf("header = %s, want %s", got, wantHeader)
			}
			wantClaims := `{"aud":"3","jti":"` + strings.Repeat("0123456789abcdef", 5) +
				`","iat":1773497366,"nbf":1773497366,"exp":1773504566,"sub":"42","scopes":["tokens.read","tokens.write"]}`
			if got := dec(t, claims); got != wantClaims {
				t.Errorf("claims = %s, want %s", got, wantClaims)
			}

			golden := filepath.Join("testdata", tc.golden)
			if *update {
				if err := os.WriteFile(golden, []byte(token+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if want := strings.TrimSpace(string(readFile(t, tc.golden))); token != want {
				t.Errorf("Sign() = %s, want %s", token, want)
			}
		})
	}
}

func TestSignEncoding(t *testing.T) {
	r, _ := fixture(t)
	tests := []struct {
		name   string
		claims func(*jwt.Claims)
		want   string // the claims segment, decoded
	}{
		{"nil scopes", func(c *jwt.Claims) { c.Scopes = nil },
			`{"aud":"3","jti":"j","iat":1773500966,"nbf":1773500966,"exp":1773500967,"sub":"42","scopes":[]}`},
		{"empty scopes", func(c *jwt.Claims) { c.Scopes = []string{} },
			`{"aud":"3","jti":"j","iat":1773500966,"nbf":1773500966,"exp":1773500967,"sub":"42","scopes":[]}`},
		{"fractions dropped", func(c *jwt.Claims) { c.IssuedAt = now.Add(999 * time.Millisecond) },
			`{"aud":"3","jti":"j","iat":1773500966,"nbf":1773500966,"exp":1773500967,"sub":"42","scopes":[]}`},
		{"other zone", func(c *jwt.Claims) { c.IssuedAt = now.In(time.FixedZone("X", 3600)) },
			`{"aud":"3","jti":"j","iat":1773500966,"nbf":1773500966,"exp":1773500967,"sub":"42","scopes":[]}`},
		{"escapes", func(c *jwt.Claims) { c.Subject = "a\"b\\c\n"; c.Scopes = []string{"é"} },
			`{"aud":"3","jti":"j","iat":1773500966,"nbf":1773500966,"exp":1773500967,"sub":"a\"b\\c\n","scopes":["é"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := jwt.Claims{Audience: "3", ID: "j", Subject: "42", IssuedAt: now, NotBefore: now, ExpiresAt: now.Add(time.Second)}
			tt.claims(&c)
			token, _, err := r.Sign(c)
			if err != nil {
				t.Fatal(err)
			}
			_, claims, _ := segments(t, token)
			if got := dec(t, claims); got != tt.want {
				t.Errorf("claims = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestSignRefuses(t *testing.T) {
	r, _ := fixture(t)
	tests := []struct {
		name   string
		claims func(*jwt.Claims)
	}{
		{"no iat", func(c *jwt.Claims) { c.IssuedAt = time.Time{} }},
		{"no nbf", func(c *jwt.Claims) { c.NotBefore = time.Time{} }},
		{"no exp", func(c *jwt.Claims) { c.ExpiresAt = time.Time{} }},
		{"before the epoch", func(c *jwt.Claims) { c.IssuedAt = time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC) }},
		{"after 9999", func(c *jwt.Claims) { c.ExpiresAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testClaims()
			tt.claims(&c)
			if token, _, err := r.Sign(c); err == nil {
				t.Errorf("Sign() = %s, want an error", token)
			}
		})
	}
}

func TestSignVerify(t *testing.T) {
	r, _ := fixture(t)
	want := testClaims()
	token, _, err := r.Sign(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Verify(token, now)
	if err != nil {
		t.Fatalf("Verify() = %v", err)
	}
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("Verify() claims (-want +got):\n%s", diff)
	}
}

// TestSignVerifyLongest: claims whose token is as long as Verify reads
// (MaxTokenLength) sign and verify like any other.
func TestSignVerifyLongest(t *testing.T) {
	r, _ := fixture(t)
	want := testClaims()
	want.Scopes = []string{""}
	token, _, err := r.Sign(want)
	if err != nil {
		t.Fatal(err)
	}
	// Each 3 bytes of the scope add 4 to the token; the last few may not.
	for n := (jwt.MaxTokenLength - len(token)) * 3 / 4; ; n-- {
		want.Scopes = []string{strings.Repeat("s", n)}
		if token, _, err = r.Sign(want); err != nil {
			t.Fatal(err)
		}
		if len(token) <= jwt.MaxTokenLength {
			break
		}
	}
	if len(token) < jwt.MaxTokenLength-3 {
		t.Fatalf("the token has %d bytes, want about %d", len(token), jwt.MaxTokenLength)
	}
	got, err := r.Verify(token, now)
	if err != nil {
		t.Fatalf("Verify() = %v", err)
	}
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("Verify() claims (-want +got):\n%s", diff)
	}
}

func TestVerifyAccepts(t *testing.T) {
	r, priv := fixture(t)
	iat := now.Add(-time.Hour)
	tests := []struct {
		name   string
		header string
		claims string
		want   *jwt.Claims
	}{
		{
			name:   "Passport's order and fractions",
			header: `{"alg":"RS256","typ":"JWT","kid":"` + kid1 + `"}`,
			claims: `{"aud":"3","jti":"abc","iat":1773497366.123456,"nbf":1773497366.123456,"exp":1773504566.5,"sub":"42","scopes":["*"]}`,
			want: &jwt.Claims{Audience: "3", ID: "abc", Subject: "42",
				IssuedAt: iat.Add(123456 * time.Microsecond), NotBefore: iat.Add(123456 * time.Microsecond),
				ExpiresAt: now.Add(time.Hour + 500*time.Millisecond), Scopes: []string{"*"}},
		},
		{
			name:   "no typ, whitespace",
			header: ` { "kid" : "` + kid1 + `" , "alg" : "RS256" } `,
			claims: "\n" + claimsJSON(-time.Hour, -time.Hour, time.Hour) + "\n",
			want: &jwt.Claims{Audience: "3", ID: "abc", Subject: "42",
				IssuedAt: iat, NotBefore: iat, ExpiresAt: now.Add(time.Hour), Scopes: []string{}},
		},
		{
			name:   "unknown members ignored",
			header: `{"typ":"JWT","alg":"RS256","kid":"` + kid1 + `","jku":"https://example.com/keys","x":{"y":[1,{}]}}`,
			claims: `{"iss":"https://example.com","aud":"3","jti":"abc","exp":1773504566,"sub":"42","scopes":[],"extra":[{"a":null},true]}`,
			want:   &jwt.Claims{Issuer: "https://example.com", Audience: "3", ID: "abc", Subject: "42", ExpiresAt: now.Add(time.Hour), Scopes: []string{}},
		},
		{
			name:   "16 members",
			header: `{"typ":"JWT","alg":"RS256","kid":"` + kid1 + `","a":0,"b":0,"c":0,"d":0,"e":0,"f":0,"g":0,"h":0,"i":0,"j":0,"k":0,"l":0,"m":0}`,
			claims: `{"a":0,"b":0,"c":0,"d":0,"e":0,"f":0,"g":0,"h":0,"i":0,"aud":"3","jti":"abc","exp":1773504566,"sub":"42","scopes":[]}`,
			want:   &jwt.Claims{Audience: "3", ID: "abc", Subject: "42", ExpiresAt: now.Add(time.Hour), Scopes: []string{}},
		},
		{
			name:   "nbf is now",
			header: `{"typ":"JWT","alg":"RS256","kid":"` + kid1 + `"}`,
			claims: claimsJSON(0, 0, time.Second),
			want: &jwt.Claims{Audience: "3", ID: "abc", Subject: "42",
				IssuedAt: now, NotBefore: now, ExpiresAt: now.Add(time.Second), Scopes: []string{}},
		},
		{
			name:   "exponents and escapes",
			header: `{"typ":"JWT","alg":"RS256","kid":"` + kid1 + `"}`,
			claims: `{"aud":"\u0033","jti":"a\/b","exp":1.8e9,"sub":"\u00e9","scopes":["a\tb"]}`,
			want: &jwt.Claims{Audience: "3", ID: "a/b", Subject: "é",
				ExpiresAt: time.Unix(1.8e9, 0).UTC(), Scopes: []string{"a\tb"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := signRaw(t, priv, tt.header, tt.claims)
			got, err := r.Verify(token, now)
			if err != nil {
				t.Fatalf("Verify(%s) = %v", token, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Verify() claims (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	r, priv := fixture(t)
	good, _, err := r.Sign(testClaims())
	if err != nil {
		t.Fatal(err)
	}
	head, claims, sig := segments(t, good)
	hdr := `{"typ":"JWT","alg":"RS256","kid":"` + kid1 + `"}`
	valid := claimsJSON(-time.Hour, -time.Hour, time.Hour)
	withHeader := func(h string) string { return signRaw(t, priv, h, valid) }
	withClaims := func(c string) string { return signRaw(t, priv, hdr, c) }

	sigBytes, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), sigBytes...)
	flipped[100] ^= 0x10
	// The last character of a 256-byte signature carries 2 bits and 4
	// unused ones: setting one of those spells the same bytes otherwise.
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", sig[len(sig)-1])
	respelled := sig[:len(sig)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1])
	if b, err := base64.RawURLEncoding.DecodeString(respelled); err != nil || string(b) != string(sigBytes) {
		t.Fatalf("respelled signature decodes to other bytes")
	}

	pkix := readFile(t, "key1-public.pem")
	pkcs1 := readFile(t, "key1-rsa-public.pem")
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	key2 := rsaKey(t, "key2-pkcs8.pem")
	hsHeader := `{"typ":"JWT","alg":"HS256","kid":"` + kid1 + `"}`

	tests := []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"one segment", head},
		{"two segments", head + "." + claims},
		{"two segments, trailing dot", head + "." + claims + "."},
		{"four segments", good + "." + sig},
		{"trailing dot", good + "."},
		{"oversized", head + "." + claims + strings.Repeat("A", jwt.MaxTokenLength) + "." + sig},
		{"padding", good + "=="},
		{"standard base64 alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(good) + "+/"},
		{"space", " " + good},
		{"newline in signature", good[:len(good)-10] + "\n" + good[len(good)-10:]},
		{"CRLF in claims", head + "." + claims[:8] + "\r\n" + claims[8:] + "." + sig},
		{"non-ASCII", good + "é"},
		{"NUL", good + "\x00"},
		{"signature respelled", head + "." + claims + "." + respelled},
		{"bad base64 length in header", head + "A." + claims + "." + sig},
		{"bad base64 length in claims", head + "." + claims + "A." + sig},

		{"header not JSON", withHeader(`{"typ":"JWT","alg":"RS256","kid":"` + kid1 + `"`)},
		{"header an array", withHeader(`["RS256"]`)},
		{"header a string", withHeader(`"RS256"`)},
		{"header null", withHeader(`null`)},
		{"header empty", withHeader(``)},
		{"header trailing data", withHeader(hdr + `{}`)},
		{"header duplicate kid", withHeader(`{"alg":"RS256","kid":"` + kid1 + `","kid":"` + kid1 + `"}`)},
		{"header duplicate alg", withHeader(`{"alg":"RS256","alg":"none","kid":"` + kid1 + `"}`)},
		{"header crit", withHeader(`{"alg":"RS256","kid":"` + kid1 + `","crit":["exp"],"exp":1}`)},
		{"header too long", withHeader(`{"typ":"JWT","alg":"RS256","kid":"` + kid1 + `","x":"` + strings.Repeat("x", 400) + `"}`)},
		{"header with 17 members", withHeader(`{"typ":"JWT","alg":"RS256","kid":"` + kid1 + `","a":0,"b":0,"c":0,"d":0,"e":0,"f":0,"g":0,"h":0,"i":0,"j":0,"k":0,"l":0,"m":0,"n":0}`)},
		{"typ not a string", withHeader(`{"typ":1,"alg":"RS256","kid":"` + kid1 + `"}`)},

		{"alg none", enc(`{"typ":"JWT","alg":"none","kid":"`+kid1+`"}`) + "." + claims + "."},
		{"alg None", enc(`{"typ":"JWT","alg":"None","kid":"`+kid1+`"}`) + "." + claims + "."},
		{"alg NONE", enc(`{"typ":"JWT","alg":"NONE","kid":"`+kid1+`"}`) + "." + claims + "."},
		{"alg none, RS256 signature", withHeader(`{"typ":"JWT","alg":"none","kid":"` + kid1 + `"}`)},
		{"alg rs256", withHeader(`{"typ":"JWT","alg":"rs256","kid":"` + kid1 + `"}`)},
		{"alg RS256 and a space", withHeader(`{"typ":"JWT","alg":"RS256 ","kid":"` + kid1 + `"}`)},
		{"alg RS384", withHeader(`{"typ":"JWT","alg":"RS384","kid":"` + kid1 + `"}`)},
		{"alg PS256", withHeader(`{"typ":"JWT","alg":"PS256","kid":"` + kid1 + `"}`)},
		{"alg missing", withHeader(`{"typ":"JWT","kid":"` + kid1 + `"}`)},
		{"alg a number", withHeader(`{"typ":"JWT","alg":256,"kid":"` + kid1 + `"}`)},
		{"alg null", withHeader(`{"typ":"JWT","alg":null,"kid":"` + kid1 + `"}`)},
		{"alg an array", withHeader(`{"typ":"JWT","alg":["RS256"],"kid":"` + kid1 + `"}`)},
		{"HS256 with PKIX PEM", hs256(hsHeader, valid, pkix)},
		{"HS256 with trimmed PKIX PEM", hs256(hsHeader, valid, []byte(strings.TrimSpace(string(pkix))))},
		{"HS256 with PKCS #1 PEM", hs256(hsHeader, valid, pkcs1)},
		{"HS256 with trimmed PKCS #1 PEM", hs256(hsHeader, valid, []byte(strings.TrimSpace(string(pkcs1))))},
		{"HS256 with DER", hs256(hsHeader, valid, der)},
		{"HS256 with JWKS", hs256(hsHeader, valid, r.JWKS())},

		{"kid missing", withHeader(`{"typ":"JWT","alg":"RS256"}`)},
		{"kid unknown", withHeader(`{"typ":"JWT","alg":"RS256","kid":"nope"}`)},
		{"kid empty", withHeader(`{"typ":"JWT","alg":"RS256","kid":""}`)},
		{"kid a number", withHeader(`{"typ":"JWT","alg":"RS256","kid":1}`)},
		{"kid null", withHeader(`{"typ":"JWT","alg":"RS256","kid":null}`)},
		{"kid of another case", withHeader(`{"typ":"JWT","alg":"RS256","kid":"` + strings.ToLower(kid1) + `"}`)},
		{"kid in another member", withHeader(`{"typ":"JWT","alg":"RS256","KID":"` + kid1 + `"}`)},

		{"tampered claims", head + "." + enc(strings.Replace(dec(t, claims), `"sub":"42"`, `"sub":"1"`, 1)) + "." + sig},
		{"claims of another token", head + "." + enc(valid) + "." + sig},
		{"flipped signature bit", head + "." + claims + "." + base64.RawURLEncoding.EncodeToString(flipped)},
		{"signature truncated", good[:len(good)-4]},
		{"signature empty", head + "." + claims + "."},
		{"signature doubled", good + sig},
		{"signed by another key", signRaw(t, key2, hdr, valid)},

		{"claims not JSON", withClaims(`{"aud":"3"`)},
		{"claims an array", withClaims(`[]`)},
		{"claims a string", withClaims(`"x"`)},
		{"claims null", withClaims(`null`)},
		{"claims empty", withClaims(``)},
		{"claims trailing data", withClaims(valid + `{}`)},
		{"claims two objects", withClaims(valid + valid)},
		{"claims duplicate exp", withClaims(strings.Replace(valid, `"exp":`, `"exp":9999999999,"exp":`, 1))},
		{"claims duplicate scopes", withClaims(strings.Replace(valid, `"scopes":[]`, `"scopes":["a"],"scopes":[]`, 1))},
		{"claims with 17 members", withClaims(strings.Replace(valid, `{`, `{"a":0,"b":0,"c":0,"d":0,"e":0,"f":0,"g":0,"h":0,"i":0,"j":0,`, 1))},
		{"aud a number", withClaims(strings.Replace(valid, `"aud":"3"`, `"aud":3`, 1))},
		{"aud an array", withClaims(strings.Replace(valid, `"aud":"3"`, `"aud":["3"]`, 1))},
		{"aud null", withClaims(strings.Replace(valid, `"aud":"3"`, `"aud":null`, 1))},
		{"aud missing", withClaims(strings.Replace(valid, `"aud":"3",`, ``, 1))},
		{"jti a number", withClaims(strings.Replace(valid, `"jti":"abc"`, `"jti":1`, 1))},
		{"jti missing", withClaims(strings.Replace(valid, `"jti":"abc",`, ``, 1))},
		{"sub a number", withClaims(strings.Replace(valid, `"sub":"42"`, `"sub":42`, 1))},
		{"sub an object", withClaims(strings.Replace(valid, `"sub":"42"`, `"sub":{}`, 1))},
		{"sub missing", withClaims(strings.Replace(valid, `"sub":"42",`, ``, 1))},
		{"iat a string", withClaims(`{"aud":"3","jti":"abc","iat":"1773497366","exp":1773504566,"sub":"42","scopes":[]}`)},
		{"iat null", withClaims(`{"aud":"3","jti":"abc","iat":null,"exp":1773504566,"sub":"42","scopes":[]}`)},
		{"nbf a string", withClaims(`{"aud":"3","jti":"abc","nbf":"0","exp":1773504566,"sub":"42","scopes":[]}`)},
		{"nbf true", withClaims(`{"aud":"3","jti":"abc","nbf":true,"exp":1773504566,"sub":"42","scopes":[]}`)},
		{"exp a string", withClaims(`{"aud":"3","jti":"abc","exp":"1773504566","sub":"42","scopes":[]}`)},
		{"exp null", withClaims(`{"aud":"3","jti":"abc","exp":null,"sub":"42","scopes":[]}`)},
		{"exp missing", withClaims(`{"aud":"3","jti":"abc","iat":1773497366,"sub":"42","scopes":[]}`)},
		{"exp negative", withClaims(`{"aud":"3","jti":"abc","exp":-1,"sub":"42","scopes":[]}`)},
		{"exp after 9999", withClaims(`{"aud":"3","jti":"abc","exp":253402300800,"sub":"42","scopes":[]}`)},
		{"exp huge", withClaims(`{"aud":"3","jti":"abc","exp":1e300,"sub":"42","scopes":[]}`)},
		{"exp overflowing", withClaims(`{"aud":"3","jti":"abc","exp":99999999999999999999999,"sub":"42","scopes":[]}`)},
		{"scopes a string", withClaims(strings.Replace(valid, `"scopes":[]`, `"scopes":"*"`, 1))},
		{"scopes null", withClaims(strings.Replace(valid, `"scopes":[]`, `"scopes":null`, 1))},
		{"scopes with a number", withClaims(strings.Replace(valid, `"scopes":[]`, `"scopes":["a",1]`, 1))},
		{"scopes with null", withClaims(strings.Replace(valid, `"scopes":[]`, `"scopes":[null]`, 1))},
		{"scopes nested", withClaims(strings.Replace(valid, `"scopes":[]`, `"scopes":[["a"]]`, 1))},
		{"scopes missing", withClaims(strings.Replace(valid, `,"scopes":[]`, ``, 1))},

		{"expired now", withClaims(claimsJSON(-time.Hour, -time.Hour, 0))},
		{"expired", withClaims(claimsJSON(-time.Hour, -time.Hour, -time.Second))},
		{"expired by a microsecond", withClaims(`{"aud":"3","jti":"abc","exp":1773500965.999999,"sub":"42","scopes":[]}`)},
		{"not yet valid", withClaims(claimsJSON(0, time.Second, time.Hour))},
		{"not yet valid by a microsecond", withClaims(`{"aud":"3","jti":"abc","nbf":1773500966.000001,"exp":1773504566,"sub":"42","scopes":[]}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := r.Verify(tt.token, now)
			if err != jwt.ErrInvalid {
				t.Errorf("Verify(%.60q) = %+v, %v; want nil, ErrInvalid", tt.token, c, err)
			}
		})
	}
}

func TestErrInvalid(t *testing.T) {
	if got := latchkey.ErrorCode(jwt.ErrInvalid); got != latchkey.EUNAUTHENTICATED {
		t.Errorf("ErrorCode(ErrInvalid) = %q, want %q", got, latchkey.EUNAUTHENTICATED)
	}
	if !errors.Is(fmt.Errorf("authenticating: %w", jwt.ErrInvalid), jwt.ErrInvalid) {
		t.Error("a wrapped ErrInvalid is not ErrInvalid")
	}
}

func TestRotation(t *testing.T) {
	key1, key2 := privateKey(t, "key1-pkcs1.pem"), privateKey(t, "key2-pkcs8.pem")
	rotated := now.Add(-time.Hour)
	old := signingKey(t, key1, now.Add(-48*time.Hour), time.Time{})
	before := newKeyring(t, old)
	oldToken, oldKID, err := before.Sign(testClaims())
	if err != nil {
		t.Fatal(err)
	}

	retired := *old
	retired.RetiredAt = &rotated
	current := signingKey(t, key2, rotated, time.Time{})
	after := newKeyring(t, current, &retired) // newest first, as the store lists them
	newToken, newKID, err := after.Sign(testClaims())
	if err != nil {
		t.Fatal(err)
	}
	if newKID != current.ID || after.SigningKeyID() != current.ID {
		t.Errorf("Sign() kid = %s, SigningKeyID() = %s, want %s", newKID, after.SigningKeyID(), current.ID)
	}
	if oldKID == newKID {
		t.Fatalf("both keys have kid %s", oldKID)
	}
	for _, token := range []string{oldToken, newToken} {
		if _, err := after.Verify(token, now); err != nil {
			t.Errorf("after rotation, Verify() = %v", err)
		}
	}
	if _, err := before.Verify(newToken, now); err != jwt.ErrInvalid {
		t.Errorf("before rotation, Verify(new token) = %v, want ErrInvalid", err)
	}
	if before.Has(newKID) || !after.Has(newKID) || !after.Has(oldKID) {
		t.Errorf("Has(%s) before = %t, after = %t; Has(%s) after = %t", newKID, before.Has(newKID), after.Has(newKID), oldKID, after.Has(oldKID))
	}

	// A keyring of retired keys only verifies, and needs no secret.
	verifier, err := jwt.NewKeyring([]*latchkey.SigningKey{&retired}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifier.Verify(oldToken, now); err != nil {
		t.Errorf("retired keys only: Verify() = %v", err)
	}
	if token, _, err := verifier.Sign(testClaims()); err == nil {
		t.Errorf("retired keys only: Sign() = %s, want an error", token)
	}
	if got := verifier.SigningKeyID(); got != "" {
		t.Errorf("retired keys only: SigningKeyID() = %q, want \"\"", got)
	}
}

func TestEmptyKeyring(t *testing.T) {
	r, err := jwt.NewKeyring(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := fixture(t)
	token, _, err := good.Sign(testClaims())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Verify(token, now); err != jwt.ErrInvalid {
		t.Errorf("Verify() = %v, want ErrInvalid", err)
	}
	if got, want := string(r.JWKS()), `{"keys":[]}`; got != want {
		t.Errorf("JWKS() = %s, want %s", got, want)
	}
}

func TestKeyringConcurrent(t *testing.T) {
	r, _ := fixture(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			c := testClaims()
			c.Subject = fmt.Sprint(i)
			for range 10 {
				token, _, err := r.Sign(c)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := r.Verify(token, now)
				if err != nil || got.Subject != c.Subject {
					t.Errorf("Verify() = %+v, %v; want subject %s", got, err, c.Subject)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestKeyringPrintsNoSecret(t *testing.T) {
	r, priv := fixture(t)
	d := priv.D.String()
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(format, r); strings.Contains(got, d) || !strings.Contains(got, kid1) {
			t.Errorf("Sprintf(%q, keyring) = %s, want the kid and no private key", format, got)
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), d) {
		t.Errorf("json.Marshal(keyring) holds the private key")
	}
}

func TestKeyID(t *testing.T) {
	r, priv := fixture(t)
	good, _, err := r.Sign(testClaims())
	if err != nil {
		t.Fatal(err)
	}
	valid := claimsJSON(-time.Hour, -time.Hour, time.Hour)
	tests := []struct {
		name  string
		token string
		want  string
	}{
		{"ours", good, kid1},
		{"another order", signRaw(t, priv, `{"kid":"k2","alg":"RS256"}`, valid), "k2"},
		{"bad signature", enc(`{"alg":"RS256","kid":"k2"}`) + ".e30.AAAA", "k2"},
		{"no kid", signRaw(t, priv, `{"typ":"JWT","alg":"RS256"}`, valid), ""},
		{"alg none", enc(`{"alg":"none","kid":"k2"}`) + ".e30.", ""},
		{"crit", enc(`{"alg":"RS256","kid":"k2","crit":[]}`) + ".e30.", ""},
		{"two segments", enc(`{"alg":"RS256","kid":"k2"}`) + ".e30", ""},
		{"garbage", "garbage", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jwt.KeyID(tt.token); got != tt.want {
				t.Errorf("KeyID(%.40q) = %q, want %q", tt.token, got, tt.want)
			}
		})
	}
}

// TestVerifySignature: the signature alone, whatever the time; nothing
// this server did not sign.
func TestVerifySignature(t *testing.T) {
	r, _ := fixture(t)
	c := testClaims()
	c.ExpiresAt = now.Add(-time.Minute) // expired
	token, _, err := r.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Verify(token, now); err == nil {
		t.Fatal("Verify accepted an expired token")
	}
	got, err := r.VerifySignature(token)
	if err != nil || got.ID != c.ID {
		t.Fatalf("VerifySignature(expired) = %v, %v; want its claims", got, err)
	}
	head, payload, _ := strings.Cut(token, ".")
	payload, sig, _ := strings.Cut(payload, ".")
	flipped := "A" + sig[1:]
	if sig[0] == 'A' {
		flipped = "B" + sig[1:]
	}
	for name, bad := range map[string]string{
		"unsigned":          enc(`{"alg":"none","typ":"JWT"}`) + "." + payload + ".",
		"another payload":   head + "." + enc(`{"aud":"3","jti":"`+c.ID+`","sub":"1","exp":1}`) + "." + sig,
		"flipped signature": head + "." + payload + "." + flipped,
	} {
		if _, err := r.VerifySignature(bad); err == nil {
			t.Errorf("VerifySignature(%s) accepted it", name)
		}
	}
}
