package service

import (
	"context"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/password"
)

// Operator returns the principal of someone at the command line: it may
// do anything, and no token scopes limit it. Each call returns a new
// value, so no caller can change what the next one gets. Its user is the
// only one without an id: it is in no database (see isOperator).
func Operator() *latchkey.Principal {
	return &latchkey.Principal{User: &latchkey.User{Admin: true, Status: latchkey.StatusActive}}
}

// isOperator reports whether p is an Operator: a user, no token, and no
// id, which every user in the database has.
func isOperator(p *latchkey.Principal) bool {
	return p.User != nil && p.User.ID == 0 && p.Token == nil
}

var usernameForm = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,254}$`)

// NewUser asks for a user. Password "" makes a user who has tokens but
// cannot sign in.
type NewUser struct {
	Username    string
	Email       string
	FirstName   string
	LastName    string
	Admin       bool
	Inactive    bool
	Permissions []string
	Password    string
}

// checkUserFields validates the fields a create or update sets. A new
// password is checked against password.Validate, with the account's
// username and email (as they will be) as the words it must not be.
// MaxEmailLength is the longest email address: what SMTP carries.
const MaxEmailLength = 254

func checkUserFields(username, email, first, last *string, perms *[]string, pw *string, account ...string) error {
	var fe latchkey.FieldErrors
	if username != nil && !usernameForm.MatchString(*username) {
		fe.Add("username", "The Username field must be 1 to 255 letters, digits and . _ @ + -, starting with a letter or digit.")
	}
	if email != nil {
		switch a, err := mail.ParseAddress(*email); {
		case err != nil || a.Address != *email || a.Name != "" || !latchkey.ValidText(*email):
			fe.Add("email", "The Email field must be a valid email address.")
		case len(*email) > MaxEmailLength:
			// Longer than SMTP carries (RFC 5321 §4.5.3.1.3): no mail
			// would ever reach it.
			fe.Add("email", fmt.Sprintf("The Email field must not be greater than %d characters.", MaxEmailLength))
		case strings.ContainsFunc(*email, func(r rune) bool { return unicode.Is(unicode.Cf, r) }):
			// Invisible and direction-changing characters (U+202E) make
			// an address read as another.
			fe.Add("email", "The Email field must be a valid email address, without invisible or direction-changing characters.")
		}
	}
	for field, v := range map[string]*string{"firstname": first, "lastname": last} {
		switch {
		case v == nil:
		case !latchkey.ValidText(*v):
			fe.Add(field, "The field must be valid UTF-8 text without control or formatting characters.")
		case utf8.RuneCountInString(*v) > 255:
			fe.Add(field, "The field must not be greater than 255 characters.")
		}
	}
	if perms != nil {
		for _, p := range *perms {
			if !slices.Contains(latchkey.Permissions, p) {
				fe.Add("permissions", "The selected Permissions is invalid: "+strings.Join(latchkey.Permissions, ", ")+" are known.")
				break
			}
		}
	}
	if pw != nil && *pw != "" {
		for _, why := range password.Validate(*pw, account...) {
			fe.Add("password", why)
		}
	}
	return fe.Err()
}

// normalizePermissions sorts perms and drops duplicates.
func normalizePermissions(perms []string) []string {
	out := slices.Clone(perms)
	slices.Sort(out)
	return slices.Compact(out)
}

// CreateUser validates and stores a new user. ECONFLICT when the username
// or email is taken.
func (s *Service) CreateUser(ctx context.Context, n NewUser) (*latchkey.User, error) {
	n.Username, n.Email = strings.TrimSpace(n.Username), strings.TrimSpace(n.Email)
	if err := checkUserFields(&n.Username, &n.Email, &n.FirstName, &n.LastName, &n.Permissions, &n.Password, n.Username, n.Email); err != nil {
		return nil, err
	}
	now := s.now()
	u := &latchkey.User{
		Username:    n.Username,
		Email:       n.Email,
		FirstName:   n.FirstName,
		LastName:    n.LastName,
		Status:      latchkey.StatusActive,
		Admin:       n.Admin,
		Permissions: normalizePermissions(n.Permissions),
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	if n.Inactive {
		u.Status = latchkey.StatusInactive
	}
	if n.Password != "" {
		h, err := s.cfg.Hasher.Hash(n.Password)
		if err != nil {
			return nil, err
		}
		u.PasswordHash = h
	}
	// The store sets the record's subject to the new user's id.
	if err := s.store.CreateUser(ctx, u, s.auditRecord(Operator(), latchkey.AuditRecord{Action: latchkey.AuditUserCreated, Detail: u.Username})); err != nil {
		return nil, err
	}
	s.log.Info("user created", "user_id", u.ID, "username", u.Username)
	return u, nil
}

// UserChange asks to change a user; nil fields stay as they are.
type UserChange struct {
	latchkey.UserUpdate
	Password *string // "" removes the password
}

// UpdateUser validates and applies a change to a user that is not deleted.
func (s *Service) UpdateUser(ctx context.Context, id int64, c UserChange) (*latchkey.User, error) {
	upd := c.UserUpdate
	var account []string
	if c.Password != nil && *c.Password != "" {
		// The new password must not be the account's name, as it is or
		// as the change makes it.
		u, err := s.store.User(ctx, id)
		if err != nil {
			return nil, err
		}
		account = []string{u.Username, u.Email}
		if upd.Username != nil {
			account = append(account, *upd.Username)
		}
		if upd.Email != nil {
			account = append(account, *upd.Email)
		}
	}
	if err := checkUserFields(upd.Username, upd.Email, upd.FirstName, upd.LastName, upd.Permissions, c.Password, account...); err != nil {
		return nil, err
	}
	if upd.Permissions != nil {
		p := normalizePermissions(*upd.Permissions)
		upd.Permissions = &p
	}
	if c.Password != nil {
		h := ""
		if *c.Password != "" {
			var err error
			if h, err = s.cfg.Hasher.Hash(*c.Password); err != nil {
				return nil, err
			}
		}
		upd.PasswordHash = &h
	}
	rec := s.auditRecord(Operator(), latchkey.AuditRecord{Action: latchkey.AuditUserUpdated, SubjectUserID: userRef(id), SubjectID: idString(id), Detail: changed(c)})
	u, err := s.store.UpdateUser(ctx, id, upd, rec.At, rec)
	if err != nil {
		return nil, err
	}
	// A new password, or a disabled account, signs the user out
	// everywhere.
	if c.Password != nil || !u.Active() {
		s.endSessions(ctx, u.ID)
	}
	changedUser := latchkey.Event{Kind: latchkey.EventUserChanged, ID: strconv.FormatInt(u.ID, 10)}
	if c.Status != nil && !u.Active() {
		// Disabled: every OAuth authorization of theirs ends, and the
		// tokens the applications made with them; enabling them again
		// brings none back.
		end := s.auditRecord(Operator(), latchkey.AuditRecord{Action: latchkey.AuditTokenRevoked, Notify: latchkey.NoteTokenRevoked, Detail: string(latchkey.ReasonUserDisabled)})
		ts, err := s.store.EndUserAuthorizations(ctx, u.ID, end.At, end)
		if err != nil {
			s.publish(ctx, changedUser)
			return nil, err
		}
		s.revoked(ctx, ts, string(latchkey.ReasonUserDisabled), changedUser)
	} else {
		s.publish(ctx, changedUser)
	}
	s.log.Info("user updated", "user_id", u.ID)
	return u, nil
}

// DeleteUser deletes a user softly: the row stays, its tokens stop
// authenticating at once.
func (s *Service) DeleteUser(ctx context.Context, id int64) error {
	rec := s.auditRecord(Operator(), latchkey.AuditRecord{Action: latchkey.AuditUserDeleted, SubjectUserID: userRef(id), SubjectID: idString(id)})
	if err := s.store.DeleteUser(ctx, id, rec.At, rec); err != nil {
		return err
	}
	s.endSessions(ctx, id)
	s.publish(ctx, latchkey.Event{Kind: latchkey.EventUserChanged, ID: strconv.FormatInt(id, 10)})
	s.log.Info("user deleted", "user_id", id)
	return nil
}

// RestoreUser brings back a deleted user, with the status, permissions
// and password it had. Nothing it held comes back with it: its tokens and
// refresh tokens are revoked, in the same transaction, and its sessions
// ended at its deletion. Every replica hears of it as of a deletion, and
// of each token revoked. ENOTFOUND when there is no such deleted user;
// ECONFLICT, naming the username or email and the user who has it, when a
// user not deleted took it meanwhile.
func (s *Service) RestoreUser(ctx context.Context, id int64) (*latchkey.User, error) {
	const why = "user restored"
	restored := s.auditRecord(Operator(), latchkey.AuditRecord{Action: latchkey.AuditUserRestored, SubjectUserID: userRef(id), SubjectID: idString(id)})
	revoked := s.auditRecord(Operator(), latchkey.AuditRecord{Action: latchkey.AuditTokenRevoked, Notify: latchkey.NoteTokenRevoked, Detail: why})
	u, ts, err := s.store.RestoreUser(ctx, id, restored.At, restored, revoked)
	if latchkey.ErrorCode(err) == latchkey.ECONFLICT {
		return nil, s.restoreConflict(ctx, id, err)
	}
	if err != nil {
		return nil, err
	}
	s.publish(ctx, latchkey.Event{Kind: latchkey.EventUserChanged, ID: strconv.FormatInt(u.ID, 10)})
	s.revoked(ctx, ts, why)
	s.log.Info("user restored", "user_id", u.ID, "tokens_revoked", len(ts))
	return u, nil
}

// restoreConflict says which of the deleted user's username and email a
// user not deleted has, and who: err, the store's conflict, when it can
// no longer tell.
func (s *Service) restoreConflict(ctx context.Context, id int64, err error) error {
	gone, lerr := s.store.User(ctx, id)
	if lerr != nil {
		return err
	}
	for _, c := range []struct{ field, value string }{{"username", gone.Username}, {"email", gone.Email}} {
		other, lerr := s.store.UserByLogin(ctx, c.value)
		if lerr != nil || other.Deleted() || other.ID == id {
			continue
		}
		if (c.field == "username" && other.Username == c.value) || (c.field == "email" && other.Email == c.value) {
			return &latchkey.Error{Code: latchkey.ECONFLICT, Err: err,
				Message: fmt.Sprintf("user %d cannot be restored: its %s %q has been taken by user %d meanwhile", id, c.field, c.value, other.ID)}
		}
	}
	return err
}

// FindDeletedUser returns the deleted user ref names: an id when it is all
// digits, else the username or email of exactly one deleted user.
// ENOTFOUND when there is none; EINVALID when several deleted users have
// that username or email, to be named by id.
func (s *Service) FindDeletedUser(ctx context.Context, ref string) (*latchkey.User, error) {
	if id, ok := ParseUserID(ref); ok {
		u, err := s.store.User(ctx, id)
		switch {
		case err == nil && u.Deleted():
			return u, nil
		case err == nil:
			return nil, latchkey.Errorf(latchkey.ENOTFOUND, "user %d is not deleted", id)
		case latchkey.ErrorCode(err) != latchkey.ENOTFOUND:
			return nil, err
		}
	}
	// Search matches a superset (a substring, ignoring case); keep the
	// exact matches.
	us, err := s.store.Users(ctx, latchkey.UserFilter{Search: ref, OnlyDeleted: true})
	if err != nil {
		return nil, err
	}
	var found []*latchkey.User
	for _, u := range us {
		if u.Username == ref || u.Email == ref {
			found = append(found, u)
		}
	}
	switch len(found) {
	case 0:
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "no deleted user %q", ref)
	case 1:
		return found[0], nil
	}
	ids := make([]string, len(found))
	for i, u := range found {
		ids[i] = idString(u.ID)
	}
	return nil, latchkey.Errorf(latchkey.EINVALID, "%d deleted users have the username or email %q (ids %s): name one by its id", len(found), ref, strings.Join(ids, ", "))
}

// FindUser returns the user ref names: an id when it is all digits, else a
// username or email, which names the user not deleted that has it if there
// is one. Deleted users are found too.
func (s *Service) FindUser(ctx context.Context, ref string) (*latchkey.User, error) {
	if id, ok := ParseUserID(ref); ok {
		u, err := s.store.User(ctx, id)
		if err == nil || latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			return u, err
		}
	}
	u, err := s.store.UserByLogin(ctx, ref)
	if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "no user %q", ref)
	}
	return u, err
}

// Users lists users.
func (s *Service) Users(ctx context.Context, f latchkey.UserFilter) ([]*latchkey.User, error) {
	return s.store.Users(ctx, f)
}

// BootstrapUsername is the administrator made on first start.
const BootstrapUsername = "admin"

// Bootstrap makes user 1, "admin", an administrator without a password,
// when the database has no users at all, and reports whether it did.
func (s *Service) Bootstrap(ctx context.Context) (*latchkey.User, bool, error) {
	us, err := s.store.Users(ctx, latchkey.UserFilter{IncludeDeleted: true, Limit: 1})
	if err != nil || len(us) > 0 {
		return nil, false, err
	}
	u, err := s.CreateUser(ctx, NewUser{Username: BootstrapUsername, Email: "admin@localhost", FirstName: "Admin", Admin: true})
	if latchkey.ErrorCode(err) == latchkey.ECONFLICT {
		return nil, false, nil // another replica made it first
	}
	return u, err == nil, err
}

// Operator-side token operations, for the command line.

// OperatorCreateToken issues a token for owner as the operator.
func (s *Service) OperatorCreateToken(ctx context.Context, owner *latchkey.User, req TokenRequest) (*latchkey.Token, string, error) {
	if owner.Deleted() {
		return nil, "", latchkey.Errorf(latchkey.ENOTFOUND, "user %d is deleted", owner.ID)
	}
	return s.CreateToken(ctx, Operator(), owner, req)
}

// OperatorRevokeToken revokes any token by id, as the operator, and
// reports whether it did: false when the token was revoked already, which
// changes and records nothing.
func (s *Service) OperatorRevokeToken(ctx context.Context, id string) (bool, error) {
	if !latchkey.ValidTokenID(id) {
		return false, latchkey.Errorf(latchkey.EINVALID, "a token id is 80 lowercase hex characters")
	}
	t, err := s.store.Token(ctx, id)
	if err != nil {
		if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
			return false, latchkey.Errorf(latchkey.ENOTFOUND, "no token %s", id)
		}
		return false, err
	}
	owner, err := s.store.User(ctx, t.UserID)
	if err != nil {
		return false, err
	}
	_, revoked, err := s.revokeToken(ctx, Operator(), owner, id)
	return revoked, err
}

// OperatorRotateToken rotates the token id for someone at the command
// line, as RotateToken does for whoever may create its user's tokens.
func (s *Service) OperatorRotateToken(ctx context.Context, id string, req RotateRequest) (*latchkey.Token, string, error) {
	if !latchkey.ValidTokenID(id) {
		return nil, "", latchkey.Errorf(latchkey.EINVALID, "a token id is 80 lowercase hex characters")
	}
	t, err := s.store.Token(ctx, id)
	if err != nil {
		if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
			return nil, "", latchkey.Errorf(latchkey.ENOTFOUND, "no token %s", id)
		}
		return nil, "", err
	}
	owner, err := s.store.User(ctx, t.UserID)
	if err != nil {
		return nil, "", err
	}
	return s.RotateToken(ctx, Operator(), owner, id, req)
}

// changed names the fields a change sets, never their values (one may be
// a password).
func changed(c UserChange) string {
	var f []string
	for name, set := range map[string]bool{
		"username": c.Username != nil, "email": c.Email != nil, "first name": c.FirstName != nil,
		"last name": c.LastName != nil, "status": c.Status != nil, "admin": c.Admin != nil,
		"permissions": c.Permissions != nil, "password": c.Password != nil,
	} {
		if set {
			f = append(f, name)
		}
	}
	slices.Sort(f)
	if c.Status != nil {
		f = append(f, "now "+string(*c.Status))
	}
	return strings.Join(f, ", ")
}

// endSessions signs a user out of the web pages everywhere. Sessions are
// checked against the user on every request anyway; this is for a
// password change, which leaves the user active.
func (s *Service) endSessions(ctx context.Context, userID int64) {
	if err := s.store.DeleteUserSessions(ctx, userID); err != nil {
		s.log.Error("ending a user's sessions", "user_id", userID, "err", err)
	}
}
