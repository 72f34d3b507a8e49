package service

import (
	"context"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/password"
)

// Operator is the principal of someone at the command line: it may do
// anything, and no token scopes limit it.
var Operator = &latchkey.Principal{User: &latchkey.User{Admin: true, Status: latchkey.StatusActive}}

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
func checkUserFields(username, email, first, last *string, perms *[]string, pw *string, account ...string) error {
	var fe latchkey.FieldErrors
	if username != nil && !usernameForm.MatchString(*username) {
		fe.Add("username", "The Username field must be 1 to 255 letters, digits and . _ @ + -, starting with a letter or digit.")
	}
	if email != nil {
		if a, err := mail.ParseAddress(*email); err != nil || a.Address != *email || a.Name != "" {
			fe.Add("email", "The Email field must be a valid email address.")
		}
	}
	for field, v := range map[string]*string{"firstname": first, "lastname": last} {
		if v != nil && utf8.RuneCountInString(*v) > 255 {
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
		h, err := password.Hash(n.Password, *s.cfg.Password)
		if err != nil {
			return nil, err
		}
		u.PasswordHash = h
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	s.audit(ctx, Operator, latchkey.AuditRecord{Action: latchkey.AuditUserCreated, SubjectUserID: userRef(u.ID), SubjectID: idString(u.ID), Detail: u.Username})
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
			if h, err = password.Hash(*c.Password, *s.cfg.Password); err != nil {
				return nil, err
			}
		}
		upd.PasswordHash = &h
	}
	u, err := s.store.UpdateUser(ctx, id, upd, s.now())
	if err != nil {
		return nil, err
	}
	// A new password, or a disabled account, signs the user out
	// everywhere.
	if c.Password != nil || !u.Active() {
		s.endSessions(ctx, u.ID)
	}
	s.publish(ctx, latchkey.Event{Kind: latchkey.EventUserChanged, ID: strconv.FormatInt(u.ID, 10)})
	s.audit(ctx, Operator, latchkey.AuditRecord{Action: latchkey.AuditUserUpdated, SubjectUserID: userRef(u.ID), SubjectID: idString(u.ID), Detail: changed(c)})
	s.log.Info("user updated", "user_id", u.ID)
	return u, nil
}

// DeleteUser deletes a user softly: the row stays, its tokens stop
// authenticating at once.
func (s *Service) DeleteUser(ctx context.Context, id int64) error {
	if err := s.store.DeleteUser(ctx, id, s.now()); err != nil {
		return err
	}
	s.endSessions(ctx, id)
	s.publish(ctx, latchkey.Event{Kind: latchkey.EventUserChanged, ID: strconv.FormatInt(id, 10)})
	s.audit(ctx, Operator, latchkey.AuditRecord{Action: latchkey.AuditUserDeleted, SubjectUserID: userRef(id), SubjectID: idString(id)})
	s.log.Info("user deleted", "user_id", id)
	return nil
}

// FindUser returns the user ref names: an id when it is all digits, else a
// username or email. Deleted users are found too.
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
	return s.CreateToken(ctx, Operator, owner, req)
}

// OperatorRevokeToken revokes any token by id, as the operator.
func (s *Service) OperatorRevokeToken(ctx context.Context, id string) error {
	if !latchkey.ValidTokenID(id) {
		return latchkey.Errorf(latchkey.EINVALID, "a token id is 80 lowercase hex characters")
	}
	t, err := s.store.Token(ctx, id)
	if err != nil {
		if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
			return latchkey.Errorf(latchkey.ENOTFOUND, "no token %s", id)
		}
		return err
	}
	owner, err := s.store.User(ctx, t.UserID)
	if err != nil {
		return err
	}
	_, err = s.RevokeToken(ctx, Operator, owner, id)
	return err
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
