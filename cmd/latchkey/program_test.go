package main

import (
	"os"
	"strings"
	"testing"
)

// asProgram, set in a process's environment, makes the test binary run as
// the latchkey command itself: the tests that need real processes (several
// replicas, crashes) start this binary again instead of building one.
const asProgram = "LATCHKEY_TEST_AS_PROGRAM"

func TestMain(m *testing.M) {
	// A test binary started again to run tests (as another user, say) is
	// given -test. flags; the command never is.
	if os.Getenv(asProgram) == "1" && (len(os.Args) < 2 || !strings.HasPrefix(os.Args[1], "-test.")) {
		main()
		os.Exit(0)
	}
	// Every process the tests start from here on, with an environment
	// built on os.Environ, runs as the command.
	if err := os.Setenv(asProgram, "1"); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// programBinary is the path of a binary that runs as the latchkey command
// in an environment built on os.Environ: this test binary (built with the
// race detector when the tests are).
func programBinary(t *testing.T) string {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
