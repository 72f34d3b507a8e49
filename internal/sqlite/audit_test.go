package sqlite

import (
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/storetest"
)

// TestAuditFailure checks that a change whose audit record cannot be
// written is not made: a trigger makes the audit log refuse every write.
func TestAuditFailure(t *testing.T) {
	storetest.AuditFailure(t, func(t *testing.T) latchkey.Store { return open(t) }, func(t *testing.T, s latchkey.Store) {
		t.Helper()
		_, err := s.(*DB).write.ExecContext(t.Context(), `CREATE TRIGGER audit_refused BEFORE INSERT ON audit_log
			BEGIN SELECT RAISE(ABORT, 'the audit log refuses writes'); END`)
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestNotificationFailure checks that a change whose notification cannot
// be written is not made: a trigger makes the outbox refuse every write.
func TestNotificationFailure(t *testing.T) {
	storetest.NotificationFailure(t, func(t *testing.T) latchkey.Store { return open(t) }, func(t *testing.T, s latchkey.Store) {
		t.Helper()
		_, err := s.(*DB).write.ExecContext(t.Context(), `CREATE TRIGGER notifications_refused BEFORE INSERT ON notifications
			BEGIN SELECT RAISE(ABORT, 'the outbox refuses writes'); END`)
		if err != nil {
			t.Fatal(err)
		}
	})
}
