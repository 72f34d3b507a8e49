package service

import (
	"context"
	"strconv"
	"time"

	"github.com/latchkey/latchkey"
)

// DefaultAuditRetention is how long audit records are kept by default.
const DefaultAuditRetention = 90 * 24 * time.Hour

// auditRecord returns r completed as the record of what p did, now: who
// acted (p nil is the server itself, an Operator the command line, a
// principal without a user someone not signed in) and from where. The
// record goes to the store with the change it records, which writes both
// or neither.
func (s *Service) auditRecord(p *latchkey.Principal, r latchkey.AuditRecord) *latchkey.AuditRecord {
	r.At = s.now()
	switch {
	case p == nil:
		r.Actor = latchkey.ActorSystem
	case p.User != nil && p.User.ID != 0:
		r.Actor = latchkey.ActorUser
		id := p.User.ID
		r.ActorUserID = &id
		if p.Token != nil {
			r.ActorTokenID = p.Token.ID
		}
	case isOperator(p):
		r.Actor = latchkey.ActorOperator
	default:
		r.Actor = latchkey.ActorAnonymous
	}
	if p != nil {
		r.Origin = p.Origin.Clean()
	}
	return &r
}

// recordAudit records what p did that changed nothing: a refused sign-in
// or token. It is recorded even when the request that led to it is gone.
func (s *Service) recordAudit(ctx context.Context, p *latchkey.Principal, r latchkey.AuditRecord) error {
	return s.store.RecordAudit(context.WithoutCancel(ctx), s.auditRecord(p, r))
}

// userRef is a user id for an audit record.
func userRef(id int64) *int64 { return &id }

// Audit lists audit records.
func (s *Service) Audit(ctx context.Context, f latchkey.AuditFilter) ([]*latchkey.AuditRecord, error) {
	return s.store.AuditRecords(ctx, f)
}

// pruneAudit drops records older than the retention, and with them the
// outbox's deliveries made or given up on and the notifications they leave
// behind (PruneOutbox), by the same cutoff.
func (s *Service) pruneAudit(ctx context.Context) {
	if s.cfg.AuditRetention < 0 {
		return
	}
	before := s.now().Add(-s.cfg.AuditRetention)
	n, err := s.store.PruneAudit(ctx, before)
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Error("pruning the audit log", "err", err)
	case n > 0:
		s.log.Info("audit log pruned", "records", n, "older_than", s.cfg.AuditRetention.String())
	}
	n, err = s.store.PruneOutbox(ctx, before)
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Error("pruning the outbox", "err", err)
	case n > 0:
		s.log.Info("outbox pruned", "rows", n, "older_than", s.cfg.AuditRetention.String())
	}
}

// idString is a user id as an audit subject.
func idString(id int64) string { return strconv.FormatInt(id, 10) }
