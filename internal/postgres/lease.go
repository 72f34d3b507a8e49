package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latchkey/latchkey"
)

var _ latchkey.LeaseStore = (*DB)(nil)

// leaseMemory is how long a lease that ran out, and an acknowledgement,
// are kept: far longer than any change waits.
const leaseMemory = time.Hour

// RenewLease records server's lease for d from now on the database's
// clock, which every replica shares whatever their own clocks say.
func (db *DB) RenewLease(ctx context.Context, server, name string, d time.Duration) error {
	err := db.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO servers (id, name, lease_until) VALUES ($1, $2, clock_timestamp() + $3::interval)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, lease_until = excluded.lease_until`,
			server, name, d); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM servers WHERE lease_until < clock_timestamp() - $1::interval`, leaseMemory); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM event_acks WHERE server_id = $1 AND acked_at < clock_timestamp() - $2::interval`, server, leaseMemory)
		return err
	})
	if err != nil {
		return wrap("renew lease", err)
	}
	return nil
}

// DropLease ends server's lease and forgets its acknowledgements.
func (db *DB) DropLease(ctx context.Context, server string) error {
	err := db.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM servers WHERE id = $1`, server); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM event_acks WHERE server_id = $1`, server)
		return err
	})
	if err != nil {
		return wrap("drop lease", err)
	}
	return nil
}

// Acknowledge records that server has applied the events seqs, in one
// statement.
func (db *DB) Acknowledge(ctx context.Context, server string, seqs ...int64) error {
	if len(seqs) == 0 {
		return nil
	}
	err := retry(ctx, func() error {
		_, err := db.pool.Exec(ctx, `INSERT INTO event_acks (server_id, seq, acked_at)
			SELECT $1, s, clock_timestamp() FROM unnest($2::bigint[]) AS s
			ON CONFLICT DO NOTHING`, server, seqs)
		return err
	})
	if err != nil {
		return wrap("acknowledge", err)
	}
	return nil
}

// Leases returns the live leases, but except's, by server, each saying
// whether its server has acknowledged seq.
func (db *DB) Leases(ctx context.Context, seq int64, except string) ([]latchkey.Lease, error) {
	rows, err := db.pool.Query(ctx, `SELECT s.id, s.name, s.lease_until,
			EXISTS (SELECT 1 FROM event_acks a WHERE a.server_id = s.id AND a.seq = $1)
		FROM servers s WHERE s.lease_until > clock_timestamp() AND s.id <> $2 ORDER BY s.id`, seq, except)
	if err != nil {
		return nil, wrap("leases", err)
	}
	defer rows.Close()
	leases := []latchkey.Lease{}
	for rows.Next() {
		var l latchkey.Lease
		if err := rows.Scan(&l.Server, &l.Name, &l.Until, &l.Acknowledged); err != nil {
			return nil, wrap("leases", err)
		}
		leases = append(leases, l)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("leases", err)
	}
	return leases, nil
}
