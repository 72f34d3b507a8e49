package postgres

import (
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/storetest"
)

// TestAuditFailure checks that a change whose audit record cannot be
// written is not made: a trigger makes the audit log refuse every write
// once the table audit_refused holds a row. The trigger is made with the
// schema and the refusal is a row, not a change of structure, so that
// pgtest.Migrated resets the schema for the next subtest rather than
// dropping it.
func TestAuditFailure(t *testing.T) {
	schemas := migrated(t, `
		CREATE TABLE audit_refused (refused boolean);
		CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF EXISTS (SELECT 1 FROM audit_refused) THEN
				RAISE EXCEPTION 'the audit log refuses writes';
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER audit_refused BEFORE INSERT ON audit_log
			FOR EACH ROW EXECUTE FUNCTION refuse_audit()`)
	storetest.AuditFailure(t, func(t *testing.T) latchkey.Store { return openDSN(t, schemas.Schema(t), Options{}) }, func(t *testing.T, s latchkey.Store) {
		t.Helper()
		if _, err := s.(*DB).pool.Exec(t.Context(), `INSERT INTO audit_refused VALUES (true)`); err != nil {
			t.Fatal(err)
		}
	})
}

// TestNotificationFailure checks that a change whose notification cannot
// be written is not made: a trigger makes the outbox refuse every write
// once the table outbox_refused holds a row (see TestAuditFailure).
func TestNotificationFailure(t *testing.T) {
	schemas := migrated(t, `
		CREATE TABLE outbox_refused (refused boolean);
		CREATE FUNCTION refuse_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF EXISTS (SELECT 1 FROM outbox_refused) THEN
				RAISE EXCEPTION 'the outbox refuses writes';
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER outbox_refused BEFORE INSERT ON notifications
			FOR EACH ROW EXECUTE FUNCTION refuse_outbox()`)
	storetest.NotificationFailure(t, func(t *testing.T) latchkey.Store { return openDSN(t, schemas.Schema(t), Options{}) }, func(t *testing.T, s latchkey.Store) {
		t.Helper()
		if _, err := s.(*DB).pool.Exec(t.Context(), `INSERT INTO outbox_refused VALUES (true)`); err != nil {
			t.Fatal(err)
		}
	})
}
