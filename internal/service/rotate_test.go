package service

import (
	"net/netip"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// principalOf authenticates raw and fails the test if it does not.
func principalOf(t *testing.T, s *Service, raw string) *latchkey.Principal {
	t.Helper()
	p, err := s.Authenticate(t.Context(), raw, latchkey.Origin{})
	if err != nil {
		t.Fatalf("Authenticate() = %v", err)
	}
	return p
}

// refused reports whether raw no longer authenticates.
func refused(t *testing.T, s *Service, raw string) bool {
	t.Helper()
	_, err := s.Authenticate(t.Context(), raw, latchkey.Origin{})
	return latchkey.ErrorCode(err) == latchkey.EUNAUTHENTICATED
}

// TestRotateGrace: the old token, cached before the rotation, works
// through its grace period and not a moment after; the successor has the
// old lifetime again; the sweep revokes the old token for rotated.
func TestRotateGrace(t *testing.T) {
	clk := newHandClock()
	s, _ := newTestService(t, Config{Now: clk.Now})
	u := s.mustUser(t, "carol")
	old, raw := s.mustToken(t, u)
	p := principalOf(t, s, raw) // cached
	clk.Advance(time.Hour)
	succ, succRaw, err := s.RotateToken(t.Context(), p, u, old.ID, RotateRequest{Grace: 5 * time.Minute})
	if err != nil {
		t.Fatalf("RotateToken() = %v", err)
	}
	if succ.RotatedFrom != old.ID || succ.Name != old.Name || succ.ParentID != old.ParentID {
		t.Errorf("successor = %+v, want the old token's name and parent, rotated from it", succ)
	}
	if want := s.now().Add(old.ExpiresAt.Sub(old.CreatedAt)); !succ.ExpiresAt.Equal(want) {
		t.Errorf("successor expires at %v, want %v", succ.ExpiresAt, want)
	}
	principalOf(t, s, succRaw)
	clk.Advance(5*time.Minute - time.Microsecond)
	principalOf(t, s, raw)
	clk.Advance(time.Microsecond)
	if !refused(t, s, raw) {
		t.Fatal("the old token authenticated after its grace period")
	}
	if err := s.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, err := s.Token(t.Context(), u, old.ID)
	if err != nil || !got.Revoked || got.RevokedReason != latchkey.ReasonRotated {
		t.Errorf("after the sweep, the old token = %+v, %v; want revoked for rotated", got, err)
	}
}

// TestRotateAgain: asked again with the old secret, a rotation whose
// successor is unused answers a new one; once the successor is used, it
// is refused and the chain revoked. Only AuthenticateRotation lets a
// rotated token in.
func TestRotateAgain(t *testing.T) {
	s, _ := newTestService(t, Config{})
	u := s.mustUser(t, "carol")
	old, raw := s.mustToken(t, u)
	p := principalOf(t, s, raw)
	first, firstRaw, err := s.RotateToken(t.Context(), p, u, old.ID, RotateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !refused(t, s, raw) {
		t.Fatal("Authenticate accepted a token rotated with no grace")
	}
	p, err = s.AuthenticateRotation(t.Context(), raw, latchkey.Origin{})
	if err != nil {
		t.Fatalf("AuthenticateRotation(a rotated token) = %v", err)
	}
	second, secondRaw, err := s.RotateToken(t.Context(), p, u, old.ID, RotateRequest{})
	if err != nil || second.ID == first.ID {
		t.Fatalf("RotateToken again = %v, %v; want a new successor", second, err)
	}
	if !refused(t, s, firstRaw) {
		t.Error("the superseded successor still authenticates")
	}
	// A use of the second successor, not yet written: it counts.
	principalOf(t, s, secondRaw)
	_, _, err = s.RotateToken(t.Context(), p, u, old.ID, RotateRequest{})
	if latchkey.ErrorCode(err) != latchkey.ECONFLICT {
		t.Fatalf("RotateToken after the successor's use = %v, want ECONFLICT", err)
	}
	if !refused(t, s, secondRaw) {
		t.Error("the successor still authenticates after reuse was detected")
	}
	if _, err := s.AuthenticateRotation(t.Context(), raw, latchkey.Origin{}); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("AuthenticateRotation(a token revoked for reuse) = %v, want EUNAUTHENTICATED", err)
	}
	// A token revoked for another reason does not get in either.
	other, otherRaw := s.mustToken(t, u)
	if _, err := s.RevokeToken(t.Context(), p, u, other.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateRotation(t.Context(), otherRaw, latchkey.Origin{}); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("AuthenticateRotation(a revoked token) = %v, want EUNAUTHENTICATED", err)
	}
}

// TestRotateRefusals: a token's bearer hands on no scope it lacks; only
// personal tokens rotate; a rotation's input is checked.
func TestRotateRefusals(t *testing.T) {
	s, _ := newTestService(t, Config{})
	u := s.mustUser(t, "carol")
	broad, _ := s.mustToken(t, u)
	name := "narrow"
	_, narrowRaw, err := s.OperatorCreateToken(t.Context(), u, TokenRequest{Name: &name, Scopes: []string{latchkey.ScopeTokensWrite}})
	if err != nil {
		t.Fatal(err)
	}
	narrow := principalOf(t, s, narrowRaw)
	if _, _, err := s.RotateToken(t.Context(), narrow, u, broad.ID, RotateRequest{}); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
		t.Errorf("a narrow token rotating a broad one = %v, want EFORBIDDEN", err)
	}
	for _, grace := range []time.Duration{-time.Second, MaxGrace + time.Second} {
		if _, _, err := s.RotateToken(t.Context(), Operator(), u, broad.ID, RotateRequest{Grace: grace}); latchkey.ErrorCode(err) != latchkey.EINVALID {
			t.Errorf("grace %v = %v, want EINVALID", grace, err)
		}
	}
	if _, _, err := s.RotateToken(t.Context(), Operator(), u, broad.ID, RotateRequest{Grace: MaxGrace}); err != nil {
		t.Errorf("grace of a week = %v, want nil", err)
	}
}

// TestRevocationReasons: the owner revoking is "owner"; anyone else
// allowed to is "admin".
func TestRevocationReasons(t *testing.T) {
	s, _ := newTestService(t, Config{})
	u := s.mustUser(t, "carol")
	mine, raw := s.mustToken(t, u)
	theirs, _ := s.mustToken(t, u)
	if _, err := s.RevokeToken(t.Context(), principalOf(t, s, raw), u, mine.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeToken(t.Context(), Operator(), u, theirs.ID); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]latchkey.RevokeReason{mine.ID: latchkey.ReasonOwner, theirs.ID: latchkey.ReasonAdmin} {
		got, err := s.Token(t.Context(), u, id)
		if err != nil || got.RevokedReason != want || got.RevokedAt == nil {
			t.Errorf("token revoked = %q at %v (%v), want %q with a time", got.RevokedReason, got.RevokedAt, err, want)
		}
	}
}

// TestIdleExpiry: a token unused for IdleExpiry stops authenticating,
// cached or not, counting from its last use here even before that use is
// written; the sweep then revokes it as idle.
func TestIdleExpiry(t *testing.T) {
	clk := newHandClock()
	// Cached longer than the idle expiry, so that the cache's own check
	// is what refuses.
	s, _ := newTestService(t, Config{Now: clk.Now, IdleExpiry: 24 * time.Hour, CacheTTL: 72 * time.Hour})
	u := s.mustUser(t, "carol")
	tok, raw := s.mustToken(t, u)
	clk.Advance(23 * time.Hour)
	principalOf(t, s, raw) // used, and cached
	clk.Advance(24*time.Hour - time.Second)
	principalOf(t, s, raw) // a day since its last use, less a second
	clk.Advance(24 * time.Hour)
	if !refused(t, s, raw) {
		t.Fatal("a token unused for a day authenticated from the cache")
	}
	// Not cached: a new token, read from the store, idle since creation.
	other, otherRaw := s.mustToken(t, u)
	s.cache.purge()
	clk.Advance(24 * time.Hour)
	if !refused(t, s, otherRaw) {
		t.Fatal("a token never used for a day authenticated")
	}
	clk.Advance(time.Minute) // past the other servers' unwritten uses
	if err := s.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{tok.ID, other.ID} {
		got, err := s.Token(t.Context(), u, id)
		if err != nil || !got.Revoked || got.RevokedReason != latchkey.ReasonIdle {
			t.Errorf("after the sweep: %+v, %v; want revoked as idle", got, err)
		}
	}
	// A token used yesterday is left alone.
	_, fresh := s.mustToken(t, u)
	clk.Advance(time.Hour)
	principalOf(t, s, fresh)
	if err := s.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	principalOf(t, s, fresh)
}

// TestRotateBounds: a token's bearer rotating another token makes its
// own child, within its expiry and networks; a token rotating itself
// gets no longer life nor more networks than it was made with.
func TestRotateBounds(t *testing.T) {
	clk := newHandClock()
	s, _ := newTestService(t, Config{Now: clk.Now})
	u := s.mustUser(t, "carol")
	other, _ := s.mustToken(t, u)
	name := "short"
	hour := clk.Now().Add(time.Hour)
	net := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	_, shortRaw, err := s.OperatorCreateToken(t.Context(), u, TokenRequest{Name: &name, ExpiresAt: &hour, AllowedIPs: net})
	if err != nil {
		t.Fatal(err)
	}
	short, err := s.Authenticate(t.Context(), shortRaw, latchkey.Origin{Address: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	taken, _, err := s.RotateToken(t.Context(), short, u, other.ID, RotateRequest{Grace: MaxGrace})
	if err != nil {
		t.Fatal(err)
	}
	if taken.ParentID != short.Token.ID || taken.ExpiresAt.After(hour) || len(taken.AllowedIPs) != 1 || taken.AllowedIPs[0] != net[0] {
		t.Errorf("successor = parent %q, expires %v, networks %v; want the rotating token's child, within its hour and network", taken.ParentID, taken.ExpiresAt, taken.AllowedIPs)
	}

	year := clk.Now().AddDate(0, 11, 0)
	if _, _, err := s.RotateToken(t.Context(), short, u, short.Token.ID, RotateRequest{ExpiresAt: &year}); latchkey.ErrorCode(err) != latchkey.EINVALID {
		t.Errorf("a token rotating itself to live longer = %v, want EINVALID", err)
	}
	wider := []netip.Prefix{netip.MustParsePrefix("192.0.0.0/16")}
	if _, _, err := s.RotateToken(t.Context(), short, u, short.Token.ID, RotateRequest{AllowedIPs: &wider}); latchkey.ErrorCode(err) != latchkey.EINVALID {
		t.Errorf("a token rotating itself to more networks = %v, want EINVALID", err)
	}
	none := []netip.Prefix{}
	kept, _, err := s.RotateToken(t.Context(), short, u, short.Token.ID, RotateRequest{AllowedIPs: &none})
	if err != nil || len(kept.AllowedIPs) != 1 || kept.AllowedIPs[0] != net[0] || kept.ExpiresAt.After(clk.Now().Add(time.Hour)) {
		t.Errorf("rotating itself with no networks = %+v, %v; want its own network and hour", kept, err)
	}
}
