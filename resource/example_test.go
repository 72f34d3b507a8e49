package resource_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/latchkey/latchkey/resource"
	"github.com/latchkey/latchkey/resource/resourcetest"
)

// A resource server protects its routes with Require, and serves its RFC
// 9728 document. Here a test authorization server stands in for Latchkey.
func Example() {
	as := resourcetest.NewIssuer()
	defer as.Close()

	v, err := resource.New(context.Background(), resource.Config{
		Issuer:       as.URL, // Latchkey's issuer: its --public-url
		Resource:     "https://mcp.example.com/mcp",
		Scopes:       []string{"notes.read"},
		ClientID:     as.ClientID, // to ask Latchkey about revocations
		ClientSecret: as.ClientSecret,
		HTTPClient:   as.Client(), // only because the test server's certificate is its own
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /mcp/notes", v.Require("notes.read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := resource.ClaimsFrom(r.Context())
		fmt.Fprintf(w, "the notes of user %s, read by application %s\n", c.Subject, c.ClientID)
	})))
	mux.Handle(v.MetadataPath(), v.MetadataHandler())
	mux.Handle(resource.WellKnownPath, v.MetadataHandler())

	get := func(token string) {
		r := httptest.NewRequest("GET", "https://mcp.example.com/mcp/notes", nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if w.Code != 200 {
			fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
		} else {
			fmt.Println(w.Code)
			body, _ := io.ReadAll(w.Body)
			fmt.Print(string(body))
		}
	}
	get("")
	get(as.Token(resourcetest.Token{Audience: "https://mcp.example.com/mcp", Subject: "12", ClientID: "7", Scopes: []string{"notes.read"}}))
	get(as.Token(resourcetest.Token{Audience: "https://mcp.example.com/mcp"}))
	get(as.Token(resourcetest.Token{Audience: "https://other.example.com/mcp", Scopes: []string{"notes.read"}}))
	// Output:
	// 401 Bearer scope="notes.read", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
	// 200
	// the notes of user 12, read by application 7
	// 403 Bearer error="insufficient_scope", scope="notes.read", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
	// 401 Bearer error="invalid_token", scope="notes.read", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
}

// Verify tells why it refused a token, for the log; the middleware
// answers every refusal alike.
func ExampleVerifier_Verify() {
	as := resourcetest.NewIssuer()
	defer as.Close()
	v, err := resource.New(context.Background(), resource.Config{
		Issuer: as.URL, Resource: "https://mcp.example.com/mcp", HTTPClient: as.Client(),
	})
	if err != nil {
		log.Fatal(err)
	}
	token := as.Token(resourcetest.Token{Audience: "https://other.example.com"})
	_, err = v.Verify(context.Background(), token)
	fmt.Println(errors.Is(err, resource.ErrInvalidToken), errors.Is(err, resource.ErrAudience), errors.Is(err, resource.ErrExpired))
	fmt.Println(err)
	// Output:
	// true true false
	// resource: the token is for another audience
}

func ExampleVerifier_MetadataHandler() {
	as := resourcetest.NewIssuer()
	defer as.Close()
	v, err := resource.New(context.Background(), resource.Config{
		Issuer: as.URL, Resource: "https://mcp.example.com/mcp", HTTPClient: as.Client(),
		Scopes: []string{"mcp.read"}, ResourceName: "Example MCP server",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.MetadataURL())
	w := httptest.NewRecorder()
	v.MetadataHandler().ServeHTTP(w, httptest.NewRequest("GET", v.MetadataURL(), nil))
	var doc = w.Body.String()
	fmt.Print(doc[:len(`{"resource":"https://mcp.example.com/mcp"`)])
	// Output:
	// https://mcp.example.com/.well-known/oauth-protected-resource/mcp
	// {"resource":"https://mcp.example.com/mcp"
}

func ExampleNormalizeURI() {
	for _, u := range []string{"HTTPS://MCP.Example.com:443/mcp/", "https://mcp.example.com/%7Ealice", "https://mcp.example.com/mcp#x"} {
		n, err := resource.NormalizeURI(u)
		fmt.Println(n, err != nil)
	}
	// Output:
	// https://mcp.example.com/mcp false
	// https://mcp.example.com/~alice false
	//  true
}
