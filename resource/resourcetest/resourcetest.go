// Package resourcetest is an authorization server for the tests of
// resource servers built with package resource: it publishes RFC 8414
// metadata, a JWKS and an introspection endpoint over TLS on a loopback
// address, and signs access tokens of the shape Latchkey gives a token for
// a resource (RFC 9068). It signs with keys of its own, so it stands in
// for Latchkey only in tests; run tests against a real Latchkey too.
//
// Like net/http/httptest, whose server it runs, it panics where a test
// helper cannot go on (an unknown algorithm), and its Issuer is closed
// with Close.
package resourcetest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/resource"
)

// Issuer is a running test authorization server. Its methods are safe
// for concurrent use.
type Issuer struct {
	// URL is the issuer identifier: https://127.0.0.1:PORT.
	URL string
	// ClientID and ClientSecret are the credentials its introspection
	// endpoint accepts.
	ClientID, ClientSecret string
	// Now is the clock that dates the tokens Token signs. NewIssuer sets
	// it to time.Now; set it before signing to use a test's clock.
	Now func() time.Time

	srv *httptest.Server

	mu             sync.Mutex
	keys           []*signingKey // the last one signs
	issued         map[string]bool
	revoked        map[string]bool
	cacheControl   string
	down           bool
	jwksFetches    int
	introspections int
}

type signingKey struct {
	kid  string
	alg  string
	priv crypto.Signer
}

// NewIssuer starts an Issuer with an RS256 signing key. Close it when
// done.
func NewIssuer() *Issuer {
	i := &Issuer{
		ClientID: "rs-client",
		// Characters that client_secret_basic form-encodes (RFC 6749
		// section 2.3.1), so that a client that does not is refused.
		ClientSecret: "a secret: 100% the resource server's, + more",
		Now:          time.Now,
		issued:       map[string]bool{},
		revoked:      map[string]bool{},
		cacheControl: "public, max-age=60",
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", i.metadata)
	mux.HandleFunc("GET /jwks.json", i.jwks)
	mux.HandleFunc("POST /introspect", i.introspect)
	i.srv = httptest.NewTLSServer(mux)
	i.URL = i.srv.URL
	i.RotateKey(resource.RS256)
	return i
}

// Close stops the Issuer.
func (i *Issuer) Close() { i.srv.Close() }

// Client returns an HTTP client that trusts the Issuer's certificate.
func (i *Issuer) Client() *http.Client { return i.srv.Client() }

// Config returns a resource.Config for the resource res: the Issuer, its
// client, and its introspection credentials.
func (i *Issuer) Config(res string) resource.Config {
	return resource.Config{
		Issuer:       i.URL,
		Resource:     res,
		ClientID:     i.ClientID,
		ClientSecret: i.ClientSecret,
		HTTPClient:   i.Client(),
	}
}

// RotateKey makes a new key of alg (resource.RS256, ES256 or EdDSA) the
// signing key, and returns its kid. The keys before stay in the JWKS.
func (i *Issuer) RotateKey(alg string) string {
	var priv crypto.Signer
	var err error
	switch alg {
	case resource.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case resource.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case resource.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		panic("resourcetest: RotateKey(" + alg + "): want RS256, ES256 or EdDSA")
	}
	if err != nil {
		panic(err)
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	k := &signingKey{kid: base64.RawURLEncoding.EncodeToString(b), alg: alg, priv: priv}
	i.mu.Lock()
	i.keys = append(i.keys, k)
	i.mu.Unlock()
	return k.kid
}

// RemoveKey takes the key kid out of the JWKS. It may not be the signing
// key.
func (i *Issuer) RemoveKey(kid string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	for n, k := range i.keys {
		if k.kid == kid {
			if n == len(i.keys)-1 {
				panic("resourcetest: RemoveKey(" + kid + "): it is the signing key")
			}
			i.keys = append(i.keys[:n], i.keys[n+1:]...)
			return
		}
	}
	panic("resourcetest: RemoveKey(" + kid + "): no such key")
}

// Token describes an access token for Issuer.Token to sign.
type Token struct {
	Audience  string   // aud: the resource, as registered
	Subject   string   // sub; "1" if empty
	ClientID  string   // client_id; "2" if empty
	Scopes    []string // written as scope (space-separated) and scopes (an array), as Latchkey does
	IssuedAt  time.Time
	ExpiresAt time.Time // IssuedAt plus an hour if zero
}

// Token signs an access token for tok with the signing key: the header
// {"alg", "kid", "typ": "at+jwt"}, the claims iss, aud, sub, client_id,
// jti, iat, nbf, exp, scope and scopes. A zero IssuedAt is Now.
func (i *Issuer) Token(tok Token) string {
	if tok.Subject == "" {
		tok.Subject = "1"
	}
	if tok.ClientID == "" {
		tok.ClientID = "2"
	}
	if tok.IssuedAt.IsZero() {
		tok.IssuedAt = i.Now()
	}
	if tok.ExpiresAt.IsZero() {
		tok.ExpiresAt = tok.IssuedAt.Add(time.Hour)
	}
	if tok.Scopes == nil {
		tok.Scopes = []string{}
	}
	jti := make([]byte, 20)
	_, _ = rand.Read(jti)
	return i.Sign(map[string]any{"typ": "at+jwt"}, map[string]any{
		"iss":       i.URL,
		"aud":       tok.Audience,
		"sub":       tok.Subject,
		"client_id": tok.ClientID,
		"jti":       fmt.Sprintf("%x", jti),
		"iat":       tok.IssuedAt.Unix(),
		"nbf":       tok.IssuedAt.Unix(),
		"exp":       tok.ExpiresAt.Unix(),
		"scope":     strings.Join(tok.Scopes, " "),
		"scopes":    tok.Scopes,
	})
}

// Sign signs claims under header with the signing key, by its algorithm,
// for tests of what a verifier refuses. The header has the key's alg and
// kid unless header sets them (to another kid, an alg that is not the
// key's, "none"...) or leaves them out (a nil value leaves a member out);
// the signature is made by the key's own algorithm whatever alg says.
func (i *Issuer) Sign(header, claims map[string]any) string {
	i.mu.Lock()
	k := i.keys[len(i.keys)-1]
	i.mu.Unlock()
	h := map[string]any{"alg": k.alg, "kid": k.kid}
	for name, v := range header {
		if v == nil {
			delete(h, name)
		} else {
			h[name] = v
		}
	}
	hb, err1 := json.Marshal(h)
	cb, err2 := json.Marshal(claims)
	if err1 != nil || err2 != nil {
		panic(fmt.Sprintf("resourcetest: Sign: %v %v", err1, err2))
	}
	b64 := base64.RawURLEncoding
	input := b64.EncodeToString(hb) + "." + b64.EncodeToString(cb)
	sig, err := sign(k, []byte(input))
	if err != nil {
		panic(err)
	}
	token := input + "." + b64.EncodeToString(sig)
	i.mu.Lock()
	i.issued[token] = true
	i.mu.Unlock()
	return token
}

// sign returns k's signature of input: PKCS #1 v1.5 with SHA-256, ECDSA
// with SHA-256 as R and S of 32 bytes each, or Ed25519.
func sign(k *signingKey, input []byte) ([]byte, error) {
	switch priv := k.priv.(type) {
	case *rsa.PrivateKey:
		sum := sha256.Sum256(input)
		return rsa.SignPKCS1v15(nil, priv, crypto.SHA256, sum[:])
	case *ecdsa.PrivateKey:
		sum := sha256.Sum256(input)
		r, s, err := ecdsa.Sign(rand.Reader, priv, sum[:])
		if err != nil {
			return nil, err
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig, nil
	case ed25519.PrivateKey:
		return ed25519.Sign(priv, input), nil
	}
	return nil, fmt.Errorf("resourcetest: a key of type %T", k.priv)
}

// Revoke makes the introspection endpoint answer that token is not
// active.
func (i *Issuer) Revoke(token string) {
	i.mu.Lock()
	i.revoked[token] = true
	i.mu.Unlock()
}

// SetJWKSCacheControl sets the Cache-Control of the JWKS's answers
// ("public, max-age=60" at first).
func (i *Issuer) SetJWKSCacheControl(v string) {
	i.mu.Lock()
	i.cacheControl = v
	i.mu.Unlock()
}

// SetDown makes the JWKS and the introspection endpoint answer 503 while
// down is true.
func (i *Issuer) SetDown(down bool) {
	i.mu.Lock()
	i.down = down
	i.mu.Unlock()
}

// JWKSFetches returns how many times the JWKS was fetched.
func (i *Issuer) JWKSFetches() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.jwksFetches
}

// Introspections returns how many introspection requests were answered.
func (i *Issuer) Introspections() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.introspections
}

func (i *Issuer) metadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"issuer":                 i.URL,
		"jwks_uri":               i.URL + "/jwks.json",
		"introspection_endpoint": i.URL + "/introspect",
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic"},
	})
}

func (i *Issuer) jwks(w http.ResponseWriter, r *http.Request) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.jwksFetches++
	if i.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	keys := []map[string]string{}
	b64 := base64.RawURLEncoding
	for _, k := range i.keys {
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
		keys = append(keys, j)
	}
	w.Header().Set("Content-Type", "application/json")
	if i.cacheControl != "" {
		w.Header().Set("Cache-Control", i.cacheControl)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
}

func (i *Issuer) introspect(w http.ResponseWriter, r *http.Request) {
	// client_secret_basic form-encodes both before joining them (RFC
	// 6749 section 2.3.1).
	id, secret, ok := r.BasicAuth()
	id, err1 := url.QueryUnescape(id)
	secret, err2 := url.QueryUnescape(secret)
	ok = ok && err1 == nil && err2 == nil
	i.mu.Lock()
	defer i.mu.Unlock()
	i.introspections++
	switch {
	case i.down:
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	case !ok || subtle.ConstantTimeCompare([]byte(id), []byte(i.ClientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(i.ClientSecret)) != 1:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
		return
	}
	token := r.PostFormValue("token")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]bool{"active": i.issued[token] && !i.revoked[token]})
}
