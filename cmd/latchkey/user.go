package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/service"
)

func (e *env) user(ctx context.Context, args []string) error {
	return subcommand(ctx, "user", args, map[string]func(context.Context, []string) error{
		"create":  e.userCreate,
		"list":    e.userList,
		"update":  e.userUpdate,
		"disable": e.userStatus(latchkey.StatusInactive),
		"enable":  e.userStatus(latchkey.StatusActive),
		"delete":  e.userDelete,
		"restore": e.userRestore,
	}, "create, list, update, disable, enable, delete or restore")
}

// operatorService opens the service with the operator commands' logger.
func (e *env) operatorService(ctx context.Context, db *dbFlags, sf *serviceFlags) (*service.Service, func(), error) {
	cfg := service.Config{Logger: e.quiet()}
	if sf != nil {
		var err error
		if cfg, err = sf.config(e.quiet()); err != nil {
			return nil, nil, err
		}
	}
	svc, _, closeFn, err := e.openService(ctx, db, cfg)
	return svc, closeFn, err
}

// readPassword reads one line from r as a password.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", usagef("--password-stdin: standard input held no password")
	}
	return pw, nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (e *env) userCreate(ctx context.Context, args []string) error {
	fs := e.flags("user create", "user create --username U --email E [--first-name F] [--last-name L] [--admin] [--grant view-users,edit-users] [--password-stdin]")
	db := fs.dbFlags()
	username := fs.FlagSet.String("username", "", "login name (required)")
	email := fs.FlagSet.String("email", "", "email address (required)")
	first := fs.FlagSet.String("first-name", "", "first name")
	last := fs.FlagSet.String("last-name", "", "last name")
	admin := fs.Bool("admin", false, "make the user an administrator")
	grant := fs.FlagSet.String("grant", "", "comma-separated permissions: "+strings.Join(latchkey.Permissions, ", "))
	pwStdin := fs.Bool("password-stdin", false, "read a password from standard input (without one the user cannot sign in)")
	inactive := fs.Bool("inactive", false, "create the user inactive")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("user create: unexpected arguments %q", fs.Args())
	}
	if *username == "" || *email == "" {
		return usagef("user create: --username and --email are required")
	}
	n := service.NewUser{Username: *username, Email: *email, FirstName: *first, LastName: *last,
		Admin: *admin, Inactive: *inactive, Permissions: splitList(*grant)}
	if *pwStdin {
		pw, err := readPassword(e.stdin)
		if err != nil {
			return err
		}
		n.Password = pw
	}
	return e.withService(ctx, db, nil, func(svc *service.Service) error {
		u, err := svc.CreateUser(ctx, n)
		if err != nil {
			return describe(err)
		}
		fmt.Fprintln(e.stdout, u.ID)
		return nil
	})
}

func (e *env) userList(ctx context.Context, args []string) error {
	fs := e.flags("user list", "user list [--search TEXT] [--all | --deleted]")
	db := fs.dbFlags()
	search := fs.FlagSet.String("search", "", "only users whose username, email or name contains this")
	all := fs.Bool("all", false, "include deleted users")
	deleted := fs.Bool("deleted", false, "only deleted users (see user restore)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *all && *deleted {
		return usagef("user list: --all and --deleted exclude each other")
	}
	var us []*latchkey.User
	err := e.withService(ctx, db, nil, func(svc *service.Service) (err error) {
		us, err = svc.Users(ctx, latchkey.UserFilter{Search: *search, IncludeDeleted: *all, OnlyDeleted: *deleted})
		return err
	})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSERNAME\tEMAIL\tNAME\tSTATUS\tADMIN\tPERMISSIONS\tPASSWORD")
	for _, u := range us {
		status := string(u.Status)
		if u.Deleted() {
			status = "DELETED"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%v\t%s\t%v\n", u.ID, dash(printable(u.Username)), dash(printable(u.Email)),
			dash(printable(strings.TrimSpace(u.FirstName+" "+u.LastName))), printable(status), u.Admin,
			dash(printable(strings.Join(u.Permissions, ","))), u.PasswordHash != "")
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (e *env) userUpdate(ctx context.Context, args []string) error {
	fs := e.flags("user update", "user update [flags] USER (an id, username or email)")
	db := fs.dbFlags()
	username := fs.FlagSet.String("username", "", "new login name")
	email := fs.FlagSet.String("email", "", "new email address")
	first := fs.FlagSet.String("first-name", "", "new first name")
	last := fs.FlagSet.String("last-name", "", "new last name")
	admin := fs.Bool("admin", false, "administrator or not (--admin=false)")
	perms := fs.FlagSet.String("permissions", "", "the user's whole permission list, comma-separated (\"\" for none)")
	pwStdin := fs.Bool("password-stdin", false, "read a new password from standard input")
	noPw := fs.Bool("no-password", false, "remove the password: the user can no longer sign in")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("user update: want exactly one USER, got %d", fs.NArg())
	}
	var c service.UserChange
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["username"] {
		c.Username = username
	}
	if set["email"] {
		c.Email = email
	}
	if set["first-name"] {
		c.FirstName = first
	}
	if set["last-name"] {
		c.LastName = last
	}
	if set["admin"] {
		c.Admin = admin
	}
	if set["permissions"] {
		p := splitList(*perms)
		c.Permissions = &p
	}
	switch {
	case *pwStdin && *noPw:
		return usagef("user update: --password-stdin and --no-password exclude each other")
	case *pwStdin:
		pw, err := readPassword(e.stdin)
		if err != nil {
			return err
		}
		c.Password = &pw
	case *noPw:
		empty := ""
		c.Password = &empty
	}
	if c == (service.UserChange{}) {
		return usagef("user update: nothing to change")
	}
	return e.withUser(ctx, db, fs.Arg(0), func(svc *service.Service, u *latchkey.User) error {
		_, err := svc.UpdateUser(ctx, u.ID, c)
		return describe(err)
	})
}

func (e *env) userStatus(status latchkey.UserStatus) func(context.Context, []string) error {
	verb := map[latchkey.UserStatus]string{latchkey.StatusActive: "enable", latchkey.StatusInactive: "disable"}[status]
	return func(ctx context.Context, args []string) error {
		fs := e.flags("user "+verb, "user "+verb+" USER")
		db := fs.dbFlags()
		if err := fs.parse(args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return usagef("user %s: want exactly one USER", verb)
		}
		return e.withUser(ctx, db, fs.Arg(0), func(svc *service.Service, u *latchkey.User) error {
			_, err := svc.UpdateUser(ctx, u.ID, service.UserChange{UserUpdate: latchkey.UserUpdate{Status: &status}})
			return describe(err)
		})
	}
}

func (e *env) userDelete(ctx context.Context, args []string) error {
	fs := e.flags("user delete", "user delete USER")
	db := fs.dbFlags()
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("user delete: want exactly one USER")
	}
	return e.withUser(ctx, db, fs.Arg(0), func(svc *service.Service, u *latchkey.User) error {
		return describe(svc.DeleteUser(ctx, u.ID))
	})
}

func (e *env) userRestore(ctx context.Context, args []string) error {
	fs := e.flags("user restore", "user restore USER (an id, or the username or email of one deleted user)\n\nBrings back a deleted user, with its status, permissions and password. Its\ntokens and refresh tokens stay revoked: issue new ones. Refused while a\nuser not deleted has its username or email.")
	db := fs.dbFlags()
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("user restore: want exactly one USER")
	}
	return e.withService(ctx, db, nil, func(svc *service.Service) error {
		u, err := svc.FindDeletedUser(ctx, fs.Arg(0))
		if err != nil {
			return describe(err)
		}
		if u, err = svc.RestoreUser(ctx, u.ID); err != nil {
			return describe(err)
		}
		fmt.Fprintf(e.stderr, "latchkey: user %d (%s) restored, %s, without the tokens it had\n", u.ID, u.Username, strings.ToLower(string(u.Status)))
		return nil
	})
}

// withService opens the service for an operator command, calls f and
// closes it again.
func (e *env) withService(ctx context.Context, db *dbFlags, sf *serviceFlags, f func(*service.Service) error) error {
	svc, closeSvc, err := e.operatorService(ctx, db, sf)
	if err != nil {
		return err
	}
	defer closeSvc()
	return f(svc)
}

// withUser opens the service, finds the user ref names and calls f.
func (e *env) withUser(ctx context.Context, db *dbFlags, ref string, f func(*service.Service, *latchkey.User) error) error {
	return e.withService(ctx, db, nil, func(svc *service.Service) error {
		u, err := svc.FindUser(ctx, ref)
		if err != nil {
			return describe(err)
		}
		return f(svc, u)
	})
}

// describe turns a domain error into a sentence for the operator. A
// validation error says each field's complaint once: its message only
// repeats the first of them.
func describe(err error) error {
	if err == nil {
		return nil
	}
	var e *latchkey.Error
	if !errors.As(err, &e) || e.Code == latchkey.EINTERNAL {
		return err
	}
	if len(e.Fields) == 0 {
		return fmt.Errorf("%s", e.Message)
	}
	lines := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		lines[i] = f.Field + ": " + strings.Join(f.Sentences, " ")
	}
	return fmt.Errorf("%s", strings.Join(lines, "\n  "))
}
