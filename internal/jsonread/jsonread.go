// Package jsonread reads untrusted JSON strictly, token by token, as the
// verifiers of JWTs need it: the server's (internal/jwt) and the one
// resource servers import (package resource) read a token's header and
// claims, and a key set, with it. An object is valid only with no key
// twice (parsers disagree on which one counts) and a bounded number of
// members; a NumericDate is a number in [0, MaxNumericDate]; anything
// else is refused, never guessed at.
package jsonread

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// MaxNumericDate is the last second of year 9999: the range of a
// NumericDate read is [0, MaxNumericDate].
const MaxNumericDate = 253402300799

// DecodeObject reads data, which must be one JSON object and nothing
// more, as ReadObject does.
func DecodeObject(data []byte, most int, member func(dec *json.Decoder, key string) bool) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if !ReadObject(dec, most, member) {
		return false
	}
	_, err := dec.Token()
	return err == io.EOF
}

// ReadObject reads one JSON object from dec, calling member with each key
// and the decoder before its value; member reads the value and reports
// whether it is valid. A key that appears twice makes the object
// invalid, and so do more than most members.
func ReadObject(dec *json.Decoder, most int, member func(dec *json.Decoder, key string) bool) bool {
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	seen := make(map[string]bool, 8)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		key, ok := t.(string)
		if !ok || seen[key] || len(seen) == most {
			return false
		}
		seen[key] = true
		if !member(dec, key) {
			return false
		}
	}
	t, err := dec.Token()
	return err == nil && t == json.Delim('}')
}

// ReadString reads a string.
func ReadString(dec *json.Decoder) (string, bool) {
	t, err := dec.Token()
	s, ok := t.(string)
	return s, err == nil && ok
}

// ReadStrings reads an array of strings; an empty one is not nil.
func ReadStrings(dec *json.Decoder) ([]string, bool) {
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return nil, false
	}
	return readStringsAfter(dec)
}

// ReadStringOrStrings reads one string, as a list of one, or an array of
// strings: a JWT's aud.
func ReadStringOrStrings(dec *json.Decoder) ([]string, bool) {
	t, err := dec.Token()
	if err != nil {
		return nil, false
	}
	if s, ok := t.(string); ok {
		return []string{s}, true
	}
	if t != json.Delim('[') {
		return nil, false
	}
	return readStringsAfter(dec)
}

// readStringsAfter reads the strings of an array whose '[' was read, and
// its ']'.
func readStringsAfter(dec *json.Decoder) ([]string, bool) {
	a := []string{}
	for dec.More() {
		s, ok := ReadString(dec)
		if !ok {
			return nil, false
		}
		a = append(a, s)
	}
	t, err := dec.Token()
	return a, err == nil && t == json.Delim(']')
}

// ReadNumericDate reads a NumericDate (RFC 7519 section 2): seconds since
// the epoch, maybe with a fraction (lcobucci/jwt, Passport's, writes
// microseconds). The decoder must have UseNumber set.
func ReadNumericDate(dec *json.Decoder) (time.Time, bool) {
	t, err := dec.Token()
	n, ok := t.(json.Number)
	if err != nil || !ok {
		return time.Time{}, false
	}
	return ParseNumericDate(string(n))
}

// ParseNumericDate parses the text of a JSON number as a NumericDate in
// [0, MaxNumericDate]. Plain decimals are read exactly, to the
// nanosecond; a number with an exponent through float64.
func ParseNumericDate(s string) (time.Time, bool) {
	if strings.HasPrefix(s, "-") {
		return time.Time{}, false
	}
	if strings.ContainsAny(s, "eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || !(f >= 0 && f <= MaxNumericDate) {
			return time.Time{}, false
		}
		sec := math.Floor(f)
		return time.Unix(int64(sec), int64((f-sec)*1e9)).UTC(), true
	}
	whole, frac, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || sec > MaxNumericDate {
		return time.Time{}, false
	}
	var nsec int64
	for i := range 9 {
		nsec *= 10
		if i < len(frac) {
			nsec += int64(frac[i] - '0')
		}
	}
	return time.Unix(sec, nsec).UTC(), true
}

// SkipValue reads one value of any kind.
func SkipValue(dec *json.Decoder) bool {
	depth := 0
	for {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return true
		}
	}
}
