package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/resource"
	"github.com/latchkey/latchkey/resource/resourcetest"
)

const testResource = "https://mcp.example.com/mcp"

// stubServer is the MCP handler behind a Verifier of a test
// authorization server.
func stubServer(t *testing.T) (*resourcetest.Issuer, http.Handler) {
	t.Helper()
	as := resourcetest.NewIssuer()
	t.Cleanup(as.Close)
	cfg := as.Config(testResource)
	cfg.Scopes = []string{scopeRead, scopeCall}
	v, err := resource.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return as, newHandler(v)
}

// rpc posts body to /mcp with token and returns the answer.
func rpc(t *testing.T, h http.Handler, token, body string, headers ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, testResource, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

// decode reads a JSON answer.
func decode(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("answer %d %q: %v", resp.StatusCode, b, err)
	}
	return m
}

func TestMCP(t *testing.T) {
	as, h := stubServer(t)
	full := as.Token(resourcetest.Token{Audience: testResource, Subject: "12", ClientID: "7", Scopes: []string{scopeRead, scopeCall}})
	readOnly := as.Token(resourcetest.Token{Audience: testResource, Scopes: []string{scopeRead}})

	for _, tc := range []struct {
		name, token, body string
		status            int
		want              string // the JSON answer, compared as values
	}{
		{"initialize", full, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`, 200,
			`{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{"listChanged":false}},"serverInfo":{"name":"latchkey-example-mcp","version":"1.0.0"}}}`},
		{"initialize, a version it does not speak", readOnly, `{"jsonrpc":"2.0","id":"a","method":"initialize","params":{"protocolVersion":"2024-11-05"}}`, 200,
			`{"jsonrpc":"2.0","id":"a","result":{"protocolVersion":"2025-11-25","capabilities":{"tools":{"listChanged":false}},"serverInfo":{"name":"latchkey-example-mcp","version":"1.0.0"}}}`},
		{"ping", readOnly, `{"jsonrpc":"2.0","id":2,"method":"ping"}`, 200, `{"jsonrpc":"2.0","id":2,"result":{}}`},
		{"whoami", full, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`, 200,
			`{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"user 12, through application 7, with scopes mcp.read mcp.call"}],"isError":false,"structuredContent":{"user":"12","client_id":"7","scopes":["mcp.read","mcp.call"]}}}`},
		{"echo", full, `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}`, 200,
			`{"jsonrpc":"2.0","id":4,"result":{"content":[{"type":"text","text":"hello"}],"isError":false}}`},
		{"echo without text", full, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{}}}`, 200,
			`{"jsonrpc":"2.0","id":5,"error":{"code":-32602,"message":"echo needs a string text"}}`},
		{"an unknown tool", full, `{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"rm"}}`, 200,
			`{"jsonrpc":"2.0","id":6,"error":{"code":-32602,"message":"Unknown tool: rm"}}`},
		{"an unknown method", full, `{"jsonrpc":"2.0","id":7,"method":"resources/list"}`, 200,
			`{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"Method not found: resources/list"}}`},
		{"not JSON", full, `{"jsonrpc":`, 200, `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`},
		{"a batch", full, `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, 200,
			`{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request: one JSON-RPC request object per message"}}`},
		{"not 2.0", full, `{"jsonrpc":"1.0","id":1,"method":"ping"}`, 200, `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request"}}`},
		{"an id of null", full, `{"jsonrpc":"2.0","id":null,"method":"ping"}`, 200, `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request"}}`},
		{"calling without mcp.call", readOnly, `{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"whoami"}}`, 403,
			`{"error":"insufficient_scope","error_description":"The access token does not grant every scope this request needs.","scope":"mcp.read mcp.call"}`},
		{"no token", "", `{"jsonrpc":"2.0","id":9,"method":"tools/list"}`, 401,
			`{"error":"unauthorized","error_description":"This resource needs an access token, sent as Authorization: Bearer."}`},
		{"a token for another resource", as.Token(resourcetest.Token{Audience: "https://mcp.example.com/other", Scopes: []string{scopeRead, scopeCall}}), `{"jsonrpc":"2.0","id":10,"method":"tools/list"}`, 401,
			`{"error":"invalid_token","error_description":"The access token is invalid, expired, revoked, or not for this resource."}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := rpc(t, h, tc.token, tc.body)
			got := decode(t, resp)
			var want map[string]any
			if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || !cmp.Equal(got, want) {
				t.Errorf("%d %v, want %d %v\n%s", resp.StatusCode, got, tc.status, want, cmp.Diff(want, got))
			}
		})
	}

	t.Run("the 403 and 401 challenges", func(t *testing.T) {
		doc := "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
		for token, want := range map[string]string{
			"":       `Bearer scope="mcp.read", resource_metadata="` + doc + `"`,
			readOnly: `Bearer error="insufficient_scope", scope="mcp.read mcp.call", resource_metadata="` + doc + `"`,
		} {
			resp := rpc(t, h, token, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami"}}`)
			if got := resp.Header.Get("WWW-Authenticate"); got != want {
				t.Errorf("WWW-Authenticate = %q, want %q", got, want)
			}
		}
	})

	t.Run("tools/list", func(t *testing.T) {
		got := decode(t, rpc(t, h, readOnly, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		var names []string
		for _, tool := range got["result"].(map[string]any)["tools"].([]any) {
			names = append(names, tool.(map[string]any)["name"].(string))
		}
		if !cmp.Equal(names, []string{"whoami", "echo"}) {
			t.Errorf("tools = %v", names)
		}
	})

	t.Run("a notification", func(t *testing.T) {
		resp := rpc(t, h, readOnly, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
		if b, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusAccepted || len(b) != 0 {
			t.Errorf("%d %q, want 202 and no body", resp.StatusCode, b)
		}
	})

	t.Run("another origin", func(t *testing.T) {
		resp := rpc(t, h, full, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, "Origin", "https://evil.example")
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%d, want 403", resp.StatusCode)
		}
		if resp := rpc(t, h, full, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, "Origin", "https://mcp.example.com"); resp.StatusCode != 200 {
			t.Errorf("its own origin: %d, want 200", resp.StatusCode)
		}
	})

	t.Run("a protocol version it does not speak", func(t *testing.T) {
		resp := rpc(t, h, full, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, "MCP-Protocol-Version", "1999-01-01")
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%d, want 400", resp.StatusCode)
		}
	})

	t.Run("GET and DELETE", func(t *testing.T) {
		for _, m := range []string{http.MethodGet, http.MethodDelete} {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(m, testResource, nil))
			if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "POST" {
				t.Errorf("%s: %d %v, want 405", m, w.Code, w.Header())
			}
		}
	})

	t.Run("the RFC 9728 document", func(t *testing.T) {
		for _, path := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "https://mcp.example.com"+path, nil))
			var doc map[string]any
			_ = json.Unmarshal(w.Body.Bytes(), &doc)
			if w.Code != 200 || doc["resource"] != testResource || !cmp.Equal(doc["authorization_servers"], []any{as.URL}) ||
				!cmp.Equal(doc["scopes_supported"], []any{"mcp.read", "mcp.call"}) {
				t.Errorf("GET %s: %d %s", path, w.Code, w.Body)
			}
		}
	})
}
