package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/latchkey/latchkey"
)

// leaseStates returns, by server, whether each live lease but except's
// has acknowledged seq.
func leaseStates(t *testing.T, s latchkey.LeaseStore, seq int64, except string) map[string]bool {
	t.Helper()
	leases, err := s.Leases(t.Context(), seq, except)
	if err != nil {
		t.Fatalf("Leases(%d, %q) = %v", seq, except, err)
	}
	out := map[string]bool{}
	for _, l := range leases {
		out[l.Server] = l.Acknowledged
		if l.Name != "host:"+l.Server {
			t.Errorf("Leases() lease of %q is named %q, want %q", l.Server, l.Name, "host:"+l.Server)
		}
	}
	return out
}

func testLeases(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s, ok := open(t).(latchkey.LeaseStore)
	if !ok {
		t.Skip("the store holds no leases")
	}
	ctx := t.Context()
	renew := func(server string, d time.Duration) {
		t.Helper()
		if err := s.RenewLease(ctx, server, "host:"+server, d); err != nil {
			t.Fatalf("RenewLease(%q) = %v", server, err)
		}
	}
	if got := leaseStates(t, s, 1, ""); len(got) != 0 {
		t.Errorf("Leases() of a new store = %v, want none", got)
	}
	renew("a", time.Hour)
	renew("b", time.Hour)
	renew("gone", -time.Second) // ran out a second ago
	if diff := cmp.Diff(map[string]bool{"a": false, "b": false}, leaseStates(t, s, 7, "")); diff != "" {
		t.Errorf("Leases(7) (-want +got):\n%s", diff)
	}
	if err := s.Acknowledge(ctx, "a", 6, 7); err != nil {
		t.Fatalf("Acknowledge(a, 6, 7) = %v", err)
	}
	if err := s.Acknowledge(ctx, "a", 7); err != nil {
		t.Errorf("Acknowledge(a, 7) again = %v, want nil", err)
	}
	if err := s.Acknowledge(ctx, "b"); err != nil {
		t.Errorf("Acknowledge(b) of nothing = %v, want nil", err)
	}
	if diff := cmp.Diff(map[string]bool{"a": true, "b": false}, leaseStates(t, s, 7, "")); diff != "" {
		t.Errorf("after Acknowledge(a, 6, 7), Leases(7) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]bool{"b": false}, leaseStates(t, s, 7, "a")); diff != "" {
		t.Errorf("Leases(7, but a's) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]bool{"a": false, "b": false}, leaseStates(t, s, 8, "")); diff != "" {
		t.Errorf("Leases(8), acknowledged by none (-want +got):\n%s", diff)
	}
	// Renewing keeps the acknowledgements; a lease that runs out is not
	// live; a dropped one is gone.
	renew("a", time.Hour)
	renew("b", -time.Second)
	if diff := cmp.Diff(map[string]bool{"a": true}, leaseStates(t, s, 7, "")); diff != "" {
		t.Errorf("after b's lease ran out, Leases(7) (-want +got):\n%s", diff)
	}
	if err := s.DropLease(ctx, "a"); err != nil {
		t.Fatalf("DropLease(a) = %v", err)
	}
	if got := leaseStates(t, s, 7, ""); len(got) != 0 {
		t.Errorf("after DropLease(a), Leases(7) = %v, want none", got)
	}
	renew("a", time.Hour)
	if diff := cmp.Diff(map[string]bool{"a": false}, leaseStates(t, s, 7, "")); diff != "" {
		t.Errorf("a dropped lease taken again forgets its acknowledgements: Leases(7) (-want +got):\n%s", diff)
	}
}
