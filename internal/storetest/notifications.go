package storetest

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/latchkey/latchkey"
)

// msgIDPattern is what a notification's MsgID looks like.
var msgIDPattern = regexp.MustCompile(`^msg_[a-z2-7]{26}$`)

// newNotification returns a reminder that user's token expires, at d
// after the epoch.
func newNotification(user int64, token string, d time.Duration) *latchkey.Notification {
	return &latchkey.Notification{
		Type: latchkey.NoteTokenExpiring, At: at(d), UserID: user, TokenID: token,
		Actor: latchkey.ActorSystem, Detail: "7 days",
	}
}

// addNotification stores n and returns it.
func addNotification(t testing.TB, s latchkey.Store, n *latchkey.Notification) *latchkey.Notification {
	t.Helper()
	added, err := s.AddNotification(t.Context(), n)
	if err != nil || !added {
		t.Fatalf("AddNotification(%s for user %d) = %t, %v; want true, nil", n.Type, n.UserID, added, err)
	}
	return n
}

// newNotifications returns s.NewNotifications, all of them.
func newNotifications(t testing.TB, s latchkey.Store) []*latchkey.NotificationInfo {
	t.Helper()
	infos, err := s.NewNotifications(t.Context(), 0)
	if err != nil {
		t.Fatalf("NewNotifications() = %v", err)
	}
	return infos
}

// notificationsOf returns the notifications of infos.
func notificationsOf(infos []*latchkey.NotificationInfo) []*latchkey.Notification {
	out := make([]*latchkey.Notification, len(infos))
	for i, info := range infos {
		out[i] = info.Notification
	}
	return out
}

// newWebhook returns the n-th webhook of the fixtures, created d after the
// epoch, for events.
func newWebhook(n int, d time.Duration, events ...latchkey.NotificationType) *latchkey.Webhook {
	return &latchkey.Webhook{
		ID:        fmt.Sprintf("wh_%026d", n),
		URL:       fmt.Sprintf("https://hooks.example.com/%d", n),
		Events:    events,
		Secret:    []byte{0x00, 0x01, byte(n), 0xfe, 0xff, 0x00},
		CreatedAt: at(d),
	}
}

// createWebhook stores w and returns it.
func createWebhook(t testing.TB, s latchkey.Store, w *latchkey.Webhook) *latchkey.Webhook {
	t.Helper()
	if err := s.CreateWebhook(t.Context(), w); err != nil {
		t.Fatalf("CreateWebhook(%q) = %v", w.ID, err)
	}
	return w
}

// mailTo returns a delivery of mail to address, created d after the epoch.
func mailTo(address string, d time.Duration) *latchkey.Delivery {
	return &latchkey.Delivery{Recipient: address, CreatedAt: at(d)}
}

// hookTo returns a delivery to the webhook w, created d after the epoch.
func hookTo(w *latchkey.Webhook, d time.Duration) *latchkey.Delivery {
	return &latchkey.Delivery{WebhookID: w.ID, Recipient: w.URL, CreatedAt: at(d)}
}

// fanOut fans the notification id out to ds, and returns them.
func fanOut(t testing.TB, s latchkey.Store, id int64, body string, ds ...*latchkey.Delivery) []*latchkey.Delivery {
	t.Helper()
	ok, err := s.FanOut(t.Context(), id, []byte(body), ds)
	if err != nil || !ok {
		t.Fatalf("FanOut(%d) = %t, %v; want true, nil", id, ok, err)
	}
	return ds
}

// deliveries returns s.Deliveries(webhookID), all of them.
func deliveries(t testing.TB, s latchkey.Store, webhookID string) []*latchkey.Delivery {
	t.Helper()
	ds, err := s.Deliveries(t.Context(), webhookID, 0)
	if err != nil {
		t.Fatalf("Deliveries(%q) = %v", webhookID, err)
	}
	return ds
}

// deliveryIDs returns the ids of ds, in order.
func deliveryIDs(ds []*latchkey.Delivery) []int64 {
	out := []int64{}
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

// deliveryByID returns the delivery id as Deliveries reads it.
func deliveryByID(t testing.TB, s latchkey.Store, id int64) *latchkey.Delivery {
	t.Helper()
	for _, d := range deliveries(t, s, "") {
		if d.ID == id {
			return d
		}
	}
	t.Fatalf("Deliveries() has no delivery %d", id)
	return nil
}

// claim claims for server at now, until until, and returns the ids.
func claim(t testing.TB, s latchkey.Store, server string, now, until time.Time, most int) []int64 {
	t.Helper()
	ds, err := s.ClaimDeliveries(t.Context(), server, now, until, most)
	if err != nil {
		t.Fatalf("ClaimDeliveries(%q) = %v", server, err)
	}
	return deliveryIDs(ds)
}

// outboxFixture is a store with a user and a token, a notification about
// it, and a webhook.
type outboxFixture struct {
	s     latchkey.Store
	alice *latchkey.User
	tok   *latchkey.Token
	note  *latchkey.Notification
	hook  *latchkey.Webhook
}

func newOutboxFixture(t *testing.T, open func(t *testing.T) latchkey.Store) *outboxFixture {
	t.Helper()
	s := open(t)
	alice := createUser(t, s, newUser("alice"))
	tok := createToken(t, s, newToken(1, alice.ID))
	return &outboxFixture{
		s:     s,
		alice: alice,
		tok:   tok,
		note:  addNotification(t, s, newNotification(alice.ID, tok.ID, time.Hour)),
		hook:  createWebhook(t, s, newWebhook(1, 0)),
	}
}

// pending returns n deliveries of f's notification, fanned out, due 1
// to n minutes after the epoch, mail and the webhook by turns.
func (f *outboxFixture) pending(t *testing.T, n int) []*latchkey.Delivery {
	t.Helper()
	var ds []*latchkey.Delivery
	for i := range n {
		d := mailTo(f.alice.Email, time.Hour)
		if i%2 == 1 {
			d = hookTo(f.hook, time.Hour)
		}
		d.NextAt = at(time.Duration(i+1) * time.Minute)
		ds = append(ds, d)
	}
	return fanOut(t, f.s, f.note.ID, `{"type":"token.expiring"}`, ds...)
}

func testNotifications(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("Audited", func(t *testing.T) { testNotifyAudited(t, open) })
	t.Run("AddNotification", func(t *testing.T) { testAddNotification(t, open) })
	t.Run("NewNotifications", func(t *testing.T) { testNewNotifications(t, open) })
	t.Run("FanOut", func(t *testing.T) { testFanOut(t, open) })
	t.Run("ClaimDeliveries", func(t *testing.T) { testClaimDeliveries(t, open) })
	t.Run("RecordAttempt", func(t *testing.T) { testRecordAttempt(t, open) })
	t.Run("Deliveries", func(t *testing.T) { testDeliveries(t, open) })
	t.Run("OutboxStats", func(t *testing.T) { testOutboxStats(t, open) })
	t.Run("PruneOutbox", func(t *testing.T) { testPruneOutbox(t, open) })
	t.Run("ExpiringTokens", func(t *testing.T) { testExpiringTokens(t, open) })
	t.Run("Webhooks", func(t *testing.T) { testWebhooks(t, open) })
	t.Run("DeleteWebhook", func(t *testing.T) { testDeleteWebhook(t, open) })
	t.Run("MailOff", func(t *testing.T) { testMailOff(t, open) })
}

// notifyRecord returns a record of action about subject, a thing of user,
// by actor (the user actorUser, for ActorUser), that notifies of typ.
func notifyRecord(action latchkey.AuditAction, typ latchkey.NotificationType, user int64, subject string, actor latchkey.AuditActor, actorUser *int64) *latchkey.AuditRecord {
	return &latchkey.AuditRecord{
		At: at(time.Hour), Action: action, Actor: actor, ActorUserID: actorUser,
		SubjectUserID: ptr(user), SubjectID: subject, Detail: "why", Notify: typ,
	}
}

// testNotifyAudited checks that every audited change writes the
// notification of each of its records (latchkey.NotificationOf) with it.
func testNotifyAudited(t *testing.T, open func(t *testing.T) latchkey.Store) {
	ignoreIDs := cmpopts.IgnoreFields(latchkey.Notification{}, "ID", "MsgID")

	t.Run("RevokeTokenByOperator", func(t *testing.T) {
		s := open(t)
		alice := createUser(t, s, newUser("alice"))
		tok := createToken(t, s, newToken(1, alice.ID))
		r := notifyRecord(latchkey.AuditTokenRevoked, latchkey.NoteTokenRevoked, alice.ID, tok.ID, latchkey.ActorOperator, nil)
		if _, _, err := s.RevokeToken(t.Context(), tok.ID, at(time.Hour), latchkey.ReasonRevoked, r); err != nil {
			t.Fatalf("RevokeToken(%q) = %v", tok.ID, err)
		}
		infos := newNotifications(t, s)
		want := []*latchkey.Notification{{
			Type: latchkey.NoteTokenRevoked, At: at(time.Hour), UserID: alice.ID, TokenID: tok.ID,
			Actor: latchkey.ActorOperator, AuditID: r.ID, Detail: "why",
		}}
		if diff := cmp.Diff(want, notificationsOf(infos), ignoreIDs); diff != "" {
			t.Fatalf("after RevokeToken by the operator, NewNotifications() mismatch (-want +got):\n%s", diff)
		}
		if !msgIDPattern.MatchString(infos[0].MsgID) || infos[0].ID == 0 {
			t.Errorf("NewNotifications()[0] has ID %d, MsgID %q; want an id and a MsgID matching %s", infos[0].ID, infos[0].MsgID, msgIDPattern)
		}
		stored, err := s.Token(t.Context(), tok.ID)
		if err != nil {
			t.Fatalf("Token(%q) = %v", tok.ID, err)
		}
		if diff := cmp.Diff(stored, infos[0].Token); diff != "" {
			t.Errorf("NewNotifications()[0].Token mismatch (-want +got):\n%s", diff)
		}
		if infos[0].Token != nil && infos[0].Token.RevokedReason != latchkey.ReasonRevoked {
			t.Errorf("NewNotifications()[0].Token.RevokedReason = %q, want %q", infos[0].Token.RevokedReason, latchkey.ReasonRevoked)
		}
	})

	t.Run("RevokeTokenByOwner", func(t *testing.T) {
		s := open(t)
		alice := createUser(t, s, newUser("alice"))
		tok := createToken(t, s, newToken(1, alice.ID))
		r := notifyRecord(latchkey.AuditTokenRevoked, latchkey.NoteTokenRevoked, alice.ID, tok.ID, latchkey.ActorUser, ptr(alice.ID))
		if _, _, err := s.RevokeToken(t.Context(), tok.ID, at(time.Hour), latchkey.ReasonRevoked, r); err != nil {
			t.Fatalf("RevokeToken(%q) = %v", tok.ID, err)
		}
		if infos := newNotifications(t, s); len(infos) != 0 {
			t.Errorf("after RevokeToken by its owner, NewNotifications() = %d notifications, want none", len(infos))
		}
		if records, err := s.AuditRecords(t.Context(), latchkey.AuditFilter{}); err != nil || len(records) != 1 {
			t.Errorf("after RevokeToken by its owner, AuditRecords() = %d records, %v; want 1", len(records), err)
		}
	})

	t.Run("RevokeFamilyByAdmin", func(t *testing.T) {
		// Many records in one change: the parent's, and the child's,
		// revoked with it, each with its notification.
		s := open(t)
		alice := createUser(t, s, newUser("alice"))
		admin := createUser(t, s, newUser("admin"))
		parent := createToken(t, s, newToken(1, alice.ID))
		child := createToken(t, s, childOf(2, alice.ID, parent))
		r := notifyRecord(latchkey.AuditTokenRevoked, latchkey.NoteTokenRevoked, alice.ID, parent.ID, latchkey.ActorUser, ptr(admin.ID))
		if _, _, err := s.RevokeToken(t.Context(), parent.ID, at(time.Hour), latchkey.ReasonRevoked, r); err != nil {
			t.Fatalf("RevokeToken(%q) = %v", parent.ID, err)
		}
		records, err := s.AuditRecords(t.Context(), latchkey.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		auditIDs := map[string]int64{}
		for _, rec := range records {
			auditIDs[rec.SubjectID] = rec.ID
		}
		infos := newNotifications(t, s)
		var tokens, actors []string
		for _, info := range infos {
			tokens = append(tokens, info.TokenID)
			actors = append(actors, info.ActorUsername)
			if info.AuditID != auditIDs[info.TokenID] || info.AuditID == 0 {
				t.Errorf("the notification about %q names audit record %d, want %d", info.TokenID, info.AuditID, auditIDs[info.TokenID])
			}
			if info.Token == nil || info.Token.ID != info.TokenID || !info.Token.Revoked {
				t.Errorf("the notification about %q has token %+v, want it, revoked", info.TokenID, info.Token)
			}
		}
		if want := []string{parent.ID, child.ID}; !slices.Equal(tokens, want) {
			t.Errorf("after revoking a family, NewNotifications() are about %q, want %q", tokens, want)
		}
		if want := []string{"admin", "admin"}; !slices.Equal(actors, want) {
			t.Errorf("after revoking a family, NewNotifications() ActorUsername = %q, want %q", actors, want)
		}
	})

	t.Run("CreateToken", func(t *testing.T) {
		// CreateToken commits with others (SQLite's group commit): the
		// notification is written in the same transaction.
		s := open(t)
		alice := createUser(t, s, newUser("alice"))
		byOperator := newToken(1, alice.ID)
		inWebPages := newToken(2, alice.ID)
		byToken := newToken(3, alice.ID)
		calls := []struct {
			tok *latchkey.Token
			r   *latchkey.AuditRecord
		}{
			{byOperator, notifyRecord(latchkey.AuditTokenCreated, latchkey.NoteTokenCreated, alice.ID, byOperator.ID, latchkey.ActorOperator, nil)},
			{inWebPages, notifyRecord(latchkey.AuditTokenCreated, latchkey.NoteTokenCreated, alice.ID, inWebPages.ID, latchkey.ActorUser, ptr(alice.ID))},
			{byToken, notifyRecord(latchkey.AuditTokenCreated, latchkey.NoteTokenCreated, alice.ID, byToken.ID, latchkey.ActorUser, ptr(alice.ID))},
		}
		calls[2].r.ActorTokenID = byOperator.ID
		for _, c := range calls {
			if err := s.CreateToken(t.Context(), c.tok, c.r); err != nil {
				t.Fatalf("CreateToken(%q) = %v", c.tok.ID, err)
			}
		}
		var got []string
		for _, info := range newNotifications(t, s) {
			got = append(got, info.TokenID)
		}
		if want := []string{byOperator.ID, byToken.ID}; !slices.Equal(got, want) {
			t.Errorf("after CreateToken by the operator, in the web pages, and by a token, NewNotifications() are about %q, want %q", got, want)
		}
	})

	t.Run("SaveConsent", func(t *testing.T) {
		s := open(t)
		alice := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		r := notifyRecord(latchkey.AuditAppAuthorized, latchkey.NoteAppAuthorized, alice.ID, strconv.FormatInt(app.ID, 10), latchkey.ActorUser, ptr(alice.ID))
		if err := s.SaveConsent(t.Context(), newConsent(alice.ID, app.ID, "a"), r); err != nil {
			t.Fatalf("SaveConsent() = %v", err)
		}
		infos := newNotifications(t, s)
		want := []*latchkey.Notification{{
			Type: latchkey.NoteAppAuthorized, At: at(time.Hour), UserID: alice.ID, ClientID: app.ID,
			Actor: latchkey.ActorUser, ActorUserID: ptr(alice.ID), AuditID: r.ID, Detail: "why",
		}}
		if diff := cmp.Diff(want, notificationsOf(infos), ignoreIDs); diff != "" {
			t.Fatalf("after SaveConsent, NewNotifications() mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(app, infos[0].Client); diff != "" {
			t.Errorf("NewNotifications()[0].Client mismatch (-want +got):\n%s", diff)
		}
		if infos[0].Token != nil || infos[0].ActorUsername != "alice" {
			t.Errorf("NewNotifications()[0] has Token %+v, ActorUsername %q; want nil, alice", infos[0].Token, infos[0].ActorUsername)
		}
	})

	t.Run("RecordAudit", func(t *testing.T) {
		s := open(t)
		alice := createUser(t, s, newUser("alice"))
		tok := createToken(t, s, newToken(1, alice.ID))
		r := notifyRecord(latchkey.AuditTokenRotated, latchkey.NoteTokenRotated, alice.ID, tok.ID, latchkey.ActorSystem, nil)
		if err := s.RecordAudit(t.Context(), r); err != nil {
			t.Fatalf("RecordAudit() = %v", err)
		}
		infos := newNotifications(t, s)
		if len(infos) != 1 || infos[0].AuditID != r.ID || infos[0].Type != latchkey.NoteTokenRotated {
			t.Errorf("after RecordAudit, NewNotifications() = %v, want one of %s naming record %d", notificationsOf(infos), latchkey.NoteTokenRotated, r.ID)
		}
	})
}

// NotificationFailure checks that a change whose notification cannot be
// written is not made, nor its audit record, and that the error comes
// back; a change that writes no notification is made. refuse makes the
// store's outbox refuse every write from then on, as the backend can (a
// trigger, say); open is as for Run.
func NotificationFailure(t *testing.T, open func(t *testing.T) latchkey.Store, refuse func(t *testing.T, s latchkey.Store)) {
	t.Run("RevokeToken", func(t *testing.T) {
		s := open(t)
		alice := createUser(t, s, newUser("alice"))
		tok := createToken(t, s, newToken(1, alice.ID))
		refuse(t, s)
		r := notifyRecord(latchkey.AuditTokenRevoked, latchkey.NoteTokenRevoked, alice.ID, tok.ID, latchkey.ActorOperator, nil)
		if _, _, err := s.RevokeToken(t.Context(), tok.ID, at(time.Hour), latchkey.ReasonRevoked, r); err == nil {
			t.Fatal("RevokeToken(with a notification the store cannot write) = nil, want an error")
		}
		if got := revocations(t, s, tok.ID)[tok.ID]; got != "" {
			t.Errorf("RevokeToken failed to write its notification, but the token is revoked (%s)", got)
		}
		if records, err := s.AuditRecords(t.Context(), latchkey.AuditFilter{}); err != nil || len(records) != 0 {
			t.Errorf("after the failed RevokeToken, AuditRecords() = %d records, %v; want none", len(records), err)
		}

		// By its owner, it writes no notification, and is made.
		r = notifyRecord(latchkey.AuditTokenRevoked, latchkey.NoteTokenRevoked, alice.ID, tok.ID, latchkey.ActorUser, ptr(alice.ID))
		if _, _, err := s.RevokeToken(t.Context(), tok.ID, at(time.Hour), latchkey.ReasonRevoked, r); err != nil {
			t.Errorf("RevokeToken(by its owner) = %v, want nil: it writes no notification", err)
		}
	})
	t.Run("CreateToken", func(t *testing.T) {
		s := open(t)
		alice := createUser(t, s, newUser("alice"))
		refuse(t, s)
		tok := newToken(1, alice.ID)
		r := notifyRecord(latchkey.AuditTokenCreated, latchkey.NoteTokenCreated, alice.ID, tok.ID, latchkey.ActorOperator, nil)
		if err := s.CreateToken(t.Context(), tok, r); err == nil {
			t.Fatal("CreateToken(with a notification the store cannot write) = nil, want an error")
		}
		_, err := s.Token(t.Context(), tok.ID)
		checkCode(t, "after the failed CreateToken, Token()", err, latchkey.ENOTFOUND)
	})
	t.Run("AddNotification", func(t *testing.T) {
		s := open(t)
		alice := createUser(t, s, newUser("alice"))
		refuse(t, s)
		if added, err := s.AddNotification(t.Context(), newNotification(alice.ID, "", 0)); err == nil {
			t.Errorf("AddNotification(refused) = %t, nil; want an error", added)
		}
	})
}

// auditRefusedNotified checks, for AuditFailure, that a change whose audit
// record cannot be written writes no notification either.
func auditRefusedNotified(t *testing.T, open func(t *testing.T) latchkey.Store, refuse func(t *testing.T, s latchkey.Store)) {
	s := open(t)
	alice := createUser(t, s, newUser("alice"))
	tok := createToken(t, s, newToken(1, alice.ID))
	refuse(t, s)
	r := notifyRecord(latchkey.AuditTokenRevoked, latchkey.NoteTokenRevoked, alice.ID, tok.ID, latchkey.ActorOperator, nil)
	if _, _, err := s.RevokeToken(t.Context(), tok.ID, at(time.Hour), latchkey.ReasonRevoked, r); err == nil {
		t.Fatal("RevokeToken(with a record the store cannot write) = nil, want an error")
	}
	if infos := newNotifications(t, s); len(infos) != 0 {
		t.Errorf("after a RevokeToken whose record failed, NewNotifications() = %d notifications, want none", len(infos))
	}
}

func testAddNotification(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("Stores", func(t *testing.T) {
		s := open(t)
		alice := createUser(t, s, newUser("alice"))
		n := newNotification(alice.ID, tokenID(1), time.Hour)
		n.At = n.At.In(time.FixedZone("EST", -5*3600))
		n.ClientID, n.AuditID, n.ActorUserID, n.ActorTokenID = 7, 9, ptr(alice.ID), tokenID(2)
		addNotification(t, s, n)
		if n.ID == 0 || !msgIDPattern.MatchString(n.MsgID) {
			t.Errorf("AddNotification() set ID %d, MsgID %q; want an id and a MsgID matching %s", n.ID, n.MsgID, msgIDPattern)
		}
		want := *n
		want.At = at(time.Hour)
		infos := newNotifications(t, s)
		if diff := cmp.Diff([]*latchkey.Notification{&want}, notificationsOf(infos)); diff != "" {
			t.Errorf("NewNotifications() mismatch (-want +got):\n%s", diff)
		}
		if len(infos) == 1 {
			checkUTC(t, "NewNotifications()", &infos[0].At)
		}
		// Two notifications do not share a MsgID.
		other := addNotification(t, s, newNotification(alice.ID, tokenID(1), time.Hour))
		if other.MsgID == n.MsgID || other.ID == n.ID {
			t.Errorf("two AddNotification calls gave ids %d and %d, MsgIDs %q and %q; want them different", n.ID, other.ID, n.MsgID, other.MsgID)
		}
	})

	t.Run("Dedupe", func(t *testing.T) {
		s := open(t)
		alice := createUser(t, s, newUser("alice"))
		first := newNotification(alice.ID, tokenID(1), time.Hour)
		first.Dedupe = "token.expiring:" + tokenID(1) + ":168h"
		addNotification(t, s, first)

		again := newNotification(alice.ID, tokenID(1), 2*time.Hour)
		again.Dedupe = first.Dedupe
		added, err := s.AddNotification(t.Context(), again)
		if err != nil || added {
			t.Fatalf("AddNotification(a dedupe key in the outbox) = %t, %v; want false, nil", added, err)
		}
		if again.ID != 0 || again.MsgID != "" {
			t.Errorf("AddNotification(a dedupe key in the outbox) set ID %d, MsgID %q; want them left unset", again.ID, again.MsgID)
		}
		// Fanned out, it still counts.
		fanOut(t, s, first.ID, "{}")
		if added, err := s.AddNotification(t.Context(), again); err != nil || added {
			t.Errorf("AddNotification(a dedupe key fanned out) = %t, %v; want false, nil", added, err)
		}

		other := newNotification(alice.ID, tokenID(1), 2*time.Hour)
		other.Dedupe = "token.expiring:" + tokenID(1) + ":24h"
		addNotification(t, s, other)
		// No dedupe key: never a duplicate.
		addNotification(t, s, newNotification(alice.ID, tokenID(1), 3*time.Hour))
		addNotification(t, s, newNotification(alice.ID, tokenID(1), 3*time.Hour))
		if infos := newNotifications(t, s); len(infos) != 3 {
			t.Errorf("NewNotifications() = %d notifications, want 3", len(infos))
		}
	})

	t.Run("DedupeConcurrent", func(t *testing.T) {
		s := open(t)
		alice := createUser(t, s, newUser("alice"))
		const n = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		var added int
		for range n {
			wg.Go(func() {
				note := newNotification(alice.ID, tokenID(1), time.Hour)
				note.Dedupe = "once"
				ok, err := s.AddNotification(t.Context(), note)
				if err != nil {
					t.Errorf("concurrent AddNotification() = %v", err)
				}
				mu.Lock()
				defer mu.Unlock()
				if ok {
					added++
				}
			})
		}
		wg.Wait()
		if added != 1 {
			t.Errorf("%d concurrent AddNotification calls with one dedupe key stored %d, want 1", n, added)
		}
	})

	t.Run("UnknownUser", func(t *testing.T) {
		s := open(t)
		alice := createUser(t, s, newUser("alice"))
		added, err := s.AddNotification(t.Context(), newNotification(alice.ID+1000, "", 0))
		if added {
			t.Errorf("AddNotification(unknown user) = true, want false")
		}
		checkCode(t, "AddNotification(unknown user)", err, latchkey.ENOTFOUND)
	})
}

func testNewNotifications(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	alice := createUser(t, s, newUser("alice"))
	bob := createUser(t, s, newUser("bob"))
	carol := createUser(t, s, newUser("carol"))
	dave := createUser(t, s, newUser("dave"))
	if _, err := s.UpdateUser(t.Context(), carol.ID, latchkey.UserUpdate{Status: ptr(latchkey.StatusInactive)}, at(time.Minute)); err != nil {
		t.Fatalf("UpdateUser(carol) = %v", err)
	}
	deleteUser(t, s, dave, at(time.Minute))
	app := createClient(t, s, newClient("App"))
	tok := createToken(t, s, newToken(1, alice.ID))
	if err := s.SetMailOff(t.Context(), alice.ID, []latchkey.NotificationType{latchkey.NoteTokenRotated, latchkey.NoteTokenExpiring}); err != nil {
		t.Fatalf("SetMailOff(alice) = %v", err)
	}

	aboutToken := newNotification(alice.ID, tok.ID, time.Hour)
	aboutToken.Actor, aboutToken.ActorUserID = latchkey.ActorUser, ptr(bob.ID)
	sameToken := newNotification(alice.ID, tok.ID, time.Hour)
	unknownToken := newNotification(bob.ID, tokenID(404), time.Hour)
	aboutClient := &latchkey.Notification{Type: latchkey.NoteAppAuthorized, At: at(time.Hour), UserID: bob.ID, ClientID: app.ID, Actor: latchkey.ActorUser, ActorUserID: ptr(bob.ID)}
	unknownActor := newNotification(carol.ID, "", time.Hour)
	unknownActor.Actor, unknownActor.ActorUserID = latchkey.ActorUser, ptr(int64(9999))
	deleted := newNotification(dave.ID, "", time.Hour)
	fanned := newNotification(bob.ID, "", time.Hour)
	for _, n := range []*latchkey.Notification{aboutToken, sameToken, fanned, unknownToken, aboutClient, unknownActor, deleted} {
		addNotification(t, s, n)
	}
	fanOut(t, s, fanned.ID, "{}")

	storedToken, err := s.Token(t.Context(), tok.ID)
	if err != nil {
		t.Fatalf("Token(%q) = %v", tok.ID, err)
	}
	off := []latchkey.NotificationType{latchkey.NoteTokenExpiring, latchkey.NoteTokenRotated}
	want := []*latchkey.NotificationInfo{
		{Notification: aboutToken, Username: "alice", Email: alice.Email, MailOff: off, Token: storedToken, ActorUsername: "bob"},
		{Notification: sameToken, Username: "alice", Email: alice.Email, MailOff: off, Token: storedToken},
		{Notification: unknownToken, Username: "bob", Email: bob.Email},
		{Notification: aboutClient, Username: "bob", Email: bob.Email, Client: app, ActorUsername: "bob"},
		{Notification: unknownActor, Username: "carol", Email: carol.Email, UserDisabled: true},
		{Notification: deleted, Username: "dave", Email: dave.Email, UserDisabled: true},
	}
	got := newNotifications(t, s)
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("NewNotifications() mismatch (-want +got):\n%s", diff)
	}
	if len(got) >= 2 && got[0].Token != nil && got[0].Token == got[1].Token {
		t.Error("NewNotifications() gave two notifications one *Token: each gets its own")
	}

	page, err := s.NewNotifications(t.Context(), 2)
	if err != nil {
		t.Fatalf("NewNotifications(2) = %v", err)
	}
	if diff := cmp.Diff(want[:2], page, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("NewNotifications(2) mismatch (-want +got):\n%s", diff)
	}
}

func testFanOut(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("Once", func(t *testing.T) {
		f := newOutboxFixture(t, open)
		mail := mailTo(f.alice.Email, time.Hour)
		hook := hookTo(f.hook, time.Hour)
		hook.NextAt = at(2 * time.Hour)
		ds := fanOut(t, f.s, f.note.ID, `{"a":1}`, mail, hook)
		if ds[0].ID == 0 || ds[1].ID == 0 || ds[0].ID == ds[1].ID {
			t.Errorf("FanOut() set delivery ids %d and %d, want two", ds[0].ID, ds[1].ID)
		}
		want := []*latchkey.Delivery{
			{ID: hook.ID, NotificationID: f.note.ID, WebhookID: f.hook.ID, Recipient: f.hook.URL, State: latchkey.DeliveryPending,
				CreatedAt: at(time.Hour), NextAt: at(2 * time.Hour), MsgID: f.note.MsgID, Type: f.note.Type},
			// Due at once: NextAt zero is CreatedAt.
			{ID: mail.ID, NotificationID: f.note.ID, Recipient: f.alice.Email, State: latchkey.DeliveryPending,
				CreatedAt: at(time.Hour), NextAt: at(time.Hour), MsgID: f.note.MsgID, Type: f.note.Type},
		}
		if diff := cmp.Diff(want, deliveries(t, f.s, "")); diff != "" {
			t.Errorf("after FanOut, Deliveries() mismatch (-want +got):\n%s", diff)
		}
		if infos := newNotifications(t, f.s); len(infos) != 0 {
			t.Errorf("after FanOut, NewNotifications() = %d notifications, want none", len(infos))
		}

		// Again: nothing more.
		ok, err := f.s.FanOut(t.Context(), f.note.ID, []byte(`{"a":2}`), []*latchkey.Delivery{mailTo(f.alice.Email, time.Hour)})
		if err != nil || ok {
			t.Errorf("second FanOut() = %t, %v; want false, nil", ok, err)
		}
		if got := deliveries(t, f.s, ""); len(got) != 2 {
			t.Errorf("after a second FanOut, Deliveries() = %d, want 2", len(got))
		}
		// The body is the first one's.
		claimed, err := f.s.ClaimDeliveries(t.Context(), "server-1", at(3*time.Hour), at(4*time.Hour), 0)
		if err != nil || len(claimed) != 2 {
			t.Fatalf("ClaimDeliveries() = %d, %v; want 2", len(claimed), err)
		}
		if string(claimed[0].Body) != `{"a":1}` {
			t.Errorf("ClaimDeliveries()[0].Body = %q, want the first FanOut's", claimed[0].Body)
		}
	})

	t.Run("NoDeliveries", func(t *testing.T) {
		f := newOutboxFixture(t, open)
		fanOut(t, f.s, f.note.ID, "{}")
		if infos := newNotifications(t, f.s); len(infos) != 0 {
			t.Errorf("after FanOut to none, NewNotifications() = %d notifications, want none", len(infos))
		}
	})

	t.Run("Unknown", func(t *testing.T) {
		f := newOutboxFixture(t, open)
		ok, err := f.s.FanOut(t.Context(), f.note.ID+1000, []byte("{}"), []*latchkey.Delivery{mailTo(f.alice.Email, 0)})
		if err != nil || ok {
			t.Errorf("FanOut(unknown notification) = %t, %v; want false, nil", ok, err)
		}
		if got := deliveries(t, f.s, ""); len(got) != 0 {
			t.Errorf("after FanOut(unknown notification), Deliveries() = %d, want none", len(got))
		}
	})

	t.Run("UnknownWebhook", func(t *testing.T) {
		f := newOutboxFixture(t, open)
		gone := newWebhook(2, 0)
		ok, err := f.s.FanOut(t.Context(), f.note.ID, []byte("{}"), []*latchkey.Delivery{mailTo(f.alice.Email, 0), hookTo(gone, 0)})
		if ok {
			t.Error("FanOut(to an unknown webhook) = true, want false")
		}
		checkCode(t, "FanOut(to an unknown webhook)", err, latchkey.ENOTFOUND)
		if got := deliveries(t, f.s, ""); len(got) != 0 {
			t.Errorf("after a failed FanOut, Deliveries() = %d, want none", len(got))
		}
		if infos := newNotifications(t, f.s); len(infos) != 1 {
			t.Errorf("after a failed FanOut, NewNotifications() = %d notifications, want it still new", len(infos))
		}
	})

	t.Run("Race", func(t *testing.T) {
		f := newOutboxFixture(t, open)
		const n = 6
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won int
		for i := range n {
			wg.Go(func() {
				ds := []*latchkey.Delivery{mailTo(f.alice.Email, time.Hour), hookTo(f.hook, time.Hour)}
				ok, err := f.s.FanOut(t.Context(), f.note.ID, []byte(strconv.Itoa(i)), ds)
				if err != nil {
					t.Errorf("concurrent FanOut() = %v", err)
				}
				mu.Lock()
				defer mu.Unlock()
				if ok {
					won++
				}
			})
		}
		wg.Wait()
		if won != 1 {
			t.Errorf("%d concurrent FanOut calls of one notification: %d returned true, want 1", n, won)
		}
		if got := deliveries(t, f.s, ""); len(got) != 2 {
			t.Errorf("after concurrent FanOut calls, Deliveries() = %d, want 2", len(got))
		}
	})
}

func testClaimDeliveries(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("Claims", func(t *testing.T) {
		f := newOutboxFixture(t, open)
		ds := f.pending(t, 4) // due at 1, 2, 3 and 4 minutes
		got, err := f.s.ClaimDeliveries(t.Context(), "server-1", at(3*time.Minute), at(time.Hour), 0)
		if err != nil {
			t.Fatalf("ClaimDeliveries() = %v", err)
		}
		body := []byte(`{"type":"token.expiring"}`)
		want := []*latchkey.Delivery{
			{ID: ds[0].ID, NotificationID: f.note.ID, Recipient: f.alice.Email, State: latchkey.DeliveryPending,
				CreatedAt: at(time.Hour), NextAt: at(time.Minute), MsgID: f.note.MsgID, Type: f.note.Type, Body: body},
			{ID: ds[1].ID, NotificationID: f.note.ID, WebhookID: f.hook.ID, Recipient: f.hook.URL, State: latchkey.DeliveryPending,
				CreatedAt: at(time.Hour), NextAt: at(2 * time.Minute), MsgID: f.note.MsgID, Type: f.note.Type, Body: body, Secret: f.hook.Secret},
			{ID: ds[2].ID, NotificationID: f.note.ID, Recipient: f.alice.Email, State: latchkey.DeliveryPending,
				CreatedAt: at(time.Hour), NextAt: at(3 * time.Minute), MsgID: f.note.MsgID, Type: f.note.Type, Body: body},
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("ClaimDeliveries(at 3m) mismatch (-want +got):\n%s", diff)
		}
		for _, d := range got {
			checkUTC(t, "ClaimDeliveries()", &d.CreatedAt, &d.NextAt)
		}

		// Held: another server gets none of them, only what fell due.
		if got := claim(t, f.s, "server-2", at(4*time.Minute), at(time.Hour), 0); !slices.Equal(got, []int64{ds[3].ID}) {
			t.Errorf("ClaimDeliveries(server-2, at 4m) = %v, want %v", got, []int64{ds[3].ID})
		}
		if got := claim(t, f.s, "server-1", at(30*time.Minute), at(2*time.Hour), 0); len(got) != 0 {
			t.Errorf("ClaimDeliveries(while all are held) = %v, want none", got)
		}
		// A claim runs out at its until: then another server may take it.
		if got := claim(t, f.s, "server-2", at(time.Hour), at(2*time.Hour), 2); !slices.Equal(got, []int64{ds[0].ID, ds[1].ID}) {
			t.Errorf("ClaimDeliveries(server-2, when server-1's claim ran out, 2) = %v, want %v", got, []int64{ds[0].ID, ds[1].ID})
		}
	})

	t.Run("NewFirst", func(t *testing.T) {
		// A retry due long ago waits behind a delivery never tried: a
		// receiver that keeps failing does not hold back what is new.
		f := newOutboxFixture(t, open)
		ds := f.pending(t, 2) // due at 1 and 2 minutes
		claim(t, f.s, "server-1", at(time.Minute), at(time.Hour), 1)
		recordAttempt(t, f.s, latchkey.Attempt{DeliveryID: ds[0].ID, Server: "server-1", At: at(time.Minute),
			Err: "HTTP 500", Status: 500, NextAt: ptr(at(90 * time.Second))}, true)
		if got := claim(t, f.s, "server-1", at(3*time.Minute), at(time.Hour), 1); !slices.Equal(got, []int64{ds[1].ID}) {
			t.Errorf("ClaimDeliveries(1, a retry due at 1.5m and a new one at 2m) = %v, want the new one %d", got, ds[1].ID)
		}
		if got := claim(t, f.s, "server-1", at(3*time.Minute), at(time.Hour), 1); !slices.Equal(got, []int64{ds[0].ID}) {
			t.Errorf("ClaimDeliveries(1, then) = %v, want the retry %d", got, ds[0].ID)
		}
	})

	t.Run("ErrorAnyBytes", func(t *testing.T) {
		// What a receiver said may be any bytes: stored as it can be.
		f := newOutboxFixture(t, open)
		ds := f.pending(t, 1)
		claim(t, f.s, "server-1", at(time.Hour), at(2*time.Hour), 0)
		recordAttempt(t, f.s, latchkey.Attempt{DeliveryID: ds[0].ID, Server: "server-1", At: at(time.Hour),
			Err: latchkey.CleanText("554 refused \xff\xfe\x00 go away", 500), NextAt: ptr(at(2 * time.Hour))}, true)
		if got := deliveryByID(t, f.s, ds[0].ID); got.Attempts != 1 || !strings.HasPrefix(got.LastError, "554 refused") {
			t.Errorf("after an error of odd bytes, cleaned: %+v", got)
		}
	})

	t.Run("NotPending", func(t *testing.T) {
		f := newOutboxFixture(t, open)
		ds := f.pending(t, 3)
		claim(t, f.s, "server-1", at(time.Hour), at(2*time.Hour), 0)
		recordAttempt(t, f.s, latchkey.Attempt{DeliveryID: ds[0].ID, Server: "server-1", At: at(time.Hour)}, true)
		recordAttempt(t, f.s, latchkey.Attempt{DeliveryID: ds[1].ID, Server: "server-1", At: at(time.Hour), Err: "gone"}, true)
		if got := claim(t, f.s, "server-1", at(3*time.Hour), at(4*time.Hour), 0); !slices.Equal(got, []int64{ds[2].ID}) {
			t.Errorf("ClaimDeliveries(after one delivered and one failed) = %v, want %v", got, []int64{ds[2].ID})
		}
	})

	t.Run("Exclusive", func(t *testing.T) {
		f := newOutboxFixture(t, open)
		const n = 200
		ds := f.pending(t, n)
		var mu sync.Mutex
		claimedBy := map[int64]string{}
		var wg sync.WaitGroup
		for i := range 6 {
			server := fmt.Sprintf("server-%d", i+1)
			wg.Go(func() {
				// Each claim takes one at least, unless none is left.
				for range n {
					got, err := f.s.ClaimDeliveries(t.Context(), server, at(4*time.Hour), at(5*time.Hour), 2)
					if err != nil {
						t.Errorf("concurrent ClaimDeliveries(%q) = %v", server, err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, d := range got {
						if other, ok := claimedBy[d.ID]; ok {
							t.Errorf("delivery %d claimed by %s and by %s", d.ID, other, server)
						}
						claimedBy[d.ID] = server
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(claimedBy) != len(ds) {
			t.Errorf("concurrent claims took %d deliveries, want %d", len(claimedBy), len(ds))
		}
	})
}

// recordAttempt records a and reports an error unless it returns want.
func recordAttempt(t *testing.T, s latchkey.Store, a latchkey.Attempt, want bool) {
	t.Helper()
	got, err := s.RecordAttempt(t.Context(), a)
	if err != nil || got != want {
		t.Errorf("RecordAttempt(%d by %s, err %q) = %t, %v; want %t, nil", a.DeliveryID, a.Server, a.Err, got, err, want)
	}
}

func testRecordAttempt(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("Delivered", func(t *testing.T) {
		f := newOutboxFixture(t, open)
		d := f.pending(t, 2)[1] // the webhook's
		claim(t, f.s, "server-1", at(time.Hour), at(2*time.Hour), 0)
		recordAttempt(t, f.s, latchkey.Attempt{DeliveryID: d.ID, Server: "server-1", At: at(90 * time.Minute), Status: 204}, true)
		got := deliveryByID(t, f.s, d.ID)
		if got.State != latchkey.DeliveryDelivered || got.Attempts != 1 || got.DeliveredAt == nil || !got.DeliveredAt.Equal(at(90*time.Minute)) ||
			got.LastStatus != 204 || got.LastError != "" {
			t.Errorf("after a delivery, the delivery is %+v; want delivered at 90m, 1 attempt, status 204", got)
		}
		// The claim is released: recording again is refused.
		recordAttempt(t, f.s, latchkey.Attempt{DeliveryID: d.ID, Server: "server-1", At: at(91 * time.Minute)}, false)
	})

	t.Run("Retry", func(t *testing.T) {
		f := newOutboxFixture(t, open)
		d := f.pending(t, 2)[1]
		claim(t, f.s, "server-1", at(time.Hour), at(2*time.Hour), 0)
		recordAttempt(t, f.s, latchkey.Attempt{DeliveryID: d.ID, Server: "server-1", At: at(time.Hour),
			Err: "503 Service Unavailable", Status: 503, NextAt: ptr(at(70 * time.Minute))}, true)
		got := deliveryByID(t, f.s, d.ID)
		if got.State != latchkey.DeliveryPending || got.Attempts != 1 || !got.NextAt.Equal(at(70*time.Minute)) ||
			got.LastError != "503 Service Unavailable" || got.LastStatus != 503 || got.DeliveredAt != nil {
			t.Errorf("after a failed attempt, the delivery is %+v; want pending, due at 70m, 1 attempt, its error", got)
		}
		// Released, and due again at NextAt, not before.
		if got := claim(t, f.s, "server-2", at(69*time.Minute), at(2*time.Hour), 0); slices.Contains(got, d.ID) {
			t.Errorf("ClaimDeliveries(before NextAt) = %v, want it without %d", got, d.ID)
		}
		if got := claim(t, f.s, "server-2", at(70*time.Minute), at(2*time.Hour), 0); !slices.Contains(got, d.ID) {
			t.Errorf("ClaimDeliveries(at NextAt) = %v, want it with %d", got, d.ID)
		}
		recordAttempt(t, f.s, latchkey.Attempt{DeliveryID: d.ID, Server: "server-2", At: at(70 * time.Minute), Err: "timeout"}, true)
		got = deliveryByID(t, f.s, d.ID)
		if got.State != latchkey.DeliveryFailed || got.Attempts != 2 || got.LastError != "timeout" || got.LastStatus != 0 {
			t.Errorf("after a last failed attempt, the delivery is %+v; want failed, 2 attempts, its error", got)
		}
		if got := claim(t, f.s, "server-2", at(24*time.Hour), at(25*time.Hour), 0); slices.Contains(got, d.ID) {
			t.Errorf("ClaimDeliveries(after it failed) = %v, want it without %d", got, d.ID)
		}
	})

	t.Run("LostClaim", func(t *testing.T) {
		f := newOutboxFixture(t, open)
		d := f.pending(t, 1)[0]
		claim(t, f.s, "server-1", at(time.Hour), at(2*time.Hour), 0)
		// server-1's claim runs out, and server-2 claims it.
		if got := claim(t, f.s, "server-2", at(2*time.Hour), at(3*time.Hour), 0); !slices.Equal(got, []int64{d.ID}) {
			t.Fatalf("ClaimDeliveries(server-2, when the claim ran out) = %v, want %v", got, []int64{d.ID})
		}
		recordAttempt(t, f.s, latchkey.Attempt{DeliveryID: d.ID, Server: "server-1", At: at(2 * time.Hour)}, false)
		got := deliveryByID(t, f.s, d.ID)
		if got.State != latchkey.DeliveryPending || got.Attempts != 0 {
			t.Errorf("after RecordAttempt with a lost claim, the delivery is %+v; want pending, no attempt", got)
		}
		recordAttempt(t, f.s, latchkey.Attempt{DeliveryID: d.ID, Server: "server-2", At: at(2 * time.Hour)}, true)
		// No such delivery: nobody holds it.
		recordAttempt(t, f.s, latchkey.Attempt{DeliveryID: d.ID + 1000, Server: "server-2", At: at(2 * time.Hour)}, false)
	})
}

func testDeliveries(t *testing.T, open func(t *testing.T) latchkey.Store) {
	f := newOutboxFixture(t, open)
	other := createWebhook(t, f.s, newWebhook(2, time.Minute))
	second := addNotification(t, f.s, newNotification(f.alice.ID, f.tok.ID, 2*time.Hour))
	first := fanOut(t, f.s, f.note.ID, "{}", mailTo(f.alice.Email, time.Hour), hookTo(f.hook, time.Hour), hookTo(other, time.Hour))
	later := fanOut(t, f.s, second.ID, "{}", hookTo(f.hook, 2*time.Hour), mailTo(f.alice.Email, 2*time.Hour))

	tests := []struct {
		webhook string
		most    int
		want    []*latchkey.Delivery
	}{
		{"", 0, []*latchkey.Delivery{later[1], later[0], first[2], first[1], first[0]}},
		{"", 2, []*latchkey.Delivery{later[1], later[0]}},
		{"mail", 0, []*latchkey.Delivery{later[1], first[0]}},
		{f.hook.ID, 0, []*latchkey.Delivery{later[0], first[1]}},
		{other.ID, 0, []*latchkey.Delivery{first[2]}},
		{"wh_unknown", 0, nil},
	}
	for _, tt := range tests {
		got, err := f.s.Deliveries(t.Context(), tt.webhook, tt.most)
		if err != nil {
			t.Fatalf("Deliveries(%q, %d) = %v", tt.webhook, tt.most, err)
		}
		if diff := cmp.Diff(deliveryIDs(tt.want), deliveryIDs(got)); diff != "" {
			t.Errorf("Deliveries(%q, %d) mismatch (-want +got):\n%s", tt.webhook, tt.most, diff)
		}
		for _, d := range got {
			if d.Body != nil || d.Secret != nil {
				t.Errorf("Deliveries(%q)[%d] has a body or a secret, want neither", tt.webhook, d.ID)
			}
			if d.MsgID == "" || d.Type != latchkey.NoteTokenExpiring {
				t.Errorf("Deliveries(%q)[%d] has MsgID %q, Type %q; want its notification's", tt.webhook, d.ID, d.MsgID, d.Type)
			}
		}
	}
}

func testOutboxStats(t *testing.T, open func(t *testing.T) latchkey.Store) {
	stats := func(t *testing.T, s latchkey.Store) latchkey.OutboxStats {
		t.Helper()
		st, err := s.OutboxStats(t.Context())
		if err != nil {
			t.Fatalf("OutboxStats() = %v", err)
		}
		if st.Oldest != nil {
			checkUTC(t, "OutboxStats()", st.Oldest)
		}
		return st
	}
	s := open(t)
	if diff := cmp.Diff(latchkey.OutboxStats{}, stats(t, s)); diff != "" {
		t.Errorf("OutboxStats(empty) mismatch (-want +got):\n%s", diff)
	}

	alice := createUser(t, s, newUser("alice"))
	n1 := addNotification(t, s, newNotification(alice.ID, "", 3*time.Hour))
	n2 := addNotification(t, s, newNotification(alice.ID, "", 2*time.Hour))
	if diff := cmp.Diff(latchkey.OutboxStats{New: 2, Oldest: ptr(at(2 * time.Hour))}, stats(t, s)); diff != "" {
		t.Errorf("OutboxStats(two new) mismatch (-want +got):\n%s", diff)
	}

	ds := fanOut(t, s, n1.ID, "{}", mailTo(alice.Email, time.Hour), mailTo(alice.Email, 4*time.Hour), mailTo(alice.Email, 5*time.Hour))
	if diff := cmp.Diff(latchkey.OutboxStats{New: 1, Pending: 3, Oldest: ptr(at(time.Hour))}, stats(t, s)); diff != "" {
		t.Errorf("OutboxStats(one new, three pending) mismatch (-want +got):\n%s", diff)
	}

	claim(t, s, "server-1", at(5*time.Hour), at(6*time.Hour), 0)
	recordAttempt(t, s, latchkey.Attempt{DeliveryID: ds[0].ID, Server: "server-1", At: at(5 * time.Hour)}, true)
	recordAttempt(t, s, latchkey.Attempt{DeliveryID: ds[1].ID, Server: "server-1", At: at(5 * time.Hour), Err: "gone"}, true)
	fanOut(t, s, n2.ID, "{}")
	if diff := cmp.Diff(latchkey.OutboxStats{Pending: 1, Failed: 1, Oldest: ptr(at(5 * time.Hour))}, stats(t, s)); diff != "" {
		t.Errorf("OutboxStats(one pending, one failed) mismatch (-want +got):\n%s", diff)
	}
}

// testPruneOutbox checks what PruneOutbox deletes: the deliveries made or
// given up on before the cut, then the notifications fanned out before it
// with no delivery left; and what it keeps: pending deliveries and their
// notifications, notifications not fanned out, and anything at the cut or
// after it.
func testPruneOutbox(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	alice := createUser(t, s, newUser("alice"))
	hook := createWebhook(t, s, newWebhook(1, 0))
	cut := at(10 * time.Hour)
	prune := func(t *testing.T, want int64) {
		t.Helper()
		if n, err := s.PruneOutbox(t.Context(), cut); err != nil || n != want {
			t.Fatalf("PruneOutbox(10h) = %d, %v; want %d, nil", n, err, want)
		}
	}
	// Each notification is written at d, with its name as its dedupe key.
	note := func(name string, d time.Duration) *latchkey.Notification {
		n := newNotification(alice.ID, "", d)
		n.Dedupe = name
		return addNotification(t, s, n)
	}
	done := note("made and failed", time.Hour)
	pending := note("one delivery pending", 2*time.Hour)
	nobody := note("fanned out to nobody", 3*time.Hour)
	fresh := note("not fanned out", 4*time.Hour)
	later := note("one delivery at the cut", 5*time.Hour)
	atCut := note("fanned out to nobody at the cut", 10*time.Hour)
	newer := note("after the cut", 11*time.Hour)

	dd := fanOut(t, s, done.ID, "{}", mailTo(alice.Email, time.Hour), hookTo(hook, time.Hour))
	pd := fanOut(t, s, pending.ID, "{}", mailTo(alice.Email, 2*time.Hour), hookTo(hook, 2*time.Hour))
	fanOut(t, s, nobody.ID, "{}")
	ld := fanOut(t, s, later.ID, "{}", mailTo(alice.Email, 5*time.Hour), hookTo(hook, 10*time.Hour))
	fanOut(t, s, atCut.ID, "{}")
	nd := fanOut(t, s, newer.ID, "{}", mailTo(alice.Email, 11*time.Hour))
	claim(t, s, "server-1", at(20*time.Hour), at(21*time.Hour), 0)
	for _, a := range []latchkey.Attempt{
		{DeliveryID: dd[0].ID},
		{DeliveryID: dd[1].ID, Err: "gone"},
		{DeliveryID: pd[0].ID}, // pd[1] stays pending
		{DeliveryID: ld[0].ID},
		{DeliveryID: ld[1].ID},
		{DeliveryID: nd[0].ID, Err: "gone"},
	} {
		a.Server, a.At = "server-1", at(20*time.Hour)
		recordAttempt(t, s, a, true)
	}

	// Gone: dd (2), done, pd[0], nobody, ld[0].
	prune(t, 6)
	if got, want := deliveryIDs(deliveries(t, s, "")), deliveryIDs([]*latchkey.Delivery{nd[0], ld[1], pd[1]}); !slices.Equal(got, want) {
		t.Errorf("after PruneOutbox, Deliveries() = %v, want %v", got, want)
	}
	for _, d := range deliveries(t, s, "") {
		if d.MsgID == "" {
			t.Errorf("after PruneOutbox, delivery %d has no notification", d.ID)
		}
	}
	if got := notificationsOf(newNotifications(t, s)); len(got) != 1 || got[0].ID != fresh.ID {
		t.Errorf("after PruneOutbox, NewNotifications() = %v, want %q alone", got, fresh.Dedupe)
	}
	prune(t, 0)

	// Once its last delivery is made, the notification goes with it.
	recordAttempt(t, s, latchkey.Attempt{DeliveryID: pd[1].ID, Server: "server-1", At: at(20 * time.Hour)}, true)
	prune(t, 2)

	// A notification deleted frees its dedupe key; one kept holds it.
	for _, n := range []*latchkey.Notification{done, pending, nobody, fresh, later, atCut, newer} {
		gone := n == done || n == pending || n == nobody
		again := newNotification(alice.ID, "", 30*time.Hour)
		again.Dedupe = n.Dedupe
		added, err := s.AddNotification(t.Context(), again)
		if err != nil || added != gone {
			t.Errorf("after PruneOutbox, AddNotification(dedupe %q) = %t, %v; want %t (deleted: %t)", n.Dedupe, added, err, gone, gone)
		}
	}
}

func testExpiringTokens(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	alice := createUser(t, s, newUser("alice"))
	const day = 24 * time.Hour
	// Each token is created at the epoch and expires expires after it.
	mk := func(n int, expires time.Duration) *latchkey.Token {
		tok := newToken(n, alice.ID)
		tok.ExpiresAt = ptr(at(expires))
		return createToken(t, s, tok)
	}
	mk(1, 30*day)                               // at from: out
	justAfter := mk(2, 30*day+time.Microsecond) // in
	atTo := mk(3, 37*day)                       // at to: in
	mk(4, 37*day+time.Microsecond)              // after to: out
	revoked := mk(5, 33*day)                    // revoked: out
	sameTime := mk(6, 33*day)                   // in
	short := newToken(7, alice.ID)              // lived exactly minLifetime: out
	short.CreatedAt, short.ExpiresAt = at(33*day-7*day), ptr(at(33*day))
	createToken(t, s, short)
	longer := newToken(8, alice.ID) // lived a microsecond longer: in
	longer.CreatedAt, longer.ExpiresAt = at(34*day-7*day-time.Microsecond), ptr(at(34*day))
	createToken(t, s, longer)
	never := newToken(9, alice.ID) // no expiry: out
	never.ExpiresAt = nil
	createToken(t, s, never)
	if _, _, err := s.RevokeToken(t.Context(), revoked.ID, at(time.Hour), latchkey.ReasonRevoked); err != nil {
		t.Fatalf("RevokeToken() = %v", err)
	}

	got, err := s.ExpiringTokens(t.Context(), at(30*day), "", at(37*day), 7*day, 0)
	if err != nil {
		t.Fatalf("ExpiringTokens() = %v", err)
	}
	want := []string{justAfter.ID, sameTime.ID, longer.ID, atTo.ID}
	if diff := cmp.Diff(want, ids(got)); diff != "" {
		t.Errorf("ExpiringTokens(30d, 37d, 7d) mismatch (-want +got):\n%s", diff)
	}
	if len(got) > 0 {
		stored := withClient(t, s, justAfter)
		if diff := cmp.Diff(stored, got[0], cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("ExpiringTokens()[0] mismatch (-want +got):\n%s", diff)
		}
	}

	got, err = s.ExpiringTokens(t.Context(), at(30*day), "", at(37*day), 7*day, 2)
	if err != nil {
		t.Fatalf("ExpiringTokens(limit 2) = %v", err)
	}
	if diff := cmp.Diff(want[:2], ids(got)); diff != "" {
		t.Errorf("ExpiringTokens(30d, 37d, 7d, 2) mismatch (-want +got):\n%s", diff)
	}
	// The next pages, from the last token read: ties on expires_at are
	// ordered by id, none skipped, none read twice.
	var paged []string
	for from, afterID := at(30*day), ""; ; {
		page, err := s.ExpiringTokens(t.Context(), from, afterID, at(37*day), 7*day, 1)
		if err != nil {
			t.Fatalf("ExpiringTokens(page after %q) = %v", afterID, err)
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page[0].ID)
		from, afterID = *page[0].ExpiresAt, page[0].ID
	}
	if diff := cmp.Diff(want, paged); diff != "" {
		t.Errorf("ExpiringTokens one at a time mismatch (-want +got):\n%s", diff)
	}
}

func testWebhooks(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	w2 := newWebhook(2, time.Hour, latchkey.NoteTokenRevoked, latchkey.NoteTokenExpiring)
	w2.CreatedAt = w2.CreatedAt.In(time.FixedZone("EST", -5*3600))
	createWebhook(t, s, w2)
	w1 := createWebhook(t, s, newWebhook(1, 0))
	fresh := newWebhook(3, 2*time.Hour)
	fresh.ID = ""
	createWebhook(t, s, fresh)
	if !regexp.MustCompile(`^wh_[a-z2-7]{26}$`).MatchString(fresh.ID) {
		t.Errorf("CreateWebhook(no id) set ID %q, want a new one", fresh.ID)
	}
	got, err := s.Webhooks(t.Context())
	if err != nil {
		t.Fatalf("Webhooks() = %v", err)
	}
	want2 := *w2
	want2.CreatedAt = at(time.Hour)
	if diff := cmp.Diff([]*latchkey.Webhook{w1, &want2, fresh}, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Webhooks() mismatch (-want +got):\n%s", diff)
	}
	for _, w := range got {
		checkUTC(t, "Webhooks()", &w.CreatedAt)
	}

	err = s.CreateWebhook(t.Context(), newWebhook(1, 3*time.Hour))
	checkCode(t, "CreateWebhook(an id that exists)", err, latchkey.ECONFLICT)
	if got, err := s.Webhooks(t.Context()); err != nil || len(got) != 3 {
		t.Errorf("after a failed CreateWebhook, Webhooks() = %d, %v; want 3", len(got), err)
	}
}

func testDeleteWebhook(t *testing.T, open func(t *testing.T) latchkey.Store) {
	f := newOutboxFixture(t, open)
	other := createWebhook(t, f.s, newWebhook(2, 0))
	ds := fanOut(t, f.s, f.note.ID, "{}",
		hookTo(f.hook, time.Hour), hookTo(f.hook, time.Hour), hookTo(f.hook, time.Hour),
		hookTo(other, time.Hour), mailTo(f.alice.Email, time.Hour))
	claim(t, f.s, "server-1", at(time.Hour), at(2*time.Hour), 0)
	recordAttempt(t, f.s, latchkey.Attempt{DeliveryID: ds[0].ID, Server: "server-1", At: at(time.Hour)}, true)
	recordAttempt(t, f.s, latchkey.Attempt{DeliveryID: ds[1].ID, Server: "server-1", At: at(time.Hour), Err: "gone"}, true)

	r := newAuditRecord(f.hook.ID)
	r.Action = latchkey.AuditWebhookDeleted
	if err := f.s.DeleteWebhook(t.Context(), f.hook.ID, r); err != nil {
		t.Fatalf("DeleteWebhook(%q) = %v", f.hook.ID, err)
	}
	hooks, err := f.s.Webhooks(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(hooks) != 1 || hooks[0].ID != other.ID {
		t.Errorf("after DeleteWebhook, Webhooks() = %v, want %q alone", hooks, other.ID)
	}
	// Its history stays; its pending delivery is gone.
	if got, want := deliveryIDs(deliveries(t, f.s, f.hook.ID)), []int64{ds[1].ID, ds[0].ID}; !slices.Equal(got, want) {
		t.Errorf("after DeleteWebhook, Deliveries(%q) = %v, want %v", f.hook.ID, got, want)
	}
	if got := deliveryIDs(deliveries(t, f.s, "")); len(got) != 4 {
		t.Errorf("after DeleteWebhook, Deliveries() = %v, want 4", got)
	}
	if got := claim(t, f.s, "server-2", at(3*time.Hour), at(4*time.Hour), 0); !slices.Equal(got, []int64{ds[3].ID, ds[4].ID}) {
		t.Errorf("after DeleteWebhook, ClaimDeliveries() = %v, want %v", got, []int64{ds[3].ID, ds[4].ID})
	}
	records, err := f.s.AuditRecords(t.Context(), latchkey.AuditFilter{Action: latchkey.AuditWebhookDeleted})
	if err != nil || len(records) != 1 || records[0].SubjectID != f.hook.ID {
		t.Errorf("after DeleteWebhook, AuditRecords(webhook.deleted) = %v, %v; want one about %q", records, err, f.hook.ID)
	}

	err = f.s.DeleteWebhook(t.Context(), f.hook.ID, newAuditRecord(f.hook.ID))
	checkCode(t, "DeleteWebhook(again)", err, latchkey.ENOTFOUND)
	if records, err := f.s.AuditRecords(t.Context(), latchkey.AuditFilter{}); err != nil || len(records) != 1 {
		t.Errorf("after DeleteWebhook of none, AuditRecords() = %d, %v; want 1", len(records), err)
	}
	// Fanning out to it now fails.
	n := addNotification(t, f.s, newNotification(f.alice.ID, "", 2*time.Hour))
	_, err = f.s.FanOut(t.Context(), n.ID, []byte("{}"), []*latchkey.Delivery{hookTo(f.hook, 2*time.Hour)})
	checkCode(t, "FanOut(to a deleted webhook)", err, latchkey.ENOTFOUND)
}

func testMailOff(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	alice := createUser(t, s, newUser("alice"))
	bob := createUser(t, s, newUser("bob"))
	mailOff := func(id int64) []latchkey.NotificationType {
		t.Helper()
		off, err := s.MailOff(t.Context(), id)
		if err != nil {
			t.Fatalf("MailOff(%d) = %v", id, err)
		}
		return off
	}
	set := func(id int64, off ...latchkey.NotificationType) {
		t.Helper()
		if err := s.SetMailOff(t.Context(), id, off); err != nil {
			t.Fatalf("SetMailOff(%d, %v) = %v", id, off, err)
		}
	}
	if got := mailOff(alice.ID); len(got) != 0 {
		t.Errorf("MailOff(new user) = %v, want none", got)
	}
	set(alice.ID, latchkey.NoteTokenRotated, latchkey.NoteTokenExpiring, latchkey.NoteTokenRotated)
	set(bob.ID, latchkey.NoteTokenCreated)
	want := []latchkey.NotificationType{latchkey.NoteTokenExpiring, latchkey.NoteTokenRotated}
	if diff := cmp.Diff(want, mailOff(alice.ID)); diff != "" {
		t.Errorf("MailOff(alice) mismatch (-want +got):\n%s", diff)
	}
	set(alice.ID, latchkey.NoteTokenExpired)
	if diff := cmp.Diff([]latchkey.NotificationType{latchkey.NoteTokenExpired}, mailOff(alice.ID)); diff != "" {
		t.Errorf("after a second SetMailOff, MailOff(alice) mismatch (-want +got):\n%s", diff)
	}
	set(alice.ID)
	if got := mailOff(alice.ID); len(got) != 0 {
		t.Errorf("after SetMailOff(none), MailOff(alice) = %v, want none", got)
	}
	if diff := cmp.Diff([]latchkey.NotificationType{latchkey.NoteTokenCreated}, mailOff(bob.ID)); diff != "" {
		t.Errorf("MailOff(bob) mismatch (-want +got):\n%s", diff)
	}
	err := s.SetMailOff(t.Context(), bob.ID+1000, []latchkey.NotificationType{latchkey.NoteTokenCreated})
	checkCode(t, "SetMailOff(unknown user)", err, latchkey.ENOTFOUND)
}
