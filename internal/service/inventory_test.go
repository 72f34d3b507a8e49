package service

import (
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// TestInventory: the inventory is read only by those Authorize lets read
// it, before the store is asked (fn is never called for anyone else);
// states are judged by the service's clock; and a use not yet written
// shows in last_used_at.
func TestInventory(t *testing.T) {
	clock := newTestClock()
	svc, _ := newTestService(t, Config{Now: clock.Now})
	ctx := t.Context()
	ann := svc.mustUser(t, "ann")
	viewer, err := svc.CreateUser(ctx, NewUser{Username: "vic", Email: "vic@example.com", Permissions: []string{latchkey.PermViewUsers}})
	if err != nil {
		t.Fatal(err)
	}
	name := "soon gone"
	at := clock.Now().Add(time.Hour)
	short, _, err := svc.OperatorCreateToken(ctx, ann, TokenRequest{Name: &name, ExpiresAt: &at})
	if err != nil {
		t.Fatal(err)
	}
	used, jwt := svc.mustToken(t, ann)
	if _, err := svc.Authenticate(ctx, jwt, latchkey.Origin{}); err != nil {
		t.Fatal(err)
	}

	each := func(p *latchkey.Principal, f latchkey.InventoryFilter) ([]*latchkey.InventoryToken, error) {
		var got []*latchkey.InventoryToken
		err := svc.EachInventoryToken(ctx, p, f, func(it *latchkey.InventoryToken) error {
			got = append(got, it)
			return nil
		})
		return got, err
	}
	for _, p := range []*latchkey.Principal{
		{User: ann},
		{User: viewer, Token: &latchkey.Token{Scopes: latchkey.Scopes{latchkey.ScopeTokensWrite}}},
	} {
		if _, _, err := svc.Inventory(ctx, p, latchkey.InventoryFilter{}); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Errorf("Inventory(%s, scopes %v) = %v, want EFORBIDDEN", p.User.Username, p.Scopes(), err)
		}
		if got, err := each(p, latchkey.InventoryFilter{}); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN || len(got) != 0 {
			t.Errorf("EachInventoryToken(%s, scopes %v) = %d tokens, %v; want none, EFORBIDDEN", p.User.Username, p.Scopes(), len(got), err)
		}
	}

	p := &latchkey.Principal{User: viewer}
	items, total, err := svc.Inventory(ctx, p, latchkey.InventoryFilter{})
	if err != nil || total != 2 {
		t.Fatalf("Inventory(vic) = %d tokens, %v; want 2", total, err)
	}
	for _, it := range items {
		if it.Token.ID == used.ID && it.Token.LastUsedAt == nil {
			t.Error("Inventory does not show the use not yet written")
		}
	}
	// An hour later by the service's clock, the short token has expired.
	clock.Add(time.Hour)
	for name, read := range map[string]func() ([]*latchkey.InventoryToken, error){
		"Inventory": func() ([]*latchkey.InventoryToken, error) {
			items, _, err := svc.Inventory(ctx, p, latchkey.InventoryFilter{States: []latchkey.TokenState{latchkey.StateExpired}})
			return items, err
		},
		"EachInventoryToken": func() ([]*latchkey.InventoryToken, error) {
			return each(p, latchkey.InventoryFilter{States: []latchkey.TokenState{latchkey.StateExpired}})
		},
	} {
		got, err := read()
		if err != nil || len(got) != 1 || got[0].Token.ID != short.ID {
			t.Errorf("%s(expired) an hour later = %d tokens, %v; want the short one", name, len(got), err)
		}
	}
	// fn's error comes back as it is.
	stop := errors.New("stop")
	if err := svc.EachInventoryToken(ctx, p, latchkey.InventoryFilter{}, func(*latchkey.InventoryToken) error { return stop }); err != stop {
		t.Errorf("EachInventoryToken with fn failing = %v, want fn's error", err)
	}
}
