// Package jwt signs and verifies Latchkey's tokens: JSON Web Tokens whose
// header and claims are those of Laravel Passport, so that tools that read
// Passport's tokens read ours. They are signed with RS256, as Passport's,
// unless the operator chose ES256 or EdDSA for the signing key.
//
// It also makes and keeps the keys: GenerateKey and the PEM parsers make a
// key (RSA, ECDSA P-256 or Ed25519, whose kind fixes its algorithm),
// NewSigningKey turns it into a latchkey.SigningKey whose private part is
// sealed with the server's secret by a Sealer, and a Keyring built from the
// stored keys signs with the current key, verifies with every key, each by
// its own algorithm, and publishes the public keys as a JWKS.
//
// Verification answers one error, ErrInvalid, whatever the reason, so that
// a caller answers one 401 and gives no hint of which check failed.
package jwt

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/latchkey/latchkey"

	"github.com/latchkey/latchkey/internal/jsonread"
)

// MaxTokenLength is the length in bytes of the longest token Verify reads.
const MaxTokenLength = 8 << 10

// ErrInvalid is the error of every token that Verify refuses. It carries
// the code EUNAUTHENTICATED, so that it becomes a 401 even if a caller
// hands it on as is.
var ErrInvalid = &latchkey.Error{Code: latchkey.EUNAUTHENTICATED, Message: "Unauthenticated."}

// Claims are the claims of a token: those of a Laravel Passport access
// token, or, for a token of Type TypeAccessToken, those of RFC 9068's
// JWT profile for access tokens with Passport's scopes besides.
type Claims struct {
	// Type is the header's typ when Sign writes it: TypeAccessToken, or
	// "" for Passport's "JWT". Verify does not set it.
	Type      string
	Issuer    string    // iss: the authorization server (RFC 9068 tokens only)
	Audience  string    // aud: the client id, or the resource of an RFC 9068 token
	ClientID  string    // client_id: the client (RFC 9068 tokens only)
	ID        string    // jti: the token id
	Subject   string    // sub: the user id
	IssuedAt  time.Time // iat: zero when a verified token has none
	NotBefore time.Time // nbf: zero when a verified token has none
	ExpiresAt time.Time // exp
	Scopes    []string  // scopes (and, in an RFC 9068 token, scope): never nil in claims Verify returns
}

// The header types Sign writes.
const (
	TypeJWT = "JWT" // Passport's
	// TypeAccessToken marks an access token for a resource server other
	// than Latchkey's API: RFC 9068 section 2.1.
	TypeAccessToken = "at+jwt"
)

// wireAccessClaims is the encoding of the claims of an RFC 9068 token:
// section 2.2's, and Passport's scopes array after scope, the same
// scopes, for tools that read Passport's tokens.
type wireAccessClaims struct {
	Issuer    string   `json:"iss"`
	Audience  string   `json:"aud"`
	Subject   string   `json:"sub"`
	ClientID  string   `json:"client_id"`
	ID        string   `json:"jti"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf"`
	ExpiresAt int64    `json:"exp"`
	Scope     string   `json:"scope"`
	Scopes    []string `json:"scopes"`
}

// The range of a NumericDate that Sign writes and Verify reads: from the
// epoch to the last second of year 9999.
const maxNumericDate = jsonread.MaxNumericDate

// wireClaims is the encoding of Claims, in the order Passport writes them.
type wireClaims struct {
	Audience  string   `json:"aud"`
	ID        string   `json:"jti"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf"`
	ExpiresAt int64    `json:"exp"`
	Subject   string   `json:"sub"`
	Scopes    []string `json:"scopes"`
}

// encode returns the JSON of c, its times in whole seconds.
func (c *Claims) encode() ([]byte, error) {
	w := wireClaims{
		Audience: c.Audience,
		ID:       c.ID,
		Subject:  c.Subject,
		Scopes:   c.Scopes,
	}
	if w.Scopes == nil {
		w.Scopes = []string{}
	}
	for _, d := range []struct {
		name string
		t    time.Time
		dst  *int64
	}{
		{"IssuedAt", c.IssuedAt, &w.IssuedAt},
		{"NotBefore", c.NotBefore, &w.NotBefore},
		{"ExpiresAt", c.ExpiresAt, &w.ExpiresAt},
	} {
		if d.t.IsZero() {
			return nil, errors.New("jwt: the claims have no " + d.name)
		}
		s := d.t.Unix()
		if s < 0 || s > maxNumericDate {
			return nil, errors.New("jwt: the " + d.name + " of the claims is out of range")
		}
		*d.dst = s
	}
	switch c.Type {
	case "", TypeJWT:
		return json.Marshal(w)
	case TypeAccessToken:
		if c.Issuer == "" || c.ClientID == "" {
			return nil, errors.New("jwt: an RFC 9068 access token without iss or client_id")
		}
		return json.Marshal(wireAccessClaims{
			Issuer: c.Issuer, Audience: w.Audience, Subject: w.Subject, ClientID: c.ClientID, ID: w.ID,
			IssuedAt: w.IssuedAt, NotBefore: w.NotBefore, ExpiresAt: w.ExpiresAt,
			Scope: strings.Join(w.Scopes, " "), Scopes: w.Scopes,
		})
	}
	return nil, errors.New("jwt: the header type " + c.Type + " is not one Sign writes")
}

// header is what Verify reads of a token's header.
type header struct {
	alg, kid       string
	hasAlg, hasKid bool
}

// decodeHeader reads a JOSE header. It refuses a crit member, as it
// understands no extension.
func decodeHeader(data []byte) (header, bool) {
	var h header
	ok := jsonread.DecodeObject(data, maxMembers, func(dec *json.Decoder, key string) bool {
		var ok bool
		switch key {
		case "alg":
			h.alg, ok = jsonread.ReadString(dec)
			h.hasAlg = true
		case "kid":
			h.kid, ok = jsonread.ReadString(dec)
			h.hasKid = true
		case "typ":
			_, ok = jsonread.ReadString(dec)
		case "crit":
			return false
		default:
			ok = jsonread.SkipValue(dec)
		}
		return ok
	})
	return h, ok && h.hasAlg && h.hasKid
}

// decodeClaims reads the claims of a token. The claims Sign writes are
// required, but iat and nbf; members it does not know are ignored.
func decodeClaims(data []byte) (*Claims, bool) {
	c := &Claims{}
	const (
		hasAud = 1 << iota
		hasJTI
		hasSub
		hasExp
		hasScopes
		required = hasAud | hasJTI | hasSub | hasExp | hasScopes
	)
	var has int
	ok := jsonread.DecodeObject(data, maxMembers, func(dec *json.Decoder, key string) bool {
		var ok bool
		switch key {
		case "aud":
			c.Audience, ok = jsonread.ReadString(dec)
			has |= hasAud
		case "jti":
			c.ID, ok = jsonread.ReadString(dec)
			has |= hasJTI
		case "sub":
			c.Subject, ok = jsonread.ReadString(dec)
			has |= hasSub
		case "iat":
			c.IssuedAt, ok = jsonread.ReadNumericDate(dec)
		case "nbf":
			c.NotBefore, ok = jsonread.ReadNumericDate(dec)
		case "exp":
			c.ExpiresAt, ok = jsonread.ReadNumericDate(dec)
			has |= hasExp
		case "scopes":
			c.Scopes, ok = jsonread.ReadStrings(dec)
			has |= hasScopes
		case "iss":
			c.Issuer, ok = jsonread.ReadString(dec)
		case "client_id":
			c.ClientID, ok = jsonread.ReadString(dec)
		default:
			ok = jsonread.SkipValue(dec)
		}
		return ok
	})
	if !ok || has&required != required {
		return nil, false
	}
	return c, true
}

// maxMembers is the most members an object may have: headers and claims
// have a handful, and the check for duplicates is quadratic.
const maxMembers = 16
