package resource

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"filippo.io/edwards25519"

	"github.com/latchkey/latchkey/internal/jsonread"

	"github.com/latchkey/latchkey/internal/jws"
)

// The signature algorithms Verify accepts: those Latchkey signs with.
// Every other one (none, the HMACs, RSA-PSS, the other curves) is
// refused, whatever the key.
const (
	RS256 = jws.RS256 // RSASSA-PKCS1-v1_5 with SHA-256, RSA keys of 2048 to 8192 bits
	ES256 = jws.ES256 // ECDSA on P-256 with SHA-256; R and S, 32 bytes each
	EdDSA = jws.EdDSA // Ed25519 (RFC 8037)
)

// RSA key sizes a JWKS may publish: at least 2048 bits (RFC 7518 section
// 3.3), and at most 8192 so that a verification stays cheap.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// maxKeys is the most keys a JWKS may hold. Latchkey publishes its
// signing key and the retired keys that still have live tokens: a
// handful.
const maxKeys = 100

// publicKey is a key of the issuer's JWKS, parsed once, with the one
// algorithm it verifies.
type publicKey struct {
	kid string
	jws.Key
}

// keySet is a parsed JWKS: its usable keys by kid. It is never changed
// once made.
type keySet map[string]*publicKey

// jwk is a JSON Web Key as read (RFC 7517 section 4; RFC 7518 section 6;
// RFC 8037 section 2): the members this package uses.
type jwk struct {
	kty, use, alg, kid, crv string
	n, e, x, y              string
	keyOps                  []string
	hasKeyOps, private      bool
}

// parseJWKS reads a JSON Web Key Set and keeps the keys Verify may use:
// those with a kid, for signatures (no use, or use "sig"; no key_ops, or
// key_ops naming "verify"), of a kind and size it verifies (RSA of 2048 to
// 8192 bits, EC on P-256, OKP on Ed25519), whose alg, when given, is the
// one algorithm of that kind. A key it cannot use is left out, not an
// error, so that an issuer may publish keys for others beside ours; so is
// a key that holds private members, which no JWKS should publish. Two keys
// with the same kid are both left out: which one signed is unknowable. It
// returns an error only when data is not a JWKS at all, or holds more
// than maxKeys keys.
func parseJWKS(data []byte) (keySet, error) {
	var raw []*jwk
	var hasKeys bool
	ok := jsonread.DecodeObject(data, maxMembers, func(dec *json.Decoder, key string) bool {
		if key != "keys" {
			return jsonread.SkipValue(dec)
		}
		hasKeys = true
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			return false
		}
		for dec.More() {
			if len(raw) == maxKeys {
				return false
			}
			k, ok := readJWK(dec)
			if !ok {
				return false
			}
			raw = append(raw, k)
		}
		t, err := dec.Token()
		return err == nil && t == json.Delim(']')
	})
	if !ok || !hasKeys {
		return nil, fmt.Errorf("not a JSON Web Key Set of at most %d keys", maxKeys)
	}
	set := keySet{}
	dup := map[string]bool{}
	for _, j := range raw {
		k, err := j.publicKey()
		if err != nil {
			continue
		}
		if set[k.kid] != nil || dup[k.kid] {
			delete(set, k.kid)
			dup[k.kid] = true
			continue
		}
		set[k.kid] = k
	}
	return set, nil
}

// readJWK reads one key of a JWKS. Its string members must be strings;
// key_ops an array of strings; other members are skipped, but their
// presence of the private ones is noted.
func readJWK(dec *json.Decoder) (*jwk, bool) {
	k := &jwk{}
	ok := jsonread.ReadObject(dec, maxMembers, func(dec *json.Decoder, key string) bool {
		var dst *string
		switch key {
		case "kty":
			dst = &k.kty
		case "use":
			dst = &k.use
		case "alg":
			dst = &k.alg
		case "kid":
			dst = &k.kid
		case "crv":
			dst = &k.crv
		case "n":
			dst = &k.n
		case "e":
			dst = &k.e
		case "x":
			dst = &k.x
		case "y":
			dst = &k.y
		case "key_ops":
			var ok bool
			k.keyOps, ok = jsonread.ReadStrings(dec)
			k.hasKeyOps = true
			return ok
		case "d", "p", "q", "dp", "dq", "qi", "oth", "k":
			k.private = true
			return jsonread.SkipValue(dec)
		default:
			return jsonread.SkipValue(dec)
		}
		var ok bool
		*dst, ok = jsonread.ReadString(dec)
		return ok
	})
	return k, ok
}

// publicKey returns the key j describes, if Verify may use it.
func (j *jwk) publicKey() (*publicKey, error) {
	switch {
	case j.kid == "":
		return nil, errors.New("no kid")
	case j.use != "" && j.use != "sig":
		return nil, errors.New("not for signatures")
	case j.hasKeyOps && !slices.Contains(j.keyOps, "verify"):
		return nil, errors.New("not for verifying")
	case j.private:
		return nil, errors.New("holds a private key")
	}
	k := &publicKey{kid: j.kid}
	switch j.kty {
	case "RSA":
		pub, err := rsaKey(j.n, j.e)
		if err != nil {
			return nil, err
		}
		k.Alg, k.RSA, k.SigSize = RS256, pub, pub.Size()
	case "EC":
		if j.crv != "P-256" {
			return nil, errors.New("an EC key not on P-256")
		}
		x, err1 := b64.DecodeString(j.x)
		y, err2 := b64.DecodeString(j.y)
		// RFC 7518 section 6.2.1.2: the coordinates have the full
		// length of the curve's, 32 bytes for P-256.
		if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			return nil, errors.New("EC coordinates that are not 32 bytes of base64url")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, err
		}
		k.Alg, k.EC, k.SigSize = ES256, pub, 2*jws.ES256Half
	case "OKP":
		if j.crv != "Ed25519" {
			return nil, errors.New("an OKP key not on Ed25519")
		}
		x, err := b64.DecodeString(j.x)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("an Ed25519 key that is not 32 bytes of base64url")
		}
		// A point of small order verifies forged signatures: (R = the
		// identity, S = 0) passes for every message under the
		// identity. No key made by signing software is one.
		p, err := new(edwards25519.Point).SetBytes(x)
		if err != nil {
			return nil, errors.New("an Ed25519 key that is not a point of the curve")
		}
		if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
			return nil, errors.New("an Ed25519 key of small order")
		}
		k.Alg, k.Ed, k.SigSize = EdDSA, ed25519.PublicKey(x), ed25519.SignatureSize
	default:
		return nil, fmt.Errorf("kty %q", j.kty)
	}
	// The algorithm is bound to the key: a key's alg, when it names one,
	// must be its kind's, and a token verifies only by it.
	if j.alg != "" && j.alg != k.Alg {
		return nil, fmt.Errorf("alg %q on a key of %s", j.alg, k.Alg)
	}
	return k, nil
}

// rsaKey returns the RSA public key of the base64url modulus n and
// exponent e, if it has minRSABits to maxRSABits and an odd exponent from
// 3 to 2^31-1.
func rsaKey(n, e string) (*rsa.PublicKey, error) {
	nb, err1 := b64.DecodeString(n)
	eb, err2 := b64.DecodeString(e)
	if err1 != nil || err2 != nil || len(eb) == 0 || len(eb) > 4 || len(nb) > maxRSABits/8+1 {
		return nil, errors.New("an RSA key whose n or e is not base64url of a fitting size")
	}
	mod := new(big.Int).SetBytes(nb)
	if bits := mod.BitLen(); bits < minRSABits || bits > maxRSABits {
		return nil, fmt.Errorf("an RSA key of %d bits", bits)
	}
	exp := new(big.Int).SetBytes(eb).Int64()
	if exp < 3 || exp > 1<<31-1 || exp%2 == 0 {
		return nil, fmt.Errorf("an RSA key with exponent %d", exp)
	}
	return &rsa.PublicKey{N: mod, E: int(exp)}, nil
}
