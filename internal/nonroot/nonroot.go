//go:build unix

// Package nonroot lets a test about file permissions run as a user whom
// they bind: root reads and writes a file whatever its mode says, so a
// test run as root runs itself again as nobody.
package nonroot

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// nobody is the user and group a test runs as instead of root.
const nobody = 65534

// Rerun, called first in a test that needs file permissions to hold,
// returns false when the process is not root: the test goes on. As root
// it runs the same test again in a copy of the test binary as nobody,
// fails t if that run fails, and returns true: the caller returns.
// A test that uses Rerun must make its files under a directory it owns,
// such as t.TempDir(), which the rerun's own t.TempDir() is.
func Rerun(t *testing.T) bool {
	t.Helper()
	if os.Getuid() != 0 {
		return false
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary lies in a directory only root may enter: copy it
	// to one that nobody may.
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "test")
	if err := copyFile(self, bin); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), bin, "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s as nobody (uid %d): %v\n%s", t.Name(), nobody, err, out)
	}
	t.Logf("%s as nobody (uid %d):\n%s", t.Name(), nobody, out)
	return true
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
