package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
	"github.com/latchkey/latchkey/internal/oauthtest"
	"github.com/latchkey/latchkey/internal/pgtest"
)

// replica is one "latchkey serve" process.
type replica struct {
	cmd  *exec.Cmd
	base string
	log  *syncBuffer
}

func startReplica(t *testing.T, bin string, env []string) *replica {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0")
	// These replicas carry load from one address and one user on purpose;
	// the rate limits have tests of their own.
	cmd.Env = append(slices.Clip(env), "LATCHKEY_LIMIT_FAILED_AUTH=off", "LATCHKEY_LIMIT_CREATE_USER=off", "LATCHKEY_LIMIT_CREATE_ADDR=off")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{cmd: cmd, log: &syncBuffer{}}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(r.log, line)
			if m := servingLine.FindStringSubmatch(line); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case r.base = <-found:
	case <-time.After(30 * time.Second):
		t.Fatalf("replica did not start:\n%s", r.log.String())
	}
	waitHealthy(t, r.base)
	return r
}

func (r *replica) client(t *testing.T, token string) *client.Client {
	t.Helper()
	c, err := client.New(r.base, client.WithBearerToken(token))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestReplicas runs three replicas on one PostgreSQL database.
func TestReplicas(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	bin := programBinary(t)
	env := append(os.Environ(), "LATCHKEY_DATABASE="+dsn, "LATCHKEY_SECRET=one secret shared by every replica", "LATCHKEY_LOG_LEVEL=warn")

	// All three start at once: one migrates and bootstraps, the others wait.
	replicas := make([]*replica, 3)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() { replicas[i] = startReplica(t, bin, env) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	cliEnv := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), bin, args...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("latchkey %s: %v", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out))
	}
	admin := cliEnv("token", "create", "--user", "admin", "--name", "replicas")

	t.Run("a token works on every replica", func(t *testing.T) {
		made, err := replicas[0].client(t, admin).CreateToken(t.Context(), 1, client.CreateTokenRequest{Name: "made on replica 0"})
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range replicas {
			if _, err := r.client(t, made.AccessToken).Tokens(t.Context(), 1, client.ListOptions{}); err != nil {
				t.Errorf("replica %d: %v", i, err)
			}
		}
	})

	t.Run("revocation reaches every replica", func(t *testing.T) {
		// Every replica is asked the instant the 204 arrives: the revoker
		// answered only once the others had acknowledged.
		const rounds = 100
		stale := 0
		for n := range rounds {
			made, err := replicas[n%3].client(t, admin).CreateToken(t.Context(), 1, client.CreateTokenRequest{Name: fmt.Sprintf("revoked %d", n)})
			if err != nil {
				t.Fatal(err)
			}
			// Every replica has the token in its cache before the revocation.
			for i, r := range replicas {
				if _, err := r.client(t, made.AccessToken).Tokens(t.Context(), 1, client.ListOptions{}); err != nil {
					t.Fatalf("warming replica %d: %v", i, err)
				}
			}
			revoker := replicas[(n+1)%3]
			if err := revoker.client(t, admin).DeleteToken(t.Context(), 1, made.Token.ID); err != nil {
				t.Fatal(err)
			}
			for i, r := range replicas {
				_, err := r.client(t, made.AccessToken).Tokens(t.Context(), 1, client.ListOptions{})
				if latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
					stale++
					t.Errorf("revocation %d: replica %d accepted the token after the 204 (err %v)", n, i, err)
				}
			}
		}
		t.Logf("%d revocations, each asked of all three replicas the instant the 204 arrived: %d stale answers", rounds, stale)
	})

	t.Run("the OAuth flow spans replicas", func(t *testing.T) {
		// Signed in and approved on one replica, the code exchanged on a
		// second, refreshed on a third: sessions, codes and refresh tokens
		// live in the database, and every replica hears of what a refresh
		// or a revocation ends.
		pwCmd := exec.CommandContext(t.Context(), bin, "user", "update", "--password-stdin", "admin")
		pwCmd.Env, pwCmd.Stdin = env, strings.NewReader("replica passphrase\n")
		if out, err := pwCmd.CombinedOutput(); err != nil {
			t.Fatalf("user update: %v\n%s", err, out)
		}
		lines := strings.Split(cliEnv("client", "create", "--name", "Across", "--redirect-uri", "http://127.0.0.1:9/callback"), "\n")
		conf := func(r *replica) *oauth2.Config {
			return &oauth2.Config{
				ClientID: lines[0], ClientSecret: lines[1], RedirectURL: "http://127.0.0.1:9/callback", Scopes: []string{"*"},
				Endpoint: oauth2.Endpoint{AuthURL: r.base + "/oauth/authorize", TokenURL: r.base + "/oauth/token"},
			}
		}
		verifier := oauth2.GenerateVerifier()
		code := oauthtest.NewBrowser(t, replicas[0].base).Authorize(conf(replicas[0]), "admin", "replica passphrase", oauth2.S256ChallengeOption(verifier))
		tok, err := conf(replicas[1]).Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange on replica 1 of a code from replica 0: %v", err)
		}
		works := func(r *replica, access string) bool {
			_, err := r.client(t, access).Tokens(t.Context(), 1, client.ListOptions{})
			if err != nil && latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
				t.Fatal(err)
			}
			return err == nil
		}
		for i, r := range replicas { // cached everywhere
			if !works(r, tok.AccessToken) {
				t.Fatalf("replica %d refuses the access token", i)
			}
		}
		until := func(what string, access string) {
			t.Helper()
			for i, r := range replicas {
				if works(r, access) {
					t.Errorf("%s: replica %d accepted the old access token after the answer", what, i)
				}
			}
		}
		tok2, err := conf(replicas[2]).TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatalf("refresh on replica 2: %v", err)
		}
		until("a refresh on replica 2", tok.AccessToken)
		for i, r := range replicas {
			if !works(r, tok2.AccessToken) {
				t.Fatalf("replica %d refuses the refreshed access token", i)
			}
		}
		req, _ := http.NewRequestWithContext(t.Context(), "POST", replicas[0].base+"/oauth/revoke", strings.NewReader("token="+tok2.AccessToken))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(lines[0], lines[1])
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("revoke on replica 0: %v %v", err, res)
		}
		res.Body.Close()
		until("/oauth/revoke on replica 0", tok2.AccessToken)
	})

	t.Run("a disabled user is refused by every replica", func(t *testing.T) {
		cliEnv("user", "create", "--username", "dora", "--email", "dora@example.com")
		tok := cliEnv("token", "create", "--user", "dora", "--name", "dora's")
		for i, r := range replicas { // cached on all three
			if _, err := r.client(t, tok).Tokens(t.Context(), 0, client.ListOptions{}); latchkey.ErrorCode(err) == latchkey.EUNAUTHENTICATED {
				t.Fatalf("replica %d refuses dora's new token", i)
			}
		}
		cliEnv("user", "disable", "dora")
		// Asked the instant the command returned.
		for i, r := range replicas {
			if _, err := r.client(t, tok).Tokens(t.Context(), 0, client.ListOptions{}); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
				t.Errorf("replica %d accepted a disabled user's token after the command returned (err %v)", i, err)
			}
		}
	})

	t.Run("a rotated key reaches every replica", func(t *testing.T) {
		kid := cliEnv("keys", "rotate")
		// Asked the instant the command returned.
		for i, r := range replicas {
			if !jwksHas(t, r.base, kid) {
				t.Fatalf("replica %d's JWKS does not list the rotated key %s after the command returned", i, kid)
			}
		}
		for i, r := range replicas {
			made, err := r.client(t, admin).CreateToken(t.Context(), 1, client.CreateTokenRequest{Name: fmt.Sprintf("after rotation %d", i)})
			if err != nil {
				t.Fatal(err)
			}
			if got := headerKID(t, made.AccessToken); got != kid {
				t.Errorf("replica %d signs with %s, want the rotated key %s", i, got, kid)
			}
			for j, other := range replicas {
				if _, err := other.client(t, made.AccessToken).Tokens(t.Context(), 1, client.ListOptions{}); err != nil {
					t.Errorf("token from replica %d on replica %d: %v", i, j, err)
				}
			}
		}
		// The admin's token, signed by the old key, still works everywhere.
		for i, r := range replicas {
			if _, err := r.client(t, admin).Tokens(t.Context(), 1, client.ListOptions{}); err != nil {
				t.Errorf("old-key token on replica %d: %v", i, err)
			}
		}
	})

	t.Run("60 concurrent creates", func(t *testing.T) {
		ids := make([]string, 60)
		errs := make([]error, 60)
		var wg sync.WaitGroup
		for i := range 60 {
			wg.Go(func() {
				made, err := replicas[i%3].client(t, admin).CreateToken(t.Context(), 1, client.CreateTokenRequest{Name: fmt.Sprintf("concurrent %d", i)})
				errs[i] = err
				if err == nil {
					ids[i] = made.Token.ID
				}
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("create %d: %v", i, err)
			}
		}
		page, err := replicas[0].client(t, admin).Tokens(t.Context(), 1, client.ListOptions{PerPage: 1000, Filter: "concurrent "})
		if err != nil {
			t.Fatal(err)
		}
		var listed []string
		for _, tok := range page.Tokens {
			listed = append(listed, tok.ID)
		}
		slices.Sort(ids)
		slices.Sort(listed)
		if len(slices.Compact(slices.Clone(ids))) != 60 || !slices.Equal(ids, listed) {
			t.Errorf("60 creates gave %d distinct ids, %d listed", len(slices.Compact(slices.Clone(ids))), len(listed))
		}
	})

	t.Run("a frozen replica delays a revocation by at most its lease", func(t *testing.T) {
		made, err := replicas[0].client(t, admin).CreateToken(t.Context(), 1, client.CreateTokenRequest{Name: "frozen"})
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range replicas { // cached on all three
			if _, err := r.client(t, made.AccessToken).Tokens(t.Context(), 1, client.ListOptions{}); err != nil {
				t.Fatalf("replica %d: %v", i, err)
			}
		}
		frozen := replicas[2]
		if err := frozen.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		thawed := false
		thaw := func() {
			if !thawed {
				thawed = true
				_ = frozen.cmd.Process.Signal(syscall.SIGCONT)
			}
		}
		defer thaw()
		start := time.Now()
		if err := replicas[0].client(t, admin).DeleteToken(t.Context(), 1, made.Token.ID); err != nil {
			t.Fatal(err)
		}
		t.Logf("the DELETE waited %v for the frozen replica (its lease is 3s)", time.Since(start).Round(time.Millisecond))
		if _, err := replicas[1].client(t, made.AccessToken).Tokens(t.Context(), 1, client.ListOptions{}); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
			t.Errorf("the live replica accepted the revoked token after the 204: %v", err)
		}
		thaw()
		// Its first request after SIGCONT, at once.
		if _, err := frozen.client(t, made.AccessToken).Tokens(t.Context(), 1, client.ListOptions{}); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
			t.Errorf("the thawed replica accepted the revoked token on its first request: %v", err)
		}
	})

	t.Run("a replica killed mid-traffic loses nothing acknowledged", func(t *testing.T) {
		victim := startReplica(t, bin, env)
		var mu sync.Mutex
		var acked []string
		ctx, stop := context.WithTimeout(t.Context(), 10*time.Second)
		defer stop()
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				c := victim.client(t, admin)
				for n := 0; ctx.Err() == nil; n++ {
					made, err := c.CreateToken(ctx, 1, client.CreateTokenRequest{Name: fmt.Sprintf("kill %d-%d", w, n)})
					if err != nil {
						return // the replica is gone
					}
					mu.Lock()
					acked = append(acked, made.Token.ID)
					mu.Unlock()
				}
			})
		}
		time.Sleep(700 * time.Millisecond)
		if err := victim.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if len(acked) == 0 {
			t.Fatal("no create was acknowledged before the kill")
		}
		c := replicas[0].client(t, admin)
		for _, id := range acked {
			if _, err := c.Token(t.Context(), 1, id); err != nil {
				t.Errorf("token %s acknowledged by the killed replica: %v", id, err)
			}
		}
		t.Logf("%d creates acknowledged before SIGKILL, all present on another replica", len(acked))
	})
}

// jwksHas reports whether the JWKS at base lists kid.
func jwksHas(t *testing.T, base, kid string) bool {
	t.Helper()
	res, err := http.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var set struct{ Keys []struct{ Kid string } }
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(set.Keys, func(k struct{ Kid string }) bool { return k.Kid == kid })
}
