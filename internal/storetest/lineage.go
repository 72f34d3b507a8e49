package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/latchkey/latchkey"
)

// childOf returns the n-th personal token of user, made by the token
// parent.
func childOf(n int, user int64, parent *latchkey.Token) *latchkey.Token {
	tok := newToken(n, user)
	tok.ParentID = parent.ID
	return tok
}

// revocations returns, by token id, the reasons ids are revoked for as
// stored; "" for a token that is not revoked.
func revocations(t *testing.T, s latchkey.Store, ids ...string) map[string]latchkey.RevokeReason {
	t.Helper()
	out := make(map[string]latchkey.RevokeReason, len(ids))
	for _, id := range ids {
		tok, err := s.Token(t.Context(), id)
		if err != nil {
			t.Fatalf("Token(%q) = %v", id, err)
		}
		if tok.Revoked {
			out[id] = tok.RevokedReason
			if tok.RevokedReason == "" {
				out[id] = "(revoked without a reason)"
			}
		} else {
			out[id] = ""
		}
	}
	return out
}

// ids returns the ids of tokens, in order.
func ids(tokens []*latchkey.Token) []string {
	out := make([]string, len(tokens))
	for i, tok := range tokens {
		out[i] = tok.ID
	}
	return out
}

func testLineage(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("ParentStored", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		parent := createToken(t, s, newToken(1, u.ID))
		child := createToken(t, s, childOf(2, u.ID, parent))
		got, err := s.Token(t.Context(), child.ID)
		if err != nil {
			t.Fatalf("Token(%q) = %v", child.ID, err)
		}
		if got.ParentID != parent.ID {
			t.Errorf("Token(child).ParentID = %q, want %q", got.ParentID, parent.ID)
		}
		cred, err := s.Credential(t.Context(), child.ID)
		if err != nil || cred.Token.ParentID != parent.ID {
			t.Errorf("Credential(child) = %+v, %v; want ParentID %q", cred, err, parent.ID)
		}
		list, _, err := s.Tokens(t.Context(), latchkey.TokenFilter{UserID: u.ID})
		if err != nil {
			t.Fatalf("Tokens() = %v", err)
		}
		for _, tok := range list {
			want := ""
			if tok.ID == child.ID {
				want = parent.ID
			}
			if tok.ParentID != want {
				t.Errorf("Tokens() item %q ParentID = %q, want %q", tok.ID, tok.ParentID, want)
			}
		}
		if got, err := s.Token(t.Context(), parent.ID); err != nil || got.ParentID != "" {
			t.Errorf("Token(parent) = %+v, %v; want no ParentID", got, err)
		}
	})

	t.Run("ParentRevoked", func(t *testing.T) {
		// A revocation that committed first is never outlived by a child.
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		parent := createToken(t, s, newToken(1, u.ID))
		if _, _, err := s.RevokeToken(t.Context(), parent.ID, at(time.Hour), latchkey.ReasonRevoked); err != nil {
			t.Fatalf("RevokeToken(parent) = %v", err)
		}
		child := childOf(2, u.ID, parent)
		err := s.CreateToken(t.Context(), child, newAuditRecord(child.ID))
		checkCode(t, "CreateToken(a child of a revoked token)", err, latchkey.EUNAUTHENTICATED)
		_, err = s.Token(t.Context(), child.ID)
		checkCode(t, "after CreateToken(a child of a revoked token), Token(child)", err, latchkey.ENOTFOUND)
		records, err := s.AuditRecords(t.Context(), latchkey.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(records) != 0 {
			t.Errorf("CreateToken(a child of a revoked token) wrote %d audit records, want none", len(records))
		}
	})

	t.Run("ParentMissing", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		child := childOf(2, u.ID, newToken(1, u.ID)) // the parent was never stored
		err := s.CreateToken(t.Context(), child)
		checkCode(t, "CreateToken(a child of no token)", err, latchkey.EUNAUTHENTICATED)
	})

	t.Run("RevokeCascades", func(t *testing.T) {
		s := open(t)
		alice := createUser(t, s, newUser("alice"))
		bob := createUser(t, s, newUser("bob"))
		root := createToken(t, s, newToken(1, alice.ID))
		child := createToken(t, s, childOf(2, alice.ID, root))
		grandchild := createToken(t, s, childOf(3, alice.ID, child))
		forBob := createToken(t, s, childOf(4, bob.ID, root)) // an administrator's token made it
		sibling := createToken(t, s, newToken(5, alice.ID))
		nephew := createToken(t, s, childOf(6, alice.ID, sibling))
		revokedChild := createToken(t, s, childOf(7, alice.ID, root))
		if _, _, err := s.RevokeToken(t.Context(), revokedChild.ID, at(time.Minute), latchkey.ReasonRevoked); err != nil {
			t.Fatalf("RevokeToken(%q) = %v", revokedChild.ID, err)
		}

		if n, err := s.Descendants(t.Context(), root.ID); err != nil || n != 3 {
			t.Errorf("Descendants(root) = %d, %v; want 3", n, err)
		}
		if n, err := s.Descendants(t.Context(), grandchild.ID); err != nil || n != 0 {
			t.Errorf("Descendants(a token with no children) = %d, %v; want 0", n, err)
		}

		when := at(time.Hour)
		rec := newAuditRecord(root.ID)
		rec.Detail = "by alice"
		got, revoked, err := s.RevokeToken(t.Context(), root.ID, when, latchkey.ReasonRevoked, rec)
		if err != nil {
			t.Fatalf("RevokeToken(root) = %v", err)
		}
		if !got.Revoked || got.RevokedReason != latchkey.ReasonRevoked {
			t.Errorf("RevokeToken(root) = revoked %t for %q, want revoked for %q", got.Revoked, got.RevokedReason, latchkey.ReasonRevoked)
		}
		heirs := ids(byID([]*latchkey.Token{child, grandchild, forBob}))
		if diff := cmp.Diff(append([]string{root.ID}, heirs...), ids(revoked)); diff != "" {
			t.Errorf("RevokeToken(root) revoked (-want +got):\n%s", diff)
		}
		for _, tok := range revoked[1:] {
			if !tok.Revoked || tok.RevokedReason != latchkey.ReasonParentRevoked || !tok.UpdatedAt.Equal(when) || tok.Client == nil {
				t.Errorf("RevokeToken(root) returned descendant %+v, want revoked for %q at %v, with its client", tok, latchkey.ReasonParentRevoked, when)
			}
		}
		want := map[string]latchkey.RevokeReason{
			root.ID:         latchkey.ReasonRevoked,
			child.ID:        latchkey.ReasonParentRevoked,
			grandchild.ID:   latchkey.ReasonParentRevoked,
			forBob.ID:       latchkey.ReasonParentRevoked,
			revokedChild.ID: latchkey.ReasonRevoked, // as it was
			sibling.ID:      "",
			nephew.ID:       "",
		}
		if diff := cmp.Diff(want, revocations(t, s, root.ID, child.ID, grandchild.ID, forBob.ID, revokedChild.ID, sibling.ID, nephew.ID)); diff != "" {
			t.Errorf("after RevokeToken(root), revocations (-want +got):\n%s", diff)
		}
		checkRevoked(t, s, "RevokeToken(root)", true, at(time.Minute), revokedChild.ID)
		if n, err := s.Descendants(t.Context(), root.ID); err != nil || n != 0 {
			t.Errorf("after RevokeToken(root), Descendants(root) = %d, %v; want 0", n, err)
		}

		// One record per token, each naming why.
		records, err := s.AuditRecords(t.Context(), latchkey.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		details := map[string]string{}
		for _, r := range records {
			if r.Action != latchkey.AuditTokenRevoked || !r.At.Equal(when) {
				continue
			}
			if _, dup := details[r.SubjectID]; dup {
				t.Errorf("two records about %q", r.SubjectID)
			}
			details[r.SubjectID] = r.Detail
			if r.Actor != rec.Actor || r.Address != rec.Address {
				t.Errorf("record about %q by %q from %q, want the revoker's (%q from %q)", r.SubjectID, r.Actor, r.Address, rec.Actor, rec.Address)
			}
		}
		wantDetails := map[string]string{
			root.ID:       "by alice",
			child.ID:      "parent_revoked: made by token " + root.ID,
			grandchild.ID: "parent_revoked: made by token " + child.ID,
			forBob.ID:     "parent_revoked: made by token " + root.ID,
		}
		if diff := cmp.Diff(wantDetails, details); diff != "" {
			t.Errorf("after RevokeToken(root), audit details by subject (-want +got):\n%s", diff)
		}

		// Revoking it again changes and records nothing.
		_, again, err := s.RevokeToken(t.Context(), root.ID, at(2*time.Hour), latchkey.ReasonRevoked, newAuditRecord(root.ID))
		if err != nil || len(again) != 0 {
			t.Errorf("RevokeToken(root) again = %d revoked, %v; want none", len(again), err)
		}
	})

	t.Run("RevokeChild", func(t *testing.T) {
		// Revoking a child leaves its parent alone.
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		root := createToken(t, s, newToken(1, u.ID))
		child := createToken(t, s, childOf(2, u.ID, root))
		grandchild := createToken(t, s, childOf(3, u.ID, child))
		if _, _, err := s.RevokeToken(t.Context(), child.ID, at(time.Hour), latchkey.ReasonRevoked); err != nil {
			t.Fatalf("RevokeToken(child) = %v", err)
		}
		want := map[string]latchkey.RevokeReason{root.ID: "", child.ID: latchkey.ReasonRevoked, grandchild.ID: latchkey.ReasonParentRevoked}
		if diff := cmp.Diff(want, revocations(t, s, root.ID, child.ID, grandchild.ID)); diff != "" {
			t.Errorf("after RevokeToken(child), revocations (-want +got):\n%s", diff)
		}
	})

	// Each way an OAuth authorization ends takes the tokens its access
	// tokens made with it.
	for _, end := range []struct {
		name   string
		reason latchkey.RevokeReason
		do     func(t *testing.T, s latchkey.Store, user, client int64) ([]*latchkey.Token, error)
	}{
		{"RevokeRequestTokens", latchkey.ReasonAuthorizationEnded, func(t *testing.T, s latchkey.Store, _, _ int64) ([]*latchkey.Token, error) {
			return s.RevokeRequestTokens(t.Context(), "request-a", at(time.Hour), latchkey.ReasonAuthorizationEnded, newAuditRecord(""))
		}},
		{"RevokeConsent", latchkey.ReasonConsentWithdrawn, func(t *testing.T, s latchkey.Store, user, client int64) ([]*latchkey.Token, error) {
			return s.RevokeConsent(t.Context(), user, client, at(time.Hour), newAuditRecord(""))
		}},
		{"RevokeClient", latchkey.ReasonClientRevoked, func(t *testing.T, s latchkey.Store, _, client int64) ([]*latchkey.Token, error) {
			rec := newAuditRecord("")
			rec.Action = latchkey.AuditClientRevoked
			return s.RevokeClient(t.Context(), client, at(time.Hour), rec)
		}},
		{"EndUserAuthorizations", latchkey.ReasonUserDisabled, func(t *testing.T, s latchkey.Store, user, client int64) ([]*latchkey.Token, error) {
			revoked, err := s.EndUserAuthorizations(t.Context(), user, at(time.Hour), newAuditRecord(""))
			if _, cerr := s.Consent(t.Context(), user, client); latchkey.ErrorCode(cerr) != latchkey.ENOTFOUND {
				t.Errorf("after EndUserAuthorizations, Consent() = %v, want ENOTFOUND", cerr)
			}
			if live, lerr := s.AuthorizationLive(t.Context(), "request-a", user, client); lerr != nil || live {
				t.Errorf("after EndUserAuthorizations, AuthorizationLive(request-a) = %t, %v; want false", live, lerr)
			}
			return revoked, err
		}},
	} {
		t.Run(end.name, func(t *testing.T) {
			s := open(t)
			u := createUser(t, s, newUser("alice"))
			app := createClient(t, s, newClient("App"))
			saveConsent(t, s, newConsent(u.ID, app.ID))
			access, _ := issueToken(t, s, 1, u.ID, app.ID, "request-a")
			made := createToken(t, s, childOf(2, u.ID, access))
			madeByMade := createToken(t, s, childOf(3, u.ID, made))
			mine := createToken(t, s, newToken(4, u.ID))

			revoked, err := end.do(t, s, u.ID, app.ID)
			if err != nil {
				t.Fatalf("%s = %v", end.name, err)
			}
			if diff := cmp.Diff([]string{access.ID, made.ID, madeByMade.ID}, ids(revoked)); diff != "" {
				t.Errorf("%s revoked (-want +got):\n%s", end.name, diff)
			}
			want := map[string]latchkey.RevokeReason{
				access.ID: end.reason, made.ID: latchkey.ReasonParentRevoked, madeByMade.ID: latchkey.ReasonParentRevoked, mine.ID: "",
			}
			if diff := cmp.Diff(want, revocations(t, s, access.ID, made.ID, madeByMade.ID, mine.ID)); diff != "" {
				t.Errorf("after %s, revocations (-want +got):\n%s", end.name, diff)
			}
			records, err := s.AuditRecords(t.Context(), latchkey.AuditFilter{Action: latchkey.AuditTokenRevoked})
			if err != nil {
				t.Fatal(err)
			}
			var about []string
			for _, r := range records {
				about = append(about, r.SubjectID)
			}
			slices.Sort(about)
			wantAbout := []string{made.ID, madeByMade.ID}
			if end.name != "RevokeClient" {
				// The client's own tokens go with its one record.
				wantAbout = append([]string{access.ID}, wantAbout...)
			}
			slices.Sort(wantAbout)
			if diff := cmp.Diff(wantAbout, about); diff != "" {
				t.Errorf("after %s, token.revoked records about (-want +got):\n%s", end.name, diff)
			}
		})
	}

	t.Run("RestoreUser", func(t *testing.T) {
		// An administrator's token that made a token for bob takes it
		// with it when the administrator is deleted and restored.
		s := open(t)
		admin := createUser(t, s, newUser("admin"))
		bob := createUser(t, s, newUser("bob"))
		root := createToken(t, s, newToken(1, admin.ID))
		forBob := createToken(t, s, childOf(2, bob.ID, root))
		if err := s.DeleteUser(t.Context(), admin.ID, at(time.Minute)); err != nil {
			t.Fatalf("DeleteUser(admin) = %v", err)
		}
		_, revoked, err := s.RestoreUser(t.Context(), admin.ID, at(time.Hour))
		if err != nil {
			t.Fatalf("RestoreUser(admin) = %v", err)
		}
		if diff := cmp.Diff([]string{root.ID, forBob.ID}, ids(revoked)); diff != "" {
			t.Errorf("RestoreUser(admin) revoked (-want +got):\n%s", diff)
		}
		want := map[string]latchkey.RevokeReason{root.ID: latchkey.ReasonUserRestored, forBob.ID: latchkey.ReasonParentRevoked}
		if diff := cmp.Diff(want, revocations(t, s, root.ID, forBob.ID)); diff != "" {
			t.Errorf("after RestoreUser(admin), revocations (-want +got):\n%s", diff)
		}
	})

	t.Run("CreateWhileRevoking", func(t *testing.T) {
		// Children and grandchildren made while their ancestor is revoked
		// are either refused or revoked with it: none is left live.
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		for round := range 5 {
			base := round * 1000
			root := createToken(t, s, newToken(base+1, u.ID))
			kids := []*latchkey.Token{createToken(t, s, childOf(base+2, u.ID, root)), createToken(t, s, childOf(base+3, u.ID, root))}
			var wg sync.WaitGroup
			start := make(chan struct{})
			var mu sync.Mutex
			var made []string
			for i := range 16 {
				parent := kids[i%2]
				if i%4 == 0 {
					parent = root
				}
				wg.Go(func() {
					<-start
					child := childOf(base+10+i, u.ID, parent)
					err := s.CreateToken(t.Context(), child)
					switch latchkey.ErrorCode(err) {
					case "":
						mu.Lock()
						made = append(made, child.ID)
						mu.Unlock()
					case latchkey.EUNAUTHENTICATED:
					default:
						t.Errorf("CreateToken(a child while its ancestor is revoked) = %v", err)
					}
				})
			}
			wg.Go(func() {
				<-start
				if _, _, err := s.RevokeToken(t.Context(), root.ID, at(time.Hour), latchkey.ReasonRevoked); err != nil {
					t.Errorf("RevokeToken(root) = %v", err)
				}
			})
			close(start)
			wg.Wait()
			for id, reason := range revocations(t, s, append(ids(kids), made...)...) {
				if reason != latchkey.ReasonParentRevoked {
					t.Errorf("round %d: token %q made under the revoked root is revoked for %q, want %q", round, id, reason, latchkey.ReasonParentRevoked)
				}
			}
		}
	})
}

// BenchmarkRevokeFamily is the benchmark of revoking a token with n
// descendants, in a tree ten wide at each level.
func benchmarkRevokeFamily(b *testing.B, open func(b *testing.B) latchkey.Store, n int) {
	s := open(b)
	u := createUser(b, s, newUser("alice"))
	b.StopTimer()
	for next := 1; next <= b.N; next++ {
		root := createToken(b, s, newToken(next*1_000_000, u.ID))
		level := []*latchkey.Token{root}
		made := 0
		for made < n {
			var below []*latchkey.Token
			for _, p := range level {
				for range 10 {
					if made == n {
						break
					}
					made++
					below = append(below, createToken(b, s, childOf(next*1_000_000+made, u.ID, p)))
				}
			}
			level = below
		}
		b.StartTimer()
		_, revoked, err := s.RevokeToken(b.Context(), root.ID, at(time.Hour), latchkey.ReasonRevoked, newAuditRecord(root.ID))
		b.StopTimer()
		if err != nil || len(revoked) != n+1 {
			b.Fatalf("RevokeToken(a token with %d descendants) = %d revoked, %v", n, len(revoked), err)
		}
	}
	b.ReportMetric(float64(n), "descendants")
}

// familyName names the benchmark of a family of n.
func familyName(n int) string { return fmt.Sprintf("RevokeFamily/%d", n) }
