// Command latchkey is the Latchkey personal access token server and its
// operator tools: serve, migrate, user, token, keys, client, resource,
// webhook and audit.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		reportError(os.Stderr, err)
		os.Exit(exitCode(err))
	}
}

// reportError prints err once, and for a bad command line where to read the
// command's usage.
func reportError(w io.Writer, err error) {
	fmt.Fprintln(w, "latchkey:", err)
	var u *usageError
	if errors.As(err, &u) && u.see != "" {
		fmt.Fprintf(w, "see '%s'\n", u.see)
	}
}

// usageError is a bad command line: exit status 2.
type usageError struct {
	msg string
	see string // the command that shows the usage: "latchkey serve -h"
}

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// forCommand names the command of a usage error that names none yet.
func forCommand(err error, command string) error {
	var u *usageError
	if errors.As(err, &u) && u.see == "" {
		u.see = "latchkey " + command + " -h"
	}
	return err
}

func exitCode(err error) int {
	var u *usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

const topUsage = `Latchkey: personal access tokens, ProcessMaker-compatible.

Usage:
  latchkey serve   [flags]            run the server
  latchkey migrate [flags]            bring the database schema up to date
  latchkey user    create|list|update|disable|enable|delete|restore
  latchkey token   create|list|revoke|rotate
  latchkey keys    rotate|import|list
  latchkey client  create|list|revoke
  latchkey resource create|list|delete
  latchkey webhook create|list|delete|deliveries
  latchkey audit   [flags]            list the audit log
  latchkey bench   [flags]            measure the server under load on this machine

Run "latchkey COMMAND -h" for a command's flags. Every flag has an
environment default named LATCHKEY_<FLAG>, e.g. LATCHKEY_DATABASE.
`

// run is the whole program: main only supplies the process's context,
// arguments, environment and standard streams.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return usagef("no command given")
	}
	e := &env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	err := e.dispatch(ctx, args[0], args[1:])
	var h *helpText
	if errors.As(err, &h) {
		fmt.Fprint(stdout, h.text)
	}
	if errors.Is(err, flag.ErrHelp) {
		return nil // the usage asked for is printed
	}
	return forCommand(err, args[0])
}

func (e *env) dispatch(ctx context.Context, cmd string, rest []string) error {
	switch cmd {
	case "serve":
		return e.serve(ctx, rest)
	case "migrate":
		return e.migrate(ctx, rest)
	case "user", "users":
		return e.user(ctx, rest)
	case "token", "tokens":
		return e.token(ctx, rest)
	case "keys", "key":
		return e.keys(ctx, rest)
	case "client", "clients":
		return e.client(ctx, rest)
	case "resource", "resources":
		return e.resource(ctx, rest)
	case "webhook", "webhooks":
		return e.webhook(ctx, rest)
	case "audit":
		return e.audit(ctx, rest)
	case "bench":
		return e.bench(ctx, rest)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(e.stdout, topUsage)
		return nil
	}
	return &usageError{msg: fmt.Sprintf("unknown command %q", cmd), see: "latchkey help"}
}

// env is what every command gets from run.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// subcommand dispatches args[0] among cmds. "GROUP -h" lists them.
func subcommand(ctx context.Context, group string, args []string, cmds map[string]func(context.Context, []string) error, usage string) error {
	if len(args) == 0 {
		return usagef("%s: want a subcommand: %s", group, usage)
	}
	if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		// The env is not at hand: the group's usage goes out through the
		// error, which run prints on standard output.
		return &helpText{text: fmt.Sprintf("Usage: latchkey %s SUBCOMMAND [flags]\n\nSubcommands: %s\n\nRun \"latchkey %s SUBCOMMAND -h\" for a subcommand's flags.\n",
			group, strings.Join(slices.Sorted(maps.Keys(cmds)), " "), group)}
	}
	f, ok := cmds[args[0]]
	if !ok {
		return usagef("%s: unknown subcommand %q: want %s", group, args[0], usage)
	}
	return forCommand(f(ctx, args[1:]), group+" "+args[0])
}

// helpText is usage asked for, to be printed on standard output.
type helpText struct{ text string }

func (h *helpText) Error() string { return h.text }
func (h *helpText) Unwrap() error { return flag.ErrHelp }
