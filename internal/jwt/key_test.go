package jwt_test

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/jwt"
)

func TestParsePrivateKeyPEM(t *testing.T) {
	key1 := privateKey(t, "key1-pkcs1.pem")
	corrupt := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("not DER")})
	tests := []struct {
		name    string
		data    []byte
		want    *rsa.PrivateKey // nil: any key
		wantErr string
	}{
		{"PKCS #1", readFile(t, "key1-pkcs1.pem"), key1, ""},
		{"PKCS #8", readFile(t, "key1-pkcs8.pem"), key1, ""},
		{"PKCS #8, text before", append([]byte("Bag Attributes\n"), readFile(t, "key1-pkcs8.pem")...), key1, ""},
		{"another PKCS #8", readFile(t, "key2-pkcs8.pem"), nil, ""},
		{"encrypted PKCS #1", readFile(t, "encrypted-pkcs1.pem"), nil, "encrypted"},
		{"encrypted PKCS #8", readFile(t, "encrypted-pkcs8.pem"), nil, "encrypted"},
		{"ECDSA PKCS #8", readFile(t, "ec-pkcs8.pem"), nil, "ECDSA, not RSA"},
		{"ECDSA SEC 1", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{0}}), nil, "ECDSA, not RSA"},
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
			if tt.want != nil && !got.Equal(tt.want) {
				t.Error("ParsePrivateKeyPEM() returned another key")
			}
		})
	}
}

func TestParsePublicKeyPEM(t *testing.T) {
	key1 := &privateKey(t, "key1-pkcs1.pem").PublicKey
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
		want    *rsa.PublicKey
		wantErr string
	}{
		{"PKIX", readFile(t, "key1-public.pem"), key1, ""},
		{"PKCS #1", readFile(t, "key1-rsa-public.pem"), key1, ""},
		{"ECDSA", readFile(t, "ec-public.pem"), nil, "ECDSA, not RSA"},
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
			if !got.Equal(tt.want) {
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
	key1 := privateKey(t, "key1-pkcs8.pem")
	tests := []struct {
		name    string
		public  string
		wantErr bool
	}{
		{"PKIX of the pair", "key1-public.pem", false},
		{"PKCS #1 of the pair", "key1-rsa-public.pem", false},
		{"another key", "key2-public.pem", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub, err := jwt.ParsePublicKeyPEM(readFile(t, tt.public))
			if err != nil {
				t.Fatal(err)
			}
			if err := jwt.CheckKeyPair(key1, pub); (err != nil) != tt.wantErr {
				t.Errorf("CheckKeyPair(key1, %s) = %v, want error %t", tt.public, err, tt.wantErr)
			}
		})
	}
}

func TestNewSigningKey(t *testing.T) {
	priv := privateKey(t, "key1-pkcs1.pem")
	s := testSealer(t)
	k, err := jwt.NewSigningKey(priv, s, now)
	if err != nil {
		t.Fatal(err)
	}
	if k.ID != kid1 || k.Algorithm != "RS256" || !k.CreatedAt.Equal(now) || k.RetiredAt != nil {
		t.Errorf("NewSigningKey() = {ID: %s, Algorithm: %s, CreatedAt: %v, RetiredAt: %v}, want {%s, RS256, %v, nil}",
			k.ID, k.Algorithm, k.CreatedAt, k.RetiredAt, kid1, now)
	}
	pub, err := x509.ParsePKIXPublicKey(k.PublicKey)
	if err != nil || !priv.PublicKey.Equal(pub) {
		t.Errorf("PublicKey is not the PKIX DER of the public key: %v", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(k.SealedPrivateKey, der[len(der)-64:]) {
		t.Error("SealedPrivateKey holds the private key in the clear")
	}
	opened, err := s.Open(k.ID, k.SealedPrivateKey)
	if err != nil || !bytes.Equal(opened, der) {
		t.Errorf("Open(SealedPrivateKey) = %v; want the PKCS #8 DER of the key", err)
	}

	small, err := x509.ParsePKCS1PrivateKey(pemBytes(t, readFile(t, "small-pkcs1.pem")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.NewSigningKey(small, s, now); err == nil || !strings.Contains(err.Error(), "1024 bits") {
		t.Errorf("NewSigningKey(1024 bits) = %v, want an error about its size", err)
	}
}

func TestGenerateKey(t *testing.T) {
	if testing.Short() {
		t.Skip("generating a key is slow")
	}
	priv, err := jwt.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if bits := priv.N.BitLen(); bits != 2048 {
		t.Errorf("GenerateKey() has %d bits, want 2048", bits)
	}
	r := newKeyring(t, signingKey(t, priv, now, time.Time{}))
	token, _, err := r.Sign(testClaims())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Verify(token, now); err != nil {
		t.Errorf("Verify() = %v", err)
	}
}

func TestNewKeyringRefuses(t *testing.T) {
	key1, key2 := privateKey(t, "key1-pkcs1.pem"), privateKey(t, "key2-pkcs8.pem")
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
		})
	}
}
