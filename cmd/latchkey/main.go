// Command latchkey is the Latchkey personal access token server and its
// operator tools: serve, migrate, user, token and keys.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "latchkey:", err)
		}
		os.Exit(exitCode(err))
	}
}

// usageError is a bad command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func exitCode(err error) int {
	var u *usageError
	if errors.As(err, &u) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

const topUsage = `Latchkey: personal access tokens, ProcessMaker-compatible.

Usage:
  latchkey serve   [flags]            run the server
  latchkey migrate [flags]            bring the database schema up to date
  latchkey user    create|list|update|disable|enable|delete|restore
  latchkey token   create|list|revoke
  latchkey keys    rotate|import|list
  latchkey client  create|list|revoke
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
	cmd, rest := args[0], args[1:]
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
	case "audit":
		return e.audit(ctx, rest)
	case "bench":
		return e.bench(ctx, rest)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, topUsage)
		return nil
	}
	fmt.Fprint(stderr, topUsage)
	return usagef("unknown command %q", cmd)
}

// env is what every command gets from run.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// subcommand dispatches args[0] among cmds.
func subcommand(ctx context.Context, group string, args []string, cmds map[string]func(context.Context, []string) error, usage string) error {
	if len(args) == 0 {
		return usagef("%s: want a subcommand: %s", group, usage)
	}
	f, ok := cmds[args[0]]
	if !ok {
		return usagef("%s: unknown subcommand %q: want %s", group, args[0], usage)
	}
	return f(ctx, args[1:])
}
