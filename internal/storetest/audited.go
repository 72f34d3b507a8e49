package storetest

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// An auditedChange is a store method that makes a change with its audit
// records (see latchkey.AuditStore), on a store that setup prepared.
type auditedChange struct {
	name string
	// setup prepares s without writing any audit record, and returns the
	// change, made by calling do with the records to write; made, which
	// reports whether the change is in the store; and, where the store
	// decides what the records are about, the subject ids of the records
	// it writes for one record given, once do has returned nil (nil: the
	// record is written with the subject it was given).
	setup func(t *testing.T, s latchkey.Store) (do func(rs ...*latchkey.AuditRecord) error, made func() bool, subjects func() []string)
}

// auditedChanges lists every store method that takes audit records.
func auditedChanges() []auditedChange {
	tokenRevoked := func(t *testing.T, s latchkey.Store, id string) func() bool {
		return func() bool {
			tok, err := s.Token(t.Context(), id)
			if err != nil {
				t.Fatalf("Token(%q) = %v", id, err)
			}
			return tok.Revoked
		}
	}
	return []auditedChange{
		{"CreateUser", func(t *testing.T, s latchkey.Store) (func(...*latchkey.AuditRecord) error, func() bool, func() []string) {
			u := newUser("alice")
			return func(rs ...*latchkey.AuditRecord) error { return s.CreateUser(t.Context(), u, rs...) },
				func() bool {
					_, err := s.UserByLogin(t.Context(), "alice")
					return err == nil
				},
				func() []string { return []string{strconv.FormatInt(u.ID, 10)} }
		}},
		{"UpdateUser", func(t *testing.T, s latchkey.Store) (func(...*latchkey.AuditRecord) error, func() bool, func() []string) {
			u := createUser(t, s, newUser("alice"))
			return func(rs ...*latchkey.AuditRecord) error {
					_, err := s.UpdateUser(t.Context(), u.ID, latchkey.UserUpdate{FirstName: ptr("Alicia")}, at(time.Hour), rs...)
					return err
				},
				func() bool {
					got, err := s.User(t.Context(), u.ID)
					if err != nil {
						t.Fatalf("User(%d) = %v", u.ID, err)
					}
					return got.FirstName == "Alicia"
				},
				nil
		}},
		{"DeleteUser", func(t *testing.T, s latchkey.Store) (func(...*latchkey.AuditRecord) error, func() bool, func() []string) {
			u := createUser(t, s, newUser("alice"))
			return func(rs ...*latchkey.AuditRecord) error { return s.DeleteUser(t.Context(), u.ID, at(time.Hour), rs...) },
				func() bool {
					got, err := s.User(t.Context(), u.ID)
					if err != nil {
						t.Fatalf("User(%d) = %v", u.ID, err)
					}
					return got.Deleted()
				},
				nil
		}},
		{"RestoreUser", func(t *testing.T, s latchkey.Store) (func(...*latchkey.AuditRecord) error, func() bool, func() []string) {
			u := createUser(t, s, newUser("alice"))
			tok := createToken(t, s, newToken(1, u.ID))
			deleteUser(t, s, u, at(time.Minute))
			return func(rs ...*latchkey.AuditRecord) error {
					_, _, err := s.RestoreUser(t.Context(), u.ID, at(time.Hour), rs...)
					return err
				},
				func() bool {
					got, err := s.User(t.Context(), u.ID)
					if err != nil {
						t.Fatalf("User(%d) = %v", u.ID, err)
					}
					return !got.Deleted() || tokenRevoked(t, s, tok.ID)()
				},
				// A token revocation's record, once for each token revoked.
				func() []string { return []string{tok.ID} }
		}},
		{"CreateClient", func(t *testing.T, s latchkey.Store) (func(...*latchkey.AuditRecord) error, func() bool, func() []string) {
			c := newClient("app")
			return func(rs ...*latchkey.AuditRecord) error { return s.CreateClient(t.Context(), c, rs...) },
				func() bool {
					cs, err := s.Clients(t.Context())
					if err != nil {
						t.Fatalf("Clients() = %v", err)
					}
					return len(cs) == 2
				},
				func() []string { return []string{strconv.FormatInt(c.ID, 10)} }
		}},
		{"RevokeClient", func(t *testing.T, s latchkey.Store) (func(...*latchkey.AuditRecord) error, func() bool, func() []string) {
			c := createClient(t, s, newClient("app"))
			return func(rs ...*latchkey.AuditRecord) error {
					_, err := s.RevokeClient(t.Context(), c.ID, at(time.Hour), rs...)
					return err
				},
				func() bool {
					got, err := s.Client(t.Context(), c.ID)
					if err != nil {
						t.Fatalf("Client(%d) = %v", c.ID, err)
					}
					return got.Revoked
				},
				nil
		}},
		{"UpdateClient", func(t *testing.T, s latchkey.Store) (func(...*latchkey.AuditRecord) error, func() bool, func() []string) {
			c := createClient(t, s, newClient("app"))
			changed := *c
			changed.Name, changed.UpdatedAt = "renamed", at(time.Hour)
			return func(rs ...*latchkey.AuditRecord) error { return s.UpdateClient(t.Context(), &changed, rs...) },
				func() bool {
					got, err := s.Client(t.Context(), c.ID)
					if err != nil {
						t.Fatalf("Client(%d) = %v", c.ID, err)
					}
					return got.Name == "renamed"
				},
				func() []string { return []string{strconv.FormatInt(c.ID, 10)} }
		}},
		{"CreateToken", func(t *testing.T, s latchkey.Store) (func(...*latchkey.AuditRecord) error, func() bool, func() []string) {
			u := createUser(t, s, newUser("alice"))
			tok := newToken(1, u.ID)
			return func(rs ...*latchkey.AuditRecord) error { return s.CreateToken(t.Context(), tok, rs...) },
				func() bool {
					_, err := s.Token(t.Context(), tok.ID)
					return err == nil
				},
				nil
		}},
		{"RevokeToken", func(t *testing.T, s latchkey.Store) (func(...*latchkey.AuditRecord) error, func() bool, func() []string) {
			u := createUser(t, s, newUser("alice"))
			tok := createToken(t, s, newToken(1, u.ID))
			return func(rs ...*latchkey.AuditRecord) error {
					_, _, err := s.RevokeToken(t.Context(), tok.ID, at(time.Hour), latchkey.ReasonRevoked, rs...)
					return err
				},
				tokenRevoked(t, s, tok.ID),
				nil
		}},
		{"AddSigningKey", func(t *testing.T, s latchkey.Store) (func(...*latchkey.AuditRecord) error, func() bool, func() []string) {
			if err := s.AddSigningKey(t.Context(), newKey(1, at(0))); err != nil {
				t.Fatalf("AddSigningKey(kid-1) = %v", err)
			}
			return func(rs ...*latchkey.AuditRecord) error {
					return s.AddSigningKey(t.Context(), newKey(2, at(time.Hour)), rs...)
				},
				func() bool {
					ks, err := s.SigningKeys(t.Context())
					if err != nil {
						t.Fatalf("SigningKeys() = %v", err)
					}
					// Both halves: the new key stored, the old one retired.
					return len(ks) == 2 && ks[1].RetiredAt != nil
				},
				nil
		}},
		{"CreateAccessToken", func(t *testing.T, s latchkey.Store) (func(...*latchkey.AuditRecord) error, func() bool, func() []string) {
			u := createUser(t, s, newUser("alice"))
			c := createClient(t, s, newClient("app"))
			tok := newToken(1, u.ID)
			tok.ClientID = c.ID
			g := newGrant(latchkey.GrantAccess, tok.ID, "request-1", u.ID, c.ID)
			return func(rs ...*latchkey.AuditRecord) error { return s.CreateAccessToken(t.Context(), tok, g, rs...) },
				func() bool {
					_, err := s.Token(t.Context(), tok.ID)
					_, gerr := s.Grant(t.Context(), latchkey.GrantAccess, tok.ID)
					return err == nil || gerr == nil
				},
				nil
		}},
		{"RevokeRequestTokens", func(t *testing.T, s latchkey.Store) (func(...*latchkey.AuditRecord) error, func() bool, func() []string) {
			u := createUser(t, s, newUser("alice"))
			c := createClient(t, s, newClient("app"))
			t1, _ := issueToken(t, s, 1, u.ID, c.ID, "request-1")
			t2, _ := issueToken(t, s, 2, u.ID, c.ID, "request-1")
			issueToken(t, s, 3, u.ID, c.ID, "request-2")
			return func(rs ...*latchkey.AuditRecord) error {
					_, err := s.RevokeRequestTokens(t.Context(), "request-1", at(time.Hour), latchkey.ReasonAuthorizationEnded, rs...)
					return err
				},
				func() bool { return tokenRevoked(t, s, t1.ID)() || tokenRevoked(t, s, t2.ID)() },
				func() []string { return []string{t1.ID, t2.ID} }
		}},
		{"RevokeConsent", func(t *testing.T, s latchkey.Store) (func(...*latchkey.AuditRecord) error, func() bool, func() []string) {
			u := createUser(t, s, newUser("alice"))
			c := createClient(t, s, newClient("app"))
			saveConsent(t, s, newConsent(u.ID, c.ID))
			t1, _ := issueToken(t, s, 1, u.ID, c.ID, "request-1")
			t2, _ := issueToken(t, s, 2, u.ID, c.ID, "request-2")
			return func(rs ...*latchkey.AuditRecord) error {
					_, err := s.RevokeConsent(t.Context(), u.ID, c.ID, at(time.Hour), rs...)
					return err
				},
				func() bool {
					_, err := s.Consent(t.Context(), u.ID, c.ID)
					return latchkey.ErrorCode(err) == latchkey.ENOTFOUND || tokenRevoked(t, s, t1.ID)() || tokenRevoked(t, s, t2.ID)()
				},
				func() []string { return []string{t1.ID, t2.ID} }
		}},
		{"SaveConsent", func(t *testing.T, s latchkey.Store) (func(...*latchkey.AuditRecord) error, func() bool, func() []string) {
			u := createUser(t, s, newUser("alice"))
			c := createClient(t, s, newClient("app"))
			return func(rs ...*latchkey.AuditRecord) error {
					return s.SaveConsent(t.Context(), newConsent(u.ID, c.ID, "a"), rs...)
				},
				func() bool {
					_, err := s.Consent(t.Context(), u.ID, c.ID)
					return err == nil
				},
				nil
		}},
		{"CreateWebhook", func(t *testing.T, s latchkey.Store) (func(...*latchkey.AuditRecord) error, func() bool, func() []string) {
			return func(rs ...*latchkey.AuditRecord) error { return s.CreateWebhook(t.Context(), newWebhook(1, 0), rs...) },
				func() bool {
					ws, err := s.Webhooks(t.Context())
					if err != nil {
						t.Fatalf("Webhooks() = %v", err)
					}
					return len(ws) == 1
				},
				nil
		}},
		{"DeleteWebhook", func(t *testing.T, s latchkey.Store) (func(...*latchkey.AuditRecord) error, func() bool, func() []string) {
			w := createWebhook(t, s, newWebhook(1, 0))
			u := createUser(t, s, newUser("alice"))
			n := addNotification(t, s, newNotification(u.ID, "", 0))
			fanOut(t, s, n.ID, "{}", hookTo(w, 0))
			return func(rs ...*latchkey.AuditRecord) error { return s.DeleteWebhook(t.Context(), w.ID, rs...) },
				func() bool {
					ws, err := s.Webhooks(t.Context())
					if err != nil {
						t.Fatalf("Webhooks() = %v", err)
					}
					// Either half: the webhook gone, or its pending delivery.
					return len(ws) == 0 || len(deliveries(t, s, w.ID)) == 0
				},
				nil
		}},
		{"CreateResource", func(t *testing.T, s latchkey.Store) (func(...*latchkey.AuditRecord) error, func() bool, func() []string) {
			r := newResource(1)
			return func(rs ...*latchkey.AuditRecord) error { return s.CreateResource(t.Context(), r, rs...) },
				func() bool {
					list, err := s.Resources(t.Context())
					if err != nil {
						t.Fatalf("Resources() = %v", err)
					}
					return len(list) == 1
				},
				func() []string { return []string{strconv.FormatInt(r.ID, 10)} }
		}},
		{"DeleteResource", func(t *testing.T, s latchkey.Store) (func(...*latchkey.AuditRecord) error, func() bool, func() []string) {
			r := createResource(t, s, newResource(1))
			return func(rs ...*latchkey.AuditRecord) error {
					_, err := s.DeleteResource(t.Context(), r.ID, at(time.Hour), rs...)
					return err
				},
				func() bool {
					list, err := s.Resources(t.Context())
					if err != nil {
						t.Fatalf("Resources() = %v", err)
					}
					return len(list) == 0
				},
				nil
		}},
		{"CreateSession", func(t *testing.T, s latchkey.Store) (func(...*latchkey.AuditRecord) error, func() bool, func() []string) {
			u := createUser(t, s, newUser("alice"))
			sess := newSession(1, u.ID)
			return func(rs ...*latchkey.AuditRecord) error { return s.CreateSession(t.Context(), sess, rs...) },
				func() bool {
					_, err := s.Session(t.Context(), sess.ID)
					return err == nil
				},
				nil
		}},
	}
}

// newAuditRecord returns the record a test hands a change: about subject,
// by the system, from a client whose User-Agent is not ASCII.
func newAuditRecord(subject string) *latchkey.AuditRecord {
	return &latchkey.AuditRecord{
		At: at(time.Hour), Action: latchkey.AuditTokenRevoked, Actor: latchkey.ActorSystem,
		SubjectID: subject, Origin: latchkey.Origin{Address: "192.0.2.9", UserAgent: "curl/8 ünïcode"}, Detail: "why",
	}
}

// testAuditedChanges checks that each change and its audit records land
// together, the store filling the subject where the change decides it.
func testAuditedChanges(t *testing.T, open func(t *testing.T) latchkey.Store) {
	for _, c := range auditedChanges() {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			do, made, subjects := c.setup(t, s)
			r := newAuditRecord("")
			if subjects == nil {
				r.SubjectID = "given"
				subjects = func() []string { return []string{"given"} }
			}
			if err := do(r); err != nil {
				t.Fatalf("%s(with a record) = %v", c.name, err)
			}
			if !made() {
				t.Errorf("%s(with a record) = nil, but the change is not stored", c.name)
			}
			got, err := s.AuditRecords(t.Context(), latchkey.AuditFilter{})
			if err != nil {
				t.Fatal(err)
			}
			var gotSubjects []string
			for _, g := range got {
				gotSubjects = append(gotSubjects, g.SubjectID)
				if g.Actor != latchkey.ActorSystem || g.UserAgent != "curl/8 ünïcode" || g.Detail != "why" || !g.At.Equal(at(time.Hour)) {
					t.Errorf("%s wrote %+v, want the record given", c.name, g)
				}
			}
			want := subjects()
			slices.Sort(gotSubjects)
			slices.Sort(want)
			if !slices.Equal(gotSubjects, want) {
				t.Errorf("%s wrote records about %q, want %q", c.name, gotSubjects, want)
			}
		})
	}
	t.Run("RevokeTokenRevoked", func(t *testing.T) {
		// A revoke that changes nothing records nothing.
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		tok := createToken(t, s, newToken(1, u.ID))
		if _, revoked, err := s.RevokeToken(t.Context(), tok.ID, at(time.Hour), latchkey.ReasonRevoked, newAuditRecord(tok.ID)); err != nil || len(revoked) != 1 {
			t.Fatalf("RevokeToken(%q) = %d revoked, %v; want 1", tok.ID, len(revoked), err)
		}
		got, revoked, err := s.RevokeToken(t.Context(), tok.ID, at(2*time.Hour), latchkey.ReasonRevoked, newAuditRecord(tok.ID))
		if err != nil || len(revoked) != 0 || !got.Revoked {
			t.Fatalf("second RevokeToken(%q) = revoked %t, %d revoked, %v; want the revoked token, none, nil", tok.ID, got != nil && got.Revoked, len(revoked), err)
		}
		records, err := s.AuditRecords(t.Context(), latchkey.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(records) != 1 {
			t.Errorf("after revoking a token twice, %d audit records, want 1", len(records))
		}
	})
}

// AuditFailure checks that a change whose audit record cannot be written
// is not made, and that the error comes back (see latchkey.AuditStore).
// refuse makes the store's audit log refuse every write from then on, as
// the backend can (a trigger, say); open is as for Run.
func AuditFailure(t *testing.T, open func(t *testing.T) latchkey.Store, refuse func(t *testing.T, s latchkey.Store)) {
	for _, c := range auditedChanges() {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			do, made, _ := c.setup(t, s)
			refuse(t, s)
			if err := do(newAuditRecord("x")); err == nil {
				t.Fatalf("%s(with a record the store cannot write) = nil, want an error", c.name)
			}
			if made() {
				t.Errorf("%s failed to write its record, but the change is stored", c.name)
			}
		})
	}
	t.Run("RecordAudit", func(t *testing.T) {
		s := open(t)
		refuse(t, s)
		if err := s.RecordAudit(t.Context(), newAuditRecord("x")); err == nil {
			t.Error("RecordAudit(refused) = nil, want an error")
		}
	})
	t.Run("Notification", func(t *testing.T) { auditRefusedNotified(t, open, refuse) })
}
