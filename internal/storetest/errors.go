package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/storeerr"
)

// Errors runs the suite of the errors every store returns alike: for each
// failure a contract documents, the code and the caller-safe sentence
// (storeerr's), and an error whose text starts with name, the store's
// package ("sqlite", "postgres"), and a colon. open is as for Run.
//
//	func TestErrors(t *testing.T) {
//		storetest.Errors(t, "sqlite", func(t *testing.T) latchkey.Store { … })
//	}
func Errors(t *testing.T, name string, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	alice := createUser(t, s, newUser("alice"))
	bob := createUser(t, s, newUser("bob"))
	// carol was deleted, and another carol took her username.
	carol := createUser(t, s, newUser("carol"))
	deleteUser(t, s, carol, at(time.Hour))
	newCarol := newUser("carol")
	newCarol.Email = "carol.2@example.com"
	createUser(t, s, newCarol)
	tok := createToken(t, s, newToken(1, alice.ID))
	key := addKey(t, s, newKey(1, at(0)))
	used := createGrant(t, s, newGrant(latchkey.GrantCode, signature(1), "request-1", alice.ID, latchkey.PersonalAccessClientID))
	if err := s.DeactivateGrant(t.Context(), used.Kind, used.Signature); err != nil {
		t.Fatalf("DeactivateGrant(%q) = %v", used.Signature, err)
	}
	sess := createSession(t, s, newSession(1, alice.ID))
	metadataClient := newClient("Agent")
	metadataClient.MetadataURL = "https://agent.example.com/client.json"
	createClient(t, s, metadataClient)
	createWebhook(t, s, newWebhook(1, 0))
	createResource(t, s, newResource(1))
	note := addNotification(t, s, newNotification(alice.ID, tok.ID, 0))

	const nobody = 99 // neither a user nor a client
	grantOf := func(sig string, user, client int64) *latchkey.Grant {
		return newGrant(latchkey.GrantCode, sig, "request-2", user, client)
	}
	tokenOf := func(n int, user, client int64) *latchkey.Token {
		tok := newToken(n, user)
		tok.ClientID = client
		return tok
	}
	tests := []struct {
		name    string
		call    func(ctx context.Context) error
		code    string
		message string
	}{
		// Users
		{"DuplicateUsername", func(ctx context.Context) error {
			u := newUser("alice")
			u.Email = "other@example.com"
			return s.CreateUser(ctx, u)
		}, latchkey.ECONFLICT, storeerr.MsgUsernameTaken},
		{"DuplicateEmail", func(ctx context.Context) error {
			u := newUser("dave")
			u.Email = alice.Email
			return s.CreateUser(ctx, u)
		}, latchkey.ECONFLICT, storeerr.MsgEmailTaken},
		{"UpdateToTakenUsername", func(ctx context.Context) error {
			_, err := s.UpdateUser(ctx, bob.ID, latchkey.UserUpdate{Username: ptr(alice.Username)}, at(time.Hour))
			return err
		}, latchkey.ECONFLICT, storeerr.MsgUsernameTaken},
		{"UpdateToTakenEmail", func(ctx context.Context) error {
			_, err := s.UpdateUser(ctx, bob.ID, latchkey.UserUpdate{Email: ptr(alice.Email)}, at(time.Hour))
			return err
		}, latchkey.ECONFLICT, storeerr.MsgEmailTaken},
		{"NoUser", func(ctx context.Context) error {
			_, err := s.User(ctx, nobody)
			return err
		}, latchkey.ENOTFOUND, storeerr.MsgUserNotFound},
		{"NoUserByLogin", func(ctx context.Context) error {
			_, err := s.UserByLogin(ctx, "nobody")
			return err
		}, latchkey.ENOTFOUND, storeerr.MsgUserNotFound},
		{"UpdateNoUser", func(ctx context.Context) error {
			_, err := s.UpdateUser(ctx, nobody, latchkey.UserUpdate{FirstName: ptr("x")}, at(time.Hour))
			return err
		}, latchkey.ENOTFOUND, storeerr.MsgUserNotFound},
		{"DeleteNoUser", func(ctx context.Context) error {
			return s.DeleteUser(ctx, nobody, at(time.Hour))
		}, latchkey.ENOTFOUND, storeerr.MsgUserNotFound},
		{"RestoreUserNotDeleted", func(ctx context.Context) error {
			_, _, err := s.RestoreUser(ctx, alice.ID, at(time.Hour))
			return err
		}, latchkey.ENOTFOUND, storeerr.MsgDeletedUserNotFound},
		{"RestoreUserOverTakenName", func(ctx context.Context) error {
			_, _, err := s.RestoreUser(ctx, carol.ID, at(2*time.Hour))
			return err
		}, latchkey.ECONFLICT, storeerr.MsgUsernameTaken},

		// Clients
		{"ClientOfNobody", func(ctx context.Context) error {
			c := newClient("app")
			c.UserID = ptr(int64(nobody))
			return s.CreateClient(ctx, c)
		}, latchkey.ENOTFOUND, storeerr.MsgClientUserNotFound},
		{"NoClient", func(ctx context.Context) error {
			_, err := s.Client(ctx, nobody)
			return err
		}, latchkey.ENOTFOUND, storeerr.MsgClientNotFound},
		{"RevokeNoClient", func(ctx context.Context) error {
			_, err := s.RevokeClient(ctx, nobody, at(time.Hour))
			return err
		}, latchkey.ENOTFOUND, storeerr.MsgClientNotFound},
		{"DuplicateMetadataURL", func(ctx context.Context) error {
			c := newClient("again")
			c.MetadataURL = metadataClient.MetadataURL
			return s.CreateClient(ctx, c)
		}, latchkey.ECONFLICT, storeerr.MsgClientMetadataExists},
		{"NoClientByMetadataURL", func(ctx context.Context) error {
			_, err := s.ClientByMetadataURL(ctx, "https://nowhere.example.com/client.json")
			return err
		}, latchkey.ENOTFOUND, storeerr.MsgClientNotFound},
		{"UpdateNoClient", func(ctx context.Context) error {
			c := newClient("nobody's")
			c.ID = nobody
			return s.UpdateClient(ctx, c)
		}, latchkey.ENOTFOUND, storeerr.MsgClientNotFound},

		// Tokens
		{"DuplicateToken", func(ctx context.Context) error {
			return s.CreateToken(ctx, newToken(1, alice.ID))
		}, latchkey.ECONFLICT, storeerr.MsgTokenExists},
		{"TokenOfNobody", func(ctx context.Context) error {
			return s.CreateToken(ctx, newToken(2, nobody))
		}, latchkey.ENOTFOUND, storeerr.MsgTokenOwnerNotFound},
		{"TokenOfNoClient", func(ctx context.Context) error {
			return s.CreateToken(ctx, tokenOf(3, alice.ID, nobody))
		}, latchkey.ENOTFOUND, storeerr.MsgTokenOwnerNotFound},
		{"NoToken", func(ctx context.Context) error {
			_, err := s.Token(ctx, tokenID(404))
			return err
		}, latchkey.ENOTFOUND, storeerr.MsgTokenNotFound},
		{"NoCredential", func(ctx context.Context) error {
			_, err := s.Credential(ctx, tokenID(404))
			return err
		}, latchkey.ENOTFOUND, storeerr.MsgTokenNotFound},
		{"RevokeNoToken", func(ctx context.Context) error {
			_, _, err := s.RevokeToken(ctx, tokenID(404), at(time.Hour), latchkey.ReasonRevoked)
			return err
		}, latchkey.ENOTFOUND, storeerr.MsgTokenNotFound},
		{"UnknownOrder", func(ctx context.Context) error {
			_, _, err := s.Tokens(ctx, latchkey.TokenFilter{UserID: alice.ID, OrderBy: "id; DROP TABLE users"})
			return err
		}, latchkey.EINVALID, `Tokens cannot be ordered by "id; DROP TABLE users".`},

		// Keys
		{"DuplicateKey", func(ctx context.Context) error {
			return s.AddSigningKey(ctx, newKey(1, at(time.Hour)))
		}, latchkey.ECONFLICT, storeerr.MsgKeyExists},

		// Grants
		{"DuplicateGrant", func(ctx context.Context) error {
			return s.CreateGrant(ctx, grantOf(used.Signature, alice.ID, latchkey.PersonalAccessClientID))
		}, latchkey.ECONFLICT, storeerr.MsgGrantExists},
		{"GrantOfNobody", func(ctx context.Context) error {
			return s.CreateGrant(ctx, grantOf(signature(2), nobody, latchkey.PersonalAccessClientID))
		}, latchkey.ENOTFOUND, storeerr.MsgGrantOwnerNotFound},
		{"GrantOfNoClient", func(ctx context.Context) error {
			return s.CreateGrant(ctx, grantOf(signature(3), alice.ID, nobody))
		}, latchkey.ENOTFOUND, storeerr.MsgGrantOwnerNotFound},
		{"NoGrant", func(ctx context.Context) error {
			_, err := s.Grant(ctx, latchkey.GrantCode, signature(404))
			return err
		}, latchkey.ENOTFOUND, storeerr.MsgGrantNotFound},
		{"DeactivateNoGrant", func(ctx context.Context) error {
			return s.DeactivateGrant(ctx, latchkey.GrantCode, signature(404))
		}, latchkey.ENOTFOUND, storeerr.MsgGrantNotFound},
		{"DeactivateInactiveGrant", func(ctx context.Context) error {
			return s.DeactivateGrant(ctx, used.Kind, used.Signature)
		}, latchkey.ECONFLICT, storeerr.MsgGrantInactive},
		{"AccessTokenOfNobody", func(ctx context.Context) error {
			t := newToken(4, nobody)
			return s.CreateAccessToken(ctx, t, newGrant(latchkey.GrantAccess, t.ID, "request-3", nobody, latchkey.PersonalAccessClientID))
		}, latchkey.ENOTFOUND, storeerr.MsgTokenOwnerNotFound},
		{"AccessTokenOfDuplicateGrant", func(ctx context.Context) error {
			return s.CreateAccessToken(ctx, newToken(5, alice.ID),
				newGrant(used.Kind, used.Signature, "request-3", alice.ID, latchkey.PersonalAccessClientID))
		}, latchkey.ECONFLICT, storeerr.MsgGrantExists},

		// Consents
		{"ConsentOfNobody", func(ctx context.Context) error {
			return s.SaveConsent(ctx, &latchkey.Consent{UserID: nobody, ClientID: latchkey.PersonalAccessClientID, CreatedAt: at(0), UpdatedAt: at(0)})
		}, latchkey.ENOTFOUND, storeerr.MsgConsentOwnerNotFound},
		{"ConsentToNoClient", func(ctx context.Context) error {
			return s.SaveConsent(ctx, &latchkey.Consent{UserID: alice.ID, ClientID: nobody, CreatedAt: at(0), UpdatedAt: at(0)})
		}, latchkey.ENOTFOUND, storeerr.MsgConsentOwnerNotFound},
		{"NoConsent", func(ctx context.Context) error {
			_, err := s.Consent(ctx, alice.ID, latchkey.PersonalAccessClientID)
			return err
		}, latchkey.ENOTFOUND, storeerr.MsgConsentNotFound},
		{"RevokeNoConsent", func(ctx context.Context) error {
			_, err := s.RevokeConsent(ctx, alice.ID, latchkey.PersonalAccessClientID, at(time.Hour))
			return err
		}, latchkey.ENOTFOUND, storeerr.MsgConsentNotFound},

		// Sessions
		{"DuplicateSession", func(ctx context.Context) error {
			return s.CreateSession(ctx, newSession(1, alice.ID))
		}, latchkey.ECONFLICT, storeerr.MsgSessionExists},
		{"SessionOfNobody", func(ctx context.Context) error {
			return s.CreateSession(ctx, newSession(2, nobody))
		}, latchkey.ENOTFOUND, storeerr.MsgSessionUserNotFound},
		{"NoSession", func(ctx context.Context) error {
			_, err := s.Session(ctx, signature(404))
			return err
		}, latchkey.ENOTFOUND, storeerr.MsgSessionNotFound},

		// Resources
		{"DuplicateResource", func(ctx context.Context) error {
			r := newResource(1)
			r.Name = "Another name"
			return s.CreateResource(ctx, r)
		}, latchkey.ECONFLICT, storeerr.MsgResourceExists},
		{"NoResource", func(ctx context.Context) error {
			_, err := s.Resource(ctx, newResource(404).URI)
			return err
		}, latchkey.ENOTFOUND, storeerr.MsgResourceNotFound},
		{"NoResourceUnstorable", func(ctx context.Context) error {
			_, err := s.Resource(ctx, "https://mcp.example.com/\x00")
			return err
		}, latchkey.ENOTFOUND, storeerr.MsgResourceNotFound},
		{"DeleteNoResource", func(ctx context.Context) error {
			_, err := s.DeleteResource(ctx, 404, at(time.Hour))
			return err
		}, latchkey.ENOTFOUND, storeerr.MsgResourceNotFound},

		// The outbox
		{"DuplicateWebhook", func(ctx context.Context) error {
			return s.CreateWebhook(ctx, newWebhook(1, time.Hour))
		}, latchkey.ECONFLICT, storeerr.MsgWebhookExists},
		{"DeleteNoWebhook", func(ctx context.Context) error {
			return s.DeleteWebhook(ctx, newWebhook(404, 0).ID)
		}, latchkey.ENOTFOUND, storeerr.MsgWebhookNotFound},
		{"FanOutToNoWebhook", func(ctx context.Context) error {
			_, err := s.FanOut(ctx, note.ID, []byte("{}"), []*latchkey.Delivery{hookTo(newWebhook(404, 0), 0)})
			return err
		}, latchkey.ENOTFOUND, storeerr.MsgWebhookNotFound},
		{"MailOffOfNobody", func(ctx context.Context) error {
			return s.SetMailOff(ctx, nobody, nil)
		}, latchkey.ENOTFOUND, storeerr.MsgUserNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkError(t, tt.name, tt.call(t.Context()), name, tt.code, tt.message)
		})
	}

	// The fixtures the failed calls named are as they were.
	if got, err := s.Token(t.Context(), tok.ID); err != nil || got.Revoked {
		t.Errorf("after the failures, Token(%q) = %+v, %v; want it live", tok.ID, got, err)
	}
	if got, err := s.Session(t.Context(), sess.ID); err != nil || got.UserID != alice.ID {
		t.Errorf("after the failures, Session(%q) = %+v, %v; want alice's", sess.ID, got, err)
	}
	if keys := signingKeys(t, s); len(keys) != 1 || keys[0].ID != key.ID || keys[0].RetiredAt != nil {
		t.Errorf("after the failures, SigningKeys() = %v, want %q alone, signing", keyIDs(keys), key.ID)
	}

	t.Run("Unstorable", func(t *testing.T) {
		// Text with a NUL byte: a store keeps it as given, or refuses it
		// with EINVALID; it never stores something else.
		u := newUser("nul\x00")
		err := s.CreateUser(t.Context(), u)
		if err != nil {
			checkError(t, "CreateUser(NUL)", err, name, latchkey.EINVALID, storeerr.MsgUnstorable)
			return
		}
		got, err := s.User(t.Context(), u.ID)
		if err != nil || got.Username != u.Username {
			t.Errorf("User(%d) = %+v, %v; want the username %q as stored", u.ID, got, err, u.Username)
		}
	})
}

// checkError reports an error unless err has the code and the caller-safe
// message, and its text starts with prefix and a colon.
func checkError(t *testing.T, call string, err error, prefix, code, message string) {
	t.Helper()
	if got := latchkey.ErrorCode(err); got != code {
		t.Errorf("%s = %v, code %q; want code %q", call, err, got, code)
	}
	if got := latchkey.ErrorMessage(err); got != message {
		t.Errorf("%s = %v, message %q; want %q", call, err, got, message)
	}
	if err != nil && !strings.HasPrefix(err.Error(), prefix+": ") {
		t.Errorf("%s = %q, want the text to start with %q", call, err, prefix+": ")
	}
}
