package webhook_test

import (
	"bytes"
	"encoding/base64"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/webhook"
)

// The test vector of the specification's reference libraries
// (standard-webhooks, libraries/go/webhook_test.go, TestWebhookSign).
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func vectorKey(t testing.TB) []byte {
	t.Helper()
	key, err := webhook.ParseSecret(vectorSecret)
	if err != nil {
		t.Fatalf("ParseSecret(%q) = %v", vectorSecret, err)
	}
	return key
}

func TestSignVector(t *testing.T) {
	got := webhook.Sign(vectorKey(t), vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody))
	if got != vectorSignature {
		t.Errorf("Sign(vector) = %q, want %q", got, vectorSignature)
	}
	// A time's fraction of a second is not signed.
	if got := webhook.Sign(vectorKey(t), vectorID, time.Unix(vectorTimestamp, 999_999_999), []byte(vectorBody)); got != vectorSignature {
		t.Errorf("Sign(vector + 0.999999999 s) = %q, want %q", got, vectorSignature)
	}
}

func TestNewSecret(t *testing.T) {
	secret, key := webhook.NewSecret()
	if !strings.HasPrefix(secret, webhook.SecretPrefix) || len(key) != 32 {
		t.Fatalf("NewSecret() = %q and %d bytes, want %s and 32 bytes", secret, len(key), webhook.SecretPrefix)
	}
	parsed, err := webhook.ParseSecret(secret)
	if err != nil || !bytes.Equal(parsed, key) {
		t.Errorf("ParseSecret(NewSecret()) = %x, %v, want %x", parsed, err, key)
	}
	if other, _ := webhook.NewSecret(); other == secret {
		t.Errorf("NewSecret() twice = %q both times", secret)
	}
}

func TestParseSecret(t *testing.T) {
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xa7}, n)) }
	for _, tc := range []struct {
		name, secret string
		want         string // the error, "" for none
	}{
		{"vector", vectorSecret, ""},
		{"24 bytes", "whsec_" + b64(24), ""},
		{"64 bytes", "whsec_" + b64(64), ""},
		{"25 bytes, padded", "whsec_" + b64(25), ""},
		{"23 bytes", "whsec_" + b64(23), "a webhook secret's key is 23 bytes; it must be 24 to 64"},
		{"65 bytes", "whsec_" + b64(65), "a webhook secret's key is 65 bytes; it must be 24 to 64"},
		{"67 bytes", "whsec_" + b64(67), "a webhook secret's key is 64 bytes at most"},
		{"a megabyte", "whsec_" + b64(1<<20), "a webhook secret's key is 64 bytes at most"},
		{"empty", "", "a webhook secret begins with whsec_"},
		{"prefix alone", "whsec_", "a webhook secret's key is 0 bytes; it must be 24 to 64"},
		{"no prefix", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "a webhook secret begins with whsec_"},
		{"prefix in capitals", "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "a webhook secret begins with whsec_"},
		{"space before", " whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "a webhook secret begins with whsec_"},
		{"space after", vectorSecret + " ", "a webhook secret is whsec_ and standard base64"},
		{"line break inside", "whsec_MfKQ9r8GKYqrTwjU\nPD8ILPZIo2LaLaSw", "a webhook secret is whsec_ and standard base64"},
		{"line break after", vectorSecret + "\r\n", "a webhook secret is whsec_ and standard base64"},
		{"+ and /", "whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb, 0xff, 0xbf}, 10)), ""},
		{"URL alphabet", "whsec_" + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb, 0xff, 0xbf}, 10)), "a webhook secret is whsec_ and standard base64"},
		{"unpadded", "whsec_" + strings.TrimRight(b64(25), "="), "a webhook secret is whsec_ and standard base64"},
		{"nonzero padding bits", "whsec_" + b64(25)[:len(b64(25))-3] + "x==", "a webhook secret is whsec_ and standard base64"},
		{"not base64", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa!w", "a webhook secret is whsec_ and standard base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := webhook.ParseSecret(tc.secret)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("ParseSecret(%q) = %v, want a key", tc.secret, err)
				}
				if enc := webhook.SecretPrefix + base64.StdEncoding.EncodeToString(key); enc != tc.secret {
					t.Errorf("ParseSecret(%q) = a key shown as %q", tc.secret, enc)
				}
				return
			}
			if err == nil || err.Error() != tc.want {
				t.Fatalf("ParseSecret(%q) = %x, %v, want %q", tc.secret, key, err, tc.want)
			}
			if rest := strings.TrimPrefix(strings.TrimSpace(tc.secret), "whsec_"); len(rest) > 8 && strings.Contains(err.Error(), rest[:8]) {
				t.Errorf("ParseSecret(%q) = %q, which shows the secret", tc.secret, err)
			}
		})
	}
}

// signed returns the headers of the vector's webhook.
func signed() http.Header {
	h := http.Header{}
	h.Set("webhook-id", vectorID)
	h.Set("webhook-timestamp", strconv.Itoa(vectorTimestamp))
	h.Set("webhook-signature", vectorSignature)
	return h
}

// input is what Verify is given.
type input struct {
	h         http.Header
	body, key []byte
	now       time.Time
	tolerance time.Duration
}

func TestVerify(t *testing.T) {
	at := time.Unix(vectorTimestamp, 0)
	other, _ := webhook.NewSecret()
	otherKey, _ := webhook.ParseSecret(other)
	for _, tc := range []struct {
		name   string
		change func(in *input)
		want   string // the error, "" for none
	}{
		{"vector", nil, ""},
		{"tampered body", func(in *input) {
			in.body = []byte(`{"test": 2432232315}`)
		}, "no webhook-signature matches"},
		{"body with a space more", func(in *input) {
			in.body = []byte(`{"test": 2432232314} `)
		}, "no webhook-signature matches"},
		{"tampered id", func(in *input) {
			in.h.Set("webhook-id", vectorID+"x")
		}, "no webhook-signature matches"},
		{"tampered timestamp", func(in *input) {
			in.h.Set("webhook-timestamp", strconv.Itoa(vectorTimestamp+1))
		}, "no webhook-signature matches"},
		{"another key", func(in *input) {
			in.key = otherKey
		}, "no webhook-signature matches"},
		{"signature in other case", func(in *input) {
			in.h.Set("webhook-signature", strings.ToLower(vectorSignature))
		}, "no webhook-signature matches"},
		{"signature with a character more", func(in *input) {
			in.h.Set("webhook-signature", vectorSignature+"=")
		}, "no webhook-signature matches"},
		{"signature cut short", func(in *input) {
			in.h.Set("webhook-signature", vectorSignature[:len(vectorSignature)-1])
		}, "no webhook-signature matches"},
		{"signature unpadded", func(in *input) {
			in.h.Set("webhook-signature", strings.TrimSuffix(vectorSignature, "="))
		}, "no webhook-signature matches"},
		{"v1 with nothing", func(in *input) {
			in.h.Set("webhook-signature", "v1,")
		}, "no webhook-signature matches"},

		{"several, the good one third", func(in *input) {
			in.h.Set("webhook-signature", "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg== "+vectorSignature+" v2,abc")
		}, ""},
		{"several, spaced widely", func(in *input) {
			in.h.Set("webhook-signature", "  v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=   "+vectorSignature+"  ")
		}, ""},
		{"several header lines", func(in *input) {
			in.h.Set("webhook-signature", "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=")
			in.h.Add("webhook-signature", vectorSignature)
		}, ""},
		{"several, none good", func(in *input) {
			in.h.Set("webhook-signature", "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=")
		}, "no webhook-signature matches"},
		{"the good one as another version", func(in *input) {
			in.h.Set("webhook-signature", "v1a,"+strings.TrimPrefix(vectorSignature, "v1,")+" v2,"+strings.TrimPrefix(vectorSignature, "v1,"))
		}, "no v1 webhook-signature"},
		{"the good one with =", func(in *input) {
			in.h.Set("webhook-signature", "v1="+strings.TrimPrefix(vectorSignature, "v1,"))
		}, "no v1 webhook-signature"},
		{"no signature", func(in *input) {
			in.h.Del("webhook-signature")
		}, "no v1 webhook-signature"},

		{"no id", func(in *input) {
			in.h.Del("webhook-id")
		}, "no webhook-id"},
		{"empty id", func(in *input) {
			in.h.Set("webhook-id", "")
		}, "no webhook-id"},
		{"two ids", func(in *input) {
			in.h.Add("webhook-id", "msg_other")
		}, "more than one webhook-id"},
		{"id with a dot", func(in *input) {
			in.h.Set("webhook-id", "msg.1")
		}, "webhook-id has a dot"},
		{"no timestamp", func(in *input) {
			in.h.Del("webhook-timestamp")
		}, "no webhook-timestamp"},
		{"two timestamps", func(in *input) {
			in.h.Add("webhook-timestamp", strconv.Itoa(vectorTimestamp))
		}, "more than one webhook-timestamp"},

		{"5 minutes old", func(in *input) {
			in.now = in.now.Add(5 * time.Minute)
		}, ""},
		{"5 minutes and a second old", func(in *input) {
			in.now = in.now.Add(5*time.Minute + time.Second)
		}, "webhook-timestamp is 5m1s old, more than 5m0s"},
		{"5 minutes ahead", func(in *input) {
			in.now = in.now.Add(-5 * time.Minute)
		}, ""},
		{"5 minutes and a second ahead", func(in *input) {
			in.now = in.now.Add(-5*time.Minute - time.Second)
		}, "webhook-timestamp is 5m1s ahead, more than 5m0s"},
		{"a year old", func(in *input) {
			in.now = in.now.AddDate(1, 0, 0)
		}, "webhook-timestamp is 8760h0m0s old, more than 5m0s"},
		{"a second old, tolerance a second", func(in *input) {
			in.now, in.tolerance = in.now.Add(time.Second), time.Second
		}, ""},
		{"two seconds old, tolerance a second", func(in *input) {
			in.now, in.tolerance = in.now.Add(2*time.Second), time.Second
		}, "webhook-timestamp is 2s old, more than 1s"},
		{"tolerance none is the default", func(in *input) {
			in.now, in.tolerance = in.now.Add(4*time.Minute), 0
		}, ""},
		{"an old timestamp signed", func(in *input) {
			in.h.Set("webhook-timestamp", strconv.Itoa(vectorTimestamp-3600))
			in.h.Set("webhook-signature", webhook.Sign(in.key, vectorID, time.Unix(vectorTimestamp-3600, 0), in.body))
		}, "webhook-timestamp is 1h0m0s old, more than 5m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &input{signed(), []byte(vectorBody), vectorKey(t), at, 5 * time.Minute}
			if tc.change != nil {
				tc.change(in)
			}
			err := webhook.Verify(in.key, in.h, in.body, in.now, in.tolerance)
			if got := errText(err); got != tc.want {
				t.Errorf("Verify(%q, %v) = %q, want %q", in.body, in.h, got, tc.want)
			}
		})
	}
}

// TestVerifyTimestamp checks that a timestamp is read in one way alone: a
// signature made over one way of writing it does not cover another.
func TestVerifyTimestamp(t *testing.T) {
	for _, ts := range []string{"+1614265330", "01614265330", " 1614265330", "1614265330 ", "1614265330.0", "1.614265330e9", "0x603835f2", "-1614265330", "99999999999999999999", "1614265330s", "١٦١٤٢٦٥٣٣٠"} {
		h := signed()
		h.Set("webhook-timestamp", ts)
		err := webhook.Verify(vectorKey(t), h, []byte(vectorBody), time.Unix(vectorTimestamp, 0), 0)
		if want := "webhook-timestamp is not a number of seconds"; errText(err) != want {
			t.Errorf("Verify(webhook-timestamp %q) = %v, want %q", ts, err, want)
		}
	}
}

// TestVerifyConstantTime checks that Verify compares signatures in
// constant time: it calls hmac.Equal, and compares no two values with ==,
// !=, bytes.Equal or the like, whose time tells how many bytes matched.
func TestVerifyConstantTime(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "webhook.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var verify *ast.FuncDecl
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == "Verify" {
			verify = fd
		}
	}
	if verify == nil {
		t.Fatal("webhook.go has no func Verify")
	}
	constant := func(e ast.Expr) bool {
		switch e := e.(type) {
		case *ast.BasicLit:
			return true
		case *ast.Ident:
			return e.Name == "nil" || e.Name == "true" || e.Name == "false"
		}
		return false
	}
	hmacEqual := false
	ast.Inspect(verify.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BinaryExpr:
			if (n.Op == token.EQL || n.Op == token.NEQ) && !constant(n.X) && !constant(n.Y) {
				t.Errorf("%v: Verify compares two values with %v", fset.Position(n.Pos()), n.Op)
			}
		case *ast.SelectorExpr:
			if x, ok := n.X.(*ast.Ident); ok {
				switch name := x.Name + "." + n.Sel.Name; name {
				case "hmac.Equal", "subtle.ConstantTimeCompare":
					hmacEqual = true
				case "bytes.Equal", "bytes.Compare", "strings.Compare", "strings.EqualFold", "slices.Equal", "reflect.DeepEqual":
					t.Errorf("%v: Verify calls %s", fset.Position(n.Pos()), name)
				}
			}
		}
		return true
	})
	if !hmacEqual {
		t.Error("Verify does not call hmac.Equal")
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
