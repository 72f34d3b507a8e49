package service

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

func TestRegisterSelf(t *testing.T) {
	clk := newHandClock()
	svc, st := newTestService(t, Config{Now: clk.Now})
	origin := latchkey.Origin{Address: "203.0.113.7", UserAgent: "editor/1.0"}
	c, secret, err := svc.RegisterSelf(t.Context(), origin, NewClient{
		Name: "Editor", RedirectURIs: []string{"http://127.0.0.1:7777/cb"}, Public: true, DefaultScopes: []string{"tokens.read"},
	})
	if err != nil {
		t.Fatalf("RegisterSelf() = %v", err)
	}
	if !c.SelfRegistered || !c.Public() || secret != "" {
		t.Errorf("RegisterSelf() = self-registered %t, public %t, secret %q; want true, true, \"\"", c.SelfRegistered, c.Public(), secret)
	}
	got, err := svc.Client(t.Context(), c.ID)
	if err != nil || !got.SelfRegistered {
		t.Fatalf("Client(%d) = %+v, %v; want it self-registered", c.ID, got, err)
	}
	recs, err := st.AuditRecords(t.Context(), latchkey.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, r := range recs {
		if r.Action == latchkey.AuditClientAdded && r.SubjectID == idString(c.ID) {
			found = true
			if r.Actor != latchkey.ActorAnonymous || r.Origin.Address != origin.Address || r.Origin.UserAgent != origin.UserAgent {
				t.Errorf("audit record of the registration = actor %q origin %+v, want anonymous from %+v", r.Actor, r.Origin, origin)
			}
		}
	}
	if !found {
		t.Errorf("no %s audit record for client %d", latchkey.AuditClientAdded, c.ID)
	}

	// The operator's registration is not marked.
	op, _, err := svc.RegisterClient(t.Context(), NewClient{Name: "Ops", RedirectURIs: []string{"https://ops.example.com/cb"}})
	if err != nil || op.SelfRegistered {
		t.Errorf("RegisterClient() = %+v, %v; want a client not self-registered", op, err)
	}
}

func TestRegisterSelfRefuses(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	for _, tc := range []struct {
		name  string
		n     NewClient
		field string
	}{
		{"no redirect URI", NewClient{Name: "App", Public: true}, "redirect_uris"},
		{"bad redirect URI", NewClient{Name: "App", Public: true, RedirectURIs: []string{"http://app.example.com/cb"}}, "redirect_uris"},
		{"unknown scope", NewClient{Name: "App", Public: true, RedirectURIs: []string{"https://app.example.com/cb"}, DefaultScopes: []string{"admin"}}, "default_scopes"},
		{"no name", NewClient{Public: true, RedirectURIs: []string{"https://app.example.com/cb"}}, "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := svc.RegisterSelf(t.Context(), latchkey.Origin{}, tc.n)
			var e *latchkey.Error
			if latchkey.ErrorCode(err) != latchkey.EINVALID || !errors.As(err, &e) || e.Fields.Get(tc.field) == nil {
				t.Errorf("RegisterSelf(%+v) = %v, want EINVALID about %s", tc.n, err, tc.field)
			}
		})
	}
}

// TestPruneRegistrations: a self-registered client that issued no token is
// deleted once RegistrationLifetime has passed, on the service's clock; one
// that issued a token, and the operator's, stay.
func TestPruneRegistrations(t *testing.T) {
	clk := newHandClock()
	svc, st := newTestService(t, Config{Now: clk.Now})
	register := func(name string) *latchkey.Client {
		t.Helper()
		c, _, err := svc.RegisterSelf(t.Context(), latchkey.Origin{}, NewClient{Name: name, RedirectURIs: []string{"https://app.example.com/cb"}, Public: true})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	unused := register("Unused")
	used := register("Used")
	ops, _, err := svc.RegisterClient(t.Context(), NewClient{Name: "Ops", RedirectURIs: []string{"https://ops.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := svc.mustToken(t, svc.mustUser(t, "alice"))
	issued := *tok
	issued.ID = fmt.Sprintf("%080x", 7)
	issued.ClientID = used.ID
	if err := st.CreateToken(t.Context(), &issued); err != nil {
		t.Fatal(err)
	}

	exists := func(c *latchkey.Client) bool {
		t.Helper()
		_, err := svc.Client(t.Context(), c.ID)
		if err != nil && latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Fatal(err)
		}
		return err == nil
	}
	clk.Advance(RegistrationLifetime - time.Second)
	svc.pruneExpired(t.Context())
	if !exists(unused) {
		t.Fatalf("a second before RegistrationLifetime, the unused client %d was pruned", unused.ID)
	}
	clk.Advance(2 * time.Second)
	svc.pruneExpired(t.Context())
	if exists(unused) {
		t.Errorf("after RegistrationLifetime, the unused self-registered client %d is kept", unused.ID)
	}
	if !exists(used) {
		t.Errorf("after RegistrationLifetime, the self-registered client %d that issued a token was pruned", used.ID)
	}
	if !exists(ops) {
		t.Errorf("after RegistrationLifetime, the operator's client %d was pruned", ops.ID)
	}
}
