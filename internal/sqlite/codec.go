package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlschema"
)

// timeLayout is the stored form of a time: fixed-width UTC with six
// fractional digits, so that text order is time order.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// formatTime returns the stored form of t, rounded to the microsecond.
func formatTime(t time.Time) string {
	return t.Round(time.Microsecond).UTC().Format(timeLayout)
}

// formatNullTime returns the stored form of *t, or NULL for nil.
func formatNullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return formatTime(*t)
}

// nullText returns s, or NULL for "".
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// text returns the string of a TEXT (or BLOB) column value.
func text(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	}
	return "", fmt.Errorf("want text, got %T", v)
}

// timeColumn scans a NOT NULL time column.
type timeColumn struct{ t *time.Time }

func (c timeColumn) Scan(v any) error {
	s, err := text(v)
	if err != nil {
		return err
	}
	if t, ok := parseTime(s); ok {
		*c.t = t
		return nil
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return err
	}
	*c.t = t.UTC()
	return nil
}

// parseTime parses s in timeLayout, as time.Parse would, several times
// faster: token lists read four times a row. It reports false for
// anything but a valid time in exactly that form, which time.Parse then
// parses or refuses.
func parseTime(s string) (time.Time, bool) {
	// 2006-01-02T15:04:05.000000Z
	// 0123456789012345678901234567
	if len(s) != len(timeLayout) || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
		s[13] != ':' || s[16] != ':' || s[19] != '.' || s[26] != 'Z' {
		return time.Time{}, false
	}
	ok := true
	num := func(from, to int) int {
		n := 0
		for i := from; i < to; i++ {
			d := s[i] - '0'
			if d > 9 {
				ok = false
			}
			n = n*10 + int(d)
		}
		return n
	}
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	hour, minute, sec, micro := num(11, 13), num(14, 16), num(17, 19), num(20, 26)
	if !ok {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, micro*1000, time.UTC)
	// time.Date normalizes what is out of range (February 30th, hour
	// 24); time.Parse refuses it.
	if t.Year() != year || int(t.Month()) != month || t.Day() != day ||
		t.Hour() != hour || t.Minute() != minute || t.Second() != sec {
		return time.Time{}, false
	}
	return t, true
}

// nullTimeColumn scans a nullable time column; NULL is nil.
type nullTimeColumn struct{ t **time.Time }

func (c nullTimeColumn) Scan(v any) error {
	if v == nil {
		*c.t = nil
		return nil
	}
	var t time.Time
	if err := (timeColumn{&t}).Scan(v); err != nil {
		return err
	}
	*c.t = &t
	return nil
}

// nullTextColumn scans a nullable TEXT column; NULL is "".
type nullTextColumn struct{ s *string }

func (c nullTextColumn) Scan(v any) error {
	if v == nil {
		*c.s = ""
		return nil
	}
	s, err := text(v)
	*c.s = s
	return err
}

// prefixesColumn scans allowed_ips (see sqlschema.DecodePrefixes).
type prefixesColumn struct{ p *[]netip.Prefix }

func (c prefixesColumn) Scan(v any) error {
	var s string
	if err := (nullTextColumn{&s}).Scan(v); err != nil {
		return err
	}
	var err error
	*c.p, err = sqlschema.DecodePrefixes(s)
	return err
}

// recentColumn scans recent_ips (see sqlschema.DecodeRecent).
type recentColumn struct{ r *[]latchkey.AddrUse }

func (c recentColumn) Scan(v any) error {
	var s string
	if err := (nullTextColumn{&s}).Scan(v); err != nil {
		return err
	}
	var err error
	*c.r, err = sqlschema.DecodeRecent(s)
	return err
}

// optionalTextColumn scans a nullable TEXT column; NULL is nil.
type optionalTextColumn struct{ s **string }

func (c optionalTextColumn) Scan(v any) error {
	if v == nil {
		*c.s = nil
		return nil
	}
	s, err := text(v)
	if err != nil {
		return err
	}
	*c.s = &s
	return nil
}

// optionalIntColumn scans a nullable INTEGER column; NULL is nil.
type optionalIntColumn struct{ n **int64 }

func (c optionalIntColumn) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c.n = nil
	case int64:
		*c.n = &v
	default:
		return fmt.Errorf("want integer, got %T", v)
	}
	return nil
}

// formatPermissions returns the stored form of a permission list: sorted,
// without duplicates, comma-separated.
func formatPermissions(perms []string) string {
	p := slices.Clone(perms)
	slices.Sort(p)
	return strings.Join(slices.Compact(p), ",")
}

// permissionsColumn scans users.permissions; "" is no permissions.
type permissionsColumn struct{ p *[]string }

func (c permissionsColumn) Scan(v any) error {
	s, err := text(v)
	if err != nil {
		return err
	}
	*c.p = nil
	if s != "" {
		*c.p = strings.Split(s, ",")
	}
	return nil
}

// formatScopes returns the stored form of a scope list, a JSON array.
func formatScopes(s latchkey.Scopes) (string, error) {
	if s == nil {
		s = latchkey.Scopes{}
	}
	b, err := json.Marshal(s)
	return string(b), err
}

// scopesColumn scans oauth_access_tokens.scopes; the result is never nil.
type scopesColumn struct{ s *latchkey.Scopes }

func (c scopesColumn) Scan(v any) error {
	s, err := text(v)
	if err != nil {
		return err
	}
	if s == "[]" { // most tokens
		*c.s = latchkey.Scopes{}
		return nil
	}
	var scopes latchkey.Scopes
	if err := json.Unmarshal([]byte(s), &scopes); err != nil {
		return fmt.Errorf("scopes: %w", err)
	}
	if scopes == nil {
		scopes = latchkey.Scopes{}
	}
	*c.s = scopes
	return nil
}

// userFields returns the scan destinations of sqlschema.UserColumns in u.
func userFields(u *latchkey.User) []any {
	return []any{&u.ID, &u.Username, &u.Email, &u.FirstName, &u.LastName, &u.Status,
		&u.Admin, permissionsColumn{&u.Permissions}, nullTextColumn{&u.PasswordHash},
		timeColumn{&u.CreatedAt}, timeColumn{&u.UpdatedAt}, nullTimeColumn{&u.DeletedAt}}
}

// clientFields returns the scan destinations of sqlschema.ClientColumns in c.
func clientFields(c *latchkey.Client) []any {
	return []any{&c.ID, optionalIntColumn{&c.UserID}, &c.Name, nullTextColumn{&c.SecretHash},
		optionalTextColumn{&c.Provider}, &c.Redirect,
		&c.PersonalAccessClient, &c.PasswordClient, &c.Revoked,
		timeColumn{&c.CreatedAt}, timeColumn{&c.UpdatedAt}, scopeListColumn{&c.DefaultScopes}, &c.SelfRegistered,
		nullTextColumn{&c.MetadataURL}}
}

// scopeListColumn scans oauth_clients.default_scopes (see
// sqlschema.DecodeScopeList).
type scopeListColumn struct{ s *latchkey.Scopes }

func (c scopeListColumn) Scan(v any) error {
	s, err := text(v)
	if err != nil {
		return err
	}
	*c.s = sqlschema.DecodeScopeList(s)
	return nil
}

// tokenFields returns the scan destinations of sqlschema.TokenColumns in t.
func tokenFields(t *latchkey.Token) []any {
	return []any{&t.ID, &t.UserID, &t.ClientID, &t.Name, scopesColumn{&t.Scopes}, &t.Revoked,
		timeColumn{&t.CreatedAt}, timeColumn{&t.UpdatedAt},
		nullTimeColumn{&t.ExpiresAt}, nullTimeColumn{&t.LastUsedAt}, &t.KeyID,
		nullTextColumn{&t.ParentID}, (*string)(&t.RevokedReason), nullTimeColumn{&t.RevokedAt},
		nullTextColumn{&t.RotatedFrom}, nullTextColumn{&t.RotatedTo},
		prefixesColumn{&t.AllowedIPs}, nullTextColumn{&t.LastUsedIP}, recentColumn{&t.RecentIPs}, &t.Audience}
}

// keyFields returns the scan destinations of sqlschema.KeyColumns in k.
func keyFields(k *latchkey.SigningKey) []any {
	return []any{&k.ID, &k.Algorithm, &k.PublicKey, &k.SealedPrivateKey,
		timeColumn{&k.CreatedAt}, nullTimeColumn{&k.RetiredAt}}
}

// A rowScanner is *sql.Row or *sql.Rows.
// collect reads every row of rows with scan, and closes rows. The result
// is never nil. err is the query's own error, so that a query call can be
// passed whole: collect(db.query(…)) reads as it runs.
func collect[T any](scan func(rowScanner) (T, error)) func(*sql.Rows, error) ([]T, error) {
	return func(rows *sql.Rows, err error) ([]T, error) {
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		list := []T{}
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return list, nil
	}
}

// scanInt64 and scanText read a row of one column.
func scanInt64(r rowScanner) (int64, error) {
	var n int64
	return n, r.Scan(&n)
}

func scanText(r rowScanner) (string, error) {
	var s string
	return s, r.Scan(&s)
}

type rowScanner interface {
	Scan(dest ...any) error
}

// scanUser reads one row of sqlschema.UserColumns.
func scanUser(r rowScanner) (*latchkey.User, error) {
	var u latchkey.User
	if err := r.Scan(userFields(&u)...); err != nil {
		return nil, err
	}
	return &u, nil
}

// scanClient reads one row of sqlschema.ClientColumns.
func scanClient(r rowScanner) (*latchkey.Client, error) {
	var c latchkey.Client
	if err := r.Scan(clientFields(&c)...); err != nil {
		return nil, err
	}
	return &c, nil
}

// scanToken reads one row of sqlschema.TokenColumns followed by sqlschema.ClientColumns.
func scanToken(r rowScanner) (*latchkey.Token, error) {
	var t latchkey.Token
	var c latchkey.Client
	if err := r.Scan(append(tokenFields(&t), clientFields(&c)...)...); err != nil {
		return nil, err
	}
	t.Client = &c
	return &t, nil
}

// scanKey reads one row of sqlschema.KeyColumns.
func scanKey(r rowScanner) (*latchkey.SigningKey, error) {
	var k latchkey.SigningKey
	if err := r.Scan(keyFields(&k)...); err != nil {
		return nil, err
	}
	return &k, nil
}
