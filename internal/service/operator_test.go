package service

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey"
)

// TestOperator: what the command line does is recorded as the operator's,
// and no caller can change the operator for the next: each Operator() is
// a value of its own.
func TestOperator(t *testing.T) {
	spoiled := Operator()
	spoiled.User.Admin, spoiled.User.Permissions = false, []string{"x"}
	spoiled.Token = &latchkey.Token{Scopes: latchkey.Scopes{latchkey.ScopeTokensRead}}
	want := &latchkey.Principal{User: &latchkey.User{Admin: true, Status: latchkey.StatusActive}}
	if diff := cmp.Diff(want, Operator()); diff != "" {
		t.Errorf("Operator() after a caller changed its own (-want +got):\n%s", diff)
	}

	svc, _ := newTestService(t, Config{})
	ctx := t.Context()
	alice := svc.mustUser(t, "alice")
	byOperator, _ := svc.mustToken(t, alice)
	name := "hers"
	byAlice, _, err := svc.CreateToken(ctx, &latchkey.Principal{User: alice}, alice, TokenRequest{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RevokeToken(ctx, Operator(), alice, byAlice.ID); err != nil {
		t.Fatal(err)
	}
	rs, err := svc.Audit(ctx, latchkey.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]latchkey.AuditActor{}
	for _, r := range rs {
		got[string(r.Action)+" "+r.SubjectID] = r.Actor
	}
	for what, actor := range map[string]latchkey.AuditActor{
		"user.created " + idString(alice.ID): latchkey.ActorOperator,
		"token.created " + byOperator.ID:     latchkey.ActorOperator,
		"token.created " + byAlice.ID:        latchkey.ActorUser,
		"token.revoked " + byAlice.ID:        latchkey.ActorOperator,
	} {
		if got[what] != actor {
			t.Errorf("the record of %q names %q, want %q", what, got[what], actor)
		}
	}
}
