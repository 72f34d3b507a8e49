//go:build !unix

package nonroot

import "testing"

// Rerun returns false: only Unix has a root whom file modes do not bind.
func Rerun(t *testing.T) bool { return false }
