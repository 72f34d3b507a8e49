// Package metrics exposes Latchkey's Prometheus metrics: HTTP requests by
// route pattern and status with latency histograms, authentication
// outcomes, the token cache, tokens created and revoked, requests refused
// by rate limits, the database pool, and the notifications' outbox. docs/operations.md lists them.
//
// Every label takes its values from a closed set, whatever callers send:
// a route is a mux pattern, a method outside the standard ones is
// "other", a status is a standard code or "other", and outcomes and
// limits are the constants of the code that reports them. So the
// exposition stays the same size under hostile traffic.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/latchkey/latchkey"
)

// Metrics holds the collectors, on a registry of their own.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	auth        *prometheus.CounterVec
	created     prometheus.Counter
	revoked     prometheus.Counter
	rateLimited *prometheus.CounterVec
	signIns     *prometheus.CounterVec
	deliveries  *prometheus.CounterVec

	// series holds each request series once looked up, by seriesKey, so
	// that a request costs no label hashing. Its keys come from closed
	// sets, so it stays as small as the exposition.
	series sync.Map

	// outcomes holds the authentication counters, by outcome.
	outcomes sync.Map
}

// seriesKey names a request's series: its labels before they are
// written.
type seriesKey struct {
	route, method string
	status        int // 0: "other"
}

// requestSeries are the collectors of one seriesKey.
type requestSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// New returns the metrics, with the Go runtime's and the process's.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "latchkey_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route pattern and method.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
		auth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_authentications_total",
			Help: "Authentications by outcome: cached and verified were accepted (cached is a cache hit); the rest say why a token was refused.",
		}, []string{"outcome"}),
		created: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "latchkey_tokens_created_total",
			Help: "Tokens created.",
		}),
		revoked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "latchkey_tokens_revoked_total",
			Help: "Tokens revoked.",
		}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_rate_limited_total",
			Help: "Requests refused with 429, by limit.",
		}, []string{"limit"}),
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_sign_ins_total",
			Help: "Sign-ins to the web pages whose password was checked, by outcome: accepted or refused (never why).",
		}, []string{"outcome"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_notification_deliveries_total",
			Help: "Attempts at delivering notifications, by kind (mail, webhook) and outcome: delivered, retry (failed, to be tried again) or failed (given up after a day).",
		}, []string{"kind", "outcome"}),
	}
	reg.MustRegister(m.requests, m.duration, m.auth, m.created, m.revoked, m.rateLimited, m.signIns, m.deliveries,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveRequest counts an answered request. route is the mux pattern
// ("none" when no pattern matched), so the label set stays small whatever
// paths are asked for; a method outside the standard ones is counted as
// "other", and a status that is not a standard code as "other".
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	if route == "" {
		route = "none"
	}
	if status == 0 {
		status = http.StatusOK
	}
	if http.StatusText(status) == "" {
		status = 0
	}
	k := seriesKey{route, methodLabel(method), status}
	s := lookedUp(&m.series, k, func() *requestSeries {
		return &requestSeries{
			count:    m.requests.WithLabelValues(k.route, k.method, statusLabel(k.status)),
			duration: m.duration.WithLabelValues(k.route, k.method),
		}
	})
	s.count.Inc()
	s.duration.Observe(d.Seconds())
}

// methodLabel is method if it is one of the standard methods, else
// "other": a client may send any token as a method, and each would be a
// new series.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "other"
}

// statusLabel is a standard status code as text, or "other" for 0.
func statusLabel(status int) string {
	if status == 0 {
		return "other"
	}
	return strconv.Itoa(status)
}

// SignedIn counts a sign-in's outcome.
func (m *Metrics) SignedIn(outcome string) { m.signIns.WithLabelValues(outcome).Inc() }

// Authenticated counts an authentication's outcome.
func (m *Metrics) Authenticated(outcome string) {
	// Outcomes are the service's constants, a closed set: each counter
	// is looked up once.
	lookedUp(&m.outcomes, outcome, func() prometheus.Counter { return m.auth.WithLabelValues(outcome) }).Inc()
}

// lookedUp returns what cache holds under k, made by lookup the first
// time: a collector's label lookup done once per label set, whose keys
// come from closed sets.
func lookedUp[K comparable, V any](cache *sync.Map, k K, lookup func() V) V {
	if v, ok := cache.Load(k); ok {
		return v.(V)
	}
	v, _ := cache.LoadOrStore(k, lookup())
	return v.(V)
}

// TokenCreated counts a created token.
func (m *Metrics) TokenCreated() { m.created.Inc() }

// TokenRevoked counts a revoked token.
func (m *Metrics) TokenRevoked() { m.revoked.Inc() }

// RateLimited counts a request refused by the named limit.
func (m *Metrics) RateLimited(limit string) { m.rateLimited.WithLabelValues(limit).Inc() }

// Gauge registers a gauge read from f at each scrape.
func (m *Metrics) Gauge(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// Register adds another collector, such as the database pool's.
func (m *Metrics) Register(c prometheus.Collector) { m.reg.MustRegister(c) }

// Delivered counts an attempt at a notification's delivery: kind is mail
// or webhook; outcome delivered, retry or failed.
func (m *Metrics) Delivered(kind, outcome string) {
	m.deliveries.WithLabelValues(kind, outcome).Inc()
}

// Outbox adds the outbox's gauges, read with stats at each scrape (one
// query for all four).
func (m *Metrics) Outbox(stats func(context.Context) (latchkey.OutboxStats, error), now func() time.Time) {
	m.reg.MustRegister(&outboxCollector{stats: stats, now: now})
}

var (
	outboxNew     = prometheus.NewDesc("latchkey_outbox_notifications_new", "Notifications written but not yet fanned out to their recipients.", nil, nil)
	outboxPending = prometheus.NewDesc("latchkey_outbox_deliveries_pending", "Deliveries (mail or webhook) not yet delivered, nor given up on.", nil, nil)
	outboxOldest  = prometheus.NewDesc("latchkey_outbox_oldest_age_seconds", "Age of the oldest notification or delivery not yet delivered; 0 when there is none.", nil, nil)
	outboxFailed  = prometheus.NewDesc("latchkey_outbox_deliveries_failed", "Deliveries given up on after a day of attempts, kept in the database.", nil, nil)
)

// outboxCollector reads the outbox's gauges at each scrape.
type outboxCollector struct {
	stats func(context.Context) (latchkey.OutboxStats, error)
	now   func() time.Time
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxNew
	ch <- outboxPending
	ch <- outboxOldest
	ch <- outboxFailed
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := c.stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(outboxPending, err)
		return
	}
	age := 0.0
	if s.Oldest != nil {
		age = max(0, c.now().Sub(*s.Oldest).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(outboxNew, prometheus.GaugeValue, float64(s.New))
	ch <- prometheus.MustNewConstMetric(outboxPending, prometheus.GaugeValue, float64(s.Pending))
	ch <- prometheus.MustNewConstMetric(outboxOldest, prometheus.GaugeValue, age)
	ch <- prometheus.MustNewConstMetric(outboxFailed, prometheus.GaugeValue, float64(s.Failed))
}
