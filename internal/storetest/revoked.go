package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// checkLive reports an error unless AuthorizationLive of request, user and
// client says want.
func checkLive(t *testing.T, s latchkey.Store, after, request string, user, client int64, want bool) {
	t.Helper()
	got, err := s.AuthorizationLive(t.Context(), request, user, client)
	if err != nil {
		t.Fatalf("after %s, AuthorizationLive(%q, %d, %d) = %v", after, request, user, client, err)
	}
	if got != want {
		t.Errorf("after %s, AuthorizationLive(%q, %d, %d) = %t, want %t", after, request, user, client, got, want)
	}
}

// markRevoked marks request revoked at when.
func markRevoked(t *testing.T, s latchkey.Store, request string, when time.Time) {
	t.Helper()
	if err := s.MarkRequestRevoked(t.Context(), request, when); err != nil {
		t.Fatalf("MarkRequestRevoked(%q) = %v", request, err)
	}
}

func testMarkRequestRevoked(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("Again", func(t *testing.T) {
		s := open(t)
		alice := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		saveConsent(t, s, newConsent(alice.ID, app.ID, "a"))
		markRevoked(t, s, "request-1", at(time.Minute))
		if err := s.MarkRequestRevoked(t.Context(), "request-1", at(time.Hour)); err != nil {
			t.Errorf("MarkRequestRevoked(%q) again = %v, want nil", "request-1", err)
		}
		checkLive(t, s, "two marks", "request-1", alice.ID, app.ID, false)
	})

	// A mark needs no grant under its request: an issuance may not have
	// stored any yet.
	t.Run("WithoutGrants", func(t *testing.T) {
		s := open(t)
		markRevoked(t, s, "request-unknown", at(0))
	})
}

func testAuthorizationLive(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	alice := createUser(t, s, newUser("alice"))
	bob := createUser(t, s, newUser("bob"))
	app := createClient(t, s, newClient("App"))
	other := createClient(t, s, newClient("Other"))
	saveConsent(t, s, newConsent(alice.ID, app.ID, "a"))
	saveConsent(t, s, newConsent(bob.ID, other.ID, "o"))
	issueToken(t, s, 1, alice.ID, app.ID, "request-1")

	checkLive(t, s, "SaveConsent", "request-1", alice.ID, app.ID, true)
	// A request with nothing stored under it yet is live too.
	checkLive(t, s, "SaveConsent", "request-2", alice.ID, app.ID, true)
	// Without the consent of that user to that client.
	checkLive(t, s, "SaveConsent", "request-1", alice.ID, other.ID, false)
	checkLive(t, s, "SaveConsent", "request-1", bob.ID, app.ID, false)

	markRevoked(t, s, "request-1", at(time.Minute))
	after := fmt.Sprintf("MarkRequestRevoked(%q)", "request-1")
	checkLive(t, s, after, "request-1", alice.ID, app.ID, false)
	checkLive(t, s, after, "request-2", alice.ID, app.ID, true)
	checkLive(t, s, after, "request-1", bob.ID, other.ID, false)
	checkLive(t, s, after, "request-2", bob.ID, other.ID, true)

	if _, err := s.RevokeConsent(t.Context(), alice.ID, app.ID, at(time.Hour)); err != nil {
		t.Fatalf("RevokeConsent(%d, %d) = %v", alice.ID, app.ID, err)
	}
	after = fmt.Sprintf("RevokeConsent(%d, %d)", alice.ID, app.ID)
	checkLive(t, s, after, "request-2", alice.ID, app.ID, false)
	checkLive(t, s, after, "request-2", bob.ID, other.ID, true)
}

// testRevokeConsentMarks checks that RevokeConsent marks revoked the
// authorizations it ends: approving the application again at once does
// not bring them back, while a new authorization is live.
func testRevokeConsentMarks(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	alice := createUser(t, s, newUser("alice"))
	bob := createUser(t, s, newUser("bob"))
	app := createClient(t, s, newClient("App"))
	saveConsent(t, s, newConsent(alice.ID, app.ID, "a"))
	saveConsent(t, s, newConsent(bob.ID, app.ID, "a"))
	createGrant(t, s, newGrant(latchkey.GrantRefresh, "sig-1", "old-1", alice.ID, app.ID))
	issueToken(t, s, 1, alice.ID, app.ID, "old-2")
	createGrant(t, s, newGrant(latchkey.GrantRefresh, "sig-3", "bobs", bob.ID, app.ID))

	if _, err := s.RevokeConsent(t.Context(), alice.ID, app.ID, at(time.Hour)); err != nil {
		t.Fatalf("RevokeConsent(%d, %d) = %v", alice.ID, app.ID, err)
	}
	saveConsent(t, s, newConsent(alice.ID, app.ID, "a")) // approved again
	after := "RevokeConsent, then SaveConsent again"
	checkLive(t, s, after, "old-1", alice.ID, app.ID, false)
	checkLive(t, s, after, "old-2", alice.ID, app.ID, false)
	checkLive(t, s, after, "new", alice.ID, app.ID, true)
	checkLive(t, s, after, "bobs", bob.ID, app.ID, true)
}

// testPruneMarks checks that PruneGrants deletes the revocation marks made
// more than a day before before whose authorization has no grant left, and
// only those.
func testPruneMarks(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	alice := createUser(t, s, newUser("alice"))
	app := createClient(t, s, newClient("App"))
	saveConsent(t, s, newConsent(alice.ID, app.ID, "a"))
	markRevoked(t, s, "old", at(0))
	markRevoked(t, s, "day", at(time.Hour)) // exactly a day before: kept
	markRevoked(t, s, "new", at(2*time.Hour))
	// An old mark whose authorization still has a grant (a refresh token
	// that outlives the day): kept, whatever its age.
	markRevoked(t, s, "held", at(0))
	held := newGrant(latchkey.GrantRefresh, "held-sig", "held", alice.ID, app.ID)
	held.ExpiresAt = at(30 * 24 * time.Hour)
	createGrant(t, s, held)

	before := at(25 * time.Hour)
	n, err := s.PruneGrants(t.Context(), before)
	if err != nil || n != 0 {
		t.Fatalf("PruneGrants(25h) = %d, %v; want 0 (marks are not counted)", n, err)
	}
	after := "PruneGrants(25h)"
	checkLive(t, s, after, "old", alice.ID, app.ID, true)
	checkLive(t, s, after, "day", alice.ID, app.ID, false)
	checkLive(t, s, after, "new", alice.ID, app.ID, false)
	checkLive(t, s, after, "held", alice.ID, app.ID, false)
}

// The issuers and rounds of the races of testRevokeRace.
const (
	raceRounds  = 20
	raceIssuers = 8
)

// testRevokeRace runs issuers that follow the check-after-write protocol,
// each storing a token with CreateAccessToken, then asking
// AuthorizationLive and revoking what it stored when the answer is no,
// against a revocation of the authorization at the same moment. Whatever
// the interleaving, no token may be left unrevoked once both are done.
func testRevokeRace(t *testing.T, open func(t *testing.T) latchkey.Store) {
	// issue stores the token n of user and client under request, and
	// revokes the request's tokens unless the authorization is live.
	issue := func(t *testing.T, s latchkey.Store, n int, user, client int64, request string) {
		tok := newToken(n, user)
		tok.ClientID = client
		g := newGrant(latchkey.GrantAccess, tok.ID, request, user, client)
		if err := s.CreateAccessToken(t.Context(), tok, g); err != nil {
			t.Errorf("concurrent CreateAccessToken(%q) = %v", tok.ID, err)
			return
		}
		live, err := s.AuthorizationLive(t.Context(), request, user, client)
		if err != nil {
			t.Errorf("concurrent AuthorizationLive(%q, %d, %d) = %v", request, user, client, err)
			return
		}
		if !live {
			if _, err := s.RevokeRequestTokens(t.Context(), request, at(time.Hour), latchkey.ReasonAuthorizationEnded); err != nil {
				t.Errorf("concurrent RevokeRequestTokens(%q) = %v", request, err)
			}
		}
	}
	// checkAllRevoked reports an error for each token of ids not revoked.
	checkAllRevoked := func(t *testing.T, s latchkey.Store, round int, after string, ids []string) {
		t.Helper()
		for _, id := range ids {
			tok, err := s.Token(t.Context(), id)
			if err != nil {
				t.Fatalf("Token(%q) = %v", id, err)
			}
			if !tok.Revoked {
				t.Errorf("round %d: after %s and the issuers, Token(%q) is not revoked, want revoked", round, after, id)
			}
		}
	}

	// A person withdraws their consent while the application is issued
	// tokens under several authorizations.
	t.Run("Consent", func(t *testing.T) {
		s := open(t)
		app := createClient(t, s, newClient("App"))
		for round := range raceRounds {
			u := createUser(t, s, newUser(fmt.Sprintf("user%d", round)))
			saveConsent(t, s, newConsent(u.ID, app.ID, "a"))
			var ids []string
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range raceIssuers {
				n := round*raceIssuers + i + 1
				ids = append(ids, tokenID(n))
				request := fmt.Sprintf("request-%d-%d", round, i)
				wg.Go(func() {
					<-start
					issue(t, s, n, u.ID, app.ID, request)
				})
			}
			wg.Go(func() {
				<-start
				if _, err := s.RevokeConsent(t.Context(), u.ID, app.ID, at(time.Hour)); err != nil {
					t.Errorf("concurrent RevokeConsent(%d, %d) = %v", u.ID, app.ID, err)
				}
			})
			close(start)
			wg.Wait()
			checkAllRevoked(t, s, round, fmt.Sprintf("RevokeConsent(%d, %d)", u.ID, app.ID), ids)
			if t.Failed() {
				return
			}
		}
	})

	// A reused code or refresh token revokes its authorization while
	// tokens are issued under it.
	t.Run("Mark", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		saveConsent(t, s, newConsent(u.ID, app.ID, "a"))
		for round := range raceRounds {
			request := fmt.Sprintf("request-%d", round)
			var ids []string
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range raceIssuers {
				n := round*raceIssuers + i + 1
				ids = append(ids, tokenID(n))
				wg.Go(func() {
					<-start
					issue(t, s, n, u.ID, app.ID, request)
				})
			}
			wg.Go(func() {
				<-start
				if err := s.MarkRequestRevoked(t.Context(), request, at(time.Hour)); err != nil {
					t.Errorf("concurrent MarkRequestRevoked(%q) = %v", request, err)
					return
				}
				if _, err := s.RevokeRequestTokens(t.Context(), request, at(time.Hour), latchkey.ReasonAuthorizationEnded); err != nil {
					t.Errorf("concurrent RevokeRequestTokens(%q) = %v", request, err)
				}
			})
			close(start)
			wg.Wait()
			checkAllRevoked(t, s, round, fmt.Sprintf("MarkRequestRevoked(%q)", request), ids)
			if t.Failed() {
				return
			}
		}
	})
}
