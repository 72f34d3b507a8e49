package postgres

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlschema"
	"github.com/latchkey/latchkey/internal/storeerr"
)

// CreateToken stores t, and audit in the same transaction. ECONFLICT when
// the id exists; ENOTFOUND when its user or client does not exist;
// EUNAUTHENTICATED when its parent is revoked or gone.
//
// With at most one audit record, as the service writes it, the token,
// its parent's check, the record, its notification and the event are one
// statement (createQuery), run in one round trip and committed alone:
// each round trip of a transaction of five costed both processes more
// than the statements did.
func (db *DB) CreateToken(ctx context.Context, t *latchkey.Token, audit ...*latchkey.AuditRecord) error {
	if t.ParentID != "" && !storable(t.ParentID) {
		return wrap("create token", latchkey.Errorf(latchkey.EUNAUTHENTICATED, storeerr.MsgParentRevoked))
	}
	ch, err := db.channel(ctx)
	if err != nil {
		return wrap("create token", err)
	}
	created := latchkey.Event{Kind: latchkey.EventTokenCreated, ID: strconv.FormatInt(t.UserID, 10)}
	if len(audit) <= 1 {
		err = retry(ctx, func() error { return createToken(ctx, db.pool, ch, created, t, audit) })
	} else {
		err = db.tx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
			// The parent is held (FOR SHARE) until the child is committed: a
			// revocation of the parent waits for it and then revokes the child
			// (revokeTokens), or committed first, and the parent is found
			// revoked here.
			if err := parentLive(ctx, tx, t.ParentID); err != nil {
				return err
			}
			if err := insertToken(ctx, tx, t); err != nil {
				return err
			}
			if err := insertAudit(ctx, tx, audit); err != nil {
				return err
			}
			_, err := publish(ctx, tx, ch, created)
			return err
		})
	}
	if err != nil {
		return wrap("create token", err)
	}
	return nil
}

// createToken stores t, its record (none or one) and its notification,
// and publishes e on ch, in the one statement of createQuery, with q.
func createToken(ctx context.Context, q rowQuerier, ch string, e latchkey.Event, t *latchkey.Token, audit []*latchkey.AuditRecord) error {
	args := append(make([]any, 0, 40), ch, " "+string(e.Kind)+" "+e.ID+" "+strconv.FormatInt(e.UserID, 10))
	args = append(args, tokenArgs(t)...)
	var r *latchkey.AuditRecord
	var n *latchkey.Notification
	if len(audit) == 1 {
		r = audit[0]
		args = append(args, auditArgs(r)...)
		if n = latchkey.NotificationOf(r); n != nil {
			args = append(args, notificationArgs(n)...)
		}
	}
	var id int64
	err := q.QueryRow(ctx, createQuery(t.ParentID != "", r != nil, n != nil), args...).Scan(&id, nil)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		// Nothing was inserted: the parent was not live.
		return latchkey.Errorf(latchkey.EUNAUTHENTICATED, storeerr.MsgParentRevoked)
	case err != nil && strings.HasPrefix(constraint(err), "oauth_access_tokens_"):
		return tokenError(err)
	case err != nil:
		return err
	}
	if r != nil {
		r.ID, r.At = id, storedTime(r.At)
	}
	return nil
}

// The columns of a new token, in the order of tokenArgs.
const insertTokenColumns = `id, user_id, client_id, name, name_folded,
	scopes, revoked, created_at, updated_at, expires_at, last_used_at, key_id,
	parent_id, revoked_reason, revoked_at, rotated_from, rotated_to, allowed_ips, last_used_ip, recent_ips, audience`

// tokenColumnCount is how many insertTokenColumns names.
var tokenColumnCount = strings.Count(insertTokenColumns, ",") + 1

// placeholders returns "$from, …" for n parameters.
func placeholders(from, n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = "$" + strconv.Itoa(from+i)
	}
	return strings.Join(ps, ", ")
}

// tokenArgs are the values of insertTokenColumns for t.
func tokenArgs(t *latchkey.Token) []any {
	return []any{t.ID, t.UserID, t.ClientID, t.Name, strings.ToLower(t.Name),
		storedScopes(t.Scopes), t.Revoked, storedTime(t.CreatedAt), storedTime(t.UpdatedAt),
		storedNullTime(t.ExpiresAt), storedNullTime(t.LastUsedAt), t.KeyID,
		nullText(t.ParentID), string(t.RevokedReason), storedNullTime(t.RevokedAt),
		nullText(t.RotatedFrom), nullText(t.RotatedTo), sqlschema.EncodePrefixes(t.AllowedIPs),
		nullText(t.LastUsedIP), sqlschema.EncodeRecent(t.RecentIPs), t.Audience}
}

// tokenError is what an error of the insert of a token means.
func tokenError(err error) error {
	switch pgCode(err) {
	case codeUniqueViolation:
		return storeerr.Conflict(storeerr.MsgTokenExists, err)
	case codeForeignKeyViolation:
		return storeerr.NotFound(storeerr.MsgTokenOwnerNotFound, err)
	}
	return err
}

// createQueries are the statements of createToken, by whether the token
// has a parent, a record and a notification.
var createQueries = func() (q [2][2][2]string) {
	for _, parent := range []bool{false, true} {
		for _, audited := range []bool{false, true} {
			for _, notified := range []bool{false, true} {
				q[b2i(parent)][b2i(audited)][b2i(notified)] = buildCreateQuery(parent, audited, notified)
			}
		}
	}
	return q
}()

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// createQuery returns the statement of createToken.
func createQuery(parent, audited, notified bool) string {
	return createQueries[b2i(parent)][b2i(audited)][b2i(notified)]
}

// buildCreateQuery builds the statement that stores a token (its
// values from $3, tokenArgs), its audit record (auditArgs, after them)
// when audited, and the record's notification (notificationArgs, after
// those) when notified, and that publishes its event ($2) on the channel $1,
// all or nothing, as a statement is. Its one row is the record's id (0
// without one) and the notification sent.
//
// A token with a parent ($15) is inserted only if the parent is live,
// and the parent is held (FOR SHARE) until the statement commits: a
// revocation of the parent waits for it and then revokes the child
// (revokeTokens), or committed first, and the parent is found revoked
// here. Then nothing is inserted, and the statement answers no row.
func buildCreateQuery(parent, audited, notified bool) string {
	var b strings.Builder
	b.WriteString(`WITH `)
	from := ``
	if parent {
		b.WriteString(`p AS (SELECT 1 FROM oauth_access_tokens WHERE id = $15 AND NOT revoked FOR SHARE),
		`)
		from = ` FROM p`
	}
	b.WriteString(`t AS (INSERT INTO oauth_access_tokens (` + insertTokenColumns + `)
		SELECT ` + placeholders(3, tokenColumnCount) + from + `
		RETURNING 1)`)
	id, last := `0`, `t`
	if audited {
		at := 3 + tokenColumnCount // the audit record's first parameter
		b.WriteString(`,
		a AS (INSERT INTO audit_log (` + auditColumns + `)
		SELECT ` + placeholders(at, 10) + ` FROM t
		RETURNING id)`)
		id, last = `a.id`, `a`
		if notified {
			nt := at + 10 // the notification's first parameter
			b.WriteString(`,
		n AS (INSERT INTO notifications (` + notificationColumns + `)
		SELECT ` + placeholders(nt, 9) + `, a.id, $` + strconv.Itoa(nt+9) + `, $` + strconv.Itoa(nt+2) + ` FROM a)`)
		}
	}
	b.WriteString(`
		SELECT ` + id + `, pg_notify($1, nextval('event_seq')::text || $2) FROM ` + last)
	return b.String()
}

// parentLive reports EUNAUTHENTICATED when the token id ("" for none) is
// revoked or gone, and holds it (FOR SHARE) until tx ends: a revocation
// of it waits for the child and then revokes it (revokeTokens), or
// committed first, and the parent is found revoked here.
func parentLive(ctx context.Context, tx pgx.Tx, id string) error {
	if id == "" {
		return nil
	}
	if !storable(id) {
		return latchkey.Errorf(latchkey.EUNAUTHENTICATED, storeerr.MsgParentRevoked)
	}
	var revoked bool
	err := tx.QueryRow(ctx, `SELECT revoked FROM oauth_access_tokens WHERE id = $1 FOR SHARE`, id).Scan(&revoked)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && revoked {
		return latchkey.Errorf(latchkey.EUNAUTHENTICATED, storeerr.MsgParentRevoked)
	}
	return err
}

// An execer is a pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// insertToken stores t with e. ECONFLICT when the id exists; ENOTFOUND
// when its user or client does not exist.
func insertToken(ctx context.Context, e execer, t *latchkey.Token) error {
	q := `INSERT INTO oauth_access_tokens (` + insertTokenColumns + `)
		VALUES (` + placeholders(1, tokenColumnCount) + `)`
	_, err := e.Exec(ctx, q, tokenArgs(t)...)
	return tokenError(err)
}

// Token returns the token with its client. ENOTFOUND when there is none.
func (db *DB) Token(ctx context.Context, id string) (*latchkey.Token, error) {
	if !storable(id) {
		return nil, wrap("token", storeerr.NotFound(storeerr.MsgTokenNotFound, nil))
	}
	t, err := scanToken(db.pool.QueryRow(ctx,
		`SELECT `+sqlschema.TokenColumns+`, `+sqlschema.ClientColumns+sqlschema.TokenFrom+` WHERE t.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = storeerr.NotFound(storeerr.MsgTokenNotFound, err)
	}
	if err != nil {
		return nil, wrap("token", err)
	}
	return t, nil
}

// Tokens returns the page of tokens f selects, each with its client, and
// how many tokens f selects on all pages, both read by one statement, so
// from one snapshot. The name filter is a literal substring of the name,
// compared after lowercasing both sides in Go. EINVALID for an unknown
// f.OrderBy.
//
// The personal filter compares the token's client_id with the id of the
// personal access client, which is almost always the only one: the list
// of personal tokens that are not revoked is then a range of the index
// oauth_access_tokens_user_list, in order. The id is the one the last
// call saw; the statement reads the personal access clients too, and when
// they have changed, Tokens runs again with a filter that reads them.
func (db *DB) Tokens(ctx context.Context, f latchkey.TokenFilter) ([]*latchkey.Token, int, error) {
	order, err := tokenOrder(f.OrderBy, f.Ascending)
	if err != nil {
		return nil, 0, wrap("tokens", err)
	}
	if !storable(f.Name) {
		return []*latchkey.Token{}, 0, nil // no stored name contains it
	}

	var single int64 // the one personal access client, if known
	if p := db.personal.Load(); f.PersonalOnly && p != nil && len(*p) == 1 {
		single = (*p)[0]
	}
	for {
		l, err := db.tokenList(ctx, f, order, single)
		if err != nil {
			return nil, 0, wrap("tokens", err)
		}
		if !f.PersonalOnly {
			return l.tokens, l.total, nil
		}
		db.personal.Store(&l.personal)
		if single != 0 && (len(l.personal) != 1 || l.personal[0] != single) {
			single = 0 // the personal access clients changed: again
			continue
		}
		return l.tokens, l.total, nil
	}
}

// tokenOrder returns the ORDER BY term of a token list sorted by o, in
// ascending order if asc, before the tie-break on id. EINVALID for an
// unknown o.
func tokenOrder(o latchkey.TokenOrder, asc bool) (string, error) {
	key, nullable, ok := sqlschema.TokenOrderKey(o)
	if !ok {
		return "", latchkey.Errorf(latchkey.EINVALID, "Tokens cannot be ordered by %q.", o)
	}
	// PostgreSQL sorts NULL last ascending and first descending, so NULLS
	// LAST is only needed descending, for a key that can be NULL. Without
	// it, oauth_access_tokens_user_list serves the default order.
	switch {
	case !asc && nullable:
		return key + " DESC NULLS LAST", nil
	case !asc:
		return key + " DESC", nil
	}
	return key + " ASC", nil
}

// tokenList is what the statement of Tokens reads.
type tokenList struct {
	tokens   []*latchkey.Token
	total    int
	personal []int64 // the ids of the personal access clients, by id
}

// tokenList reads the page f selects, ordered by the ORDER BY term order,
// and its count, in one statement. When f.PersonalOnly, it also reads the
// personal access clients, and filters by the id single, unless it is 0,
// which reads them for the filter too.
func (db *DB) tokenList(ctx context.Context, f latchkey.TokenFilter, order string, single int64) (tokenList, error) {
	args := []any{f.UserID}
	param := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var where strings.Builder
	where.WriteString(` WHERE t.user_id = $1`)
	personal := `NULL::bigint[]`
	if f.PersonalOnly {
		personal = `ARRAY(SELECT id FROM oauth_clients WHERE personal_access_client ORDER BY id)`
		if single != 0 {
			where.WriteString(` AND t.client_id = ` + param(single))
		} else {
			where.WriteString(` AND t.client_id IN (SELECT id FROM oauth_clients WHERE personal_access_client)`)
		}
	}
	if !f.IncludeRevoked {
		where.WriteString(` AND NOT t.revoked`)
	}
	if f.Name != "" {
		where.WriteString(` AND strpos(t.name_folded, ` + param(strings.ToLower(f.Name)) + `) > 0`)
	}
	orderBy := ` ORDER BY ` + order + `, t.id DESC`
	// The count and the page are subqueries of a row that is there even
	// when the page is empty. The page alone joins its clients.
	q := `SELECT n.total, n.personal, ` + sqlschema.TokenColumns + `, ` + sqlschema.ClientColumns + `
		FROM (SELECT (SELECT count(*) FROM oauth_access_tokens t` + where.String() + `) AS total,
			` + personal + ` AS personal) n
		LEFT JOIN LATERAL (SELECT * FROM oauth_access_tokens t` + where.String() + orderBy +
		` LIMIT ` + param(limit(f.Limit)) + ` OFFSET ` + param(max(f.Offset, 0)) + `) t ON true
		LEFT JOIN oauth_clients c ON c.id = t.client_id` + orderBy

	var l tokenList
	err := retry(ctx, func() error {
		l = tokenList{tokens: []*latchkey.Token{}}
		rows, err := db.pool.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		// Every row repeats the count and the personal access clients:
		// only the first is read.
		head, skip := []any{&l.total, &l.personal}, []any{nil, nil}
		for rows.Next() {
			if rows.RawValues()[len(head)] == nil { // no t.id: the page is empty
				dest := make([]any, len(rows.FieldDescriptions())) // nil skips
				copy(dest, head)
				if err := rows.Scan(dest...); err != nil {
					return err
				}
				continue
			}
			var (
				t latchkey.Token
				c latchkey.Client
			)
			if err := rows.Scan(slices.Concat(head, tokenFields(&t), clientFields(&c))...); err != nil {
				return err
			}
			fixToken(&t)
			t.Client = &c
			l.tokens = append(l.tokens, &t)
			head = skip
		}
		return rows.Err()
	})
	return l, err
}

// RevokeToken marks the token revoked for reason and its UpdatedAt at,
// unless it is revoked already, and its descendants with it, and returns
// it as stored and the tokens this call revoked (itself first); only for
// those does it write audit, in the same transaction. ENOTFOUND when
// there is none.
func (db *DB) RevokeToken(ctx context.Context, id string, at time.Time, reason latchkey.RevokeReason, audit ...*latchkey.AuditRecord) (*latchkey.Token, []*latchkey.Token, error) {
	if !storable(id) {
		return nil, nil, wrap("revoke token", storeerr.NotFound(storeerr.MsgTokenNotFound, nil))
	}
	var t *latchkey.Token
	var revoked []*latchkey.Token
	err := db.tx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		var err error
		if revoked, err = revokeTokens(ctx, tx, at, reason, `t.id = $3`, id); err != nil {
			return err
		}
		t, err = scanToken(tx.QueryRow(ctx,
			`SELECT `+sqlschema.TokenColumns+`, `+sqlschema.ClientColumns+sqlschema.TokenFrom+` WHERE t.id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
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
	if !storable(id) {
		return 0, nil
	}
	var n int
	err := db.pool.QueryRow(ctx, `WITH RECURSIVE tree(id) AS (
			SELECT id FROM oauth_access_tokens WHERE parent_id = $1
			UNION ALL
			SELECT c.id FROM oauth_access_tokens c JOIN tree ON c.parent_id = tree.id)
		SELECT count(*) FROM oauth_access_tokens
		WHERE NOT revoked AND id IN (SELECT id FROM tree)`, id).Scan(&n)
	if err != nil {
		return 0, wrap("descendants", err)
	}
	return n, nil
}

// Credential returns the token with its user and client, in one query.
// ENOTFOUND when there is no such token.
func (db *DB) Credential(ctx context.Context, id string) (*latchkey.Credential, error) {
	if !storable(id) {
		return nil, wrap("credential", storeerr.NotFound(storeerr.MsgTokenNotFound, nil))
	}
	const q = `SELECT ` + sqlschema.TokenColumns + `, ` + sqlschema.UserColumns + `, ` + sqlschema.ClientColumns + `
		FROM oauth_access_tokens t
		JOIN users u ON u.id = t.user_id
		JOIN oauth_clients c ON c.id = t.client_id
		WHERE t.id = $1`
	var (
		t latchkey.Token
		u latchkey.User
		c latchkey.Client
	)
	dest := append(append(tokenFields(&t), userFields(&u)...), clientFields(&c)...)
	err := db.pool.QueryRow(ctx, q, id).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		err = storeerr.NotFound(storeerr.MsgTokenNotFound, err)
	}
	if err != nil {
		return nil, wrap("credential", err)
	}
	fixToken(&t)
	fixUser(&u)
	t.Client = &c
	return &latchkey.Credential{Token: &t, User: &u, Client: &c}, nil
}

// TouchTokens records tokens' uses in one transaction: for each id, it
// sets LastUsedAt and LastUsedIP unless LastUsedAt is later already, and
// merges the addresses into RecentIPs. Unknown ids, and ids that no text
// column can hold, are ignored.
func (db *DB) TouchTokens(ctx context.Context, uses map[string]latchkey.Use) error {
	ids := make([]string, 0, len(uses))
	for _, id := range slices.Sorted(maps.Keys(uses)) {
		if storable(id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	err := db.tx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		// The rows are locked in id order, as RevokeClient locks them,
		// so that concurrent calls, from replicas whose clients use the
		// same tokens, do not deadlock.
		rows, err := tx.Query(ctx, `SELECT id, last_used_at, recent_ips FROM oauth_access_tokens
			WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE`, ids)
		if err != nil {
			return err
		}
		var (
			set     []string
			ats     []*time.Time
			ips     []*string
			recents []*string
		)
		for rows.Next() {
			var id string
			var last *time.Time
			var recentText pgtype.Text
			if err := rows.Scan(&id, &last, &recentText); err != nil {
				rows.Close()
				return err
			}
			recent, err := sqlschema.DecodeRecent(recentText.String)
			if err != nil {
				rows.Close()
				return err
			}
			u := uses[id]
			at, ip := (*time.Time)(nil), (*string)(nil)
			if last == nil || last.Before(u.At) {
				v := storedTime(u.At)
				at, ip = &v, nullText(u.LastAddr())
			}
			set = append(set, id)
			ats = append(ats, at)
			ips = append(ips, ip)
			recents = append(recents, sqlschema.EncodeRecent(latchkey.MergeRecent(recent, u.Addrs)))
		}
		if err := rows.Err(); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE oauth_access_tokens t SET
				last_used_at = COALESCE(u.at, t.last_used_at),
				last_used_ip = CASE WHEN u.at IS NULL THEN t.last_used_ip ELSE COALESCE(u.ip, t.last_used_ip) END,
				recent_ips = u.recent
			FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[]) AS u (id, at, ip, recent)
			WHERE t.id = u.id`, set, ats, ips, recents)
		return err
	})
	if err != nil {
		return wrap("touch tokens", err)
	}
	return nil
}
