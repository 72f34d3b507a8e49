package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
)

// TestRotateEndToEnd: the Go client rotates its own token against a
// running server, with a grace period; then the command line rotates the
// successor, and the running server refuses it the moment the command
// returns.
func TestRotateEndToEnd(t *testing.T) {
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(t.TempDir(), "rotate.db")})
	mustCLI(t, env, "migrate")
	mustCLI(t, env, "user", "create", "--username", "u", "--email", "u@example.com")
	jwt := strings.TrimSpace(mustCLI(t, env, "token", "create", "--user", "u", "--name", "deploy"))
	base, _, _ := serve(t, env)
	ctx := t.Context()
	newClient := func(jwt string) *client.Client {
		c, err := client.New(base, client.WithBearerToken(jwt))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	old := newClient(jwt)
	succ, err := old.RotateSelf(ctx, client.RotateTokenRequest{Grace: time.Hour})
	if err != nil {
		t.Fatalf("RotateSelf() = %v", err)
	}
	if succ.Token.Name != "deploy" {
		t.Errorf("successor named %q", succ.Token.Name)
	}
	self, err := old.Self(ctx)
	if err != nil || self.RotatedTo != succ.Token.ID {
		t.Fatalf("the old token during its grace: Self() = %+v, %v; want it working, rotated to the successor", self, err)
	}
	next := newClient(succ.AccessToken)
	if _, err := next.Self(ctx); err != nil {
		t.Fatalf("the successor: Self() = %v", err)
	}

	out, errOut, err := cliErr(t, env, "token", "rotate", succ.Token.ID)
	if err != nil || !strings.Contains(errOut, "rotated to") {
		t.Fatalf("token rotate: %v, %q", err, errOut)
	}
	if _, err := next.Self(ctx); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("the successor after the command line rotated it: Self() = %v, want EUNAUTHENTICATED", err)
	}
	third, err := newClient(strings.TrimSpace(out)).Self(ctx)
	if err != nil || third.RotatedFrom != succ.Token.ID {
		t.Errorf("the token the command printed: Self() = %+v, %v", third, err)
	}
	if _, _, err := cliErr(t, env, "token", "rotate", "--grace", "8d", succ.Token.ID); err == nil || !strings.Contains(err.Error(), "--grace") {
		t.Errorf("token rotate --grace 8d: %v; want a usage error naming --grace", err)
	}
}
