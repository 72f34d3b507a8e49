package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/latchkey/latchkey"
)

// inventoryFixture is the store of the inventory's tests: two users,
// personal and OAuth tokens in every state, judged at now.
type inventoryFixture struct {
	s          latchkey.Store
	alice, bob *latchkey.User
	app        *latchkey.Client
	now        time.Time
	tokens     map[int]*latchkey.Token // by fixture number
}

// newInventoryFixture stores, at now = 30 days after the epoch:
//
//	n  owner  client    created  expires  last used  scopes                    state
//	1  alice  personal  1h       365d     never      []                        active
//	2  alice  personal  2h       10d      3h         tokens.read               expired
//	3  alice  personal  3h       365d     5d         tokens.write              revoked
//	4  bob    app       4h       40d      20d        *                         active
//	5  bob    personal  5h       never    never      reports:export            active ("Nightly EXPORT")
//	6  bob    personal  6h       1d       never      tokens.read tokens.write  revoked (and expired)
func newInventoryFixture(t *testing.T, open func(t *testing.T) latchkey.Store) *inventoryFixture {
	t.Helper()
	s := open(t)
	f := &inventoryFixture{s: s, now: at(30 * day), tokens: map[int]*latchkey.Token{}}
	f.alice = createUser(t, s, newUser("alice"))
	f.bob = createUser(t, s, newUser("bob"))
	f.app = createClient(t, s, newClient("App"))
	add := func(n int, owner *latchkey.User, client int64, expires, lastUsed *time.Time, revoked bool, scopes ...string) {
		tok := newToken(n, owner.ID)
		if n == 5 {
			tok.Name = "Nightly EXPORT"
		}
		tok.ClientID = client
		tok.CreatedAt = at(time.Duration(n) * time.Hour)
		tok.UpdatedAt = tok.CreatedAt
		tok.ExpiresAt = expires
		tok.LastUsedAt = lastUsed
		tok.Revoked = revoked
		tok.Scopes = append(latchkey.Scopes{}, scopes...)
		f.tokens[n] = createToken(t, s, tok)
	}
	personal := latchkey.PersonalAccessClientID
	add(1, f.alice, personal, ptr(at(365*day)), nil, false)
	add(2, f.alice, personal, ptr(at(10*day)), ptr(at(3*time.Hour)), false, latchkey.ScopeTokensRead)
	add(3, f.alice, personal, ptr(at(365*day)), ptr(at(5*day)), true, latchkey.ScopeTokensWrite)
	add(4, f.bob, f.app.ID, ptr(at(40*day)), ptr(at(20*day)), false, latchkey.ScopeAll)
	add(5, f.bob, personal, nil, nil, false, "reports:export")
	add(6, f.bob, personal, ptr(at(1*day)), nil, true, latchkey.ScopeTokensRead, latchkey.ScopeTokensWrite)
	return f
}

const day = 24 * time.Hour

func testInventory(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("Filters", func(t *testing.T) { testInventoryFilters(t, open) })
	t.Run("Rows", func(t *testing.T) { testInventoryRows(t, open) })
	t.Run("Pages", func(t *testing.T) { testInventoryPages(t, open) })
	t.Run("Each", func(t *testing.T) { testEachInventoryToken(t, open) })
	t.Run("Invalid", func(t *testing.T) { testInventoryInvalid(t, open) })
}

func testInventoryFilters(t *testing.T, open func(t *testing.T) latchkey.Store) {
	fx := newInventoryFixture(t, open)
	s := fx.s
	yes, no := true, false
	tests := []struct {
		name   string
		filter func(f *latchkey.InventoryFilter)
		want   []int
	}{
		{"All", func(*latchkey.InventoryFilter) {}, []int{6, 5, 4, 3, 2, 1}},
		{"UserID", func(f *latchkey.InventoryFilter) { f.UserID = fx.alice.ID }, []int{3, 2, 1}},
		{"UnknownUser", func(f *latchkey.InventoryFilter) { f.UserID = 9999 }, []int{}},
		{"ClientID", func(f *latchkey.InventoryFilter) { f.ClientID = fx.app.ID }, []int{4}},
		{"PersonalClient", func(f *latchkey.InventoryFilter) { f.ClientID = latchkey.PersonalAccessClientID }, []int{6, 5, 3, 2, 1}},
		{"Active", states(latchkey.StateActive), []int{5, 4, 1}},
		{"Expired", states(latchkey.StateExpired), []int{2}},
		{"Revoked", states(latchkey.StateRevoked), []int{6, 3}},
		{"ActiveOrRevoked", states(latchkey.StateActive, latchkey.StateRevoked), []int{6, 5, 4, 3, 1}},
		{"StateTwice", states(latchkey.StateExpired, latchkey.StateExpired), []int{2}},
		{"EveryState", states(latchkey.StateActive, latchkey.StateExpired, latchkey.StateRevoked), []int{6, 5, 4, 3, 2, 1}},
		{"ExpiredAtItsExpiry", func(f *latchkey.InventoryFilter) {
			f.States, f.Now = []latchkey.TokenState{latchkey.StateExpired}, at(40*day)
		}, []int{4, 2}},
		{"ActiveJustBeforeExpiry", func(f *latchkey.InventoryFilter) {
			f.States, f.Now = []latchkey.TokenState{latchkey.StateActive}, at(40*day-time.Microsecond)
		}, []int{5, 4, 1}},
		{"CreatedAfter", func(f *latchkey.InventoryFilter) { f.CreatedAfter = ptr(at(3 * time.Hour)) }, []int{6, 5, 4, 3}},
		{"CreatedBefore", func(f *latchkey.InventoryFilter) { f.CreatedBefore = ptr(at(3 * time.Hour)) }, []int{2, 1}},
		{"CreatedBetween", func(f *latchkey.InventoryFilter) {
			f.CreatedAfter, f.CreatedBefore = ptr(at(2*time.Hour)), ptr(at(5*time.Hour))
		}, []int{4, 3, 2}},
		{"ExpiresAfter", func(f *latchkey.InventoryFilter) { f.ExpiresAfter = ptr(at(30 * day)) }, []int{5, 4, 3, 1}},
		{"ExpiresAfterExactly", func(f *latchkey.InventoryFilter) { f.ExpiresAfter = ptr(at(40 * day)) }, []int{5, 4, 3, 1}},
		{"ExpiresBefore", func(f *latchkey.InventoryFilter) { f.ExpiresBefore = ptr(at(30 * day)) }, []int{6, 2}},
		{"ExpiresBeforeExactly", func(f *latchkey.InventoryFilter) { f.ExpiresBefore = ptr(at(10 * day)) }, []int{6}},
		{"LastUsedAfter", func(f *latchkey.InventoryFilter) { f.LastUsedAfter = ptr(at(4 * day)) }, []int{4, 3}},
		{"LastUsedBefore", func(f *latchkey.InventoryFilter) { f.LastUsedBefore = ptr(at(4 * day)) }, []int{2}},
		{"NeverUsed", func(f *latchkey.InventoryFilter) { f.NeverUsed = &yes }, []int{6, 5, 1}},
		{"Used", func(f *latchkey.InventoryFilter) { f.NeverUsed = &no }, []int{4, 3, 2}},
		{"ScopeRead", func(f *latchkey.InventoryFilter) { f.Scope = latchkey.ScopeTokensRead }, []int{6, 4, 2, 1}},
		{"ScopeWrite", func(f *latchkey.InventoryFilter) { f.Scope = latchkey.ScopeTokensWrite }, []int{6, 4, 3, 1}},
		{"ScopeAll", func(f *latchkey.InventoryFilter) { f.Scope = latchkey.ScopeAll }, []int{4, 1}},
		{"ScopeOther", func(f *latchkey.InventoryFilter) { f.Scope = "reports:export" }, []int{5, 4, 1}},
		{"ScopeNoneHas", func(f *latchkey.InventoryFilter) { f.Scope = "nothing.here" }, []int{4, 1}},
		{"Name", func(f *latchkey.InventoryFilter) { f.Name = "export" }, []int{5}},
		{"NameCase", func(f *latchkey.InventoryFilter) { f.Name = "nIGHTLY" }, []int{5}},
		{"NameLiteral", func(f *latchkey.InventoryFilter) { f.Name = "%" }, []int{}},
		{"NameLiteralUnderscore", func(f *latchkey.InventoryFilter) { f.Name = "token_" }, []int{}},
		{"Combined", func(f *latchkey.InventoryFilter) {
			f.UserID, f.States, f.Scope = fx.bob.ID, []latchkey.TokenState{latchkey.StateActive}, "reports:export"
		}, []int{5, 4}},
		{"OrderName", func(f *latchkey.InventoryFilter) { f.OrderBy, f.Ascending = latchkey.OrderName, true }, []int{5, 1, 2, 3, 4, 6}},
		{"OrderExpiresAsc", func(f *latchkey.InventoryFilter) { f.OrderBy, f.Ascending = latchkey.OrderExpiresAt, true }, []int{6, 2, 4, 3, 1, 5}},
		{"OrderExpiresDesc", func(f *latchkey.InventoryFilter) { f.OrderBy = latchkey.OrderExpiresAt }, []int{3, 1, 4, 2, 6, 5}},
		{"OrderLastUsedDesc", func(f *latchkey.InventoryFilter) { f.OrderBy = latchkey.OrderLastUsedAt }, []int{4, 3, 2, 6, 5, 1}},
		{"OrderCreatedAsc", func(f *latchkey.InventoryFilter) { f.Ascending = true }, []int{1, 2, 3, 4, 5, 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := latchkey.InventoryFilter{Now: fx.now}
			tt.filter(&f)
			got, total, err := s.Inventory(t.Context(), f)
			if err != nil {
				t.Fatalf("Inventory(%+v) = %v", f, err)
			}
			if diff := cmp.Diff(tt.want, inventoryNumbers(got)); diff != "" {
				t.Errorf("Inventory(%+v) tokens mismatch (-want +got):\n%s", f, diff)
			}
			if total != len(tt.want) {
				t.Errorf("Inventory(%+v) total = %d, want %d", f, total, len(tt.want))
			}
			var each []*latchkey.InventoryToken
			err = s.EachInventoryToken(t.Context(), f, func(it *latchkey.InventoryToken) error {
				each = append(each, it)
				return nil
			})
			if err != nil {
				t.Fatalf("EachInventoryToken(%+v) = %v", f, err)
			}
			if diff := cmp.Diff(tt.want, inventoryNumbers(each)); diff != "" {
				t.Errorf("EachInventoryToken(%+v) mismatch (-want +got):\n%s", f, diff)
			}
		})
	}
}

// states returns a filter change that keeps the tokens in states.
func states(sts ...latchkey.TokenState) func(f *latchkey.InventoryFilter) {
	return func(f *latchkey.InventoryFilter) { f.States = sts }
}

func testInventoryRows(t *testing.T, open func(t *testing.T) latchkey.Store) {
	fx := newInventoryFixture(t, open)
	got, _, err := fx.s.Inventory(t.Context(), latchkey.InventoryFilter{Now: fx.now})
	if err != nil {
		t.Fatalf("Inventory() = %v", err)
	}
	owners := map[int64]*latchkey.User{fx.alice.ID: fx.alice, fx.bob.ID: fx.bob}
	for _, it := range got {
		n := inventoryNumbers([]*latchkey.InventoryToken{it})[0]
		want := withClient(t, fx.s, fx.tokens[n])
		if diff := cmp.Diff(want, it.Token); diff != "" {
			t.Errorf("Inventory() token %d mismatch (-want +got):\n%s", n, diff)
		}
		checkUTC(t, fmt.Sprintf("Inventory() token %d", n), &it.Token.CreatedAt, &it.Token.UpdatedAt, it.Token.ExpiresAt, it.Token.LastUsedAt)
		if u := owners[it.Token.UserID]; it.Username != u.Username || it.Email != u.Email {
			t.Errorf("Inventory() token %d owner = %q <%s>, want %q <%s>", n, it.Username, it.Email, u.Username, u.Email)
		}
		if it.Token.Scopes == nil {
			t.Errorf("Inventory() token %d Scopes = nil, want a non-nil slice", n)
		}
	}
}

func testInventoryPages(t *testing.T, open func(t *testing.T) latchkey.Store) {
	fx := newInventoryFixture(t, open)
	for _, tc := range []struct {
		offset, limit int
		want          []int
	}{
		{0, 2, []int{6, 5}},
		{2, 2, []int{4, 3}},
		{4, 2, []int{2, 1}},
		{6, 2, []int{}},
		{5, 0, []int{1}},
	} {
		f := latchkey.InventoryFilter{Now: fx.now, Offset: tc.offset, Limit: tc.limit}
		got, total, err := fx.s.Inventory(t.Context(), f)
		if err != nil {
			t.Fatalf("Inventory(offset %d, limit %d) = %v", tc.offset, tc.limit, err)
		}
		if diff := cmp.Diff(tc.want, inventoryNumbers(got)); diff != "" || total != 6 {
			t.Errorf("Inventory(offset %d, limit %d) = %v, total %d, want %v, total 6", tc.offset, tc.limit, inventoryNumbers(got), total, tc.want)
		}
		var each []*latchkey.InventoryToken
		if err := fx.s.EachInventoryToken(t.Context(), f, func(it *latchkey.InventoryToken) error {
			each = append(each, it)
			return nil
		}); err != nil {
			t.Fatalf("EachInventoryToken(offset %d, limit %d) = %v", tc.offset, tc.limit, err)
		}
		if diff := cmp.Diff(tc.want, inventoryNumbers(each)); diff != "" {
			t.Errorf("EachInventoryToken(offset %d, limit %d) = %v, want %v", tc.offset, tc.limit, inventoryNumbers(each), tc.want)
		}
	}
}

func testEachInventoryToken(t *testing.T, open func(t *testing.T) latchkey.Store) {
	fx := newInventoryFixture(t, open)
	stop := errors.New("the reader went away")
	calls := 0
	err := fx.s.EachInventoryToken(t.Context(), latchkey.InventoryFilter{Now: fx.now}, func(*latchkey.InventoryToken) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Errorf("EachInventoryToken() with fn failing = %v, want fn's error as it is", err)
	}
	if calls != 2 {
		t.Errorf("EachInventoryToken() called fn %d times after it failed on the 2nd, want 2", calls)
	}
	// The store is usable afterwards: the reading was ended, not leaked.
	for range 8 {
		if _, _, err := fx.s.Inventory(t.Context(), latchkey.InventoryFilter{Now: fx.now}); err != nil {
			t.Fatalf("Inventory() after a stopped EachInventoryToken = %v", err)
		}
		_ = fx.s.EachInventoryToken(t.Context(), latchkey.InventoryFilter{Now: fx.now}, func(*latchkey.InventoryToken) error { return stop })
	}
	// The rows of fn are its to keep.
	var kept []*latchkey.InventoryToken
	if err := fx.s.EachInventoryToken(t.Context(), latchkey.InventoryFilter{Now: fx.now}, func(it *latchkey.InventoryToken) error {
		kept = append(kept, it)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{6, 5, 4, 3, 2, 1}, inventoryNumbers(kept)); diff != "" {
		t.Errorf("EachInventoryToken() kept rows mismatch (-want +got):\n%s", diff)
	}
}

func testInventoryInvalid(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	for _, f := range []latchkey.InventoryFilter{
		{OrderBy: "id; DROP TABLE users"},
		{States: []latchkey.TokenState{"dormant"}},
	} {
		_, _, err := s.Inventory(t.Context(), f)
		checkCode(t, fmt.Sprintf("Inventory(%+v)", f), err, latchkey.EINVALID)
		err = s.EachInventoryToken(t.Context(), f, func(*latchkey.InventoryToken) error { return nil })
		checkCode(t, fmt.Sprintf("EachInventoryToken(%+v)", f), err, latchkey.EINVALID)
	}
}

// inventoryNumbers returns the fixture number of each token of items.
func inventoryNumbers(items []*latchkey.InventoryToken) []int {
	ts := make([]*latchkey.Token, len(items))
	for i, it := range items {
		ts[i] = it.Token
	}
	return tokenNumbers(ts)
}
