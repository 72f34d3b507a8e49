package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAccessLogKeptOnSIGTERM: the access log is buffered, and a server
// stopped by SIGTERM writes out every line of it before it exits.
func TestAccessLogKeptOnSIGTERM(t *testing.T) {
	cmd := exec.Command(programBinary(t), "serve", "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "LATCHKEY_DATABASE="+filepath.Join(t.TempDir(), "latchkey.db"), "LATCHKEY_LIMIT_FAILED_AUTH=off")
	// Not a pipe: Wait copies all the process wrote before it returns.
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	base := stderr.await(t, servingLine, 30*time.Second)[1]

	const requests = 300
	for i := range requests {
		res, err := http.Get(base + "/api/1.0/users/1/tokens?page=" + string(rune('1'+i%9)))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("request %d: %s, want 401", i, res.Status)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", err, stderr.String())
	}
	logged := 0
	for line := range strings.Lines(stderr.String()) {
		if strings.Contains(line, "msg=request") && strings.Contains(line, `route="GET /api/1.0/users/{user_id}/tokens"`) && strings.Contains(line, "status=401") {
			logged++
		}
	}
	if logged != requests {
		t.Errorf("%d of %d requests in the access log after SIGTERM, want all", logged, requests)
	}
}

// TestAccessLogForms: serve's access log line of a request, in each
// --log-format, names the request's id, method, route, status and
// duration; at --log-level warn there is none.
func TestAccessLogForms(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ format, level, want string }{
		{"text", "info", `^time=\S+Z level=INFO msg=request request_id=trace-7 method=GET route="GET /api/1.0/users/\{user_id\}/tokens" status=401 duration=\S+s$`},
		{"json", "info", `^\{"time":"[^"]+Z","level":"INFO","msg":"request","request_id":"trace-7","method":"GET","route":"GET /api/1\.0/users/\{user_id\}/tokens","status":401,"duration":[0-9]+\}$`},
		{"text", "warn", ""},
	} {
		t.Run(tc.format+" "+tc.level, func(t *testing.T) {
			t.Parallel()
			env := testEnv(map[string]string{
				"LATCHKEY_DATABASE":   filepath.Join(t.TempDir(), "latchkey.db"),
				"LATCHKEY_LOG_FORMAT": tc.format,
				"LATCHKEY_LOG_LEVEL":  tc.level,
			})
			base, logs, stop := serve(t, env)
			req, err := http.NewRequestWithContext(t.Context(), "GET", base+"/api/1.0/users/1/tokens", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Request-Id", "trace-7")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			var lines []string
			for line := range strings.Lines(logs.String()) {
				if strings.Contains(line, "trace-7") {
					lines = append(lines, strings.TrimSuffix(line, "\n"))
				}
			}
			if tc.want == "" {
				if len(lines) > 0 {
					t.Errorf("access log lines at --log-level %s: %q, want none", tc.level, lines)
				}
				return
			}
			if len(lines) != 1 || !regexp.MustCompile(tc.want).MatchString(lines[0]) {
				t.Errorf("access log: %q, want one line matching %s", lines, tc.want)
			}
		})
	}
}
