//go:build unix

package sqlite

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// TestFilesPrivate: the database, its -wal and its -shm hold password
// hashes, emails and the audit log, so they are created readable by their
// owner only, whatever the umask. (Not parallel: the umask is the
// process's.)
func TestFilesPrivate(t *testing.T) {
	for _, umask := range []int{0o022, 0o002, 0o000, 0o077, 0o277} {
		t.Run(fmt.Sprintf("umask %04o", umask), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "private.db")
			defer syscall.Umask(syscall.Umask(umask))
			db, err := Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			// A write through the WAL, while the database is open (the last
			// close removes -wal and -shm).
			now := time.Now()
			if err := db.CreateUser(t.Context(), &latchkey.User{Username: "u", Email: "u@example.com",
				Status: latchkey.StatusActive, Permissions: []string{}, CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatalf("after a write: %v", err)
				}
				if got := fi.Mode().Perm(); got != 0o600 {
					t.Errorf("%s under umask %#o: mode %v, want -rw-------", filepath.Base(p), umask, got)
				}
			}
		})
	}
}

// TestExistingFileModeKept: a database that exists keeps its mode; the
// operator chose it (and latchkey warns when others may read it).
func TestExistingFileModeKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	if err := os.WriteFile(path, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	openPath(t, path)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("an existing database after Open: %v, %v; want its mode 0640 kept", fi.Mode().Perm(), err)
	}
}
