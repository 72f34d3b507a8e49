package service

import (
	"context"

	"github.com/latchkey/latchkey"
)

// The inventory: every user's tokens, for administrators and holders of
// view-users (latchkey.ReadInventory), through the API, the web pages and,
// as the Operator, the command line.

// AuthorizeInventory reports whether p may read the inventory:
// EFORBIDDEN, with the sentence to send, when not. The API asks before it
// reads the query, as the contract orders its checks.
func (s *Service) AuthorizeInventory(p *latchkey.Principal) error {
	return p.Authorize(latchkey.ReadInventory, 0)
}

// Inventory returns the page of every user's tokens that f selects, and
// how many it selects on all pages, when p may read the inventory
// (EFORBIDDEN otherwise). States are judged now, by the service's clock,
// unless f.Now is set. Last-used times not yet written are shown; the
// filters see the written ones, which are at most a minute behind.
func (s *Service) Inventory(ctx context.Context, p *latchkey.Principal, f latchkey.InventoryFilter) ([]*latchkey.InventoryToken, int, error) {
	if err := s.AuthorizeInventory(p); err != nil {
		return nil, 0, err
	}
	if f.Now.IsZero() {
		f.Now = s.now()
	}
	items, total, err := s.store.Inventory(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	for _, it := range items {
		s.usage.overlay(it.Token)
	}
	return items, total, nil
}

// EachInventoryToken calls fn with each token f selects, as the store
// reads them (see latchkey.InventoryStore), when p may read the
// inventory (EFORBIDDEN otherwise, before fn is ever called). Its clock
// and last-used times are Inventory's. An error of fn stops it and is
// returned as it is.
func (s *Service) EachInventoryToken(ctx context.Context, p *latchkey.Principal, f latchkey.InventoryFilter, fn func(*latchkey.InventoryToken) error) error {
	if err := s.AuthorizeInventory(p); err != nil {
		return err
	}
	if f.Now.IsZero() {
		f.Now = s.now()
	}
	return s.store.EachInventoryToken(ctx, f, func(it *latchkey.InventoryToken) error {
		s.usage.overlay(it.Token)
		return fn(it)
	})
}
