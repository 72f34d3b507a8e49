package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/service"
)

func (e *env) audit(ctx context.Context, args []string) error {
	fs := e.flags("audit", "audit [--action ACTION] [--user USER] [--since 24h | --since DATE] [--limit N] [--wide | --json]\n\n"+
		"Lists the audit log, newest first, in a table that fits a terminal: ids, addresses\n"+
		"and details are cut short (…), and the user agent is left out; --wide shows\n"+
		"every field in full, --json every field as JSON. Actions: "+auditActions()+".")
	db := fs.dbFlags()
	action := fs.FlagSet.String("action", "", "only this action")
	user := fs.FlagSet.String("user", "", "only records whose actor or subject is this user: an id, username or email")
	since := fs.FlagSet.String("since", "", "only records since then: a duration back from now (24h, 7d) or an RFC 3339 date")
	limit := fs.Int("limit", 100, "at most this many records (0: all)")
	asJSON := fs.Bool("json", false, "one JSON object a line")
	wide := fs.Bool("wide", false, "every field in full, the user agent included")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("audit: unexpected arguments %q", fs.Args())
	}
	if *asJSON && *wide {
		return usagef("audit: --json and --wide exclude each other")
	}
	if *action != "" && !slices.Contains(latchkey.AuditActions, latchkey.AuditAction(*action)) {
		return usagef("audit: --action: want one of %s, got %q", auditActions(), *action)
	}
	if *limit < 0 {
		return usagef("audit: --limit: want 0 (all) or more, got %d", *limit)
	}
	f := latchkey.AuditFilter{Action: latchkey.AuditAction(*action), Limit: *limit}
	if *since != "" {
		if t, err := time.Parse(time.RFC3339Nano, *since); err == nil {
			f.Since = t
		} else if l, err := service.ParseLifetime(*since); err == nil {
			f.Since = time.Now().AddDate(-l.Years, 0, -l.Days).Add(-l.Duration)
		} else {
			return usagef("audit: --since: want a duration such as 24h or 7d, or an RFC 3339 date; got %q", *since)
		}
	}
	return e.withService(ctx, db, nil, func(svc *service.Service) error {
		if *user != "" {
			u, err := svc.FindUser(ctx, *user)
			if err != nil {
				return describe(err)
			}
			f.UserID = &u.ID
		}
		records, err := svc.Audit(ctx, f)
		if err != nil {
			return err
		}
		if *asJSON {
			for _, r := range records {
				if err := writeJSONLine(e.stdout, auditJSON(r)); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		if *wide {
			fmt.Fprintln(tw, "AT\tACTION\tACTOR\tSUBJECT USER\tSUBJECT\tADDRESS\tUSER AGENT\tDETAIL")
			for _, r := range records {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.At.UTC().Format("2006-01-02 15:04:05"), printable(string(r.Action)),
					actor(r, true), dash(idOf(r.SubjectUserID)), dash(printable(r.SubjectID)), dash(printable(r.Address)),
					dash(printable(r.UserAgent)), dash(printable(r.Detail)))
			}
			return tw.Flush()
		}
		writeAuditTable(tw, records)
		return tw.Flush()
	})
}

// auditWidth is the width the audit table keeps to, in columns, unless a
// row's fixed fields are wider: a terminal's 80 columns and then some.
const auditWidth = 100

// writeAuditTable writes records as a table that fits auditWidth columns
// for the usual records: subject ids and addresses are cut short, the
// user agent is left out, and the detail comes last, cut to what is left
// of the line (but never below 16 columns).
func writeAuditTable(w io.Writer, records []*latchkey.AuditRecord) {
	rows := [][]string{{"AT", "ACTION", "ACTOR", "USER", "SUBJECT", "ADDRESS", "DETAIL"}}
	for _, r := range records {
		rows = append(rows, []string{
			r.At.UTC().Format("2006-01-02 15:04:05"),
			abbreviate(printable(string(r.Action)), 17),
			actor(r, false),
			dash(idOf(r.SubjectUserID)),
			dash(abbreviate(printable(r.SubjectID), 9)),
			dash(abbreviate(printable(r.Address), 15)),
			dash(printable(r.Detail)),
		})
	}
	last := len(rows[0]) - 1
	used := 0
	for col := range last {
		width := 0
		for _, row := range rows {
			width = max(width, utf8.RuneCountInString(row[col]))
		}
		used += width + 2
	}
	for _, row := range rows {
		row[last] = abbreviate(row[last], max(auditWidth-used, 16))
		fmt.Fprintln(w, strings.Join(row, "\t"))
	}
}

// auditActions lists the actions for a usage or an error.
func auditActions() string {
	names := make([]string, len(latchkey.AuditActions))
	for i, a := range latchkey.AuditActions {
		names[i] = string(a)
	}
	return strings.Join(names, ", ")
}

func idOf(id *int64) string {
	if id == nil {
		return ""
	}
	return strconv.FormatInt(*id, 10)
}

// actor names who did it: a user (and, in full, the token they used), the
// operator at the command line, the server itself, or someone not signed
// in.
func actor(r *latchkey.AuditRecord, full bool) string {
	switch r.Actor {
	case latchkey.ActorUser:
		if r.ActorTokenID != "" && full {
			return "user " + idOf(r.ActorUserID) + " (token " + printable(r.ActorTokenID) + ")"
		}
		return "user " + idOf(r.ActorUserID)
	case latchkey.ActorAnonymous:
		return "-" // someone over the network, not signed in: a refused token or sign-in
	}
	return string(r.Actor) // operator, system
}

// auditJSON is a record as one JSON line.
func auditJSON(r *latchkey.AuditRecord) map[string]any {
	return map[string]any{
		"id": r.ID, "at": r.At.UTC().Format(time.RFC3339Nano), "action": r.Action,
		"actor": r.Actor, "actor_user_id": r.ActorUserID, "actor_token_id": r.ActorTokenID,
		"subject_user_id": r.SubjectUserID, "subject_id": r.SubjectID,
		"address": r.Address, "user_agent": r.UserAgent, "detail": r.Detail,
	}
}
