package jwt_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/jwt"
)

// testKey is a key in testdata of each algorithm.
type testKey struct {
	alg, file, kid string
	sigSize        int
}

var testKeys = []testKey{
	{"RS256", "key1-pkcs1.pem", kid1, 256},
	{"ES256", "ec-pkcs8.pem", kidEC, 64},
	{"EdDSA", "ed25519-pkcs8.pem", kidEd, 64},
}

// keyOf returns the test key of alg.
func keyOf(t testing.TB, alg string) testKey {
	t.Helper()
	i := slices.IndexFunc(testKeys, func(k testKey) bool { return k.alg == alg })
	if i < 0 {
		t.Fatalf("no test key of %s", alg)
	}
	return testKeys[i]
}

// mixedKeyring returns a keyring of the three test keys, the key of alg
// signing and the other two retired an hour ago, newest first as the
// store lists them.
func mixedKeyring(t testing.TB, alg string) *jwt.Keyring {
	t.Helper()
	retired := now.Add(-time.Hour)
	var signing *latchkey.SigningKey
	var others []*latchkey.SigningKey
	for i, k := range testKeys {
		if k.alg == alg {
			signing = signingKey(t, privateKey(t, k.file), retired, time.Time{})
			continue
		}
		others = append(others, signingKey(t, privateKey(t, k.file), now.Add(-time.Duration(48+i)*time.Hour), retired))
	}
	return newKeyring(t, append([]*latchkey.SigningKey{signing}, others...)...)
}

// canonicalHeader is the header Sign writes for a key of alg and kid.
func canonicalHeader(alg, kid string) string {
	return `{"typ":"JWT","alg":"` + alg + `","kid":"` + kid + `"}`
}

// TestSignVerifyEachAlgorithm: a keyring signs with the algorithm of its
// signing key, writes it in the header with the kid, and verifies its
// tokens, whichever key of the three signs.
func TestSignVerifyEachAlgorithm(t *testing.T) {
	for _, k := range testKeys {
		t.Run(k.alg, func(t *testing.T) {
			r := mixedKeyring(t, k.alg)
			want := testClaims()
			token, kid, err := r.Sign(want)
			if err != nil {
				t.Fatal(err)
			}
			if kid != k.kid || r.SigningKeyID() != k.kid {
				t.Errorf("Sign() kid = %s, SigningKeyID() = %s, want %s", kid, r.SigningKeyID(), k.kid)
			}
			header, _, sig := segments(t, token)
			if got, want := dec(t, header), canonicalHeader(k.alg, k.kid); got != want {
				t.Errorf("header = %s, want %s", got, want)
			}
			if n := len(dec(t, sig)); n != k.sigSize {
				t.Errorf("the signature has %d bytes, want %d", n, k.sigSize)
			}
			if got := jwt.KeyID(token); got != k.kid {
				t.Errorf("KeyID() = %q, want %q", got, k.kid)
			}
			got, err := r.Verify(token, now)
			if err != nil {
				t.Fatalf("Verify() = %v", err)
			}
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Errorf("Verify() claims (-want +got):\n%s", diff)
			}
		})
	}
}

// TestVerifyAcceptsEachAlgorithm: headers other than the one Sign writes
// (so not the precomputed fast path) verify by each key's algorithm.
func TestVerifyAcceptsEachAlgorithm(t *testing.T) {
	r := mixedKeyring(t, "RS256")
	valid := claimsJSON(-time.Hour, -time.Hour, time.Hour)
	for _, k := range testKeys {
		priv := privateKey(t, k.file)
		for name, header := range map[string]string{
			"Sign's":        canonicalHeader(k.alg, k.kid),
			"another order": `{"kid":"` + k.kid + `","alg":"` + k.alg + `"}`,
			"more members":  `{"typ":"JWT","alg":"` + k.alg + `","kid":"` + k.kid + `","x5u":"https://example.com"}`,
		} {
			t.Run(k.alg+"/"+name, func(t *testing.T) {
				if _, err := r.Verify(signRaw(t, priv, header, valid), now); err != nil {
					t.Errorf("Verify(header %s) = %v", header, err)
				}
			})
		}
	}
}

// TestAlgorithmBinding: a token verifies only by the algorithm of the key
// its kid names, whatever its header says, on the precomputed path (the
// header Sign writes, but for alg) and on the parsed one (the members in
// another order). Each refusal has a control: the same token with the
// key's own algorithm in the header verifies.
func TestAlgorithmBinding(t *testing.T) {
	r := mixedKeyring(t, "ES256")
	valid := claimsJSON(-time.Hour, -time.Hour, time.Hour)
	var jwks map[string]any
	if err := json.Unmarshal(r.JWKS(), &jwks); err != nil {
		t.Fatal(err)
	}
	for _, k := range testKeys {
		priv := privateKey(t, k.file)
		headers := map[string]func(alg string) string{
			"canonical": func(alg string) string { return canonicalHeader(alg, k.kid) },
			"reordered": func(alg string) string { return `{"kid":"` + k.kid + `","alg":"` + alg + `"}` },
		}
		for form, header := range headers {
			if _, err := r.Verify(signRaw(t, priv, header(k.alg), valid), now); err != nil {
				t.Fatalf("%s: control: Verify(%s header, %s) = %v", k.alg, form, k.alg, err)
			}
			others := []string{"none", "None", "HS256", "HS384", "RS384", "PS256", "ES384", "ES512", "ES256K", "Ed25519", "Ed448",
				strings.ToLower(k.alg), strings.ToUpper(k.alg), k.alg + " ", ""}
			for _, o := range testKeys {
				others = append(others, o.alg)
			}
			others = slices.DeleteFunc(others, func(alg string) bool { return alg == k.alg })
			for _, alg := range others {
				t.Run(k.alg+"/"+form+"/"+alg, func(t *testing.T) {
					// Signed by the key the kid names, by its own
					// algorithm: only the header lies.
					if c, err := r.Verify(signRaw(t, priv, header(alg), valid), now); err != jwt.ErrInvalid {
						t.Errorf("Verify(alg %q, kid of %s key, %s signature) = %+v, %v; want ErrInvalid", alg, k.alg, k.alg, c, err)
					}
					if kid := jwt.KeyID(signRaw(t, priv, header(alg), valid)); kid != "" && !slices.Contains(jwt.Algorithms(), alg) {
						t.Errorf("KeyID(alg %q) = %q, want \"\"", alg, kid)
					}
				})
			}
			// Signed by the key of the algorithm the header names, with
			// the kid of another.
			for _, o := range testKeys {
				if o.alg == k.alg {
					continue
				}
				token := signRaw(t, privateKey(t, o.file), header(o.alg), valid)
				if c, err := r.Verify(token, now); err != jwt.ErrInvalid {
					t.Errorf("Verify(%s header with the kid of the %s key, signed by the %s key) = %+v, %v; want ErrInvalid", o.alg, k.alg, o.alg, c, err)
				}
			}
		}

		// HMAC with what is public of the key as the secret.
		der, err := x509.MarshalPKIXPublicKey(priv.Public())
		if err != nil {
			t.Fatal(err)
		}
		pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		var jwk []byte
		for _, key := range jwks["keys"].([]any) {
			if key.(map[string]any)["kid"] == k.kid {
				jwk, _ = json.Marshal(key)
			}
		}
		secrets := map[string][]byte{"PKIX DER": der, "PEM": pemKey, "trimmed PEM": []byte(strings.TrimSpace(string(pemKey))), "JWK": jwk, "JWKS": r.JWKS()}
		if ed, ok := priv.Public().(ed25519.PublicKey); ok {
			secrets["raw key"] = ed
		}
		if ec, ok := priv.Public().(*ecdsa.PublicKey); ok {
			secrets["point"], _ = ec.Bytes()
		}
		for name, secret := range secrets {
			for _, alg := range []string{"HS256", k.alg} {
				token := hs256(canonicalHeader(alg, k.kid), valid, secret)
				if c, err := r.Verify(token, now); err != jwt.ErrInvalid {
					t.Errorf("%s: Verify(HMAC-SHA256 with the %s as secret, alg %s) = %+v, %v; want ErrInvalid", k.alg, name, alg, c, err)
				}
			}
		}
		// Unsigned.
		for _, alg := range []string{"none", k.alg} {
			token := enc(canonicalHeader(alg, k.kid)) + "." + enc(valid) + "."
			if c, err := r.Verify(token, now); err != jwt.ErrInvalid {
				t.Errorf("%s: Verify(alg %s, no signature) = %+v, %v; want ErrInvalid", k.alg, alg, c, err)
			}
		}
	}
}

// TestSignatureEncodings: each algorithm's signature has one length and one
// spelling; for ES256, R and S of 32 bytes each, never DER.
func TestSignatureEncodings(t *testing.T) {
	r := mixedKeyring(t, "RS256")
	valid := claimsJSON(-time.Hour, -time.Hour, time.Hour)
	b64 := base64.RawURLEncoding
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for _, k := range testKeys {
		priv := privateKey(t, k.file)
		input := enc(canonicalHeader(k.alg, k.kid)) + "." + enc(valid)
		sig := rawSignature(t, priv, input)
		with := func(sig []byte) string { return input + "." + b64.EncodeToString(sig) }
		if _, err := r.Verify(with(sig), now); err != nil {
			t.Fatalf("%s: control: Verify() = %v", k.alg, err)
		}
		spelled := b64.EncodeToString(sig)
		last := strings.IndexByte(alphabet, spelled[len(spelled)-1])
		respelled := spelled[:len(spelled)-1] + string(alphabet[last|1])
		if b, err := b64.DecodeString(respelled); err != nil || string(b) != string(sig) || respelled == spelled {
			t.Fatalf("%s: the respelled signature decodes to other bytes", k.alg)
		}
		flipped := slices.Clone(sig)
		flipped[len(flipped)/2] ^= 1
		tests := map[string]string{
			"truncated":                 with(sig[:len(sig)-1]),
			"a zero byte more":          with(append(slices.Clone(sig), 0)),
			"a zero byte before":        with(append([]byte{0}, sig...)),
			"doubled":                   with(append(slices.Clone(sig), sig...)),
			"empty":                     input + ".",
			"all zeros":                 with(make([]byte, len(sig))),
			"flipped bit":               with(flipped),
			"respelled":                 input + "." + respelled,
			"padded":                    with(sig) + "==",
			"standard alphabet":         input + "." + base64.StdEncoding.EncodeToString(sig),
			"another input's signature": input + "x." + spelled,
		}
		switch priv := priv.(type) {
		case *ecdsa.PrivateKey:
			sum := sha256.Sum256([]byte(input))
			der, err := ecdsa.SignASN1(rand.Reader, priv, sum[:])
			if err != nil {
				t.Fatal(err)
			}
			tests["DER"] = with(der)
			// A zero byte before S: R and S read as numbers would
			// be the same, but the signature is 65 bytes.
			tests["S with a zero byte before"] = with(slices.Concat(sig[:32], []byte{0}, sig[32:]))
			tests["R and S swapped"] = with(slices.Concat(sig[32:], sig[:32]))
			tests["signed by another key"] = signRaw(t, privateKey(t, "ec2-pkcs8.pem"), canonicalHeader(k.alg, k.kid), valid)
			n := elliptic.P256().Params().N
			s := new(big.Int).SetBytes(sig[32:])
			tests["S plus the order"] = with(slices.Concat(sig[:32], new(big.Int).Add(s, n).Bytes()))
		case ed25519.PrivateKey:
			tests["signed by another key"] = signRaw(t, privateKey(t, "ed25519-2-pkcs8.pem"), canonicalHeader(k.alg, k.kid), valid)
			// S + L, the group's order: the same point, a signature
			// that is not canonical (RFC 8032, section 5.1.7).
			// S is little-endian.
			l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
			le := slices.Clone(sig[32:])
			slices.Reverse(le)
			s := new(big.Int).SetBytes(le)
			sl := new(big.Int).Add(s, l).FillBytes(make([]byte, 32))
			slices.Reverse(sl)
			tests["S plus the order"] = with(slices.Concat(sig[:32], sl))
		default:
			tests["signed by another key"] = signRaw(t, privateKey(t, "key2-pkcs8.pem"), canonicalHeader(k.alg, k.kid), valid)
		}
		for name, token := range tests {
			t.Run(k.alg+"/"+name, func(t *testing.T) {
				if c, err := r.Verify(token, now); err != jwt.ErrInvalid {
					t.Errorf("Verify(%.80q) = %+v, %v; want ErrInvalid", token, c, err)
				}
			})
		}
	}
}

// TestES256Malleable: (R, n−S) is a valid ECDSA signature when (R, S) is,
// so an ES256 token has a second spelling of the same claims, which
// verifies; docs/security.md says why that grants nothing.
func TestES256Malleable(t *testing.T) {
	r := mixedKeyring(t, "ES256")
	token, _, err := r.Sign(testClaims())
	if err != nil {
		t.Fatal(err)
	}
	head, claims, sig := segments(t, token)
	raw, _ := base64.RawURLEncoding.DecodeString(sig)
	s := new(big.Int).SetBytes(raw[32:])
	s.Sub(elliptic.P256().Params().N, s)
	other := head + "." + claims + "." + base64.RawURLEncoding.EncodeToString(slices.Concat(raw[:32], s.FillBytes(make([]byte, 32))))
	a, errA := r.Verify(token, now)
	b, errB := r.Verify(other, now)
	if errA != nil || errB != nil || !cmp.Equal(a, b) {
		t.Errorf("Verify(token) = %v, %v; Verify(token with n−S) = %v, %v; want the same claims twice", a, errA, b, errB)
	}
}

// TestRotationAcrossAlgorithms rotates from each algorithm to each other:
// the tokens of the retired key verify after the change, and the new key
// signs by its own algorithm.
func TestRotationAcrossAlgorithms(t *testing.T) {
	for _, from := range testKeys {
		for _, to := range testKeys {
			if from.alg == to.alg {
				continue
			}
			t.Run(from.alg+" to "+to.alg, func(t *testing.T) {
				rotated := now.Add(-time.Hour)
				old := signingKey(t, privateKey(t, from.file), now.Add(-48*time.Hour), time.Time{})
				before := newKeyring(t, old)
				oldToken, _, err := before.Sign(testClaims())
				if err != nil {
					t.Fatal(err)
				}
				old.RetiredAt = &rotated
				after := newKeyring(t, signingKey(t, privateKey(t, to.file), rotated, time.Time{}), old)
				newToken, kid, err := after.Sign(testClaims())
				if err != nil {
					t.Fatal(err)
				}
				header, _, _ := segments(t, newToken)
				if got, want := dec(t, header), canonicalHeader(to.alg, to.kid); got != want || kid != to.kid {
					t.Errorf("after rotation, Sign() header = %s, kid %s; want %s", got, kid, want)
				}
				for name, token := range map[string]string{"old": oldToken, "new": newToken} {
					if _, err := after.Verify(token, now); err != nil {
						t.Errorf("after rotation, Verify(%s token) = %v", name, err)
					}
				}
				if _, err := before.Verify(newToken, now); err != jwt.ErrInvalid {
					t.Errorf("before rotation, Verify(new token) = %v, want ErrInvalid", err)
				}
				// Once the old key no longer verifies (its tokens
				// expired), its tokens are refused.
				if _, err := newKeyring(t, signingKey(t, privateKey(t, to.file), rotated, time.Time{})).Verify(oldToken, now); err != jwt.ErrInvalid {
					t.Errorf("without the old key, Verify(old token) = %v, want ErrInvalid", err)
				}
			})
		}
	}
}

// TestKeyIDEachAlgorithm: KeyID names the kid of a header of any of the
// three algorithms, whatever the keys, and of no other.
func TestKeyIDEachAlgorithm(t *testing.T) {
	for _, tc := range []struct {
		alg  string
		want string
	}{
		{"RS256", "k2"}, {"ES256", "k2"}, {"EdDSA", "k2"},
		{"HS256", ""}, {"none", ""}, {"ES384", ""}, {"eddsa", ""}, {"Ed25519", ""}, {"es256", ""},
	} {
		token := enc(`{"alg":"`+tc.alg+`","kid":"k2"}`) + ".e30.AAAA"
		if got := jwt.KeyID(token); got != tc.want {
			t.Errorf("KeyID(alg %s) = %q, want %q", tc.alg, got, tc.want)
		}
	}
}

// TestKeyringPrintsNoSecretEachAlgorithm: no form of a keyring shows the
// private key, whichever its kind.
func TestKeyringPrintsNoSecretEachAlgorithm(t *testing.T) {
	for _, k := range testKeys {
		r := mixedKeyring(t, k.alg)
		der, err := x509.MarshalPKCS8PrivateKey(privateKey(t, k.file))
		if err != nil {
			t.Fatal(err)
		}
		secret := der[len(der)-32:] // the seed, the scalar, or the end of an RSA key
		b, _ := json.Marshal(r)
		for _, got := range []string{r.String(), r.GoString(), r.LogValue().String(), string(b)} {
			for _, spelled := range []string{string(secret), base64.RawURLEncoding.EncodeToString(secret), base64.StdEncoding.EncodeToString(secret)} {
				if strings.Contains(got, spelled) {
					t.Errorf("%s: %s shows the private key", k.alg, got)
				}
			}
		}
	}
}

// TestHeader: Header tells the alg and kid a token's header names,
// whatever they are, and refuses what Verify would not read as a header.
func TestHeader(t *testing.T) {
	for _, tc := range []struct {
		token    string
		alg, kid string
		ok       bool
	}{
		{enc(`{"alg":"ES256","kid":"k2"}`) + ".e30.AAAA", "ES256", "k2", true},
		{enc(`{"typ":"JWT","alg":"HS256","kid":"x"}`) + ".e30.AAAA", "HS256", "x", true},
		{enc(`{"alg":"RS256"}`) + ".e30.AAAA", "", "", false},                          // no kid
		{enc(`{"alg":"RS256","kid":"k","crit":["b64"]}`) + ".e30.AAAA", "", "", false}, // crit
		{enc(`{"alg":"RS256","kid":"k"}`) + ".e30", "", "", false},                     // two segments
		{"not a token", "", "", false},
	} {
		alg, kid, ok := jwt.Header(tc.token)
		if alg != tc.alg || kid != tc.kid || ok != tc.ok {
			t.Errorf("Header(%q) = %q, %q, %t; want %q, %q, %t", tc.token, alg, kid, ok, tc.alg, tc.kid, tc.ok)
		}
	}
}
