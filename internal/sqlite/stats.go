package sqlite

import "database/sql"

// Stats reports the connection pools: the one writer, and the readers.
func (db *DB) Stats() (write, read sql.DBStats) {
	return db.write.Stats(), db.read.Stats()
}
