package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/latchkey/latchkey"
)

func testCreateClient(t *testing.T, open func(t *testing.T) latchkey.Store) {
	tests := []struct {
		name   string
		client func(owner int64) *latchkey.Client
	}{
		{"Confidential", func(owner int64) *latchkey.Client {
			return &latchkey.Client{
				UserID:     &owner,
				Name:       "Reporting",
				SecretHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
				Provider:   ptr("users"),
				Redirect:   "https://a.example.com/cb,https://b.example.com/cb",
				CreatedAt:  at(0),
				UpdatedAt:  at(time.Minute),
			}
		}},
		{"Public", func(int64) *latchkey.Client {
			return &latchkey.Client{
				Name:      "CLI",
				Redirect:  "http://127.0.0.1",
				CreatedAt: at(0),
				UpdatedAt: at(0),
			}
		}},
		{"PasswordClient", func(int64) *latchkey.Client {
			return &latchkey.Client{
				Name:           "Password Grant",
				SecretHash:     "hash",
				Redirect:       "http://localhost",
				PasswordClient: true,
				CreatedAt:      at(0),
				UpdatedAt:      at(0),
			}
		}},
		{"PersonalAccessClient", func(int64) *latchkey.Client {
			return &latchkey.Client{
				Name:                 "Second Personal Access Client",
				Redirect:             "http://localhost",
				PersonalAccessClient: true,
				CreatedAt:            at(0),
				UpdatedAt:            at(0),
			}
		}},
		{"DefaultScopes", func(int64) *latchkey.Client {
			c := newClient("Agent")
			c.DefaultScopes = latchkey.Scopes{"tokens.read", "tokens.write", "billing:read/all"}
			return c
		}},
		{"SelfRegistered", func(int64) *latchkey.Client {
			c := newClient("Editor")
			c.SecretHash = ""
			c.SelfRegistered = true
			return c
		}},
		{"MetadataDocument", func(int64) *latchkey.Client {
			c := newClient("Agent")
			c.SecretHash = ""
			c.SelfRegistered = true
			c.MetadataURL = "https://agent.example.com/oauth/client.json"
			return c
		}},
		{"Revoked", func(int64) *latchkey.Client {
			c := newClient("Old")
			c.Revoked = true
			return c
		}},
		{"OtherZone", func(int64) *latchkey.Client {
			c := newClient("Zoned")
			c.CreatedAt = at(0).In(time.FixedZone("PST", -8*3600))
			c.UpdatedAt = at(time.Hour).In(time.FixedZone("IST", 5*3600+1800))
			return c
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			owner := createUser(t, s, newUser("owner"))
			c := createClient(t, s, tt.client(owner.ID))
			if c.ID == 0 || c.ID == latchkey.PersonalAccessClientID {
				t.Errorf("CreateClient set ID %d, want a new id", c.ID)
			}
			got, err := s.Client(t.Context(), c.ID)
			if err != nil {
				t.Fatalf("Client(%d) = %v", c.ID, err)
			}
			if diff := cmp.Diff(c, got); diff != "" {
				t.Errorf("Client(%d) mismatch (-want +got):\n%s", c.ID, diff)
			}
			checkUTC(t, fmt.Sprintf("Client(%d)", c.ID), &got.CreatedAt, &got.UpdatedAt)
		})
	}
}

func testClient(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		c := createClient(t, s, newClient("App"))
		for _, id := range []int64{0, -1, c.ID + 1000} {
			_, err := s.Client(t.Context(), id)
			checkCode(t, fmt.Sprintf("Client(%d)", id), err, latchkey.ENOTFOUND)
		}
	})

	t.Run("Revoked", func(t *testing.T) {
		s := open(t)
		c := createClient(t, s, newClient("App"))
		if _, err := s.RevokeClient(t.Context(), c.ID, at(time.Hour)); err != nil {
			t.Fatalf("RevokeClient(%d) = %v", c.ID, err)
		}
		got, err := s.Client(t.Context(), c.ID)
		if err != nil {
			t.Fatalf("Client(%d) of a revoked client = %v, want the client", c.ID, err)
		}
		if !got.Revoked {
			t.Errorf("Client(%d).Revoked = false, want true", c.ID)
		}
	})
}

func testClients(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	personal, err := s.Client(t.Context(), latchkey.PersonalAccessClientID)
	if err != nil {
		t.Fatalf("Client(%d) = %v", latchkey.PersonalAccessClientID, err)
	}
	a := createClient(t, s, newClient("A"))
	b := createClient(t, s, newClient("B"))
	c := createClient(t, s, newClient("C"))
	if _, err := s.RevokeClient(t.Context(), b.ID, at(time.Hour)); err != nil {
		t.Fatalf("RevokeClient(%d) = %v", b.ID, err)
	}
	b.Revoked, b.UpdatedAt = true, at(time.Hour)

	got, err := s.Clients(t.Context())
	if err != nil {
		t.Fatalf("Clients() = %v", err)
	}
	want := []*latchkey.Client{personal, a, b, c}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Clients() mismatch (-want +got):\n%s", diff)
	}
}

func testRevokeClient(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("RevokesClientAndTokens", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		other := createClient(t, s, newClient("Other"))

		live := newToken(1, u.ID)
		live.ClientID = app.ID
		createToken(t, s, live)
		revoked := newToken(2, u.ID)
		revoked.ClientID = app.ID
		createToken(t, s, revoked)
		if _, _, err := s.RevokeToken(t.Context(), revoked.ID, at(time.Minute), latchkey.ReasonRevoked); err != nil {
			t.Fatalf("RevokeToken(%q) = %v", revoked.ID, err)
		}
		personal := createToken(t, s, newToken(3, u.ID))
		others := newToken(4, u.ID)
		others.ClientID = other.ID
		createToken(t, s, others)

		when := at(time.Hour)
		if _, err := s.RevokeClient(t.Context(), app.ID, when); err != nil {
			t.Fatalf("RevokeClient(%d) = %v", app.ID, err)
		}

		got, err := s.Client(t.Context(), app.ID)
		if err != nil {
			t.Fatalf("Client(%d) = %v", app.ID, err)
		}
		if !got.Revoked {
			t.Errorf("after RevokeClient, Client(%d).Revoked = false, want true", app.ID)
		}
		tok, err := s.Token(t.Context(), live.ID)
		if err != nil {
			t.Fatalf("Token(%q) = %v", live.ID, err)
		}
		if !tok.Revoked || !tok.UpdatedAt.Equal(when) {
			t.Errorf("after RevokeClient, Token(%q) revoked %t at %v, want revoked at %v", live.ID, tok.Revoked, tok.UpdatedAt, when)
		}
		if !tok.Client.Revoked {
			t.Errorf("after RevokeClient, Token(%q).Client.Revoked = false, want true", live.ID)
		}
		tok, err = s.Token(t.Context(), revoked.ID)
		if err != nil {
			t.Fatalf("Token(%q) = %v", revoked.ID, err)
		}
		if !tok.Revoked {
			t.Errorf("after RevokeClient, Token(%q).Revoked = false, want true", revoked.ID)
		}
		for _, untouched := range []*latchkey.Token{personal, others} {
			tok, err := s.Token(t.Context(), untouched.ID)
			if err != nil {
				t.Fatalf("Token(%q) = %v", untouched.ID, err)
			}
			if tok.Revoked || !tok.UpdatedAt.Equal(untouched.UpdatedAt) {
				t.Errorf("RevokeClient(%d) touched Token(%q) of client %d: revoked %t, updated %v",
					app.ID, untouched.ID, untouched.ClientID, tok.Revoked, tok.UpdatedAt)
			}
		}
		for _, id := range []int64{latchkey.PersonalAccessClientID, other.ID} {
			c, err := s.Client(t.Context(), id)
			if err != nil || c.Revoked {
				t.Errorf("after RevokeClient(%d), Client(%d) = %+v, %v, want not revoked", app.ID, id, c, err)
			}
		}
	})

	t.Run("DeactivatesGrants", func(t *testing.T) {
		s := open(t)
		alice := createUser(t, s, newUser("alice"))
		bob := createUser(t, s, newUser("bob"))
		app := createClient(t, s, newClient("App"))
		other := createClient(t, s, newClient("Other"))
		issued, _ := issueToken(t, s, 1, alice.ID, app.ID, "request-a")
		code := createGrant(t, s, newGrant(latchkey.GrantCode, signature(1), "request-a", alice.ID, app.ID))
		refresh := createGrant(t, s, newGrant(latchkey.GrantRefresh, signature(2), "request-b", bob.ID, app.ID))
		inactive := newGrant(latchkey.GrantRefresh, signature(3), "request-c", bob.ID, app.ID)
		inactive.Active = false
		createGrant(t, s, inactive)
		kept := createGrant(t, s, newGrant(latchkey.GrantRefresh, signature(4), "request-d", alice.ID, other.ID))
		keptToken, _ := issueToken(t, s, 2, alice.ID, other.ID, "request-d")

		if _, err := s.RevokeClient(t.Context(), app.ID, at(time.Hour)); err != nil {
			t.Fatalf("RevokeClient(%d) = %v", app.ID, err)
		}
		after := fmt.Sprintf("RevokeClient(%d)", app.ID)
		checkActive(t, s, after, false, latchkey.GrantAccess, issued.ID)
		checkActive(t, s, after, false, latchkey.GrantCode, code.Signature)
		checkActive(t, s, after, false, latchkey.GrantRefresh, refresh.Signature, inactive.Signature)
		checkActive(t, s, after, true, latchkey.GrantRefresh, kept.Signature)
		checkActive(t, s, after, true, latchkey.GrantAccess, keptToken.ID)
		checkRevoked(t, s, after, true, at(time.Hour), issued.ID)
		checkRevoked(t, s, after, false, time.Time{}, keptToken.ID)
	})

	t.Run("Again", func(t *testing.T) {
		s := open(t)
		app := createClient(t, s, newClient("App"))
		for i, when := range []time.Time{at(time.Hour), at(2 * time.Hour)} {
			if _, err := s.RevokeClient(t.Context(), app.ID, when); err != nil {
				t.Fatalf("RevokeClient(%d) call %d = %v, want nil", app.ID, i+1, err)
			}
		}
		got, err := s.Client(t.Context(), app.ID)
		if err != nil {
			t.Fatalf("Client(%d) = %v", app.ID, err)
		}
		if !got.Revoked {
			t.Errorf("Client(%d).Revoked = false, want true", app.ID)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		app := createClient(t, s, newClient("App"))
		_, err := s.RevokeClient(t.Context(), app.ID+1000, at(time.Hour))
		checkCode(t, fmt.Sprintf("RevokeClient(%d)", app.ID+1000), err, latchkey.ENOTFOUND)
	})
}

func testPruneRegisteredClients(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	alice := createUser(t, s, newUser("alice"))
	registered := func(name string, created time.Duration) *latchkey.Client {
		c := newClient(name)
		c.SecretHash, c.SelfRegistered = "", true
		c.CreatedAt, c.UpdatedAt = at(created), at(created)
		return createClient(t, s, c)
	}
	// Unused, old: deleted, with the code and consent of an authorization
	// that was never completed.
	stale := registered("Stale", 0)
	code := createGrant(t, s, newGrant(latchkey.GrantCode, signature(1), "request-a", alice.ID, stale.ID))
	saveConsent(t, s, newConsent(alice.ID, stale.ID, "tokens.read"))
	staleToo := registered("Stale too", time.Hour)
	// Unused but young, at the cutoff itself: kept.
	young := registered("Young", 2*time.Hour)
	// Old but used: kept, though its token is revoked.
	used := registered("Used", 0)
	tok, _ := issueToken(t, s, 1, alice.ID, used.ID, "request-b")
	if _, _, err := s.RevokeToken(t.Context(), tok.ID, at(time.Minute), latchkey.ReasonRevoked); err != nil {
		t.Fatalf("RevokeToken(%q) = %v", tok.ID, err)
	}
	// Old, unused, but created by the operator: kept.
	operators := createClient(t, s, newClient("Operator's"))

	n, err := s.PruneRegisteredClients(t.Context(), at(2*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("PruneRegisteredClients(2h) = %d, %v; want 2, nil", n, err)
	}
	for _, c := range []*latchkey.Client{stale, staleToo} {
		_, err := s.Client(t.Context(), c.ID)
		checkCode(t, fmt.Sprintf("after PruneRegisteredClients, Client(%d) %q", c.ID, c.Name), err, latchkey.ENOTFOUND)
	}
	_, err = s.Grant(t.Context(), latchkey.GrantCode, code.Signature)
	checkCode(t, "after PruneRegisteredClients, Grant(code) of a deleted client", err, latchkey.ENOTFOUND)
	_, err = s.Consent(t.Context(), alice.ID, stale.ID)
	checkCode(t, "after PruneRegisteredClients, Consent to a deleted client", err, latchkey.ENOTFOUND)
	for _, c := range []*latchkey.Client{young, used, operators} {
		if _, err := s.Client(t.Context(), c.ID); err != nil {
			t.Errorf("after PruneRegisteredClients, Client(%d) %q = %v, want it kept", c.ID, c.Name, err)
		}
	}
	if _, err := s.Token(t.Context(), tok.ID); err != nil {
		t.Errorf("after PruneRegisteredClients, Token(%q) = %v, want it kept", tok.ID, err)
	}

	n, err = s.PruneRegisteredClients(t.Context(), at(2*time.Hour))
	if err != nil || n != 0 {
		t.Errorf("PruneRegisteredClients(2h) again = %d, %v; want 0, nil", n, err)
	}
}

func testClientByMetadataURL(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	withURL := func(name, url string) *latchkey.Client {
		c := newClient(name)
		c.SecretHash, c.SelfRegistered, c.MetadataURL = "", true, url
		return c
	}
	a := createClient(t, s, withURL("A", "https://a.example.com/client.json"))
	b := createClient(t, s, withURL("B", "https://b.example.com/client.json"))
	// Clients without a URL are many, and none is found by "".
	createClient(t, s, newClient("Plain"))
	createClient(t, s, newClient("Plain too"))

	for _, want := range []*latchkey.Client{a, b} {
		got, err := s.ClientByMetadataURL(t.Context(), want.MetadataURL)
		if err != nil {
			t.Fatalf("ClientByMetadataURL(%q) = %v", want.MetadataURL, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ClientByMetadataURL(%q) mismatch (-want +got):\n%s", want.MetadataURL, diff)
		}
	}
	// The URL is compared as a string: another case, a port said aloud
	// or a final slash is another client.
	for _, url := range []string{"", "https://A.example.com/client.json", "https://a.example.com:443/client.json", "https://a.example.com/client.json/", "https://c.example.com/client.json"} {
		_, err := s.ClientByMetadataURL(t.Context(), url)
		checkCode(t, fmt.Sprintf("ClientByMetadataURL(%q)", url), err, latchkey.ENOTFOUND)
	}
	// A revoked client is found, revoked.
	if _, err := s.RevokeClient(t.Context(), a.ID, at(time.Hour)); err != nil {
		t.Fatalf("RevokeClient(%d) = %v", a.ID, err)
	}
	got, err := s.ClientByMetadataURL(t.Context(), a.MetadataURL)
	if err != nil || !got.Revoked {
		t.Errorf("ClientByMetadataURL(%q) of a revoked client = %+v, %v; want it, revoked", a.MetadataURL, got, err)
	}
	// One client per URL.
	err = s.CreateClient(t.Context(), withURL("B again", b.MetadataURL))
	checkCode(t, fmt.Sprintf("CreateClient(a second client of %q)", b.MetadataURL), err, latchkey.ECONFLICT)
}

func testUpdateClient(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	c := newClient("Agent")
	c.SecretHash, c.SelfRegistered, c.MetadataURL = "", true, "https://agent.example.com/client.json"
	c.DefaultScopes = latchkey.Scopes{"tokens.read"}
	c = createClient(t, s, c)
	other := createClient(t, s, newClient("Other"))

	changed := *c
	changed.Name = "Agent 2"
	changed.Redirect = "https://agent.example.com/cb,http://127.0.0.1:7777/cb"
	changed.DefaultScopes = nil
	changed.UpdatedAt = at(time.Hour)
	// What UpdateClient does not store.
	changed.SecretHash, changed.MetadataURL, changed.Revoked, changed.CreatedAt = "hash", "https://elsewhere.example.com/c.json", true, at(time.Minute)
	if err := s.UpdateClient(t.Context(), &changed); err != nil {
		t.Fatalf("UpdateClient(%d) = %v", c.ID, err)
	}
	want := *c
	want.Name, want.Redirect, want.DefaultScopes, want.UpdatedAt = changed.Name, changed.Redirect, nil, changed.UpdatedAt
	got, err := s.Client(t.Context(), c.ID)
	if err != nil {
		t.Fatalf("Client(%d) = %v", c.ID, err)
	}
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("after UpdateClient, Client(%d) mismatch (-want +got):\n%s", c.ID, diff)
	}
	checkUTC(t, fmt.Sprintf("Client(%d)", c.ID), &got.CreatedAt, &got.UpdatedAt)
	if got, err := s.Client(t.Context(), other.ID); err != nil || !cmp.Equal(other, got) {
		t.Errorf("after UpdateClient(%d), Client(%d) = %+v, %v; want it unchanged", c.ID, other.ID, got, err)
	}
	missing := changed
	missing.ID = other.ID + 1000
	checkCode(t, fmt.Sprintf("UpdateClient(%d)", missing.ID), s.UpdateClient(t.Context(), &missing), latchkey.ENOTFOUND)
}
