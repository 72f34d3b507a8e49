// Package webhook signs webhooks by the Standard Webhooks specification
// (https://www.standardwebhooks.com, version 1.0.0) and sends them to the
// URLs operators register, never to an address inside the network.
//
// A webhook is an HTTP POST of a JSON body with three headers:
// webhook-id, the message's id, the same on every attempt;
// webhook-timestamp, the attempt's time in Unix seconds; and
// webhook-signature, "v1," and the base64 HMAC-SHA256 of
// "id.timestamp.body" under the endpoint's secret, shown to the operator
// once as "whsec_" and its base64.
//
// The guard against server-side request forgery has two parts: CheckURL
// refuses, when a webhook is registered, a URL whose host is a private
// address or a local name, or an address in one of the forms only some
// resolvers read (0x7f.1, 2130706433); and a Sender refuses to connect to
// any address that is not public, checked on the address a name resolved
// to at the moment of connecting, so that a name pointing inside, or one
// that changes what it points to after it was checked, is refused too.
// The checks of hosts and addresses are internal/ssrf's, shared with
// the server's other fetches of URLs.
//
// Errors are short phrases fit to show an operator ("HTTP 500", "timed out
// after 10s"). None holds a secret nor the URL, whose path or query may
// carry one.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix begins a secret as it is shown.
const SecretPrefix = "whsec_"

// The lengths in bytes of a secret's key that ParseSecret accepts (the
// specification's 192 to 512 bits), and of the keys NewSecret makes.
const (
	MinKeyLength = 24
	MaxKeyLength = 64
	keyLength    = 32
)

// The headers of a webhook.
const (
	HeaderID        = "Webhook-Id"
	HeaderTimestamp = "Webhook-Timestamp"
	HeaderSignature = "Webhook-Signature"
)

// DefaultTolerance is how far a webhook's timestamp may be from the
// receiver's clock, either way, when Verify is given no tolerance.
const DefaultTolerance = 5 * time.Minute

// NewSecret returns a new random key of 32 bytes and the secret that shows
// it: SecretPrefix and its standard base64.
func NewSecret() (secret string, key []byte) {
	key = make([]byte, keyLength)
	rand.Read(key) // never fails: it crashes the program first
	return SecretPrefix + base64.StdEncoding.EncodeToString(key), key
}

// ParseSecret returns the key of a secret NewSecret made, or one made
// elsewhere the same way: SecretPrefix and the standard base64, padded, of
// MinKeyLength to MaxKeyLength bytes, with nothing before or after.
func ParseSecret(s string) ([]byte, error) {
	enc, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, errors.New("a webhook secret begins with " + SecretPrefix)
	}
	if len(enc) > base64.StdEncoding.EncodedLen(MaxKeyLength) {
		return nil, fmt.Errorf("a webhook secret's key is %d bytes at most", MaxKeyLength)
	}
	key, err := base64.StdEncoding.Strict().DecodeString(enc)
	// The decoder skips line breaks; the secret's text must be the key's
	// one encoding.
	if err != nil || base64.StdEncoding.EncodeToString(key) != enc {
		return nil, errors.New("a webhook secret is " + SecretPrefix + " and standard base64")
	}
	if len(key) < MinKeyLength || len(key) > MaxKeyLength {
		return nil, fmt.Errorf("a webhook secret's key is %d bytes; it must be %d to %d", len(key), MinKeyLength, MaxKeyLength)
	}
	return key, nil
}

// Sign returns the webhook-signature of a message: "v1," and the standard
// base64 of the HMAC-SHA256, under key, of msgID, ".", ts in Unix seconds,
// ".", and body. msgID must hold no ".", lest its end be read as the
// timestamp (Verify refuses one that does).
func Sign(key []byte, msgID string, ts time.Time, body []byte) string {
	return "v1," + mac(key, msgID, ts.Unix(), body)
}

// mac is the base64 HMAC that a v1 signature carries.
func mac(key []byte, msgID string, ts int64, body []byte) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msgID))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, ts, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// Verify checks that body and the webhook headers in h are a webhook
// signed with key, sent within tolerance of now (DefaultTolerance when
// tolerance is not positive): h holds one webhook-id with no "." in it, one
// webhook-timestamp of decimal digits, and webhook-signature, a list
// separated by spaces of which one "v1," entry matches. Signatures of
// other versions are skipped. It returns nil, or an error that says which
// check failed. h is read as net/http gives it, by canonical keys.
func Verify(key []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	id, err := single(h, HeaderID)
	if err != nil {
		return err
	}
	if strings.Contains(id, ".") {
		return errors.New("webhook-id has a dot")
	}
	text, err := single(h, HeaderTimestamp)
	if err != nil {
		return err
	}
	ts, err := seconds(text)
	if err != nil {
		return err
	}
	switch age := now.Sub(time.Unix(ts, 0)); {
	case age > tolerance:
		return fmt.Errorf("webhook-timestamp is %v old, more than %v", age.Truncate(time.Second), tolerance)
	case age < -tolerance:
		return fmt.Errorf("webhook-timestamp is %v ahead, more than %v", (-age).Truncate(time.Second), tolerance)
	}

	want := []byte(mac(key, id, ts, body))
	v1 := false
	for _, value := range h.Values(HeaderSignature) {
		for _, entry := range strings.Fields(value) {
			version, sig, _ := strings.Cut(entry, ",")
			if version != "v1" {
				continue
			}
			v1 = true
			if hmac.Equal([]byte(sig), want) {
				return nil
			}
		}
	}
	if !v1 {
		return errors.New("no v1 webhook-signature")
	}
	return errors.New("no webhook-signature matches")
}

// single returns the one non-empty value of header name in h.
func single(h http.Header, name string) (string, error) {
	switch vs := h.Values(name); {
	case len(vs) == 0 || vs[0] == "":
		return "", fmt.Errorf("no %s", strings.ToLower(name))
	case len(vs) > 1:
		return "", fmt.Errorf("more than one %s", strings.ToLower(name))
	default:
		return vs[0], nil
	}
}

// seconds reads a webhook-timestamp: decimal digits alone, so that a
// signature covers the one way of writing it.
func seconds(s string) (int64, error) {
	bad := errors.New("webhook-timestamp is not a number of seconds")
	if s == "" || strings.TrimLeft(s, "0123456789") != "" || (len(s) > 1 && s[0] == '0') {
		return 0, bad
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, bad
	}
	return n, nil
}
