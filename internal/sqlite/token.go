package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlschema"
	"github.com/latchkey/latchkey/internal/storeerr"
)

// CreateToken stores t, and audit in the same transaction. ECONFLICT when
// the id exists; ENOTFOUND when its user or client does not exist.
//
// Creates that arrive together are committed together (see groupTx), each
// in a savepoint of its own: one that fails changes nothing, and fails
// alone.
func (db *DB) CreateToken(ctx context.Context, t *latchkey.Token, audit ...*latchkey.AuditRecord) error {
	err := db.groupTx(ctx, func(ctx context.Context, tx *batchTx) error {
		if err := parentLive(ctx, tx, t.ParentID); err != nil {
			return err
		}
		if err := insertToken(ctx, tx, t); err != nil {
			return err
		}
		if err := insertAudit(ctx, tx, audit); err != nil {
			return err
		}
		tx.Publish(latchkey.Event{Kind: latchkey.EventTokenCreated, ID: strconv.FormatInt(t.UserID, 10)})
		return nil
	})
	if err != nil {
		return wrap("create token", err)
	}
	return nil
}

// parentLive reports EUNAUTHENTICATED when the token id ("" for none) is
// revoked or gone. It is read in the write transaction: a revocation of it
// committed before is seen, and one after sees the child.
func parentLive(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id string) error {
	if id == "" {
		return nil
	}
	var revoked bool
	err := q.QueryRowContext(ctx, parentQuery, id).Scan(&revoked)
	if errors.Is(err, sql.ErrNoRows) || err == nil && revoked {
		return latchkey.Errorf(latchkey.EUNAUTHENTICATED, storeerr.MsgParentRevoked)
	}
	return err
}

// An execer is the write connection or a transaction on it.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// insertTokenQuery is the query of insertToken.
const insertTokenQuery = `INSERT INTO oauth_access_tokens (id, user_id, client_id, name, name_folded,
	scopes, revoked, created_at, updated_at, expires_at, last_used_at, key_id,
	parent_id, revoked_reason, revoked_at, rotated_from, rotated_to, allowed_ips, last_used_ip, recent_ips, audience)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// parentQuery is the query of parentLive.
const parentQuery = `SELECT revoked FROM oauth_access_tokens WHERE id = ?`

// createQueries are the queries of CreateToken and of the events of its
// round, which the writer of the group prepares once.
var createQueries = []string{parentQuery, insertTokenQuery, insertAuditQuery, insertNotificationQuery, publishQuery, dropEventsQuery}

// insertToken stores t with e. ECONFLICT when the id exists; ENOTFOUND
// when its user or client does not exist.
func insertToken(ctx context.Context, e execer, t *latchkey.Token) error {
	scopes, err := formatScopes(t.Scopes)
	if err != nil {
		return err
	}
	_, err = e.ExecContext(ctx, insertTokenQuery,
		t.ID, t.UserID, t.ClientID, t.Name, strings.ToLower(t.Name),
		scopes, t.Revoked, formatTime(t.CreatedAt), formatTime(t.UpdatedAt),
		formatNullTime(t.ExpiresAt), formatNullTime(t.LastUsedAt), t.KeyID,
		nullText(t.ParentID), string(t.RevokedReason), formatNullTime(t.RevokedAt),
		nullText(t.RotatedFrom), nullText(t.RotatedTo), sqlschema.EncodePrefixes(t.AllowedIPs),
		nullText(t.LastUsedIP), sqlschema.EncodeRecent(t.RecentIPs), t.Audience)
	switch {
	case isUnique(err):
		return storeerr.Conflict(storeerr.MsgTokenExists, err)
	case isForeignKey(err):
		return storeerr.NotFound(storeerr.MsgTokenOwnerNotFound, err)
	}
	return err
}

// Token returns the token with its client. ENOTFOUND when there is none.
func (db *DB) Token(ctx context.Context, id string) (*latchkey.Token, error) {
	t, err := scanToken(db.queryRow(ctx,
		`SELECT `+sqlschema.TokenColumns+`, `+sqlschema.ClientColumns+sqlschema.TokenFrom+` WHERE t.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = storeerr.NotFound(storeerr.MsgTokenNotFound, err)
	}
	if err != nil {
		return nil, wrap("token", err)
	}
	return t, nil
}

// Tokens returns the page of tokens f selects, each with its client, and
// how many tokens f selects on all pages, all read from one snapshot. The
// name filter is a literal substring of the name, compared after
// lowercasing both sides. EINVALID for an unknown f.OrderBy.
//
// Neither the count nor the rows that the offset skips join the clients
// or read the table (unless the name filter needs it): the indexes on
// (user_id, revoked, client_id, created_at, id) and (user_id, created_at,
// id, revoked, client_id) hold all the rest, and the personal filter is a
// comparison with the id of the personal access client, which is almost
// always the only one. The clients of the page are read once each, after
// the page.
func (db *DB) Tokens(ctx context.Context, f latchkey.TokenFilter) ([]*latchkey.Token, int, error) {
	order, err := tokenOrder(f.OrderBy, f.Ascending)
	if err != nil {
		return nil, 0, wrap("tokens", err)
	}

	// Every statement is prepared before the transaction begins: the
	// transaction holds a connection of the read pool, and preparing
	// takes another.
	var (
		personal     *sql.Stmt // the ids of the personal access clients
		byOne, byAll listStmts // the personal filter by the one id, or by all
	)
	if f.PersonalOnly {
		personal, err = db.prepared(ctx, `SELECT id FROM oauth_clients WHERE personal_access_client = 1`)
		if err == nil {
			byOne, err = db.listStmts(ctx, f, ` AND t.client_id = ?`, order)
		}
		if err == nil {
			byAll, err = db.listStmts(ctx, f,
				` AND t.client_id IN (SELECT id FROM oauth_clients WHERE personal_access_client = 1)`, order)
		}
	} else {
		byAll, err = db.listStmts(ctx, f, ``, order)
	}
	var clientStmts [2]*sql.Stmt // by one id, by a JSON array of ids
	for i, where := range []string{`c.id = ?`, `c.id IN (SELECT value FROM json_each(?))`} {
		if err == nil {
			clientStmts[i], err = db.prepared(ctx, `SELECT `+sqlschema.ClientColumns+` FROM oauth_clients c WHERE `+where)
		}
	}
	if err != nil {
		return nil, 0, wrap("tokens", err)
	}

	tokens := []*latchkey.Token{}
	var total int
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		stmts, args := byAll, []any{f.UserID}
		if f.PersonalOnly {
			ids, err := collect(scanInt64)(tx.StmtContext(ctx, personal).QueryContext(ctx))
			switch {
			case err != nil:
				return err
			case len(ids) == 0:
				return nil // no token is personal
			case len(ids) == 1:
				stmts, args = byOne, append(args, ids[0])
			}
		}
		if f.Name != "" {
			args = append(args, strings.ToLower(f.Name))
		}
		if err := tx.StmtContext(ctx, stmts.count).QueryRowContext(ctx, args...).Scan(&total); err != nil {
			return err
		}
		args = append(args, limit(f.Limit), max(f.Offset, 0))
		var err error
		tokens, err = collect(scanBareToken)(tx.StmtContext(ctx, stmts.page).QueryContext(ctx, args...))
		if err != nil || len(tokens) == 0 {
			return err
		}
		return fillClients(ctx, tx, clientStmts, tokens)
	})
	if err != nil {
		return nil, 0, wrap("tokens", err)
	}
	return tokens, total, nil
}

// tokenOrder returns the ORDER BY term of a token list sorted by o, in
// ascending order if asc, before the tie-break on id. EINVALID for an
// unknown o.
func tokenOrder(o latchkey.TokenOrder, asc bool) (string, error) {
	key, nullable, ok := sqlschema.TokenOrderKey(o)
	if !ok {
		return "", latchkey.Errorf(latchkey.EINVALID, "Tokens cannot be ordered by %q.", o)
	}
	// SQLite sorts NULL first ascending and last descending, so NULLS
	// LAST is only needed ascending, for a key that can be NULL. Without
	// it, an index can serve the order of created_at.
	switch {
	case asc && nullable:
		return key + " ASC NULLS LAST", nil
	case asc:
		return key + " ASC", nil
	}
	return key + " DESC", nil
}

// listStmts are the statements of a token list.
type listStmts struct {
	count *sql.Stmt // how many tokens it has
	page  *sql.Stmt // one page of it, ordered
}

// listStmts returns the statements of the list f selects, with the
// personal filter personal and the ORDER BY terms order. Their parameters
// are the user id, those of personal, the folded name if f has one, and
// the page's limit and offset.
func (db *DB) listStmts(ctx context.Context, f latchkey.TokenFilter, personal, order string) (listStmts, error) {
	where := ` FROM oauth_access_tokens t WHERE t.user_id = ?` + personal
	if !f.IncludeRevoked {
		where += ` AND t.revoked = 0`
	}
	if f.Name != "" {
		where += ` AND instr(t.name_folded, ?) > 0`
	}
	var s listStmts
	var err error
	s.count, err = db.prepared(ctx, `SELECT count(*)`+where)
	if err != nil {
		return s, err
	}
	s.page, err = db.prepared(ctx, `SELECT `+sqlschema.TokenColumns+where+` ORDER BY `+order+`, t.id DESC LIMIT ? OFFSET ?`)
	return s, err
}

// scanBareToken reads one row of sqlschema.TokenColumns alone.
func scanBareToken(r rowScanner) (*latchkey.Token, error) {
	var t latchkey.Token
	return &t, r.Scan(tokenFields(&t)...)
}

// fillClients sets the Client of each token, reading each distinct client
// once in tx, with stmts: the query of sqlschema.ClientColumns by one id, and by a
// JSON array of ids. A page's tokens almost always share one client, the
// personal access client. Each token gets a Client of its own.
func fillClients(ctx context.Context, tx *sql.Tx, stmts [2]*sql.Stmt, tokens []*latchkey.Token) error {
	ids := make([]int64, 0, 1)
	for _, t := range tokens {
		if !slices.Contains(ids, t.ClientID) {
			ids = append(ids, t.ClientID)
		}
	}
	stmt, arg := stmts[0], any(ids[0])
	if len(ids) > 1 {
		list := []byte{'['}
		for i, id := range ids {
			if i > 0 {
				list = append(list, ',')
			}
			list = strconv.AppendInt(list, id, 10)
		}
		stmt, arg = stmts[1], string(append(list, ']'))
	}
	rows, err := tx.StmtContext(ctx, stmt).QueryContext(ctx, arg)
	if err != nil {
		return err
	}
	defer rows.Close()
	byID := make(map[int64]*latchkey.Client, len(ids))
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return err
		}
		byID[c.ID] = c
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, t := range tokens {
		c, ok := byID[t.ClientID]
		if !ok {
			// The foreign key keeps this from happening.
			return fmt.Errorf("token %s: client %d not found", t.ID, t.ClientID)
		}
		t.Client = cloneClient(c)
	}
	return nil
}

// cloneClient returns a deep copy of c.
func cloneClient(c *latchkey.Client) *latchkey.Client {
	cc := *c
	if c.UserID != nil {
		id := *c.UserID
		cc.UserID = &id
	}
	if c.Provider != nil {
		p := *c.Provider
		cc.Provider = &p
	}
	return &cc
}

// RevokeToken marks the token revoked for reason and its UpdatedAt at,
// unless it is revoked already, and its descendants with it, and returns
// it as stored and the tokens this call revoked (itself first); only for
// those does it write audit, in the same transaction. ENOTFOUND when
// there is none.
func (db *DB) RevokeToken(ctx context.Context, id string, at time.Time, reason latchkey.RevokeReason, audit ...*latchkey.AuditRecord) (*latchkey.Token, []*latchkey.Token, error) {
	var t *latchkey.Token
	var revoked []*latchkey.Token
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		var err error
		revoked, err = revokeTokens(ctx, tx, at, reason, `t.id = ?`, id)
		if err != nil {
			return err
		}
		t, err = scanToken(tx.QueryRowContext(ctx,
			`SELECT `+sqlschema.TokenColumns+`, `+sqlschema.ClientColumns+sqlschema.TokenFrom+` WHERE t.id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return storeerr.NotFound(storeerr.MsgTokenNotFound, err)
		}
		if err != nil {
			return err
		}
		records := latchkey.AuditWithDescendants(audit, revoked)
		if len(revoked) == 0 || revoked[0].ID != id {
			// Revoked already: only the descendants are news.
			records = records[len(audit):]
		}
		return insertAudit(ctx, tx, records)
	})
	if err != nil {
		return nil, nil, wrap("revoke token", err)
	}
	return t, revoked, nil
}

// Descendants counts the tokens that are not revoked and that descend
// from the token id.
func (db *DB) Descendants(ctx context.Context, id string) (int, error) {
	var n int
	err := db.queryRow(ctx, `WITH RECURSIVE tree(id) AS (
			SELECT id FROM oauth_access_tokens WHERE parent_id = ?
			UNION ALL
			SELECT c.id FROM oauth_access_tokens c JOIN tree ON c.parent_id = tree.id)
		SELECT count(*) FROM oauth_access_tokens
		WHERE revoked = 0 AND id IN (SELECT id FROM tree)`, id).Scan(&n)
	if err != nil {
		return 0, wrap("descendants", err)
	}
	return n, nil
}

// Credential returns the token with its user and client, in one query.
// ENOTFOUND when there is no such token.
func (db *DB) Credential(ctx context.Context, id string) (*latchkey.Credential, error) {
	const q = `SELECT ` + sqlschema.TokenColumns + `, ` + sqlschema.UserColumns + `, ` + sqlschema.ClientColumns + `
		FROM oauth_access_tokens t
		JOIN users u ON u.id = t.user_id
		JOIN oauth_clients c ON c.id = t.client_id
		WHERE t.id = ?`
	var (
		t latchkey.Token
		u latchkey.User
		c latchkey.Client
	)
	dest := append(append(tokenFields(&t), userFields(&u)...), clientFields(&c)...)
	err := db.queryRow(ctx, q, id).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		err = storeerr.NotFound(storeerr.MsgTokenNotFound, err)
	}
	if err != nil {
		return nil, wrap("credential", err)
	}
	t.Client = &c
	return &latchkey.Credential{Token: &t, User: &u, Client: &c}, nil
}

// TouchTokens records tokens' uses in one transaction: for each id, it
// sets LastUsedAt and LastUsedIP unless LastUsedAt is later already, and
// merges the addresses into RecentIPs. Unknown ids are ignored.
func (db *DB) TouchTokens(ctx context.Context, uses map[string]latchkey.Use) error {
	if len(uses) == 0 {
		return nil
	}
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		// In id order, so that the same uses always write the same way.
		for _, id := range slices.Sorted(maps.Keys(uses)) {
			u := uses[id]
			var last, recentText sql.NullString
			err := tx.QueryRowContext(ctx, `SELECT last_used_at, recent_ips FROM oauth_access_tokens WHERE id = ?`, id).Scan(&last, &recentText)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			recent, err := sqlschema.DecodeRecent(recentText.String)
			if err != nil {
				return err
			}
			merged := sqlschema.EncodeRecent(latchkey.MergeRecent(recent, u.Addrs))
			// Stored times have one fixed width: as text, they sort
			// as times do.
			if at := formatTime(u.At); !last.Valid || last.String < at {
				_, err = tx.ExecContext(ctx, `UPDATE oauth_access_tokens
					SET last_used_at = ?, last_used_ip = COALESCE(?, last_used_ip), recent_ips = ? WHERE id = ?`,
					at, nullText(u.LastAddr()), merged, id)
			} else {
				_, err = tx.ExecContext(ctx, `UPDATE oauth_access_tokens SET recent_ips = ? WHERE id = ?`, merged, id)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return wrap("touch tokens", err)
	}
	return nil
}
