// Package wire holds the JSON shapes of the Personal Tokens API, in the
// contract's key order and date form, shared by the server (internal/httpapi)
// and the Go client (client) so that the two can never disagree.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/latchkey/latchkey"
)

// DateLayout is the contract's date form: UTC, six fractional digits, Z.
const DateLayout = "2006-01-02T15:04:05.000000Z"

// Date is a time that encodes in DateLayout and decodes from any RFC 3339
// date with a zone.
type Date struct{ time.Time }

// NewDate returns t as a Date, or nil for nil.
func NewDate(t *time.Time) *Date {
	if t == nil {
		return nil
	}
	return &Date{*t}
}

// Ptr returns the time d holds, or nil for nil.
func (d *Date) Ptr() *time.Time {
	if d == nil {
		return nil
	}
	t := d.Time
	return &t
}

// MarshalJSON encodes d in DateLayout.
func (d Date) MarshalJSON() ([]byte, error) {
	return []byte(`"` + d.UTC().Format(DateLayout) + `"`), nil
}

// UnmarshalJSON decodes an RFC 3339 date with a zone.
func (d *Date) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("date: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("date: %w", err)
	}
	d.Time = t.UTC()
	return nil
}

// TokenClient is the OAuth client that issued a token. It never carries the
// client's secret.
type TokenClient struct {
	ID                   int64   `json:"id"`
	UserID               *int64  `json:"user_id"`
	Name                 string  `json:"name"`
	Provider             *string `json:"provider"`
	Redirect             string  `json:"redirect"`
	PersonalAccessClient bool    `json:"personal_access_client"`
	PasswordClient       bool    `json:"password_client"`
	Revoked              bool    `json:"revoked"`
	CreatedAt            Date    `json:"created_at"`
	UpdatedAt            Date    `json:"updated_at"`
}

// UserToken is a token as the API shows it.
type UserToken struct {
	ID         string      `json:"id"`
	UserID     int64       `json:"user_id"`
	ClientID   int64       `json:"client_id"`
	Name       string      `json:"name"`
	Scopes     []string    `json:"scopes"`
	Revoked    bool        `json:"revoked"`
	CreatedAt  Date        `json:"created_at"`
	UpdatedAt  Date        `json:"updated_at"`
	ExpiresAt  *Date       `json:"expires_at"`
	Client     TokenClient `json:"client"`
	LastUsedAt *Date       `json:"last_used_at"`
	// ParentID is the id of the token whose bearer made this one, or
	// null: an extension after the contract's keys, as are the rest.
	ParentID *string `json:"parent_id"`
	// RevokedAt and RevokedReason say when and why the token was
	// revoked: null while it is live (and for one revoked before they
	// were kept).
	RevokedAt     *Date   `json:"revoked_at"`
	RevokedReason *string `json:"revoked_reason"`
	// RotatedFrom is the token this one replaced by rotation, RotatedTo
	// the one that replaced it; null for none.
	RotatedFrom *string `json:"rotated_from"`
	RotatedTo   *string `json:"rotated_to"`
	// AllowedIPs are the networks the token may be used from ([] for
	// anywhere); LastUsedIP the address of its last use; RecentIPs the
	// addresses of its recent uses, the latest first.
	AllowedIPs []string  `json:"allowed_ips"`
	LastUsedIP *string   `json:"last_used_ip"`
	RecentIPs  []AddrUse `json:"recent_ips"`
}

// AddrUse is an address a token was used from.
type AddrUse struct {
	IP        string `json:"ip"`
	FirstSeen Date   `json:"first_seen"`
	LastSeen  Date   `json:"last_seen"`
}

// CreatedToken is the answer to a create: the UserToken's keys at the top
// level, then the JWT, then the UserToken again under "token".
type CreatedToken struct {
	UserToken
	AccessToken string    `json:"accessToken"`
	Token       UserToken `json:"token"`
}

// TokenList is one page of tokens.
type TokenList struct {
	Data []UserToken `json:"data"`
	Meta Meta        `json:"meta"`
}

// Meta describes a page of a list, keys in the contract's order.
type Meta struct {
	Filter      string `json:"filter"`
	SortBy      string `json:"sort_by"`
	SortOrder   string `json:"sort_order"`
	Count       int    `json:"count"`
	TotalPages  int    `json:"total_pages"`
	CurrentPage int    `json:"current_page"`
	From        *int   `json:"from"`
	Form        *int   `json:"form"` // the spec's misspelling of from, which generated clients read
	LastPage    int    `json:"last_page"`
	Links       []Link `json:"links"`
	Path        string `json:"path"`
	PerPage     int    `json:"per_page"`
	To          *int   `json:"to"`
	Total       int    `json:"total"`
}

// Link is one entry of Meta.Links.
type Link struct {
	URL    *string `json:"url"`
	Label  string  `json:"label"`
	Active bool    `json:"active"`
}

// CreateTokenRequest is the body of a create, as a client sends it.
type CreateTokenRequest struct {
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// RotateTokenRequest is the body of a rotation.
type RotateTokenRequest struct {
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	GraceSeconds int64      `json:"grace_seconds,omitempty"`
}

// Problem is an error body: {"error":…} for 401 and 404, {"message":…} for
// the rest, with "errors" on a 422.
type Problem struct {
	Error   string      `json:"error,omitempty"`
	Message string      `json:"message,omitempty"`
	Errors  FieldErrors `json:"errors,omitempty"`
}

// AppendJSON appends p's JSON object, exactly as encoding/json writes it:
// an error answer costs no reflection.
func (p Problem) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	n := len(b)
	if p.Error != "" {
		b = append(b, `"error":`...)
		b = appendString(b, p.Error)
	}
	if p.Message != "" {
		if len(b) > n {
			b = append(b, ',')
		}
		b = append(b, `"message":`...)
		b = appendString(b, p.Message)
	}
	if len(p.Errors) > 0 {
		if len(b) > n {
			b = append(b, ',')
		}
		errs, _ := p.Errors.MarshalJSON() // fails on nothing but strings
		b = append(b, `"errors":`...)
		b = append(b, errs...)
	}
	return append(b, '}')
}

// Text is the sentence of p, whichever key holds it.
func (p *Problem) Text() string {
	if p.Message != "" {
		return p.Message
	}
	return p.Error
}

// FieldErrors is latchkey.FieldErrors as a JSON object whose keys keep
// their order.
type FieldErrors latchkey.FieldErrors

// MarshalJSON encodes fe as {"field":["sentence",…],…} in order.
func (fe FieldErrors) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fe {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.Field)
		v, err := json.Marshal(f.Sentences)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON decodes an object of sentence arrays, keeping key order.
func (fe *FieldErrors) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return errors.New("errors: want a JSON object")
	}
	var out FieldErrors
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("errors: %w", err)
		}
		var sentences []string
		if err := dec.Decode(&sentences); err != nil {
			return fmt.Errorf("errors.%s: %w", t, err)
		}
		out = append(out, latchkey.FieldError{Field: t.(string), Sentences: sentences})
	}
	*fe = out
	return nil
}

// FromClient is c as the API shows it.
func FromClient(c *latchkey.Client) TokenClient {
	return TokenClient{
		ID:                   c.ID,
		UserID:               c.UserID,
		Name:                 c.Name,
		Provider:             c.Provider,
		Redirect:             c.Redirect,
		PersonalAccessClient: c.PersonalAccessClient,
		PasswordClient:       c.PasswordClient,
		Revoked:              c.Revoked,
		CreatedAt:            Date{c.CreatedAt},
		UpdatedAt:            Date{c.UpdatedAt},
	}
}

// FromToken is t as the API shows it; t.Client must be set.
func FromToken(t *latchkey.Token) UserToken {
	scopes := []string(t.Scopes)
	if scopes == nil {
		scopes = []string{}
	}
	u := UserToken{
		ID:            t.ID,
		UserID:        t.UserID,
		ClientID:      t.ClientID,
		Name:          t.Name,
		Scopes:        scopes,
		Revoked:       t.Revoked,
		CreatedAt:     Date{t.CreatedAt},
		UpdatedAt:     Date{t.UpdatedAt},
		ExpiresAt:     NewDate(t.ExpiresAt),
		Client:        FromClient(t.Client),
		LastUsedAt:    NewDate(t.LastUsedAt),
		ParentID:      optional(t.ParentID),
		RevokedAt:     NewDate(t.RevokedAt),
		RevokedReason: optional(string(t.RevokedReason)),
		RotatedFrom:   optional(t.RotatedFrom),
		RotatedTo:     optional(t.RotatedTo),
		AllowedIPs:    make([]string, len(t.AllowedIPs)),
		LastUsedIP:    optional(t.LastUsedIP),
		RecentIPs:     make([]AddrUse, len(t.RecentIPs)),
	}
	for i, p := range t.AllowedIPs {
		u.AllowedIPs[i] = p.String()
	}
	for i, a := range t.RecentIPs {
		u.RecentIPs[i] = AddrUse{IP: a.Address, FirstSeen: Date{a.FirstSeen}, LastSeen: Date{a.LastSeen}}
	}
	return u
}

// deref is *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// optional is s, or nil for "".
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Domain is u as a latchkey.Token, its client included.
func (u *UserToken) Domain() *latchkey.Token {
	scopes := latchkey.Scopes(u.Scopes)
	if scopes == nil {
		scopes = latchkey.Scopes{}
	}
	t := &latchkey.Token{
		ID:            u.ID,
		UserID:        u.UserID,
		ClientID:      u.ClientID,
		Name:          u.Name,
		Scopes:        scopes,
		Revoked:       u.Revoked,
		CreatedAt:     u.CreatedAt.Time,
		UpdatedAt:     u.UpdatedAt.Time,
		ExpiresAt:     u.ExpiresAt.Ptr(),
		LastUsedAt:    u.LastUsedAt.Ptr(),
		Client:        u.Client.Domain(),
		ParentID:      deref(u.ParentID),
		RevokedAt:     u.RevokedAt.Ptr(),
		RevokedReason: latchkey.RevokeReason(deref(u.RevokedReason)),
		RotatedFrom:   deref(u.RotatedFrom),
		RotatedTo:     deref(u.RotatedTo),
		LastUsedIP:    deref(u.LastUsedIP),
	}
	for _, s := range u.AllowedIPs {
		// A network the server wrote; one that does not parse is left
		// out rather than read as anywhere.
		if p, err := netip.ParsePrefix(s); err == nil {
			t.AllowedIPs = append(t.AllowedIPs, p)
		}
	}
	for _, a := range u.RecentIPs {
		t.RecentIPs = append(t.RecentIPs, latchkey.AddrUse{Address: a.IP, FirstSeen: a.FirstSeen.Time, LastSeen: a.LastSeen.Time})
	}
	return t
}

// Domain is c as a latchkey.Client.
func (c *TokenClient) Domain() *latchkey.Client {
	return &latchkey.Client{
		ID:                   c.ID,
		UserID:               c.UserID,
		Name:                 c.Name,
		Provider:             c.Provider,
		Redirect:             c.Redirect,
		PersonalAccessClient: c.PersonalAccessClient,
		PasswordClient:       c.PasswordClient,
		Revoked:              c.Revoked,
		CreatedAt:            c.CreatedAt.Time,
		UpdatedAt:            c.UpdatedAt.Time,
	}
}
