package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	netmail "net/mail"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/accesslog"
	"github.com/latchkey/latchkey/internal/cimd"
	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/logbuf"
	"github.com/latchkey/latchkey/internal/mail"
	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/notify"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/postgres"
	"github.com/latchkey/latchkey/internal/service"
	"github.com/latchkey/latchkey/internal/sqlite"
	"github.com/latchkey/latchkey/internal/webhook"
)

// serveConfig is serve's whole configuration, validated: nothing is
// created, opened or listened on before all of it is read.
type serveConfig struct {
	addr            string
	metricsAddr     string // "": no metrics listener
	pprof           bool   // profiles on the metrics listener too
	db              *dbFlags
	service         service.Config // without its Logger and Observer
	logFormat       string         // text or json
	logLevel        slog.Level
	shutdownTimeout time.Duration
	limits          httpapi.Limits
	trustedProxies  []netip.Prefix
	publicURL       string // without a trailing slash; "": each request's own
	secureCookies   bool
	oauthLifetime   time.Duration // of an OAuth access token
	refreshLifetime time.Duration // of an OAuth refresh token
	// oauthDefaultScopes are granted to an authorization request that
	// names no scope, of a client with no default scopes of its own;
	// empty (not nil) for none: such a request is refused.
	oauthDefaultScopes []string
	// registration is who may register a client at /oauth/register.
	registration httpapi.RegistrationMode
	// clientMetadata: a client_id may be the https URL of the client's
	// metadata document, which the server fetches.
	clientMetadata bool

	// Notifications: the mail server (nil: no mail), the reminders before
	// expiry, and whether webhooks may reach private addresses.
	mailer       *mail.Mailer
	reminders    []time.Duration
	allowPrivate bool
	claim        time.Duration // how long a delivery is one server's
}

// parseServe reads serve's flags and their environment defaults into one
// validated configuration.
func (e *env) parseServe(args []string) (*serveConfig, error) {
	fs := e.flags("serve", "serve [flags]")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on, HOST:PORT")
	metricsAddr := fs.String("metrics-addr", "", "address to serve Prometheus metrics on, at /metrics, e.g. 127.0.0.1:9090 (default: no metrics listener; they are never on --addr)")
	pprof := fs.Bool("pprof", false, "serve Go's profiles (net/http/pprof) at /debug/pprof/ on --metrics-addr, which it needs")
	db := fs.dbFlags()
	db.mayCreate = true
	sf := fs.serviceFlags()
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	grace := fs.String("shutdown-timeout", "15s", "how long to let requests in flight finish on SIGINT or SIGTERM")
	limitFailed := fs.String("limit-failed-auth", rateString(httpapi.DefaultLimits.FailedAuthPerAddr), "failed authentications allowed per client address: PER_SECOND[:BURST], or off")
	limitCreateUser := fs.String("limit-create-user", rateString(httpapi.DefaultLimits.CreatePerUser), "token creations allowed per user: PER_SECOND[:BURST], or off")
	limitCreateAddr := fs.String("limit-create-addr", rateString(httpapi.DefaultLimits.CreatePerAddr), "token creations allowed per client address: PER_SECOND[:BURST], or off")
	limitSignInAddr := fs.String("limit-sign-in-addr", rateString(httpapi.DefaultLimits.SignInPerAddr), "failed sign-ins allowed per client address: PER_SECOND[:BURST], or off")
	limitSignInAccount := fs.String("limit-sign-in-account", rateString(httpapi.DefaultLimits.SignInPerAccount), "failed sign-ins allowed per account name: PER_SECOND[:BURST], or off")
	limitRegistration := fs.String("limit-registration", rateString(httpapi.DefaultLimits.RegistrationPerAddr), "requests to /oauth/register, and fetches of clients' metadata documents, allowed per client address, refused ones included: PER_SECOND[:BURST], or off")
	limitTokenEndpoint := fs.String("limit-token-endpoint", rateString(httpapi.DefaultLimits.TokenEndpointPerAddr), "requests to /oauth/token, /oauth/revoke and /oauth/introspect allowed per client address: PER_SECOND[:BURST], or off")
	proxies := fs.String("trusted-proxies", "", "comma-separated addresses or CIDRs of proxies whose X-Forwarded-For and X-Forwarded-Proto are believed")
	publicURL := fs.String("public-url", "", "the server's address as its users reach it, e.g. https://tokens.example.com (the OAuth issuer; default: each request's own)")
	secureCookies := fs.Bool("secure-cookies", false, "mark the sign-in cookie Secure even on plain HTTP (TLS ends at a proxy)")
	oauthLifetime := fs.String("oauth-token-lifetime", oauth.DefaultAccessTokenLifetime.String(), "lifetime of an OAuth access token")
	refreshLifetime := fs.String("refresh-token-lifetime", "30d", "lifetime of an OAuth refresh token, e.g. 30d")
	oauthDefaults := fs.String("oauth-default-scopes", strings.Join(oauth.DefaultDefaultScopes, ","), "comma-separated scopes granted to an OAuth authorization request that names none, when its client has no --default-scopes of its own; off: such a request is refused (invalid_scope)")
	registration := fs.String("oauth-registration", string(httpapi.RegistrationPublic), "who may register an OAuth client at /oauth/register (RFC 7591): off, public (clients without a secret, which must use PKCE) or open (confidential clients too); a client so registered that issues no token is deleted after 30 days")
	clientMetadata := fs.Bool("oauth-client-metadata", true, "take an https URL as an OAuth client_id, and fetch the client's metadata document there (Client ID Metadata Documents, as MCP clients use them); false: such a client_id is an unknown client")
	smtpURL := fs.String("smtp-url", "", "the mail server for notifications to token owners: smtp://USER:PASSWORD@HOST:587 (STARTTLS when offered) or smtps://...:465 (default: no mail)")
	mailFrom := fs.String("mail-from", "", "the From address of notification mail, e.g. Latchkey <tokens@example.com> (required with --smtp-url)")
	reminders := fs.String("expiry-reminders", "30d,7d,1d", "how long before a token expires its owner is reminded: comma-separated lifetimes, or off")
	allowPrivate := fs.Bool("webhook-allow-private", false, "let webhooks reach loopback, private and link-local addresses (refused by default)")
	claim := fs.String("delivery-claim", "2m", "how long a notification's delivery is one server's alone: if this server dies, another sends it again after that; each attempt gets half of it at most, and 10s, and ends a quarter of it before it runs out")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, usagef("serve: unexpected arguments %q", fs.Args())
	}
	c := &serveConfig{addr: *addr, metricsAddr: *metricsAddr, pprof: *pprof, db: db, secureCookies: *secureCookies, clientMetadata: *clientMetadata}
	var err error
	if err := checkAddr(*addr); err != nil {
		return nil, usagef("serve: --addr: %v", err)
	}
	if *metricsAddr != "" {
		if err := checkAddr(*metricsAddr); err != nil {
			return nil, usagef("serve: --metrics-addr: %v", err)
		}
		if _, port, _ := net.SplitHostPort(*metricsAddr); *metricsAddr == *addr && port != "0" {
			return nil, usagef("serve: --metrics-addr: must differ from --addr (%s): metrics are never served on the API's listener", *addr)
		}
	}
	if *pprof && *metricsAddr == "" {
		return nil, usagef("serve: --pprof needs --metrics-addr: profiles are never served on the API's listener")
	}
	if err := db.check(); err != nil {
		return nil, usagef("serve: %v", err)
	}
	if c.service, err = sf.config(nil); err != nil {
		return nil, usagef("serve: %v", err)
	}
	if err := c.logLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		return nil, usagef("serve: --log-level: want debug, info, warn or error, got %q", *logLevel)
	}
	switch c.logFormat = strings.ToLower(*logFormat); c.logFormat {
	case "text", "json":
	default:
		return nil, usagef("serve: --log-format: want text or json, got %q", *logFormat)
	}
	if c.shutdownTimeout, err = time.ParseDuration(*grace); err != nil || c.shutdownTimeout < 0 {
		return nil, usagef("serve: --shutdown-timeout: want a duration such as 15s, got %q", *grace)
	}
	for _, l := range []struct {
		flag, value string
		dst         *httpapi.Rate
	}{
		{"limit-failed-auth", *limitFailed, &c.limits.FailedAuthPerAddr},
		{"limit-create-user", *limitCreateUser, &c.limits.CreatePerUser},
		{"limit-create-addr", *limitCreateAddr, &c.limits.CreatePerAddr},
		{"limit-sign-in-addr", *limitSignInAddr, &c.limits.SignInPerAddr},
		{"limit-sign-in-account", *limitSignInAccount, &c.limits.SignInPerAccount},
		{"limit-token-endpoint", *limitTokenEndpoint, &c.limits.TokenEndpointPerAddr},
		{"limit-registration", *limitRegistration, &c.limits.RegistrationPerAddr},
	} {
		if *l.dst, err = parseRate(l.value); err != nil {
			return nil, usagef("serve: --%s: %v", l.flag, err)
		}
	}
	if c.trustedProxies, err = parsePrefixes(*proxies); err != nil {
		return nil, usagef("serve: --trusted-proxies: %v", err)
	}
	if c.oauthLifetime, err = time.ParseDuration(*oauthLifetime); err != nil || c.oauthLifetime <= 0 {
		return nil, usagef("serve: --oauth-token-lifetime: want a duration such as 1h, got %q", *oauthLifetime)
	}
	rtLife, err := service.ParseLifetime(*refreshLifetime)
	if err != nil {
		return nil, usagef("serve: --refresh-token-lifetime: %v", err)
	}
	c.refreshLifetime = rtLife.After(time.Time{}).Sub(time.Time{})
	if c.oauthDefaultScopes, err = parseDefaultScopes(*oauthDefaults, c.service.ExtraScopes); err != nil {
		return nil, usagef("serve: --oauth-default-scopes: %v", err)
	}
	if c.registration, err = httpapi.ParseRegistrationMode(*registration); err != nil {
		return nil, usagef("serve: --oauth-registration: want off, public or open, got %q", *registration)
	}
	if *publicURL != "" {
		u, err := url.Parse(*publicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, usagef("serve: --public-url: want the server's root, such as https://tokens.example.com, got %q", *publicURL)
		}
		c.publicURL = strings.TrimSuffix(*publicURL, "/")
	}
	c.allowPrivate = *allowPrivate
	if c.claim, err = time.ParseDuration(*claim); err != nil || c.claim < time.Second {
		return nil, usagef("serve: --delivery-claim: want a duration of a second or more, such as 2m, got %q", *claim)
	}
	if c.reminders, err = parseReminders(*reminders); err != nil {
		return nil, usagef("serve: --expiry-reminders: %v", err)
	}
	// A reminder is remembered, so as to be sent once, as long as the
	// outbox is kept: at least the longest threshold and the lookback of
	// expiry notices.
	if keep := c.service.AuditRetention; keep > 0 {
		longest := slices.Max(append([]time.Duration{0}, c.reminders...)) + notify.ExpiredLookback
		if keep < longest {
			return nil, usagef("serve: --audit-retention (%s) must be at least the longest --expiry-reminders and %s (%s): the notifications kept that long are what sends each reminder once",
				keep, notify.Threshold(notify.ExpiredLookback), notify.Threshold(longest))
		}
	}
	switch {
	case *smtpURL != "" && *mailFrom == "":
		return nil, usagef("serve: --smtp-url needs --mail-from, the address notification mail comes from")
	case *smtpURL == "" && *mailFrom != "":
		return nil, usagef("serve: --mail-from needs --smtp-url, the mail server to send through")
	case *smtpURL != "":
		if _, err := netmail.ParseAddress(*mailFrom); err != nil {
			return nil, usagef("serve: --mail-from: want one address such as 'Latchkey <tokens@example.com>', got %q", *mailFrom)
		}
		if c.mailer, err = mail.New(*smtpURL, *mailFrom, mail.Options{Timeout: attemptTimeout(c.claim)}); err != nil {
			return nil, usagef("serve: --smtp-url: %v", err)
		}
	}
	return c, nil
}

// parseDefaultScopes reads --oauth-default-scopes: scopes the server
// knows (its own and extra), comma-separated, or off for none.
func parseDefaultScopes(s string, extra []string) ([]string, error) {
	if strings.TrimSpace(s) == "off" {
		return []string{}, nil
	}
	known, err := knownScopes(strings.Join(extra, ","))
	if err != nil {
		return nil, err
	}
	scopes, err := checkScopeList(s, known)
	if err != nil {
		return nil, err
	}
	if len(scopes) == 0 {
		return nil, fmt.Errorf("want scopes such as tokens.read, or off, got %q", s)
	}
	return scopes, nil
}

// attemptTimeout is how long one attempt at a delivery may take: half the
// claim, and 10 s at most. However late an attempt began, the notifier
// also ends it a quarter of the claim before the claim runs out, so that
// no other server sends the delivery meanwhile.
func attemptTimeout(claim time.Duration) time.Duration { return min(10*time.Second, claim/2) }

// parseReminders reads --expiry-reminders: lifetimes such as 30d,7d,1d,
// or off.
func parseReminders(s string) ([]time.Duration, error) {
	if strings.TrimSpace(s) == "off" {
		return []time.Duration{}, nil
	}
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		l, err := service.ParseLifetime(part)
		if err != nil {
			return nil, fmt.Errorf("want lifetimes such as 30d,7d,1d, or off: %v", err)
		}
		d := l.After(time.Time{}).Sub(time.Time{})
		if d < time.Minute || d > 400*24*time.Hour {
			return nil, fmt.Errorf("%q: want from a minute to 400 days", strings.TrimSpace(part))
		}
		out = append(out, d)
	}
	return out, nil
}

// checkAddr reports whether addr is HOST:PORT, the host an address or a
// name (or empty: every interface) and the port a number.
func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want HOST:PORT such as 127.0.0.1:8080 or :8080, got %q", addr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (port != "0" && n == 0) {
		return fmt.Errorf("want a port number from 0 to 65535, got %q", port)
	}
	if host != "" && !validHost(host) {
		return fmt.Errorf("%q is neither an IP address nor a host name", host)
	}
	return nil
}

// validHost reports whether host is an IP address or a DNS name.
func validHost(host string) bool {
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	if len(host) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(host, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// logger is the server's logger, on w.
func (c *serveConfig) logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.logLevel}
	if c.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// accessLog writes the access log's lines to w as the logger would, or is
// nil when the log level leaves them out (the logger then drops them).
func (c *serveConfig) accessLog(w io.Writer) *accesslog.Log {
	if c.logLevel > slog.LevelInfo {
		return nil
	}
	return accesslog.New(w, c.logFormat == "json")
}

func (e *env) serve(ctx context.Context, args []string) error {
	c, err := e.parseServe(args)
	if err != nil {
		return err
	}
	// The log is written out every 100 ms, not at each line: a write
	// system call per request would cost the API a tenth of its speed.
	// Everything logged is written out before serve returns.
	logOut := logbuf.Start(e.stderr)
	defer logOut.Close()
	log := c.logger(logOut)
	// Listen before the database is opened, let alone created: a port in
	// use leaves nothing behind.
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	m := metrics.New()
	mln, err := listenMetrics(c.metricsAddr, c.pprof, m, log)
	if err != nil {
		return err
	}
	defer mln.close()

	cfg := c.service
	cfg.Logger = log
	cfg.Observer = m
	cfg.Settled = func(st service.Settlement) { logSettled(log, st) }
	svc, st, closeSvc, err := e.openService(ctx, c.db, cfg)
	if err != nil {
		return err
	}
	defer closeSvc()
	// A database that reads but cannot be written would answer every
	// change with a 500: refuse it before serving.
	if err := svc.Ping(ctx); err != nil {
		return fmt.Errorf("refusing to serve: the database must accept writes: %w", err)
	}
	logOut.Flush()
	if err := e.bootstrap(ctx, svc, c.db, "http://"+ln.Addr().String()+"/"); err != nil {
		return err
	}

	registerStoreMetrics(m, svc, st)

	var documents *cimd.Fetcher
	if c.clientMetadata {
		// Public addresses only, and the system's certificate
		// authorities: nothing here relaxes the guard.
		documents = cimd.New(cimd.Options{Now: svc.Now, Logger: log})
	}
	provider, err := oauth.New(svc, st, oauth.Config{
		AccessTokenLifetime:  c.oauthLifetime,
		RefreshTokenLifetime: c.refreshLifetime,
		DefaultScopes:        c.oauthDefaultScopes,
		Secret:               svc.DeriveKey(oauth.SecretInfo),
		ClientMetadata:       documents,
		Logger:               log,
	})
	if err != nil {
		return err
	}

	srv := newHTTPServer(httpapi.New(svc, httpapi.Options{
		Logger: log, AccessLog: c.accessLog(logOut), Metrics: m, Limits: c.limits, TrustedProxies: c.trustedProxies,
		OAuth: provider, PublicURL: c.publicURL, SecureCookies: c.secureCookies,
		Registration: c.registration,
	}), log)
	srv.BaseContext = func(net.Listener) context.Context { return context.WithoutCancel(ctx) }
	bg, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	bgDone := make(chan error, 1)
	go func() { bgDone <- svc.Run(bg) }()
	notifier := e.notifier(c, svc, st, m, log)
	notified := make(chan struct{})
	go func() { defer close(notified); _ = notifier.Run(bg) }()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	mln.serve()
	if a := mln.addr(); a != "" {
		log.Info("serving metrics", "addr", "http://"+a+"/metrics")
		logOut.Flush() // what was logged comes before what is said on stderr
		fmt.Fprintf(e.stderr, "latchkey: serving metrics on http://%s/metrics\n", a)
		if c.pprof {
			fmt.Fprintf(e.stderr, "latchkey: serving Go's profiles on http://%s/debug/pprof/\n", a)
		}
	}
	log.Info("serving", "addr", "http://"+ln.Addr().String(), "database", redactDSN(*c.db.database))
	logOut.Flush()
	fmt.Fprintf(e.stderr, "latchkey: serving on http://%s\n", ln.Addr())

	select {
	case err = <-served:
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.shutdownTimeout)
		_ = mln.shutdown(sctx)
		cancel()
	case err = <-mln.failed:
		_ = srv.Close()
		<-served
	case <-ctx.Done():
		log.Info("shutting down", "timeout", c.shutdownTimeout)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.shutdownTimeout)
		err = errors.Join(srv.Shutdown(sctx), mln.shutdown(sctx))
		cancel()
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
	}
	stopBg()
	<-notified
	if berr := <-bgDone; berr != nil {
		log.Error("writing last token use", "err", berr)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (e *env) migrate(ctx context.Context, args []string) error {
	fs := e.flags("migrate", "migrate [flags]\n\nCreates the database, or brings its schema up to date. A new database gets its\nfirst administrator, as on serve's first start.")
	db := fs.dbFlags()
	db.mayCreate = true
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("migrate: unexpected arguments %q", fs.Args())
	}
	if err := db.check(); err != nil {
		return usagef("migrate: %v", err)
	}
	st, err := db.open(ctx)
	if err != nil {
		return err
	}
	us, err := st.Users(ctx, latchkey.UserFilter{IncludeDeleted: true, Limit: 1})
	st.Close()
	if err != nil {
		return err
	}
	if len(us) == 0 {
		// A new database: its secret and first administrator, as serve
		// would make them.
		svc, _, closeSvc, err := e.openService(ctx, db, service.Config{Logger: e.quiet()})
		if err != nil {
			return err
		}
		defer closeSvc()
		if err := e.bootstrap(ctx, svc, db, ""); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stderr, "latchkey: %s is up to date\n", redactDSN(*db.database))
	return nil
}

// bootstrap makes the first administrator of a database that has no user
// yet, and says how to use it. web is where serve's pages are ("": not
// serving yet).
func (e *env) bootstrap(ctx context.Context, svc *service.Service, db *dbFlags, web string) error {
	admin, created, err := svc.Bootstrap(ctx)
	if err != nil || !created {
		return err
	}
	database := ""
	if *db.database != "./latchkey.db" {
		database = " --database " + shellQuote(redactDSN(*db.database))
	}
	where := "the web pages once 'latchkey serve' runs"
	if web != "" {
		where = "the web pages at " + web
	}
	fmt.Fprintf(e.stderr, `latchkey: this is a new database: created user %d, %q, an administrator with no password.
latchkey: get a first token for it with:
latchkey:   latchkey token create%s --user %s --name "first token"
latchkey: or give it a password (15 characters or more), and sign in to %s:
latchkey:   echo 'a passphrase of your own' | latchkey user update%s --password-stdin %s
`, admin.ID, admin.Username, database, admin.Username, where, database, admin.Username)
	if redactDSN(*db.database) != *db.database {
		fmt.Fprintln(e.stderr, "latchkey: (the database's password is shown as xxxxx: give the real URL, or set $LATCHKEY_DATABASE)")
	}
	return nil
}

// shellQuote quotes s for a POSIX shell if it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@,+=%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
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
	m.Outbox(st.OutboxStats, svc.Now)
	m.Gauge("latchkey_token_cache_entries", "Verified tokens held in memory.", func() float64 { return float64(svc.CacheLen()) })
	m.Gauge("latchkey_current", "1 while this server answers verifications from its caches (it holds its lease and hears every change), 0 while it reads each from the database.", func() float64 {
		if svc.Current() {
			return 1
		}
		return 0
	})
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
	if st, ok := st.(*sqlite.DB); ok {
		m.Gauge("latchkey_db_group_commits", "COMMITs of token creations committed together, SQLite (a running total).", func() float64 {
			c, _ := st.GroupCommits()
			return float64(c)
		})
		m.Gauge("latchkey_db_group_writes", "Token creations those COMMITs held (a running total): over latchkey_db_group_commits, creations a COMMIT.", func() float64 {
			_, w := st.GroupCommits()
			return float64(w)
		})
	}
}

// newHTTPServer is a server of h with the limits every listener of ours
// keeps: 10 s to read the headers, 30 s for the request and for the
// answer, 2 minutes idle, 64 KiB of headers. Its own errors go to log.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// logSettled logs the servers that did not acknowledge a change this
// server made before it answered (see service.Settlement).
func logSettled(log *slog.Logger, st service.Settlement) {
	for _, l := range st.Lapsed {
		log.Warn("a server did not acknowledge a change before its lease ran out", "server", l.Name)
	}
	for _, l := range st.Unanswered {
		log.Warn("a server had not acknowledged a change when the wait ended", "server", l.Name)
	}
	if st.Err != nil {
		log.Error("reading the servers' leases", "err", st.Err)
	}
}

// notifier is the server's outbox runner: mail if --smtp-url is given,
// webhooks, and the expiry reminders, with their metrics.
func (e *env) notifier(c *serveConfig, svc *service.Service, st latchkey.Store, m *metrics.Metrics, log *slog.Logger) *notify.Notifier {
	o := notify.Options{
		Store:     st,
		Sender:    &webhook.Sender{AllowPrivate: c.allowPrivate, Timeout: attemptTimeout(c.claim)},
		Opener:    svc.OpenWebhookSecret,
		PublicURL: c.publicURL,
		Reminders: c.reminders,
		Server:    svc.ServerName() + "/" + rand.Text()[:8], // unique though a process id is reused
		Clock:     svc.Now,
		Log:       log,
		Obs:       m,
		Claim:     c.claim,
	}
	if c.mailer != nil {
		o.Mailer = c.mailer
		if c.publicURL == "" {
			log.Warn("notification mail will carry no link to the token: give --public-url")
		}
		log.Info("notification mail", "smtp", c.mailer.String())
	}
	return notify.New(o)
}
