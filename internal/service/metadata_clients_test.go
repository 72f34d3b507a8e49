package service

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/jwt"
	"github.com/latchkey/latchkey/internal/password"
)

const agentURL = "https://agent.example.com/oauth/client.json"

// clientRecords returns the audit records about client c of action.
func clientRecords(t *testing.T, st latchkey.Store, c *latchkey.Client, action latchkey.AuditAction) []*latchkey.AuditRecord {
	t.Helper()
	recs, err := st.AuditRecords(t.Context(), latchkey.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []*latchkey.AuditRecord
	for _, r := range recs {
		if r.Action == action && r.SubjectID == idString(c.ID) {
			out = append(out, r)
		}
	}
	return out
}

func TestSyncMetadataClient(t *testing.T) {
	clk := newHandClock()
	svc, st := newTestService(t, Config{Now: clk.Now, ExtraScopes: []string{"mcp.tools"}})
	origin := latchkey.Origin{Address: "203.0.113.7", UserAgent: "agent/1.0"}
	doc := MetadataClient{
		URL:  agentURL,
		Name: " Agent ",
		RedirectURIs: []string{
			"http://127.0.0.1:7777/callback",
			"https://agent.example.com/callback",
			"com.example.agent:/callback",       // another scheme: left out
			"http://agent.example.com/callback", // http off the loopback: left out
			"https://agent.example.com/callback",
		},
		Scopes: []string{"tokens.read", "mcp:tools", "mcp.tools", "tokens.read"},
	}
	c, err := svc.SyncMetadataClient(t.Context(), origin, doc)
	if err != nil {
		t.Fatalf("SyncMetadataClient() = %v", err)
	}
	want := &latchkey.Client{
		ID: c.ID, Name: "Agent", Redirect: "http://127.0.0.1:7777/callback,https://agent.example.com/callback",
		DefaultScopes: latchkey.Scopes{"tokens.read", "mcp.tools"}, SelfRegistered: true, MetadataURL: agentURL,
		CreatedAt: clk.Now(), UpdatedAt: clk.Now(),
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("SyncMetadataClient() mismatch (-want +got):\n%s", diff)
	}
	if !c.Public() {
		t.Error("the client of a metadata document holds a secret")
	}
	stored, err := st.ClientByMetadataURL(t.Context(), agentURL)
	if err != nil || !cmp.Equal(c, stored, cmpopts.EquateApproxTime(0)) {
		t.Errorf("ClientByMetadataURL(%q) = %+v, %v; want %+v", agentURL, stored, err, c)
	}
	recs := clientRecords(t, st, c, latchkey.AuditClientAdded)
	if len(recs) != 1 || recs[0].Actor != latchkey.ActorAnonymous || recs[0].Origin != origin || recs[0].Detail != "Agent ("+agentURL+")" {
		t.Errorf("audit records of the client's registration = %+v, want one, anonymous from %+v", recs, origin)
	}

	// The same document again: the same client, unchanged.
	clk.Advance(time.Hour)
	again, err := svc.SyncMetadataClient(t.Context(), origin, doc)
	if err != nil || !cmp.Equal(c, again, cmpopts.EquateApproxTime(0)) {
		t.Errorf("SyncMetadataClient(the same document) = %+v, %v; want %+v", again, err, c)
	}

	// A changed document: the client is rewritten, and the change audited.
	doc.Name, doc.RedirectURIs, doc.Scopes = "Agent 2", []string{"https://agent.example.com/callback"}, nil
	changed, err := svc.SyncMetadataClient(t.Context(), origin, doc)
	if err != nil {
		t.Fatalf("SyncMetadataClient(a changed document) = %v", err)
	}
	want.Name, want.Redirect, want.DefaultScopes, want.UpdatedAt = "Agent 2", "https://agent.example.com/callback", nil, clk.Now()
	if diff := cmp.Diff(want, changed); diff != "" {
		t.Errorf("SyncMetadataClient(a changed document) mismatch (-want +got):\n%s", diff)
	}
	recs = clientRecords(t, st, c, latchkey.AuditClientUpdated)
	if len(recs) != 1 || recs[0].Detail != "metadata document changed: name, redirect URIs, default scopes" || recs[0].Origin != origin {
		t.Errorf("audit records of the client's update = %+v, want one naming what changed", recs)
	}

	// A revoked client stays as the operator left it.
	if err := svc.RevokeClient(t.Context(), c.ID); err != nil {
		t.Fatal(err)
	}
	doc.Name = "Agent 3"
	got, err := svc.SyncMetadataClient(t.Context(), origin, doc)
	if err != nil || !got.Revoked || got.Name != "Agent 2" {
		t.Errorf("SyncMetadataClient(a revoked client's document) = %+v, %v; want it revoked and unchanged", got, err)
	}
}

func TestSyncMetadataClientRefuses(t *testing.T) {
	svc, st := newTestService(t, Config{})
	for _, tc := range []struct {
		name  string
		m     MetadataClient
		field string
	}{
		{"no usable redirect URI", MetadataClient{URL: agentURL, Name: "Agent", RedirectURIs: []string{"com.example:/cb", "http://agent.example.com/cb", "https://agent.example.com/cb#x", "https://a.example.com/a,b"}}, "redirect_uris"},
		{"too many redirect URIs", MetadataClient{URL: agentURL, Name: "Agent", RedirectURIs: []string{
			"https://a.example.com/1", "https://a.example.com/2", "https://a.example.com/3", "https://a.example.com/4", "https://a.example.com/5", "https://a.example.com/6",
			"https://a.example.com/7", "https://a.example.com/8", "https://a.example.com/9", "https://a.example.com/10", "https://a.example.com/11"}}, "redirect_uris"},
		{"a name with a control character", MetadataClient{URL: agentURL, Name: "Agent\x07", RedirectURIs: []string{"https://agent.example.com/cb"}}, "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.SyncMetadataClient(t.Context(), latchkey.Origin{}, tc.m)
			var e *latchkey.Error
			if latchkey.ErrorCode(err) != latchkey.EINVALID || !errors.As(err, &e) || e.Fields.Get(tc.field) == nil {
				t.Errorf("SyncMetadataClient(%+v) = %v, want EINVALID about %s", tc.m, err, tc.field)
			}
		})
	}
	if _, err := st.ClientByMetadataURL(t.Context(), agentURL); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		t.Errorf("after refusals, ClientByMetadataURL = %v, want no client", err)
	}
	// Without a name, the URL's host is the client's name.
	c, err := svc.SyncMetadataClient(t.Context(), latchkey.Origin{}, MetadataClient{URL: agentURL, RedirectURIs: []string{"https://agent.example.com/cb"}})
	if err != nil || c.Name != "agent.example.com" {
		t.Errorf("SyncMetadataClient(no name) = %+v, %v; want it named agent.example.com", c, err)
	}
}

// raceStore makes the client of a URL, as another server would, between
// the service's read that finds none and its create.
type raceStore struct {
	latchkey.Store
	raced bool
}

func (s *raceStore) ClientByMetadataURL(ctx context.Context, url string) (*latchkey.Client, error) {
	if !s.raced {
		s.raced = true
		other := &latchkey.Client{Name: "Made elsewhere", Redirect: "https://agent.example.com/cb", SelfRegistered: true, MetadataURL: url,
			CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()}
		if err := s.Store.CreateClient(ctx, other); err != nil {
			return nil, err
		}
		return nil, &latchkey.Error{Code: latchkey.ENOTFOUND}
	}
	return s.Store.ClientByMetadataURL(ctx, url)
}

// TestSyncMetadataClientRace: two first uses of a URL at once (here, on
// two servers) make one client; the loser of the race reads the winner's.
func TestSyncMetadataClientRace(t *testing.T) {
	_, st := newTestService(t, Config{})
	sealer, err := jwt.NewSealer([]byte("service test secret, long enough"))
	if err != nil {
		t.Fatal(err)
	}
	rs := &raceStore{Store: st}
	svc, err := New(t.Context(), rs, sealer, Config{Password: &password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := svc.SyncMetadataClient(t.Context(), latchkey.Origin{}, MetadataClient{URL: agentURL, Name: "Made elsewhere", RedirectURIs: []string{"https://agent.example.com/cb"}})
	if err != nil || !rs.raced {
		t.Fatalf("SyncMetadataClient() = %+v, %v (raced %t)", c, err, rs.raced)
	}
	cs, err := st.Clients(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, x := range cs {
		if x.MetadataURL == agentURL {
			n++
			if x.ID != c.ID {
				t.Errorf("SyncMetadataClient() = client %d, but the URL's client is %d", c.ID, x.ID)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d clients of %s, want one", n, agentURL)
	}
}

// TestSyncMetadataClientPruned: a client of a document that issued no
// token is pruned as a self-registered one is, and made again, anew, the
// next time its URL is used.
func TestSyncMetadataClientPruned(t *testing.T) {
	clk := newHandClock()
	svc, st := newTestService(t, Config{Now: clk.Now})
	m := MetadataClient{URL: agentURL, Name: "Agent", RedirectURIs: []string{"https://agent.example.com/cb"}}
	first, err := svc.SyncMetadataClient(t.Context(), latchkey.Origin{}, m)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(RegistrationLifetime + time.Second)
	svc.pruneExpired(t.Context())
	if _, err := st.ClientByMetadataURL(t.Context(), agentURL); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		t.Fatalf("after RegistrationLifetime unused, ClientByMetadataURL = %v, want it pruned", err)
	}
	again, err := svc.SyncMetadataClient(t.Context(), latchkey.Origin{}, m)
	if err != nil || again.ID == first.ID || !again.CreatedAt.Equal(clk.Now()) {
		t.Errorf("SyncMetadataClient after the prune = %+v, %v; want a new client, made now", again, err)
	}
}
