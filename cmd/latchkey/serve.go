package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/httpapi"
)

func (e *env) serve(ctx context.Context, args []string) error {
	fs := e.flags("serve", "serve [flags]")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	db := fs.dbFlags()
	sf, err := fs.serviceFlags()
	if err != nil {
		return usagef("serve: %v", err)
	}
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	grace := fs.String("shutdown-timeout", "15s", "how long to let requests in flight finish on SIGINT or SIGTERM")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("serve: unexpected arguments %q", fs.Args())
	}
	log, err := newLogger(e, *logFormat, *logLevel)
	if err != nil {
		return err
	}
	shutdownTimeout, err := time.ParseDuration(*grace)
	if err != nil || shutdownTimeout < 0 {
		return usagef("serve: --shutdown-timeout: want a duration such as 15s, got %q", *grace)
	}

	cfg, err := sf.config(log)
	if err != nil {
		return err
	}
	svc, closeSvc, err := e.openService(ctx, db, cfg)
	if err != nil {
		return err
	}
	defer closeSvc()
	if admin, created, err := svc.Bootstrap(ctx); err != nil {
		return err
	} else if created {
		fmt.Fprintf(e.stderr, `latchkey: this is a new database: created user %d, %q, an administrator with no password.
latchkey: get a first token for it with:
latchkey:   latchkey token create --database %s --user %s --name "first token"
`, admin.ID, admin.Username, *db.database, admin.Username)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           httpapi.New(svc, log),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	bg, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	bgDone := make(chan error, 1)
	go func() { bgDone <- svc.Run(bg) }()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("serving", "addr", "http://"+ln.Addr().String(), "database", *db.database)
	fmt.Fprintf(e.stderr, "latchkey: serving on http://%s\n", ln.Addr())

	select {
	case err = <-served:
	case <-ctx.Done():
		log.Info("shutting down", "timeout", shutdownTimeout)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		err = srv.Shutdown(sctx)
		cancel()
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
	}
	stopBg()
	if berr := <-bgDone; berr != nil {
		log.Error("writing last token use", "err", berr)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func newLogger(e *env, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level: want debug, info, warn or error, got %q", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(e.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(e.stderr, opts)), nil
	}
	return nil, usagef("--log-format: want text or json, got %q", format)
}

func (e *env) migrate(ctx context.Context, args []string) error {
	fs := e.flags("migrate", "migrate [flags]")
	db := fs.dbFlags()
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("migrate: unexpected arguments %q", fs.Args())
	}
	st, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(e.stderr, "latchkey: %s is up to date\n", *db.database)
	return nil
}

// quiet is the logger of the operator commands: warnings and errors only.
func (e *env) quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
