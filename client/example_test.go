package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
	"github.com/latchkey/latchkey/internal/wire"
)

// exampleToken is the bearer token the example server accepts.
const exampleToken = "example-token"

// startExampleServer starts a stand-in for a Latchkey server, for the
// examples: it answers the four operations of the Personal Tokens API for
// user 12, who has five tokens, in the shapes of the contract, and accepts
// only the bearer token exampleToken.
func startExampleServer() *httptest.Server {
	day := time.Date(2026, 3, 1, 17, 45, 10, 0, time.UTC)
	pac := &latchkey.Client{ID: 1, Name: "Latchkey Personal Access Client", Redirect: "http://localhost",
		PersonalAccessClient: true, CreatedAt: day, UpdatedAt: day}
	var (
		mu     sync.Mutex
		tokens []*latchkey.Token // newest first
	)
	for i, name := range []string{"nightly export", "ci", "backup", "grafana", "laptop"} {
		at := day.AddDate(0, 0, -i)
		exp := at.AddDate(1, 0, 0)
		tokens = append(tokens, &latchkey.Token{ID: fmt.Sprintf("%080x", i+1), UserID: 12, ClientID: 1,
			Name: name, Scopes: latchkey.Scopes{}, CreatedAt: at, UpdatedAt: at, ExpiresAt: &exp, Client: pac})
	}
	find := func(id string) *latchkey.Token {
		for _, t := range tokens {
			if t.ID == id {
				return t
			}
		}
		return nil
	}
	write := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	notFound := wire.Problem{Error: "Not Found"}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/1.0/users/12/tokens", func(w http.ResponseWriter, r *http.Request) {
		var req wire.CreateTokenRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			write(w, http.StatusBadRequest, wire.Problem{Message: "The request body is not valid JSON."})
			return
		}
		var fe latchkey.FieldErrors
		if strings.TrimSpace(req.Name) == "" {
			fe.Add("name", "The Name field is required.")
		}
		for _, s := range req.Scopes {
			if !slices.Contains(latchkey.BuiltinScopes, s) {
				fe.Add("scopes", "The selected Scopes is invalid.")
			}
		}
		if err := fe.Err(); err != nil {
			write(w, http.StatusUnprocessableEntity, wire.Problem{Message: latchkey.ErrorMessage(err), Errors: wire.FieldErrors(fe)})
			return
		}
		exp := day.AddDate(1, 0, 0)
		if req.ExpiresAt != nil {
			exp = req.ExpiresAt.UTC()
		}
		t := &latchkey.Token{ID: strings.Repeat("5be0", 20), UserID: 12, ClientID: 1, Name: strings.TrimSpace(req.Name),
			Scopes: latchkey.Scopes(req.Scopes), CreatedAt: day, UpdatedAt: day, ExpiresAt: &exp, Client: pac}
		mu.Lock()
		tokens = append([]*latchkey.Token{t}, tokens...)
		mu.Unlock()
		ut := wire.FromToken(t)
		write(w, http.StatusCreated, wire.CreatedToken{UserToken: ut, AccessToken: "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.e30.c2ln", Token: ut})
	})
	mux.HandleFunc("GET /api/1.0/users/12/tokens", func(w http.ResponseWriter, r *http.Request) {
		page, perPage := 1, 10
		if s := r.URL.Query().Get("page"); s != "" {
			page, _ = strconv.Atoi(s)
		}
		if s := r.URL.Query().Get("per_page"); s != "" {
			perPage, _ = strconv.Atoi(s)
		}
		mu.Lock()
		defer mu.Unlock()
		var live []*latchkey.Token
		for _, t := range tokens {
			if !t.Revoked {
				live = append(live, t)
			}
		}
		list := wire.TokenList{Data: []wire.UserToken{}}
		for _, t := range live[min((page-1)*perPage, len(live)):min(page*perPage, len(live))] {
			list.Data = append(list.Data, wire.FromToken(t))
		}
		totalPages := (len(live) + perPage - 1) / perPage
		list.Meta = wire.Meta{Count: len(list.Data), TotalPages: totalPages, CurrentPage: page,
			LastPage: max(totalPages, 1), Links: []wire.Link{}, Path: r.URL.Path, PerPage: perPage, Total: len(live)}
		write(w, http.StatusOK, list)
	})
	mux.HandleFunc("GET /api/1.0/users/12/tokens/{token_id}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if t := find(r.PathValue("token_id")); t != nil {
			write(w, http.StatusOK, wire.FromToken(t))
			return
		}
		write(w, http.StatusNotFound, notFound)
	})
	mux.HandleFunc("DELETE /api/1.0/users/12/tokens/{token_id}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if t := find(r.PathValue("token_id")); t != nil {
			t.Revoked = true
			w.WriteHeader(http.StatusNoContent)
			return
		}
		write(w, http.StatusNotFound, notFound)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { write(w, http.StatusNotFound, notFound) })

	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+exampleToken {
			w.Header().Set("WWW-Authenticate", "Bearer")
			write(w, http.StatusUnauthorized, wire.Problem{Error: "Unauthenticated."})
			return
		}
		mux.ServeHTTP(w, r)
	}))
}

func ExampleNew() {
	c, err := client.New("https://latchkey.example.com", client.WithBearerToken("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.e30.c2ln"))
	if err != nil {
		log.Fatal(err)
	}
	// A Client never shows its credential.
	fmt.Println(c)
	// Output:
	// client.Client{https://latchkey.example.com/api/1.0, auth: bearer}
}

func ExampleWithAPIKey() {
	// ProcessMaker's pm_api_key scheme: the key alone in the Authorization
	// header, or after a prefix.
	c, err := client.New("https://latchkey.example.com", client.WithAPIKey("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.e30.c2ln", ""))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c)
	// Output:
	// client.Client{https://latchkey.example.com/api/1.0, auth: api key}
}

func Example_createToken() {
	srv := startExampleServer()
	defer srv.Close()

	c, err := client.New(srv.URL, client.WithBearerToken(exampleToken))
	if err != nil {
		log.Fatal(err)
	}
	expires := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	created, err := c.CreateToken(context.Background(), 12, client.CreateTokenRequest{
		Name:      "nightly export",
		Scopes:    []string{latchkey.ScopeTokensRead},
		ExpiresAt: &expires,
	})
	if err != nil {
		log.Fatal(err)
	}
	// created.AccessToken is the JWT, shown this once: hand it to its user
	// now. Printing or logging created hides it.
	fmt.Println(created.Token.Name, created.Token.Scopes, created.Token.ExpiresAt.Format(time.DateOnly))
	fmt.Println(created.AccessToken != "")
	fmt.Println(created)
	// Output:
	// nightly export [tokens.read] 2026-09-01
	// true
	// CreatedToken{ID: 5be05be05be05be05be05be05be05be05be05be05be05be05be05be05be05be05be05be05be05be0, Name: "nightly export", AccessToken: [REDACTED]}
}

func ExampleClient_Tokens() {
	srv := startExampleServer()
	defer srv.Close()
	c, err := client.New(srv.URL, client.WithBearerToken(exampleToken))
	if err != nil {
		log.Fatal(err)
	}

	page, err := c.Tokens(context.Background(), 12, client.ListOptions{Page: 2, PerPage: 2})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("page %d of %d, %d tokens in all\n", page.Page, page.LastPage, page.Total)
	for _, t := range page.Tokens {
		fmt.Println(t.Name, t.CreatedAt.Format(time.DateOnly))
	}
	// Output:
	// page 2 of 3, 5 tokens in all
	// backup 2026-02-27
	// grafana 2026-02-26
}

func ExampleClient_AllTokens() {
	srv := startExampleServer()
	defer srv.Close()
	c, err := client.New(srv.URL, client.WithBearerToken(exampleToken))
	if err != nil {
		log.Fatal(err)
	}

	// Pages are fetched as the loop goes, here two tokens at a time.
	for t, err := range c.AllTokens(context.Background(), 12, client.ListOptions{PerPage: 2}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(t.Name)
	}
	// Output:
	// nightly export
	// ci
	// backup
	// grafana
	// laptop
}

func ExampleClient_Token() {
	srv := startExampleServer()
	defer srv.Close()
	c, err := client.New(srv.URL, client.WithBearerToken(exampleToken))
	if err != nil {
		log.Fatal(err)
	}

	t, err := c.Token(context.Background(), 12, fmt.Sprintf("%080x", 2))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.Name, t.Revoked, t.ExpiresAt.Format(time.DateOnly), t.Client.Name)
	// Output:
	// ci false 2027-02-28 Latchkey Personal Access Client
}

func ExampleClient_DeleteToken() {
	srv := startExampleServer()
	defer srv.Close()
	c, err := client.New(srv.URL, client.WithBearerToken(exampleToken))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	id := fmt.Sprintf("%080x", 5)
	if err := c.DeleteToken(ctx, 12, id); err != nil {
		log.Fatal(err)
	}
	// The token is revoked, not gone: it can still be shown, but lists
	// leave it out.
	t, err := c.Token(ctx, 12, id)
	if err != nil {
		log.Fatal(err)
	}
	page, err := c.Tokens(ctx, 12, client.ListOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.Name, t.Revoked, page.Total)
	// Output:
	// laptop true 4
}

func Example_errors() {
	srv := startExampleServer()
	defer srv.Close()
	c, err := client.New(srv.URL, client.WithBearerToken(exampleToken))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	// A 422 becomes an EINVALID *latchkey.Error with the server's
	// sentences, field by field.
	_, err = c.CreateToken(ctx, 12, client.CreateTokenRequest{Name: " ", Scopes: []string{"admin"}})
	fmt.Println(latchkey.ErrorCode(err), client.StatusCode(err))
	fmt.Println(latchkey.ErrorMessage(err))
	var e *latchkey.Error
	if errors.As(err, &e) {
		for _, f := range e.Fields {
			fmt.Println(f.Field, f.Sentences)
		}
	}

	// Every answer outside 2xx has its code.
	_, err = c.Token(ctx, 12, strings.Repeat("0", 80))
	fmt.Println(err)

	stranger, err := client.New(srv.URL, client.WithBearerToken("not-a-token"))
	if err != nil {
		log.Fatal(err)
	}
	_, err = stranger.Tokens(ctx, 12, client.ListOptions{})
	fmt.Println(latchkey.ErrorCode(err) == latchkey.EUNAUTHENTICATED, err)
	// Output:
	// invalid 422
	// The Name field is required. (and 1 more error)
	// name [The Name field is required.]
	// scopes [The selected Scopes is invalid.]
	// not_found: Not Found: HTTP 404
	// true unauthenticated: Unauthenticated.: HTTP 401
}
