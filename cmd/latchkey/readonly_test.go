package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/nonroot"
)

// TestServeRefusesReadOnlyDatabase: serve will not start on a database
// it cannot write, which would answer every change with a 500; it says
// why, before it listens. File modes do not bind root, so as root the
// test runs itself as nobody.
func TestServeRefusesReadOnlyDatabase(t *testing.T) {
	if nonroot.Rerun(t) {
		return
	}
	for _, tc := range []struct {
		name string
		// readOnly makes the database at path, or its directory,
		// read-only.
		readOnly func(t *testing.T, path string) string
		want     string
	}{
		{"read-only file", func(t *testing.T, path string) string { return path }, "the database cannot be written"},
		{"read-only directory", func(t *testing.T, path string) string { return filepath.Dir(path) }, "cannot write the directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "latchkey.db")
			env := testEnv(map[string]string{"LATCHKEY_DATABASE": path, "LATCHKEY_SECRET": "a test secret of enough length"})
			_, _, stop := serve(t, env) // the database, migrated and with its keys
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			// A clean stop checkpoints the journal and removes it: were
			// the -wal file left, SQLite could write through it even in a
			// read-only directory.
			for _, suffix := range []string{"-wal", "-shm"} {
				if _, err := os.Stat(path + suffix); err == nil {
					t.Fatalf("serve stopped and left %s behind", filepath.Base(path+suffix))
				}
			}
			ro := tc.readOnly(t, path)
			fi, err := os.Stat(ro)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(ro, fi.Mode().Perm()&^0o222); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(ro, fi.Mode().Perm()) })

			// Run until it gives up, or, should it start, until it says so.
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			stderr := &syncBuffer{}
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, env, strings.NewReader(""), io.Discard, stderr)
			}()
			for err == nil {
				select {
				case err = <-done:
					if err == nil {
						t.Fatalf("serve on a %s ended with no error", tc.name)
					}
				case <-time.After(20 * time.Millisecond): // polling its output, not timing it
					if strings.Contains(stderr.String(), "serving on") {
						cancel()
						<-done
						t.Fatalf("serve on a %s started:\n%s", tc.name, stderr.String())
					}
				}
			}
			t.Logf("serve on a %s: %v", tc.name, err)
			if exitCode(err) == 0 || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("serve on a %s = %v, want an error saying %q", tc.name, err, tc.want)
			}
		})
	}
}
