package service

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/webhook"
)

// NewWebhook is what an operator registers.
type NewWebhook struct {
	URL    string
	Events []latchkey.NotificationType // none: every type
	// AllowPrivate lets URL name a loopback, private or link-local
	// address (--webhook-allow-private).
	AllowPrivate bool
}

// CreateWebhook registers an endpoint for notifications, and returns it
// with its signing secret ("whsec_…"), which is shown this once: the
// database keeps it sealed with the server secret.
func (s *Service) CreateWebhook(ctx context.Context, n NewWebhook) (*latchkey.Webhook, string, error) {
	var fe latchkey.FieldErrors
	u := strings.TrimSpace(n.URL)
	if err := webhook.CheckURL(u, n.AllowPrivate); err != nil {
		fe.Add("url", err.Error())
	}
	var events []latchkey.NotificationType
	for _, e := range n.Events {
		switch {
		case !e.Valid():
			fe.Add("events", fmt.Sprintf("Unknown event %q: want one of %s.", e, latchkey.NotificationTypeNames()))
		case !slices.Contains(events, e):
			events = append(events, e)
		}
	}
	if err := fe.Err(); err != nil {
		return nil, "", err
	}
	id := latchkey.NewWebhookID()
	secret, key := webhook.NewSecret()
	sealed, err := s.sealer.Seal(id, key)
	if err != nil {
		return nil, "", err
	}
	w := &latchkey.Webhook{ID: id, URL: u, Events: events, Secret: sealed, CreatedAt: s.now()}
	rec := s.auditRecord(Operator(), latchkey.AuditRecord{Action: latchkey.AuditWebhookCreated, SubjectID: id, Detail: u})
	if err := s.store.CreateWebhook(ctx, w, rec); err != nil {
		return nil, "", err
	}
	s.log.Info("webhook registered", "webhook_id", id, "events", events)
	return w, secret, nil
}

// Webhooks lists the registered webhooks.
func (s *Service) Webhooks(ctx context.Context) ([]*latchkey.Webhook, error) {
	return s.store.Webhooks(ctx)
}

// DeleteWebhook deletes a webhook: what it has not been sent yet never
// will be. ENOTFOUND when there is none.
func (s *Service) DeleteWebhook(ctx context.Context, id string) error {
	rec := s.auditRecord(Operator(), latchkey.AuditRecord{Action: latchkey.AuditWebhookDeleted, SubjectID: id})
	if err := s.store.DeleteWebhook(ctx, id, rec); err != nil {
		if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
			return latchkey.Errorf(latchkey.ENOTFOUND, "no webhook %s", id)
		}
		return err
	}
	s.log.Info("webhook deleted", "webhook_id", id)
	return nil
}

// Deliveries lists the newest deliveries: of webhook id, of mail for
// "mail", of everything for "".
func (s *Service) Deliveries(ctx context.Context, id string, limit int) ([]*latchkey.Delivery, error) {
	return s.store.Deliveries(ctx, id, limit)
}

// OpenWebhookSecret opens the sealed secret of webhook id, to sign with.
func (s *Service) OpenWebhookSecret(id string, sealed []byte) ([]byte, error) {
	return s.sealer.Open(id, sealed)
}

// MailOff returns the kinds of mail p's user chose not to get.
func (s *Service) MailOff(ctx context.Context, p *latchkey.Principal) ([]latchkey.NotificationType, error) {
	return s.store.MailOff(ctx, p.User.ID)
}

// SetMailOff records the kinds of mail p's user chose not to get. The
// security notices (latchkey.NotificationType.Security) are sent whatever
// they choose, so they cannot be turned off.
func (s *Service) SetMailOff(ctx context.Context, p *latchkey.Principal, off []latchkey.NotificationType) error {
	var keep []latchkey.NotificationType
	for _, t := range off {
		if !t.Valid() {
			return latchkey.Errorf(latchkey.EINVALID, "unknown kind of mail %q", t)
		}
		if !t.Security() && !slices.Contains(keep, t) {
			keep = append(keep, t)
		}
	}
	return s.store.SetMailOff(ctx, p.User.ID, keep)
}

// ServerName names this server for people: host and process.
func (s *Service) ServerName() string { return s.cfg.ServerName }
