package wire

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// samplePage is a list page of n tokens as the API sends it.
func samplePage(n int) TokenList {
	now := time.Date(2026, 3, 1, 17, 45, 10, 0, time.UTC)
	exp := now.AddDate(1, 0, 0)
	client := &latchkey.Client{ID: 1, Name: "Latchkey Personal Access Client", Redirect: "http://localhost", PersonalAccessClient: true, CreatedAt: now, UpdatedAt: now}
	l := TokenList{Data: make([]UserToken, n)}
	for i := range l.Data {
		l.Data[i] = FromToken(&latchkey.Token{ID: strings.Repeat("ab", 40), UserID: 2, ClientID: 1, Name: "nightly export",
			Scopes: latchkey.Scopes{"tokens.read"}, CreatedAt: now, UpdatedAt: now, ExpiresAt: &exp, Client: client})
	}
	return l
}

func TestFieldErrorsRoundTrip(t *testing.T) {
	fe := FieldErrors{{Field: "name", Sentences: []string{"a", "b"}}, {Field: "scopes", Sentences: []string{"c"}}}
	b, err := json.Marshal(fe)
	if err != nil || string(b) != `{"name":["a","b"],"scopes":["c"]}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var back FieldErrors
	if err := json.Unmarshal(b, &back); err != nil || len(back) != 2 || back[1].Field != "scopes" {
		t.Errorf("Unmarshal = %+v, %v", back, err)
	}
}

func TestDateRoundTrip(t *testing.T) {
	d := Date{time.Date(2026, 3, 1, 17, 45, 10, 123456789, time.FixedZone("x", 3600))}
	b, _ := json.Marshal(d)
	if string(b) != `"2026-03-01T16:45:10.123456Z"` {
		t.Errorf("Marshal = %s, want UTC with six digits and Z", b)
	}
	var back Date
	if err := json.Unmarshal([]byte(`"2026-03-01T17:45:10+01:00"`), &back); err != nil || !back.Equal(time.Date(2026, 3, 1, 16, 45, 10, 0, time.UTC)) {
		t.Errorf("Unmarshal = %v, %v", back, err)
	}
}

// BenchmarkEncodeListPage is the JSON encoding of a page of 50 tokens.
func BenchmarkEncodeListPage(b *testing.B) {
	page := samplePage(50)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := json.NewEncoder(&buf).Encode(page); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}

// encodingJSON is what encoding/json writes for v, HTML escaping off,
// without the trailing newline.
func encodingJSON(t testing.TB, v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// FuzzAppend: the Append methods write exactly what encoding/json writes,
// for any strings in any field.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"nightly export", "", `<b>"quoted" & \back\</b>`, "tab\there\nnewline", "\x00\x1f\x7f", "é ünï 𝄞", "\xff\xfe bad", "\u2028\u2029", "\xed\xa0\x80"} {
		f.Add(s, s+"x", int64(7), true)
	}
	f.Fuzz(func(t *testing.T, name, other string, n int64, flag bool) {
		page := samplePage(2)
		page.Data[0].Name, page.Data[1].Name = name, other
		page.Data[1].Scopes = []string{name, other}
		page.Data[1].LastUsedAt = &Date{time.Unix(n%1e12, n%1e9).UTC()}
		page.Data[0].CreatedAt = Date{time.Unix(-n%1e11, 0)}
		page.Data[0].Client.Provider = &other
		page.Data[0].Client.UserID = &n
		page.Data[0].Revoked = flag
		page.Data[1].AllowedIPs = []string{name, other}
		page.Data[1].LastUsedIP = &name
		page.Data[1].RecentIPs = []AddrUse{{IP: other, FirstSeen: Date{time.Unix(n%1e12, 0)}, LastSeen: Date{time.Unix(n%1e11, n%1e9)}}}
		page.Data[0].RevokedReason, page.Data[0].RotatedTo = &other, &name
		url := "/api/1.0/users/2/tokens?filter=" + other
		from := int(n % 1000)
		page.Meta = Meta{Filter: name, SortBy: other, Count: 2, From: &from, Form: &from, Links: []Link{{URL: &url, Label: name, Active: flag}, {Label: "Next &raquo;"}}, Path: other}
		fields := FieldErrors{{Field: name, Sentences: []string{other, name}}, {Field: other}}
		for _, v := range []Appender{&page, &page.Data[0], &page.Data[1],
			&CreatedToken{UserToken: page.Data[0], AccessToken: other, Token: page.Data[0]},
			Problem{}, Problem{Error: name}, Problem{Message: other}, Problem{Error: name, Message: other},
			Problem{Message: name, Errors: fields}, Problem{Errors: fields}, Problem{Errors: FieldErrors{}}} {
			if got, want := string(v.AppendJSON(nil)), encodingJSON(t, v); got != want {
				t.Fatalf("AppendJSON differs from encoding/json:\n got %s\nwant %s", got, want)
			}
		}
	})
}

// BenchmarkAppendListPage is BenchmarkEncodeListPage's page, appended.
func BenchmarkAppendListPage(b *testing.B) {
	page := samplePage(50)
	buf := make([]byte, 0, 64<<10)
	b.ReportAllocs()
	for b.Loop() {
		buf = page.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

// FuzzAppendToken: AppendToken writes exactly what FromToken's UserToken
// appends, whichever fields are set, and AppendTokens a list page's data.
func FuzzAppendToken(f *testing.F) {
	for _, s := range []string{"nightly export", "", `<b>"quoted" & \back\</b>`, "\x00\x1f\x7f", "é ünï 𝄞", "\xff\xfe bad", "\u2028"} {
		f.Add(s, s+"x", int64(7), uint8(0xff), "10.0.0.0/8")
		f.Add(s, "", int64(-1e12), uint8(0), "::1/128")
	}
	f.Fuzz(func(t *testing.T, name, other string, n int64, set uint8, prefix string) {
		has := func(bit uint) bool { return set&(1<<bit) != 0 }
		at := time.Unix(n%1e11, n%1e9)
		later := at.Add(time.Duration(n % 1e15))
		c := &latchkey.Client{ID: n, Name: other, Redirect: name, PersonalAccessClient: has(0), PasswordClient: has(1), Revoked: has(2), CreatedAt: at, UpdatedAt: later}
		tok := &latchkey.Token{ID: name, UserID: n, ClientID: -n, Name: other, Revoked: has(3), CreatedAt: later, UpdatedAt: at, Client: c,
			ParentID: other, RotatedFrom: name, LastUsedIP: other, RevokedReason: latchkey.RevokeReason(name)}
		if has(4) {
			tok.Scopes = latchkey.Scopes{name, other}
			c.UserID, c.Provider = &n, &other
		}
		if has(5) {
			tok.ExpiresAt, tok.RevokedAt = &later, &at
			tok.RecentIPs = []latchkey.AddrUse{{Address: name, FirstSeen: at, LastSeen: later}, {Address: other}}
		}
		if has(6) {
			tok.LastUsedAt = &at
			tok.RotatedTo = name + other
		}
		if p, err := netip.ParsePrefix(prefix); err == nil && has(7) {
			tok.AllowedIPs = []netip.Prefix{p, p.Masked()}
		}
		ut := FromToken(tok)
		if got, want := string(AppendToken(nil, tok)), string(ut.AppendJSON(nil)); got != want {
			t.Fatalf("AppendToken differs from FromToken's:\n got %s\nwant %s", got, want)
		}
		page := TokenList{Data: []UserToken{ut, ut}}
		data, _, _ := strings.Cut(strings.TrimPrefix(string(page.AppendJSON(nil)), `{"data":`), `,"meta":`)
		if got := string(AppendTokens(nil, []*latchkey.Token{tok, tok})); got != data {
			t.Fatalf("AppendTokens differs from a TokenList's data:\n got %s\nwant %s", got, data)
		}
	})
}

// sampleTokens are samplePage's tokens as the store gives them.
func sampleTokens(n int) []*latchkey.Token {
	ts := make([]*latchkey.Token, n)
	for i, u := range samplePage(n).Data {
		ts[i] = u.Domain()
	}
	return ts
}

// BenchmarkAppendTokens is the data of a page of 50 tokens, appended from
// the store's tokens: with FromToken's copy first (as the list answered
// before AppendToken), and without.
func BenchmarkAppendTokens(b *testing.B) {
	ts := sampleTokens(50)
	buf := make([]byte, 0, 64<<10)
	b.Run("FromToken", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l := TokenList{Data: make([]UserToken, len(ts))}
			for i, t := range ts {
				l.Data[i] = FromToken(t)
			}
			buf = l.AppendJSON(buf[:0])
		}
	})
	b.Run("AppendTokens", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = AppendTokens(buf[:0], ts)
		}
	})
}
