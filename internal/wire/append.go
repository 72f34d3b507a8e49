package wire

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey"
)

// The Append methods write the same bytes encoding/json writes for these
// types (with HTML escaping off), without reflection: a list page is most
// of the cost of answering a list, and dates dominate it. FuzzAppend
// checks the two encodings against each other.

// Appender is a value that appends its own JSON encoding.
type Appender interface {
	AppendJSON(b []byte) []byte
}

// AppendJSON appends d as a JSON string in DateLayout.
func (d Date) AppendJSON(b []byte) []byte {
	t := d.UTC()
	y, mo, day := t.Date()
	if y < 0 || y > 9999 {
		b = append(b, '"')
		b = t.AppendFormat(b, DateLayout)
		return append(b, '"')
	}
	h, mi, sec := t.Clock()
	// "YYYY-MM-DDTHH:MM:SS.ffffffZ", filled in place: a list of 50
	// tokens writes 250 of them.
	var a [29]byte
	a[0] = '"'
	put2(a[1:], y/100)
	put2(a[3:], y%100)
	a[5] = '-'
	put2(a[6:], int(mo))
	a[8] = '-'
	put2(a[9:], day)
	a[11] = 'T'
	put2(a[12:], h)
	a[14] = ':'
	put2(a[15:], mi)
	a[17] = ':'
	put2(a[18:], sec)
	a[20] = '.'
	us := t.Nanosecond() / 1000
	put2(a[21:], us/10000)
	put2(a[23:], us/100%100)
	put2(a[25:], us%100)
	a[27] = 'Z'
	a[28] = '"'
	return append(b, a[:]...)
}

// put2 writes v, from 0 to 99, in two digits at the start of b.
func put2(b []byte, v int) {
	const digits = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"
	b[0], b[1] = digits[2*v], digits[2*v+1]
}

func appendDatePtr(b []byte, d *Date) []byte {
	if d == nil {
		return append(b, "null"...)
	}
	return d.AppendJSON(b)
}

func appendInt64Ptr(b []byte, v *int64) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, *v, 10)
}

func appendStringPtr(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

// AppendJSON appends c's JSON object.
func (c *TokenClient) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, c.ID, 10)
	b = append(b, `,"user_id":`...)
	b = appendInt64Ptr(b, c.UserID)
	b = append(b, `,"name":`...)
	b = appendString(b, c.Name)
	b = append(b, `,"provider":`...)
	b = appendStringPtr(b, c.Provider)
	b = append(b, `,"redirect":`...)
	b = appendString(b, c.Redirect)
	b = append(b, `,"personal_access_client":`...)
	b = strconv.AppendBool(b, c.PersonalAccessClient)
	b = append(b, `,"password_client":`...)
	b = strconv.AppendBool(b, c.PasswordClient)
	b = append(b, `,"revoked":`...)
	b = strconv.AppendBool(b, c.Revoked)
	b = append(b, `,"created_at":`...)
	b = c.CreatedAt.AppendJSON(b)
	b = append(b, `,"updated_at":`...)
	b = c.UpdatedAt.AppendJSON(b)
	return append(b, '}')
}

// appendFields appends u's keys and values, without the braces.
func (u *UserToken) appendFields(b []byte) []byte {
	b = append(b, `"id":`...)
	b = appendString(b, u.ID)
	b = append(b, `,"user_id":`...)
	b = strconv.AppendInt(b, u.UserID, 10)
	b = append(b, `,"client_id":`...)
	b = strconv.AppendInt(b, u.ClientID, 10)
	b = append(b, `,"name":`...)
	b = appendString(b, u.Name)
	b = append(b, `,"scopes":`...)
	if u.Scopes == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, s := range u.Scopes {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		b = append(b, ']')
	}
	b = append(b, `,"revoked":`...)
	b = strconv.AppendBool(b, u.Revoked)
	b = append(b, `,"created_at":`...)
	b = u.CreatedAt.AppendJSON(b)
	b = append(b, `,"updated_at":`...)
	b = u.UpdatedAt.AppendJSON(b)
	b = append(b, `,"expires_at":`...)
	b = appendDatePtr(b, u.ExpiresAt)
	b = append(b, `,"client":`...)
	b = u.Client.AppendJSON(b)
	b = append(b, `,"last_used_at":`...)
	b = appendDatePtr(b, u.LastUsedAt)
	b = append(b, `,"parent_id":`...)
	b = appendStringPtr(b, u.ParentID)
	b = append(b, `,"revoked_at":`...)
	b = appendDatePtr(b, u.RevokedAt)
	b = append(b, `,"revoked_reason":`...)
	b = appendStringPtr(b, u.RevokedReason)
	b = append(b, `,"rotated_from":`...)
	b = appendStringPtr(b, u.RotatedFrom)
	b = append(b, `,"rotated_to":`...)
	b = appendStringPtr(b, u.RotatedTo)
	b = append(b, `,"allowed_ips":`...)
	if u.AllowedIPs == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, s := range u.AllowedIPs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		b = append(b, ']')
	}
	b = append(b, `,"last_used_ip":`...)
	b = appendStringPtr(b, u.LastUsedIP)
	b = append(b, `,"recent_ips":`...)
	if u.RecentIPs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, a := range u.RecentIPs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"ip":`...)
		b = appendString(b, a.IP)
		b = append(b, `,"first_seen":`...)
		b = a.FirstSeen.AppendJSON(b)
		b = append(b, `,"last_seen":`...)
		b = a.LastSeen.AppendJSON(b)
		b = append(b, '}')
	}
	return append(b, ']')
}

// AppendJSON appends u's JSON object.
func (u *UserToken) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	b = u.appendFields(b)
	return append(b, '}')
}

// AppendJSON appends c's JSON object: the token's keys, then accessToken
// and token.
func (c *CreatedToken) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	b = c.UserToken.appendFields(b)
	b = append(b, `,"accessToken":`...)
	b = appendString(b, c.AccessToken)
	b = append(b, `,"token":`...)
	b = c.Token.AppendJSON(b)
	return append(b, '}')
}

func appendIntPtr(b []byte, v *int) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, int64(*v), 10)
}

// AppendJSON appends l's JSON object.
func (l *TokenList) AppendJSON(b []byte) []byte {
	b = append(b, `{"data":`...)
	if l.Data == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range l.Data {
			if i > 0 {
				b = append(b, ',')
			}
			b = l.Data[i].AppendJSON(b)
		}
		b = append(b, ']')
	}
	b = append(b, `,"meta":`...)
	b = l.Meta.AppendJSON(b)
	return append(b, '}')
}

// AppendJSON appends m's JSON object.
func (m *Meta) AppendJSON(b []byte) []byte {
	b = append(b, `{"filter":`...)
	b = appendString(b, m.Filter)
	b = append(b, `,"sort_by":`...)
	b = appendString(b, m.SortBy)
	b = append(b, `,"sort_order":`...)
	b = appendString(b, m.SortOrder)
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, int64(m.Count), 10)
	b = append(b, `,"total_pages":`...)
	b = strconv.AppendInt(b, int64(m.TotalPages), 10)
	b = append(b, `,"current_page":`...)
	b = strconv.AppendInt(b, int64(m.CurrentPage), 10)
	b = append(b, `,"from":`...)
	b = appendIntPtr(b, m.From)
	b = append(b, `,"form":`...)
	b = appendIntPtr(b, m.Form)
	b = append(b, `,"last_page":`...)
	b = strconv.AppendInt(b, int64(m.LastPage), 10)
	b = append(b, `,"links":`...)
	if m.Links == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, k := range m.Links {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"url":`...)
			b = appendStringPtr(b, k.URL)
			b = append(b, `,"label":`...)
			b = appendString(b, k.Label)
			b = append(b, `,"active":`...)
			b = strconv.AppendBool(b, k.Active)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"path":`...)
	b = appendString(b, m.Path)
	b = append(b, `,"per_page":`...)
	b = strconv.AppendInt(b, int64(m.PerPage), 10)
	b = append(b, `,"to":`...)
	b = appendIntPtr(b, m.To)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(m.Total), 10)
	return append(b, '}')
}

// AppendToken appends t's JSON object as the API shows it: the bytes of
// FromToken(t).AppendJSON, written from t itself, without FromToken's
// copy and the allocations of its pointers (a list page of 50 tokens
// made 400 of them). t.Client must be set. FuzzAppendToken holds the two
// to the same bytes.
func AppendToken(b []byte, t *latchkey.Token) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, t.ID)
	b = append(b, `,"user_id":`...)
	b = strconv.AppendInt(b, t.UserID, 10)
	b = append(b, `,"client_id":`...)
	b = strconv.AppendInt(b, t.ClientID, 10)
	b = append(b, `,"name":`...)
	b = appendString(b, t.Name)
	b = append(b, `,"scopes":[`...)
	for i, s := range t.Scopes {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	b = append(b, `],"revoked":`...)
	b = strconv.AppendBool(b, t.Revoked)
	b = append(b, `,"created_at":`...)
	b = Date{t.CreatedAt}.AppendJSON(b)
	b = append(b, `,"updated_at":`...)
	b = Date{t.UpdatedAt}.AppendJSON(b)
	b = append(b, `,"expires_at":`...)
	b = appendTimePtr(b, t.ExpiresAt)
	b = append(b, `,"client":`...)
	b = appendClient(b, t.Client)
	b = append(b, `,"last_used_at":`...)
	b = appendTimePtr(b, t.LastUsedAt)
	b = append(b, `,"parent_id":`...)
	b = appendOptional(b, t.ParentID)
	b = append(b, `,"revoked_at":`...)
	b = appendTimePtr(b, t.RevokedAt)
	b = append(b, `,"revoked_reason":`...)
	b = appendOptional(b, string(t.RevokedReason))
	b = append(b, `,"rotated_from":`...)
	b = appendOptional(b, t.RotatedFrom)
	b = append(b, `,"rotated_to":`...)
	b = appendOptional(b, t.RotatedTo)
	b = append(b, `,"allowed_ips":[`...)
	for i, p := range t.AllowedIPs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, p.String())
	}
	b = append(b, `],"last_used_ip":`...)
	b = appendOptional(b, t.LastUsedIP)
	b = append(b, `,"recent_ips":[`...)
	for i, a := range t.RecentIPs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"ip":`...)
		b = appendString(b, a.Address)
		b = append(b, `,"first_seen":`...)
		b = Date{a.FirstSeen}.AppendJSON(b)
		b = append(b, `,"last_seen":`...)
		b = Date{a.LastSeen}.AppendJSON(b)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// AppendTokens appends ts as a JSON array of AppendToken's objects: the
// data of a list page.
func AppendTokens(b []byte, ts []*latchkey.Token) []byte {
	b = append(b, '[')
	for i, t := range ts {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendToken(b, t)
	}
	return append(b, ']')
}

// appendClient appends c's JSON object as the API shows it: the bytes of
// FromClient(c).AppendJSON.
func appendClient(b []byte, c *latchkey.Client) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, c.ID, 10)
	b = append(b, `,"user_id":`...)
	b = appendInt64Ptr(b, c.UserID)
	b = append(b, `,"name":`...)
	b = appendString(b, c.Name)
	b = append(b, `,"provider":`...)
	b = appendStringPtr(b, c.Provider)
	b = append(b, `,"redirect":`...)
	b = appendString(b, c.Redirect)
	b = append(b, `,"personal_access_client":`...)
	b = strconv.AppendBool(b, c.PersonalAccessClient)
	b = append(b, `,"password_client":`...)
	b = strconv.AppendBool(b, c.PasswordClient)
	b = append(b, `,"revoked":`...)
	b = strconv.AppendBool(b, c.Revoked)
	b = append(b, `,"created_at":`...)
	b = Date{c.CreatedAt}.AppendJSON(b)
	b = append(b, `,"updated_at":`...)
	b = Date{c.UpdatedAt}.AppendJSON(b)
	return append(b, '}')
}

// appendTimePtr appends *t as a Date, or null for nil.
func appendTimePtr(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	return Date{*t}.AppendJSON(b)
}

// appendOptional appends s as a JSON string, or null for "" (as
// optional's pointer encodes).
func appendOptional(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string exactly as encoding/json does
// with HTML escaping off: quotes, backslashes and control characters
// escaped, invalid UTF-8 replaced by U+FFFD, U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
