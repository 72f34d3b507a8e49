package main

import (
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlite"
	"github.com/latchkey/latchkey/internal/wire"
)

// TestTokenListAllUsers: token list --all-users lists every user's
// tokens, revoked and OAuth ones included, by the API's filters, as a
// table, JSON or the API's CSV.
func TestTokenListAllUsers(t *testing.T) {
	db := filepath.Join(t.TempDir(), "t.db")
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": db, "LATCHKEY_SECRET": "a secret of a fair length for tests"})
	mustCLI(t, env, "migrate") // user 1, admin
	mustCLI(t, env, "user", "create", "--username", "alice", "--email", "alice@example.com")
	mustCLI(t, env, "user", "create", "--username", "bob", "--email", "bob@example.com")
	mustCLI(t, env, "token", "create", "--user", "alice", "--name", "=cmd()", "--scopes", "tokens.read")
	mustCLI(t, env, "token", "create", "--user", "bob", "--name", "bob's")
	mustCLI(t, env, "token", "create", "--user", "bob", "--name", "gone")
	mustCLI(t, env, "client", "create", "--name", "Report Builder", "--redirect-uri", "https://example.com/cb")
	st, err := sqlite.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	then := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	err = st.CreateToken(t.Context(), &latchkey.Token{ID: strings.Repeat("e", latchkey.TokenIDLength), UserID: 2,
		ClientID: 2, Name: "old app token", Scopes: latchkey.Scopes{"tokens.write"}, CreatedAt: then, UpdatedAt: then, ExpiresAt: &then})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	var gone string
	for line := range strings.SplitSeq(mustCLI(t, env, "token", "list", "--user", "bob"), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == "gone" {
			gone = f[0]
		}
	}
	mustCLI(t, env, "token", "revoke", gone)

	// CSV: the API's columns and guard.
	rows, err := csv.NewReader(strings.NewReader(mustCLI(t, env, "token", "list", "--all-users", "--format", "csv"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wire.CSVColumns(), rows[0]); diff != "" {
		t.Errorf("header mismatch (-want +got):\n%s", diff)
	}
	names := map[string]string{} // name: state
	for _, row := range rows[1:] {
		names[row[4]] = row[8]
	}
	want := map[string]string{"'=cmd()": "active", "bob's": "active", "gone": "revoked", "old app token": "expired"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("--format csv: names and states mismatch (-want +got):\n%s", diff)
	}

	// JSON: an array of the API's UserToken.
	var list []wire.UserToken
	out := mustCLI(t, env, "token", "list", "--all-users", "--format", "json", "--state", "active,expired", "--order-by", "name", "--order-direction", "asc")
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("--format json: %v\n%s", err, out)
	}
	var got []string
	for _, ut := range list {
		got = append(got, ut.Name)
	}
	if diff := cmp.Diff([]string{"=cmd()", "bob's", "old app token"}, got); diff != "" {
		t.Errorf("--format json --state active,expired by name mismatch (-want +got):\n%s", diff)
	}
	if out := mustCLI(t, env, "token", "list", "--all-users", "--format", "json", "--state", "revoked", "--user", "alice"); strings.TrimSpace(out) != "[]" {
		t.Errorf("--format json with nothing to list = %q, want []", out)
	}
	if _, err := cli(t, env, "", "token", "list", "--all-users", "--user", "nobody"); err == nil || !strings.Contains(err.Error(), `no user "nobody"`) {
		t.Errorf("--all-users --user nobody = %v, want no user", err)
	}

	// Table, filtered.
	table := func(args ...string) []string {
		t.Helper()
		var names []string
		for i, line := range strings.Split(strings.TrimSpace(mustCLI(t, env, append([]string{"token", "list", "--all-users"}, args...)...)), "\n") {
			if f := strings.Fields(line); i > 0 && len(f) > 2 {
				names = append(names, f[2])
			}
		}
		slices.Sort(names)
		return names
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"=cmd()", "bob's", "gone", "old"}},
		{[]string{"--user", "bob"}, []string{"bob's", "gone"}},
		{[]string{"--state", "revoked"}, []string{"gone"}},
		{[]string{"--client-id", "2"}, []string{"old"}},
		{[]string{"--scope", "tokens.write"}, []string{"bob's", "gone", "old"}},
		{[]string{"--filter", "CMD"}, []string{"=cmd()"}},
		{[]string{"--created-before", "2002-01-01"}, []string{"old"}},
		{[]string{"--never-used", "false"}, nil},
	} {
		if diff := cmp.Diff(tc.want, table(tc.args...)); diff != "" {
			t.Errorf("token list --all-users %v mismatch (-want +got):\n%s", tc.args, diff)
		}
	}

	// Refusals: usage errors that name the flags.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--all-users", "--state", "dormant"}, "--state: The State field must be one of active, revoked, expired."},
		{[]string{"--all-users", "--created-after", "yesterday", "--never-used", "maybe"}, "--created-after: The Created After field must be a valid date."},
		{[]string{"--all-users", "--format", "xml"}, `--format: want table, json or csv, got "xml"`},
		{[]string{"--all-users", "--all"}, "--all-users lists revoked tokens too"},
		{[]string{"--user", "bob", "--state", "active"}, "--state needs --all-users"},
		{[]string{"--user", "bob", "--format", "csv"}, "--format needs --all-users"},
	} {
		_, err := cli(t, env, "", append([]string{"token", "list"}, tc.args...)...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("token list %v = %v (exit %d), want a usage error saying %q", tc.args, err, exitCode(err), tc.want)
		}
	}
}
