package latchkey

import (
	"context"
	"time"
)

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
	// EventPurge: many changes at once (a large family of tokens revoked):
	// every cached verification is to be dropped.
	EventPurge EventKind = "purge"
	// EventAlive is never published: a subscriber hears it whenever its
	// store has just made sure that it hears every event (a poll ran, the
	// listening connection answered). A subscriber that has not heard it
	// for a while cannot show that it is current.
	EventAlive EventKind = "alive"
)

// Event is one change.
type Event struct {
	Kind EventKind
	ID   string // the token, user or client id; empty for keys and resync
	// UserID is the user whose token a token event concerns, when known.
	UserID int64
	// Seq is the event's number, which Publish returns and subscribers
	// hear: unique on a database, and growing. 0 for EventResync and
	// EventAlive.
	Seq int64
}

// Broadcaster carries events between the replicas that share a database.
// A store whose database can broadcast (PostgreSQL's LISTEN/NOTIFY)
// implements it; a single-process store need not.
type Broadcaster interface {
	// Publish tells every subscriber, in every process, of e, and
	// returns its Seq.
	Publish(ctx context.Context, e Event) (int64, error)

	// Subscribe calls f with each event until ctx ends, in the order they
	// were published, reconnecting when the connection drops; after every
	// reconnect it calls f with EventResync before any other event, and
	// whenever it has made sure it hears every event, with EventAlive
	// (at least every AliveEvery). It returns ctx's error.
	Subscribe(ctx context.Context, f func(Event)) error
}

// AliveEvery is the longest a Subscribe that works goes without telling
// its subscriber EventAlive.
const AliveEvery = time.Second

// A Lease is a running server's promise to apply every event it hears,
// and to answer no verification from its caches once it cannot keep it.
type Lease struct {
	Server string    // a random id, new at each start
	Name   string    // for people: host and process
	Until  time.Time // when it runs out, unless renewed
	// Acknowledged says, in Leases' answer, whether the server has
	// acknowledged the event asked about.
	Acknowledged bool
}

// LeaseStore holds the leases of the servers running on a database and
// their acknowledgements of events: what a change waits for before it
// answers. Each server renews its lease while it hears every event, and
// acknowledges each event once it has applied it; a change waits until
// every server with a live lease has acknowledged its last event, or that
// lease has run out (docs/architecture.md, "Revocation everywhere").
type LeaseStore interface {
	// RenewLease records that server, called name, holds a lease for d
	// from now on the database's clock, and forgets its acknowledgements
	// and the leases that ran out long ago.
	RenewLease(ctx context.Context, server, name string, d time.Duration) error

	// DropLease ends server's lease: nothing waits for it any longer.
	DropLease(ctx context.Context, server string) error

	// Acknowledge records that server has applied the events seqs.
	Acknowledge(ctx context.Context, server string, seqs ...int64) error

	// Leases returns the leases live now on the database's clock, other
	// than except's, by server, each saying whether its server has
	// acknowledged the event seq.
	Leases(ctx context.Context, seq int64, except string) ([]Lease, error)
}
