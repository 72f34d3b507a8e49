package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var metricsLine = regexp.MustCompile(`serving metrics on (http://\S+)`)

// metricsURL is the metrics listener's URL that serve printed.
func metricsURL(t *testing.T, stderr *syncBuffer) string {
	t.Helper()
	m := metricsLine.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("serve did not say where it serves the metrics:\n%s", stderr.String())
	}
	return m[1]
}

// get answers a GET of url: the status and the body.
func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

// TestMetricsListener: the metrics are served on --metrics-addr only; the
// API's listener answers /metrics with the contract's 404; hostile
// traffic (made-up methods, random paths and tokens, odd statuses) leaves
// every label within its closed set and the whole exposition small; and
// the metrics listener stops with the server.
func TestMetricsListener(t *testing.T) {
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(t.TempDir(), "latchkey.db")})

	t.Run("none unless asked for", func(t *testing.T) {
		_, stderr, _ := serve(t, env)
		if metricsLine.MatchString(stderr.String()) {
			t.Errorf("serve without --metrics-addr serves metrics:\n%s", stderr.String())
		}
	})

	base, stderr, stop := serve(t, env, "--metrics-addr", "127.0.0.1:0")
	metrics := metricsURL(t, stderr)
	if status, body := get(t, base+"/metrics"); status != http.StatusNotFound || string(bytes.TrimSpace(body)) != `{"error":"Not Found"}` {
		t.Errorf(`GET /metrics on the API's listener = %d %s, want 404 {"error":"Not Found"}`, status, body)
	}
	if status, body := get(t, strings.TrimSuffix(metrics, "/metrics")+"/api/1.0/users/1/tokens"); status != http.StatusNotFound {
		t.Errorf("the API on the metrics listener = %d %s, want 404", status, body)
	}

	// Hostile traffic: each request brings something a label might take
	// as a new value.
	rnd := rand.New(rand.NewPCG(1, 2))
	word := func(n int) string {
		const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
		b := make([]byte, n)
		for i := range b {
			b[i] = letters[rnd.IntN(len(letters))]
		}
		return string(b)
	}
	paths := []func() string{
		func() string { return "/" + word(12) },
		func() string { return "/api/1.0/users/" + word(6) + "/tokens" },
		func() string { return "/api/1.0/users/1/tokens/" + word(40) },
		func() string { return "/tokens/" + word(8) + "/revoke" },
		func() string { return "/oauth/" + word(5) },
		func() string { return "/api/1.0/users/1/tokens?" + strings.Repeat("q", 9000) }, // 414
		func() string { return "/%2e%2e/" + word(4) + "//x" },
	}
	methods := []func() string{
		func() string { return word(3 + rnd.IntN(10)) },
		func() string {
			return []string{"GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD"}[rnd.IntN(7)]
		},
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i := range 1000 {
		var body io.Reader
		if i%3 == 0 {
			body = strings.NewReader(`{"name":` + strings.Repeat("[", rnd.IntN(100)))
		}
		req, err := http.NewRequestWithContext(t.Context(), methods[i%2](), base+paths[rnd.IntN(len(paths))](), body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+word(20)+"."+word(30)+"."+word(10))
		req.Header.Set("Content-Type", "application/json")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}

	status, body := get(t, metrics)
	if status != http.StatusOK {
		t.Fatalf("GET %s = %d", metrics, status)
	}
	text := string(body)
	// Measured at about 80 KB: the Go runtime's metrics and the series of
	// the routes the traffic found. With a series per made-up method it
	// was over a megabyte.
	const bound = 128 << 10
	if len(body) > bound {
		t.Errorf("after 1,000 hostile requests the exposition is %d bytes, want at most %d", len(body), bound)
	}
	t.Logf("the exposition after 1,000 hostile requests: %d bytes", len(body))
	allowed := map[string]string{
		"method":  "GET HEAD POST PUT PATCH DELETE CONNECT OPTIONS TRACE other",
		"outcome": "cached verified refused_cached malformed unknown_key invalid not_found revoked expired client_revoked user_inactive mismatch error accepted refused",
		"limit":   "failed_auth create_user create_addr sign_in token_endpoint inventory_export",
	}
	for _, l := range regexp.MustCompile(`\b(route|method|status|outcome|limit)="([^"]*)"`).FindAllStringSubmatch(text, -1) {
		name, value := l[1], l[2]
		switch name {
		case "route":
			// A mux pattern: a method, or none, and a path of constant
			// segments and {wildcards}.
			if value != "none" && !regexp.MustCompile(`^([A-Z]+ )?/([a-z0-9._-]+/?|\{[a-z_$]+\}/?)*$`).MatchString(value) {
				t.Errorf("label route=%q: want a mux pattern", value)
			}
		case "status":
			if n, err := strconv.Atoi(value); value != "other" && (err != nil || http.StatusText(n) == "") {
				t.Errorf("label status=%q: want a standard status or other", value)
			}
		default:
			if !strings.Contains(" "+allowed[name]+" ", " "+value+" ") {
				t.Errorf("label %s=%q: want one of %s", name, value, allowed[name])
			}
		}
	}
	for _, want := range []string{`method="other"`, `status="414"`, `outcome="malformed"`} {
		if !strings.Contains(text, want) {
			t.Errorf("the exposition lacks %s: the hostile traffic was not counted", want)
		}
	}

	// The metrics listener stops with the server.
	if err := stop(); err != nil {
		t.Fatalf("serve after SIGTERM's path: %v", err)
	}
	if res, err := http.Get(metrics); err == nil {
		res.Body.Close()
		t.Errorf("GET %s after the server stopped = %d, want no answer", metrics, res.StatusCode)
	}
}

// TestMetricsAddrInvalid: a --metrics-addr that is no host:port is a usage
// error, before the database is opened.
func TestMetricsAddrInvalid(t *testing.T) {
	db := filepath.Join(t.TempDir(), "latchkey.db")
	_, err := cli(t, testEnv(map[string]string{"LATCHKEY_DATABASE": db, "LATCHKEY_METRICS_ADDR": "9090"}), "", "serve")
	if exitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), "--metrics-addr") {
		t.Errorf("serve with LATCHKEY_METRICS_ADDR=9090: %v (exit %d), want a usage error naming --metrics-addr", err, exitCode(err))
	}
	_, err = cli(t, testEnv(map[string]string{"LATCHKEY_DATABASE": db}), "", "serve", "--addr", "127.0.0.1:8093", "--metrics-addr", "127.0.0.1:8093")
	if exitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), "must differ from --addr") {
		t.Errorf("serve with --metrics-addr equal to --addr: %v (exit %d), want a usage error", err, exitCode(err))
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("a refused serve left %s behind (%v)", db, err)
	}
}

// TestProfiles: Go's profiles are served on the metrics listener with
// --pprof only, never on the API's, and never the command line;
// --pprof without --metrics-addr is a usage error.
func TestProfiles(t *testing.T) {
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(t.TempDir(), "latchkey.db")})
	for _, pprof := range []bool{false, true} {
		args := []string{"--metrics-addr", "127.0.0.1:0"}
		if pprof {
			args = append(args, "--pprof")
		}
		base, stderr, stop := serve(t, env, args...)
		profiles := strings.TrimSuffix(metricsURL(t, stderr), "/metrics") + "/debug/pprof/"
		if said := strings.Contains(stderr.String(), "serving Go's profiles on "+profiles+"\n"); said != pprof {
			t.Errorf("--pprof=%t: serve says where the profiles are: %t, want %t", pprof, said, pprof)
		}
		want := http.StatusNotFound
		if pprof {
			want = http.StatusOK
		}
		if status, _ := get(t, profiles+"heap"); status != want {
			t.Errorf("--pprof=%t: GET %sheap = %d, want %d", pprof, profiles, status, want)
		}
		// The command line may hold the database's password: never served.
		if status, body := get(t, profiles+"cmdline"); status != http.StatusNotFound {
			t.Errorf("--pprof=%t: GET %scmdline = %d %q, want 404", pprof, profiles, status, body)
		}
		if status, _ := get(t, base+"/debug/pprof/heap"); status != http.StatusNotFound {
			t.Errorf("--pprof=%t: profiles on the API's listener = %d, want 404", pprof, status)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
	_, err := cli(t, env, "", "serve", "--pprof")
	if exitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), "--pprof needs --metrics-addr") {
		t.Errorf("serve --pprof alone: %v (exit %d), want a usage error", err, exitCode(err))
	}
}
