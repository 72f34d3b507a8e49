// Command mcp-server is a small MCP server (the Model Context Protocol's
// Streamable HTTP transport, JSON answers only) whose endpoint only
// Latchkey's access tokens open: an example of package resource. It has
// two tools, whoami and echo; listing them needs the scope mcp.read,
// calling them mcp.call too. See README.md beside it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/latchkey/latchkey/resource"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mcp-server:", err)
		os.Exit(1)
	}
}

const usage = `Usage: mcp-server [flags]

An MCP server whose endpoint needs an access token from Latchkey for its
resource. Every flag has an environment variable, named after it.

Flags:
`

// run parses args, checks the configuration with Latchkey, and serves
// until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("mcp-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	addr := fs.String("addr", env("MCP_ADDR", "127.0.0.1:8090"), "address to listen on ($MCP_ADDR)")
	issuer := fs.String("issuer", env("MCP_ISSUER", "http://127.0.0.1:8080"), "Latchkey's issuer: its --public-url, or the address it serves on ($MCP_ISSUER)")
	res := fs.String("resource", env("MCP_RESOURCE", ""), "this server's resource URI, as registered with Latchkey (default: http://ADDR/mcp) ($MCP_RESOURCE)")
	clientID := fs.String("client-id", env("MCP_CLIENT_ID", ""), "the client id this server asks Latchkey's introspection endpoint with, to see revocations ($MCP_CLIENT_ID)")
	secretFile := fs.String("client-secret-file", env("MCP_CLIENT_SECRET_FILE", ""), "a file holding that client's secret; or set $MCP_CLIENT_SECRET ($MCP_CLIENT_SECRET_FILE)")
	insecure := fs.Bool("insecure-loopback", env("MCP_INSECURE_LOOPBACK", "") == "true", "allow http for an issuer and resource on a loopback host, for trying it out ($MCP_INSECURE_LOOPBACK=true)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	secret := getenv("MCP_CLIENT_SECRET")
	if *secretFile != "" {
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			return err
		}
		secret = strings.TrimSpace(string(b))
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	if *res == "" {
		*res = "http://" + ln.Addr().String() + "/mcp"
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	v, err := resource.New(ctx, resource.Config{
		Issuer:           *issuer,
		Resource:         *res,
		ResourceName:     "Latchkey's example MCP server",
		Scopes:           []string{scopeRead, scopeCall},
		ClientID:         *clientID,
		ClientSecret:     secret,
		InsecureLoopback: *insecure,
		Logger:           log,
	})
	if err != nil {
		return err
	}
	if *clientID == "" {
		log.Warn("no --client-id: revoked tokens are accepted until they expire")
	}

	srv := &http.Server{Handler: newHandler(v), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(stderr, "mcp-server: serving %s (its RFC 9728 document: %s)\n", v.Resource(), v.MetadataURL())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
