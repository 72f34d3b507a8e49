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
		"rotate": e.tokenRotate,
	}, "create, list, revoke or rotate")
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
	var err error
	if req.ExpiresAt, err = parseExpiry("token create", *expiresIn, *expiresAt); err != nil {
		return err
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

// tokenIDArg checks that the one argument of the command cmd is a token
// id. The argument is not echoed: it may be a token itself.
func tokenIDArg(cmd string, fs *flagSet) error {
	if fs.NArg() != 1 {
		return usagef("%s: want exactly one TOKEN_ID (80 hex characters)", cmd)
	}
	if !latchkey.ValidTokenID(fs.Arg(0)) {
		return usagef("%s: TOKEN_ID is a token's id: 80 lowercase hex characters, as latchkey token list --user USER shows them", cmd)
	}
	return nil
}

func (e *env) tokenRevoke(ctx context.Context, args []string) error {
	fs := e.flags("token revoke", "token revoke TOKEN_ID")
	db := fs.dbFlags()
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := tokenIDArg("token revoke", fs); err != nil {
		return err
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

func (e *env) tokenRotate(ctx context.Context, args []string) error {
	fs := e.flags("token rotate", "token rotate [--grace 10m] [--expires-in 90d | --expires-at DATE] TOKEN_ID\n\n"+
		"Replaces the token with a new one of the same name and scopes, and prints only the new\n"+
		"token. The old one works for --grace more (default none), then is revoked.")
	db := fs.dbFlags()
	sf := fs.serviceFlags()
	grace := fs.FlagSet.String("grace", "0s", "how long the old token keeps working, e.g. 1h or 1d, up to 7d")
	expiresIn := fs.FlagSet.String("expires-in", "", "the new token's lifetime, e.g. 90d (default: the old token's again)")
	expiresAt := fs.FlagSet.String("expires-at", "", "the new token's expiry as an RFC 3339 date")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := tokenIDArg("token rotate", fs); err != nil {
		return err
	}
	g := time.Duration(0)
	if *grace != "0" && *grace != "0s" {
		l, err := service.ParseLifetime(*grace)
		if err != nil {
			return usagef("token rotate: --grace: %v", err)
		}
		g = l.After(time.Time{}).Sub(time.Time{})
	}
	if g > service.MaxGrace || g%time.Second != 0 {
		return usagef("token rotate: --grace: want whole seconds up to 7d, got %q", *grace)
	}
	req := service.RotateRequest{Grace: g}
	var err error
	if req.ExpiresAt, err = parseExpiry("token rotate", *expiresIn, *expiresAt); err != nil {
		return err
	}
	return e.withService(ctx, db, sf, func(svc *service.Service) error {
		t, jwt, err := svc.OperatorRotateToken(ctx, fs.Arg(0), req)
		if err != nil {
			return describe(err)
		}
		fmt.Fprintln(e.stdout, jwt)
		if g > 0 {
			fmt.Fprintf(e.stderr, "latchkey: token %s rotated to %s; the old one works for %v more\n", fs.Arg(0), t.ID, g)
		} else {
			fmt.Fprintf(e.stderr, "latchkey: token %s rotated to %s; the old one is revoked\n", fs.Arg(0), t.ID)
		}
		return nil
	})
}

// parseExpiry reads the --expires-in and --expires-at of the command cmd,
// which exclude each other: nil when neither is given.
func parseExpiry(cmd, expiresIn, expiresAt string) (*time.Time, error) {
	switch {
	case expiresIn != "" && expiresAt != "":
		return nil, usagef("%s: --expires-in and --expires-at exclude each other", cmd)
	case expiresIn != "":
		l, err := service.ParseLifetime(expiresIn)
		if err != nil {
			return nil, usagef("%s: --expires-in: %v", cmd, err)
		}
		at := l.After(time.Now())
		return &at, nil
	case expiresAt != "":
		at, err := time.Parse(time.RFC3339Nano, expiresAt)
		if err != nil {
			return nil, usagef("%s: --expires-at: want an RFC 3339 date such as 2027-01-31T00:00:00Z, got %q", cmd, expiresAt)
		}
		return &at, nil
	}
	return nil, nil
}
