package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/password"
)

// DefaultSessionLifetime is how long a web sign-in lasts by default.
const DefaultSessionLifetime = 12 * time.Hour

// MsgBadCredentials is SignIn's one answer to every refusal, Laravel's
// sentence: it does not tell an unknown user from a wrong password.
const MsgBadCredentials = "These credentials do not match our records."

// Limits on what SignIn and SessionUser read. A longer password is
// refused without hashing it in full; a longer cookie is no secret of ours.
const (
	MaxPasswordLength      = 1024 // bytes
	maxLoginLength         = 512  // bytes of a username or email
	maxSessionSecretLength = 256  // bytes
)

// The reasons a sign-in is refused, as the audit log records them.
const (
	refusedUnknownUser   = "unknown user"
	refusedWrongPassword = "wrong password"
	refusedInactiveUser  = "inactive user" // disabled or deleted
	refusedNoPassword    = "no password"
)

var errBadCredentials = &latchkey.Error{Code: latchkey.EUNAUTHENTICATED, Message: MsgBadCredentials}

// SignIn checks a username or email and a password and starts a web
// session for the user. It returns the user and the session's secret, the
// cookie's value: the only time it is seen, since only its hash is
// stored. Every refusal (no such user, a deleted or inactive one, one
// without a password, a wrong password) is the same EUNAUTHENTICATED
// error with MsgBadCredentials, and takes as long: one argon2id hash
// whatever the case. origin is recorded in the audit log either way.
func (s *Service) SignIn(ctx context.Context, login, pw string, origin latchkey.Origin) (*latchkey.User, string, error) {
	login = strings.TrimSpace(login)
	origin = origin.Clean()
	var u *latchkey.User
	// A login that is not text (NUL, invalid UTF-8) names no user: no
	// username or email can hold it.
	if login != "" && len(login) <= maxLoginLength && latchkey.ValidText(login) {
		var err error
		if u, err = s.store.UserByLogin(ctx, login); err != nil {
			if latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
				return nil, "", err
			}
			u = nil
		}
	}
	why, err := s.checkSignInInTurn(ctx, u, pw)
	if err != nil {
		return nil, "", err
	}
	if why != "" {
		r := latchkey.AuditRecord{Action: latchkey.AuditSignInRefused, Detail: why}
		userID := int64(0)
		if u != nil {
			userID = u.ID
			r.SubjectUserID, r.SubjectID = userRef(u.ID), idString(u.ID)
		}
		// A refusal leaves a trace or is not answered as one: without it,
		// guessing passwords would go unseen.
		if err := s.recordAudit(ctx, &latchkey.Principal{Origin: origin}, r); err != nil {
			return nil, "", err
		}
		s.obs.SignedIn(SignInRefused) // the reason stays in the audit log: a metric is public
		s.log.Info("sign-in refused", "reason", why, "user_id", userID)
		return nil, "", errBadCredentials
	}
	secret, err := s.newSecret()
	if err != nil {
		return nil, "", fmt.Errorf("session secret: %w", err)
	}
	now := s.now()
	sess := &latchkey.Session{
		ID:        hexSHA256(secret),
		UserID:    u.ID,
		CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.SessionLifetime),
		Origin:    origin,
	}
	rec := s.auditRecord(&latchkey.Principal{User: u, Origin: origin}, latchkey.AuditRecord{
		Action: latchkey.AuditSignInOK, SubjectUserID: userRef(u.ID), SubjectID: idString(u.ID)})
	if err := s.store.CreateSession(ctx, sess, rec); err != nil {
		return nil, "", err
	}
	s.obs.SignedIn(SignInAccepted)
	// Logged by the handler, with the request's id.
	return u, secret, nil
}

// Now is the service's clock: what the HTTP layer times sign-in budgets
// by, so that tests move one clock.
func (s *Service) Now() time.Time { return s.now() }

// SignInKey names the budget of failed sign-ins that login draws on: the
// name as typed, trimmed and folded, hashed, so that a key is as small for
// a name of 60 KiB as for one of five letters (a limiter holds 100,000
// keys). It does not depend on whether any user goes by that name, so the
// throttle tells nothing about which accounts exist; a user's username and
// email are two names, two budgets.
func SignInKey(login string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(login))))
	return "login:" + hex.EncodeToString(sum[:])
}

// errBusy: more passwords are being checked at once than the server
// allows, and none finished in time.
var errBusy = &latchkey.Error{Code: latchkey.EUNAVAILABLE, Message: "Too many sign-ins at once; try again in a few seconds."}

// passwordCheckWait is the longest a sign-in waits for its turn to check a
// password.
const passwordCheckWait = 10 * time.Second

// checkTurn waits for a turn to check a password: argon2id takes 64 MiB
// a check at the default cost, so only so many run at once, whoever asks.
// The returned function ends the turn.
func (s *Service) checkTurn(ctx context.Context) (func(), error) {
	t := time.NewTimer(passwordCheckWait)
	defer t.Stop()
	select {
	case s.passwordChecks <- struct{}{}:
		return func() { <-s.passwordChecks }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, errBusy
	}
}

// The outcomes of a sign-in, as an Observer hears them.
const (
	SignInAccepted = "accepted"
	SignInRefused  = "refused"
)

// checkSignInInTurn is checkSignIn when its turn comes.
func (s *Service) checkSignInInTurn(ctx context.Context, u *latchkey.User, pw string) (string, error) {
	done, err := s.checkTurn(ctx)
	if err != nil {
		return "", err
	}
	defer done()
	return s.checkSignIn(u, pw), nil
}

// checkSignIn says why u (nil: no such user) may not sign in with pw, or
// "" when they may. It always spends one argon2id hash, so that the
// reason cannot be told by the time it takes.
func (s *Service) checkSignIn(u *latchkey.User, pw string) string {
	if u == nil || u.PasswordHash == "" || len(pw) > MaxPasswordLength {
		s.spendPasswordCheck(pw[:min(len(pw), MaxPasswordLength)])
		switch {
		case u == nil:
			return refusedUnknownUser
		case !u.Active():
			return refusedInactiveUser
		case u.PasswordHash == "":
			return refusedNoPassword
		}
		return refusedWrongPassword
	}
	err := s.cfg.Hasher.Check(u.PasswordHash, pw)
	switch {
	case !u.Active():
		return refusedInactiveUser
	case errors.Is(err, password.ErrMismatch):
		return refusedWrongPassword
	case err != nil:
		s.log.Error("checking a password: the stored hash is unreadable", "user_id", u.ID, "err", err)
		return refusedWrongPassword
	}
	return ""
}

// spendPasswordCheck costs what checking pw against a stored hash costs,
// and checks nothing: it hashes pw at the service's cost, the cost every
// stored hash was made at. (Checking against password.Dummy() would cost
// twice that: Dummy hashes first, at password.Default.)
func (s *Service) spendPasswordCheck(pw string) {
	if _, err := s.cfg.Hasher.Hash(pw); err != nil {
		s.log.Error("hashing a password to spend the time of a check", "err", err)
	}
}

// Hasher makes and checks password hashes. Each call costs one hash at the
// hasher's cost: the sign-in's time equalisation counts on it.
type Hasher interface {
	// Hash returns pw's encoded hash, with a new salt.
	Hash(pw string) (string, error)
	// Check returns nil when pw matches hash, password.ErrMismatch when it
	// does not, and another error when hash cannot be read.
	Check(hash, pw string) error
}

// argon2id is the Hasher of internal/password at a cost.
type argon2id struct{ p password.Params }

func (a argon2id) Hash(pw string) (string, error) { return password.Hash(pw, a.p) }
func (a argon2id) Check(hash, pw string) error    { return password.Check(hash, pw) }

// SessionUser returns the user whose session secret is the cookie's
// value. EUNAUTHENTICATED when there is no such session, it has expired,
// or its user is gone, disabled or deleted; such a session is deleted, so
// that enabling the user again does not bring it back.
func (s *Service) SessionUser(ctx context.Context, secret string) (*latchkey.User, error) {
	if secret == "" || len(secret) > maxSessionSecretLength {
		return nil, errUnauthenticated
	}
	id := hexSHA256(secret)
	sess, err := s.store.Session(ctx, id)
	if err != nil {
		if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
			return nil, errUnauthenticated
		}
		return nil, err
	}
	if !s.now().Before(sess.ExpiresAt) {
		s.endSession(ctx, sess, "expired")
		return nil, errUnauthenticated
	}
	u, err := s.store.User(ctx, sess.UserID)
	if err != nil && latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		return nil, err
	}
	if err != nil || !u.Active() {
		s.endSession(ctx, sess, "user inactive")
		return nil, errUnauthenticated
	}
	return u, nil
}

// endSession deletes a session found unusable. A failure is logged: the
// caller is refused either way, and pruning deletes it later.
func (s *Service) endSession(ctx context.Context, sess *latchkey.Session, why string) {
	if err := s.store.DeleteSession(context.WithoutCancel(ctx), sess.ID); err != nil {
		s.log.Error("deleting a session", "user_id", sess.UserID, "why", why, "err", err)
	}
}

// SignOut ends the session whose secret is the cookie's value. An unknown
// or expired session is not an error.
func (s *Service) SignOut(ctx context.Context, secret string) error {
	if secret == "" || len(secret) > maxSessionSecretLength {
		return nil
	}
	return s.store.DeleteSession(ctx, hexSHA256(secret))
}

// pruneExpired deletes the sessions and the authorization server's grants
// (codes, refresh tokens) that have expired, and the self-registered
// clients left unused (pruneRegistrations).
func (s *Service) pruneExpired(ctx context.Context) {
	now := s.now()
	n, err := s.store.PruneSessions(ctx, now)
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Error("pruning expired sessions", "err", err)
	case n > 0:
		s.log.Info("expired sessions pruned", "sessions", n)
	}
	n, err = s.store.PruneGrants(ctx, now)
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Error("pruning expired grants", "err", err)
	case n > 0:
		s.log.Info("expired grants pruned", "grants", n)
	}
	s.pruneRegistrations(ctx)
}
