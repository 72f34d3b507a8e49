package service

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/latchkey/latchkey"
)

// MaxGrace is the longest grace period of a rotation: a week.
const MaxGrace = 7 * 24 * time.Hour

// The sentences of rotation's refusals.
const (
	MsgGraceInvalid = "The Grace Seconds field must be an integer from 0 to 604800."
	MsgRotatePAT    = "Only personal access tokens can be rotated: an OAuth application refreshes its own."
	// MsgExpiresSelf and MsgAllowedIPsSelf refuse a token rotating
	// itself into more than it was made.
	MsgExpiresSelf    = "A token rotating itself cannot live longer than it was made to."
	MsgAllowedIPsSelf = "A token rotating itself cannot reach more networks than it does."
	// MsgReuseDetected answers the rotation of a token whose successor
	// has been used.
	MsgReuseDetected = "This token was rotated already and its successor has been used, so someone else may hold one of their secrets: every token of the rotation is revoked."
)

// RotateRequest asks for a rotation. A decoder fills Invalid with the
// fields whose JSON type or form was wrong.
type RotateRequest struct {
	ExpiresAt *time.Time // nil: the old token's lifetime again, from now
	Grace     time.Duration
	// AllowedIPs, when not nil, are the successor's networks; nil keeps
	// the old token's.
	AllowedIPs *[]netip.Prefix
	Invalid    latchkey.FieldErrors
}

// RotateToken replaces owner's token id with a new one: the same name,
// scopes, client and parent, a new id and secret, and RotatedFrom the old
// id. The old token keeps authenticating for req.Grace, then is revoked
// with reason rotated (see Sweep); the tokens it made pass to the new one.
// Owner has cleared p to create tokens for owner; a token's bearer must
// also hold the scopes it would hand on.
//
// Rotating a token rotated already either answers again, with a new
// successor, when the last one was never used (its answer was lost), or,
// when it was, revokes the whole rotation chain and returns ECONFLICT
// (MsgReuseDetected): someone else holds a secret of it.
//
// ENOTFOUND when owner has no such token; ECONFLICT when it is not a
// personal access token, is revoked or has expired; EINVALID for a bad
// request.
func (s *Service) RotateToken(ctx context.Context, p *latchkey.Principal, owner *latchkey.User, id string, req RotateRequest) (*latchkey.Token, string, error) {
	// The contract's order: the input's form (422), then the token in
	// the path (404), then what the input means beside it (422).
	if err := req.Invalid.Err(); err != nil {
		return nil, "", err
	}
	old, err := s.Token(ctx, owner, id)
	if err != nil {
		return nil, "", err
	}
	if old.Client == nil || !old.Client.PersonalAccessClient {
		return nil, "", latchkey.Errorf(latchkey.ECONFLICT, MsgRotatePAT)
	}
	now := s.now()
	// The lifetime to give again: the successor's, when this is a
	// rotation asked again (the old token's expiry is its grace now).
	base := old
	if old.Rotated() {
		// This server's uses of the successor not yet written count.
		if err := s.FlushUsage(ctx); err != nil {
			return nil, "", err
		}
		if prev, err := s.store.Token(ctx, old.RotatedTo); err == nil {
			base = prev
		}
	}
	// What bounds the successor. A token rotating itself stays where it
	// was: its parent's child, no longer-lived than it was made, no
	// wider-reaching. Another token's bearer mints a credential, as a
	// create does: the successor is that token's child, within its
	// expiry and networks, and ends with it (an OAuth application's with
	// its authorization). Someone signed in, or the operator, keeps the
	// old token's parent.
	self := p.Token != nil && p.Token.ID == old.ID
	var parent *latchkey.Token
	switch {
	case p.Token != nil && !self:
		parent = p.Token
	case old.ParentID != "":
		if parent, err = s.store.Token(ctx, old.ParentID); err != nil {
			return nil, "", notFound(err)
		}
	}
	name := old.Name
	create := TokenRequest{Name: &name, Scopes: old.Scopes, ExpiresAt: req.ExpiresAt, AllowedIPs: old.AllowedIPs}
	if req.AllowedIPs != nil && len(*req.AllowedIPs) > 0 {
		// An empty list keeps the old token's networks.
		create.AllowedIPs = *req.AllowedIPs
	}
	var lifetime time.Duration
	if base.ExpiresAt != nil {
		lifetime = base.ExpiresAt.Sub(base.CreatedAt)
	}
	if req.ExpiresAt == nil && lifetime > 0 {
		limit := s.cfg.MaxLifetime.After(now)
		at := now.Add(lifetime)
		if at.After(limit) {
			at = limit
		}
		if parent != nil && parent.ExpiresAt != nil && at.After(*parent.ExpiresAt) {
			at = *parent.ExpiresAt
		}
		create.ExpiresAt = &at
	}
	if req.Grace < 0 || req.Grace > MaxGrace {
		create.Invalid.Add("grace_seconds", MsgGraceInvalid)
	}
	if self && req.ExpiresAt != nil && lifetime > 0 && req.ExpiresAt.After(now.Add(lifetime)) {
		create.Invalid.Add("expires_at", fmt.Sprintf(msgExpiresMax, now.Add(lifetime).UTC().Format(dateLayout)))
		create.Invalid.Add("expires_at", MsgExpiresSelf)
	}
	if self && !latchkey.PrefixesWithin(create.AllowedIPs, old.AllowedIPs) {
		create.Invalid.Add("allowed_ips", MsgAllowedIPsSelf)
	}
	_, scopes, expires, allowed, err := s.validate(create, now, parent)
	if err != nil {
		return nil, "", err
	}
	if err := p.AuthorizeGrant(scopes); err != nil {
		return nil, "", err
	}
	t := &latchkey.Token{
		UserID:      owner.ID,
		ClientID:    old.ClientID,
		Name:        name,
		Scopes:      scopes,
		CreatedAt:   now,
		UpdatedAt:   now,
		ExpiresAt:   &expires,
		RotatedFrom: old.ID,
		AllowedIPs:  allowed,
	}
	if parent != nil {
		t.ParentID = parent.ID
	}
	signed, err := s.sign(t)
	if err != nil {
		return nil, "", err
	}
	detail := "successor " + t.ID + "; grace " + req.Grace.String()
	rec := s.auditRecord(p, latchkey.AuditRecord{Action: latchkey.AuditTokenRotated, Notify: latchkey.NoteTokenRotated, SubjectUserID: userRef(owner.ID), SubjectID: old.ID,
		Detail: detail})
	out, err := s.store.RotateToken(ctx, latchkey.Rotation{Old: old.ID, Successor: t, At: now, GraceUntil: now.Add(req.Grace), DetectReuse: self}, rec)
	if err != nil {
		return nil, "", notFound(err)
	}
	changed := make([]latchkey.Event, 0, len(out.Changed))
	for _, c := range out.Changed {
		// Dropped from every cache: its expiry or parent changed.
		changed = append(changed, latchkey.Event{Kind: latchkey.EventTokenRevoked, ID: c.ID, UserID: c.UserID})
	}
	reason := string(latchkey.ReasonRotated)
	if out.ReuseDetected {
		reason = string(latchkey.ReasonReuseDetected)
	}
	s.revoked(ctx, out.Revoked, reason, changed...)
	if out.ReuseDetected {
		s.log.Warn("token reuse detected: rotation chain revoked", "token_id", old.ID, "user_id", owner.ID, "revoked", len(out.Revoked))
		return nil, "", latchkey.Errorf(latchkey.ECONFLICT, MsgReuseDetected)
	}
	t.Client = old.Client
	s.apply(ctx, latchkey.Event{Kind: latchkey.EventTokenCreated, ID: strconv.FormatInt(owner.ID, 10)})
	s.obs.TokenCreated()
	s.log.Info("token rotated", "token_id", old.ID, "successor_id", t.ID, "user_id", owner.ID, "by_user_id", p.User.ID, "grace", req.Grace)
	return t, signed, nil
}

// Sweep revokes the rotated tokens whose grace period is over, with
// reason rotated, and, with IdleExpiry, the tokens unused that long, with
// reason idle. Run calls it every minute. Many servers may sweep at once:
// a token is revoked, and recorded, once, and the idle sweep runs on one
// at a time.
func (s *Service) Sweep(ctx context.Context) error {
	now := s.now()
	rec := s.auditRecord(nil, latchkey.AuditRecord{Action: latchkey.AuditTokenRevoked, Detail: string(latchkey.ReasonRotated)})
	ts, err := s.store.RevokeRotated(ctx, now, rec)
	if err != nil {
		return err
	}
	s.revoked(ctx, ts, string(latchkey.ReasonRotated))
	if s.cfg.IdleExpiry <= 0 {
		return nil
	}
	// This server's uses count: they are written first. Another
	// server's, not yet written, are at most UsageFlush old: the sweep
	// leaves a token that long more, though it stopped authenticating.
	if err := s.FlushUsage(ctx); err != nil {
		return err
	}
	rec = s.auditRecord(nil, latchkey.AuditRecord{Action: latchkey.AuditTokenRevoked, Notify: latchkey.NoteTokenRevoked, Detail: string(latchkey.ReasonIdle)})
	ts, err = s.store.RevokeIdle(ctx, now.Add(-s.cfg.IdleExpiry-s.cfg.UsageFlush), now, rec)
	if err != nil {
		return err
	}
	s.revoked(ctx, ts, string(latchkey.ReasonIdle))
	return nil
}

// reasonFor is why p revoking a token of owner's revokes it: the owner
// did, or someone else allowed to.
func reasonFor(p *latchkey.Principal, owner *latchkey.User) latchkey.RevokeReason {
	if p != nil && p.User != nil && p.User.ID == owner.ID {
		return latchkey.ReasonOwner
	}
	return latchkey.ReasonAdmin
}
