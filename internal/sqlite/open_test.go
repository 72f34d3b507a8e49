package sqlite

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/nonroot"
)

// TestOpenErrors: an SQLite database that cannot be opened says why, in
// words an operator can act on, not only SQLite's "unable to open
// database file".
func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("these are notes, not a database, and long enough to show it\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"not a database", text, "the file is not an SQLite database"},
		{"a directory", dir, "it is a directory, not an SQLite database file"},
		{"missing parent", filepath.Join(dir, "nowhere", "latchkey.db"), "the directory " + filepath.Join(dir, "nowhere") + " does not exist"},
		{"parent is a file", filepath.Join(text, "latchkey.db"), text + " is not a directory"},
		{"a URL of another database", "mysql://db.example.com/latchkey", "only postgres:// and postgresql:// URLs name a database server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := Open(t.Context(), tc.path)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) = nil error, want one saying %q", tc.path, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
				t.Errorf("Open(%q) = %v, want the path and %q", tc.path, err, tc.want)
			}
		})
	}
}

// TestOpenReadOnly: a database in a directory that cannot be written does
// not open, saying so; a read-only database file opens (it can be read)
// but Ping says it cannot be written. File modes do not bind root, so as
// root the test runs itself as nobody.
func TestOpenReadOnly(t *testing.T) {
	if nonroot.Rerun(t) {
		return
	}
	// made returns a new, migrated and closed database in a directory of
	// its own.
	made := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "latchkey.db")
		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	readOnly := func(t *testing.T, path string, mode os.FileMode) {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(path, 0o700) }) // so that TempDir can remove it
	}
	t.Run("new database in a read-only directory", func(t *testing.T) {
		dir := t.TempDir()
		readOnly(t, dir, 0o555)
		path := filepath.Join(dir, "latchkey.db")
		_, err := Open(t.Context(), path)
		if want := "the directory " + dir + " cannot be written"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q) = %v, want an error saying %q", path, err, want)
		}
	})
	t.Run("database in a read-only directory", func(t *testing.T) {
		path := made(t)
		readOnly(t, filepath.Dir(path), 0o555)
		_, err := Open(t.Context(), path)
		if want := "cannot write the directory " + filepath.Dir(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q) = %v, want an error saying %q", path, err, want)
		}
	})
	t.Run("read-only file", func(t *testing.T) {
		path := made(t)
		readOnly(t, path, 0o444)
		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open(%q) = %v, want it opened for reading", path, err)
		}
		defer db.Close()
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate() on an up-to-date read-only file = %v, want nil", err)
		}
		err = db.Ping(t.Context())
		if want := "the database cannot be written"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Ping() on a read-only file = %v, want an error saying %q", err, want)
		}
	})
}
