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
	stderr *syncBuffer
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
	s := &Server{bin: bin, stderr: &syncBuffer{notify: make(chan struct{}, 1)}}
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
	deadline := time.After(30 * time.Second)
	for s.URL == "" {
		if m := serving.FindStringSubmatch(s.stderr.String()); m != nil {
			s.URL = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("latchkey serve ended before serving: %v\n%s", err, s.stderr.String())
		case <-deadline:
			t.Fatalf("latchkey serve did not start within 30s:\n%s", s.stderr.String())
		case <-s.stderr.written():
		}
	}
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

// syncBuffer is a buffer the server process writes while a test reads.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	notify chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return s.b.Write(p)
}

// written returns a channel that has a value after a write.
func (s *syncBuffer) written() <-chan struct{} { return s.notify }

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
