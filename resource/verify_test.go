package resource_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/resource"
	"github.com/latchkey/latchkey/resource/resourcetest"
)

// raw assembles a token from a header, claims and a signature, none of
// them checked.
func raw(header, claims any, sig []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	b := base64.RawURLEncoding
	return b.EncodeToString(h) + "." + b.EncodeToString(c) + "." + b.EncodeToString(sig)
}

func TestVerifyAccepts(t *testing.T) {
	for _, alg := range []string{resource.RS256, resource.ES256, resource.EdDSA} {
		t.Run(alg, func(t *testing.T) {
			f := setup(t, nil)
			f.iss.RotateKey(alg)
			f.clock.Advance(10 * time.Second) // the new key is fetched at once
			now := f.clock.Now()
			tok := f.token(func(tok *resourcetest.Token) { tok.Subject = "12"; tok.ClientID = "7" }, "mcp.read", "mcp.call")
			c, err := f.v.Verify(t.Context(), tok)
			if err != nil {
				t.Fatalf("Verify(a %s token) = %v", alg, err)
			}
			want := &resource.Claims{
				Issuer: f.iss.URL, Subject: "12", ClientID: "7", Audience: []string{res}, ID: c.ID,
				Scopes:   []string{"mcp.read", "mcp.call"},
				IssuedAt: now, NotBefore: now, ExpiresAt: now.Add(time.Hour),
			}
			if diff := cmp.Diff(want, c); diff != "" || len(c.ID) != 40 {
				t.Errorf("claims (-want +got):\n%s (jti %q)", diff, c.ID)
			}
		})
	}
}

// TestVerifyRefuses: each token is refused for the reasons named, and for
// no other of the reasons checked after the signature.
func TestVerifyRefuses(t *testing.T) {
	f := setup(t, nil)
	kid := f.iss.RotateKey(resource.RS256)
	f.clock.Advance(10 * time.Second) // the new key is fetched at once
	now := f.clock.Now().Unix()
	good := f.claims()
	sign := func(h map[string]any, c map[string]any) string { return f.iss.Sign(h, c) }
	at := map[string]any{"typ": "at+jwt"}
	valid := sign(at, good)
	parts := strings.Split(valid, ".")
	jwks := func() []byte {
		resp, err := f.iss.Client().Get(f.iss.URL + "/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return b
	}()
	hs256 := func() string {
		// The classic confusion: an HMAC keyed with what the verifier
		// publishes.
		h, _ := json.Marshal(map[string]any{"alg": "HS256", "kid": kid, "typ": "at+jwt"})
		c, _ := json.Marshal(good)
		b := base64.RawURLEncoding
		input := b.EncodeToString(h) + "." + b.EncodeToString(c)
		m := hmac.New(sha256.New, jwks)
		m.Write([]byte(input))
		return input + "." + b.EncodeToString(m.Sum(nil))
	}()
	post := []error{resource.ErrType, resource.ErrExpired, resource.ErrNotYetValid, resource.ErrIssuer, resource.ErrAudience}

	for _, tc := range []struct {
		name  string
		token string
		want  []error
	}{
		{"empty", "", []error{resource.ErrMalformed}},
		{"one segment", "abc", []error{resource.ErrMalformed}},
		{"two segments", parts[0] + "." + parts[1], []error{resource.ErrMalformed}},
		{"four segments", valid + ".x", []error{resource.ErrMalformed}},
		{"a space", parts[0] + ". " + parts[1] + "." + parts[2], []error{resource.ErrMalformed}},
		{"padding", parts[0] + "=." + parts[1] + "." + parts[2], []error{resource.ErrMalformed}},
		{"too long", raw(map[string]any{"alg": "RS256", "kid": kid}, with(good, "pad", strings.Repeat("x", 16<<10)), nil), []error{resource.ErrMalformed}},
		{"header not JSON", "bm90IGpzb24." + parts[1] + "." + parts[2], []error{resource.ErrMalformed}},
		{"no kid", sign(map[string]any{"typ": "at+jwt", "kid": nil}, good), []error{resource.ErrMalformed}},
		{"no alg", sign(map[string]any{"typ": "at+jwt", "alg": nil}, good), []error{resource.ErrMalformed}},
		{"crit", sign(map[string]any{"typ": "at+jwt", "crit": []string{"exp"}, "exp": 1}, good), []error{resource.ErrMalformed}},
		{"cty", sign(map[string]any{"typ": "at+jwt", "cty": "JWT"}, good), []error{resource.ErrMalformed}},
		{"alg none, an unknown kid", raw(map[string]any{"alg": "none", "kid": "another", "typ": "at+jwt"}, good, nil), []error{resource.ErrAlgorithm}},
		{"alg none", raw(map[string]any{"alg": "none", "kid": kid, "typ": "at+jwt"}, good, nil), []error{resource.ErrAlgorithm}},
		{"alg HS256 keyed with the JWKS", hs256, []error{resource.ErrAlgorithm}},
		{"alg PS256", sign(map[string]any{"typ": "at+jwt", "alg": "PS256"}, good), []error{resource.ErrAlgorithm}},
		{"alg ES256 on an RSA key", sign(map[string]any{"typ": "at+jwt", "alg": "ES256"}, good), []error{resource.ErrAlgorithm}},
		{"alg rs256", sign(map[string]any{"typ": "at+jwt", "alg": "rs256"}, good), []error{resource.ErrAlgorithm}},
		{"unknown kid", sign(map[string]any{"typ": "at+jwt", "kid": "another"}, good), []error{resource.ErrUnknownKey}},
		{"claims changed", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+f.iss.URL+`","aud":"`+res+`","sub":"1","client_id":"2","exp":99999999999}`)) + "." + parts[2], []error{resource.ErrSignature}},
		{"signature cut", parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-4], []error{resource.ErrSignature}},
		{"no signature", parts[0] + "." + parts[1] + ".", []error{resource.ErrSignature}},
		{"claims not JSON", sign(at, nil), []error{resource.ErrMalformed}},
		{"no iss", sign(at, with(good, "iss", nil)), []error{resource.ErrIssuer}},
		{"no aud", sign(at, with(good, "aud", nil)), []error{resource.ErrAudience}},
		{"no sub", sign(at, with(good, "sub", nil)), []error{resource.ErrMalformed}},
		{"no client_id", sign(at, with(good, "client_id", nil)), []error{resource.ErrMalformed}},
		{"no exp", sign(at, with(good, "exp", nil)), []error{resource.ErrMalformed}},
		{"aud a number", sign(at, with(good, "aud", 5)), []error{resource.ErrMalformed}},
		{"exp a string", sign(at, with(good, "exp", "soon")), []error{resource.ErrMalformed}},
		{"exp negative", sign(at, with(good, "exp", -1)), []error{resource.ErrMalformed}},
		{"scope an array", sign(at, with(good, "scope", []string{"a"})), []error{resource.ErrMalformed}},
		{"typ JWT", sign(map[string]any{"typ": "JWT"}, good), []error{resource.ErrType}},
		{"no typ", sign(nil, good), []error{resource.ErrType}},
		{"typ at+jwt+x", sign(map[string]any{"typ": "at+jwt+x"}, good), []error{resource.ErrType}},
		{"expired", sign(at, with(good, "exp", now-30)), []error{resource.ErrExpired}},
		{"nbf ahead", sign(at, with(good, "nbf", now+31)), []error{resource.ErrNotYetValid}},
		{"iat ahead", sign(at, with(good, "iat", now+31)), []error{resource.ErrNotYetValid}},
		{"another issuer", sign(at, with(good, "iss", "https://evil.example")), []error{resource.ErrIssuer}},
		{"the issuer with a slash", sign(at, with(good, "iss", f.iss.URL+"/")), []error{resource.ErrIssuer}},
		{"another resource", sign(at, with(good, "aud", "https://mcp.example.com/other")), []error{resource.ErrAudience}},
		{"a resource beneath", sign(at, with(good, "aud", res+"/x")), []error{resource.ErrAudience}},
		{"another host", sign(at, with(good, "aud", "https://mcp.example.org/mcp")), []error{resource.ErrAudience}},
		{"http", sign(at, with(good, "aud", "http://mcp.example.com/mcp")), []error{resource.ErrAudience}},
		{"a client id", sign(at, with(good, "aud", "2")), []error{resource.ErrAudience}},
		{"no audience", sign(at, with(good, "aud", []string{})), []error{resource.ErrAudience}},
		{"a personal token's claims", sign(map[string]any{"typ": "JWT"}, with(good, "iss", nil, "aud", "1", "client_id", nil)), []error{resource.ErrMalformed, resource.ErrType, resource.ErrIssuer, resource.ErrAudience}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := f.v.Verify(t.Context(), tc.token)
			if err == nil {
				t.Fatalf("Verify accepted it: %+v", c)
			}
			if !errors.Is(err, resource.ErrInvalidToken) || errors.Is(err, resource.ErrUnavailable) {
				t.Errorf("Verify = %v, want an ErrInvalidToken", err)
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("Verify = %v, want %v among its reasons", err, w)
				}
			}
			for _, p := range post {
				if errors.Is(err, p) && !containsErr(tc.want, p) {
					t.Errorf("Verify = %v, also %v", err, p)
				}
			}
		})
	}
}

func containsErr(errs []error, e error) bool {
	for _, x := range errs {
		if x == e {
			return true
		}
	}
	return false
}

// TestVerifyLiberal: what the RFCs allow is accepted.
func TestVerifyLiberal(t *testing.T) {
	f := setup(t, nil)
	now := f.clock.Now().Unix()
	good := f.claims()
	for _, tc := range []struct {
		name   string
		header map[string]any
		claims map[string]any
		scopes []string
	}{
		{"typ application/at+jwt", map[string]any{"typ": "application/at+jwt"}, good, []string{"mcp.read"}},
		{"typ in capitals", map[string]any{"typ": "AT+JWT"}, good, []string{"mcp.read"}},
		{"aud an array", nil, with(good, "aud", []string{"https://other.example", res}), []string{"mcp.read"}},
		{"aud in another spelling", nil, with(good, "aud", "HTTPS://MCP.Example.COM:443/mcp/"), []string{"mcp.read"}},
		{"aud with an unreserved character encoded", nil, with(good, "aud", "https://mcp.example.com/%6Dcp"), []string{"mcp.read"}},
		{"scopes only", nil, with(good, "scope", nil, "scopes", []string{"a", "b"}), []string{"a", "b"}},
		{"scope before scopes", nil, with(good, "scope", "a  b", "scopes", []string{"c"}), []string{"a", "b"}},
		{"neither", nil, with(good, "scope", nil), []string{}},
		{"no iat, nbf or jti", nil, with(good, "iat", nil, "nbf", nil, "jti", nil), []string{"mcp.read"}},
		{"fractional dates", nil, with(good, "exp", json.Number("1772370000.5")), []string{"mcp.read"}},
		{"unknown members", map[string]any{"jku": "https://evil.example/jwks", "x5u": "https://evil.example"}, with(good, "extra", map[string]any{"a": []int{1}}), []string{"mcp.read"}},
		{"within the leeway", nil, with(good, "exp", now-29, "nbf", now+30, "iat", now+30), []string{"mcp.read"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]any{"typ": "at+jwt"}
			for k, v := range tc.header {
				h[k] = v
			}
			c, err := f.v.Verify(t.Context(), f.iss.Sign(h, tc.claims))
			if err != nil {
				t.Fatalf("Verify = %v", err)
			}
			if !cmp.Equal(c.Scopes, tc.scopes) {
				t.Errorf("Scopes = %q, want %q", c.Scopes, tc.scopes)
			}
		})
	}
}

// TestLeeway: the leeway is Config.Leeway; negative means none.
func TestLeeway(t *testing.T) {
	for _, tc := range []struct {
		leeway time.Duration
		late   int64 // seconds past exp
		ok     bool
	}{
		{0, 29, true}, {0, 30, false},
		{5 * time.Second, 4, true}, {5 * time.Second, 5, false},
		{-1, 0, false}, {-1, -1, true},
	} {
		f := setup(t, func(c *resource.Config) { c.Leeway = tc.leeway })
		exp := f.clock.Now().Unix() - tc.late
		_, err := f.v.Verify(t.Context(), f.iss.Sign(map[string]any{"typ": "at+jwt"}, with(f.claims(), "exp", exp)))
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, resource.ErrExpired) {
			t.Errorf("Leeway %v, %ds past exp: Verify = %v, want accepted %v", tc.leeway, tc.late, err, tc.ok)
		}
	}
}

func TestClaimsHasScope(t *testing.T) {
	for _, tc := range []struct {
		scopes []string
		want   []string
		ok     bool
	}{
		{[]string{"a", "b"}, []string{"a"}, true},
		{[]string{"a", "b"}, []string{"a", "b"}, true},
		{[]string{"a"}, []string{"a", "b"}, false},
		{[]string{"*"}, []string{"a", "b"}, true},
		{[]string{}, []string{"a"}, false},
		{[]string{}, nil, true},
		{[]string{"A"}, []string{"a"}, false},
	} {
		c := &resource.Claims{Scopes: tc.scopes}
		if got := c.HasScopes(tc.want...); got != tc.ok {
			t.Errorf("Claims{Scopes: %q}.HasScopes(%q) = %v, want %v", tc.scopes, tc.want, got, tc.ok)
		}
	}
}

// TestStatusOfEveryReason: the middleware answers every refusal 401, and
// an unreachable authorization server 503.
func TestStatusOfEveryReason(t *testing.T) {
	f := setup(t, nil)
	h := f.v.Require()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, tok := range []string{"x", f.iss.Sign(map[string]any{"typ": "JWT"}, f.claims())} {
		if got := serve(h, tok).Code; got != http.StatusUnauthorized {
			t.Errorf("a refused token: %d, want 401", got)
		}
	}
}
