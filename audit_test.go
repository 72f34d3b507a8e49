package latchkey_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey"
)

// TestAuditWithTokens: a record of a token revocation is written once for
// each token the change revoked itself, about that token; any other record
// once as given; and each token revoked with its parent gets a record of
// its own, by the same actor, naming the parent.
func TestAuditWithTokens(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	actor := int64(1)
	revoke := &latchkey.AuditRecord{At: at, Action: latchkey.AuditTokenRevoked, Actor: latchkey.ActorUser, ActorUserID: &actor, Detail: "why"}
	other := &latchkey.AuditRecord{At: at, Action: latchkey.AuditUserDeleted, Actor: latchkey.ActorUser, ActorUserID: &actor, SubjectID: "9"}
	ts := []*latchkey.Token{
		{ID: "t1", UserID: 9, RevokedReason: latchkey.ReasonRevoked},
		{ID: "t2", UserID: 9, RevokedReason: latchkey.ReasonAuthorizationEnded},
		{ID: "t3", UserID: 10, RevokedReason: latchkey.ReasonParentRevoked, ParentID: "t1"},
	}
	u9, u10 := int64(9), int64(10)
	want := []*latchkey.AuditRecord{
		other,
		{At: at, Action: latchkey.AuditTokenRevoked, Actor: latchkey.ActorUser, ActorUserID: &actor, SubjectUserID: &u9, SubjectID: "t1", Detail: "why"},
		{At: at, Action: latchkey.AuditTokenRevoked, Actor: latchkey.ActorUser, ActorUserID: &actor, SubjectUserID: &u9, SubjectID: "t2", Detail: "why"},
		// The descendant's record is rs[0]'s (other's) actor, time and
		// origin, made a revocation.
		{At: at, Action: latchkey.AuditTokenRevoked, Actor: latchkey.ActorUser, ActorUserID: &actor, SubjectUserID: &u10, SubjectID: "t3",
			Detail: "parent_revoked: made by token t1"},
	}
	got := latchkey.AuditWithTokens([]*latchkey.AuditRecord{other, revoke}, ts)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AuditWithTokens (-want +got):\n%s", diff)
	}
}

// TestAuditWithDescendants: the records as given, then one for each token
// revoked with its parent; none without a record to take the actor from.
func TestAuditWithDescendants(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	rec := &latchkey.AuditRecord{At: at, Action: latchkey.AuditTokenRevoked, Actor: latchkey.ActorOperator, SubjectID: "t1", Detail: "revoked"}
	ts := []*latchkey.Token{
		{ID: "t1", UserID: 9, RevokedReason: latchkey.ReasonRevoked},
		{ID: "t2", UserID: 9, RevokedReason: latchkey.ReasonParentRevoked, ParentID: "t1"},
	}
	u9 := int64(9)
	want := []*latchkey.AuditRecord{
		rec,
		{At: at, Action: latchkey.AuditTokenRevoked, Actor: latchkey.ActorOperator, SubjectUserID: &u9, SubjectID: "t2", Detail: "parent_revoked: made by token t1"},
	}
	if diff := cmp.Diff(want, latchkey.AuditWithDescendants([]*latchkey.AuditRecord{rec}, ts)); diff != "" {
		t.Errorf("AuditWithDescendants (-want +got):\n%s", diff)
	}
	if got := latchkey.AuditWithDescendants(nil, ts); len(got) != 0 {
		t.Errorf("AuditWithDescendants(nil, ...) = %d records, want none", len(got))
	}
}
