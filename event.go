package latchkey

import "context"

// EventKind names a change that every replica must hear of at once.
type EventKind string

// The changes replicas tell each other about.
const (
	// EventTokenRevoked: the token with ID, of the user UserID, was revoked.
	EventTokenRevoked EventKind = "token_revoked"
	// EventTokenCreated: the user with ID has a new token.
	EventTokenCreated EventKind = "token_created"
	// EventUserChanged: the user with ID was disabled, deleted or changed.
	EventUserChanged EventKind = "user_changed"
	// EventClientRevoked: the client with ID, and all its tokens, were revoked.
	EventClientRevoked EventKind = "client_revoked"
	// EventKeysChanged: a signing key was added or retired.
	EventKeysChanged EventKind = "keys_changed"
	// EventResync: events may have been missed (the listening connection
	// dropped and came back). Whatever a subscriber cached is to be
	// treated as unverified and read again.
	EventResync EventKind = "resync"
)

// Event is one change.
type Event struct {
	Kind EventKind
	ID   string // the token, user or client id; empty for keys and resync
	// UserID is the user whose token a token event concerns, when known.
	UserID int64
}

// Broadcaster carries events between the replicas that share a database.
// A store whose database can broadcast (PostgreSQL's LISTEN/NOTIFY)
// implements it; a single-process store need not.
type Broadcaster interface {
	// Publish tells every subscriber, in every process, of e.
	Publish(ctx context.Context, e Event) error

	// Subscribe calls f with each event until ctx ends, reconnecting when
	// the connection drops; after every reconnect it calls f with
	// EventResync before any other event. It returns ctx's error.
	Subscribe(ctx context.Context, f func(Event)) error
}
