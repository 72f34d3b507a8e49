// Package latchkeytest runs a real Latchkey for the tests of what talks to
// it from outside (package resource, the examples): the latchkey command
// built from this module, "latchkey serve" as a process on a loopback
// port over a fresh SQLite database, and the command line against the same
// database, as an operator would run it.
package latchkeytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// Main runs the tests of a package that uses Server, then removes the
// binary built for them: call it from TestMain,
//
//	func TestMain(m *testing.M) { os.Exit(latchkeytest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
	return code
}

// binary builds the latchkey command once per test process.
func binary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		if build.dir, build.err = os.MkdirTemp("", "latchkeytest-"); build.err != nil {
			return
		}
		build.bin = filepath.Join(build.dir, "latchkey")
		cmd := exec.Command(goTool, "build", "-o", build.bin, "github.com/latchkey/latchkey/cmd/latchkey")
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/latchkey: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

// Server is a running "latchkey serve".
type Server struct {
	// URL is where it serves, and its issuer: http://127.0.0.1:PORT.
	URL string

	bin    string
	env    []string
	stderr *Log
}

var serving = regexp.MustCompile(`serving on (http://\S+)`)

// Start creates a database with its first administrator (user 1,
// "admin"), starts "latchkey serve" on it with args, waits until it
// answers /healthz, and stops it when the test ends. Its log is printed
// if the test fails.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	bin := binary(t)
	dir := t.TempDir()
	s := &Server{bin: bin, stderr: NewLog()}
	for _, kv := range os.Environ() {
		// Only the test's own settings: none of the environment's.
		if !strings.HasPrefix(kv, "LATCHKEY_") {
			s.env = append(s.env, kv)
		}
	}
	s.env = append(s.env, "LATCHKEY_DATABASE="+filepath.Join(dir, "latchkey.db"))
	s.CLI(t, "migrate")

	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = s.env
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("latchkey serve: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("latchkey serve's log:\n%s", s.stderr.String())
		}
	})
	s.URL = s.stderr.Await(t, "latchkey serve", serving, done)
	return s
}

// CLI runs the latchkey command with args against the server's database
// and returns its standard output, trimmed; the test fails if it fails.
func (s *Server) CLI(t testing.TB, args ...string) string {
	t.Helper()
	return s.CLIInput(t, "", args...)
}

// CLIInput is CLI with stdin as the command's standard input.
func (s *Server) CLIInput(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Env = s.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) || ctx.Err() != nil {
			t.Fatalf("latchkey %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
		}
		t.Fatalf("latchkey %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(out.String())
}

// Log is what a server writes (its standard error) while a test reads
// it, and says when it was written to, so that a test waits for a line
// without polling.
type Log struct {
	mu     sync.Mutex
	b      bytes.Buffer
	notify chan struct{}
}

// NewLog returns an empty Log.
func NewLog() *Log { return &Log{notify: make(chan struct{}, 1)} }

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case l.notify <- struct{}{}:
	default:
	}
	return l.b.Write(p)
}

func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Await waits until the log holds a match of re, and returns its first
// submatch: what the server named who says it is serving. It fails t if
// the server ends first (an error on ended, which it puts back for
// whoever waits for the server next) or does not say so within 30 s.
func (l *Log) Await(t testing.TB, who string, re *regexp.Regexp, ended chan error) string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		if m := re.FindStringSubmatch(l.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-ended:
			ended <- err
			t.Fatalf("%s ended before serving: %v\n%s", who, err, l)
		case <-deadline:
			t.Fatalf("%s did not start within 30s:\n%s", who, l)
		case <-l.notify:
		}
	}
}
