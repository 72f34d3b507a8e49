package latchkey

import (
	"context"
	"slices"
	"strings"
	"time"
)

// The permissions a user can hold. Administrators hold every permission.
const (
	PermViewUsers = "view-users" // list and show other users' tokens
	PermEditUsers = "edit-users" // revoke other users' tokens
)

// Permissions lists every permission the server knows, in display order.
var Permissions = []string{PermViewUsers, PermEditUsers}

// UserStatus is ACTIVE or INACTIVE, as in ProcessMaker.
type UserStatus string

// The statuses of a user. An inactive user's tokens authenticate nothing.
const (
	StatusActive   UserStatus = "ACTIVE"
	StatusInactive UserStatus = "INACTIVE"
)

// User is a person or program that owns tokens.
type User struct {
	ID          int64
	Username    string
	Email       string
	FirstName   string
	LastName    string
	Status      UserStatus
	Admin       bool
	Permissions []string // sorted, no duplicates, each one of Permissions
	// PasswordHash is an argon2id hash in PHC string form, or "" for a user
	// who cannot sign in with a password.
	PasswordHash string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	DeletedAt    *time.Time // set when the user is (softly) deleted
}

// Active reports whether u may authenticate: status ACTIVE and not deleted.
func (u *User) Active() bool {
	return u.Status == StatusActive && u.DeletedAt == nil
}

// Deleted reports whether u has been deleted.
func (u *User) Deleted() bool { return u.DeletedAt != nil }

// Can reports whether u holds perm; administrators hold every permission.
func (u *User) Can(perm string) bool {
	return u.Admin || slices.Contains(u.Permissions, perm)
}

// UserUpdate names the fields of a user to change; nil fields stay as they are.
type UserUpdate struct {
	Username     *string
	Email        *string
	FirstName    *string
	LastName     *string
	Status       *UserStatus
	Admin        *bool
	Permissions  *[]string
	PasswordHash *string
}

// ApplyTo sets the fields of u that upd names.
func (upd UserUpdate) ApplyTo(u *User) {
	if upd.Username != nil {
		u.Username = *upd.Username
	}
	if upd.Email != nil {
		u.Email = *upd.Email
	}
	if upd.FirstName != nil {
		u.FirstName = *upd.FirstName
	}
	if upd.LastName != nil {
		u.LastName = *upd.LastName
	}
	if upd.Status != nil {
		u.Status = *upd.Status
	}
	if upd.Admin != nil {
		u.Admin = *upd.Admin
	}
	if upd.Permissions != nil {
		u.Permissions = *upd.Permissions
	}
	if upd.PasswordHash != nil {
		u.PasswordHash = *upd.PasswordHash
	}
}

// SearchText is what UserFilter.Search looks in: the username, email, first
// and last name, lower-cased, one a line. Stores keep it with the user so
// that every backend matches alike.
func (u *User) SearchText() string {
	return strings.ToLower(u.Username + "\n" + u.Email + "\n" + u.FirstName + "\n" + u.LastName)
}

// UserFilter selects users. The zero value selects every user that is not
// deleted, by id ascending.
type UserFilter struct {
	// Search keeps users whose username, email, first or last name contains
	// it, ignoring case.
	Search         string
	IncludeDeleted bool
	// OnlyDeleted keeps the deleted users only, whatever IncludeDeleted
	// says.
	OnlyDeleted   bool
	Offset, Limit int // Limit 0 means no limit
}

// UserStore persists users. It checks no permissions.
//
// A username, and an email, belongs to at most one user that is not
// deleted: deleted users keep theirs, and any number of them may share
// one with each other and with a live user.
type UserStore interface {
	// CreateUser stores u and sets u.ID. Timestamps are stored as given.
	// It writes audit with it (see AuditStore), each record's
	// SubjectUserID and SubjectID set to the new user's id. ECONFLICT when
	// u is not deleted and a user not deleted has its username or email.
	CreateUser(ctx context.Context, u *User, audit ...*AuditRecord) error

	// User returns the user with that id, deleted or not. ENOTFOUND when
	// there is none.
	User(ctx context.Context, id int64) (*User, error)

	// UserByLogin returns the user whose username or email is login
	// (exactly): the one not deleted if there is one (its username before
	// another's email), else the one deleted last. ENOTFOUND when there is
	// none.
	UserByLogin(ctx context.Context, login string) (*User, error)

	// Users returns the users f selects, by id ascending.
	Users(ctx context.Context, f UserFilter) ([]*User, error)

	// UpdateUser applies upd to the user that is not deleted, sets
	// UpdatedAt to at and returns the user as stored. ENOTFOUND when there
	// is no such user; ECONFLICT when another user not deleted has the new
	// username or email. It writes audit with the change (see AuditStore).
	UpdateUser(ctx context.Context, id int64, upd UserUpdate, at time.Time, audit ...*AuditRecord) (*User, error)

	// DeleteUser marks the user deleted at at, and writes audit with it
	// (see AuditStore). ENOTFOUND when there is no such user or it is
	// already deleted.
	DeleteUser(ctx context.Context, id int64, at time.Time, audit ...*AuditRecord) error

	// RestoreUser undoes the deletion of the deleted user: in one
	// transaction it clears DeletedAt, sets UpdatedAt to at, and, so that
	// nothing issued before comes back with the user, revokes at at every
	// token of the user, deactivates its grants and marks their
	// authorizations revoked (MarkRequestRevoked), with ReasonUserRestored
	// and their descendants (see TokenStore). It writes audit with the
	// change as AuditWithTokens says. It returns the user as stored and the tokens
	// it revoked, with their clients, by id; the rest of the user (status,
	// permissions, password) is as it was. ENOTFOUND when there is no such
	// deleted user; ECONFLICT, and nothing changes, when a user not deleted
	// has its username or email (the message says which).
	RestoreUser(ctx context.Context, id int64, at time.Time, audit ...*AuditRecord) (*User, []*Token, error)
}
