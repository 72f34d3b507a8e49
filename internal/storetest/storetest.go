// Package storetest is the conformance suite of latchkey.Store: the tests
// and benchmarks that every storage backend runs, so that the backends
// behave alike. A backend's test file supplies only a function that opens a
// fresh store:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) latchkey.Store { … })
//	}
//
// The suite checks the semantics the contracts in package latchkey
// document, and nothing particular to one database. Beside it, Errors
// checks the code and sentence of each failure a contract documents,
// AuditFailure and NotificationFailure that a change whose audit record or
// notification cannot be written is not made, Wrap a store's translation
// of its driver's errors, and Broadcaster the events
// between processes (latchkey.Broadcaster), with a harness in which the
// store stages its own faults.
package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/latchkey/latchkey"
)

// Run runs the conformance suite against the stores open returns. Each
// call of open must return a new, migrated, empty store, holding only the
// personal access client that the first migration creates, and arrange
// with t.Cleanup to close it. Subtests are named by contract method and
// case, so one can be run alone with -run, e.g. -run 'Store/Tokens/Order'.
func Run(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("Migrate", func(t *testing.T) { testMigrate(t, open) })
	t.Run("Ping", func(t *testing.T) { testPing(t, open) })

	t.Run("CreateUser", func(t *testing.T) { testCreateUser(t, open) })
	t.Run("User", func(t *testing.T) { testUser(t, open) })
	t.Run("UserByLogin", func(t *testing.T) { testUserByLogin(t, open) })
	t.Run("Users", func(t *testing.T) { testUsers(t, open) })
	t.Run("UpdateUser", func(t *testing.T) { testUpdateUser(t, open) })
	t.Run("DeleteUser", func(t *testing.T) { testDeleteUser(t, open) })
	t.Run("RestoreUser", func(t *testing.T) { testRestoreUser(t, open) })

	t.Run("CreateClient", func(t *testing.T) { testCreateClient(t, open) })
	t.Run("Client", func(t *testing.T) { testClient(t, open) })
	t.Run("Clients", func(t *testing.T) { testClients(t, open) })
	t.Run("RevokeClient", func(t *testing.T) { testRevokeClient(t, open) })
	t.Run("PruneRegisteredClients", func(t *testing.T) { testPruneRegisteredClients(t, open) })
	t.Run("ClientByMetadataURL", func(t *testing.T) { testClientByMetadataURL(t, open) })
	t.Run("UpdateClient", func(t *testing.T) { testUpdateClient(t, open) })

	t.Run("Resources", func(t *testing.T) { testResources(t, open) })

	t.Run("CreateToken", func(t *testing.T) { testCreateToken(t, open) })
	t.Run("Token", func(t *testing.T) { testToken(t, open) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, open) })
	t.Run("RevokeToken", func(t *testing.T) { testRevokeToken(t, open) })
	t.Run("Credential", func(t *testing.T) { testCredential(t, open) })
	t.Run("Lineage", func(t *testing.T) { testLineage(t, open) })
	t.Run("TouchTokens", func(t *testing.T) { testTouchTokens(t, open) })
	t.Run("RotateToken", func(t *testing.T) { testRotateToken(t, open) })
	t.Run("RevokeIdle", func(t *testing.T) { testRevokeIdle(t, open) })
	t.Run("RotateEnded", func(t *testing.T) { testRotateEnded(t, open) })
	t.Run("Inventory", func(t *testing.T) { testInventory(t, open) })

	t.Run("AddSigningKey", func(t *testing.T) { testAddSigningKey(t, open) })
	t.Run("SigningKeys", func(t *testing.T) { testSigningKeys(t, open) })
	t.Run("VerifyingKeys", func(t *testing.T) { testVerifyingKeys(t, open) })

	t.Run("RecordAudit", func(t *testing.T) { testRecordAudit(t, open) })
	t.Run("AuditedChanges", func(t *testing.T) { testAuditedChanges(t, open) })
	t.Run("AuditRecords", func(t *testing.T) { testAuditRecords(t, open) })
	t.Run("PruneAudit", func(t *testing.T) { testPruneAudit(t, open) })

	t.Run("CreateGrant", func(t *testing.T) { testCreateGrant(t, open) })
	t.Run("Grant", func(t *testing.T) { testGrant(t, open) })
	t.Run("CreateAccessToken", func(t *testing.T) { testCreateAccessToken(t, open) })
	t.Run("DeactivateGrant", func(t *testing.T) { testDeactivateGrant(t, open) })
	t.Run("DeactivateGrants", func(t *testing.T) { testDeactivateGrants(t, open) })
	t.Run("DeleteGrant", func(t *testing.T) { testDeleteGrant(t, open) })
	t.Run("RevokeRequestTokens", func(t *testing.T) { testRevokeRequestTokens(t, open) })
	t.Run("MarkRequestRevoked", func(t *testing.T) { testMarkRequestRevoked(t, open) })
	t.Run("AuthorizationLive", func(t *testing.T) { testAuthorizationLive(t, open) })
	t.Run("RevokeConsentMarks", func(t *testing.T) { testRevokeConsentMarks(t, open) })
	t.Run("PruneGrants", func(t *testing.T) {
		testPruneGrants(t, open)
		t.Run("Marks", func(t *testing.T) { testPruneMarks(t, open) })
	})

	t.Run("SaveConsent", func(t *testing.T) { testSaveConsent(t, open) })
	t.Run("Consent", func(t *testing.T) { testConsent(t, open) })
	t.Run("Consents", func(t *testing.T) { testConsents(t, open) })
	t.Run("RevokeConsent", func(t *testing.T) { testRevokeConsent(t, open) })

	t.Run("CreateSession", func(t *testing.T) { testCreateSession(t, open) })
	t.Run("Session", func(t *testing.T) { testSession(t, open) })
	t.Run("DeleteSession", func(t *testing.T) { testDeleteSession(t, open) })
	t.Run("DeleteUserSessions", func(t *testing.T) { testDeleteUserSessions(t, open) })
	t.Run("PruneSessions", func(t *testing.T) { testPruneSessions(t, open) })

	t.Run("Leases", func(t *testing.T) { testLeases(t, open) })

	t.Run("Notifications", func(t *testing.T) { testNotifications(t, open) })

	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, open) })
}

func testPing(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping() = %v, want nil", err)
	}
}

func testMigrate(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("Again", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		for i := range 2 {
			if err := s.Migrate(t.Context()); err != nil {
				t.Fatalf("Migrate() call %d = %v, want nil", i+1, err)
			}
		}
		clients, err := s.Clients(t.Context())
		if err != nil {
			t.Fatalf("Clients() = %v", err)
		}
		if len(clients) != 1 {
			t.Errorf("after Migrate, Clients() has %d clients, want 1", len(clients))
		}
		got, err := s.User(t.Context(), u.ID)
		if err != nil {
			t.Fatalf("after Migrate, User(%d) = %v", u.ID, err)
		}
		if diff := cmp.Diff(u, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("after Migrate, User(%d) mismatch (-want +got):\n%s", u.ID, diff)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		s := open(t)
		errs := make(chan error, 4)
		for range cap(errs) {
			go func() { errs <- s.Migrate(t.Context()) }()
		}
		for range cap(errs) {
			if err := <-errs; err != nil {
				t.Errorf("concurrent Migrate() = %v, want nil", err)
			}
		}
	})

	t.Run("PersonalAccessClient", func(t *testing.T) {
		s := open(t)
		c, err := s.Client(t.Context(), latchkey.PersonalAccessClientID)
		if err != nil {
			t.Fatalf("Client(%d) = %v", latchkey.PersonalAccessClientID, err)
		}
		if c.ID != latchkey.PersonalAccessClientID || !c.PersonalAccessClient || c.Revoked || c.PasswordClient || c.UserID != nil {
			t.Errorf("Client(%d) = %+v, want a personal access client, not revoked, not a password client, without user",
				latchkey.PersonalAccessClientID, c)
		}
	})
}

// at returns the fixture time d after the suite's epoch, which has
// microsecond precision and is in UTC.
func at(d time.Duration) time.Time {
	return time.Date(2026, 3, 1, 17, 45, 10, 123456000, time.UTC).Add(d)
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// tokenID returns the n-th token id of the fixtures: valid, and ordered as
// n is.
func tokenID(n int) string { return fmt.Sprintf("%080x", n) }

// newUser returns an active user named name, created at the epoch.
func newUser(name string) *latchkey.User {
	return &latchkey.User{
		Username:  name,
		Email:     name + "@example.com",
		FirstName: "First " + name,
		LastName:  "Last " + name,
		Status:    latchkey.StatusActive,
		CreatedAt: at(0),
		UpdatedAt: at(0),
	}
}

// createUser stores u and returns it.
func createUser(t testing.TB, s latchkey.Store, u *latchkey.User) *latchkey.User {
	t.Helper()
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%q) = %v", u.Username, err)
	}
	return u
}

// newClient returns an application client, neither personal nor revoked.
func newClient(name string) *latchkey.Client {
	return &latchkey.Client{
		Name:       name,
		SecretHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
		Redirect:   "https://app.example.com/callback",
		CreatedAt:  at(0),
		UpdatedAt:  at(0),
	}
}

// createClient stores c and returns it.
func createClient(t testing.TB, s latchkey.Store, c *latchkey.Client) *latchkey.Client {
	t.Helper()
	if err := s.CreateClient(t.Context(), c); err != nil {
		t.Fatalf("CreateClient(%q) = %v", c.Name, err)
	}
	return c
}

// newToken returns the n-th personal token of user, created at the epoch
// and expiring a year later.
func newToken(n int, user int64) *latchkey.Token {
	return &latchkey.Token{
		ID:        tokenID(n),
		UserID:    user,
		ClientID:  latchkey.PersonalAccessClientID,
		Name:      fmt.Sprintf("token %d", n),
		Scopes:    latchkey.Scopes{},
		CreatedAt: at(0),
		UpdatedAt: at(0),
		ExpiresAt: ptr(at(365 * 24 * time.Hour)),
		KeyID:     "kid-1",
	}
}

// createToken stores tok and returns it.
func createToken(t testing.TB, s latchkey.Store, tok *latchkey.Token) *latchkey.Token {
	t.Helper()
	if err := s.CreateToken(t.Context(), tok); err != nil {
		t.Fatalf("CreateToken(%q) = %v", tok.Name, err)
	}
	return tok
}

// checkCode reports an error unless err carries the code want.
func checkCode(t *testing.T, call string, err error, want string) {
	t.Helper()
	if got := latchkey.ErrorCode(err); got != want {
		t.Errorf("%s = %v (code %q), want code %q", call, err, got, want)
	}
}

// checkUTC reports an error for each time not in UTC.
func checkUTC(t *testing.T, call string, times ...*time.Time) {
	t.Helper()
	for _, tm := range times {
		if tm != nil && tm.Location() != time.UTC {
			t.Errorf("%s: time %v is in %v, want UTC", call, tm, tm.Location())
		}
	}
}

// userIDs returns the ids of users.
func userIDs(users []*latchkey.User) []int64 {
	ids := []int64{}
	for _, u := range users {
		ids = append(ids, u.ID)
	}
	return ids
}

// tokenNumbers returns the fixture number of each token, the n of
// tokenID(n), or -1 for an id tokenID did not make.
func tokenNumbers(tokens []*latchkey.Token) []int {
	ns := []int{}
	for _, tok := range tokens {
		var n int
		if _, err := fmt.Sscanf(tok.ID, "%x", &n); err != nil || tokenID(n) != tok.ID {
			n = -1
		}
		ns = append(ns, n)
	}
	return ns
}

// keyIDs returns the ids of keys.
func keyIDs(keys []*latchkey.SigningKey) []string {
	ids := []string{}
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	return ids
}

// usesAt is uses as TouchTokens takes them: a time each, no address.
func usesAt(uses map[string]time.Time) map[string]latchkey.Use {
	out := make(map[string]latchkey.Use, len(uses))
	for id, at := range uses {
		out[id] = latchkey.Use{At: at}
	}
	return out
}
