package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/latchkey/latchkey"
)

func testRecordAudit(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	ctx := t.Context()
	actor, subject := int64(1), int64(2)
	at := time.Date(2026, 5, 1, 12, 0, 0, 123456000, time.UTC)
	r := &latchkey.AuditRecord{
		At: at, Action: latchkey.AuditTokenRevoked, Actor: latchkey.ActorUser,
		ActorUserID: &actor, ActorTokenID: "abc", SubjectUserID: &subject, SubjectID: "def",
		Origin: latchkey.Origin{Address: "203.0.113.5", UserAgent: "curl/8.0 ünïcode"},
		Detail: "by an editor",
	}
	if err := s.RecordAudit(ctx, r); err != nil {
		t.Fatalf("RecordAudit() = %v", err)
	}
	if r.ID == 0 {
		t.Error("RecordAudit() left ID zero")
	}
	anon := &latchkey.AuditRecord{At: at.Add(time.Second), Action: latchkey.AuditAuthRefused, Actor: latchkey.ActorAnonymous, SubjectID: "xyz", Detail: "revoked"}
	if err := s.RecordAudit(ctx, anon); err != nil {
		t.Fatalf("RecordAudit(anonymous) = %v", err)
	}
	got, err := s.AuditRecords(ctx, latchkey.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*latchkey.AuditRecord{anon, r}, got); diff != "" {
		t.Errorf("AuditRecords() round trip, newest first (-want +got):\n%s", diff)
	}
}

func testAuditRecords(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	ctx := t.Context()
	one, two := int64(1), int64(2)
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	records := []*latchkey.AuditRecord{
		{At: base, Action: latchkey.AuditTokenCreated, ActorUserID: &one, SubjectUserID: &one, SubjectID: "t1"},
		{At: base.Add(time.Minute), Action: latchkey.AuditTokenCreated, ActorUserID: &one, SubjectUserID: &two, SubjectID: "t2"},
		{At: base.Add(2 * time.Minute), Action: latchkey.AuditTokenRevoked, ActorUserID: &two, SubjectUserID: &two, SubjectID: "t2"},
		{At: base.Add(2 * time.Minute), Action: latchkey.AuditKeyAdded, SubjectID: "kid"},
	}
	for _, r := range records {
		if err := s.RecordAudit(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(rs []*latchkey.AuditRecord) []string {
		var out []string
		for _, r := range rs {
			out = append(out, string(r.Action)+" "+r.SubjectID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    latchkey.AuditFilter
		want []string
	}{
		{"all, newest first, ties by id", latchkey.AuditFilter{}, []string{"key.added kid", "token.revoked t2", "token.created t2", "token.created t1"}},
		{"action", latchkey.AuditFilter{Action: latchkey.AuditTokenCreated}, []string{"token.created t2", "token.created t1"}},
		{"user as actor or subject", latchkey.AuditFilter{UserID: &two}, []string{"token.revoked t2", "token.created t2"}},
		{"since", latchkey.AuditFilter{Since: base.Add(time.Minute)}, []string{"key.added kid", "token.revoked t2", "token.created t2"}},
		{"limit", latchkey.AuditFilter{Limit: 1}, []string{"key.added kid"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.AuditRecords(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, ids(got)); diff != "" {
				t.Errorf("AuditRecords(%+v) (-want +got):\n%s", tc.f, diff)
			}
		})
	}
}

func testPruneAudit(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	ctx := t.Context()
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range 5 {
		if err := s.RecordAudit(ctx, &latchkey.AuditRecord{At: base.Add(time.Duration(i) * time.Hour), Action: latchkey.AuditTokenCreated}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PruneAudit(ctx, base.Add(2*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("PruneAudit() = %d, %v; want 2 records older than the cut", n, err)
	}
	left, _ := s.AuditRecords(ctx, latchkey.AuditFilter{})
	if len(left) != 3 || !left[len(left)-1].At.Equal(base.Add(2*time.Hour)) {
		t.Errorf("after PruneAudit, %d records left, oldest %v", len(left), left[len(left)-1].At)
	}
}
