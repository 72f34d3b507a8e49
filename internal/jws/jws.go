// Package jws holds what both verifiers of Latchkey's JWTs, the server's
// (internal/jwt) and the one resource servers import (package resource),
// do alike with a JWS in compact serialization (RFC 7515): split it into
// its three segments, within bounds, before anything is decoded, and check
// a signature with a public key by the one algorithm the key is for.
package jws

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
)

// The algorithms a Key verifies (RFC 7518, RFC 8037).
const (
	RS256 = "RS256"
	ES256 = "ES256"
	EdDSA = "EdDSA"
)

// ES256Half is the length of R, and of S, in an ES256 signature: the
// length of P-256's order.
const ES256Half = 32

// Key is a public key, parsed once, with the one algorithm it verifies:
// exactly one of RSA, EC and Ed is set, the one of Alg.
type Key struct {
	Alg     string
	RSA     *rsa.PublicKey
	EC      *ecdsa.PublicKey
	Ed      ed25519.PublicKey
	SigSize int // the length of a signature in bytes
}

// Verify reports whether sig is k's signature of input by k's algorithm.
func (k *Key) Verify(input, sig []byte) bool {
	if len(sig) != k.SigSize {
		return false
	}
	switch k.Alg {
	case RS256:
		sum := sha256.Sum256(input)
		return k.RSA != nil && rsa.VerifyPKCS1v15(k.RSA, crypto.SHA256, sum[:], sig) == nil
	case ES256:
		sum := sha256.Sum256(input)
		r := new(big.Int).SetBytes(sig[:ES256Half])
		s := new(big.Int).SetBytes(sig[ES256Half:])
		return k.EC != nil && ecdsa.Verify(k.EC, sum[:], r, s)
	case EdDSA:
		return k.Ed != nil && ed25519.Verify(k.Ed, input, sig)
	}
	return false
}

// isB64URL classes the bytes of a token: base64url's alphabet.
var isB64URL = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = true
	}
	return t
}()

// Split returns the three segments of a JWS in compact form, if token has
// exactly three, holds only base64url characters and the two dots, is not
// longer than maxToken bytes, and its header not longer than maxHeader:
// nothing vouches for the header yet, so the work it makes is bounded.
func Split(token string, maxToken, maxHeader int) (head, payload, sig string, ok bool) {
	if len(token) > maxToken {
		return "", "", "", false
	}
	dot1, dot2 := -1, -1
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case isB64URL[c]:
		case c == '.' && dot1 < 0:
			dot1 = i
		case c == '.' && dot2 < 0:
			dot2 = i
		default:
			// A fourth segment (JWE has five), or a byte outside
			// base64url: the decoder would skip CR and LF, so they are
			// refused here.
			return "", "", "", false
		}
	}
	if dot2 < 0 || dot1 > maxHeader {
		return "", "", "", false
	}
	return token[:dot1], token[dot1+1 : dot2], token[dot2+1:], true
}
