package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/latchkey/latchkey"
)

// withClient returns a copy of tok with the client that reads fill in.
func withClient(t *testing.T, s latchkey.Store, tok *latchkey.Token) *latchkey.Token {
	t.Helper()
	c, err := s.Client(t.Context(), tok.ClientID)
	if err != nil {
		t.Fatalf("Client(%d) = %v", tok.ClientID, err)
	}
	cp := *tok
	cp.Client = c
	return &cp
}

func testCreateToken(t *testing.T, open func(t *testing.T) latchkey.Store) {
	tokyo := time.FixedZone("JST", 9*3600)
	tests := []struct {
		name  string
		token func(user, app int64) *latchkey.Token
		want  func(tok *latchkey.Token) // adjusts the expected read
	}{
		{"Full", func(user, _ int64) *latchkey.Token {
			return &latchkey.Token{
				ID:         tokenID(1),
				UserID:     user,
				ClientID:   latchkey.PersonalAccessClientID,
				Name:       "nightly export",
				Scopes:     latchkey.Scopes{latchkey.ScopeTokensRead, "reports:export"},
				CreatedAt:  at(0),
				UpdatedAt:  at(time.Second),
				ExpiresAt:  ptr(at(365 * 24 * time.Hour)),
				LastUsedAt: ptr(at(time.Minute + time.Microsecond)),
				KeyID:      "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
			}
		}, nil},
		{"Minimal", func(user, _ int64) *latchkey.Token {
			return &latchkey.Token{
				ID:        tokenID(2),
				UserID:    user,
				ClientID:  latchkey.PersonalAccessClientID,
				Name:      "x",
				CreatedAt: at(0),
				UpdatedAt: at(0),
			}
		}, func(tok *latchkey.Token) { tok.Scopes = latchkey.Scopes{} }},
		{"EmptyScopes", func(user, _ int64) *latchkey.Token {
			tok := newToken(3, user)
			tok.Scopes = latchkey.Scopes{}
			return tok
		}, nil},
		{"AllScope", func(user, _ int64) *latchkey.Token {
			tok := newToken(4, user)
			tok.Scopes = latchkey.Scopes{latchkey.ScopeAll}
			return tok
		}, nil},
		{"Revoked", func(user, _ int64) *latchkey.Token {
			tok := newToken(5, user)
			tok.Revoked = true
			return tok
		}, nil},
		{"OAuthClient", func(user, app int64) *latchkey.Token {
			tok := newToken(6, user)
			tok.ClientID = app
			return tok
		}, nil},
		{"UnicodeName", func(user, _ int64) *latchkey.Token {
			tok := newToken(7, user)
			tok.Name = "Ünïcödé 名前 🔑 \\%_"
			return tok
		}, nil},
		{"OtherZone", func(user, _ int64) *latchkey.Token {
			tok := newToken(8, user)
			tok.CreatedAt = at(0).In(tokyo)
			tok.UpdatedAt = at(time.Hour).In(tokyo)
			tok.ExpiresAt = ptr(at(2 * time.Hour).In(tokyo))
			tok.LastUsedAt = ptr(at(time.Minute).In(tokyo))
			return tok
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			u := createUser(t, s, newUser("alice"))
			app := createClient(t, s, newClient("App"))
			tok := createToken(t, s, tt.token(u.ID, app.ID))

			want := withClient(t, s, tok)
			if tt.want != nil {
				tt.want(want)
			}
			got, err := s.Token(t.Context(), tok.ID)
			if err != nil {
				t.Fatalf("Token(%q) = %v", tok.ID, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Token(%q) mismatch (-want +got):\n%s", tok.ID, diff)
			}
			if got.Scopes == nil {
				t.Errorf("Token(%q).Scopes = nil, want a non-nil slice", tok.ID)
			}
			checkUTC(t, fmt.Sprintf("Token(%q)", tok.ID), &got.CreatedAt, &got.UpdatedAt, got.ExpiresAt, got.LastUsedAt)
		})
	}

	t.Run("Errors", func(t *testing.T) {
		tests := []struct {
			name  string
			token func(user int64) *latchkey.Token
			code  string
		}{
			{"DuplicateID", func(user int64) *latchkey.Token {
				tok := newToken(1, user)
				tok.Name = "duplicate"
				return tok
			}, latchkey.ECONFLICT},
			{"UnknownUser", func(user int64) *latchkey.Token {
				return newToken(2, user+1000)
			}, latchkey.ENOTFOUND},
			{"UnknownClient", func(user int64) *latchkey.Token {
				tok := newToken(2, user)
				tok.ClientID = 1000
				return tok
			}, latchkey.ENOTFOUND},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := open(t)
				u := createUser(t, s, newUser("alice"))
				first := withClient(t, s, createToken(t, s, newToken(1, u.ID)))

				tok := tt.token(u.ID)
				err := s.CreateToken(t.Context(), tok)
				checkCode(t, fmt.Sprintf("CreateToken(%q)", tok.Name), err, tt.code)

				got, err := s.Token(t.Context(), first.ID)
				if err != nil {
					t.Fatalf("Token(%q) = %v", first.ID, err)
				}
				if diff := cmp.Diff(first, got); diff != "" {
					t.Errorf("a failed CreateToken changed Token(%q) (-want +got):\n%s", first.ID, diff)
				}
				if tok.ID != first.ID {
					_, err := s.Token(t.Context(), tok.ID)
					checkCode(t, fmt.Sprintf("Token(%q) after a failed CreateToken", tok.ID), err, latchkey.ENOTFOUND)
				}
			})
		}
	})

	t.Run("Whole", func(t *testing.T) { testCreateTokenWhole(t, open) })
}

// testCreateTokenWhole checks that a create stores its token, its audit
// record and the record's notification together, the record and the
// notification linked, or, whichever part fails, none of them: a child
// of a live token, as a token's bearer makes one through the API, with
// the record the service writes, which tells the owner.
func testCreateTokenWhole(t *testing.T, open func(t *testing.T) latchkey.Store) {
	ignoreIDs := cmpopts.IgnoreFields(latchkey.Notification{}, "ID", "MsgID")
	tests := []struct {
		name string
		// change makes the create fail (nil: it succeeds), given the
		// parent and the record.
		change func(t *testing.T, s latchkey.Store, parent *latchkey.Token, r *latchkey.AuditRecord)
		code   string
	}{
		{"Made", nil, ""},
		{"ParentRevoked", func(t *testing.T, s latchkey.Store, parent *latchkey.Token, _ *latchkey.AuditRecord) {
			if _, _, err := s.RevokeToken(t.Context(), parent.ID, at(time.Minute), latchkey.ReasonRevoked); err != nil {
				t.Fatal(err)
			}
		}, latchkey.EUNAUTHENTICATED},
		// The token and the record are written first: the notification,
		// of a user who does not exist, breaks its foreign key.
		{"NotificationRefused", func(_ *testing.T, _ latchkey.Store, _ *latchkey.Token, r *latchkey.AuditRecord) {
			r.SubjectUserID = ptr(*r.SubjectUserID + 1000)
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			u := createUser(t, s, newUser("alice"))
			parent := createToken(t, s, newToken(1, u.ID))
			child := childOf(2, u.ID, parent)
			r := notifyRecord(latchkey.AuditTokenCreated, latchkey.NoteTokenCreated, u.ID, child.ID, latchkey.ActorUser, ptr(u.ID))
			r.ActorTokenID = parent.ID // a token's bearer made it: the owner is told
			if tt.change != nil {
				tt.change(t, s, parent, r)
			}
			err := s.CreateToken(t.Context(), child, r)
			records, rerr := s.AuditRecords(t.Context(), latchkey.AuditFilter{Action: latchkey.AuditTokenCreated})
			if rerr != nil {
				t.Fatal(rerr)
			}
			notes := notificationsOf(newNotifications(t, s))
			_, terr := s.Token(t.Context(), child.ID)

			if tt.change != nil {
				if err == nil {
					t.Fatal("CreateToken() = nil, want an error")
				}
				if tt.code != "" {
					checkCode(t, "CreateToken()", err, tt.code)
				}
				checkCode(t, "Token(the child) after a failed CreateToken", terr, latchkey.ENOTFOUND)
				if len(records) != 0 || len(notes) != 0 {
					t.Errorf("after a failed CreateToken, %d audit records and %d notifications, want none", len(records), len(notes))
				}
				return
			}
			if err != nil || terr != nil {
				t.Fatalf("CreateToken() = %v, then Token() = %v", err, terr)
			}
			if len(records) != 1 || r.ID == 0 || records[0].ID != r.ID || records[0].SubjectID != child.ID {
				t.Fatalf("AuditRecords() = %+v, record given ID %d; want the one record of the child, its ID set", records, r.ID)
			}
			want := []*latchkey.Notification{{Type: latchkey.NoteTokenCreated, At: at(time.Hour), UserID: u.ID, TokenID: child.ID,
				Actor: latchkey.ActorUser, ActorUserID: ptr(u.ID), ActorTokenID: parent.ID, AuditID: r.ID, Detail: "why"}}
			if diff := cmp.Diff(want, notes, ignoreIDs); diff != "" {
				t.Errorf("NewNotifications() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func testToken(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		createToken(t, s, newToken(1, u.ID))
		for _, id := range []string{tokenID(2), "", "nope", tokenID(1)[:79]} {
			_, err := s.Token(t.Context(), id)
			checkCode(t, fmt.Sprintf("Token(%q)", id), err, latchkey.ENOTFOUND)
		}
	})
}

func testTokens(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("Filter", func(t *testing.T) { testTokensFilter(t, open) })
	t.Run("Order", func(t *testing.T) { testTokensOrder(t, open) })
	t.Run("Page", func(t *testing.T) { testTokensPage(t, open) })
	t.Run("Fields", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		a := newToken(1, u.ID)
		a.Scopes = latchkey.Scopes{latchkey.ScopeTokensRead}
		a.LastUsedAt = ptr(at(time.Minute))
		b := newToken(2, u.ID)
		b.ClientID = app.ID
		b.CreatedAt = at(time.Second)
		b.ExpiresAt = nil
		createToken(t, s, a)
		createToken(t, s, b)

		got, total, err := s.Tokens(t.Context(), latchkey.TokenFilter{UserID: u.ID})
		if err != nil {
			t.Fatalf("Tokens() = %v", err)
		}
		want := []*latchkey.Token{withClient(t, s, b), withClient(t, s, a)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Tokens() mismatch (-want +got):\n%s", diff)
		}
		if total != 2 {
			t.Errorf("Tokens() total = %d, want 2", total)
		}
	})
}

func testTokensFilter(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	owner := createUser(t, s, newUser("owner"))
	other := createUser(t, s, newUser("other"))
	nobody := createUser(t, s, newUser("nobody"))
	app := createClient(t, s, newClient("App"))
	fixtures := []struct {
		n       int
		user    int64
		client  int64
		name    string
		revoked bool
	}{
		{1, owner.ID, latchkey.PersonalAccessClientID, "École du soir", false},
		{2, owner.ID, latchkey.PersonalAccessClientID, "100% done", false},
		{3, owner.ID, latchkey.PersonalAccessClientID, "a_b", false},
		{4, owner.ID, latchkey.PersonalAccessClientID, `back\slash`, false},
		{5, owner.ID, latchkey.PersonalAccessClientID, "Deploy KEY", false},
		{6, owner.ID, latchkey.PersonalAccessClientID, "revoked one", true},
		{7, owner.ID, app.ID, "oauth app", false},
		{8, other.ID, latchkey.PersonalAccessClientID, "École other", false},
		{9, owner.ID, app.ID, "revoked oauth", true},
	}
	for _, f := range fixtures {
		tok := newToken(f.n, f.user)
		tok.ClientID, tok.Name, tok.Revoked = f.client, f.name, f.revoked
		tok.CreatedAt = at(time.Duration(f.n) * time.Minute)
		createToken(t, s, tok)
	}

	tests := []struct {
		name   string
		filter latchkey.TokenFilter
		want   []int // token numbers, newest first
	}{
		{"User", latchkey.TokenFilter{UserID: owner.ID}, []int{7, 5, 4, 3, 2, 1}},
		{"OtherUser", latchkey.TokenFilter{UserID: other.ID}, []int{8}},
		{"UserWithoutTokens", latchkey.TokenFilter{UserID: nobody.ID}, []int{}},
		{"UnknownUser", latchkey.TokenFilter{UserID: nobody.ID + 1000}, []int{}},
		{"PersonalOnly", latchkey.TokenFilter{UserID: owner.ID, PersonalOnly: true}, []int{5, 4, 3, 2, 1}},
		{"IncludeRevoked", latchkey.TokenFilter{UserID: owner.ID, IncludeRevoked: true}, []int{9, 7, 6, 5, 4, 3, 2, 1}},
		{"PersonalOnlyIncludeRevoked", latchkey.TokenFilter{UserID: owner.ID, PersonalOnly: true, IncludeRevoked: true}, []int{6, 5, 4, 3, 2, 1}},
		{"NameEmpty", latchkey.TokenFilter{UserID: owner.ID, Name: ""}, []int{7, 5, 4, 3, 2, 1}},
		{"NameExact", latchkey.TokenFilter{UserID: owner.ID, Name: "a_b"}, []int{3}},
		{"NameSubstring", latchkey.TokenFilter{UserID: owner.ID, Name: "o"}, []int{7, 5, 2, 1}},
		{"NameUpperMatchesMixed", latchkey.TokenFilter{UserID: owner.ID, Name: "DEPLOY key"}, []int{5}},
		{"NameLowerMatchesUpper", latchkey.TokenFilter{UserID: owner.ID, Name: "key"}, []int{5}},
		{"NameUnicodeFolds", latchkey.TokenFilter{UserID: owner.ID, Name: "ÉCOLE"}, []int{1}},
		{"NameUnicodeLower", latchkey.TokenFilter{UserID: owner.ID, Name: "école du"}, []int{1}},
		{"NamePercentLiteral", latchkey.TokenFilter{UserID: owner.ID, Name: "%"}, []int{2}},
		{"NamePercentInside", latchkey.TokenFilter{UserID: owner.ID, Name: "0% d"}, []int{2}},
		{"NamePercentNotWildcard", latchkey.TokenFilter{UserID: owner.ID, Name: "a%b"}, []int{}},
		{"NameUnderscoreLiteral", latchkey.TokenFilter{UserID: owner.ID, Name: "_"}, []int{3}},
		{"NameUnderscoreNotWildcard", latchkey.TokenFilter{UserID: owner.ID, Name: "d_ne"}, []int{}},
		{"NameBackslashLiteral", latchkey.TokenFilter{UserID: owner.ID, Name: `\`}, []int{4}},
		{"NameBackslashNotEscape", latchkey.TokenFilter{UserID: owner.ID, Name: `k\s`}, []int{4}},
		{"NameBackslashPercent", latchkey.TokenFilter{UserID: owner.ID, Name: `\%`}, []int{}},
		{"NameNoMatch", latchkey.TokenFilter{UserID: owner.ID, Name: "zzz"}, []int{}},
		{"NameOtherUsers", latchkey.TokenFilter{UserID: owner.ID, Name: "other"}, []int{}},
		{"NameRevokedHidden", latchkey.TokenFilter{UserID: owner.ID, Name: "revoked"}, []int{}},
		{"NameRevokedIncluded", latchkey.TokenFilter{UserID: owner.ID, Name: "REVOKED", IncludeRevoked: true}, []int{9, 6}},
		{"NamePersonalOnly", latchkey.TokenFilter{UserID: owner.ID, Name: "o", PersonalOnly: true}, []int{5, 2, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, err := s.Tokens(t.Context(), tt.filter)
			if err != nil {
				t.Fatalf("Tokens(%+v) = %v", tt.filter, err)
			}
			if diff := cmp.Diff(tt.want, tokenNumbers(got)); diff != "" {
				t.Errorf("Tokens(%+v) tokens mismatch (-want +got):\n%s", tt.filter, diff)
			}
			if total != len(tt.want) {
				t.Errorf("Tokens(%+v) total = %d, want %d", tt.filter, total, len(tt.want))
			}
			for _, tok := range got {
				if tok.Client == nil || tok.Client.ID != tok.ClientID {
					t.Errorf("Tokens(%+v): token %q has Client %+v, want client %d", tt.filter, tok.ID, tok.Client, tok.ClientID)
				}
			}
		})
	}
}

func testTokensOrder(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	u := createUser(t, s, newUser("alice"))
	fixtures := map[int]struct {
		name     string
		created  time.Duration
		expires  *time.Time
		lastUsed *time.Time
	}{
		1: {"bravo", 0, ptr(at(2 * time.Hour)), nil},
		2: {"Alpha", time.Minute, nil, ptr(at(5 * time.Minute))},
		3: {"charlie", time.Minute, ptr(at(time.Hour)), ptr(at(5 * time.Minute))},
		4: {"alpha", 2 * time.Minute, ptr(at(time.Hour)), nil},
		5: {"Delta", 3 * time.Minute, nil, ptr(at(time.Minute))},
	}
	// Out of order, so that neither insertion order nor id order can pass
	// for the order asked.
	for _, n := range []int{3, 1, 5, 2, 4} {
		f := fixtures[n]
		tok := newToken(n, u.ID)
		tok.Name, tok.CreatedAt, tok.ExpiresAt, tok.LastUsedAt = f.name, at(f.created), f.expires, f.lastUsed
		tok.UpdatedAt = tok.CreatedAt
		createToken(t, s, tok)
	}

	tests := []struct {
		order     latchkey.TokenOrder
		ascending bool
		want      []int
	}{
		{"", false, []int{5, 4, 3, 2, 1}},
		{"", true, []int{1, 3, 2, 4, 5}},
		{latchkey.OrderCreatedAt, false, []int{5, 4, 3, 2, 1}},
		{latchkey.OrderCreatedAt, true, []int{1, 3, 2, 4, 5}},
		{latchkey.OrderName, false, []int{5, 3, 1, 4, 2}},
		{latchkey.OrderName, true, []int{4, 2, 1, 3, 5}},
		{latchkey.OrderExpiresAt, false, []int{1, 4, 3, 5, 2}},
		{latchkey.OrderExpiresAt, true, []int{4, 3, 1, 5, 2}},
		{latchkey.OrderLastUsedAt, false, []int{3, 2, 5, 4, 1}},
		{latchkey.OrderLastUsedAt, true, []int{5, 3, 2, 4, 1}},
	}
	for _, tt := range tests {
		dir := "Desc"
		if tt.ascending {
			dir = "Asc"
		}
		name := string(tt.order)
		if name == "" {
			name = "default"
		}
		t.Run(name+"/"+dir, func(t *testing.T) {
			f := latchkey.TokenFilter{UserID: u.ID, OrderBy: tt.order, Ascending: tt.ascending}
			got, total, err := s.Tokens(t.Context(), f)
			if err != nil {
				t.Fatalf("Tokens(%+v) = %v", f, err)
			}
			if diff := cmp.Diff(tt.want, tokenNumbers(got)); diff != "" {
				t.Errorf("Tokens(%+v) order mismatch (-want +got):\n%s", f, diff)
			}
			if total != len(tt.want) {
				t.Errorf("Tokens(%+v) total = %d, want %d", f, total, len(tt.want))
			}
		})
	}
}

func testTokensPage(t *testing.T, open func(t *testing.T) latchkey.Store) {
	s := open(t)
	u := createUser(t, s, newUser("alice"))
	app := createClient(t, s, newClient("App"))
	const n = 8
	for i := 1; i <= n; i++ {
		tok := newToken(i, u.ID)
		// Many ties, which only the id can break.
		tok.CreatedAt = at(time.Duration(i/3) * time.Minute)
		tok.Name = []string{"b", "A", "a", "B"}[i%4]
		if i%3 == 0 {
			tok.ExpiresAt = nil
		}
		if i%2 == 0 {
			tok.LastUsedAt = ptr(at(time.Duration(i%3) * time.Minute))
		}
		if i == n {
			tok.ClientID = app.ID
		}
		createToken(t, s, tok)
	}

	for _, order := range latchkey.TokenOrders {
		for _, ascending := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/Ascending=%t", order, ascending), func(t *testing.T) {
				f := latchkey.TokenFilter{UserID: u.ID, OrderBy: order, Ascending: ascending}
				all, total, err := s.Tokens(t.Context(), f)
				if err != nil {
					t.Fatalf("Tokens(%+v) = %v", f, err)
				}
				if len(all) != n || total != n {
					t.Fatalf("Tokens(%+v) = %d tokens, total %d, want %d and %d", f, len(all), total, n, n)
				}
				var paged []int
				for offset := 0; offset <= n+3; offset += 3 {
					f.Offset, f.Limit = offset, 3
					page, total, err := s.Tokens(t.Context(), f)
					if err != nil {
						t.Fatalf("Tokens(%+v) = %v", f, err)
					}
					if total != n {
						t.Errorf("Tokens(%+v) total = %d, want %d", f, total, n)
					}
					if want := min(3, max(0, n-offset)); len(page) != want {
						t.Errorf("Tokens(%+v) = %d tokens, want %d", f, len(page), want)
					}
					paged = append(paged, tokenNumbers(page)...)
				}
				if diff := cmp.Diff(tokenNumbers(all), paged); diff != "" {
					t.Errorf("pages of Tokens(%+v) differ from the whole list (-whole +pages):\n%s", f, diff)
				}
			})
		}
	}

	t.Run("TotalOfFilter", func(t *testing.T) {
		f := latchkey.TokenFilter{UserID: u.ID, PersonalOnly: true, Name: "B", Offset: 1, Limit: 2}
		page, total, err := s.Tokens(t.Context(), f)
		if err != nil {
			t.Fatalf("Tokens(%+v) = %v", f, err)
		}
		// Tokens 3, 4, 7 and 8 are named "B" or "b"; token 8 is not personal.
		if total != 3 || len(page) != 2 {
			t.Errorf("Tokens(%+v) = %d tokens, total %d, want 2 and 3", f, len(page), total)
		}
	})
}

func testRevokeToken(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("Revokes", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		tok := createToken(t, s, newToken(1, u.ID))
		other := withClient(t, s, createToken(t, s, newToken(2, u.ID)))

		when := at(time.Hour)
		got, _, err := s.RevokeToken(t.Context(), tok.ID, when, latchkey.ReasonRevoked)
		if err != nil {
			t.Fatalf("RevokeToken(%q) = %v", tok.ID, err)
		}
		want := withClient(t, s, tok)
		want.Revoked, want.UpdatedAt, want.RevokedReason, want.RevokedAt = true, when, latchkey.ReasonRevoked, &when
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("RevokeToken(%q) mismatch (-want +got):\n%s", tok.ID, diff)
		}
		stored, err := s.Token(t.Context(), tok.ID)
		if err != nil {
			t.Fatalf("Token(%q) = %v", tok.ID, err)
		}
		if diff := cmp.Diff(want, stored); diff != "" {
			t.Errorf("after RevokeToken, Token(%q) mismatch (-want +got):\n%s", tok.ID, diff)
		}
		stored, err = s.Token(t.Context(), other.ID)
		if err != nil {
			t.Fatalf("Token(%q) = %v", other.ID, err)
		}
		if diff := cmp.Diff(other, stored); diff != "" {
			t.Errorf("RevokeToken(%q) changed Token(%q) (-want +got):\n%s", tok.ID, other.ID, diff)
		}
	})

	t.Run("Again", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		tok := createToken(t, s, newToken(1, u.ID))
		first := at(time.Hour)
		if _, _, err := s.RevokeToken(t.Context(), tok.ID, first, latchkey.ReasonRevoked); err != nil {
			t.Fatalf("RevokeToken(%q) = %v", tok.ID, err)
		}
		got, _, err := s.RevokeToken(t.Context(), tok.ID, at(2*time.Hour), latchkey.ReasonRevoked)
		if err != nil {
			t.Fatalf("second RevokeToken(%q) = %v, want nil", tok.ID, err)
		}
		want := withClient(t, s, tok)
		want.Revoked, want.UpdatedAt, want.RevokedReason, want.RevokedAt = true, first, latchkey.ReasonRevoked, &first
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("second RevokeToken(%q) mismatch (-want +got):\n%s", tok.ID, diff)
		}
		stored, err := s.Token(t.Context(), tok.ID)
		if err != nil {
			t.Fatalf("Token(%q) = %v", tok.ID, err)
		}
		if !stored.UpdatedAt.Equal(first) {
			t.Errorf("after a second RevokeToken, Token(%q).UpdatedAt = %v, want the first %v", tok.ID, stored.UpdatedAt, first)
		}
	})

	t.Run("CreatedRevoked", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		tok := newToken(1, u.ID)
		tok.Revoked = true
		createToken(t, s, tok)
		got, _, err := s.RevokeToken(t.Context(), tok.ID, at(time.Hour), latchkey.ReasonRevoked)
		if err != nil {
			t.Fatalf("RevokeToken(%q) = %v", tok.ID, err)
		}
		if !got.Revoked || !got.UpdatedAt.Equal(tok.UpdatedAt) {
			t.Errorf("RevokeToken(%q) of a revoked token = revoked %t, updated %v, want revoked, updated %v",
				tok.ID, got.Revoked, got.UpdatedAt, tok.UpdatedAt)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		createToken(t, s, newToken(1, u.ID))
		_, _, err := s.RevokeToken(t.Context(), tokenID(2), at(time.Hour), latchkey.ReasonRevoked)
		checkCode(t, fmt.Sprintf("RevokeToken(%q)", tokenID(2)), err, latchkey.ENOTFOUND)
	})
}

func testCredential(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("Found", func(t *testing.T) {
		s := open(t)
		createUser(t, s, newUser("bob"))
		u := newUser("alice")
		u.Permissions = []string{latchkey.PermViewUsers}
		createUser(t, s, u)
		app := createClient(t, s, newClient("App"))
		createToken(t, s, newToken(1, u.ID))
		tok := newToken(2, u.ID)
		tok.ClientID = app.ID
		tok.Scopes = latchkey.Scopes{latchkey.ScopeTokensRead}
		tok.LastUsedAt = ptr(at(time.Minute))
		tok.Audience = "https://mcp.example.com/mcp"
		createToken(t, s, tok)

		got, err := s.Credential(t.Context(), tok.ID)
		if err != nil {
			t.Fatalf("Credential(%q) = %v", tok.ID, err)
		}
		wantToken, err := s.Token(t.Context(), tok.ID)
		if err != nil {
			t.Fatalf("Token(%q) = %v", tok.ID, err)
		}
		wantUser, err := s.User(t.Context(), u.ID)
		if err != nil {
			t.Fatalf("User(%d) = %v", u.ID, err)
		}
		want := &latchkey.Credential{Token: wantToken, User: wantUser, Client: wantToken.Client}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Credential(%q) mismatch (-want +got):\n%s", tok.ID, diff)
		}
		if diff := cmp.Diff(withClient(t, s, tok), got.Token); diff != "" {
			t.Errorf("Credential(%q).Token mismatch (-want +got):\n%s", tok.ID, diff)
		}
	})

	t.Run("Inactive", func(t *testing.T) {
		// Credential reads what authentication refuses: a revoked token of
		// a revoked client, whose user is deleted.
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		app := createClient(t, s, newClient("App"))
		tok := newToken(1, u.ID)
		tok.ClientID = app.ID
		tok.ExpiresAt = ptr(at(-time.Hour))
		createToken(t, s, tok)
		if _, err := s.RevokeClient(t.Context(), app.ID, at(time.Hour)); err != nil {
			t.Fatalf("RevokeClient(%d) = %v", app.ID, err)
		}
		if err := s.DeleteUser(t.Context(), u.ID, at(2*time.Hour)); err != nil {
			t.Fatalf("DeleteUser(%d) = %v", u.ID, err)
		}

		got, err := s.Credential(t.Context(), tok.ID)
		if err != nil {
			t.Fatalf("Credential(%q) = %v", tok.ID, err)
		}
		if !got.Token.Revoked || !got.Client.Revoked || !got.User.Deleted() || got.User.ID != u.ID || got.Client.ID != app.ID {
			t.Errorf("Credential(%q) = token revoked %t, client %d revoked %t, user %d deleted %t; want token revoked, client %d revoked, user %d deleted",
				tok.ID, got.Token.Revoked, got.Client.ID, got.Client.Revoked, got.User.ID, got.User.Deleted(), app.ID, u.ID)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		createToken(t, s, newToken(1, u.ID))
		for _, id := range []string{tokenID(2), ""} {
			_, err := s.Credential(t.Context(), id)
			checkCode(t, fmt.Sprintf("Credential(%q)", id), err, latchkey.ENOTFOUND)
		}
	})
}

func testTouchTokens(t *testing.T, open func(t *testing.T) latchkey.Store) {
	t.Run("LaterOnly", func(t *testing.T) {
		s := open(t)
		u := createUser(t, s, newUser("alice"))
		never := createToken(t, s, newToken(1, u.ID))
		earlier := newToken(2, u.ID)
		earlier.LastUsedAt = ptr(at(10 * time.Minute))
		createToken(t, s, earlier)
		later := newToken(3, u.ID)
		later.LastUsedAt = ptr(at(10 * time.Minute))
		createToken(t, s, later)
		same := newToken(4, u.ID)
		same.LastUsedAt = ptr(at(10 * time.Minute))
		createToken(t, s, same)
		untouched := newToken(5, u.ID)
		untouched.LastUsedAt = ptr(at(time.Minute))
		createToken(t, s, untouched)

		uses := map[string]time.Time{
			never.ID:    at(5 * time.Minute),
			earlier.ID:  at(20 * time.Minute),
			later.ID:    at(5 * time.Minute),
			same.ID:     at(10 * time.Minute),
			tokenID(99): at(time.Minute),
		}
		if err := s.TouchTokens(t.Context(), usesAt(uses)); err != nil {
			t.Fatalf("TouchTokens() = %v", err)
		}
		want := map[string]time.Time{
			never.ID:     at(5 * time.Minute),
			earlier.ID:   at(20 * time.Minute),
			later.ID:     at(10 * time.Minute),
			same.ID:      at(10 * time.Minute),
			untouched.ID: at(time.Minute),
		}
		for id, w := range want {
			got, err := s.Token(t.Context(), id)
			if err != nil {
				t.Fatalf("Token(%q) = %v", id, err)
			}
			if got.LastUsedAt == nil || !got.LastUsedAt.Equal(w) {
				t.Errorf("after TouchTokens, Token(%q).LastUsedAt = %v, want %v", id, got.LastUsedAt, w)
			}
		}
		if _, err := s.Token(t.Context(), tokenID(99)); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Errorf("TouchTokens of an unknown id made Token(%q) = %v, want ENOTFOUND", tokenID(99), err)
		}
	})

	t.Run("OnlyUnknown", func(t *testing.T) {
		s := open(t)
		if err := s.TouchTokens(t.Context(), usesAt(map[string]time.Time{tokenID(1): at(0), "nope": at(0)})); err != nil {
			t.Errorf("TouchTokens(unknown ids) = %v, want nil", err)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		s := open(t)
		for _, uses := range []map[string]time.Time{nil, {}} {
			if err := s.TouchTokens(t.Context(), usesAt(uses)); err != nil {
				t.Errorf("TouchTokens(%v) = %v, want nil", uses, err)
			}
		}
	})
}
