package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/service"
)

func (e *env) resource(ctx context.Context, args []string) error {
	return subcommand(ctx, "resource", args, map[string]func(context.Context, []string) error{
		"create": e.resourceCreate,
		"list":   e.resourceList,
		"delete": e.resourceDelete,
	}, "create, list or delete")
}

func (e *env) resourceCreate(ctx context.Context, args []string) error {
	fs := e.flags("resource create", "resource create --uri URI --name NAME --scopes SCOPE,SCOPE... [--default-scopes SCOPE,SCOPE...]\n\n"+
		"Registers a resource server (RFC 8707), such as an MCP server: an application that names its URI\n"+
		"as the resource of an authorization request gets an access token for it alone, whose aud is the\n"+
		"URI, carrying only scopes it understands. Latchkey's own API refuses such a token. Prints the\n"+
		"resource's id.\n\n"+
		"The URI is stored normalized (scheme and host in lowercase, no default port, no trailing slash),\n"+
		"and requests are compared with it so: https://MCP.example.com:443/mcp/ names https://mcp.example.com/mcp.\n\n"+
		"A request for the resource that names no scope, as an MCP client's may, gets the application's\n"+
		"default scopes that the resource understands; when it understands none of them, the resource's\n"+
		"default scopes: --default-scopes, or, left out, all of --scopes.")
	db := fs.dbFlags()
	uri := fs.FlagSet.String("uri", "", "the resource's URI: https (or http on localhost, 127.0.0.1 or [::1]), no query or fragment (required)")
	name := fs.FlagSet.String("name", "", "its name, shown to people asked to approve a token for it (required)")
	scopes := fs.FlagSet.String("scopes", "", "the scopes it understands, separated by commas or spaces, e.g. mcp:tools,mcp:resources (required)")
	defaults := fs.FlagSet.String("default-scopes", "", "the scopes granted to a request naming none, when none of its application's default scopes is one the resource understands: some of --scopes (default all of them)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("resource create: unexpected arguments %q", fs.Args())
	}
	if *uri == "" || *name == "" || *scopes == "" {
		return usagef("resource create: --uri, --name and --scopes are required")
	}
	split := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	}
	if fs.given("default-scopes") && len(split(*defaults)) == 0 {
		return usagef("resource create: --default-scopes names no scope; leave it out for all of --scopes")
	}
	return e.withService(ctx, db, nil, func(svc *service.Service) error {
		r, err := svc.CreateResource(ctx, service.NewResource{URI: *uri, Name: *name, Scopes: split(*scopes), DefaultScopes: split(*defaults)})
		if latchkey.ErrorCode(err) == latchkey.EINVALID {
			return usagef("resource create: %s", describe(err))
		}
		if err != nil {
			return describe(err)
		}
		fmt.Fprintln(e.stdout, r.ID)
		fmt.Fprintf(e.stderr, "latchkey: resource %d registered: %s\n", r.ID, printable(r.URI))
		return nil
	})
}

func (e *env) resourceList(ctx context.Context, args []string) error {
	fs := e.flags("resource list", "resource list [--json]")
	db := fs.dbFlags()
	asJSON := fs.Bool("json", false, "one JSON object a line")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("resource list: unexpected arguments %q", fs.Args())
	}
	return e.withService(ctx, db, nil, func(svc *service.Service) error {
		rs, err := svc.Resources(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			for _, r := range rs {
				if err := writeJSONLine(e.stdout, map[string]any{"id": r.ID, "uri": r.URI, "name": r.Name, "scopes": r.Scopes,
					"default_scopes": r.DefaultScopes, "created_at": r.CreatedAt.UTC().Format(time.RFC3339)}); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tURI\tNAME\tSCOPES\tDEFAULT SCOPES\tCREATED")
		for _, r := range rs {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.ID, printable(r.URI), dash(printable(r.Name)), printable(strings.Join(r.Scopes, " ")),
				dash(printable(strings.Join(r.DefaultScopes, " "))), day(&r.CreatedAt))
		}
		return tw.Flush()
	})
}

func (e *env) resourceDelete(ctx context.Context, args []string) error {
	fs := e.flags("resource delete", "resource delete ID|URI\n\n"+
		"Unregisters a resource server. Authorization requests naming it are refused from now on\n"+
		"(invalid_target), and so are its codes and refresh tokens, even should a resource be registered at\n"+
		"its URI again. The access tokens issued for it are revoked (resource_deleted): introspection calls\n"+
		"them inactive on every running server before the command returns. A resource server that verifies\n"+
		"the tokens' signatures itself, without introspection, accepts them until they expire.")
	db := fs.dbFlags()
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("resource delete: want one resource id or URI")
	}
	return e.withService(ctx, db, nil, func(svc *service.Service) error {
		r, err := svc.FindResource(ctx, fs.Arg(0))
		if err != nil {
			return describe(err)
		}
		n, err := svc.DeleteResource(ctx, r)
		if err != nil {
			return describe(err)
		}
		tokens := "tokens"
		if n == 1 {
			tokens = "token"
		}
		fmt.Fprintf(e.stderr, "latchkey: resource %d deleted: %s; %d access %s issued for it revoked\n", r.ID, printable(r.URI), n, tokens)
		return nil
	})
}
