package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

// InventoryPath is the path of the inventory under the API: every user's
// tokens (Latchkey's extension, for administrators and holders of
// view-users).
const InventoryPath = "/tokens"

// InventoryOptions select a page of every user's tokens, personal and
// OAuth, revoked ones included. Zero values filter nothing and leave the
// rest to the server. Date bounds are half-open: an After bound keeps
// times at or after it, a Before bound times strictly before it.
type InventoryOptions struct {
	Page    int // from 1; 0 is the server's default, 1
	PerPage int // 1 to 1000; 0 is the server's default, 10 (100 for AllInventory)

	UserID   int64 // only this user's tokens
	ClientID int64 // only tokens issued by this client
	// States keeps tokens in any of these states; empty keeps all.
	States []latchkey.TokenState

	CreatedAfter, CreatedBefore *time.Time
	// A token that never expires matches ExpiresAfter, never ExpiresBefore.
	ExpiresAfter, ExpiresBefore *time.Time
	// A token never used matches neither bound.
	LastUsedAfter, LastUsedBefore *time.Time
	// NeverUsed, when set, keeps only the tokens never used (true) or
	// only those used (false).
	NeverUsed *bool
	// Scope keeps the tokens that may use it: those that list it, and
	// those no scope limits ([] or *).
	Scope string
	// Filter keeps tokens whose name holds it, ignoring case.
	Filter string
	// OrderBy sorts the list; "" is newest first. Ascending as in
	// ListOptions.
	OrderBy   latchkey.TokenOrder
	Ascending bool
}

// dateParam is the form a Client sends dates in: RFC 3339 in UTC, rounded
// to the microsecond as the server rounds what it stores.
const dateParam = "2006-01-02T15:04:05.999999Z07:00"

func (o InventoryOptions) query() url.Values {
	q := ListOptions{Page: o.Page, PerPage: o.PerPage, Filter: o.Filter, OrderBy: o.OrderBy, Ascending: o.Ascending}.query()
	if o.UserID != 0 {
		q.Set("user_id", strconv.FormatInt(o.UserID, 10))
	}
	if o.ClientID != 0 {
		q.Set("client_id", strconv.FormatInt(o.ClientID, 10))
	}
	if len(o.States) > 0 {
		names := make([]string, len(o.States))
		for i, st := range o.States {
			names[i] = string(st)
		}
		q.Set("state", strings.Join(names, ","))
	}
	for key, t := range map[string]*time.Time{
		"created_after": o.CreatedAfter, "created_before": o.CreatedBefore,
		"expires_after": o.ExpiresAfter, "expires_before": o.ExpiresBefore,
		"last_used_after": o.LastUsedAfter, "last_used_before": o.LastUsedBefore,
	} {
		if t != nil {
			q.Set(key, t.UTC().Round(time.Microsecond).Format(dateParam))
		}
	}
	if o.NeverUsed != nil {
		q.Set("never_used", strconv.FormatBool(*o.NeverUsed))
	}
	if o.Scope != "" {
		q.Set("scope", o.Scope)
	}
	return q
}

// Inventory returns one page of every user's tokens that opts select
// (GET /api/1.0/tokens), newest first unless opts say otherwise.
//
// Codes: EINVALID with Fields for options the server refuses; EFORBIDDEN
// when the caller is neither an administrator nor a holder of view-users,
// or its token lacks tokens.read; EUNAUTHENTICATED.
func (c *Client) Inventory(ctx context.Context, opts InventoryOptions) (*TokenPage, error) {
	const op = "inventory"
	var list tokenList
	if err := c.do(ctx, http.MethodGet, InventoryPath, opts.query(), nil, &list); err != nil {
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

// AllInventory iterates over every token opts select, on every page,
// from opts.Page (default 1) with opts.PerPage tokens a request (default
// 100). It stops after yielding the first error, or after the last page
// or an empty one. As AllTokens, it yields a token at most once although
// tokens created meanwhile push others onto later pages, and remembers
// the id of each token it yielded to do so. For every token at once,
// without paging, InventoryCSV streams the server's CSV.
func (c *Client) AllInventory(ctx context.Context, opts InventoryOptions) iter.Seq2[*latchkey.Token, error] {
	return everyPage(opts.Page, func(page int) (*TokenPage, error) {
		o := opts
		o.Page = page
		if o.PerPage == 0 {
			o.PerPage = allTokensPerPage
		}
		return c.Inventory(ctx, o)
	})
}

// InventoryCSV copies to w the server's CSV of every token opts select
// (Accept: text/csv; opts.Page and opts.PerPage do not apply), as it
// arrives, and returns how many bytes it copied. Its columns are in
// docs/api.md. A download the server cut short (the database failed
// after the first rows) is an error, and what was copied is then not the
// whole inventory.
//
// Codes: as Inventory; ERATELIMIT when the server is writing as many
// exports as it allows.
func (c *Client) InventoryCSV(ctx context.Context, opts InventoryOptions, w io.Writer) (int64, error) {
	const op = "inventory CSV"
	req, err := c.request(ctx, http.MethodGet, InventoryPath, opts.query(), nil)
	if err != nil {
		return 0, wrap(op, err)
	}
	req.Header.Set("Accept", "text/csv")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, wrap(op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, readErr := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
		if readErr != nil || len(b) > maxAnswer {
			b = nil
		}
		return 0, c.answerError(resp, b)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/csv" {
		return 0, wrap(op, fmt.Errorf("the answer is %q, not text/csv", resp.Header.Get("Content-Type")))
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("the server cut the download short after %d bytes: %w", n, err)
		}
		return n, wrap(op, err)
	}
	return n, nil
}
