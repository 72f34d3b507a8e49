package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/postgres"
	"github.com/latchkey/latchkey/internal/service"
	"github.com/latchkey/latchkey/internal/sqlite"
)

func (e *env) serve(ctx context.Context, args []string) error {
	fs := e.flags("serve", "serve [flags]")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	metricsAddr := fs.String("metrics-addr", "", "address to serve Prometheus metrics on, at /metrics, e.g. 127.0.0.1:9090 (default: no metrics listener; they are never on --addr)")
	db := fs.dbFlags()
	sf, err := fs.serviceFlags()
	if err != nil {
		return usagef("serve: %v", err)
	}
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	grace := fs.String("shutdown-timeout", "15s", "how long to let requests in flight finish on SIGINT or SIGTERM")
	limitFailed := fs.String("limit-failed-auth", rateString(httpapi.DefaultLimits.FailedAuthPerAddr), "failed authentications allowed per client address: PER_SECOND[:BURST], or off")
	limitCreateUser := fs.String("limit-create-user", rateString(httpapi.DefaultLimits.CreatePerUser), "token creations allowed per user: PER_SECOND[:BURST], or off")
	limitCreateAddr := fs.String("limit-create-addr", rateString(httpapi.DefaultLimits.CreatePerAddr), "token creations allowed per client address: PER_SECOND[:BURST], or off")
	limitSignInAddr := fs.String("limit-sign-in-addr", rateString(httpapi.DefaultLimits.SignInPerAddr), "failed sign-ins allowed per client address: PER_SECOND[:BURST], or off")
	limitSignInAccount := fs.String("limit-sign-in-account", rateString(httpapi.DefaultLimits.SignInPerAccount), "failed sign-ins allowed per account name: PER_SECOND[:BURST], or off")
	limitTokenEndpoint := fs.String("limit-token-endpoint", rateString(httpapi.DefaultLimits.TokenEndpointPerAddr), "requests to /oauth/token, /oauth/revoke and /oauth/introspect allowed per client address: PER_SECOND[:BURST], or off")
	proxies := fs.String("trusted-proxies", "", "comma-separated addresses or CIDRs of proxies whose X-Forwarded-For and X-Forwarded-Proto are believed")
	publicURL := fs.String("public-url", "", "the server's address as its users reach it, e.g. https://tokens.example.com (the OAuth issuer; default: each request's own)")
	secureCookies := fs.Bool("secure-cookies", false, "mark the sign-in cookie Secure even on plain HTTP (TLS ends at a proxy)")
	oauthLifetime := fs.String("oauth-token-lifetime", oauth.DefaultAccessTokenLifetime.String(), "lifetime of an OAuth access token")
	refreshLifetime := fs.String("refresh-token-lifetime", "30d", "lifetime of an OAuth refresh token, e.g. 30d")
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
	if err := checkMetricsAddr(*metricsAddr); err != nil {
		return err
	}
	shutdownTimeout, err := time.ParseDuration(*grace)
	if err != nil || shutdownTimeout < 0 {
		return usagef("serve: --shutdown-timeout: want a duration such as 15s, got %q", *grace)
	}

	var limits httpapi.Limits
	for _, l := range []struct {
		flag, value string
		dst         *httpapi.Rate
	}{
		{"limit-failed-auth", *limitFailed, &limits.FailedAuthPerAddr},
		{"limit-create-user", *limitCreateUser, &limits.CreatePerUser},
		{"limit-create-addr", *limitCreateAddr, &limits.CreatePerAddr},
		{"limit-sign-in-addr", *limitSignInAddr, &limits.SignInPerAddr},
		{"limit-sign-in-account", *limitSignInAccount, &limits.SignInPerAccount},
		{"limit-token-endpoint", *limitTokenEndpoint, &limits.TokenEndpointPerAddr},
	} {
		if *l.dst, err = parseRate(l.value); err != nil {
			return usagef("serve: --%s: %v", l.flag, err)
		}
	}
	trusted, err := parsePrefixes(*proxies)
	if err != nil {
		return usagef("serve: --trusted-proxies: %v", err)
	}

	atLife, err := time.ParseDuration(*oauthLifetime)
	if err != nil || atLife <= 0 {
		return usagef("serve: --oauth-token-lifetime: want a duration such as 1h, got %q", *oauthLifetime)
	}
	rtLife, err := service.ParseLifetime(*refreshLifetime)
	if err != nil {
		return usagef("serve: --refresh-token-lifetime: %v", err)
	}
	if *publicURL != "" {
		u, err := url.Parse(*publicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return usagef("serve: --public-url: want the server's root, such as https://tokens.example.com, got %q", *publicURL)
		}
		*publicURL = strings.TrimSuffix(*publicURL, "/")
	}

	cfg, err := sf.config(log)
	if err != nil {
		return err
	}
	m := metrics.New()
	cfg.Observer = m
	svc, st, closeSvc, err := e.openService(ctx, db, cfg)
	if err != nil {
		return err
	}
	defer closeSvc()
	// A database that reads but cannot be written would answer every
	// change with a 500: refuse it before listening.
	if err := svc.Ping(ctx); err != nil {
		return fmt.Errorf("refusing to serve: the database must accept writes: %w", err)
	}
	if admin, created, err := svc.Bootstrap(ctx); err != nil {
		return err
	} else if created {
		fmt.Fprintf(e.stderr, `latchkey: this is a new database: created user %d, %q, an administrator with no password.
latchkey: get a first token for it with:
latchkey:   latchkey token create --database %s --user %s --name "first token"
latchkey: or give it a password, and sign in to the web pages at http://%s/ :
latchkey:   latchkey user update --database %s --password-stdin %s
`, admin.ID, admin.Username, *db.database, admin.Username, *addr, *db.database, admin.Username)
	}

	registerStoreMetrics(m, svc, st)

	provider, err := oauth.New(svc, st, oauth.Config{
		AccessTokenLifetime:  atLife,
		RefreshTokenLifetime: rtLife.After(time.Time{}).Sub(time.Time{}),
		Secret:               svc.DeriveKey(oauth.SecretInfo),
		Logger:               log,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	mln, err := listenMetrics(*metricsAddr, m, log)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler: httpapi.New(svc, httpapi.Options{
			Logger: log, Metrics: m, Limits: limits, TrustedProxies: trusted,
			OAuth: provider, PublicURL: *publicURL, SecureCookies: *secureCookies,
		}),
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
	mln.serve()
	if a := mln.addr(); a != "" {
		log.Info("serving metrics", "addr", "http://"+a+"/metrics")
		fmt.Fprintf(e.stderr, "latchkey: serving metrics on http://%s/metrics\n", a)
	}
	log.Info("serving", "addr", "http://"+ln.Addr().String(), "database", *db.database)
	fmt.Fprintf(e.stderr, "latchkey: serving on http://%s\n", ln.Addr())

	select {
	case err = <-served:
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		_ = mln.shutdown(sctx)
		cancel()
	case err = <-mln.failed:
		_ = srv.Close()
		<-served
	case <-ctx.Done():
		log.Info("shutting down", "timeout", shutdownTimeout)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		err = errors.Join(srv.Shutdown(sctx), mln.shutdown(sctx))
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

// rateString is r in the form parseRate reads.
func rateString(r httpapi.Rate) string {
	if r.PerSecond <= 0 {
		return "off"
	}
	return strconv.FormatFloat(r.PerSecond, 'f', -1, 64) + ":" + strconv.Itoa(r.Burst)
}

// parseRate reads PER_SECOND[:BURST] (burst defaults to five seconds'
// worth), or "off".
func parseRate(s string) (httpapi.Rate, error) {
	if s == "off" || s == "0" {
		return httpapi.Rate{}, nil
	}
	per, burst, hasBurst := strings.Cut(s, ":")
	r, err := strconv.ParseFloat(per, 64)
	if err != nil || r <= 0 || math.IsInf(r, 0) || math.IsNaN(r) {
		return httpapi.Rate{}, fmt.Errorf("want PER_SECOND[:BURST] such as 10:50, or off; got %q", s)
	}
	b := int(math.Ceil(5 * r))
	if hasBurst {
		if b, err = strconv.Atoi(burst); err != nil || b < 1 {
			return httpapi.Rate{}, fmt.Errorf("want PER_SECOND[:BURST] such as 10:50, or off; got %q", s)
		}
	}
	return httpapi.Rate{PerSecond: r, Burst: b}, nil
}

// parsePrefixes reads comma-separated addresses and CIDRs.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range splitList(s) {
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR", item)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// registerStoreMetrics adds the token cache's size and the database pool's
// use to the metrics.
func registerStoreMetrics(m *metrics.Metrics, svc *service.Service, st latchkey.Store) {
	m.Gauge("latchkey_token_cache_entries", "Verified tokens held in memory.", func() float64 { return float64(svc.CacheLen()) })
	var inUse, open, waits func() float64
	switch st := st.(type) {
	case *postgres.DB:
		inUse = func() float64 { return float64(st.Pool().Stat().AcquiredConns()) }
		open = func() float64 { return float64(st.Pool().Stat().TotalConns()) }
		waits = func() float64 { return float64(st.Pool().Stat().EmptyAcquireCount()) }
	case *sqlite.DB:
		inUse = func() float64 { w, r := st.Stats(); return float64(w.InUse + r.InUse) }
		open = func() float64 { w, r := st.Stats(); return float64(w.OpenConnections + r.OpenConnections) }
		waits = func() float64 { w, r := st.Stats(); return float64(w.WaitCount + r.WaitCount) }
	default:
		return
	}
	m.Gauge("latchkey_db_connections_in_use", "Database connections in use.", inUse)
	m.Gauge("latchkey_db_connections_open", "Database connections open.", open)
	m.Gauge("latchkey_db_connection_waits", "Times a request waited for a database connection (a running total).", waits)
}
