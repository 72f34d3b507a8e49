package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/jwt"
	"github.com/latchkey/latchkey/internal/sqlite"
)

// The text users typed, as an attacker would type it: each one hides or
// forges a row, a column or a line's order on a terminal that shows it raw.
const (
	evilErase    = "evil\x1b[2K\rrow"            // erases its line, then writes over it
	evilNewline  = "x\n1  forged  row"           // a row of its own
	evilTab      = "curl/8\t203.0.113.66"        // a column of its own
	evilC1       = "a\u009b2Jb\u0085c"           // C1 CSI (clear screen) and NEL
	evilBidi     = "txt.\u202Eexe\u2066\u2069"   // reorders the line
	evilInvalid  = "bad\xff\xfeutf8\x7f"         // invalid UTF-8 and DEL
	evilTitle    = "app\x1b]0;pwned\x07"         // sets the terminal's title
	evilEscaped  = `"evil\x1b[2K\rrow"`          // how evilErase is shown
	evilTabShown = `"curl/8\t203.0.113.66"`      // how evilTab is shown
	evilBidiSeen = `"txt.\u202eexe\u2066\u2069"` // how evilBidi is shown
	evilC1Shown  = `"a\u009b2Jb\u0085c"`         // how evilC1 is shown
	evilBadShown = `"bad\xff\xfeutf8\x7f"`       // how evilInvalid is shown
	evilNLShown  = `"x\n1  forged  row"`         // how evilNewline is shown
	evilTitleSee = `"app\x1b]0;pwned\a"`         // how evilTitle is shown
	longAgent    = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
)

// evilDatabase is a database whose users, tokens, clients, keys and audit
// records hold every kind of text a terminal acts on, stored as the
// store would keep it whatever path it came by. It returns the
// environment of commands on it.
func evilDatabase(t *testing.T) func(string) string {
	t.Helper()
	const secret = "a secret of a fair length for tests"
	db := filepath.Join(t.TempDir(), "evil.db")
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": db, "LATCHKEY_SECRET": secret})

	ctx := t.Context()
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	u := &latchkey.User{Username: "mallory" + evilErase, Email: evilC1 + "@example.com", FirstName: evilBidi, LastName: evilInvalid,
		Status: latchkey.StatusActive, Permissions: []string{}, CreatedAt: now, UpdatedAt: now}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{evilErase, evilNewline, evilBidi, evilInvalid} {
		tok := &latchkey.Token{ID: strings.Repeat(string(rune('a'+i)), latchkey.TokenIDLength), UserID: u.ID,
			ClientID: latchkey.PersonalAccessClientID, Name: name, Scopes: latchkey.Scopes{"tokens.read"},
			CreatedAt: now, UpdatedAt: now}
		if err := st.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CreateClient(ctx, &latchkey.Client{Name: evilTitle + "\u202e\u0085", Redirect: "https://app.example/cb," + evilNewline,
		SecretHash: "x", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	// A key that was never ours, retired by a real one.
	if err := st.AddSigningKey(ctx, &latchkey.SigningKey{ID: evilErase, Algorithm: evilTab, PublicKey: []byte("x"),
		SealedPrivateKey: []byte("x"), CreatedAt: now.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := jwt.NewSealer([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwt.NewSigningKey(priv, sealer, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddSigningKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	for i, r := range []latchkey.AuditRecord{
		{Action: latchkey.AuditAuthRefused, SubjectUserID: &u.ID, SubjectID: strings.Repeat("a", latchkey.TokenIDLength),
			Origin: latchkey.Origin{Address: "203.0.113.9", UserAgent: evilTab}, Detail: evilErase},
		{Action: latchkey.AuditSignInRefused, Actor: latchkey.ActorAnonymous, Origin: latchkey.Origin{Address: evilNewline, UserAgent: evilC1}, Detail: evilBidi},
		{Action: latchkey.AuditUserUpdated, SubjectUserID: &u.ID, SubjectID: evilInvalid, Detail: evilTitle},
	} {
		r.At = now.Add(time.Duration(i) * time.Second)
		if err := st.RecordAudit(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	return env
}

// checkTerminalSafe fails t if out holds anything a terminal would act
// on, or a line more or less than want.
func checkTerminalSafe(t *testing.T, cmd, out string, lines int) {
	t.Helper()
	if r, ok := terminalSafe(strings.ReplaceAll(out, "\n", "")); !ok {
		t.Errorf("latchkey %s writes %U to the terminal:\n%s", cmd, r, out)
	}
	if got := strings.Count(out, "\n") + 1; got != lines {
		t.Errorf("latchkey %s printed %d lines, want %d:\n%s", cmd, got, lines, out)
	}
	for i, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "\t") {
			t.Errorf("latchkey %s line %d holds a tab: %q", cmd, i+1, line)
		}
	}
}

func TestTablesEscapeWhatUsersTyped(t *testing.T) {
	env := evilDatabase(t)
	for _, tc := range []struct {
		args  []string
		lines int // the header and the rows
		want  []string
	}{
		{[]string{"token", "list", "--user", "1"}, 5, []string{evilEscaped, evilNLShown, evilBidiSeen, evilBadShown}},
		{[]string{"user", "list"}, 2, []string{`"mallory` + evilEscaped[1:], evilC1Shown[:len(evilC1Shown)-1] + `@example.com"`,
			`"txt.\u202eexe\u2066\u2069 bad\xff\xfeutf8\x7f"`}},
		{[]string{"client", "list"}, 3, []string{`"app\x1b]0;pwned\a\u202e\u0085"`, "https://app.example/cb " + evilNLShown}},
		{[]string{"keys", "list"}, 3, []string{evilEscaped, evilTabShown}},
		{[]string{"audit"}, 4, []string{evilEscaped, `"x\n1  forged …`, `"bad\xff…`, `"app\x1b]0;pwned\a"`}},
		{[]string{"audit", "--wide"}, 4, []string{evilTabShown, evilEscaped, evilNLShown, evilC1Shown, evilBidiSeen, evilBadShown, evilTitleSee}},
	} {
		cmd := strings.Join(tc.args, " ")
		t.Run(cmd, func(t *testing.T) {
			out := mustCLI(t, env, tc.args...)
			checkTerminalSafe(t, cmd, out, tc.lines)
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("latchkey %s lacks %s:\n%s", cmd, want, out)
				}
			}
		})
	}
	// The JSON forms are as safe, and give back every byte.
	for _, tc := range []struct {
		args  []string
		field string
		want  []string
	}{
		{[]string{"audit", "--json"}, "user_agent", []string{"", strings.ToValidUTF8(evilC1, "\uFFFD"), evilTab}},
		{[]string{"audit", "--json"}, "detail", []string{evilTitle, evilBidi, evilErase}},
		{[]string{"client", "list", "--json"}, "name", []string{"Latchkey Personal Access Client", evilTitle + "\u202e\u0085"}},
	} {
		cmd := strings.Join(tc.args, " ")
		t.Run(cmd+" "+tc.field, func(t *testing.T) {
			out := mustCLI(t, env, tc.args...)
			checkTerminalSafe(t, cmd, out, len(tc.want))
			var got []string
			for line := range strings.SplitSeq(out, "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("latchkey %s line %q: %v", cmd, line, err)
				}
				s, _ := m[tc.field].(string)
				got = append(got, s)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("latchkey %s: %s = %q, want %q", cmd, tc.field, got, tc.want)
			}
		})
	}
}

func TestAuditFitsATerminal(t *testing.T) {
	db := filepath.Join(t.TempDir(), "a.db")
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": db, "LATCHKEY_SECRET": "a secret of a fair length for tests"})
	mustCLI(t, env, "migrate") // user 1, admin, and its record
	mustCLI(t, env, "user", "create", "--username", "root", "--email", "root@example.com", "--admin")
	mustCLI(t, env, "user", "create", "--username", "alice", "--email", "alice@example.com")
	mustCLI(t, env, "token", "create", "--user", "alice", "--name", "deploy", "--scopes", "tokens.read,tokens.write")
	mustCLI(t, env, "client", "create", "--name", "Dashboard of the operations team", "--redirect-uri", "https://dash.example.com/cb")
	mustCLI(t, env, "keys", "rotate")
	mustCLI(t, env, "user", "update", "--email", "alice@example.org", "--first-name", "Alice", "alice")

	// What the server writes: a user's token, used, revoked, refused.
	st, err := sqlite.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	alice, root := int64(3), int64(2)
	tokID := strings.Repeat("0123456789", 8)
	now := time.Now().UTC()
	for _, r := range []latchkey.AuditRecord{
		{Action: latchkey.AuditSignInOK, Actor: latchkey.ActorUser, ActorUserID: &alice, SubjectUserID: &alice, SubjectID: "3",
			Origin: latchkey.Origin{Address: "203.0.113.254", UserAgent: longAgent}},
		{Action: latchkey.AuditTokenCreated, Actor: latchkey.ActorUser, ActorUserID: &alice, ActorTokenID: tokID, SubjectUserID: &alice, SubjectID: tokID,
			Origin: latchkey.Origin{Address: "2001:db8:85a3::8a2e:370:7334", UserAgent: "curl/8.5.0"}, Detail: "scopes tokens.read tokens.write"},
		{Action: latchkey.AuditTokenRevoked, Actor: latchkey.ActorUser, ActorUserID: &root, SubjectUserID: &alice, SubjectID: tokID,
			Origin: latchkey.Origin{Address: "198.51.100.7", UserAgent: longAgent}},
		{Action: latchkey.AuditAuthRefused, Actor: latchkey.ActorAnonymous, SubjectUserID: &alice, SubjectID: tokID,
			Origin: latchkey.Origin{Address: "198.51.100.7", UserAgent: longAgent}, Detail: "revoked"},
		{Action: latchkey.AuditSignInRefused, Actor: latchkey.ActorAnonymous, Origin: latchkey.Origin{Address: "192.0.2.1", UserAgent: longAgent},
			Detail: "no such user, after a long search of every table there is"},
	} {
		r.At = now
		if err := st.RecordAudit(t.Context(), &r); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	out := mustCLI(t, env, "audit")
	lines := strings.Split(out, "\n")
	if len(lines) != 14 {
		t.Fatalf("audit printed %d lines, want a header and 13 records:\n%s", len(lines), out)
	}
	for i, line := range lines {
		if n := utf8.RuneCountInString(line); n > 100 {
			t.Errorf("audit line %d is %d columns wide, want at most 100: %q", i+1, n, line)
		}
	}
	for _, want := range []string{
		"AT  ", "ACTION", "ACTOR", "USER", "SUBJECT", "ADDRESS", "DETAIL",
		"01234567…",       // a token id, cut short
		"2001:db8:85a3:…", // a long address, cut short
		"no such user, a…",
		"client.registered", "operator", "user 2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("audit lacks %q:\n%s", want, out)
		}
	}
	if header := lines[0]; !strings.HasSuffix(strings.TrimSpace(header), "DETAIL") {
		t.Errorf("audit header %q, want the detail last", header)
	}
	if strings.Contains(out, "Mozilla") {
		t.Errorf("audit shows the user agent; want it in --wide only:\n%s", out)
	}

	wide := mustCLI(t, env, "audit", "--wide")
	for _, want := range []string{"USER AGENT", longAgent, "2001:db8:85a3::8a2e:370:7334", "(token " + tokID + ")",
		"no such user, after a long search of every table there is"} {
		if !strings.Contains(wide, want) {
			t.Errorf("audit --wide lacks %q:\n%s", want, wide)
		}
	}
	if _, err := cli(t, env, "", "audit", "--wide", "--json"); exitCode(err) != 2 {
		t.Errorf("audit --wide --json: %v, want a usage error", err)
	}
}

func TestTokenListAll(t *testing.T) {
	db := filepath.Join(t.TempDir(), "t.db")
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": db, "LATCHKEY_SECRET": "a secret of a fair length for tests"})
	mustCLI(t, env, "migrate") // user 1, admin
	mustCLI(t, env, "user", "create", "--username", "alice", "--email", "alice@example.com")
	mustCLI(t, env, "token", "create", "--user", "alice", "--name", "kept")
	mustCLI(t, env, "token", "create", "--user", "alice", "--name", "gone")
	st, err := sqlite.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	then := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	err = st.CreateToken(t.Context(), &latchkey.Token{ID: strings.Repeat("e", latchkey.TokenIDLength), UserID: 2,
		ClientID: latchkey.PersonalAccessClientID, Name: "old", Scopes: latchkey.Scopes{}, CreatedAt: then, UpdatedAt: then, ExpiresAt: &then})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	var gone string
	for line := range strings.SplitSeq(mustCLI(t, env, "token", "list", "--user", "alice"), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == "gone" {
			gone = f[0]
		}
	}
	if gone == "" {
		t.Fatal("token list lacks the token named gone")
	}
	mustCLI(t, env, "token", "revoke", gone)

	states := func(args ...string) map[string]string {
		t.Helper()
		m := map[string]string{}
		for i, line := range strings.Split(mustCLI(t, env, append([]string{"token", "list", "--user", "alice"}, args...)...), "\n") {
			f := strings.Fields(line)
			if i > 0 && len(f) > 2 {
				m[f[1]] = f[len(f)-1]
			}
		}
		return m
	}
	if got, want := states(), map[string]string{"kept": "active", "old": "expired"}; !maps.Equal(got, want) {
		t.Errorf("token list: states %v, want %v", got, want)
	}
	if got, want := states("--all"), map[string]string{"kept": "active", "gone": "revoked", "old": "expired"}; !maps.Equal(got, want) {
		t.Errorf("token list --all: states %v, want %v", got, want)
	}
	if got, want := states("--all", "--filter", "go"), map[string]string{"gone": "revoked"}; !maps.Equal(got, want) {
		t.Errorf("token list --all --filter go: states %v, want %v", got, want)
	}
}
