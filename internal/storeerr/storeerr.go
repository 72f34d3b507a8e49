// Package storeerr is the vocabulary the stores share: the caller-safe
// sentences of their errors, and the one translation of what a native
// database error means (a unique violation, a foreign key violation, no
// row, …) into the domain's codes. Both store packages import it, so that
// SQLite and PostgreSQL say the same thing in the same words; neither
// imports the other. It imports only the domain and the standard library.
package storeerr

import (
	"errors"

	"github.com/latchkey/latchkey"
)

// The caller-safe sentences of the errors the stores' methods return,
// by what they are about.
const (
	MsgUserNotFound        = "The user was not found."
	MsgUsernameTaken       = "The username has already been taken."
	MsgEmailTaken          = "The email has already been taken."
	MsgDeletedUserNotFound = "No deleted user has that id."

	MsgClientNotFound       = "The client was not found."
	MsgClientUserNotFound   = "The client's user was not found."
	MsgClientMetadataExists = "A client with this metadata document URL already exists."

	MsgTokenNotFound      = "The token was not found."
	MsgTokenExists        = "A token with this id already exists."
	MsgTokenOwnerNotFound = "The token's user or client was not found."
	MsgParentRevoked      = "The token that makes this one is revoked."
	MsgRotateRevoked      = "A revoked token cannot be rotated."
	MsgRotateExpired      = "An expired token cannot be rotated."
	MsgRotatedAlready     = "This token was rotated already, and its successor is in use: rotate the successor instead."

	MsgKeyExists = "A signing key with this id already exists."

	MsgGrantNotFound      = "The grant was not found."
	MsgGrantInactive      = "The grant was used or revoked already."
	MsgGrantExists        = "A grant of this kind with this signature already exists."
	MsgGrantOwnerNotFound = "The grant's user or client was not found."

	MsgConsentNotFound      = "The consent was not found."
	MsgConsentOwnerNotFound = "The consent's user or client was not found."

	MsgSessionNotFound     = "The session was not found."
	MsgSessionExists       = "A session with this id already exists."
	MsgSessionUserNotFound = "The session's user was not found."

	MsgWebhookNotFound = "The webhook was not found."
	MsgWebhookExists   = "A webhook with this id already exists."

	MsgResourceNotFound = "The resource was not found."
	MsgResourceExists   = "A resource with this URI is already registered."
)

// The caller-safe sentences of the errors any operation may return, when
// the operation did not say more itself: what Translate gives each Kind.
const (
	MsgValueTaken        = "The value has already been taken."
	MsgReferenceNotFound = "A record it refers to was not found."
	MsgRecordNotFound    = "The record was not found."
	MsgUnstorable        = "The input contains characters that cannot be stored."
	MsgBusy              = "The database is busy. Try again later."
	MsgUnavailable       = "The database is unavailable. Try again later."
)

// Conflict returns an ECONFLICT error with the caller-safe msg, caused by
// err.
func Conflict(msg string, err error) error {
	return &latchkey.Error{Code: latchkey.ECONFLICT, Message: msg, Err: err}
}

// NotFound returns an ENOTFOUND error with the caller-safe msg, caused by
// err.
func NotFound(msg string, err error) error {
	return &latchkey.Error{Code: latchkey.ENOTFOUND, Message: msg, Err: err}
}

// Kind is what a native database error means, as a store reads it from
// its driver's error.
type Kind int

// The kinds of native errors that have a domain code.
const (
	Other       Kind = iota // nothing the domain has a code for
	Unique                  // a unique or primary key constraint was violated
	ForeignKey              // a foreign key constraint was violated
	NoRows                  // a query of one row found none
	Unstorable              // text the database cannot hold
	Busy                    // contention that outlasted the waits and retries
	Unavailable             // the database could not be reached, or did not answer in time
)

// Translate returns err as the domain error that kind means, caused by
// err: a unique violation is ECONFLICT, a foreign key violation or no row
// ENOTFOUND, unstorable text EINVALID, contention or an unreachable
// database EUNAVAILABLE. It returns err itself when err carries a domain
// error already (the operation said more) or kind is Other.
func Translate(err error, kind Kind) error {
	var le *latchkey.Error
	if err == nil || errors.As(err, &le) {
		return err
	}
	switch kind {
	case Unique:
		return Conflict(MsgValueTaken, err)
	case ForeignKey:
		return NotFound(MsgReferenceNotFound, err)
	case NoRows:
		return NotFound(MsgRecordNotFound, err)
	case Unstorable:
		return &latchkey.Error{Code: latchkey.EINVALID, Message: MsgUnstorable, Err: err}
	case Busy:
		return &latchkey.Error{Code: latchkey.EUNAVAILABLE, Message: MsgBusy, Err: err}
	case Unavailable:
		return &latchkey.Error{Code: latchkey.EUNAVAILABLE, Message: MsgUnavailable, Err: err}
	}
	return err
}
