package mail_test

import (
	"fmt"
	netmail "net/mail"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/mail"
)

// FuzzNew feeds New URLs of the form SCHEME://USER:PASSWORD@REST, whatever
// each piece holds. Properties: New and Redact never panic; the password
// (marked by a prefix and a suffix the other pieces lack) is in none of
// Redact's result, New's error, or an accepted Mailer's String, %#v or log
// value; and an accepted Mailer's String is a URL New accepts again, to the
// same String.
func FuzzNew(f *testing.F) {
	for _, seed := range [][4]string{
		{"smtp", "u", "pw", "mail.example.com"},              // valid
		{"smtps", "notify%40example.com", "p%40ss", "h:465"}, // escapes
		{"smtp", "u", "p@ss/w?r#d", "h"},                     // unescaped: path, query, fragment
		{"smtp", "u", "pw", "[::1]:2525"},
		{"smtp", "u", "pw", "[fe80::1%25en0]"},
		{"smtp", "u", "pw", "h:70000"},
		{"smtp", "u", "%zz", "h"},
		{"smtp", "", "pw", "h"},
		{"smtp", "u:x", "pw", "h"},
		{"smtp", "u@x", "pw", "h"},
		{"SMTP", "u", "pw", "h/x?y#z"},
		{"http", "u", "pw", "h"},
		{"smtp:", "u", "pw", "h"},
		{"", "", "", ""},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	const head, tail = "Zq9s", "k3Xw" // around the password
	f.Fuzz(func(t *testing.T, scheme, user, pass, rest string) {
		for _, s := range []string{scheme, user, rest} {
			if dec, err := url.PathUnescape(s); err == nil {
				s += dec
			}
			if strings.Contains(s, head) || strings.Contains(s, tail) {
				t.Skip()
			}
		}
		raw := scheme + "://" + user + ":" + head + pass + tail + "@" + rest
		shown := map[string]string{"Redact": mail.Redact(raw)}
		m, err := mail.New(raw, testFrom, mail.Options{})
		if err != nil {
			shown["New's error"] = err.Error()
		} else {
			shown["String"] = m.String()
			shown["%#v"] = fmt.Sprintf("%#v", m)
			shown["the log"] = logged(m)
			again, err := mail.New(m.String(), testFrom, mail.Options{})
			if err != nil || again.String() != m.String() {
				t.Errorf("New(%q).String() = %q, which New takes to %v, %v", raw, m.String(), again, err)
			}
		}
		for what, s := range shown {
			if strings.Contains(s, head) || strings.Contains(s, tail) {
				t.Errorf("New(%q): %s %q holds the password", raw, what, s)
			}
		}
	})
}

// FuzzCompose builds messages of any recipient, subject, bodies and
// Message-ID. Properties, for every message compose accepts: it parses
// (net/mail, mime/multipart, quoted-printable); it has exactly the headers
// intended, each once, so nothing smuggled a header in; every line ends in
// CRLF and is at most 998 characters; To names the recipient given; the
// subject decodes to the one given; and the parts decode to the bodies
// given, line breaks as CRLF.
func FuzzCompose(f *testing.F) {
	f.Add(testMessage.To, testMessage.Subject, testMessage.Text, testMessage.HTML, testMessage.MessageID)
	f.Add("ada@example.org\r\nBcc: eve@example.net", "hi", "x", "", "")
	f.Add("ada@example.org", "hi\r\nBcc: eve@example.net", "x", "<p>x</p>", "")
	f.Add("ada@example.org", "hi\nX-Evil: 1", "x", "", "")
	f.Add(`"Eve\r\nBcc: x" <eve@example.net>`, "=?utf-8?q?hi?=", "x\r", "y\r\r\n", "a@b")
	f.Add("=?utf-8?q?Ada=0D=0ABcc:_x?= <ada@example.org>", strings.Repeat("é", 200), "--boundary\n.\n", "", "id.1")
	f.Add("ada@example.org", "\x00\x7f\t subject\t", strings.Repeat("x", 2000), strings.Repeat("=", 100), "")
	f.Fuzz(func(t *testing.T, to, subject, text, html, id string) {
		data, err := compose(t, func(m *mail.Message) {
			m.To, m.Subject, m.Text, m.HTML, m.MessageID = to, subject, text, html, id
		})
		if err != nil {
			return
		}
		for i, line := range strings.Split(string(data), "\r\n") {
			if strings.ContainsAny(line, "\r\n") || len(line) > 998 {
				t.Fatalf("line %d of the message is %q: a bare CR or LF, or over 998 characters", i+1, line)
			}
		}
		r := parse(t, data)
		want := []string{"Content-Type", "Date", "From", "Message-Id", "Mime-Version", "Subject", "To"}
		if html == "" {
			want = append(want, "Content-Transfer-Encoding")
		}
		var got []string
		for k, v := range r.Header {
			got = append(got, k)
			if len(v) != 1 {
				t.Errorf("header %s %d times, want once", k, len(v))
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("headers %q, want %q:\n%s", got, want, data)
		}
		wantTo, _ := netmail.ParseAddress(to)
		if gotTo, err := netmail.ParseAddress(r.Header.Get("To")); err != nil || *gotTo != *wantTo {
			t.Errorf("To %q parses to %v, %v; want %v", r.Header.Get("To"), gotTo, err, wantTo)
		}
		if !strings.Contains(subject, "=?") { // plain text like an encoded word decodes as one
			if want := strings.Trim(subject, " \t"); r.Subject != want {
				t.Errorf("Subject %q decodes to %q, want %q", r.Header.Get("Subject"), r.Subject, want)
			}
		}
		if got := r.Parts["text/plain; charset=utf-8"]; got != crlf(text) {
			t.Errorf("the text decodes to %q, want %q", got, crlf(text))
		}
		if got := r.Parts["text/html; charset=utf-8"]; html != "" && got != crlf(html) {
			t.Errorf("the HTML decodes to %q, want %q", got, crlf(html))
		}
	})
}
