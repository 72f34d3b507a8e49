// Package notify delivers the outbox: it fans each notification out to the
// owner's mailbox and the webhooks that want it, delivers each at least
// once with exponential backoff for up to a day, and writes the expiry
// reminders. Any number of servers may run it on one database: the store
// hands each delivery to one of them at a time (latchkey.NotificationStore),
// and a reminder is written once per token and threshold.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/mail"
)

// Mailer sends mail (internal/mail).
type Mailer interface {
	Send(ctx context.Context, m mail.Message) error
}

// Sender posts a signed webhook and returns the receiver's status
// (internal/webhook).
type Sender interface {
	Send(ctx context.Context, url string, key []byte, msgID string, ts time.Time, body []byte) (int, error)
}

// Opener opens the sealed secret of webhook id (the server secret's
// sealer).
type Opener func(id string, sealed []byte) ([]byte, error)

// Observer counts deliveries: kind is "mail" or "webhook", outcome
// "delivered", "retry" or "failed".
type Observer interface {
	Delivered(kind, outcome string)
}

// Options configure a Notifier. Store and Server are required.
type Options struct {
	Store latchkey.NotificationStore
	// Mailer sends the owners' mail; nil sends none.
	Mailer Mailer
	// Sender posts webhooks, opening their secrets with Opener.
	Sender Sender
	Opener Opener
	// PublicURL is where people reach the web pages, for the links in
	// mail and bodies; "" for none.
	PublicURL string
	// Reminders are how long before expiry a token's owner is reminded:
	// DefaultReminders if nil; empty (not nil) for none.
	Reminders []time.Duration
	// Server names this server in its claims; each claim adds a number
	// of its own ("#12").
	Server string
	Clock  func() time.Time
	Log    *slog.Logger
	Obs    Observer
	// Every is how often the outbox is read: a second.
	Every time.Duration
	// Claim is how long a claimed delivery is this server's alone: two
	// minutes, well over a delivery's timeout. An attempt is ended a
	// quarter of it before it runs out, however late it began (a busy
	// database can take a while to hand the claim over), so that no
	// other server sends the delivery while this one still does.
	Claim time.Duration
	// Batch is the most notifications fanned out, or deliveries sent
	// (all at once), in one pass: 32.
	Batch int
}

// DefaultReminders are 30, 7 and 1 days.
var DefaultReminders = []time.Duration{30 * 24 * time.Hour, 7 * 24 * time.Hour, 24 * time.Hour}

// ExpiredLookback is how long after its expiry a token is still told of as
// expired: a server started after a long stop does not mail about tokens
// that expired long ago.
const ExpiredLookback = 7 * 24 * time.Hour

// Notifier runs the outbox.
type Notifier struct {
	o         Options
	reminders []time.Duration // ascending
	// slots holds a value for each delivery under way: at most Batch.
	slots chan struct{}
	// running are the deliveries under way, for Run to wait for.
	running sync.WaitGroup
	// claims numbers this server's claims. An attempt is recorded under
	// the claim it was made under, and that only: one recorded late,
	// after this server claimed the delivery again, neither records over
	// the new claim's attempt nor releases the claim while it is sent.
	claims atomic.Uint64
}

// New returns a Notifier.
func New(o Options) *Notifier {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Every <= 0 {
		o.Every = time.Second
	}
	if o.Claim <= 0 {
		o.Claim = 2 * time.Minute
	}
	if o.Batch <= 0 {
		o.Batch = 32
	}
	r := o.Reminders
	if r == nil {
		r = DefaultReminders
	}
	r = slices.Clone(r)
	slices.Sort(r)
	return &Notifier{o: o, reminders: slices.Compact(r), slots: make(chan struct{}, o.Batch)}
}

// Run fans out and starts the deliveries due every Every, and writes
// reminders every minute, until ctx ends; then it waits for the
// deliveries under way. A delivery does not hold up the next pass: a
// receiver that hangs takes one of the Batch slots until its timeout, and
// the others go on. Failures are logged, and tried again.
func (n *Notifier) Run(ctx context.Context) error {
	tick := time.NewTicker(n.o.Every)
	defer tick.Stop()
	defer n.running.Wait()
	var lastRemind time.Time
	for {
		if now := n.o.Clock(); now.Sub(lastRemind) >= time.Minute || now.Before(lastRemind) {
			lastRemind = now
			if _, err := n.Remind(ctx); err != nil && ctx.Err() == nil {
				n.o.Log.Error("writing expiry reminders", "err", err)
			}
		}
		if _, err := n.FanOut(ctx); err != nil && ctx.Err() == nil {
			n.o.Log.Error("fanning out notifications", "err", err)
		}
		if _, _, err := n.start(ctx); err != nil && ctx.Err() == nil {
			n.o.Log.Error("delivering notifications", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// FanOut gives the notifications not yet fanned out their bodies and
// deliveries, and says how many it fanned out.
func (n *Notifier) FanOut(ctx context.Context) (int, error) {
	infos, err := n.o.Store.NewNotifications(ctx, n.o.Batch)
	if err != nil || len(infos) == 0 {
		return 0, err
	}
	var hooks []*latchkey.Webhook
	if n.o.Sender != nil {
		if hooks, err = n.o.Store.Webhooks(ctx); err != nil {
			return 0, err
		}
	}
	done := 0
	for _, info := range infos {
		body, err := Body(info, n.o.PublicURL)
		if err != nil {
			return done, err
		}
		created := n.o.Clock()
		var ds []*latchkey.Delivery
		if n.mails(info) {
			ds = append(ds, &latchkey.Delivery{Recipient: info.Email, CreatedAt: created, NextAt: created})
		}
		for _, w := range hooks {
			// A webhook hears of what happened once it was there.
			if w.Wants(info.Type) && !w.CreatedAt.After(info.At) {
				ds = append(ds, &latchkey.Delivery{WebhookID: w.ID, Recipient: w.URL, CreatedAt: created, NextAt: created})
			}
		}
		ok, err := n.o.Store.FanOut(ctx, info.ID, body, ds)
		if err != nil {
			return done, err
		}
		if ok {
			done++
		}
	}
	return done, nil
}

// mails reports whether info goes to its owner's mailbox.
func (n *Notifier) mails(info *latchkey.NotificationInfo) bool {
	if n.o.Mailer == nil || info.Email == "" || info.UserDisabled {
		return false
	}
	return info.Type.Security() || !slices.Contains(info.MailOff, info.Type)
}

// Deliver claims the deliveries due (as many as there are free slots),
// tries each once, waits for them, and records how each went: delivered,
// due again later, or, a day after it was made, failed. It says how many
// it tried.
func (n *Notifier) Deliver(ctx context.Context) (int, error) {
	c, wait, err := n.start(ctx)
	if err != nil {
		return 0, err
	}
	return c, wait()
}

// start claims the deliveries due, as many as there are free slots, and
// starts each at once. wait waits for them and returns what went wrong
// recording them.
func (n *Notifier) start(ctx context.Context) (int, func() error, error) {
	free := cap(n.slots) - len(n.slots)
	if free <= 0 {
		return 0, func() error { return nil }, nil
	}
	now := n.o.Clock()
	c := claim{by: n.o.Server + "#" + strconv.FormatUint(n.claims.Add(1), 10), until: now.Add(n.o.Claim)}
	ds, err := n.o.Store.ClaimDeliveries(ctx, c.by, now, c.until, free)
	if err != nil {
		return 0, nil, err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ds))
	for i, d := range ds {
		n.slots <- struct{}{} // free: only this goroutine fills slots
		n.running.Add(1)
		wg.Go(func() {
			defer func() { <-n.slots; n.running.Done() }()
			if errs[i] = n.deliver(ctx, d, c); errs[i] != nil {
				n.o.Log.Error("delivering notifications", "err", errs[i])
			}
		})
	}
	return len(ds), func() error { wg.Wait(); return errors.Join(errs...) }, nil
}

// claim is one claim on deliveries: who made it, and until when it holds.
type claim struct {
	by    string
	until time.Time
}

// errClaimEnding ends an attempt whose claim is about to run out.
var errClaimEnding = errors.New("timed out: the delivery's claim was running out")

// deliver tries d once under c and records the attempt. The attempt ends
// a quarter of the claim before c runs out, which leaves time to record
// it: counted from when c was made, not from when the store handed it
// over, which may be seconds later. When that time has passed already,
// it neither tries nor records: c is left to run out, and the delivery
// is sent again then.
func (n *Notifier) deliver(ctx context.Context, d *latchkey.Delivery, c claim) error {
	kind := "webhook"
	if d.WebhookID == "" {
		kind = "mail"
	}
	// The deadline is on the Notifier's clock; a context's, on the
	// machine's: what is left is the same on both.
	left := c.until.Add(-n.o.Claim / 4).Sub(n.o.Clock())
	if left <= 0 {
		n.o.Log.Warn("a delivery's claim was nearly over before it could be tried: it is sent again once the claim runs out",
			"delivery_id", d.ID, "kind", kind, "webhook_id", d.WebhookID, "type", d.Type)
		return nil
	}
	sctx, cancel := context.WithTimeoutCause(ctx, left, errClaimEnding)
	status, err := n.send(sctx, d)
	if err != nil && ctx.Err() == nil && context.Cause(sctx) == errClaimEnding {
		err = errClaimEnding
	}
	cancel()
	at := n.o.Clock()
	a := latchkey.Attempt{DeliveryID: d.ID, Server: c.by, At: at, Status: status}
	outcome := "delivered"
	if err == nil && d.Attempts > 0 {
		n.o.Log.Info("notification delivered after failed attempts", "delivery_id", d.ID, "kind", kind,
			"webhook_id", d.WebhookID, "type", d.Type, "attempts", d.Attempts+1)
	}
	if err != nil {
		permanent := Permanent(status, err)
		// What a receiver or mail server said is theirs: any bytes, any
		// length. It is kept as text, in a line, of bounded length.
		err = errors.New(latchkey.CleanText(err.Error(), MaxErrorLength))
		a.Err = err.Error()
		if next := at.Add(Backoff(d.Attempts + 1)); !permanent && next.Before(d.CreatedAt.Add(latchkey.MaxDeliveryAge)) {
			a.NextAt, outcome = &next, "retry"
			n.o.Log.Warn("notification not delivered; will try again", "delivery_id", d.ID, "kind", kind,
				"webhook_id", d.WebhookID, "type", d.Type, "attempt", d.Attempts+1, "next", next, "err", err)
		} else {
			outcome = "failed"
			why := "notification not delivered for a day; given up"
			if permanent {
				why = "notification refused for good; given up"
			}
			n.o.Log.Error(why, "delivery_id", d.ID, "kind", kind,
				"webhook_id", d.WebhookID, "type", d.Type, "attempts", d.Attempts+1, "err", err)
		}
	}
	// Recorded even when ctx ends: the receiver may have it.
	held, rerr := n.o.Store.RecordAttempt(context.WithoutCancel(ctx), a)
	if rerr != nil {
		return fmt.Errorf("recording delivery %d: %w", d.ID, rerr)
	}
	if !held {
		n.o.Log.Warn("a delivery's claim ran out before its attempt was recorded: it may be sent again", "delivery_id", d.ID)
	}
	if n.o.Obs != nil {
		n.o.Obs.Delivered(kind, outcome)
	}
	return nil
}

// send makes one attempt at d.
func (n *Notifier) send(ctx context.Context, d *latchkey.Delivery) (int, error) {
	if d.WebhookID == "" {
		if n.o.Mailer == nil {
			return 0, errors.New("no mail server configured (--smtp-url)")
		}
		m, err := Mail(d, n.o.PublicURL)
		if err != nil {
			return 0, err
		}
		return 0, n.o.Mailer.Send(ctx, m)
	}
	if n.o.Sender == nil || n.o.Opener == nil {
		return 0, errors.New("webhooks are not configured on this server")
	}
	key, err := n.o.Opener(d.WebhookID, d.Secret)
	if err != nil {
		return 0, fmt.Errorf("opening the webhook's secret: %w", err)
	}
	return n.o.Sender.Send(ctx, d.Recipient, key, d.MsgID, n.o.Clock(), d.Body)
}

// Permanent reports whether a failed attempt will fail again however often
// it is made: a webhook's receiver answered 410 Gone (as Standard Webhooks
// has receivers say they want no more), or a mail server refused with a
// code of 500 and up (no such mailbox). Such a delivery is failed at once.
func Permanent(status int, err error) bool {
	return status == http.StatusGone || mail.Permanent(err)
}

// MaxErrorLength is the most bytes of an attempt's error kept and logged.
const MaxErrorLength = 500

// Backoff is how long after its attempt-th failed attempt a delivery is
// tried again: 5 s, doubling, at most an hour.
func Backoff(attempt int) time.Duration {
	d := 5 * time.Second
	for i := 1; i < attempt && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// Remind writes, for each live token, a reminder at the smallest
// threshold it has come within (token.expiring), and one once it has
// expired (token.expired): each once, whatever the servers and restarts,
// and only for a token that lived longer than the threshold, so that an
// hour's token is not reminded a day before. It says how many it wrote.
func (n *Notifier) Remind(ctx context.Context) (int, error) {
	if len(n.reminders) == 0 {
		return 0, nil
	}
	now := n.o.Clock()
	written := 0
	var lower time.Duration
	for _, t := range n.reminders {
		label := Threshold(t)
		c, err := n.remind(ctx, now.Add(lower), now.Add(t), t, func(tok *latchkey.Token) *latchkey.Notification {
			return &latchkey.Notification{Type: latchkey.NoteTokenExpiring, Detail: label,
				Dedupe: string(latchkey.NoteTokenExpiring) + ":" + tok.ID + ":" + label}
		})
		written += c
		if err != nil {
			return written, err
		}
		lower = t
	}
	c, err := n.remind(ctx, now.Add(-ExpiredLookback), now, n.reminders[0], func(tok *latchkey.Token) *latchkey.Notification {
		return &latchkey.Notification{Type: latchkey.NoteTokenExpired, Dedupe: string(latchkey.NoteTokenExpired) + ":" + tok.ID}
	})
	return written + c, err
}

// remind writes make's notification for each live token expiring in
// (from, to] that lived longer than minLifetime, a page at a time.
func (n *Notifier) remind(ctx context.Context, from, to time.Time, minLifetime time.Duration, make func(*latchkey.Token) *latchkey.Notification) (int, error) {
	written := 0
	afterID := ""
	for {
		ts, err := n.o.Store.ExpiringTokens(ctx, from, afterID, to, minLifetime, n.o.Batch*8)
		if err != nil {
			return written, err
		}
		for _, t := range ts {
			note := make(t)
			note.At, note.UserID, note.TokenID, note.Actor = n.o.Clock(), t.UserID, t.ID, latchkey.ActorSystem
			ok, err := n.o.Store.AddNotification(ctx, note)
			if err != nil {
				return written, err
			}
			if ok {
				written++
			}
		}
		if len(ts) < n.o.Batch*8 {
			return written, nil
		}
		last := ts[len(ts)-1]
		from, afterID = *last.ExpiresAt, last.ID
	}
}

// Threshold names a reminder threshold as --expiry-reminders takes it:
// "7d", "12h", "1d12h", "90s".
func Threshold(d time.Duration) string {
	var b strings.Builder
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.unit; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10) + u.name)
			d -= n * u.unit
		}
	}
	if d > 0 || b.Len() == 0 {
		b.WriteString(d.String())
	}
	return b.String()
}
