package wire

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

// The inventory's CSV (GET /api/1.0/tokens with Accept: text/csv, the web
// pages' download, latchkey token list --all-users --format csv): a
// header row, then one row a token. Its columns are the table below, in
// its order, and nothing else: a column is added here, once, for all.

// csvColumn is one column of the inventory's CSV: its name in the header
// row, and its cell for a token judged at now.
type csvColumn struct {
	name string
	cell func(it *latchkey.InventoryToken, now time.Time) string
}

var csvColumns = []csvColumn{
	{"id", func(it *latchkey.InventoryToken, _ time.Time) string { return it.Token.ID }},
	{"user_id", func(it *latchkey.InventoryToken, _ time.Time) string { return strconv.FormatInt(it.Token.UserID, 10) }},
	{"username", func(it *latchkey.InventoryToken, _ time.Time) string { return it.Username }},
	{"email", func(it *latchkey.InventoryToken, _ time.Time) string { return it.Email }},
	{"name", func(it *latchkey.InventoryToken, _ time.Time) string { return it.Token.Name }},
	{"client_id", func(it *latchkey.InventoryToken, _ time.Time) string { return strconv.FormatInt(it.Token.ClientID, 10) }},
	{"client_name", func(it *latchkey.InventoryToken, _ time.Time) string {
		if it.Token.Client == nil {
			return ""
		}
		return it.Token.Client.Name
	}},
	// Space-separated; empty for [], every ability of the user.
	{"scopes", func(it *latchkey.InventoryToken, _ time.Time) string { return strings.Join(it.Token.Scopes, " ") }},
	{"state", func(it *latchkey.InventoryToken, now time.Time) string { return string(it.Token.State(now)) }},
	{"revoked_reason", func(it *latchkey.InventoryToken, _ time.Time) string { return string(it.Token.RevokedReason) }},
	{"created_at", func(it *latchkey.InventoryToken, _ time.Time) string { return csvDate(&it.Token.CreatedAt) }},
	{"updated_at", func(it *latchkey.InventoryToken, _ time.Time) string { return csvDate(&it.Token.UpdatedAt) }},
	{"expires_at", func(it *latchkey.InventoryToken, _ time.Time) string { return csvDate(it.Token.ExpiresAt) }},
	{"last_used_at", func(it *latchkey.InventoryToken, _ time.Time) string { return csvDate(it.Token.LastUsedAt) }},
	{"parent_id", func(it *latchkey.InventoryToken, _ time.Time) string { return it.Token.ParentID }},
	{"revoked_at", func(it *latchkey.InventoryToken, _ time.Time) string { return csvDate(it.Token.RevokedAt) }},
	{"rotated_from", func(it *latchkey.InventoryToken, _ time.Time) string { return it.Token.RotatedFrom }},
	{"rotated_to", func(it *latchkey.InventoryToken, _ time.Time) string { return it.Token.RotatedTo }},
	// Space-separated; empty for anywhere.
	{"allowed_ips", func(it *latchkey.InventoryToken, _ time.Time) string {
		list := make([]string, len(it.Token.AllowedIPs))
		for i, p := range it.Token.AllowedIPs {
			list[i] = p.String()
		}
		return strings.Join(list, " ")
	}},
	{"last_used_ip", func(it *latchkey.InventoryToken, _ time.Time) string { return it.Token.LastUsedIP }},
}

// CSVColumns returns the names of the inventory CSV's columns, in order.
func CSVColumns() []string {
	names := make([]string, len(csvColumns))
	for i, c := range csvColumns {
		names[i] = c.name
	}
	return names
}

// csvDate is a date in the API's form, or "" for none.
func csvDate(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(DateLayout)
}

// CSVSafe returns cell as a spreadsheet may open it without running it:
// a cell that begins with =, +, -, @, a tab or a carriage return, which a
// spreadsheet reads as a formula, gets a leading ' (OWASP's advice on CSV
// injection). Names, usernames and emails are typed by people.
func CSVSafe(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}

// InventoryCSV writes the inventory's CSV, a row at a time, to a buffer
// of its own that Flush empties: what it holds does not grow with the
// number of rows.
type InventoryCSV struct {
	w      *csv.Writer
	now    time.Time
	record []string // reused from row to row
}

// NewInventoryCSV returns a writer of the inventory's CSV to w, whose
// states are judged at now.
func NewInventoryCSV(w io.Writer, now time.Time) *InventoryCSV {
	return &InventoryCSV{w: csv.NewWriter(w), now: now, record: make([]string, len(csvColumns))}
}

// WriteHeader writes the header row.
func (c *InventoryCSV) WriteHeader() error { return c.w.Write(CSVColumns()) }

// Write writes the row of it, every cell made safe (CSVSafe).
func (c *InventoryCSV) Write(it *latchkey.InventoryToken) error {
	for i, col := range csvColumns {
		c.record[i] = CSVSafe(col.cell(it, c.now))
	}
	return c.w.Write(c.record)
}

// Flush writes what is buffered to the underlying writer and reports any
// error of a write so far.
func (c *InventoryCSV) Flush() error {
	c.w.Flush()
	return c.w.Error()
}
