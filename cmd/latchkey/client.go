package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/service"
)

func (e *env) client(ctx context.Context, args []string) error {
	return subcommand(ctx, "client", args, map[string]func(context.Context, []string) error{
		"create": e.clientCreate,
		"list":   e.clientList,
		"revoke": e.clientRevoke,
	}, "create, list or revoke")
}

// stringsFlag is a flag that may be given many times. Its environment
// default is a space-separated list, which the command line replaces.
type stringsFlag struct {
	values    []string
	isDefault bool
}

func (f *stringsFlag) String() string { return strings.Join(f.values, " ") }

func (f *stringsFlag) Set(v string) error {
	if f.isDefault {
		f.values, f.isDefault = nil, false
	}
	f.values = append(f.values, v)
	return nil
}

func (f *stringsFlag) setDefault(v string) error {
	f.values, f.isDefault = strings.Fields(v), true
	return nil
}

func (e *env) clientCreate(ctx context.Context, args []string) error {
	fs := e.flags("client create", "client create --name NAME --redirect-uri URI [--redirect-uri URI2 ...] [--public] [--default-scopes SCOPES]\n\n"+
		"Registers an OAuth application. Prints its client id, then, for a confidential\n"+
		"client, its secret: the only time the secret is shown.\n\n"+
		"An authorization request of the application that names no scope (MCP clients\n"+
		"may send none) is granted its --default-scopes, else the server's\n"+
		"--oauth-default-scopes (tokens.read unless set).")
	db := fs.dbFlags()
	name := fs.FlagSet.String("name", "", "the application's name, shown to users asked to approve it (required)")
	var uris stringsFlag
	fs.Var(&uris, "redirect-uri", "a URI the application may be sent back to: https, or http on localhost, 127.0.0.1 or [::1] (required; repeat for more; the variable holds them separated by spaces)")
	public := fs.Bool("public", false, "a public client (a native or single-page app that cannot keep a secret): no secret, PKCE required")
	defaults := fs.String("default-scopes", "", "comma-separated scopes granted to an authorization request that names none, e.g. tokens.read,tokens.write (default: the server's --oauth-default-scopes)")
	extra := fs.String("extra-scopes", "", "comma-separated scopes the server accepts beyond tokens.read, tokens.write and *, as serve's --extra-scopes: --default-scopes may name them")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("client create: unexpected arguments %q", fs.Args())
	}
	if *name == "" || len(uris.values) == 0 {
		return usagef("client create: --name and --redirect-uri are required")
	}
	known, err := knownScopes(*extra)
	if err != nil {
		return usagef("client create: --extra-scopes: %v", err)
	}
	scopes, err := checkScopeList(*defaults, known)
	if err != nil {
		return usagef("client create: --default-scopes: %v", err)
	}
	cfg := service.Config{Logger: e.quiet(), ExtraScopes: known[len(latchkey.BuiltinScopes):]}
	svc, _, closeSvc, err := e.openService(ctx, db, cfg)
	if err != nil {
		return err
	}
	defer closeSvc()
	c, secret, err := svc.RegisterClient(ctx, service.NewClient{Name: *name, RedirectURIs: uris.values, Public: *public, DefaultScopes: scopes})
	if err != nil {
		return describe(err)
	}
	fmt.Fprintln(e.stdout, c.ID)
	if secret == "" {
		fmt.Fprintf(e.stderr, "latchkey: public client %d registered; it has no secret and must use PKCE\n", c.ID)
		return nil
	}
	fmt.Fprintln(e.stdout, secret)
	fmt.Fprintf(e.stderr, "latchkey: client %d registered; its secret, above, will not be shown again: store it now\n", c.ID)
	return nil
}

// knownScopes are the scopes a server knows: its own, then the
// comma-separated extra ones.
func knownScopes(extra string) ([]string, error) {
	known := slices.Clone(latchkey.BuiltinScopes)
	for _, s := range splitList(extra) {
		if !latchkey.ValidScopeName(s) {
			return nil, fmt.Errorf("%q is not a scope name: want 1 to 100 letters, digits and . _ : / -", s)
		}
		if !slices.Contains(known, s) {
			known = append(known, s)
		}
	}
	return known, nil
}

// checkScopeList reads a comma-separated list of scopes, each one of
// known, without duplicates; nil for none.
func checkScopeList(list string, known []string) ([]string, error) {
	var out []string
	for _, s := range splitList(list) {
		if !slices.Contains(known, s) {
			return nil, fmt.Errorf("%q is not a scope this server knows: %s (more with --extra-scopes)", s, strings.Join(known, ", "))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

func (e *env) clientList(ctx context.Context, args []string) error {
	fs := e.flags("client list", "client list [--json]")
	db := fs.dbFlags()
	asJSON := fs.Bool("json", false, "one JSON object a line")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("client list: unexpected arguments %q", fs.Args())
	}
	return e.withService(ctx, db, nil, func(svc *service.Service) error {
		cs, err := svc.Clients(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			for _, c := range cs {
				if err := writeJSONLine(e.stdout, clientJSON(c)); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tTYPE\tSOURCE\tSTATE\tREDIRECT URIS\tDEFAULT SCOPES\tCREATED")
		for _, c := range cs {
			var uris []string
			for _, u := range service.RedirectURIs(c) {
				uris = append(uris, printable(u))
			}
			source := clientSource(c)
			if c.MetadataURL != "" {
				source += " " + printable(c.MetadataURL)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, dash(printable(c.Name)), clientType(c), source, clientState(c),
				dash(strings.Join(uris, " ")), dash(printable(strings.Join(c.DefaultScopes, " "))), day(&c.CreatedAt))
		}
		return tw.Flush()
	})
}

// clientType names what kind of client c is.
func clientType(c *latchkey.Client) string {
	switch {
	case c.PersonalAccessClient || c.ID == latchkey.PersonalAccessClientID:
		return "personal access"
	case c.SecretHash == "":
		return "public"
	}
	return "confidential"
}

// clientSource says who registered c: the operator, the client itself at
// /oauth/register, or its metadata document, whose URL is its client_id.
func clientSource(c *latchkey.Client) string {
	if c.MetadataURL != "" {
		return "metadata document"
	}
	if c.SelfRegistered {
		return "self-registered"
	}
	return "operator"
}

func clientState(c *latchkey.Client) string {
	if c.Revoked {
		return "revoked"
	}
	return "active"
}

// clientJSON is a client as one JSON line: never its secret's hash.
func clientJSON(c *latchkey.Client) map[string]any {
	uris := service.RedirectURIs(c)
	if uris == nil {
		uris = []string{}
	}
	defaults := []string(c.DefaultScopes)
	if defaults == nil {
		defaults = []string{}
	}
	return map[string]any{
		"id": c.ID, "name": c.Name, "type": clientType(c), "source": clientSource(c), "revoked": c.Revoked,
		"redirect_uris": uris, "default_scopes": defaults, "created_at": c.CreatedAt.UTC().Format(time.RFC3339Nano),
		"client_id": clientID(c),
	}
}

// clientID is c's OAuth client_id: its id, or its metadata document's
// URL.
func clientID(c *latchkey.Client) string {
	if c.MetadataURL != "" {
		return c.MetadataURL
	}
	return strconv.FormatInt(c.ID, 10)
}

func (e *env) clientRevoke(ctx context.Context, args []string) error {
	fs := e.flags("client revoke", "client revoke CLIENT_ID\n\nRevokes an application: every token it issued stops working at once.")
	db := fs.dbFlags()
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("client revoke: want exactly one CLIENT_ID")
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil || id <= 0 {
		return usagef("client revoke: CLIENT_ID is a client's number (see latchkey client list), got %q", fs.Arg(0))
	}
	return e.withService(ctx, db, nil, func(svc *service.Service) error {
		if err := svc.RevokeClient(ctx, id); err != nil {
			return describe(err)
		}
		fmt.Fprintf(e.stderr, "latchkey: client %d revoked\n", id)
		return nil
	})
}
