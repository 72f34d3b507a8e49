package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/latchkey/latchkey"
)

// successorOf returns the n-th token of old's user, made to replace old:
// its name, scopes, client and parent, new times.
func successorOf(n int, old *latchkey.Token, created time.Time, expires time.Time) *latchkey.Token {
	tok := newToken(n, old.UserID)
	tok.Name, tok.Scopes, tok.ClientID, tok.ParentID = old.Name, old.Scopes, old.ClientID, old.ParentID
	tok.CreatedAt, tok.UpdatedAt, tok.ExpiresAt = created, created, &expires
	tok.RotatedFrom = old.ID
	return tok
}

// rotate rotates old into succ at when with the grace period grace, and
// fails the test on an error.
func rotate(t *testing.T, s latchkey.Store, old string, succ *latchkey.Token, when time.Time, grace time.Duration, audit ...*latchkey.AuditRecord) *latchkey.Rotated {
	t.Helper()
	out, err := s.RotateToken(t.Context(), latchkey.Rotation{Old: old, Successor: succ, At: when, GraceUntil: when.Add(grace)}, audit...)
	if err != nil {
		t.Fatalf("RotateToken(%q) = %v", old, err)
	}
	return out
}

// recordsAbout returns the audit records whose subject is id.
func recordsAbout(t *testing.T, s latchkey.Store, id string) []*latchkey.AuditRecord {
	t.Helper()
	all, err := s.AuditRecords(t.Context(), latchkey.AuditFilter{})
	if err != nil {
		t.Fatalf("AuditRecords() = %v", err)
	}
	var out []*latchkey.AuditRecord
	for _, r := range all {
		if r.SubjectID == id {
			out = append(out, r)
		}
	}
	return out
}

// stored reads the token id.
func stored(t *testing.T, s latchkey.Store, id string) *latchkey.Token {
	t.Helper()
	tok, err := s.Token(t.Context(), id)
	if err != nil {
		t.Fatalf("Token(%q) = %v", id, err)
	}
	return tok
}

func testRotateToken(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("NoGrace", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		root := createToken(t, s, newToken(1, u.ID))
		old := createToken(t, s, childOf(2, u.ID, root))
		child := createToken(t, s, childOf(3, u.ID, old))
		grandchild := createToken(t, s, childOf(4, u.ID, child))
		revokedChild := createToken(t, s, childOf(5, u.ID, old))
		if _, _, err := s.RevokeToken(t.Context(), revokedChild.ID, at(time.Minute), latchkey.ReasonOwner); err != nil {
			t.Fatal(err)
		}
		when := at(time.Hour)
		until := at(30 * 24 * time.Hour) // sooner than the children's year
		succ := successorOf(6, old, when, until)
		out := rotate(t, s, old.ID, succ, when, 0, newAuditRecord(old.ID))

		if out.ReuseDetected {
			t.Error("a first rotation detected reuse")
		}
		if !out.Old.Revoked || out.Old.RevokedReason != latchkey.ReasonRotated || out.Old.RevokedAt == nil || !out.Old.RevokedAt.Equal(when) || out.Old.RotatedTo != succ.ID {
			t.Errorf("Rotated.Old = revoked %t for %q at %v, rotated to %q; want revoked for rotated at %v, rotated to the successor",
				out.Old.Revoked, out.Old.RevokedReason, out.Old.RevokedAt, out.Old.RotatedTo, when)
		}
		if diff := cmp.Diff([]string{old.ID}, ids(out.Revoked)); diff != "" {
			t.Errorf("Rotated.Revoked ids mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(withClient(t, s, succ), stored(t, s, succ.ID)); diff != "" {
			t.Errorf("the successor as stored mismatch (-want +got):\n%s", diff)
		}
		// The live children pass to the successor, which they may not
		// outlive; the revoked one stays where it was.
		got := stored(t, s, child.ID)
		if got.ParentID != succ.ID || got.Revoked || got.ExpiresAt == nil || !got.ExpiresAt.Equal(until) {
			t.Errorf("the child after the rotation: parent %q, revoked %t, expires %v; want the successor's, live, expiring at %v",
				got.ParentID, got.Revoked, got.ExpiresAt, until)
		}
		got = stored(t, s, grandchild.ID)
		if got.ParentID != child.ID || got.Revoked || got.ExpiresAt == nil || !got.ExpiresAt.Equal(until) {
			t.Errorf("the grandchild after the rotation: parent %q, revoked %t, expires %v; want its own parent, live, expiring at %v",
				got.ParentID, got.Revoked, got.ExpiresAt, until)
		}
		if got := stored(t, s, revokedChild.ID); got.ParentID != old.ID {
			t.Errorf("a revoked child passed to the successor: parent %q", got.ParentID)
		}
		changed := map[string]bool{}
		for _, tok := range out.Changed {
			changed[tok.ID] = true
		}
		if !changed[child.ID] || !changed[grandchild.ID] || changed[revokedChild.ID] || changed[old.ID] {
			t.Errorf("Rotated.Changed = %v, want the child and the grandchild only", ids(out.Changed))
		}
		// The successor is revoked with its family, the children it took
		// over among them.
		if _, _, err := s.RevokeToken(t.Context(), succ.ID, at(2*time.Hour), latchkey.ReasonOwner); err != nil {
			t.Fatal(err)
		}
		want := map[string]latchkey.RevokeReason{child.ID: latchkey.ReasonParentRevoked, grandchild.ID: latchkey.ReasonParentRevoked, root.ID: ""}
		if diff := cmp.Diff(want, revocations(t, s, child.ID, grandchild.ID, root.ID)); diff != "" {
			t.Errorf("after the successor's revocation (-want +got):\n%s", diff)
		}
		// The rotation and the old token's revocation are in the audit
		// log.
		recs := recordsAbout(t, s, old.ID)
		var actions []latchkey.AuditAction
		for _, r := range recs {
			actions = append(actions, r.Action)
		}
		if len(actions) != 2 {
			t.Errorf("audit records about the old token = %v, want the rotation and its revocation", actions)
		}
	})

	t.Run("Grace", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		old := createToken(t, s, newToken(1, u.ID))
		when := at(time.Hour)
		succ := successorOf(2, old, when, at(400*24*time.Hour))
		out := rotate(t, s, old.ID, succ, when, 10*time.Minute)
		if out.Old.Revoked || out.Old.ExpiresAt == nil || !out.Old.ExpiresAt.Equal(when.Add(10*time.Minute)) || out.Old.RotatedTo != succ.ID {
			t.Errorf("Rotated.Old = revoked %t, expires %v, rotated to %q; want live until the grace ends, rotated to the successor",
				out.Old.Revoked, out.Old.ExpiresAt, out.Old.RotatedTo)
		}
		if len(out.Revoked) != 0 || len(out.Changed) != 1 || out.Changed[0].ID != old.ID {
			t.Errorf("Rotated revoked %v and changed %v, want nothing revoked and the old token changed", ids(out.Revoked), ids(out.Changed))
		}
		// Nothing to sweep before the grace ends; at its end, the old
		// token is revoked for rotated, once.
		if got, err := s.RevokeRotated(t.Context(), when.Add(10*time.Minute-time.Microsecond)); err != nil || len(got) != 0 {
			t.Errorf("RevokeRotated during the grace = %v, %v; want nothing", ids(got), err)
		}
		end := when.Add(10 * time.Minute)
		got, err := s.RevokeRotated(t.Context(), end, newAuditRecord(""))
		if err != nil || len(got) != 1 || got[0].ID != old.ID || got[0].RevokedReason != latchkey.ReasonRotated {
			t.Fatalf("RevokeRotated at the grace's end = %v, %v; want the old token, revoked for rotated", ids(got), err)
		}
		if got, err := s.RevokeRotated(t.Context(), end.Add(time.Hour)); err != nil || len(got) != 0 {
			t.Errorf("RevokeRotated again = %v, %v; want nothing", ids(got), err)
		}
		if st := stored(t, s, succ.ID); st.Revoked {
			t.Error("the sweep revoked the successor")
		}
		if recs := recordsAbout(t, s, old.ID); len(recs) != 1 || recs[0].Action != latchkey.AuditTokenRevoked || recs[0].Detail != "why" {
			t.Errorf("audit records about the swept token = %+v, want one revocation, the record given", recs)
		}
	})

	t.Run("AnswerLost", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		old := createToken(t, s, newToken(1, u.ID))
		child := createToken(t, s, childOf(2, u.ID, old))
		first := successorOf(3, old, at(time.Hour), at(300*24*time.Hour))
		rotate(t, s, old.ID, first, at(time.Hour), 0)
		// The first successor was never used: asked again, it is
		// superseded, and the child passes on again.
		second := successorOf(4, old, at(2*time.Hour), at(300*24*time.Hour))
		out := rotate(t, s, old.ID, second, at(2*time.Hour), 0)
		if out.ReuseDetected {
			t.Fatal("a rotation asked again before its successor was used detected reuse")
		}
		want := map[string]latchkey.RevokeReason{old.ID: latchkey.ReasonRotated, first.ID: latchkey.ReasonSuperseded, second.ID: "", child.ID: ""}
		if diff := cmp.Diff(want, revocations(t, s, old.ID, first.ID, second.ID, child.ID)); diff != "" {
			t.Errorf("after the second rotation (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{first.ID}, ids(out.Revoked)); diff != "" {
			t.Errorf("Rotated.Revoked ids mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{old.ID, child.ID}, slices.Sorted(slices.Values(ids(out.Changed)))); diff != "" {
			t.Errorf("Rotated.Changed ids mismatch (-want +got):\n%s", diff)
		}
		if got := stored(t, s, old.ID); got.RotatedTo != second.ID {
			t.Errorf("the old token rotated to %q, want the second successor", got.RotatedTo)
		}
		if got := stored(t, s, child.ID); got.ParentID != second.ID {
			t.Errorf("the child's parent is %q, want the second successor", got.ParentID)
		}
		// Once the second is used, asking again is reuse: the old token,
		// revoked by its rotation, is now revoked for reuse too.
		if err := s.TouchTokens(t.Context(), usesAt(map[string]time.Time{second.ID: at(3 * time.Hour)})); err != nil {
			t.Fatal(err)
		}
		out, err := s.RotateToken(t.Context(), latchkey.Rotation{Old: old.ID, Successor: successorOf(5, old, at(4*time.Hour), at(300*24*time.Hour)),
			At: at(4 * time.Hour), GraceUntil: at(4 * time.Hour), DetectReuse: true})
		if err != nil || !out.ReuseDetected {
			t.Fatalf("RotateToken with the old secret after the successor's use = %+v, %v; want reuse detected", out, err)
		}
		if !slices.ContainsFunc(out.Changed, func(c *latchkey.Token) bool { return c.ID == old.ID && c.RevokedReason == latchkey.ReasonReuseDetected }) {
			t.Errorf("Rotated.Changed = %v, want the old token, its reason changed", ids(out.Changed))
		}
		want = map[string]latchkey.RevokeReason{old.ID: latchkey.ReasonReuseDetected, first.ID: latchkey.ReasonSuperseded,
			second.ID: latchkey.ReasonReuseDetected, child.ID: latchkey.ReasonParentRevoked}
		if diff := cmp.Diff(want, revocations(t, s, old.ID, first.ID, second.ID, child.ID)); diff != "" {
			t.Errorf("after reuse (-want +got):\n%s", diff)
		}
	})

	t.Run("ReuseDetected", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		old := createToken(t, s, newToken(1, u.ID))
		first := successorOf(2, old, at(time.Hour), at(300*24*time.Hour))
		rotate(t, s, old.ID, first, at(time.Hour), time.Hour)
		child := createToken(t, s, childOf(3, u.ID, first))
		if err := s.TouchTokens(t.Context(), usesAt(map[string]time.Time{first.ID: at(90 * time.Minute)})); err != nil {
			t.Fatal(err)
		}
		other := createToken(t, s, newToken(4, u.ID))
		// Someone who names the old token but does not hold its secret
		// (an administrator, by its id) is refused, and nothing changes.
		again := successorOf(5, old, at(2*time.Hour), at(300*24*time.Hour))
		_, err := s.RotateToken(t.Context(), latchkey.Rotation{Old: old.ID, Successor: again, At: at(2 * time.Hour), GraceUntil: at(2 * time.Hour)},
			newAuditRecord(old.ID))
		checkCode(t, "RotateToken(a rotated token, its successor used, by id)", err, latchkey.ECONFLICT)
		if diff := cmp.Diff(map[string]latchkey.RevokeReason{old.ID: "", first.ID: "", child.ID: ""}, revocations(t, s, old.ID, first.ID, child.ID)); diff != "" {
			t.Errorf("a refused rotation revoked (-want +got):\n%s", diff)
		}
		// The successor was used: whoever asks again with the old
		// token's secret is not the one who got the answer.
		out, err := s.RotateToken(t.Context(), latchkey.Rotation{Old: old.ID, Successor: again, At: at(2 * time.Hour), GraceUntil: at(2 * time.Hour),
			DetectReuse: true}, newAuditRecord(old.ID))
		if err != nil {
			t.Fatalf("RotateToken after the successor's use = %v", err)
		}
		if !out.ReuseDetected {
			t.Fatal("RotateToken after the successor's use did not detect reuse")
		}
		want := map[string]latchkey.RevokeReason{old.ID: latchkey.ReasonReuseDetected, first.ID: latchkey.ReasonReuseDetected,
			child.ID: latchkey.ReasonParentRevoked, other.ID: ""}
		if diff := cmp.Diff(want, revocations(t, s, old.ID, first.ID, child.ID, other.ID)); diff != "" {
			t.Errorf("after reuse (-want +got):\n%s", diff)
		}
		if _, err := s.Token(t.Context(), again.ID); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Errorf("Token(the successor of a detected reuse) = %v, want ENOTFOUND: nothing is stored", err)
		}
		recs, err := s.AuditRecords(t.Context(), latchkey.AuditFilter{Action: latchkey.AuditTokenReuse})
		if err != nil || len(recs) != 1 || recs[0].SubjectID != old.ID {
			t.Errorf("reuse records = %d (%v), want one about the old token", len(recs), err)
		}
		// Asked once more: the chain is revoked, and stays so.
		_, err = s.RotateToken(t.Context(), latchkey.Rotation{Old: old.ID, Successor: successorOf(6, old, at(3*time.Hour), at(300*24*time.Hour)),
			At: at(3 * time.Hour), GraceUntil: at(3 * time.Hour)})
		checkCode(t, "RotateToken(a token revoked for reuse)", err, latchkey.ECONFLICT)
	})

	t.Run("Refused", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		_, err := s.RotateToken(t.Context(), latchkey.Rotation{Old: tokenID(99), Successor: newToken(98, u.ID), At: at(time.Hour)})
		checkCode(t, "RotateToken(no such token)", err, latchkey.ENOTFOUND)

		revoked := createToken(t, s, newToken(1, u.ID))
		if _, _, err := s.RevokeToken(t.Context(), revoked.ID, at(time.Minute), latchkey.ReasonOwner); err != nil {
			t.Fatal(err)
		}
		_, err = s.RotateToken(t.Context(), latchkey.Rotation{Old: revoked.ID, Successor: successorOf(2, revoked, at(time.Hour), at(48*time.Hour)), At: at(time.Hour)})
		checkCode(t, "RotateToken(a revoked token)", err, latchkey.ECONFLICT)

		expired := newToken(3, u.ID)
		expired.ExpiresAt = ptr(at(time.Minute))
		createToken(t, s, expired)
		_, err = s.RotateToken(t.Context(), latchkey.Rotation{Old: expired.ID, Successor: successorOf(4, expired, at(time.Hour), at(48*time.Hour)), At: at(time.Hour)})
		checkCode(t, "RotateToken(an expired token)", err, latchkey.ECONFLICT)
		for _, id := range []string{tokenID(2), tokenID(4), tokenID(98)} {
			if _, err := s.Token(t.Context(), id); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
				t.Errorf("a refused rotation stored its successor %s: %v", id, err)
			}
		}
	})
}

func testRevokeIdle(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	u := createUser(t, s, newUser("alice"))
	never := createToken(t, s, newToken(1, u.ID)) // created at(0), never used
	child := createToken(t, s, childOf(2, u.ID, never))
	used := createToken(t, s, newToken(3, u.ID))
	if err := s.TouchTokens(t.Context(), usesAt(map[string]time.Time{used.ID: at(5 * time.Hour), child.ID: at(5 * time.Hour)})); err != nil {
		t.Fatal(err)
	}
	late := newToken(4, u.ID)
	late.CreatedAt, late.UpdatedAt = at(3*time.Hour), at(3*time.Hour)
	createToken(t, s, late)

	got, err := s.RevokeIdle(t.Context(), at(2*time.Hour), at(10*time.Hour), newAuditRecord(""))
	if err != nil {
		t.Fatalf("RevokeIdle() = %v", err)
	}
	// The child was used, but goes with its parent.
	if diff := cmp.Diff([]string{never.ID, child.ID}, ids(got)); diff != "" {
		t.Errorf("RevokeIdle() ids mismatch (-want +got):\n%s", diff)
	}
	want := map[string]latchkey.RevokeReason{never.ID: latchkey.ReasonIdle, child.ID: latchkey.ReasonParentRevoked, used.ID: "", late.ID: ""}
	if diff := cmp.Diff(want, revocations(t, s, never.ID, child.ID, used.ID, late.ID)); diff != "" {
		t.Errorf("after RevokeIdle (-want +got):\n%s", diff)
	}
	if len(recordsAbout(t, s, never.ID)) != 1 || len(recordsAbout(t, s, child.ID)) != 1 {
		t.Error("RevokeIdle wrote no record, or more than one, per token")
	}
	if again, err := s.RevokeIdle(t.Context(), at(2*time.Hour), at(11*time.Hour)); err != nil || len(again) != 0 {
		t.Errorf("RevokeIdle again = %v, %v; want nothing", ids(again), err)
	}
}

func testRotateEnded(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	u := createUser(t, s, newUser("alice"))
	parent := createToken(t, s, newToken(1, u.ID))
	old := createToken(t, s, childOf(2, u.ID, parent))
	first := successorOf(3, old, at(time.Hour), at(300*24*time.Hour))
	rotate(t, s, old.ID, first, at(time.Hour), 0)
	// The successor, never used, is revoked on purpose: asking again
	// does not bring the chain back.
	if _, _, err := s.RevokeToken(t.Context(), first.ID, at(2*time.Hour), latchkey.ReasonOwner); err != nil {
		t.Fatal(err)
	}
	_, err := s.RotateToken(t.Context(), latchkey.Rotation{Old: old.ID, Successor: successorOf(4, old, at(3*time.Hour), at(300*24*time.Hour)),
		At: at(3 * time.Hour), GraceUntil: at(3 * time.Hour)})
	checkCode(t, "RotateToken(a token whose successor was revoked)", err, latchkey.ECONFLICT)

	// A successor whose parent is revoked is not stored.
	if _, _, err := s.RevokeToken(t.Context(), parent.ID, at(4*time.Hour), latchkey.ReasonOwner); err != nil {
		t.Fatal(err)
	}
	live := createToken(t, s, newToken(6, u.ID))
	orphan := successorOf(7, live, at(5*time.Hour), at(300*24*time.Hour))
	orphan.ParentID = parent.ID
	_, err = s.RotateToken(t.Context(), latchkey.Rotation{Old: live.ID, Successor: orphan, At: at(5 * time.Hour), GraceUntil: at(5 * time.Hour)})
	checkCode(t, "RotateToken(a successor whose parent is revoked)", err, latchkey.EUNAUTHENTICATED)
	for _, id := range []string{tokenID(4), tokenID(7)} {
		if _, err := s.Token(t.Context(), id); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Errorf("a refused rotation stored %s: %v", id, err)
		}
	}
	if got := stored(t, s, live.ID); got.Revoked || got.Rotated() {
		t.Errorf("a refused rotation changed the old token: %+v", got)
	}
}
