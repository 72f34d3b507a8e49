package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/service"
)

func (e *env) webhook(ctx context.Context, args []string) error {
	return subcommand(ctx, "webhook", args, map[string]func(context.Context, []string) error{
		"create":     e.webhookCreate,
		"list":       e.webhookList,
		"delete":     e.webhookDelete,
		"deliveries": e.webhookDeliveries,
	}, "create, list, delete or deliveries")
}

func (e *env) webhookCreate(ctx context.Context, args []string) error {
	fs := e.flags("webhook create", "webhook create --url URL [--events TYPE,TYPE...] [--webhook-allow-private]\n\n"+
		"Registers an endpoint that every server of the database posts notifications to, signed as Standard\n"+
		"Webhooks specifies. Prints the webhook's id, then its signing secret (whsec_...): the only time the\n"+
		"secret is shown.\n\nEvents: "+latchkey.NotificationTypeNames())
	db := fs.dbFlags()
	u := fs.FlagSet.String("url", "", "the endpoint: https (or http), to a public address (required)")
	events := fs.FlagSet.String("events", "", "comma-separated events to send (default: all)")
	allowPrivate := fs.Bool("webhook-allow-private", false, "allow a URL naming a loopback, private or link-local address (serve takes the same flag to deliver to one)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("webhook create: unexpected arguments %q", fs.Args())
	}
	if *u == "" {
		return usagef("webhook create: --url is required")
	}
	var types []latchkey.NotificationType
	for _, t := range splitList(*events) {
		types = append(types, latchkey.NotificationType(t))
	}
	return e.withService(ctx, db, nil, func(svc *service.Service) error {
		w, secret, err := svc.CreateWebhook(ctx, service.NewWebhook{URL: *u, Events: types, AllowPrivate: *allowPrivate})
		if latchkey.ErrorCode(err) == latchkey.EINVALID {
			// A bad value of a flag: a usage error, with what to do
			// about an address inside.
			msg := describe(err).Error()
			if !*allowPrivate && strings.Contains(msg, "address") {
				msg += " (a receiver on this machine or network needs --webhook-allow-private, here and on serve)"
			}
			return usagef("webhook create: %s", msg)
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, w.ID)
		fmt.Fprintln(e.stdout, secret)
		fmt.Fprintf(e.stderr, "latchkey: webhook %s registered; its secret, above, will not be shown again: store it now\n", w.ID)
		return nil
	})
}

// webhookEvents names what a webhook gets.
func webhookEvents(w *latchkey.Webhook) string {
	if len(w.Events) == 0 {
		return "all"
	}
	names := make([]string, len(w.Events))
	for i, t := range w.Events {
		names[i] = string(t)
	}
	return strings.Join(names, ",")
}

func (e *env) webhookList(ctx context.Context, args []string) error {
	fs := e.flags("webhook list", "webhook list [--json]")
	db := fs.dbFlags()
	asJSON := fs.Bool("json", false, "one JSON object a line")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("webhook list: unexpected arguments %q", fs.Args())
	}
	return e.withService(ctx, db, nil, func(svc *service.Service) error {
		ws, err := svc.Webhooks(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			for _, w := range ws {
				events := make([]string, len(w.Events))
				for i, t := range w.Events {
					events[i] = string(t)
				}
				if err := writeJSONLine(e.stdout, map[string]any{"id": w.ID, "url": w.URL, "events": events,
					"created_at": w.CreatedAt.UTC().Format(time.RFC3339)}); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tURL\tEVENTS\tCREATED")
		for _, w := range ws {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", w.ID, printable(w.URL), webhookEvents(w), day(&w.CreatedAt))
		}
		return tw.Flush()
	})
}

func (e *env) webhookDelete(ctx context.Context, args []string) error {
	fs := e.flags("webhook delete", "webhook delete ID\n\nDeletes a webhook: what it was not sent yet never will be.")
	db := fs.dbFlags()
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("webhook delete: want one webhook id")
	}
	return e.withService(ctx, db, nil, func(svc *service.Service) error {
		if err := svc.DeleteWebhook(ctx, fs.Arg(0)); err != nil {
			return describe(err)
		}
		fmt.Fprintf(e.stderr, "latchkey: webhook %s deleted\n", fs.Arg(0))
		return nil
	})
}

func (e *env) webhookDeliveries(ctx context.Context, args []string) error {
	fs := e.flags("webhook deliveries", "webhook deliveries [ID|mail] [--limit N] [--json]\n\n"+
		"Lists the newest deliveries, of one webhook, of mail, or of everything: the notification, where it\n"+
		"goes, its state (pending, delivered, failed), its attempts, and its last error.")
	db := fs.dbFlags()
	limit := fs.Int("limit", 50, "how many, at most")
	asJSON := fs.Bool("json", false, "one JSON object a line")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usagef("webhook deliveries: want at most one webhook id, or mail")
	}
	if *limit <= 0 || *limit > 10000 {
		return usagef("webhook deliveries: --limit: want 1 to 10000, got %d", *limit)
	}
	return e.withService(ctx, db, nil, func(svc *service.Service) error {
		if id := fs.Arg(0); id != "" && id != "mail" {
			ws, err := svc.Webhooks(ctx)
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(ws, func(w *latchkey.Webhook) bool { return w.ID == id }) {
				// A deleted webhook's history is kept a while: show it,
				// but say so.
				fmt.Fprintf(e.stderr, "latchkey: no webhook %s (now): its deliveries, if any, follow\n", id)
			}
		}
		ds, err := svc.Deliveries(ctx, fs.Arg(0), *limit)
		if err != nil {
			return describe(err)
		}
		if *asJSON {
			for _, d := range ds {
				if err := writeJSONLine(e.stdout, deliveryJSON(d)); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "DELIVERY\tMESSAGE\tTYPE\tTO\tSTATE\tATTEMPTS\tCREATED\tNEXT\tLAST ERROR")
		for _, d := range ds {
			next := "-"
			if d.State == latchkey.DeliveryPending {
				next = d.NextAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", d.ID, d.MsgID, d.Type, printable(deliveryTo(d)), d.State,
				d.Attempts, d.CreatedAt.UTC().Format(time.RFC3339), next, dash(printable(lastError(d))))
		}
		return tw.Flush()
	})
}

// deliveryTo names where d goes.
func deliveryTo(d *latchkey.Delivery) string {
	if d.WebhookID == "" {
		return "mail " + d.Recipient
	}
	return d.WebhookID + " " + d.Recipient
}

// lastError is d's last error, with the receiver's status.
func lastError(d *latchkey.Delivery) string {
	if d.LastError == "" {
		return ""
	}
	if d.LastStatus != 0 && !strings.Contains(d.LastError, strconv.Itoa(d.LastStatus)) {
		return fmt.Sprintf("HTTP %d: %s", d.LastStatus, d.LastError)
	}
	return d.LastError
}

// deliveryJSON is a delivery as one JSON line.
func deliveryJSON(d *latchkey.Delivery) map[string]any {
	m := map[string]any{"id": d.ID, "msg_id": d.MsgID, "type": d.Type, "webhook_id": d.WebhookID, "recipient": d.Recipient,
		"state": d.State, "attempts": d.Attempts, "created_at": d.CreatedAt.UTC().Format(time.RFC3339),
		"last_error": d.LastError, "last_status": d.LastStatus}
	if d.State == latchkey.DeliveryPending {
		m["next_at"] = d.NextAt.UTC().Format(time.RFC3339)
	}
	if d.DeliveredAt != nil {
		m["delivered_at"] = d.DeliveredAt.UTC().Format(time.RFC3339)
	}
	return m
}
