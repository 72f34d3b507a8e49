//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDatabaseFilesPrivate: a new SQLite database is readable by its
// owner only, and a command on one that others may read warns, as it does
// of the secret file.
func TestDatabaseFilesPrivate(t *testing.T) {
	db := filepath.Join(t.TempDir(), "p.db")
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": db})
	mustCLI(t, env, "migrate")
	_, errOut, err := cliErr(t, env, "user", "create", "--username", "u", "--email", "u@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(errOut, "readable by others") {
		t.Errorf("a new database warns: %s", errOut)
	}
	for _, p := range []string{db, db + ".secret"} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want mode 0600", filepath.Base(p), err, fi.Mode().Perm())
		}
	}

	if err := os.Chmod(db, 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, err = cliErr(t, env, "user", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"latchkey: warning: " + db + " is readable by others (mode -rw-r--r--); chmod 600 it",
		// SQLite makes the -wal and -shm files with the database's mode.
		"latchkey: warning: " + db + "-wal is readable by others",
		"latchkey: warning: " + db + "-shm is readable by others",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("user list on a database of mode 0644: standard error lacks %q:\n%s", want, errOut)
		}
	}
}
