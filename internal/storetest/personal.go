package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// TokensPersonalClients checks the personal filter of Tokens as the
// personal access clients change: another one, none, one again. A store
// may compare with the personal client's id when there is only one, and
// must notice when that changes. The contracts have no way to change a
// client's personal flag, so each backend passes setPersonal, which does
// it in its own database.
func TokensPersonalClients(t *testing.T, s latchkey.Store, setPersonal func(personal bool, ids ...int64)) {
	ctx := t.Context()
	base := time.Date(2026, 3, 1, 17, 45, 10, 123456000, time.UTC)
	u := &latchkey.User{Username: "alice", Email: "alice@example.com", Status: latchkey.StatusActive, CreatedAt: base, UpdatedAt: base}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	client := func(name string, personal bool) int64 {
		t.Helper()
		c := &latchkey.Client{Name: name, Redirect: "http://localhost", PersonalAccessClient: personal, CreatedAt: base, UpdatedAt: base}
		if err := s.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	n := 0
	token := func(client int64) {
		t.Helper()
		n++
		tok := &latchkey.Token{ID: fmt.Sprintf("%080x", n), UserID: u.ID, ClientID: client, Name: fmt.Sprintf("token %d", n),
			Scopes: latchkey.Scopes{}, CreatedAt: base.Add(time.Duration(n) * time.Minute), UpdatedAt: base, KeyID: "kid"}
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	// check lists the personal tokens, whole and by pages of one, and
	// wants the tokens of clients want, by client id, newest first.
	check := func(step string, want ...int64) {
		t.Helper()
		f := latchkey.TokenFilter{UserID: u.ID, PersonalOnly: true}
		all, total, err := s.Tokens(ctx, f)
		if err != nil {
			t.Fatalf("%s: Tokens(%+v) = %v", step, f, err)
		}
		var got []int64
		for _, tok := range all {
			got = append(got, tok.ClientID)
			if tok.Client == nil || tok.Client.ID != tok.ClientID {
				t.Errorf("%s: token %s has client %+v, want client %d", step, tok.ID, tok.Client, tok.ClientID)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || total != len(want) {
			t.Errorf("%s: Tokens(%+v) = clients %v, total %d; want %v, total %d", step, f, got, total, want, len(want))
		}
		for i := range len(want) + 1 {
			f.Offset, f.Limit = i, 1
			page, total, err := s.Tokens(ctx, f)
			if err != nil {
				t.Fatalf("%s: Tokens(%+v) = %v", step, f, err)
			}
			if total != len(want) || len(page) != min(1, len(want)-i) || len(page) == 1 && (i >= len(all) || page[0].ID != all[i].ID) {
				t.Errorf("%s: Tokens(%+v) = %d tokens, total %d; want token %d of %d", step, f, len(page), total, i, len(want))
			}
		}
	}

	const first = latchkey.PersonalAccessClientID
	app := client("App", false)
	token(first)
	token(app)
	token(first)
	check("one personal client", first, first)

	other := client("Other personal", true)
	token(other)
	check("another personal client", other, first, first)

	setPersonal(false, first, other)
	check("no personal client")

	setPersonal(true, app)
	check("another single personal client", app)

	setPersonal(true, first)
	setPersonal(false, app)
	check("the first personal client again", first, first)

	all, total, err := s.Tokens(ctx, latchkey.TokenFilter{UserID: u.ID})
	if err != nil || len(all) != 4 || total != 4 {
		t.Errorf("Tokens(all) = %d tokens, total %d, %v; want 4, 4", len(all), total, err)
	}
}
