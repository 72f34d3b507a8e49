package latchkey

import (
	"context"
	"time"
)

// PersonalAccessClientID is the id of the OAuth client that issues personal
// tokens on a new install; the first migration creates it.
const PersonalAccessClientID int64 = 1

// Client is an OAuth 2.0 client, Passport's oauth_clients row. Personal
// tokens are issued by the personal access client; access tokens from the
// authorization code flow by an application's client.
type Client struct {
	ID     int64
	UserID *int64 // the user who owns the client, if any
	Name   string
	// SecretHash is the hash of a confidential client's secret, or "" for a
	// public client. It is never sent over the API.
	SecretHash string
	Provider   *string
	Redirect   string // registered redirect URIs, comma-separated
	// DefaultScopes are what an authorization request of the client that
	// names no scope is granted; nil leaves it to the server's default.
	// Unlike a token's Scopes, empty here limits nothing and grants
	// nothing: it is the absence of a registered default.
	DefaultScopes        Scopes
	PersonalAccessClient bool
	PasswordClient       bool
	// SelfRegistered is a client that registered itself over the network
	// (RFC 7591) rather than being created by the operator. Until it has
	// issued a token, it is deleted some time after it registered.
	SelfRegistered bool
	// MetadataURL is, for a client identified by a Client ID Metadata
	// Document (draft-ietf-oauth-client-id-metadata-document), the
	// document's URL: the client's OAuth client_id. Its Name, Redirect and
	// DefaultScopes are the document's as last read; "" for every other
	// client.
	MetadataURL string
	Revoked     bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Public reports whether c holds no secret: a program that cannot keep
// one (a command-line tool, a page in a browser). It must use PKCE.
func (c *Client) Public() bool { return c.SecretHash == "" }

// ClientStore persists OAuth clients.
type ClientStore interface {
	// CreateClient stores c and sets c.ID. It writes audit with it (see
	// AuditStore), each record's SubjectID set to the new client's id.
	// ECONFLICT when another client has c's MetadataURL.
	CreateClient(ctx context.Context, c *Client, audit ...*AuditRecord) error

	// Client returns the client with that id, revoked or not. ENOTFOUND
	// when there is none.
	Client(ctx context.Context, id int64) (*Client, error)

	// ClientByMetadataURL returns the client whose MetadataURL is url,
	// revoked or not. ENOTFOUND when there is none.
	ClientByMetadataURL(ctx context.Context, url string) (*Client, error)

	// UpdateClient stores c's Name, Redirect, DefaultScopes and UpdatedAt
	// as those of the client c.ID, and writes audit with the change, each
	// record's SubjectID set to c.ID. ENOTFOUND when there is no such
	// client.
	UpdateClient(ctx context.Context, c *Client, audit ...*AuditRecord) error

	// Clients returns every client, by id ascending.
	Clients(ctx context.Context) ([]*Client, error)

	// RevokeClient marks the client and every token it issued revoked at
	// at (ReasonClientRevoked), with the tokens those made (see
	// TokenStore), and deactivates every grant of the client. Revoking a
	// revoked client is not an error. It writes audit with the change as
	// AuditWithTokens says, and returns the tokens it revoked, by id.
	// ENOTFOUND when there is no such client.
	RevokeClient(ctx context.Context, id int64, at time.Time, audit ...*AuditRecord) ([]*Token, error)

	// PruneRegisteredClients deletes, in one transaction, the clients that
	// registered themselves (SelfRegistered) before before and have never
	// issued a token, with their grants and the consents given to them,
	// and says how many clients it deleted.
	PruneRegisteredClients(ctx context.Context, before time.Time) (int64, error)
}
