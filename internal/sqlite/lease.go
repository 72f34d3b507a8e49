package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/latchkey/latchkey"
)

var _ latchkey.LeaseStore = (*DB)(nil)

// leaseMemory is how long a lease that ran out, and an acknowledgement,
// are kept: far longer than any change waits.
const leaseMemory = time.Hour

// RenewLease records server's lease for d from now. The database's clock
// is this machine's, which every process on the file shares.
func (db *DB) RenewLease(ctx context.Context, server, name string, d time.Duration) error {
	now := time.Now()
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO servers (id, name, lease_until) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, lease_until = excluded.lease_until`,
			server, name, formatTime(now.Add(d))); err != nil {
			return err
		}
		old := formatTime(now.Add(-leaseMemory))
		if _, err := tx.ExecContext(ctx, `DELETE FROM servers WHERE lease_until < ?`, old); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM event_acks WHERE server_id = ? AND acked_at < ?`, server, old)
		return err
	})
	if err != nil {
		return wrap("renew lease", err)
	}
	return nil
}

// DropLease ends server's lease and forgets its acknowledgements.
func (db *DB) DropLease(ctx context.Context, server string) error {
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM servers WHERE id = ?`, server); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM event_acks WHERE server_id = ?`, server)
		return err
	})
	if err != nil {
		return wrap("drop lease", err)
	}
	return nil
}

// Acknowledge records that server has applied the events seqs, in one
// transaction.
func (db *DB) Acknowledge(ctx context.Context, server string, seqs ...int64) error {
	if len(seqs) == 0 {
		return nil
	}
	now := formatTime(time.Now())
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO event_acks (server_id, seq, acked_at) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, seq := range seqs {
			if _, err := stmt.ExecContext(ctx, server, seq, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return wrap("acknowledge", err)
	}
	return nil
}

// Leases returns the live leases, but except's, by server, each saying
// whether its server has acknowledged seq.
func (db *DB) Leases(ctx context.Context, seq int64, except string) ([]latchkey.Lease, error) {
	rows, err := db.query(ctx, `SELECT s.id, s.name, s.lease_until,
			EXISTS (SELECT 1 FROM event_acks a WHERE a.server_id = s.id AND a.seq = ?)
		FROM servers s WHERE s.lease_until > ? AND s.id <> ? ORDER BY s.id`,
		seq, formatTime(time.Now()), except)
	if err != nil {
		return nil, wrap("leases", err)
	}
	defer rows.Close()
	leases := []latchkey.Lease{}
	for rows.Next() {
		var l latchkey.Lease
		if err := rows.Scan(&l.Server, &l.Name, timeColumn{&l.Until}, &l.Acknowledged); err != nil {
			return nil, wrap("leases", err)
		}
		leases = append(leases, l)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("leases", err)
	}
	return leases, nil
}
