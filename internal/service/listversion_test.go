package service

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey"
)

// TestVersion: a page of the default list has the same Version
// exactly while it holds the same tokens with the same fields. Every
// page read in the test, through each kind of change (a create and a
// revocation here and by another process, uses of a token on the page,
// the uses written out, the list's time running out), is checked against
// every page read before it under the same version; and each change to
// the page gives a new version.
func TestVersion(t *testing.T) {
	clk := newHandClock()
	svc, st := newTestService(t, Config{Now: clk.Now})
	ctx := t.Context()
	other, err := New(ctx, st, svc.sealer, svc.cfg)
	if err != nil {
		t.Fatal(err)
	}
	u := svc.mustUser(t, "versions")
	q := ListQuery{Page: 1, PerPage: 3}

	seen := map[Version][]*latchkey.Token{}
	// read reads the page, checks it against what its version named
	// before, and returns its version.
	read := func(step string) Version {
		t.Helper()
		before, total, ok := svc.TokensVersion(ctx, u, q)
		ts, n, v, err := svc.TokensVersioned(ctx, u, q)
		if err != nil || !ok || v.IsZero() {
			t.Fatalf("%s: TokensVersion = %v, %t; TokensVersioned = %v, %v", step, before, ok, v, err)
		}
		if v != before || n != total {
			// Nothing changed between the two: they must agree.
			t.Errorf("%s: TokensVersion = %v (%d tokens), TokensVersioned = %v (%d)", step, before, total, v, n)
		}
		if was, ok := seen[v]; ok {
			if diff := cmp.Diff(was, ts); diff != "" {
				t.Errorf("%s: the version %v named another page before (-before +now):\n%s", step, v, diff)
			}
		}
		seen[v] = ts
		return v
	}
	changed := func(step string, was Version) Version {
		t.Helper()
		v := read(step)
		if v == was {
			t.Errorf("%s: the version stayed %v", step, v)
		}
		return v
	}
	same := func(step string, was Version) {
		t.Helper()
		if v := read(step); v != was {
			t.Errorf("%s: the version changed from %v to %v, with nothing changed", step, was, v)
		}
	}

	a, aJWT := svc.mustToken(t, u)
	b, _ := svc.mustToken(t, u)
	v := read("two tokens")
	same("read again", v)

	use := func(from string) {
		t.Helper()
		if _, err := svc.Authenticate(ctx, aJWT, latchkey.Origin{Address: from}); err != nil {
			t.Fatal(err)
		}
	}
	use("192.0.2.1")
	v = changed("a used", v)
	use("192.0.2.1") // the same second, the same address: not noted again
	same("a used again at once", v)
	use("192.0.2.2")
	v = changed("a used from another address", v)
	clk.Advance(2 * time.Second)
	use("192.0.2.2")
	v = changed("a used two seconds later", v)
	if err := svc.FlushUsage(ctx); err != nil {
		t.Fatal(err)
	}
	v = changed("the uses written out", v)

	c, _ := svc.mustToken(t, u)
	v = changed("a token created", v)
	if _, err := svc.RevokeToken(ctx, Operator(), u, b.ID); err != nil {
		t.Fatal(err)
	}
	v = changed("a token revoked", v)
	clk.Advance(rowTTL)
	v = changed("the list's time run out", v)

	listed := func(id string) bool {
		ts, _, _, err := svc.TokensVersioned(ctx, u, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range ts {
			if tok.ID == id {
				return true
			}
		}
		return false
	}
	// Another process's changes arrive through the events, which Run
	// polls for; until here, nothing but the test's own steps changed
	// what the page holds.
	go func() { _ = svc.Run(ctx) }()
	d, _ := other.mustToken(t, u)
	eventually(t, "a token created by another process", func() bool { return listed(d.ID) })
	v = changed("a token created by another process", v)
	if _, err := other.OperatorRevokeToken(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a token revoked by another process", func() bool { return !listed(c.ID) })
	changed("a token revoked by another process", v)
	if !listed(a.ID) {
		t.Errorf("%s is not listed", a.ID)
	}
	if len(seen) < 9 {
		t.Errorf("%d versions seen, want one for each change", len(seen))
	}
}

// TestTokenVersion: a token as Token returns it has the same Version
// exactly while every field of it stays the same: each read is checked
// against every read before it under the same version, through each kind
// of change; and each change gives a new version.
func TestTokenVersion(t *testing.T) {
	clk := newHandClock()
	svc, st := newTestService(t, Config{Now: clk.Now})
	ctx := t.Context()
	other, err := New(ctx, st, svc.sealer, svc.cfg)
	if err != nil {
		t.Fatal(err)
	}
	u := svc.mustUser(t, "shown")
	someoneElse := svc.mustUser(t, "someone")
	tok, raw := svc.mustToken(t, u)

	seen := map[Version]*latchkey.Token{}
	read := func(step string) Version {
		t.Helper()
		before, held := svc.TokenVersion(u, tok.ID)
		got, v, err := svc.TokenVersioned(ctx, u, tok.ID)
		if err != nil {
			t.Fatalf("%s: TokenVersioned: %v", step, err)
		}
		if held && v != before {
			t.Errorf("%s: TokenVersion = %v, TokenVersioned = %v", step, before, v)
		}
		if v.IsZero() {
			return v // read from the database: nothing may be kept
		}
		if was, ok := seen[v]; ok {
			if diff := cmp.Diff(was, got); diff != "" {
				t.Errorf("%s: the version %v named another token before (-before +now):\n%s", step, v, diff)
			}
		}
		seen[v] = got
		return v
	}
	// settled reads until the row is held, and returns its version.
	settled := func(step string) Version {
		t.Helper()
		for range 3 {
			if v := read(step); !v.IsZero() {
				return v
			}
		}
		t.Fatalf("%s: the row is never held", step)
		return Version{}
	}
	changed := func(step string, was Version) Version {
		t.Helper()
		v := settled(step)
		if v == was {
			t.Errorf("%s: the version stayed %v", step, v)
		}
		return v
	}

	v := settled("new")
	if again := read("again"); again != v {
		t.Errorf("read again: the version changed from %v to %v, with nothing changed", v, again)
	}
	if _, held := svc.TokenVersion(someoneElse, tok.ID); held {
		t.Error("TokenVersion for another user than the owner: held")
	}
	use := func(from string) {
		t.Helper()
		if _, err := svc.Authenticate(ctx, raw, latchkey.Origin{Address: from}); err != nil {
			t.Fatal(err)
		}
	}
	use("192.0.2.1")
	v = changed("used", v)
	use("192.0.2.2")
	v = changed("used from another address", v)
	if err := svc.FlushUsage(ctx); err != nil {
		t.Fatal(err)
	}
	v = changed("the uses written out", v)
	clk.Advance(rowTTL)
	v = changed("the row's time run out", v)
	if _, err := svc.RevokeToken(ctx, Operator(), u, tok.ID); err != nil {
		t.Fatal(err)
	}
	v = changed("revoked", v)

	// Another process's change arrives through the events.
	go func() { _ = svc.Run(ctx) }()
	second, _ := svc.mustToken(t, u)
	tok = second
	v = settled("a second token")
	if _, err := other.OperatorRevokeToken(ctx, second.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a token revoked by another process", func() bool {
		got, err := svc.Token(ctx, u, second.ID)
		return err == nil && got.Revoked
	})
	changed("revoked by another process", v)
}
