package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/service"
)

func (e *env) token(ctx context.Context, args []string) error {
	return subcommand(ctx, "token", args, map[string]func(context.Context, []string) error{
		"create": e.tokenCreate,
		"list":   e.tokenList,
		"revoke": e.tokenRevoke,
	}, "create, list or revoke")
}

func (e *env) tokenCreate(ctx context.Context, args []string) error {
	fs := e.flags("token create", "token create --user USER --name NAME [--scopes a,b] [--expires-in 90d | --expires-at DATE]\n\nPrints only the token, so that TOKEN=$(latchkey token create ...) works.")
	db := fs.dbFlags()
	sf := fs.serviceFlags()
	user := fs.FlagSet.String("user", "", "the token's user: an id, username or email (required)")
	name := fs.FlagSet.String("name", "", "the token's name (required)")
	scopes := fs.FlagSet.String("scopes", "", "comma-separated scopes of the token (default: every ability of the user)")
	expiresIn := fs.FlagSet.String("expires-in", "", "lifetime, e.g. 90d or 12h (default: --token-lifetime)")
	expiresAt := fs.FlagSet.String("expires-at", "", "expiry as an RFC 3339 date, e.g. 2027-01-31T00:00:00Z")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("token create: unexpected arguments %q", fs.Args())
	}
	if *user == "" || *name == "" {
		return usagef("token create: --user and --name are required")
	}
	req := service.TokenRequest{Name: name, Scopes: splitList(*scopes)}
	switch {
	case *expiresIn != "" && *expiresAt != "":
		return usagef("token create: --expires-in and --expires-at exclude each other")
	case *expiresIn != "":
		l, err := service.ParseLifetime(*expiresIn)
		if err != nil {
			return usagef("token create: --expires-in: %v", err)
		}
		at := l.After(time.Now())
		req.ExpiresAt = &at
	case *expiresAt != "":
		at, err := time.Parse(time.RFC3339Nano, *expiresAt)
		if err != nil {
			return usagef("token create: --expires-at: want an RFC 3339 date such as 2027-01-31T00:00:00Z, got %q", *expiresAt)
		}
		req.ExpiresAt = &at
	}
	return e.withService(ctx, db, sf, func(svc *service.Service) error {
		u, err := svc.FindUser(ctx, *user)
		if err != nil {
			return describe(err)
		}
		_, jwt, err := svc.OperatorCreateToken(ctx, u, req)
		if err != nil {
			return describe(err)
		}
		fmt.Fprintln(e.stdout, jwt)
		return nil
	})
}

func (e *env) tokenList(ctx context.Context, args []string) error {
	fs := e.flags("token list", "token list --user USER [--filter TEXT] [--all]\n"+
		"       latchkey token list --all-users [--user USER] [filters] [--format table|json|csv]\n\n"+
		"With --all-users: every user's tokens, personal and OAuth, revoked ones included,\n"+
		"as GET /api/1.0/tokens lists them (see docs/api.md), all of them, written as they are read.")
	db := fs.dbFlags()
	user := fs.FlagSet.String("user", "", "whose tokens: an id, username or email (required without --all-users)")
	filter := fs.FlagSet.String("filter", "", "only tokens whose name contains this")
	all := fs.Bool("all", false, "include revoked tokens")
	inv := inventoryFlags(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if inv.allUsers {
		if *all {
			return usagef("token list: --all-users lists revoked tokens too; filter them with --state")
		}
		return e.inventory(ctx, db, *user, *filter, inv)
	}
	if given := inv.given(fs); given != "" {
		return usagef("token list: --%s needs --all-users", given)
	}
	if *user == "" {
		return usagef("token list: --user is required")
	}
	return e.withUser(ctx, db, *user, func(svc *service.Service, u *latchkey.User) error {
		ts, _, err := svc.Tokens(ctx, u, service.ListQuery{Page: 1, PerPage: 0, Filter: *filter, IncludeRevoked: *all})
		if err != nil {
			return err
		}
		now := time.Now()
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tCREATED\tEXPIRES\tLAST USED\tSTATE")
		for _, t := range ts {
			state := "active"
			switch {
			case t.Revoked:
				state = "revoked"
			case t.Expired(now):
				state = "expired"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", printable(t.ID), dash(printable(t.Name)), dash(printable(strings.Join(t.Scopes, ","))),
				day(&t.CreatedAt), day(t.ExpiresAt), day(t.LastUsedAt), state)
		}
		return tw.Flush()
	})
}

func day(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func (e *env) tokenRevoke(ctx context.Context, args []string) error {
	fs := e.flags("token revoke", "token revoke TOKEN_ID")
	db := fs.dbFlags()
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("token revoke: want exactly one TOKEN_ID (80 hex characters)")
	}
	return e.withService(ctx, db, nil, func(svc *service.Service) error {
		revoked, err := svc.OperatorRevokeToken(ctx, fs.Arg(0))
		if err != nil {
			return describe(err)
		}
		if !revoked {
			fmt.Fprintf(e.stderr, "latchkey: token %s was already revoked\n", fs.Arg(0))
			return nil
		}
		fmt.Fprintf(e.stderr, "latchkey: token %s revoked\n", fs.Arg(0))
		return nil
	})
}
