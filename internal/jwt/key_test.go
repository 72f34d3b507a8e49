package jwt_test

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/jwt"
)

func TestParsePrivateKeyPEM(t *testing.T) {
	key1 := rsaKey(t, "key1-pkcs1.pem")
	ec := privateKey(t, "ec-pkcs8.pem")
	corrupt := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("not DER")})
	_, x25519, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	xDER, err := x509.MarshalPKCS8PrivateKey(mustECDH(t, x25519.Seed()))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    []byte
		want    crypto.Signer // nil: any key
		wantErr string
	}{
		{"PKCS #1", readFile(t, "key1-pkcs1.pem"), key1, ""},
		{"PKCS #8", readFile(t, "key1-pkcs8.pem"), key1, ""},
		{"PKCS #8, text before", append([]byte("Bag Attributes\n"), readFile(t, "key1-pkcs8.pem")...), key1, ""},
		{"another PKCS #8", readFile(t, "key2-pkcs8.pem"), nil, ""},
		{"encrypted PKCS #1", readFile(t, "encrypted-pkcs1.pem"), nil, "encrypted"},
		{"encrypted PKCS #8", readFile(t, "encrypted-pkcs8.pem"), nil, "encrypted"},
		{"ECDSA P-256 PKCS #8", readFile(t, "ec-pkcs8.pem"), ec, ""},
		{"ECDSA P-256 SEC 1", readFile(t, "ec-sec1.pem"), ec, ""},
		{"ECDSA P-384", readFile(t, "ec384-pkcs8.pem"), nil, "curve P-384; ES256 needs P-256"},
		{"ECDSA SEC 1 corrupt", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{0}}), nil, "parsing the SEC 1 private key"},
		{"Ed25519 PKCS #8", readFile(t, "ed25519-pkcs8.pem"), nil, ""},
		{"X25519 PKCS #8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: xDER}), nil, "X25519; want RSA, ECDSA P-256 or Ed25519"},
		{"1024 bits", readFile(t, "small-pkcs1.pem"), nil, "1024 bits"},
		{"public key", readFile(t, "key1-public.pem"), nil, "not a private key"},
		{"OpenSSH", []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"), nil, `"OPENSSH PRIVATE KEY"`},
		{"not PEM", []byte("hello"), nil, "no PEM block"},
		{"empty", nil, nil, "no PEM block"},
		{"two blocks", append(readFile(t, "key1-pkcs1.pem"), readFile(t, "key1-public.pem")...), nil, "followed by another"},
		{"corrupt", corrupt, nil, "parsing the PKCS #1 private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jwt.ParsePrivateKeyPEM(tt.data)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParsePrivateKeyPEM() = %v; want an error saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePrivateKeyPEM() = %v", err)
			}
			if tt.want != nil && jwt.CheckKeyPair(got, tt.want.Public()) != nil {
				t.Error("ParsePrivateKeyPEM() returned another key")
			}
		})
	}
}

func TestParsePublicKeyPEM(t *testing.T) {
	key1 := &rsaKey(t, "key1-pkcs1.pem").PublicKey
	ec := privateKey(t, "ec-pkcs8.pem").Public()
	ed := privateKey(t, "ed25519-pkcs8.pem").Public()
	ec384, err := x509.MarshalPKIXPublicKey(mustParsePKCS8(t, "ec384-pkcs8.pem").(crypto.Signer).Public())
	if err != nil {
		t.Fatal(err)
	}
	small, err := x509.ParsePKCS1PrivateKey(pemBytes(t, readFile(t, "small-pkcs1.pem")))
	if err != nil {
		t.Fatal(err)
	}
	smallDER, err := x509.MarshalPKIXPublicKey(&small.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    []byte
		want    crypto.PublicKey
		wantErr string
	}{
		{"PKIX", readFile(t, "key1-public.pem"), key1, ""},
		{"PKCS #1", readFile(t, "key1-rsa-public.pem"), key1, ""},
		{"ECDSA P-256", readFile(t, "ec-public.pem"), ec, ""},
		{"Ed25519", readFile(t, "ed25519-public.pem"), ed, ""},
		{"ECDSA P-384", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ec384}), nil, "curve P-384"},
		{"private key", readFile(t, "key1-pkcs1.pem"), nil, "not a public key"},
		{"1024 bits", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: smallDER}), nil, "1024 bits"},
		{"certificate", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), nil, `"CERTIFICATE"`},
		{"corrupt", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("x")}), nil, "parsing the PKIX public key"},
		{"not PEM", []byte("ssh-rsa AAAA"), nil, "no PEM block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jwt.ParsePublicKeyPEM(tt.data)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParsePublicKeyPEM() = %v; want an error saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePublicKeyPEM() = %v", err)
			}
			if !got.(interface{ Equal(crypto.PublicKey) bool }).Equal(tt.want) {
				t.Error("ParsePublicKeyPEM() returned another key")
			}
		})
	}
}

func pemBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatal("no PEM block")
	}
	return block.Bytes
}

func TestCheckKeyPair(t *testing.T) {
	tests := []struct {
		name    string
		private string
		public  string
		wantErr bool
	}{
		{"PKIX of the pair", "key1-pkcs8.pem", "key1-public.pem", false},
		{"PKCS #1 of the pair", "key1-pkcs8.pem", "key1-rsa-public.pem", false},
		{"another key", "key1-pkcs8.pem", "key2-public.pem", true},
		{"ECDSA pair", "ec-sec1.pem", "ec-public.pem", false},
		{"Ed25519 pair", "ed25519-pkcs8.pem", "ed25519-public.pem", false},
		{"RSA and ECDSA", "key1-pkcs8.pem", "ec-public.pem", true},
		{"ECDSA and Ed25519", "ec-pkcs8.pem", "ed25519-public.pem", true},
		{"Ed25519 and RSA", "ed25519-pkcs8.pem", "key1-public.pem", true},
		{"another Ed25519 key", "ed25519-2-pkcs8.pem", "ed25519-public.pem", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub, err := jwt.ParsePublicKeyPEM(readFile(t, tt.public))
			if err != nil {
				t.Fatal(err)
			}
			if err := jwt.CheckKeyPair(privateKey(t, tt.private), pub); (err != nil) != tt.wantErr {
				t.Errorf("CheckKeyPair(%s, %s) = %v, want error %t", tt.private, tt.public, err, tt.wantErr)
			}
		})
	}
}

// mustParsePKCS8 returns the key of the PKCS #8 PEM testdata/name, of any
// kind.
func mustParsePKCS8(t *testing.T, name string) any {
	t.Helper()
	k, err := x509.ParsePKCS8PrivateKey(pemBytes(t, readFile(t, name)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// mustECDH returns the X25519 key of seed.
func mustECDH(t *testing.T, seed []byte) *ecdh.PrivateKey {
	t.Helper()
	k, err := ecdh.X25519().NewPrivateKey(seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestNewSigningKey(t *testing.T) {
	s := testSealer(t)
	for _, tc := range []struct {
		file, alg, kid string
	}{
		{"key1-pkcs1.pem", "RS256", kid1},
		{"ec-pkcs8.pem", "ES256", kidEC},
		{"ed25519-pkcs8.pem", "EdDSA", kidEd},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			priv := privateKey(t, tc.file)
			k, err := jwt.NewSigningKey(priv, s, now)
			if err != nil {
				t.Fatal(err)
			}
			if k.ID != tc.kid || k.Algorithm != tc.alg || !k.CreatedAt.Equal(now) || k.RetiredAt != nil {
				t.Errorf("NewSigningKey() = {ID: %s, Algorithm: %s, CreatedAt: %v, RetiredAt: %v}, want {%s, %s, %v, nil}",
					k.ID, k.Algorithm, k.CreatedAt, k.RetiredAt, tc.kid, tc.alg, now)
			}
			pub, err := x509.ParsePKIXPublicKey(k.PublicKey)
			if err != nil || jwt.CheckKeyPair(priv, pub) != nil {
				t.Errorf("PublicKey is not the PKIX DER of the public key: %v", err)
			}
			der, err := x509.MarshalPKCS8PrivateKey(priv)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(k.SealedPrivateKey, der[len(der)-32:]) {
				t.Error("SealedPrivateKey holds the private key in the clear")
			}
			opened, err := s.Open(k.ID, k.SealedPrivateKey)
			if err != nil || !bytes.Equal(opened, der) {
				t.Errorf("Open(SealedPrivateKey) = %v; want the PKCS #8 DER of the key", err)
			}
		})
	}

	small, err := x509.ParsePKCS1PrivateKey(pemBytes(t, readFile(t, "small-pkcs1.pem")))
	if err != nil {
		t.Fatal(err)
	}
	p384 := mustParsePKCS8(t, "ec384-pkcs8.pem").(*ecdsa.PrivateKey)
	for name, tc := range map[string]struct {
		priv    crypto.Signer
		wantErr string
	}{
		"1024 bits":                {small, "1024 bits"},
		"P-384":                    {p384, "curve P-384; ES256 needs P-256"},
		"a signer of another kind": {otherSigner{}, "want RSA, ECDSA P-256 or Ed25519"},
	} {
		if _, err := jwt.NewSigningKey(tc.priv, s, now); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("NewSigningKey(%s) = %v, want an error saying %q", name, err, tc.wantErr)
		}
	}
}

// otherSigner is a crypto.Signer of a kind no algorithm has.
type otherSigner struct{}

func (otherSigner) Public() crypto.PublicKey { return "a public key" }
func (otherSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("no")
}

func TestGenerateKey(t *testing.T) {
	for _, tc := range []struct {
		alg  string
		kind string
	}{
		{"RS256", "*rsa.PrivateKey"},
		{"ES256", "*ecdsa.PrivateKey"},
		{"EdDSA", "ed25519.PrivateKey"},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			if testing.Short() && tc.alg == "RS256" {
				t.Skip("generating an RSA key is slow")
			}
			priv, err := jwt.GenerateKey(tc.alg)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%T", priv); got != tc.kind {
				t.Errorf("GenerateKey(%s) is a %s, want a %s", tc.alg, got, tc.kind)
			}
			switch priv := priv.(type) {
			case *rsa.PrivateKey:
				if bits := priv.N.BitLen(); bits != 2048 {
					t.Errorf("GenerateKey() has %d bits, want 2048", bits)
				}
			case *ecdsa.PrivateKey:
				if priv.Curve != elliptic.P256() {
					t.Errorf("GenerateKey() is on %s, want P-256", priv.Curve.Params().Name)
				}
			}
			k := signingKey(t, priv, now, time.Time{})
			if k.Algorithm != tc.alg {
				t.Errorf("NewSigningKey(GenerateKey(%s)).Algorithm = %s", tc.alg, k.Algorithm)
			}
			r := newKeyring(t, k)
			token, _, err := r.Sign(testClaims())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Verify(token, now); err != nil {
				t.Errorf("Verify() = %v", err)
			}
		})
	}
	for _, alg := range []string{"", "rs256", "ES384", "HS256", "none", "Ed25519", "PS256"} {
		if priv, err := jwt.GenerateKey(alg); err == nil || !strings.Contains(err.Error(), "want RS256, ES256 or EdDSA") {
			t.Errorf("GenerateKey(%q) = %T, %v; want an error naming the algorithms", alg, priv, err)
		}
	}
	if got, want := jwt.Algorithms(), []string{"RS256", "ES256", "EdDSA"}; !slices.Equal(got, want) || jwt.DefaultAlgorithm != want[0] {
		t.Errorf("Algorithms() = %v, DefaultAlgorithm = %s; want %v, RS256", got, jwt.DefaultAlgorithm, want)
	}
}

func TestNewKeyringRefuses(t *testing.T) {
	key1, key2 := rsaKey(t, "key1-pkcs1.pem"), rsaKey(t, "key2-pkcs8.pem")
	ec, ed := privateKey(t, "ec-pkcs8.pem"), privateKey(t, "ed25519-pkcs8.pem")
	ecKey := func() *latchkey.SigningKey { return signingKey(t, ec, now, time.Time{}) }
	edKey := func() *latchkey.SigningKey { return signingKey(t, ed, now, time.Time{}) }
	// withAlg is k with another algorithm.
	withAlg := func(k *latchkey.SigningKey, alg string) func() []*latchkey.SigningKey {
		return func() []*latchkey.SigningKey {
			k.Algorithm = alg
			return []*latchkey.SigningKey{k}
		}
	}
	// withPrivate is k with the private key of priv sealed for it.
	withPrivate := func(k *latchkey.SigningKey, priv crypto.Signer) func() []*latchkey.SigningKey {
		return func() []*latchkey.SigningKey {
			der, err := x509.MarshalPKCS8PrivateKey(priv)
			if err != nil {
				t.Fatal(err)
			}
			k.SealedPrivateKey, _ = testSealer(t).Seal(k.ID, der)
			return []*latchkey.SigningKey{k}
		}
	}
	p384 := mustParsePKCS8(t, "ec384-pkcs8.pem").(*ecdsa.PrivateKey)
	p384DER, err := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	retired := now.Add(-time.Hour)
	k1 := func() *latchkey.SigningKey { return signingKey(t, key1, now, time.Time{}) }
	k2 := func() *latchkey.SigningKey { return signingKey(t, key2, retired, time.Time{}) }
	small, err := x509.ParsePKCS1PrivateKey(pemBytes(t, readFile(t, "small-pkcs1.pem")))
	if err != nil {
		t.Fatal(err)
	}
	smallDER, err := x509.MarshalPKIXPublicKey(&small.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	other, err := jwt.NewSealer([]byte("another secret of the server"))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		keys    func() []*latchkey.SigningKey
		sealer  *jwt.Sealer
		wantErr string
	}{
		{"wrong secret", func() []*latchkey.SigningKey { return []*latchkey.SigningKey{k1()} }, other, "secret does not match"},
		{"no sealer", func() []*latchkey.SigningKey { return []*latchkey.SigningKey{k1()} }, nil, "no sealer"},
		{"sealed key of another kid", func() []*latchkey.SigningKey {
			a, b := k1(), k2()
			a.SealedPrivateKey = b.SealedPrivateKey
			return []*latchkey.SigningKey{a}
		}, testSealer(t), "secret does not match"},
		{"private key of another key", func() []*latchkey.SigningKey {
			a := k1()
			der, err := x509.MarshalPKCS8PrivateKey(key2)
			if err != nil {
				t.Fatal(err)
			}
			a.SealedPrivateKey, _ = testSealer(t).Seal(a.ID, der)
			return []*latchkey.SigningKey{a}
		}, testSealer(t), "does not match the public key"},
		{"two signing keys", func() []*latchkey.SigningKey { return []*latchkey.SigningKey{k1(), k2()} }, testSealer(t), "both signing"},
		{"twice", func() []*latchkey.SigningKey {
			a, b := k1(), k1()
			b.RetiredAt = &retired
			return []*latchkey.SigningKey{a, b}
		}, testSealer(t), "twice"},
		{"id not the thumbprint", func() []*latchkey.SigningKey {
			a := k1()
			a.ID = "my-key"
			return []*latchkey.SigningKey{a}
		}, testSealer(t), "thumbprint"},
		{"another algorithm", func() []*latchkey.SigningKey {
			a := k1()
			a.Algorithm = "HS256"
			return []*latchkey.SigningKey{a}
		}, testSealer(t), `"HS256"`},
		{"public key not DER", func() []*latchkey.SigningKey {
			a := k1()
			a.PublicKey = []byte("x")
			return []*latchkey.SigningKey{a}
		}, testSealer(t), "parsing the public key"},
		{"public key too small", func() []*latchkey.SigningKey {
			a := k2()
			a.PublicKey = smallDER
			a.RetiredAt = &retired
			return []*latchkey.SigningKey{a}
		}, testSealer(t), "1024 bits"},
		{"nil key", func() []*latchkey.SigningKey { return []*latchkey.SigningKey{nil} }, testSealer(t), "nil"},

		// The algorithm is bound to the key's kind, both ways.
		{"RSA key of ES256", withAlg(k1(), "ES256"), testSealer(t), "the algorithm is ES256 but the public key is RSA"},
		{"RSA key of EdDSA", withAlg(k1(), "EdDSA"), testSealer(t), "the algorithm is EdDSA but the public key is RSA"},
		{"ECDSA key of RS256", withAlg(ecKey(), "RS256"), testSealer(t), "the algorithm is RS256 but the public key is ECDSA P-256"},
		{"ECDSA key of EdDSA", withAlg(ecKey(), "EdDSA"), testSealer(t), "the algorithm is EdDSA but the public key is ECDSA P-256"},
		{"Ed25519 key of RS256", withAlg(edKey(), "RS256"), testSealer(t), "the algorithm is RS256 but the public key is Ed25519"},
		{"Ed25519 key of ES256", withAlg(edKey(), "ES256"), testSealer(t), "the algorithm is ES256 but the public key is Ed25519"},
		{"ECDSA key of ES384", withAlg(ecKey(), "ES384"), testSealer(t), `"ES384"`},
		{"Ed25519 key of Ed25519", withAlg(edKey(), "Ed25519"), testSealer(t), `"Ed25519"`},
		{"algorithm of another case", withAlg(ecKey(), "es256"), testSealer(t), `"es256"`},
		{"P-384 public key", func() []*latchkey.SigningKey {
			a := ecKey()
			a.PublicKey = p384DER
			return []*latchkey.SigningKey{a}
		}, testSealer(t), "curve P-384"},
		{"ECDSA id not the thumbprint", func() []*latchkey.SigningKey {
			a := ecKey()
			a.ID = kidEd
			return []*latchkey.SigningKey{a}
		}, testSealer(t), "thumbprint"},
		{"Ed25519 id not the thumbprint", func() []*latchkey.SigningKey {
			a := edKey()
			a.ID = kidEC
			return []*latchkey.SigningKey{a}
		}, testSealer(t), "thumbprint"},

		// The sealed private key is of the public key's kind, and its pair.
		{"ECDSA key, RSA private key", withPrivate(ecKey(), key1), testSealer(t), "does not match the public key"},
		{"ECDSA key, Ed25519 private key", withPrivate(ecKey(), ed), testSealer(t), "does not match the public key"},
		{"ECDSA key, another ECDSA private key", withPrivate(ecKey(), privateKey(t, "ec2-pkcs8.pem")), testSealer(t), "does not match the public key"},
		{"Ed25519 key, ECDSA private key", withPrivate(edKey(), ec), testSealer(t), "does not match the public key"},
		{"Ed25519 key, another Ed25519 private key", withPrivate(edKey(), privateKey(t, "ed25519-2-pkcs8.pem")), testSealer(t), "does not match the public key"},
		{"RSA key, Ed25519 private key", withPrivate(k1(), ed), testSealer(t), "does not match the public key"},
		{"ECDSA key, P-384 private key", withPrivate(ecKey(), p384), testSealer(t), "does not match the public key"},
		{"Ed25519 key, X25519 private key", func() []*latchkey.SigningKey {
			a := edKey()
			der, err := x509.MarshalPKCS8PrivateKey(mustECDH(t, ed.(ed25519.PrivateKey).Seed()))
			if err != nil {
				t.Fatal(err)
			}
			a.SealedPrivateKey, _ = testSealer(t).Seal(a.ID, der)
			return []*latchkey.SigningKey{a}
		}, testSealer(t), "X25519"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := jwt.NewKeyring(tt.keys(), tt.sealer)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewKeyring() = %v, %v; want an error saying %q", r, err, tt.wantErr)
			}
			if d := key1.D.String(); strings.Contains(err.Error(), d[:20]) {
				t.Errorf("NewKeyring() error %q shows key material", err)
			}
			if d := base64.RawURLEncoding.EncodeToString(ed.(ed25519.PrivateKey).Seed()); strings.Contains(err.Error(), d[:20]) {
				t.Errorf("NewKeyring() error %q shows key material", err)
			}
		})
	}
}
