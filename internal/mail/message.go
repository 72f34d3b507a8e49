package mail

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"net/textproto"
	"strings"
	"time"
	"unicode/utf8"
)

// maxLine is the longest line a message may have, CRLF aside (RFC 5322).
const maxLine = 998

// Message is one mail to one recipient.
type Message struct {
	// To is the recipient: one address, with or without a name, such as
	// "Ada <ada@example.com>".
	To string
	// Subject is the subject line: one line of UTF-8; spaces and tabs
	// around it are dropped.
	Subject string
	// Text is the plain-text body, required; HTML the HTML one, which the
	// caller has escaped, "" for none. Both are UTF-8; their line breaks
	// are sent as CRLF.
	Text, HTML string
	// MessageID is the Message-ID's value without its angle brackets,
	// such as "msg_01J…@latchkey.example"; without an "@" it is completed
	// with the From address's domain. "" for a random one.
	MessageID string
	// Date is the Date header; zero for now.
	Date time.Time
}

// compose checks msg and returns the address to send it to and the message
// as the server is to get it: headers From, To, Subject, Date, Message-ID,
// MIME-Version and Content-Type, and a multipart/alternative body of a
// text/plain part and a text/html part (text/plain alone without HTML),
// each quoted-printable, all lines ending in CRLF. now gives the Date when
// msg has none.
func (m *Mailer) compose(msg Message, now func() time.Time) (to string, data []byte, err error) {
	if strings.ContainsAny(msg.To, "\r\n") {
		return "", nil, errors.New("the recipient has a line break")
	}
	rcpt, err := netmail.ParseAddress(msg.To)
	if err != nil {
		return "", nil, fmt.Errorf("the recipient %q is not one mail address", msg.To)
	}
	subject := strings.Trim(msg.Subject, " \t")
	switch {
	case strings.ContainsAny(subject, "\r\n"):
		return "", nil, errors.New("the subject has a line break")
	case !utf8.ValidString(subject):
		return "", nil, errors.New("the subject is not UTF-8")
	case msg.Text == "":
		return "", nil, errors.New("the message has no text")
	case !utf8.ValidString(msg.Text) || !utf8.ValidString(msg.HTML):
		return "", nil, errors.New("the message's text or HTML is not UTF-8")
	}
	id, err := m.messageID(msg.MessageID)
	if err != nil {
		return "", nil, err
	}
	date := msg.Date
	if date.IsZero() {
		date = now()
	}

	var body bytes.Buffer
	var contentType string
	if msg.HTML == "" {
		contentType = "text/plain; charset=utf-8"
		writeQP(&body, msg.Text)
	} else {
		mw := multipart.NewWriter(&body)
		for _, p := range []struct{ typ, content string }{
			{"text/plain; charset=utf-8", msg.Text},
			{"text/html; charset=utf-8", msg.HTML},
		} {
			w, err := mw.CreatePart(textproto.MIMEHeader{
				"Content-Type":              {p.typ},
				"Content-Transfer-Encoding": {"quoted-printable"},
			})
			if err != nil {
				return "", nil, err
			}
			writeQP(w, p.content)
		}
		if err := mw.Close(); err != nil {
			return "", nil, err
		}
		contentType = mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()})
	}

	var b bytes.Buffer
	for _, h := range [][2]string{
		{"From", m.from.String()},
		{"To", rcpt.String()},
		{"Subject", encodeSubject(subject)},
		{"Date", date.Format(time.RFC1123Z)},
		{"Message-ID", id},
		{"MIME-Version", "1.0"},
		{"Content-Type", contentType},
	} {
		if err := checkHeader(h[0], h[1]); err != nil {
			return "", nil, err
		}
		b.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	if msg.HTML == "" {
		b.WriteString("Content-Transfer-Encoding: quoted-printable\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body.Bytes())
	return envelope(rcpt), b.Bytes(), nil
}

// checkHeader is the last guard against a header that would smuggle in
// another, or break the line limit: only a folded line (CRLF and a space,
// as encodeSubject folds) may break the value.
func checkHeader(name, value string) error {
	for i, line := range strings.Split(value, "\r\n") {
		switch {
		case strings.ContainsAny(line, "\r\n"), i > 0 && strings.Trim(line, " ") == "", i > 0 && line[0] != ' ':
			return fmt.Errorf("the %s header has a line break", name)
		case len(name)+len(": ")+len(line) > maxLine:
			return fmt.Errorf("the %s header is too long", name)
		}
	}
	return nil
}

// encodeSubject returns s as a Subject header's value: as it is when it is
// printable ASCII, otherwise as RFC 2047 encoded words (mime.QEncoding),
// one to a line so that a long subject stays within the line limit.
func encodeSubject(s string) string {
	enc := mime.QEncoding.Encode("utf-8", s)
	if enc == s {
		return s
	}
	// Encoded words have no spaces of their own (Q writes a space as
	// "_"), and the white space between two of them is not part of the
	// text: folding there changes nothing.
	return strings.ReplaceAll(enc, " ", "\r\n ")
}

// writeQP writes s to w quoted-printable, its line breaks as CRLF.
func writeQP(w io.Writer, s string) {
	qw := quotedprintable.NewWriter(w)
	qw.Write([]byte(s)) // the writers beneath are buffers: no error
	qw.Close()
}

// messageID returns the Message-ID header's value for id (see Message).
func (m *Mailer) messageID(id string) (string, error) {
	if id == "" {
		return "<" + rand.Text() + "@" + m.fromDomain + ">", nil
	}
	left, right, ok := strings.Cut(id, "@")
	if !ok {
		right = m.fromDomain
	} else if !dotAtom(right) {
		return "", fmt.Errorf("the Message-ID %q is not LOCAL@DOMAIN of letters, digits and dots", id)
	}
	if !dotAtom(left) {
		return "", fmt.Errorf("the Message-ID %q is not LOCAL@DOMAIN of letters, digits and dots", id)
	}
	return "<" + left + "@" + right + ">", nil
}

// dotAtom reports whether s is an RFC 5322 dot-atom: atoms of letters,
// digits and !#$%&'*+-/=?^_`{|}~ joined by single dots.
func dotAtom(s string) bool {
	if len(s) == 0 || len(s) > 250 {
		return false
	}
	for atom := range strings.SplitSeq(s, ".") {
		if atom == "" {
			return false
		}
		for i := range len(atom) {
			c := atom[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0) {
				return false
			}
		}
	}
	return true
}

// envelope returns a's address as MAIL FROM and RCPT TO take it: quoted as
// a header would quote it ("a b"@example.com), without the angle brackets.
func envelope(a *netmail.Address) string {
	s := (&netmail.Address{Address: a.Address}).String()
	return strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">")
}
