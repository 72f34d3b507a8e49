package service

import (
	"context"
	"strconv"
	"time"

	"github.com/latchkey/latchkey"
)

// DefaultAuditRetention is how long audit records are kept by default.
const DefaultAuditRetention = 90 * 24 * time.Hour

// audit records what p did. Recording happens after the change committed;
// a failure is logged, and does not undo the change.
func (s *Service) audit(ctx context.Context, p *latchkey.Principal, r latchkey.AuditRecord) {
	r.At = s.now()
	if p != nil {
		if p.User != nil && p.User.ID != 0 {
			id := p.User.ID
			r.ActorUserID = &id
		}
		if p.Token != nil {
			r.ActorTokenID = p.Token.ID
		}
		r.Origin = p.Origin
	}
	if err := s.store.RecordAudit(context.WithoutCancel(ctx), &r); err != nil {
		s.log.Error("recording an audit record", "action", r.Action, "err", err)
	}
}

// userRef is a user id for an audit record.
func userRef(id int64) *int64 { return &id }

// Audit lists audit records.
func (s *Service) Audit(ctx context.Context, f latchkey.AuditFilter) ([]*latchkey.AuditRecord, error) {
	return s.store.AuditRecords(ctx, f)
}

// pruneAudit drops records older than the retention.
func (s *Service) pruneAudit(ctx context.Context) {
	if s.cfg.AuditRetention < 0 {
		return
	}
	n, err := s.store.PruneAudit(ctx, s.now().Add(-s.cfg.AuditRetention))
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Error("pruning the audit log", "err", err)
	case n > 0:
		s.log.Info("audit log pruned", "records", n, "older_than", s.cfg.AuditRetention.String())
	}
}

// idString is a user id as an audit subject.
func idString(id int64) string { return strconv.FormatInt(id, 10) }
