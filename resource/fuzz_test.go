package resource

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/jsonread"
	"github.com/latchkey/latchkey/internal/jws"
)

// fuzzNow is the clock of the fuzz targets: fixed, so that no refetch is
// ever due.
var fuzzNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	fuzzIssuer   = "https://auth.example.com"
	fuzzResource = "https://mcp.example.com/mcp"
)

// fuzzKey is a key the fuzz targets sign with: the same on every run, so
// that seeds written to testdata stay valid.
type fuzzKey struct {
	kid  string
	alg  string
	priv crypto.Signer
}

func fuzzKeys(t testing.TB) []fuzzKey {
	t.Helper()
	data, err := os.ReadFile("testdata/rsa2048.pem")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	rk, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return []fuzzKey{
		{"rsa", RS256, rk.(*rsa.PrivateKey)},
		{"ec", ES256, ek},
		{"ed", EdDSA, ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))},
	}
}

// jwksOf is the JWKS of keys.
func jwksOf(keys []fuzzKey) []byte {
	b64 := base64.RawURLEncoding
	var set []map[string]string
	for _, k := range keys {
		j := map[string]string{"kid": k.kid, "alg": k.alg, "use": "sig"}
		switch pub := k.priv.Public().(type) {
		case *rsa.PublicKey:
			j["kty"], j["n"], j["e"] = "RSA", b64.EncodeToString(pub.N.Bytes()), b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
		case *ecdsa.PublicKey:
			p, _ := pub.Bytes()
			j["kty"], j["crv"], j["x"], j["y"] = "EC", "P-256", b64.EncodeToString(p[1:33]), b64.EncodeToString(p[33:])
		case ed25519.PublicKey:
			j["kty"], j["crv"], j["x"] = "OKP", "Ed25519", b64.EncodeToString(pub)
		}
		set = append(set, j)
	}
	b, _ := json.Marshal(map[string]any{"keys": set})
	return b
}

// signWith signs header and claims (JSON texts) with k.
func signWith(t testing.TB, k fuzzKey, header, claims string) string {
	t.Helper()
	b64 := base64.RawURLEncoding
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(claims))
	var sig []byte
	var err error
	sum := sha256.Sum256([]byte(input))
	switch priv := k.priv.(type) {
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(nil, priv, crypto.SHA256, sum[:])
	case *ecdsa.PrivateKey:
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, priv, sum[:])
		if err == nil {
			sig = make([]byte, 64)
			r.FillBytes(sig[:32])
			s.FillBytes(sig[32:])
		}
	case ed25519.PrivateKey:
		sig = ed25519.Sign(priv, []byte(input))
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64.EncodeToString(sig)
}

// fuzzVerifier is a Verifier holding the JWKS of keys, which never
// fetches: its clock stands still, within 10 seconds of the last fetch.
func fuzzVerifier(t testing.TB, keys []fuzzKey) *Verifier {
	t.Helper()
	v, err := newVerifier(Config{Issuer: fuzzIssuer, Resource: fuzzResource, Now: func() time.Time { return fuzzNow }})
	if err != nil {
		t.Fatal(err)
	}
	set, err := parseJWKS(jwksOf(keys))
	if err != nil || len(set) != len(keys) {
		t.Fatalf("parseJWKS = %d keys, %v", len(set), err)
	}
	v.keys.set, v.keys.fresh, v.keys.attempted = set, fuzzNow.Add(time.Hour), fuzzNow
	v.keys.get = func(context.Context, string) ([]byte, http.Header, error) {
		return nil, nil, errors.New("the fuzz targets fetch nothing")
	}
	return v
}

// FuzzVerify: Verify never panics; it refuses with an ErrInvalidToken
// only; and what it accepts is what was signed: a token's header and
// claims segments, byte for byte, that a key signed.
func FuzzVerify(f *testing.F) {
	keys := fuzzKeys(f)
	v := fuzzVerifier(f, keys)
	now := fuzzNow.Unix()
	claims := `{"iss":"` + fuzzIssuer + `","aud":"` + fuzzResource + `","sub":"1","client_id":"2","jti":"j","iat":` +
		itoa(now) + `,"nbf":` + itoa(now) + `,"exp":` + itoa(now+3600) + `,"scope":"a b","scopes":["a","b"]}`
	signed := map[string]bool{}
	for _, k := range keys {
		for _, tc := range []struct{ header, claims string }{
			{`{"alg":"` + k.alg + `","kid":"` + k.kid + `","typ":"at+jwt"}`, claims},
			{`{"typ":"application/at+jwt","kid":"` + k.kid + `","alg":"` + k.alg + `"}`, strings.Replace(claims, `"aud":"`+fuzzResource+`"`, `"aud":["x","`+fuzzResource+`/"]`, 1)},
			{`{"alg":"` + k.alg + `","kid":"` + k.kid + `","typ":"JWT"}`, claims},
			{`{"alg":"` + k.alg + `","kid":"` + k.kid + `","typ":"at+jwt"}`, strings.Replace(claims, `"exp":`, `"exp":1,"x":`, 1)},
		} {
			tok := signWith(f, k, tc.header, tc.claims)
			f.Add(tok)
			head, payload, _, _ := split(tok)
			signed[head+"."+payload] = true
		}
	}
	f.Add(`eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.`)
	f.Add(`a.b.c`)
	f.Add(``)
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(t.Context(), token)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrUnavailable) {
				t.Fatalf("Verify(%q) = %v, not an ErrInvalidToken", token, err)
			}
			return
		}
		head, payload, _, _ := split(token)
		if !signed[head+"."+payload] {
			t.Fatalf("Verify accepted %q, which no key signed: %+v", token, c)
		}
	})
}

func itoa(n int64) string { return big.NewInt(n).String() }

// FuzzParseJWKS: parseJWKS never panics; what it accepts is JSON; every
// key it keeps has a kid and is a key of the one algorithm it verifies,
// of a size in bounds.
func FuzzParseJWKS(f *testing.F) {
	f.Add(jwksOf(fuzzKeys(f)))
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h","alg":"HS256"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"z","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"AA","y":"AA"},{"kty":"RSA","kid":"b","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"a","kid":"b"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := parseJWKS(data)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("parseJWKS accepted invalid JSON %q", data)
		}
		for kid, k := range set {
			if kid == "" || k.kid != kid {
				t.Fatalf("a key kept under kid %q: %+v", kid, k)
			}
			switch k.Alg {
			case RS256:
				if bits := k.RSA.N.BitLen(); bits < minRSABits || bits > maxRSABits || k.SigSize != k.RSA.Size() || k.RSA.E < 3 || k.RSA.E%2 == 0 {
					t.Fatalf("an RSA key of %d bits, e %d", bits, k.RSA.E)
				}
			case ES256:
				if k.EC.Curve != elliptic.P256() || k.SigSize != 64 {
					t.Fatal("an EC key not on P-256")
				}
			case EdDSA:
				if len(k.Ed) != ed25519.PublicKeySize || k.SigSize != 64 {
					t.Fatal("an Ed25519 key of the wrong size")
				}
			default:
				t.Fatalf("a key of alg %q", k.Alg)
			}
		}
	})
}

// FuzzDecodeClaims: the claims decoder never panics, what it accepts
// encoding/json reads alike, and an exp it reads is in range.
func FuzzDecodeClaims(f *testing.F) {
	f.Add([]byte(`{"iss":"i","aud":"a","sub":"1","client_id":"2","exp":1,"scope":"x y"}`))
	f.Add([]byte(`{"iss":"i","aud":["a","b"],"sub":"1","client_id":"2","exp":1.5e9,"scopes":["x"],"nbf":0,"iat":253402300799}`))
	f.Add([]byte(`{"iss":"i","iss":"j","aud":"a","sub":"1","client_id":"2","exp":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, ok := decodeClaims(data)
		if !ok {
			return
		}
		// Into a map: claim names are case-sensitive (RFC 7519 section
		// 4), which encoding/json's struct fields are not.
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("decodeClaims accepted %q, which encoding/json refuses: %v", data, err)
		}
		str := func(k string) string { s, _ := m[k].(string); return s }
		if str("iss") != c.iss || str("sub") != c.sub || str("client_id") != c.clientID || str("scope") != c.scope {
			t.Fatalf("decodeClaims(%q) = %+v, encoding/json %v", data, c, m)
		}
		if _, ok := m["exp"]; ok != c.hasExp {
			t.Fatalf("decodeClaims(%q): exp present %v, encoding/json %v", data, c.hasExp, m)
		}
		if c.hasExp && (c.exp.Unix() < 0 || c.exp.Unix() > jsonread.MaxNumericDate) {
			t.Fatalf("exp %v out of range", c.exp)
		}
	})
}

// FuzzNormalizeURI: NormalizeURI never panics; its result is a URL that
// parses, is its own normal form, and has no trailing slash.
func FuzzNormalizeURI(f *testing.F) {
	for _, s := range []string{
		"https://mcp.example.com/mcp", "HTTPS://MCP.Example.COM:443/mcp/", "http://[::1]:80/a%7e%2f", "https://x/%zz",
		"https://x/a/../b", "https://x:/", "https://[fe80::1%25eth0]/", "https://x?q", "https://x#f",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeURI(s)
		if err != nil {
			return
		}
		if _, err := url.Parse(n); err != nil {
			t.Fatalf("NormalizeURI(%q) = %q, which does not parse: %v", s, n, err)
		}
		if n2, err := NormalizeURI(n); err != nil || n2 != n {
			t.Fatalf("NormalizeURI(%q) = %q, whose normal form is %q, %v", s, n, n2, err)
		}
		if strings.HasSuffix(n, "/") {
			t.Fatalf("NormalizeURI(%q) = %q ends with a slash", s, n)
		}
	})
}

// FuzzBearerToken: the Authorization header's reader never panics, and a
// token it finds reads back the same from "Bearer " and it.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  a.b.c", "Basic x", "Bearer", "Bearer ", "BEARER x y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		tok, found := bearerToken(http.Header{"Authorization": {value}})
		if found != tokenFound {
			return
		}
		if strings.HasPrefix(tok, " ") {
			t.Fatalf("bearerToken(%q) = %q begins with a space", value, tok)
		}
		if again, f2 := bearerToken(http.Header{"Authorization": {"Bearer " + tok}}); f2 != tokenFound || again != tok {
			t.Fatalf("bearerToken(%q) = %q, but of Bearer and it: %q", value, tok, again)
		}
	})
}

// FuzzParseIntrospection: the introspection answer's reader never
// panics, and says active only when the answer is a JSON object whose
// active is true.
func FuzzParseIntrospection(f *testing.F) {
	for _, s := range []string{`{"active":true}`, `{"active":false}`, `{"active":"true"}`, `{}`, `{"active":true,"active":false}`, `null`, `{"active":true,"scope":"a","exp":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		active, err := parseIntrospection(body)
		if err != nil || !active {
			return
		}
		var m map[string]any
		if json.Unmarshal(body, &m) != nil || m["active"] != true {
			t.Fatalf("parseIntrospection(%q) = active, encoding/json reads %v", body, m)
		}
	})
}

// split is jws.Split with Verify's bounds.
func split(token string) (head, payload, sig string, ok bool) {
	return jws.Split(token, maxTokenLength, maxHeaderLength)
}
