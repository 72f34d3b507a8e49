package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/wire"
)

// allTokensPerPage is the page size AllTokens asks for unless told.
const allTokensPerPage = 100

// redacted stands for a secret in printed and logged forms.
const redacted = "[REDACTED]"

// CreateTokenRequest is what CreateToken asks the server for.
type CreateTokenRequest struct {
	// Name is required: 1 to 255 characters once the server has trimmed
	// surrounding whitespace.
	Name string
	// Scopes limit what the token may do; empty means every ability of its
	// user. The token a Client sends can only grant scopes it has.
	Scopes []string
	// ExpiresAt asks for the token to expire then (Latchkey's extension;
	// sent in UTC). It must lie in the future and within the server's
	// maximum lifetime. Nil means the server's default lifetime.
	ExpiresAt *time.Time
}

// CreatedToken is a token just created, with its JWT. AccessToken is shown
// this once: the server keeps only the token's id. CreatedToken's String,
// GoString, Format and LogValue hide it, so printing or logging a
// CreatedToken never shows it; encoding/json does encode it, as a program
// that writes the token out for its user means to.
type CreatedToken struct {
	Token       *latchkey.Token
	AccessToken string // the JWT, to send as a bearer token
}

// String describes ct by its token's id and name, hiding the access token.
func (ct CreatedToken) String() string {
	id, name := "", ""
	if ct.Token != nil {
		id, name = ct.Token.ID, ct.Token.Name
	}
	return fmt.Sprintf("CreatedToken{ID: %s, Name: %q, AccessToken: %s}", id, name, ct.hidden())
}

// GoString is String with the package name, so that %#v hides the access
// token too.
func (ct CreatedToken) GoString() string { return "client." + ct.String() }

// Format prints ct as String does for every verb (GoString for %#v), so
// that no verb prints the access token.
func (ct CreatedToken) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		io.WriteString(f, ct.GoString())
	case verb == 'q':
		io.WriteString(f, strconv.Quote(ct.String()))
	default:
		io.WriteString(f, ct.String())
	}
}

// LogValue describes ct to log/slog by its token's id, user and name,
// hiding the access token.
func (ct CreatedToken) LogValue() slog.Value {
	var attrs []slog.Attr
	if ct.Token != nil {
		attrs = append(attrs,
			slog.String("id", ct.Token.ID),
			slog.Int64("user_id", ct.Token.UserID),
			slog.String("name", ct.Token.Name))
	}
	attrs = append(attrs, slog.String("access_token", ct.hidden()))
	return slog.GroupValue(attrs...)
}

func (ct CreatedToken) hidden() string {
	if ct.AccessToken == "" {
		return `""`
	}
	return redacted
}

// ListOptions select a page of a user's tokens. Zero values leave the
// choice to the server.
type ListOptions struct {
	Page    int // from 1; 0 is the server's default, 1
	PerPage int // 1 to 1000; 0 is the server's default, 10 (100 for AllTokens)
	// Filter keeps tokens whose name holds it, ignoring case, as a literal
	// substring; "" keeps all.
	Filter string
	// OrderBy sorts the list; "" is the server's default, newest first.
	OrderBy latchkey.TokenOrder
	// Ascending sorts in ascending order, whatever the key. The server's
	// default direction is descending, so the Client sends
	// order_direction=asc when Ascending and never sends desc.
	Ascending bool
}

func (o ListOptions) query() url.Values {
	q := url.Values{}
	if o.Page != 0 {
		q.Set("page", strconv.Itoa(o.Page))
	}
	if o.PerPage != 0 {
		q.Set("per_page", strconv.Itoa(o.PerPage))
	}
	if o.Filter != "" {
		q.Set("filter", o.Filter)
	}
	if o.OrderBy != "" {
		q.Set("order_by", string(o.OrderBy))
	}
	if o.Ascending {
		q.Set("order_direction", "asc")
	}
	return q
}

// TokenPage is one page of a user's tokens, with the figures of the list's
// meta.
type TokenPage struct {
	Tokens   []*latchkey.Token // never nil
	Page     int               // meta.current_page
	PerPage  int               // meta.per_page
	Total    int               // meta.total: tokens on every page
	LastPage int               // meta.last_page: at least 1
}

func usersPath(userID int64) string {
	return "/users/" + url.PathEscape(strconv.FormatInt(userID, 10)) + "/tokens"
}

// tokenPath is the path of one token, its id escaped. It refuses the ids
// that no token can have and that would change the path's meaning.
func tokenPath(userID int64, tokenID string) (string, error) {
	switch tokenID {
	case "", ".", "..":
		return "", latchkey.Errorf(latchkey.EINVALID, "%q is not a token id.", tokenID)
	}
	return usersPath(userID) + "/" + url.PathEscape(tokenID), nil
}

// CreateToken creates a personal token for the user (createTokens) and
// returns it with its JWT. It accepts the 201 of Latchkey and the 200 of
// ProcessMaker, whose body holds the token only under "token".
//
// Codes: EINVALID with Fields for a name or scope the server refuses;
// EFORBIDDEN when the caller may not create tokens for that user or grant
// those scopes; ENOTFOUND when there is no such user; EUNAUTHENTICATED.
func (c *Client) CreateToken(ctx context.Context, userID int64, req CreateTokenRequest) (*CreatedToken, error) {
	const op = "create token"
	body := wire.CreateTokenRequest{Name: req.Name, Scopes: req.Scopes}
	if req.ExpiresAt != nil {
		t := req.ExpiresAt.UTC()
		body.ExpiresAt = &t
	}
	var answer wire.CreatedToken
	if err := c.do(ctx, http.MethodPost, usersPath(userID), nil, body, &answer); err != nil {
		return nil, wrap(op, err)
	}
	ut := answer.UserToken
	if ut.ID == "" {
		ut = answer.Token
	}
	if ut.ID == "" || answer.AccessToken == "" {
		return nil, wrap(op, errors.New("the answer holds no token id or no accessToken"))
	}
	return &CreatedToken{Token: ut.Domain(), AccessToken: answer.AccessToken}, nil
}

// RotateTokenRequest is what RotateToken and RotateSelf ask for.
type RotateTokenRequest struct {
	// ExpiresAt asks for the successor to expire then; nil gives it the
	// old token's lifetime again, from now.
	ExpiresAt *time.Time
	// Grace is how long the old token keeps working: whole seconds, from
	// 0 (none) to a week.
	Grace time.Duration
}

// body is r as the API takes it; EINVALID, without a request, for a
// grace that is not whole seconds.
func (r RotateTokenRequest) body() (wire.RotateTokenRequest, error) {
	if r.Grace%time.Second != 0 {
		return wire.RotateTokenRequest{}, &latchkey.Error{Code: latchkey.EINVALID, Message: "The grace period must be whole seconds.",
			Fields: latchkey.FieldErrors{{Field: "grace_seconds", Sentences: []string{"The grace period must be whole seconds."}}}}
	}
	body := wire.RotateTokenRequest{GraceSeconds: int64(r.Grace / time.Second)}
	if r.ExpiresAt != nil {
		t := r.ExpiresAt.UTC()
		body.ExpiresAt = &t
	}
	return body, nil
}

// RotateToken replaces the user's token with a new one (Latchkey's
// extension): the same name, scopes and parent, a new id and JWT, its
// RotatedFrom the old id. The old token works for req.Grace more, then is
// revoked. Called again for a token already rotated, it returns a new
// successor if the last one was never used (its answer was lost); if it
// was, the server revokes every token of the rotation and answers
// ECONFLICT.
//
// Codes: EINVALID with Fields; EFORBIDDEN; ENOTFOUND; ECONFLICT for a
// revoked or expired token, an OAuth token, or reuse; EUNAUTHENTICATED.
func (c *Client) RotateToken(ctx context.Context, userID int64, tokenID string, req RotateTokenRequest) (*CreatedToken, error) {
	path, err := tokenPath(userID, tokenID)
	if err != nil {
		return nil, err
	}
	return c.rotate(ctx, path+"/rotate", req)
}

// RotateSelf rotates the token the client sends, as RotateToken does;
// a token already rotated may still ask, to get an answer it lost. The
// client goes on sending the token it was made with: make a new Client
// with the successor's AccessToken.
func (c *Client) RotateSelf(ctx context.Context, req RotateTokenRequest) (*CreatedToken, error) {
	return c.rotate(ctx, selfPath+"/rotate", req)
}

func (c *Client) rotate(ctx context.Context, path string, req RotateTokenRequest) (*CreatedToken, error) {
	const op = "rotate token"
	body, err := req.body()
	if err != nil {
		return nil, err
	}
	var answer wire.CreatedToken
	if err := c.do(ctx, http.MethodPost, path, nil, body, &answer); err != nil {
		return nil, wrap(op, err)
	}
	if answer.ID == "" || answer.AccessToken == "" {
		return nil, wrap(op, errors.New("the answer holds no token id or no accessToken"))
	}
	return &CreatedToken{Token: answer.UserToken.Domain(), AccessToken: answer.AccessToken}, nil
}

// selfPath is the path of the token a request is made with.
const selfPath = "/tokens/self"

// Self returns the token the client sends (Latchkey's extension), whatever
// its scopes.
//
// Codes: EUNAUTHENTICATED.
func (c *Client) Self(ctx context.Context) (*latchkey.Token, error) {
	var ut wire.UserToken
	if err := c.do(ctx, http.MethodGet, selfPath, nil, nil, &ut); err != nil {
		return nil, wrap("show self", err)
	}
	if ut.ID == "" {
		return nil, wrap("show self", errors.New("the answer holds no token id"))
	}
	return ut.Domain(), nil
}

// RevokeSelf revokes the token the client sends, and the tokens it made
// (Latchkey's extension). The client cannot be used after.
//
// Codes: EUNAUTHENTICATED.
func (c *Client) RevokeSelf(ctx context.Context) error {
	if err := c.do(ctx, http.MethodDelete, selfPath, nil, nil, nil); err != nil {
		return wrap("revoke self", err)
	}
	return nil
}

// DeleteToken revokes the user's token (deleteToken). Revoking a revoked
// token succeeds.
//
// Codes: ENOTFOUND when there is no such user or token; EFORBIDDEN;
// EUNAUTHENTICATED; EINVALID, without a request, for the ids "", "." and
// "..".
func (c *Client) DeleteToken(ctx context.Context, userID int64, tokenID string) error {
	const op = "delete token"
	path, err := tokenPath(userID, tokenID)
	if err != nil {
		return err
	}
	if err := c.do(ctx, http.MethodDelete, path, nil, nil, nil); err != nil {
		return wrap(op, err)
	}
	return nil
}

// Token returns one of the user's tokens (getTokenById), personal or
// OAuth, revoked or expired ones included.
//
// Codes: ENOTFOUND when there is no such user or token (also for
// ProcessMaker's 200 "[]"); EFORBIDDEN; EUNAUTHENTICATED; EINVALID, without
// a request, for the ids "", "." and "..".
func (c *Client) Token(ctx context.Context, userID int64, tokenID string) (*latchkey.Token, error) {
	const op = "show token"
	path, err := tokenPath(userID, tokenID)
	if err != nil {
		return nil, err
	}
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, path, nil, nil, &raw); err != nil {
		return nil, wrap(op, err)
	}
	if bytes.Equal(bytes.Join(bytes.Fields(raw), nil), []byte("[]")) {
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "Not Found")
	}
	var ut wire.UserToken
	if err := json.Unmarshal(raw, &ut); err != nil {
		return nil, wrap(op, fmt.Errorf("decoding the answer: %w", err))
	}
	if ut.ID == "" {
		return nil, wrap(op, errors.New("the answer holds no token id"))
	}
	return ut.Domain(), nil
}

// Tokens returns one page of the user's personal tokens that are not
// revoked, expired ones included (getTokens).
//
// Codes: EINVALID with Fields for options the server refuses; ENOTFOUND
// when there is no such user; EFORBIDDEN; EUNAUTHENTICATED.
func (c *Client) Tokens(ctx context.Context, userID int64, opts ListOptions) (*TokenPage, error) {
	const op = "list tokens"
	var list tokenList
	if err := c.do(ctx, http.MethodGet, usersPath(userID), opts.query(), nil, &list); err != nil {
		return nil, wrap(op, err)
	}
	page := &TokenPage{
		Tokens:   make([]*latchkey.Token, 0, len(list.Data)),
		Page:     list.Meta.CurrentPage,
		PerPage:  list.Meta.PerPage,
		Total:    list.Meta.Total,
		LastPage: list.Meta.LastPage,
	}
	for i := range list.Data {
		page.Tokens = append(page.Tokens, list.Data[i].Domain())
	}
	return page, nil
}

// AllTokens iterates over the user's tokens on every page, as Tokens
// lists them, from opts.Page (default 1) with opts.PerPage tokens a
// request (default 100). It stops after yielding the first error, or after
// the last page or an empty one.
//
// Pages are fetched as the iteration goes, so the list can change under
// it: a token is yielded at most once even when tokens created meanwhile
// push others onto later pages, but a token revoked meanwhile pulls others
// onto pages already read, and those are missed.
func (c *Client) AllTokens(ctx context.Context, userID int64, opts ListOptions) iter.Seq2[*latchkey.Token, error] {
	return everyPage(opts.Page, func(page int) (*TokenPage, error) {
		o := opts
		o.Page = page
		if o.PerPage == 0 {
			o.PerPage = allTokensPerPage
		}
		return c.Tokens(ctx, userID, o)
	})
}

// everyPage iterates over the tokens of every page fetch returns, from
// page first (1 when 0) on, each token once, fetching each page as the
// iteration reaches it. It stops after yielding the first error, or after
// the last page or an empty one. Each range starts afresh.
func everyPage(first int, fetch func(page int) (*TokenPage, error)) iter.Seq2[*latchkey.Token, error] {
	return func(yield func(*latchkey.Token, error) bool) {
		page := max(first, 1)
		seen := make(map[string]bool)
		for {
			p, err := fetch(page)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, t := range p.Tokens {
				if seen[t.ID] {
					continue
				}
				seen[t.ID] = true
				if !yield(t, nil) {
					return
				}
			}
			if len(p.Tokens) == 0 || page >= p.LastPage {
				return
			}
			page++
		}
	}
}

// tokenList is a list answer. Its data may also be the JSON object that
// ProcessMaker sends from page 2 on, whose values are read in order.
type tokenList struct {
	Data tokenData `json:"data"`
	Meta wire.Meta `json:"meta"`
}

type tokenData []wire.UserToken

func (d *tokenData) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return json.Unmarshal(b, (*[]wire.UserToken)(d))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		return err
	}
	var out tokenData
	for dec.More() {
		if _, err := dec.Token(); err != nil {
			return err
		}
		var ut wire.UserToken
		if err := dec.Decode(&ut); err != nil {
			return err
		}
		out = append(out, ut)
	}
	*d = out
	return nil
}
