package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/service"
	"github.com/latchkey/latchkey/internal/wire"
)

// inventoryOptions are the flags of token list --all-users: the filters
// of GET /api/1.0/tokens, by the names of its query parameters with -
// for _, and the output's format.
type inventoryOptions struct {
	allUsers bool
	format   string
	// params holds each filter flag's value, by query parameter.
	params map[string]*string
}

// inventoryFilterFlags are the query parameters of the inventory that
// are flags of their own (user_id is --user, filter --filter).
var inventoryFilterFlags = []struct{ param, usage string }{
	{"client_id", "only tokens of this client (1: the personal access client)"},
	{"state", "only tokens in these states: active, expired, revoked, comma-separated"},
	{"created_after", "only tokens created at or after this date (RFC 3339, or YYYY-MM-DD in UTC)"},
	{"created_before", "only tokens created before this date"},
	{"expires_after", "only tokens expiring at or after this date (or never)"},
	{"expires_before", "only tokens expiring before this date"},
	{"last_used_after", "only tokens last used at or after this date"},
	{"last_used_before", "only tokens last used before this date"},
	{"never_used", "true: only tokens never used; false: only tokens used"},
	{"scope", "only tokens that may use this scope (those limited by none included)"},
	{"order_by", "created_at (default), name, expires_at or last_used_at"},
	{"order_direction", "desc (default) or asc"},
}

func inventoryFlags(fs *flagSet) *inventoryOptions {
	o := &inventoryOptions{params: map[string]*string{}}
	fs.BoolVar(&o.allUsers, "all-users", false, "every user's tokens, personal and OAuth, revoked included")
	fs.StringVar(&o.format, "format", "table", "with --all-users: table, json (an array of the API's UserToken) or csv (the API's CSV)")
	for _, f := range inventoryFilterFlags {
		o.params[f.param] = fs.String(strings.ReplaceAll(f.param, "_", "-"), "", "with --all-users: "+f.usage)
	}
	return o
}

// given names an inventory flag the command line or the environment
// set, or "".
func (o *inventoryOptions) given(fs *flagSet) string {
	var name string
	fs.Visit(func(f *flag.Flag) {
		if name != "" {
			return
		}
		if f.Name == "format" || o.params[strings.ReplaceAll(f.Name, "-", "_")] != nil {
			name = f.Name
		}
	})
	return name
}

// inventory writes every token the filters select, as they are read.
func (e *env) inventory(ctx context.Context, db *dbFlags, user, filter string, o *inventoryOptions) error {
	switch o.format {
	case "table", "json", "csv":
	default:
		return usagef("token list: --format: want table, json or csv, got %q", o.format)
	}
	q := url.Values{}
	for param, v := range o.params {
		if *v != "" {
			q.Set(param, *v)
		}
	}
	if filter != "" {
		q.Set("filter", filter)
	}
	iq, err := httpapi.ParseInventoryQuery(q)
	if err != nil {
		return usagef("token list: %v", describe(asFlags(err)))
	}
	return e.withService(ctx, db, nil, func(svc *service.Service) error {
		f := iq.Filter
		if user != "" {
			u, err := svc.FindUser(ctx, user)
			if err != nil {
				return describe(err)
			}
			f.UserID = u.ID
		}
		w := bufio.NewWriter(e.stdout)
		write, end := inventoryWriter(w, o.format, svc.Now())
		err := svc.EachInventoryToken(ctx, service.Operator(), f, func(it *latchkey.InventoryToken) error {
			if err := write(it); err != nil {
				return err
			}
			return nil
		})
		if err != nil {
			return describe(err)
		}
		if err := end(); err != nil {
			return err
		}
		return w.Flush()
	})
}

// asFlags names the fields of a validation error by their flags.
func asFlags(err error) error {
	var e *latchkey.Error
	if !errors.As(err, &e) {
		return err
	}
	c := *e
	c.Fields = nil
	for _, f := range e.Fields {
		name := "--" + strings.ReplaceAll(f.Field, "_", "-")
		if f.Field == "per_page" || f.Field == "page" {
			continue // never set here
		}
		for _, s := range f.Sentences {
			c.Fields.Add(name, s)
		}
	}
	return &c
}

// tableFlushRows is how many rows of the table are aligned together:
// the table is written a block at a time, so that it holds no more.
const tableFlushRows = 500

// inventoryWriter returns the function that writes each token to w in
// format, and the one that ends the output.
func inventoryWriter(w io.Writer, format string, now time.Time) (func(*latchkey.InventoryToken) error, func() error) {
	switch format {
	case "csv":
		out := wire.NewInventoryCSV(w, now)
		if err := out.WriteHeader(); err != nil {
			return func(*latchkey.InventoryToken) error { return err }, func() error { return err }
		}
		return out.Write, out.Flush
	case "json":
		// One array, an element a line, written as the rows come.
		n := 0
		var b []byte
		return func(it *latchkey.InventoryToken) error {
				b = b[:0]
				if n == 0 {
					b = append(b, "[\n"...)
				} else {
					b = append(b, ",\n"...)
				}
				n++
				ut := wire.FromToken(it.Token)
				b = ut.AppendJSON(b)
				_, err := w.Write(b)
				return err
			}, func() error {
				end := "\n]\n"
				if n == 0 {
					end = "[]\n"
				}
				_, err := io.WriteString(w, end)
				return err
			}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tNAME\tCLIENT\tSCOPES\tCREATED\tEXPIRES\tLAST USED\tSTATE")
	n := 0
	return func(it *latchkey.InventoryToken) error {
		t := it.Token
		client := strconv.FormatInt(t.ClientID, 10)
		if t.Client != nil && !t.Client.PersonalAccessClient {
			client = printable(t.Client.Name)
		} else if t.Client != nil {
			client = "personal"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", printable(t.ID), dash(printable(it.Username)), dash(printable(t.Name)),
			client, dash(printable(strings.Join(t.Scopes, ","))), day(&t.CreatedAt), day(t.ExpiresAt), day(t.LastUsedAt), t.State(now))
		if n++; n%tableFlushRows == 0 {
			return tw.Flush()
		}
		return nil
	}, tw.Flush
}
