package jsonread_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/jsonread"
)

// TestDecodeObject: one object, nothing after it, no key twice, at most
// the members allowed; each member read by the caller.
func TestDecodeObject(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{`{}`, true},
		{`{"a":"x","b":["y"],"c":{"d":[1,{"e":null}]}}`, true},
		{` {"a":"x"} `, true},
		{`{"a":"x","a":"y"}`, false},
		{`{"a":"x"}{}`, false},
		{`{"a":"x"} x`, false},
		{`[]`, false},
		{`{"a":"x","b":"y","c":"z","d":"w"}`, false}, // four members, three allowed
		{`{"a":`, false},
	} {
		got := jsonread.DecodeObject([]byte(tc.in), 3, func(dec *json.Decoder, key string) bool {
			return jsonread.SkipValue(dec)
		})
		if got != tc.want {
			t.Errorf("DecodeObject(%s) = %t, want %t", tc.in, got, tc.want)
		}
	}
}

// TestReadStringOrStrings: a string is a list of one; an array holds
// strings only.
func TestReadStringOrStrings(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`"a"`, []string{"a"}},
		{`["a","b"]`, []string{"a", "b"}},
		{`[]`, []string{}},
		{`["a",1]`, nil},
		{`1`, nil},
		{`{"a":"b"}`, nil},
	} {
		dec := json.NewDecoder(stringsReader(tc.in))
		dec.UseNumber()
		got, ok := jsonread.ReadStringOrStrings(dec)
		if ok != (tc.want != nil) || len(got) != len(tc.want) {
			t.Errorf("ReadStringOrStrings(%s) = %q, %t; want %q", tc.in, got, ok, tc.want)
		}
	}
}

// FuzzDecodeObject: any input, any member reading: no panic, a date read
// is in range, and what is accepted is one valid JSON object.
func FuzzDecodeObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"exp":1.5,"aud":["a"]}`, `{"a":1,"a":2}`, `{"a":{"b":[`, `{"exp":1e400}`, `{"exp":-1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ok := jsonread.DecodeObject(data, 16, func(dec *json.Decoder, key string) bool {
			switch key {
			case "exp":
				d, ok := jsonread.ReadNumericDate(dec)
				if ok && (d.Before(time.Unix(0, 0)) || d.Unix() > jsonread.MaxNumericDate) {
					t.Fatalf("ReadNumericDate read %v, out of range", d)
				}
				return ok
			case "aud":
				_, ok := jsonread.ReadStringOrStrings(dec)
				return ok
			}
			return jsonread.SkipValue(dec)
		})
		if ok && (!json.Valid(data) || bytes.TrimSpace(data)[0] != '{') {
			t.Fatalf("DecodeObject(%q) accepted what is not one JSON object", data)
		}
	})
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
