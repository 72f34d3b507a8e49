package latchkey

import (
	"testing"
	"time"
)

func TestNotifyOf(t *testing.T) {
	alice, bob := int64(1), int64(2)
	for _, c := range []struct {
		name string
		r    AuditRecord
		want NotificationType
	}{
		{"nothing asked", AuditRecord{Actor: ActorOperator, SubjectUserID: &alice}, ""},
		{"made by the operator", AuditRecord{Notify: NoteTokenCreated, Actor: ActorOperator, SubjectUserID: &alice}, NoteTokenCreated},
		{"made by another user", AuditRecord{Notify: NoteTokenCreated, Actor: ActorUser, ActorUserID: &bob, SubjectUserID: &alice}, NoteTokenCreated},
		{"made by the owner in the web pages", AuditRecord{Notify: NoteTokenCreated, Actor: ActorUser, ActorUserID: &alice, SubjectUserID: &alice}, ""},
		{"made by the owner's token", AuditRecord{Notify: NoteTokenCreated, Actor: ActorUser, ActorUserID: &alice, ActorTokenID: "t", SubjectUserID: &alice}, NoteTokenCreated},
		{"revoked by the owner in the web pages", AuditRecord{Notify: NoteTokenRevoked, Actor: ActorUser, ActorUserID: &alice, SubjectUserID: &alice, SubjectID: "t"}, ""},
		{"revoked by itself", AuditRecord{Notify: NoteTokenRevoked, Actor: ActorUser, ActorUserID: &alice, ActorTokenID: "t", SubjectUserID: &alice, SubjectID: "t"}, ""},
		{"revoked by another of the owner's tokens", AuditRecord{Notify: NoteTokenRevoked, Actor: ActorUser, ActorUserID: &alice, ActorTokenID: "u", SubjectUserID: &alice, SubjectID: "t"}, NoteTokenRevoked},
		{"revoked by an administrator", AuditRecord{Notify: NoteTokenRevoked, Actor: ActorUser, ActorUserID: &bob, SubjectUserID: &alice}, NoteTokenRevoked},
		{"revoked by the server", AuditRecord{Notify: NoteTokenRevoked, Actor: ActorSystem, SubjectUserID: &alice}, NoteTokenRevoked},
		{"rotated by the owner", AuditRecord{Notify: NoteTokenRotated, Actor: ActorUser, ActorUserID: &alice, SubjectUserID: &alice}, NoteTokenRotated},
		{"reuse", AuditRecord{Notify: NoteTokenReuse, Actor: ActorUser, ActorUserID: &alice, SubjectUserID: &alice}, NoteTokenReuse},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := NotifyOf(&c.r); got != c.want {
				t.Errorf("NotifyOf = %q, want %q", got, c.want)
			}
		})
	}
}

func TestNotificationOf(t *testing.T) {
	alice, bob := int64(1), int64(2)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := &AuditRecord{ID: 9, At: at, Notify: NoteTokenRevoked, Actor: ActorUser, ActorUserID: &bob, ActorTokenID: "tb",
		SubjectUserID: &alice, SubjectID: "ta", Detail: "admin"}
	n := NotificationOf(r)
	if n == nil || n.Type != NoteTokenRevoked || n.UserID != alice || n.TokenID != "ta" || n.ClientID != 0 ||
		n.AuditID != 9 || !n.At.Equal(at) || n.Actor != ActorUser || *n.ActorUserID != bob || n.ActorTokenID != "tb" || n.Detail != "admin" {
		t.Errorf("NotificationOf = %+v", n)
	}
	app := &AuditRecord{Notify: NoteAppAuthorized, Actor: ActorUser, ActorUserID: &alice, SubjectUserID: &alice, SubjectID: "7"}
	if n := NotificationOf(app); n == nil || n.ClientID != 7 || n.TokenID != "" {
		t.Errorf("NotificationOf(application) = %+v", n)
	}
	if n := NotificationOf(&AuditRecord{Notify: NoteTokenRevoked, Actor: ActorOperator, SubjectID: "x"}); n != nil {
		t.Errorf("a record about no user: %+v", n)
	}
	if n := NotificationOf(&AuditRecord{Actor: ActorOperator, SubjectUserID: &alice}); n != nil {
		t.Errorf("a record that asks for none: %+v", n)
	}
}

func TestNotificationTypes(t *testing.T) {
	for _, ty := range NotificationTypes {
		if !ty.Valid() {
			t.Errorf("%s not valid", ty)
		}
	}
	if NotificationType("token.eaten").Valid() {
		t.Error("an unknown type is valid")
	}
	for ty, want := range map[NotificationType]bool{NoteTokenRevoked: true, NoteTokenReuse: true, NoteTokenExpiring: false, NoteTokenCreated: false} {
		if ty.Security() != want {
			t.Errorf("%s.Security() = %v", ty, !want)
		}
	}
	w := &Webhook{}
	if !w.Wants(NoteTokenCreated) {
		t.Error("a webhook with no events does not want every one")
	}
	w.Events = []NotificationType{NoteTokenRevoked}
	if w.Wants(NoteTokenCreated) || !w.Wants(NoteTokenRevoked) {
		t.Error("Wants ignores the webhook's events")
	}
}
