package postgres

import (
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlschema"
)

// storedTime returns t as it is stored: rounded to the microsecond, the
// precision of timestamptz, as the SQLite backend rounds it.
func storedTime(t time.Time) time.Time {
	return t.Round(time.Microsecond)
}

// storedNullTime returns the stored form of *t, or nil (NULL) for nil.
func storedNullTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	st := storedTime(*t)
	return &st
}

// nullText returns s, or nil (NULL) for "".
func nullText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// storedPermissions returns the stored form of a permission list: sorted,
// without duplicates, and never nil, which would be NULL.
func storedPermissions(perms []string) []string {
	p := append([]string{}, perms...)
	slices.Sort(p)
	return slices.Compact(p)
}

// storedScopes returns the stored form of a scope list: never nil, which
// would be NULL.
func storedScopes(s latchkey.Scopes) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// blob returns b, or an empty slice for nil, which would be NULL.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// storable reports whether PostgreSQL can hold s in a text column: valid
// UTF-8 without NUL. A string it cannot hold equals no stored value.
func storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// nullTextColumn scans a nullable text column; NULL is "".
type nullTextColumn struct{ s *string }

// ScanText implements pgtype.TextScanner.
func (c nullTextColumn) ScanText(v pgtype.Text) error {
	*c.s = v.String
	return nil
}

// prefixesColumn scans allowed_ips (see sqlschema.DecodePrefixes).
type prefixesColumn struct{ p *[]netip.Prefix }

// ScanText implements pgtype.TextScanner.
func (c prefixesColumn) ScanText(v pgtype.Text) error {
	var err error
	*c.p, err = sqlschema.DecodePrefixes(v.String)
	return err
}

// recentColumn scans recent_ips (see sqlschema.DecodeRecent).
type recentColumn struct{ r *[]latchkey.AddrUse }

// ScanText implements pgtype.TextScanner.
func (c recentColumn) ScanText(v pgtype.Text) error {
	var err error
	*c.r, err = sqlschema.DecodeRecent(v.String)
	return err
}

// scopeListColumn scans default_scopes (see sqlschema.DecodeScopeList).
type scopeListColumn struct{ s *latchkey.Scopes }

// ScanText implements pgtype.TextScanner.
func (c scopeListColumn) ScanText(v pgtype.Text) error {
	*c.s = sqlschema.DecodeScopeList(v.String)
	return nil
}

// userFields returns the scan destinations of sqlschema.UserColumns in u; call
// fixUser after the scan.
func userFields(u *latchkey.User) []any {
	return []any{&u.ID, &u.Username, &u.Email, &u.FirstName, &u.LastName, (*string)(&u.Status),
		&u.Admin, &u.Permissions, nullTextColumn{&u.PasswordHash},
		&u.CreatedAt, &u.UpdatedAt, &u.DeletedAt}
}

// fixUser finishes a scanned user: no permissions is nil, as in the SQLite
// backend.
func fixUser(u *latchkey.User) {
	if len(u.Permissions) == 0 {
		u.Permissions = nil
	}
}

// clientFields returns the scan destinations of sqlschema.ClientColumns in c.
func clientFields(c *latchkey.Client) []any {
	return []any{&c.ID, &c.UserID, &c.Name, nullTextColumn{&c.SecretHash},
		&c.Provider, &c.Redirect,
		&c.PersonalAccessClient, &c.PasswordClient, &c.Revoked,
		&c.CreatedAt, &c.UpdatedAt, scopeListColumn{&c.DefaultScopes}, &c.SelfRegistered,
		nullTextColumn{&c.MetadataURL}}
}

// tokenFields returns the scan destinations of sqlschema.TokenColumns in t; call
// fixToken after the scan.
func tokenFields(t *latchkey.Token) []any {
	return []any{&t.ID, &t.UserID, &t.ClientID, &t.Name, (*[]string)(&t.Scopes), &t.Revoked,
		&t.CreatedAt, &t.UpdatedAt, &t.ExpiresAt, &t.LastUsedAt, &t.KeyID,
		nullTextColumn{&t.ParentID}, (*string)(&t.RevokedReason), &t.RevokedAt,
		nullTextColumn{&t.RotatedFrom}, nullTextColumn{&t.RotatedTo},
		prefixesColumn{&t.AllowedIPs}, nullTextColumn{&t.LastUsedIP}, recentColumn{&t.RecentIPs}, &t.Audience}
}

// fixToken finishes a scanned token: its scopes are never nil.
func fixToken(t *latchkey.Token) {
	if t.Scopes == nil {
		t.Scopes = latchkey.Scopes{}
	}
}

// keyFields returns the scan destinations of sqlschema.KeyColumns in k.
func keyFields(k *latchkey.SigningKey) []any {
	return []any{&k.ID, &k.Algorithm, &k.PublicKey, &k.SealedPrivateKey,
		&k.CreatedAt, &k.RetiredAt}
}

// scanUser reads one row of sqlschema.UserColumns.
func scanUser(r pgx.Row) (*latchkey.User, error) {
	var u latchkey.User
	if err := r.Scan(userFields(&u)...); err != nil {
		return nil, err
	}
	fixUser(&u)
	return &u, nil
}

// scanClient reads one row of sqlschema.ClientColumns.
func scanClient(r pgx.Row) (*latchkey.Client, error) {
	var c latchkey.Client
	if err := r.Scan(clientFields(&c)...); err != nil {
		return nil, err
	}
	return &c, nil
}

// scanToken reads one row of sqlschema.TokenColumns followed by sqlschema.ClientColumns.
func scanToken(r pgx.Row) (*latchkey.Token, error) {
	var t latchkey.Token
	var c latchkey.Client
	if err := r.Scan(append(tokenFields(&t), clientFields(&c)...)...); err != nil {
		return nil, err
	}
	fixToken(&t)
	t.Client = &c
	return &t, nil
}

// scanKey reads one row of sqlschema.KeyColumns.
func scanKey(r pgx.Row) (*latchkey.SigningKey, error) {
	var k latchkey.SigningKey
	if err := r.Scan(keyFields(&k)...); err != nil {
		return nil, err
	}
	return &k, nil
}

// collect reads every row of rows with scan; the result is never nil.
func collect[T any](rows pgx.Rows, scan func(pgx.Row) (*T, error)) ([]*T, error) {
	defer rows.Close()
	list := []*T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, v)
	}
	return list, rows.Err()
}
