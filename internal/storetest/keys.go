package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/latchkey/latchkey"
)

// newKey returns the n-th signing key of the fixtures, created at created.
func newKey(n int, created time.Time) *latchkey.SigningKey {
	return &latchkey.SigningKey{
		ID:               fmt.Sprintf("kid-%d", n),
		Algorithm:        "RS256",
		PublicKey:        []byte{0x30, 0x82, 0x01, 0x22, byte(n), 0x00, 0xff},
		SealedPrivateKey: []byte{0x00, 0x01, byte(n), 0xfe, 0xff, 0x00},
		CreatedAt:        created,
	}
}

// addKey makes k the signing key.
func addKey(t testing.TB, s latchkey.Store, k *latchkey.SigningKey) *latchkey.SigningKey {
	t.Helper()
	if err := s.AddSigningKey(t.Context(), k); err != nil {
		t.Fatalf("AddSigningKey(%q) = %v", k.ID, err)
	}
	return k
}

// signingKeys returns s.SigningKeys.
func signingKeys(t *testing.T, s latchkey.Store) []*latchkey.SigningKey {
	t.Helper()
	keys, err := s.SigningKeys(t.Context())
	if err != nil {
		t.Fatalf("SigningKeys() = %v", err)
	}
	return keys
}

func testAddSigningKey(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("First", func(t *testing.T) {
		s := open(t)
		k := addKey(t, s, newKey(1, at(0)))
		got := signingKeys(t, s)
		if diff := cmp.Diff([]*latchkey.SigningKey{k}, got); diff != "" {
			t.Errorf("SigningKeys() mismatch (-want +got):\n%s", diff)
		}
		if len(got) == 1 {
			if !got[0].Signing() {
				t.Errorf("SigningKeys()[0].RetiredAt = %v, want nil", got[0].RetiredAt)
			}
			checkUTC(t, "SigningKeys()", &got[0].CreatedAt)
		}
	})

	t.Run("RetiresPrevious", func(t *testing.T) {
		s := open(t)
		k1 := addKey(t, s, newKey(1, at(0)))
		k2 := addKey(t, s, newKey(2, at(time.Hour)))
		k3 := addKey(t, s, newKey(3, at(2*time.Hour).In(time.FixedZone("CET", 3600))))

		w1, w2, w3 := *k1, *k2, *k3
		w1.RetiredAt = ptr(k2.CreatedAt)
		w2.RetiredAt = ptr(k3.CreatedAt)
		want := []*latchkey.SigningKey{&w3, &w2, &w1}
		got := signingKeys(t, s)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("SigningKeys() mismatch (-want +got):\n%s", diff)
		}
		for _, k := range got {
			checkUTC(t, "SigningKeys()", &k.CreatedAt, k.RetiredAt)
		}
	})

	t.Run("Conflict", func(t *testing.T) {
		tests := []struct {
			name string
			dup  int // the fixture key whose id the new key takes
		}{
			{"SigningKey", 2},
			{"RetiredKey", 1},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := open(t)
				addKey(t, s, newKey(1, at(0)))
				addKey(t, s, newKey(2, at(time.Hour)))
				before := signingKeys(t, s)

				k := newKey(3, at(2*time.Hour))
				k.ID = fmt.Sprintf("kid-%d", tt.dup)
				err := s.AddSigningKey(t.Context(), k)
				checkCode(t, fmt.Sprintf("AddSigningKey(%q)", k.ID), err, latchkey.ECONFLICT)

				if diff := cmp.Diff(before, signingKeys(t, s)); diff != "" {
					t.Errorf("a failed AddSigningKey changed SigningKeys() (-before +after):\n%s", diff)
				}
			})
		}
	})
}

func testSigningKeys(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("Empty", func(t *testing.T) {
		s := open(t)
		if got := signingKeys(t, s); len(got) != 0 {
			t.Errorf("SigningKeys() of a new store = %d keys, want none", len(got))
		}
	})

	t.Run("NewestFirst", func(t *testing.T) {
		s := open(t)
		for i := 1; i <= 4; i++ {
			addKey(t, s, newKey(i, at(time.Duration(i)*time.Hour)))
		}
		want := []string{"kid-4", "kid-3", "kid-2", "kid-1"}
		if diff := cmp.Diff(want, keyIDs(signingKeys(t, s))); diff != "" {
			t.Errorf("SigningKeys() ids mismatch (-want +got):\n%s", diff)
		}
	})
}

func testVerifyingKeys(t *testing.T, open func(t *testing.T) latchkey.Store) {
	now := at(3 * time.Hour)
	type token struct {
		key     int
		expires *time.Time
		revoked bool
	}
	tests := []struct {
		name   string
		tokens []token
		want   []string
	}{
		{"NoTokens", nil, []string{"kid-3"}},
		{"SigningKeyTokens", []token{{3, ptr(at(-time.Hour)), true}}, []string{"kid-3"}},
		{"LiveToken", []token{{2, ptr(now.Add(time.Hour)), false}}, []string{"kid-3", "kid-2"}},
		{"NoExpiry", []token{{1, nil, false}}, []string{"kid-3", "kid-1"}},
		{"Revoked", []token{{2, ptr(now.Add(time.Hour)), true}}, []string{"kid-3"}},
		{"RevokedNoExpiry", []token{{2, nil, true}}, []string{"kid-3"}},
		{"Expired", []token{{2, ptr(now.Add(-time.Minute)), false}}, []string{"kid-3"}},
		{"ExpiresAtNow", []token{{2, ptr(now), false}}, []string{"kid-3"}},
		{"ExpiresJustAfterNow", []token{{2, ptr(now.Add(time.Microsecond)), false}}, []string{"kid-3", "kid-2"}},
		{"OneLiveAmongDead", []token{
			{1, ptr(now.Add(-time.Hour)), false},
			{1, ptr(now.Add(time.Hour)), true},
			{1, ptr(now.Add(time.Hour)), false},
			{2, ptr(now.Add(-time.Hour)), false},
		}, []string{"kid-3", "kid-1"}},
		{"AllRetiredLive", []token{
			{1, ptr(now.Add(time.Hour)), false},
			{2, nil, false},
		}, []string{"kid-3", "kid-2", "kid-1"}},
		{"UnknownKeyID", []token{{9, nil, false}}, []string{"kid-3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			u := createUser(t, s, newUser("alice"))
			for i := 1; i <= 3; i++ {
				addKey(t, s, newKey(i, at(time.Duration(i-1)*time.Hour)))
			}
			for i, tok := range tt.tokens {
				x := newToken(i+1, u.ID)
				x.KeyID, x.ExpiresAt, x.Revoked = fmt.Sprintf("kid-%d", tok.key), tok.expires, tok.revoked
				createToken(t, s, x)
			}

			got, err := s.VerifyingKeys(t.Context(), now)
			if err != nil {
				t.Fatalf("VerifyingKeys(%v) = %v", now, err)
			}
			if diff := cmp.Diff(tt.want, keyIDs(got)); diff != "" {
				t.Errorf("VerifyingKeys(%v) ids mismatch (-want +got):\n%s", now, diff)
			}
			// The keys are as SigningKeys returns them.
			all := map[string]*latchkey.SigningKey{}
			for _, k := range signingKeys(t, s) {
				all[k.ID] = k
			}
			for _, k := range got {
				if diff := cmp.Diff(all[k.ID], k); diff != "" {
					t.Errorf("VerifyingKeys(%v) key %q mismatch (-want +got):\n%s", now, k.ID, diff)
				}
			}
		})
	}

	t.Run("RevokedByClient", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		addKey(t, s, newKey(1, at(0)))
		addKey(t, s, newKey(2, at(time.Hour)))
		tok := newToken(1, u.ID)
		tok.ClientID, tok.KeyID, tok.ExpiresAt = app.ID, "kid-1", nil
		createToken(t, s, tok)
		if _, err := s.RevokeClient(t.Context(), app.ID, at(2*time.Hour)); err != nil {
			t.Fatalf("RevokeClient(%d) = %v", app.ID, err)
		}
		got, err := s.VerifyingKeys(t.Context(), now)
		if err != nil {
			t.Fatalf("VerifyingKeys(%v) = %v", now, err)
		}
		if diff := cmp.Diff([]string{"kid-2"}, keyIDs(got)); diff != "" {
			t.Errorf("after RevokeClient, VerifyingKeys(%v) ids mismatch (-want +got):\n%s", now, diff)
		}
	})

	t.Run("NoKeys", func(t *testing.T) {
		s := open(t)
		got, err := s.VerifyingKeys(t.Context(), now)
		if err != nil {
			t.Fatalf("VerifyingKeys(%v) = %v", now, err)
		}
		if len(got) != 0 {
			t.Errorf("VerifyingKeys(%v) of a new store = %d keys, want none", now, len(got))
		}
	})
}
