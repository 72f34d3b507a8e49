package bench

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/latchkey/latchkey"
)

// TestSeed seeds a store as a program that serves it from another process
// would, through the fixture's JSON form: every token listed is the
// listing user's, the revoked one is revoked, and the JWTs authenticate.
func TestSeed(t *testing.T) {
	opts, _ := testOptions(t, 1)
	svc, st, closeSvc, err := opts.Open(t.Context(), opts.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer closeSvc()
	fx, took, err := Seed(t.Context(), svc, st, SeedOptions{Tokens: 7, ScaleUsers: 2, ScaleTokens: 5})
	if err != nil {
		t.Fatal(err)
	}
	if took.Total <= 0 || took.Total < took.Fixture {
		t.Errorf("Seed() took %+v, want a total that holds its parts", took)
	}
	b, err := json.Marshal(fx)
	if err != nil {
		t.Fatal(err)
	}
	var got Fixture
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fx, &got, cmp.AllowUnexported(Fixture{}), cmp.FilterPath(func(p cmp.Path) bool {
		return strings.HasPrefix(p.Last().String(), ".forge")
	}, cmp.Ignore())); diff != "" {
		t.Errorf("the fixture's JSON form (-seeded +read back):\n%s", diff)
	}

	tokens, total, err := st.Tokens(t.Context(), latchkey.TokenFilter{UserID: got.ListUser, IncludeRevoked: true, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, tok := range tokens {
		if !tok.Revoked {
			listed = append(listed, tok.ID)
		}
	}
	if total != 8 || len(listed) != 7 || !cmp.Equal(listed, got.ListIDs, cmpSorted) {
		t.Errorf("the listing user has %d tokens, %d not revoked (%v), want 8, 7: ListIDs %v", total, len(listed), listed, got.ListIDs)
	}
	for name, c := range map[string]struct {
		jwt  string
		user int64
	}{"ListJWT": {got.ListJWT, got.ListUser}, "WriterJWT": {got.WriterJWT, got.Writer}} {
		a, err := svc.Authenticate(t.Context(), c.jwt, latchkey.Origin{Address: "127.0.0.1"})
		if err != nil || a.User.ID != c.user {
			t.Errorf("Authenticate(%s) = %+v, %v; want user %d", name, a, err, c.user)
		}
	}
	if _, err := svc.Authenticate(t.Context(), got.RevokedJWT, latchkey.Origin{Address: "127.0.0.1"}); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("Authenticate(RevokedJWT) = %v, want %s", err, latchkey.EUNAUTHENTICATED)
	}
}

// cmpSorted compares lists of strings as sets.
var cmpSorted = cmpopts.SortSlices(func(a, b string) bool { return a < b })

// TestSeedRefuses: options out of range are refused before the store is
// touched.
func TestSeedRefuses(t *testing.T) {
	opts, _ := testOptions(t, 1)
	svc, st, closeSvc, err := opts.Open(t.Context(), opts.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer closeSvc()
	for name, tc := range map[string]struct {
		opts SeedOptions
		want string
	}{
		"no tokens":            {SeedOptions{}, "at least 1 token"},
		"negative scale":       {SeedOptions{Tokens: 1, ScaleUsers: -1}, "0 or more"},
		"tokens without users": {SeedOptions{Tokens: 1, ScaleTokens: 3}, "need users at scale"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := Seed(t.Context(), svc, st, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Seed(%+v) = %v, want an error saying %q", tc.opts, err, tc.want)
			}
		})
	}
	users, err := st.Users(t.Context(), latchkey.UserFilter{Search: "bench-"})
	if err != nil || len(users) != 0 {
		t.Errorf("after refusals the store holds %d bench users (%v), want none", len(users), err)
	}
}
