package resource_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/latchkeytest"
	"github.com/latchkey/latchkey/resource"
)

func TestMain(m *testing.M) { os.Exit(latchkeytest.Main(m)) }

// jwtPart decodes the JSON of a token's header (0) or claims (1).
func jwtPart(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// onLatchkey is a Verifier against a real Latchkey ("latchkey serve"
// started from this module), with introspection credentials of a client
// registered at its command line, on a clock the test moves.
type onLatchkey struct {
	lk    *latchkeytest.Server
	clock *clock
	v     *resource.Verifier
	cfg   resource.Config
}

func startLatchkey(t *testing.T) *onLatchkey {
	t.Helper()
	lk := latchkeytest.Start(t)
	lines := strings.Fields(lk.CLI(t, "client", "create", "--name", "The resource server", "--redirect-uri", "http://127.0.0.1:9/unused"))
	if len(lines) != 2 {
		t.Fatalf("client create printed %q, want the id and the secret", lines)
	}
	c := newClock()
	c.t = time.Now() // Latchkey dates its tokens by the wall clock
	cfg := resource.Config{
		Issuer:           lk.URL,
		Resource:         "http://127.0.0.1:9/mcp",
		InsecureLoopback: true,
		ClientID:         lines[0],
		ClientSecret:     lines[1],
		Now:              c.Now,
	}
	v, err := resource.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New against latchkey serve: %v", err)
	}
	return &onLatchkey{lk: lk, clock: c, v: v, cfg: cfg}
}

// personalToken is a personal token of the administrator: a JWT Latchkey
// signs today for any resource server that asks, with typ JWT, no iss,
// and aud the personal access client's id.
func (o *onLatchkey) personalToken(t *testing.T) string {
	t.Helper()
	return o.lk.CLI(t, "token", "create", "--user", "admin", "--name", "for the resource server")
}

// TestLatchkeyDiscovery: New reads Latchkey's RFC 8414 metadata and JWKS;
// an issuer spelled otherwise than Latchkey names itself is refused, and
// so is http without InsecureLoopback.
func TestLatchkeyDiscovery(t *testing.T) {
	o := startLatchkey(t)
	for name, mod := range map[string]func(*resource.Config){
		"the issuer with a trailing slash": func(c *resource.Config) { c.Issuer += "/" },
		"http without InsecureLoopback":    func(c *resource.Config) { c.InsecureLoopback = false },
		"credentials Latchkey does not know": func(c *resource.Config) {
			// Discovery does not check them; the first introspection does.
			c.ClientSecret = "wrong"
		},
	} {
		cfg := o.cfg
		mod(&cfg)
		v, err := resource.New(t.Context(), cfg)
		if name == "credentials Latchkey does not know" {
			if err != nil {
				t.Fatalf("%s: New = %v", name, err)
			}
			if _, err := v.Active(t.Context(), o.personalToken(t), o.clock.Now().Add(time.Hour)); !errors.Is(err, resource.ErrUnavailable) || !strings.Contains(err.Error(), "401") {
				t.Errorf("%s: introspection = %v, want ErrUnavailable for Latchkey's 401", name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	w := serve(o.v.MetadataHandler(), "")
	var doc struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || doc.Resource != "http://127.0.0.1:9/mcp" || len(doc.AuthorizationServers) != 1 || doc.AuthorizationServers[0] != o.lk.URL {
		t.Errorf("the RFC 9728 document = %s, want the resource and Latchkey as its authorization server", w.Body)
	}
}

// TestLatchkeyKeys: tokens Latchkey signs verify against its JWKS, by
// each algorithm, across rotations (the new key fetched when a token
// names it, at most every 10 seconds; the old keys kept); and Latchkey's
// personal tokens, which are not access tokens for this resource, are
// refused for exactly that: typ, iss and aud (and client_id missing), the
// reasons found only once the signature has verified.
func TestLatchkeyKeys(t *testing.T) {
	o := startLatchkey(t)
	notForUs := func(t *testing.T, token string) {
		t.Helper()
		_, err := o.v.Verify(t.Context(), token)
		for _, want := range []error{resource.ErrType, resource.ErrIssuer, resource.ErrAudience, resource.ErrMalformed} {
			if !errors.Is(err, want) {
				t.Errorf("Verify(a personal token) = %v, want %v among the reasons", err, want)
			}
		}
		for _, not := range []error{resource.ErrSignature, resource.ErrUnknownKey, resource.ErrAlgorithm, resource.ErrExpired, resource.ErrUnavailable} {
			if errors.Is(err, not) {
				t.Errorf("Verify(a personal token) = %v: its signature should have verified", err)
			}
		}
	}
	first := o.personalToken(t)
	notForUs(t, first)

	parts := strings.Split(first, ".")
	sig := []byte(parts[2])
	// Another base64url character in its place: the signature still
	// decodes, to other bytes. (Flipping bits of the character made a
	// '-' or '_' into one that is not base64url: malformed, not a bad
	// signature.)
	if sig[10] == 'A' {
		sig[10] = 'B'
	} else {
		sig[10] = 'A'
	}
	if _, err := o.v.Verify(t.Context(), parts[0]+"."+parts[1]+"."+string(sig)); !errors.Is(err, resource.ErrSignature) {
		t.Errorf("a personal token with its signature changed: Verify = %v, want ErrSignature", err)
	}

	h := o.v.Require()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("the handler ran") }))
	if w := serve(h, first); w.Code != 401 || w.Header().Get("WWW-Authenticate") != `Bearer error="invalid_token", resource_metadata="http://127.0.0.1:9/.well-known/oauth-protected-resource/mcp"` {
		t.Errorf("a personal token at the middleware: %d %q, want 401 invalid_token", w.Code, w.Header().Get("WWW-Authenticate"))
	}

	kids := map[string]bool{jwtPart(t, first, 0)["kid"].(string): true}
	tokens := []string{first}
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		kid := o.lk.CLI(t, "keys", "rotate", "--alg", alg)
		tok := o.personalToken(t)
		if h := jwtPart(t, tok, 0); h["kid"] != kid || h["alg"] != alg || kids[kid] {
			t.Fatalf("after keys rotate --alg %s, a token's header is %v, want the new kid %s", alg, h, kid)
		}
		kids[kid] = true
		if _, err := o.v.Verify(t.Context(), tok); !errors.Is(err, resource.ErrUnknownKey) {
			t.Errorf("%s: within 10s of the last fetch, the new kid: Verify = %v, want ErrUnknownKey", alg, err)
		}
		o.clock.Advance(10 * time.Second)
		notForUs(t, tok)
		tokens = append(tokens, tok)
	}
	for _, tok := range tokens {
		notForUs(t, tok)
	}
}

// TestLatchkeyRevocation: a token revoked at Latchkey ("latchkey token
// revoke") is still taken as active while the answer before is kept
// (ActiveTTL, 30 seconds), and not from then on. Verify asks the same way
// once a token's signature and claims are good; Latchkey signs no token
// for a resource yet, so the question is asked directly here.
func TestLatchkeyRevocation(t *testing.T) {
	o := startLatchkey(t)
	tok := o.personalToken(t)
	exp := o.clock.Now().Add(time.Hour)
	active, err := o.v.Active(t.Context(), tok, exp)
	if err != nil || !active {
		t.Fatalf("a new token: Active = %v, %v; want true", active, err)
	}
	o.lk.CLI(t, "token", "revoke", jwtPart(t, tok, 1)["jti"].(string))
	o.clock.Advance(29 * time.Second)
	if active, err := o.v.Active(t.Context(), tok, exp); err != nil || !active {
		t.Errorf("revoked, 29s after the last answer: Active = %v, %v; want the kept true", active, err)
	}
	o.clock.Advance(time.Second)
	if active, err := o.v.Active(t.Context(), tok, exp); err != nil || active {
		t.Errorf("revoked, 30s after the last answer: Active = %v, %v; want false", active, err)
	}

	// Without the window: a Verifier that keeps no answer sees the
	// revocation of another token at once.
	cfg := o.cfg
	cfg.ActiveTTL = -1
	v, err := resource.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	other := o.personalToken(t)
	if active, err := v.Active(t.Context(), other, exp); err != nil || !active {
		t.Fatalf("another token: Active = %v, %v; want true", active, err)
	}
	o.lk.CLI(t, "token", "revoke", jwtPart(t, other, 1)["jti"].(string))
	if active, err := v.Active(t.Context(), other, exp); err != nil || active {
		t.Errorf("revoked, ActiveTTL -1: Active = %v, %v; want false at once", active, err)
	}
}
