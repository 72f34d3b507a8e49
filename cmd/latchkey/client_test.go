package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/service"
	"github.com/latchkey/latchkey/internal/sqlite"
)

// cliErr runs one command and returns its standard output and standard
// error apart.
func cliErr(t *testing.T, getenv func(string) string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), args, getenv, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestClientCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": db})
	mustCLI(t, env, "migrate")

	out, errOut, err := cliErr(t, env, "client", "create", "--name", "Dashboard",
		"--redirect-uri", "https://dash.example.com/callback", "--redirect-uri", "http://localhost:8080/cb")
	if err != nil {
		t.Fatalf("client create: %v\n%s", err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || lines[0] != "2" || len(lines[1]) != 43 {
		t.Fatalf("client create printed %q, want the id 2 and a 43-character secret, one a line", out)
	}
	secret := lines[1]
	if !strings.Contains(errOut, "will not be shown again") || strings.Contains(errOut, secret) {
		t.Errorf("client create's standard error = %q, want the warning and not the secret", errOut)
	}

	out, errOut, err = cliErr(t, env, "client", "create", "--name", "CLI tool", "--redirect-uri", "http://127.0.0.1/cb", "--public")
	if err != nil {
		t.Fatalf("client create --public: %v\n%s", err, errOut)
	}
	if strings.TrimSpace(out) != "3" {
		t.Errorf("client create --public printed %q, want only the id 3", out)
	}
	if !strings.Contains(errOut, "no secret") {
		t.Errorf("client create --public's standard error = %q, want it to say there is no secret", errOut)
	}

	// Stored hashed: the database holds the hash, never the secret.
	st, err := sqlite.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.Client(t.Context(), 2)
	pub, err2 := st.Client(t.Context(), 3)
	st.Close()
	if err != nil || err2 != nil {
		t.Fatal(err, err2)
	}
	if c.SecretHash != service.HashClientSecret(secret) || !service.CheckClientSecret(c.SecretHash, secret) {
		t.Errorf("client 2's SecretHash = %q, want the hash of the secret printed", c.SecretHash)
	}
	if pub.SecretHash != "" {
		t.Errorf("public client 3's SecretHash = %q, want none", pub.SecretHash)
	}

	list := mustCLI(t, env, "client", "list")
	for _, want := range []string{
		"ID", "REDIRECT URIS",
		"personal access",
		"Dashboard", "confidential", "https://dash.example.com/callback http://localhost:8080/cb",
		"CLI tool", "public", "http://127.0.0.1/cb",
	} {
		if !strings.Contains(list, want) {
			t.Errorf("client list lacks %q:\n%s", want, list)
		}
	}
	if strings.Contains(list, secret) || strings.Contains(list, c.SecretHash) || strings.Contains(list, "revoked") {
		t.Errorf("client list shows a secret, its hash, or a revocation:\n%s", list)
	}

	if _, errOut, err := cliErr(t, env, "client", "revoke", "2"); err != nil || !strings.Contains(errOut, "client 2 revoked") {
		t.Fatalf("client revoke 2: %v, %q", err, errOut)
	}

	type row struct {
		ID           int64    `json:"id"`
		Name         string   `json:"name"`
		Type         string   `json:"type"`
		Revoked      bool     `json:"revoked"`
		RedirectURIs []string `json:"redirect_uris"`
	}
	var got []row
	js := mustCLI(t, env, "client", "list", "--json")
	if strings.Contains(js, "secret") || strings.Contains(js, c.SecretHash) {
		t.Errorf("client list --json shows a secret or its hash:\n%s", js)
	}
	for line := range strings.SplitSeq(js, "\n") {
		var r row
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("client list --json line %q: %v", line, err)
		}
		got = append(got, r)
	}
	if len(got) != 3 || got[0].ID != latchkey.PersonalAccessClientID {
		t.Fatalf("client list --json = %+v, want the personal access client and the two registered", got)
	}
	want := []row{
		{ID: 2, Name: "Dashboard", Type: "confidential", Revoked: true, RedirectURIs: []string{"https://dash.example.com/callback", "http://localhost:8080/cb"}},
		{ID: 3, Name: "CLI tool", Type: "public", RedirectURIs: []string{"http://127.0.0.1/cb"}},
	}
	if diff := cmp.Diff(want, got[1:]); diff != "" {
		t.Errorf("client list --json (-want +got):\n%s", diff)
	}
	if got[0].Type != "personal access" || got[0].Revoked {
		t.Errorf("client list --json: the personal access client = %+v", got[0])
	}

	for _, tc := range []struct {
		id, want string
	}{
		{"1", "the personal access client cannot be revoked"},
		{"99", "no client 99"},
	} {
		_, _, err := cliErr(t, env, "client", "revoke", tc.id)
		if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("client revoke %s: %v (exit %d), want exit 1 saying %q", tc.id, err, exitCode(err), tc.want)
		}
	}
}

func TestClientBadCommandLines(t *testing.T) {
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(t.TempDir(), "b.db")})
	mustCLI(t, env, "migrate")
	for _, tc := range []struct {
		name string
		args []string
		want int // exit code
		msg  string
	}{
		{"no subcommand", []string{"client"}, 2, "want a subcommand"},
		{"unknown subcommand", []string{"client", "frob"}, 2, "unknown subcommand"},
		{"create without a name", []string{"client", "create", "--redirect-uri", "https://a.example.com/"}, 2, "--name and --redirect-uri are required"},
		{"create without a redirect URI", []string{"client", "create", "--name", "x"}, 2, "--name and --redirect-uri are required"},
		{"create with arguments", []string{"client", "create", "--name", "x", "--redirect-uri", "https://a.example.com/", "extra"}, 2, "unexpected arguments"},
		{"create with an unknown flag", []string{"client", "create", "--secret", "x"}, 2, "unknown flag --secret"},
		{"create with a bad redirect URI", []string{"client", "create", "--name", "x", "--redirect-uri", "http://a.example.com/"}, 1,
			`The redirect URI "http://a.example.com/" must use https`},
		{"create with an unknown default scope", []string{"client", "create", "--name", "x", "--redirect-uri", "https://a.example.com/", "--default-scopes", "tokens.read,admin"}, 2,
			`--default-scopes: "admin" is not a scope this server knows: tokens.read, tokens.write, *`},
		{"create with another server's extra scope as default", []string{"client", "create", "--name", "x", "--redirect-uri", "https://a.example.com/", "--extra-scopes", "billing.read", "--default-scopes", "billing.write"}, 2,
			`--default-scopes: "billing.write" is not a scope this server knows: tokens.read, tokens.write, *, billing.read`},
		{"create with a bad extra scope", []string{"client", "create", "--name", "x", "--redirect-uri", "https://a.example.com/", "--extra-scopes", "not ok"}, 2,
			`--extra-scopes: "not ok" is not a scope name`},
		{"list with arguments", []string{"client", "list", "all"}, 2, "unexpected arguments"},
		{"revoke without an id", []string{"client", "revoke"}, 2, "want exactly one CLIENT_ID"},
		{"revoke two ids", []string{"client", "revoke", "2", "3"}, 2, "want exactly one CLIENT_ID"},
		{"revoke a name", []string{"client", "revoke", "Dashboard"}, 2, "CLIENT_ID is a client's number"},
		{"revoke zero", []string{"client", "revoke", "0"}, 2, "CLIENT_ID is a client's number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := cliErr(t, env, tc.args...)
			if err == nil {
				t.Fatalf("latchkey %v succeeded, want exit %d", tc.args, tc.want)
			}
			if got := exitCode(err); got != tc.want || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("latchkey %v: exit %d (%v), want %d saying %q", tc.args, got, err, tc.want, tc.msg)
			}
		})
	}
}

// TestClientDefaultScopes: client create --default-scopes registers the
// scopes a request that names none is granted, extra scopes included when
// the command knows them as serve does, and client list shows them.
func TestClientDefaultScopes(t *testing.T) {
	db := filepath.Join(t.TempDir(), "d.db")
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": db, "LATCHKEY_EXTRA_SCOPES": "billing.read"})
	mustCLI(t, env, "migrate")
	mustCLI(t, env, "client", "create", "--name", "Agent", "--redirect-uri", "http://127.0.0.1/cb", "--public",
		"--default-scopes", "tokens.read, billing.read,tokens.read")
	mustCLI(t, env, "client", "create", "--name", "Plain", "--redirect-uri", "http://127.0.0.1/cb")

	st, err := sqlite.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	agent, err := st.Client(t.Context(), 2)
	plain, err2 := st.Client(t.Context(), 3)
	st.Close()
	if err != nil || err2 != nil {
		t.Fatal(err, err2)
	}
	if diff := cmp.Diff(latchkey.Scopes{"tokens.read", "billing.read"}, agent.DefaultScopes); diff != "" {
		t.Errorf("client 2's DefaultScopes (-want +got):\n%s", diff)
	}
	if plain.DefaultScopes != nil {
		t.Errorf("client 3's DefaultScopes = %q, want none", plain.DefaultScopes)
	}

	list := mustCLI(t, env, "client", "list")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "DEFAULT SCOPES") || !strings.Contains(lines[2], "tokens.read billing.read") ||
		strings.Contains(lines[3], "tokens.read") {
		t.Errorf("client list: want a DEFAULT SCOPES column naming client 2's, and none for client 3:\n%s", list)
	}
	var rows []struct {
		ID            int64    `json:"id"`
		DefaultScopes []string `json:"default_scopes"`
	}
	for line := range strings.SplitSeq(mustCLI(t, env, "client", "list", "--json"), "\n") {
		var r struct {
			ID            int64    `json:"id"`
			DefaultScopes []string `json:"default_scopes"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("client list --json line %q: %v", line, err)
		}
		rows = append(rows, r)
	}
	if len(rows) != 3 || !cmp.Equal(rows[1].DefaultScopes, []string{"tokens.read", "billing.read"}) || rows[2].DefaultScopes == nil || len(rows[2].DefaultScopes) != 0 {
		t.Errorf("client list --json default_scopes = %+v, want client 2's and [] for client 3", rows)
	}
}
