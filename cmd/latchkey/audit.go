package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/service"
)

func (e *env) audit(ctx context.Context, args []string) error {
	fs := e.flags("audit", "audit [--action ACTION] [--user USER] [--since 24h | --since DATE] [--limit N] [--json]\n\nLists the audit log, newest first. Actions: "+auditActions()+".")
	db := fs.dbFlags()
	action := fs.FlagSet.String("action", "", "only this action")
	user := fs.FlagSet.String("user", "", "only records whose actor or subject is this user: an id, username or email")
	since := fs.FlagSet.String("since", "", "only records since then: a duration back from now (24h, 7d) or an RFC 3339 date")
	limit := fs.Int("limit", 100, "at most this many records (0: all)")
	asJSON := fs.Bool("json", false, "one JSON object a line")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("audit: unexpected arguments %q", fs.Args())
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
			enc := json.NewEncoder(e.stdout)
			for _, r := range records {
				if err := enc.Encode(auditJSON(r)); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "AT\tACTION\tACTOR\tSUBJECT USER\tSUBJECT\tADDRESS\tUSER AGENT\tDETAIL")
		for _, r := range records {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.At.UTC().Format("2006-01-02 15:04:05"), r.Action,
				actor(r), dash(idOf(r.SubjectUserID)), dash(r.SubjectID), dash(r.Address), dash(r.UserAgent), dash(r.Detail))
		}
		return tw.Flush()
	})
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

// actor names who did it: a user (and the token they used), or the
// operator at the command line.
func actor(r *latchkey.AuditRecord) string {
	switch {
	case r.ActorUserID == nil && (r.Action == latchkey.AuditAuthRefused || r.Address != ""):
		return "-" // someone over the network, not signed in: a refused token or sign-in
	case r.ActorUserID == nil:
		return "operator"
	case r.ActorTokenID != "":
		return "user " + idOf(r.ActorUserID) + " (token " + r.ActorTokenID[:min(12, len(r.ActorTokenID))] + "…)"
	}
	return "user " + idOf(r.ActorUserID)
}

// auditJSON is a record as one JSON line.
func auditJSON(r *latchkey.AuditRecord) map[string]any {
	return map[string]any{
		"id": r.ID, "at": r.At.UTC().Format(time.RFC3339Nano), "action": r.Action,
		"actor_user_id": r.ActorUserID, "actor_token_id": r.ActorTokenID,
		"subject_user_id": r.SubjectUserID, "subject_id": r.SubjectID,
		"address": r.Address, "user_agent": r.UserAgent, "detail": r.Detail,
	}
}
