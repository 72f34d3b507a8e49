package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey"
)

// newResource returns the n-th resource of the fixtures, created n
// minutes after the epoch.
func newResource(n int) *latchkey.Resource {
	return &latchkey.Resource{
		URI:           fmt.Sprintf("https://mcp%d.example.com/mcp", n),
		Name:          fmt.Sprintf("MCP server %d", n),
		Scopes:        []string{"mcp:tools", "mcp:resources"},
		DefaultScopes: []string{"mcp:tools"},
		CreatedAt:     at(time.Duration(n) * time.Minute),
	}
}

// createResource stores r and returns it.
func createResource(t testing.TB, s latchkey.Store, r *latchkey.Resource) *latchkey.Resource {
	t.Helper()
	if err := s.CreateResource(t.Context(), r); err != nil {
		t.Fatalf("CreateResource(%q) = %v", r.URI, err)
	}
	return r
}

func testResources(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("RoundTrip", func(t *testing.T) {
		s := open(t)
		r := newResource(1)
		r.Scopes = []string{"b", "a", "c"} // kept in their order
		r.DefaultScopes = []string{"c", "b"}
		createResource(t, s, r)
		if r.ID <= 0 {
			t.Fatalf("CreateResource set ID %d, want a positive id", r.ID)
		}
		got, err := s.Resource(t.Context(), r.URI)
		if err != nil {
			t.Fatalf("Resource(%q) = %v", r.URI, err)
		}
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("Resource(%q) mismatch (-want +got):\n%s", r.URI, diff)
		}
	})

	t.Run("ExactURI", func(t *testing.T) {
		// The store compares URIs byte for byte: normalizing is the
		// caller's.
		s := open(t)
		r := createResource(t, s, newResource(1))
		for _, uri := range []string{r.URI + "/", "HTTPS://mcp1.example.com/mcp", "https://mcp1.example.com/MCP"} {
			_, err := s.Resource(t.Context(), uri)
			checkCode(t, fmt.Sprintf("Resource(%q)", uri), err, latchkey.ENOTFOUND)
		}
	})

	t.Run("DeleteRevokesItsTokens", func(t *testing.T) {
		// The access tokens issued for the resource are revoked with it,
		// at the time given and with their reason; a token for another
		// resource, one for the API and one revoked before are left.
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		r1 := createResource(t, s, newResource(1))
		r2 := createResource(t, s, newResource(2))
		issue := func(n int, audience string) *latchkey.Token {
			t.Helper()
			tok := newToken(n, u.ID)
			tok.ClientID, tok.Audience = app.ID, audience
			if err := s.CreateAccessToken(t.Context(), tok, newGrant(latchkey.GrantAccess, tok.ID, fmt.Sprintf("request-%d", n), u.ID, app.ID)); err != nil {
				t.Fatalf("CreateAccessToken(%q) = %v", tok.ID, err)
			}
			return tok
		}
		mine, before, other, api := issue(1, r1.URI), issue(2, r1.URI), issue(3, r2.URI), issue(4, "")
		if _, _, err := s.RevokeToken(t.Context(), before.ID, at(30*time.Minute), latchkey.ReasonOwner); err != nil {
			t.Fatalf("RevokeToken(%q) = %v", before.ID, err)
		}
		rec := &latchkey.AuditRecord{At: at(time.Hour), Action: latchkey.AuditResourceDeleted, SubjectID: fmt.Sprint(r1.ID), Detail: r1.URI}
		ts, err := s.DeleteResource(t.Context(), r1.ID, at(time.Hour), rec)
		if err != nil {
			t.Fatalf("DeleteResource(%d) = %v", r1.ID, err)
		}
		if len(ts) != 1 || ts[0].ID != mine.ID || ts[0].RevokedReason != latchkey.ReasonResourceDeleted {
			t.Fatalf("DeleteResource(%d) revoked %v, want %s alone, for resource_deleted", r1.ID, ts, mine.ID)
		}
		for _, tc := range []struct {
			tok    *latchkey.Token
			reason latchkey.RevokeReason
			when   time.Time
		}{
			{mine, latchkey.ReasonResourceDeleted, at(time.Hour)},
			{before, latchkey.ReasonOwner, at(30 * time.Minute)},
			{other, "", time.Time{}},
			{api, "", time.Time{}},
		} {
			got, err := s.Token(t.Context(), tc.tok.ID)
			if err != nil {
				t.Fatalf("Token(%q) = %v", tc.tok.ID, err)
			}
			revokedAt := time.Time{}
			if got.RevokedAt != nil {
				revokedAt = *got.RevokedAt
			}
			if got.Revoked != (tc.reason != "") || got.RevokedReason != tc.reason || !revokedAt.Equal(tc.when) {
				t.Errorf("token for %q: revoked %t, reason %q at %v; want %q at %v",
					tc.tok.Audience, got.Revoked, got.RevokedReason, revokedAt, tc.reason, tc.when)
			}
		}
	})

	t.Run("ListAndDelete", func(t *testing.T) {
		s := open(t)
		list, err := s.Resources(t.Context())
		if err != nil || list == nil || len(list) != 0 {
			t.Fatalf("Resources() of a new store = %v, %v; want an empty list", list, err)
		}
		// Created out of order in time: listed by id.
		r2 := createResource(t, s, newResource(2))
		r1 := createResource(t, s, newResource(1))
		r3 := createResource(t, s, newResource(3))
		list, err = s.Resources(t.Context())
		if err != nil {
			t.Fatalf("Resources() = %v", err)
		}
		if diff := cmp.Diff([]*latchkey.Resource{r2, r1, r3}, list); diff != "" {
			t.Errorf("Resources() mismatch (-want +got):\n%s", diff)
		}
		if ts, err := s.DeleteResource(t.Context(), r1.ID, at(time.Hour)); err != nil || ts == nil || len(ts) != 0 {
			t.Fatalf("DeleteResource(%d) = %v, %v; want no token revoked, and an empty list", r1.ID, ts, err)
		}
		_, err = s.Resource(t.Context(), r1.URI)
		checkCode(t, "after DeleteResource, Resource", err, latchkey.ENOTFOUND)
		_, err = s.DeleteResource(t.Context(), r1.ID, at(time.Hour))
		checkCode(t, "DeleteResource again", err, latchkey.ENOTFOUND)
		list, err = s.Resources(t.Context())
		if err != nil {
			t.Fatalf("Resources() = %v", err)
		}
		if diff := cmp.Diff([]*latchkey.Resource{r2, r3}, list); diff != "" {
			t.Errorf("after DeleteResource, Resources() mismatch (-want +got):\n%s", diff)
		}
		// The URI is free again, under a new id.
		again := createResource(t, s, newResource(1))
		if again.ID == r1.ID {
			t.Errorf("a resource registered again at a deleted one's URI has its id %d; want a new one", again.ID)
		}
	})

	t.Run("Conflict", func(t *testing.T) {
		s := open(t)
		createResource(t, s, newResource(1))
		err := s.CreateResource(t.Context(), newResource(1))
		checkCode(t, "CreateResource(same URI)", err, latchkey.ECONFLICT)
		list, err := s.Resources(t.Context())
		if err != nil || len(list) != 1 {
			t.Errorf("after a refused CreateResource, Resources() = %v, %v; want the one resource", list, err)
		}
	})
}
