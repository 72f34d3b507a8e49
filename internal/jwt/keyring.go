package jwt

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/latchkey/latchkey"

	"github.com/latchkey/latchkey/internal/jws"
)

// maxHeaderLength is the length of the longest encoded header Verify
// reads; ours has 106 characters.
const maxHeaderLength = 512

// b64 is the encoding of a token's segments. Strict refuses the encodings
// whose unused bits are not zero, so that each token has one spelling.
var b64 = base64.RawURLEncoding.Strict()

// Keyring signs tokens with the signing key and verifies tokens signed by
// any of its keys, each by the algorithm of the key. It is immutable and
// safe for concurrent use; to rotate keys, build a new one.
type Keyring struct {
	keys    []*verifier          // in the order given
	byKID   map[string]*verifier // by kid
	byHead  map[string]*verifier // by the encoded header Sign writes with the key
	signer  crypto.Signer        // nil when no key signs
	sigSize int                  // the length of the signer's signatures in bytes
	signKID string
	// prefix is the encoded header of the signing key, and "."; prefixAT
	// the same with typ at+jwt.
	prefix, prefixAT string
	jwks             []byte
}

// verifier is a public key, parsed once, and its algorithm.
type verifier struct {
	kid string
	jws.Key
	jwk *jwk
}

// newVerifier parses k's public key and checks that it is a key of k's
// algorithm whose thumbprint is k's ID.
func newVerifier(k *latchkey.SigningKey) (*verifier, error) {
	if !knownAlgorithm(k.Algorithm) {
		return nil, fmt.Errorf("the algorithm %q is not RS256, ES256 or EdDSA", k.Algorithm)
	}
	pub, err := x509.ParsePKIXPublicKey(k.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("parsing the public key: %w", err)
	}
	j, err := publicJWK(pub)
	if err != nil {
		return nil, err
	}
	// The algorithm is bound to the key: a key of one kind never verifies
	// by the algorithm of another.
	if j.Alg != k.Algorithm {
		return nil, fmt.Errorf("the algorithm is %s but the public key is %s, a key of %s", k.Algorithm, kind(pub), j.Alg)
	}
	if j.thumbprint() != k.ID {
		return nil, errors.New("the id is not the thumbprint of the public key")
	}
	j.Kid, j.Use = k.ID, "sig"
	v := &verifier{kid: k.ID, Key: jws.Key{Alg: j.Alg}, jwk: j}
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		v.RSA, v.SigSize = pub, pub.Size()
	case *ecdsa.PublicKey:
		v.EC, v.SigSize = pub, 2*jws.ES256Half
	case ed25519.PublicKey:
		v.Ed, v.SigSize = pub, ed25519.SignatureSize
	}
	return v, nil
}

// NewKeyring returns a Keyring of keys. It opens the private key of the
// signing key, the one not retired, with s; retired keys only verify, and a
// keyring without a signing key only verifies. s may be nil then. Each
// key's algorithm must be that of its public key.
func NewKeyring(keys []*latchkey.SigningKey, s *Sealer) (*Keyring, error) {
	r := &Keyring{
		byKID:  make(map[string]*verifier, len(keys)),
		byHead: make(map[string]*verifier, len(keys)),
	}
	for _, k := range keys {
		if k == nil {
			return nil, errors.New("jwt: a nil key")
		}
		v, err := newVerifier(k)
		if err != nil {
			return nil, fmt.Errorf("jwt: key %s: %w", k.ID, err)
		}
		if r.byKID[k.ID] != nil {
			return nil, fmt.Errorf("jwt: key %s appears twice", k.ID)
		}
		r.keys = append(r.keys, v)
		r.byKID[k.ID] = v
		r.byHead[encodedHeader(v.Alg, k.ID, TypeJWT)] = v
		r.byHead[encodedHeader(v.Alg, k.ID, TypeAccessToken)] = v
		if !k.Signing() {
			continue
		}
		if r.signer != nil {
			return nil, fmt.Errorf("jwt: keys %s and %s are both signing keys", r.signKID, k.ID)
		}
		if s == nil {
			return nil, fmt.Errorf("jwt: key %s: no sealer to open the signing key with", k.ID)
		}
		if r.signer, err = openPrivateKey(k, v, s); err != nil {
			return nil, err
		}
		r.sigSize = v.SigSize
		r.signKID = k.ID
		r.prefix = encodedHeader(v.Alg, k.ID, TypeJWT) + "."
		r.prefixAT = encodedHeader(v.Alg, k.ID, TypeAccessToken) + "."
	}
	jwks, err := encodeJWKS(r.keys)
	if err != nil {
		return nil, err
	}
	r.jwks = jwks
	return r, nil
}

// openPrivateKey opens the sealed private key of k, whose public key is
// v's.
func openPrivateKey(k *latchkey.SigningKey, v *verifier, s *Sealer) (crypto.Signer, error) {
	der, err := s.Open(k.ID, k.SealedPrivateKey)
	if err != nil {
		return nil, err
	}
	pk, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("jwt: key %s: parsing the private key: %w", k.ID, err)
	}
	var pub crypto.PublicKey
	switch pk := pk.(type) {
	case *rsa.PrivateKey:
		pub = &pk.PublicKey
	case *ecdsa.PrivateKey:
		pub = &pk.PublicKey
	case ed25519.PrivateKey:
		pub = pk.Public()
	default:
		return nil, fmt.Errorf("jwt: key %s: the private key is %s; want RSA, ECDSA P-256 or Ed25519", k.ID, kind(pk))
	}
	// Equal is false for keys of different kinds: the private key is of
	// the kind, and so the algorithm, of the public key.
	var ok bool
	switch v.Alg {
	case RS256:
		ok = v.RSA.Equal(pub)
	case ES256:
		ok = v.EC.Equal(pub)
	case EdDSA:
		ok = v.Ed.Equal(pub)
	}
	if !ok {
		return nil, fmt.Errorf("jwt: key %s: the private key does not match the public key", k.ID)
	}
	return pk.(crypto.Signer), nil
}

// sign returns the signature of input by priv, by the algorithm of its
// kind. An ES256 signature is R and S, each left-padded to 32 bytes.
func sign(priv crypto.Signer, input []byte) ([]byte, error) {
	switch priv := priv.(type) {
	case *rsa.PrivateKey:
		sum := sha256.Sum256(input)
		return rsa.SignPKCS1v15(nil, priv, crypto.SHA256, sum[:])
	case *ecdsa.PrivateKey:
		sum := sha256.Sum256(input)
		r, s, err := ecdsa.Sign(rand.Reader, priv, sum[:])
		if err != nil {
			return nil, err
		}
		sig := make([]byte, 2*jws.ES256Half)
		r.FillBytes(sig[:jws.ES256Half])
		s.FillBytes(sig[jws.ES256Half:])
		return sig, nil
	case ed25519.PrivateKey:
		return ed25519.Sign(priv, input), nil
	}
	return nil, fmt.Errorf("a private key of type %T", priv)
}

// encodedHeader returns the encoded header of a token of type typ Sign
// signs with the key kid of algorithm alg.
func encodedHeader(alg, kid, typ string) string {
	h, _ := json.Marshal(struct {
		Typ string `json:"typ"`
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}{typ, alg, kid})
	return b64.EncodeToString(h)
}

// SigningKeyID returns the kid of the signing key, or "" when the keyring
// has none.
func (r *Keyring) SigningKeyID() string { return r.signKID }

// Has reports whether the keyring has the key kid. A caller that sees a
// token with a kid the keyring lacks may reload the keys and try again.
func (r *Keyring) Has(kid string) bool { return r.byKID[kid] != nil }

// Sign returns the token of c signed with the signing key, by its
// algorithm, and the key's kid: with typ JWT and Passport's claims, or,
// when c.Type is TypeAccessToken, with typ at+jwt and RFC 9068's. c must have all three times, between 1970 and 9999; they are written
// in whole seconds.
func (r *Keyring) Sign(c Claims) (token, kid string, err error) {
	if r.signer == nil {
		return "", "", errors.New("jwt: the keyring has no signing key")
	}
	payload, err := c.encode()
	if err != nil {
		return "", "", err
	}
	prefix := r.prefix
	if c.Type == TypeAccessToken {
		prefix = r.prefixAT
	}
	n := len(prefix) + b64.EncodedLen(len(payload))
	buf := make([]byte, 0, n+1+b64.EncodedLen(r.sigSize))
	buf = append(buf, prefix...)
	buf = b64.AppendEncode(buf, payload)
	sig, err := sign(r.signer, buf)
	if err != nil {
		return "", "", fmt.Errorf("jwt: signing: %w", err)
	}
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, sig)
	return string(buf), r.signKID, nil
}

// Verify returns the claims of token if one of the keyring's keys signed it
// by the key's algorithm and it is valid at now: nbf <= now < exp. Whatever
// is wrong with a token, the error is ErrInvalid.
//
// It checks the signature before it reads the claims. The header must name
// the key by its kid and the algorithm of that key exactly (RS256, ES256
// or EdDSA), and have no crit; the signature must have the length of the
// key's (for ES256, 64 bytes: R and S, not DER);
// the claims must hold aud, jti and sub as strings, exp (and iat and nbf, if
// present) as numbers in [0, 253402300799], scopes as an array of
// strings, and iss and client_id, if present, as strings. Members they do not know are ignored, but no member may appear
// twice, neither may have more than 16 members, and the encoded header may
// be 512 bytes long at most (ours has 106; Passport's 36).
func (r *Keyring) Verify(token string, now time.Time) (*Claims, error) {
	c, _, err := r.VerifyKey(token, now)
	return c, err
}

// VerifyKey is Verify, and also returns the kid of the key that verified
// the token, which the caller may hold against what it knows of the
// token (the key its row says signed it).
func (r *Keyring) VerifyKey(token string, now time.Time) (*Claims, string, error) {
	c, v, err := r.verifySignature(token)
	if err != nil || now.Before(c.NotBefore) || !now.Before(c.ExpiresAt) {
		return nil, "", ErrInvalid
	}
	return c, v.kid, nil
}

// VerifySignature is Verify without the times: the token is one this
// server signed, expired or not yet valid. It is for finding what a token
// names (to revoke it), never for letting it in.
func (r *Keyring) VerifySignature(token string) (*Claims, error) {
	c, _, err := r.verifySignature(token)
	return c, err
}

// verifySignature is VerifySignature, and also returns the key that
// verified the token.
func (r *Keyring) verifySignature(token string) (*Claims, *verifier, error) {
	head, payload, sig, ok := jws.Split(token, MaxTokenLength, maxHeaderLength)
	if !ok {
		return nil, nil, ErrInvalid
	}
	v := r.byHead[head]
	if v == nil {
		if v = r.lookup(head); v == nil {
			return nil, nil, ErrInvalid
		}
	}
	if b64.DecodedLen(len(sig)) != v.SigSize {
		return nil, nil, ErrInvalid
	}
	sigBytes := make([]byte, v.SigSize)
	if n, err := b64.Decode(sigBytes, []byte(sig)); err != nil || n != v.SigSize {
		return nil, nil, ErrInvalid
	}
	if !v.Verify([]byte(token[:len(head)+1+len(payload)]), sigBytes) {
		return nil, nil, ErrInvalid
	}

	data, err := b64.DecodeString(payload)
	if err != nil {
		return nil, nil, ErrInvalid
	}
	c, ok := decodeClaims(data)
	if !ok {
		return nil, nil, ErrInvalid
	}
	return c, v, nil
}

// KeyID returns the kid that the header of token names, or "" if it names
// none or Verify would refuse the header whatever the keys. It verifies
// nothing: a caller whose Verify failed can use it to see
// whether the token names a key the keyring lacks (Keyring.Has), which a
// replica that missed a rotation would, and reload the keys, though not at
// every request: anyone can write a kid. The header's alg must be one of
// Algorithms, whichever.
func KeyID(token string) string {
	alg, kid, ok := Header(token)
	if !ok || !knownAlgorithm(alg) {
		return ""
	}
	return kid
}

// Header returns the alg and kid that the header of token names, and
// false if token is not three segments of base64url or its header is not
// one Verify reads (both members strings, no crit). It verifies nothing:
// it tells what a token says it is, to show or to check it.
func Header(token string) (alg, kid string, ok bool) {
	head, _, _, ok := jws.Split(token, MaxTokenLength, maxHeaderLength)
	if !ok {
		return "", "", false
	}
	data, err := b64.DecodeString(head)
	if err != nil {
		return "", "", false
	}
	h, ok := decodeHeader(data)
	if !ok {
		return "", "", false
	}
	return h.alg, h.kid, true
}

// lookup returns the key an encoded header other than the ones Sign writes
// names, or nil unless the header is valid and names a known kid and the
// algorithm of that key.
func (r *Keyring) lookup(head string) *verifier {
	data, err := b64.DecodeString(head)
	if err != nil {
		return nil
	}
	h, ok := decodeHeader(data)
	if !ok {
		return nil
	}
	v := r.byKID[h.kid]
	if v == nil || h.alg != v.Alg {
		return nil
	}
	return v
}

// JWKS returns the public keys of the keyring as a JSON Web Key Set, to be
// served as application/json.
func (r *Keyring) JWKS() []byte { return bytes.Clone(r.jwks) }

func encodeJWKS(keys []*verifier) ([]byte, error) {
	set := struct {
		Keys []*jwk `json:"keys"`
	}{Keys: []*jwk{}}
	for _, v := range keys {
		set.Keys = append(set.Keys, v.jwk)
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("jwt: encoding the JWKS: %w", err)
	}
	return b, nil
}

// String describes the keyring by its kids, never its private key.
func (r *Keyring) String() string {
	return fmt.Sprintf("jwt.Keyring{signing: %q, keys: %d}", r.signKID, len(r.keys))
}

// GoString hides the private key from %#v.
func (r *Keyring) GoString() string { return r.String() }

// LogValue hides the private key from log/slog.
func (r *Keyring) LogValue() slog.Value {
	return slog.GroupValue(slog.String("signing", r.signKID), slog.Int("keys", len(r.keys)))
}
