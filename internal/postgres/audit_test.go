package postgres

import (
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/storetest"
)

// TestAuditFailure checks that a change whose audit record cannot be
// written is not made: a trigger makes the audit log refuse every write.
func TestAuditFailure(t *testing.T) {
	testDSN(t)
	storetest.AuditFailure(t, func(t *testing.T) latchkey.Store { return open(t) }, func(t *testing.T, s latchkey.Store) {
		t.Helper()
		_, err := s.(*DB).pool.Exec(t.Context(), `
			CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql
				AS $$ BEGIN RAISE EXCEPTION 'the audit log refuses writes'; END $$;
			CREATE TRIGGER audit_refused BEFORE INSERT ON audit_log
				FOR EACH ROW EXECUTE FUNCTION refuse_audit()`)
		if err != nil {
			t.Fatal(err)
		}
	})
}
