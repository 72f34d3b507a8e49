package sqlite_test

import (
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlitetest"
	"github.com/latchkey/latchkey/internal/storetest"
)

// TestStore runs the stores' shared suite, each test on a database of its
// own: a copy of one migrated once.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) latchkey.Store { return sqlitetest.Open(t) })
}
