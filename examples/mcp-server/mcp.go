package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/resource"
)

// The scopes of this server, as registered with Latchkey for the resource
// (latchkey resource create --scopes mcp.read,mcp.call).
const (
	// scopeRead lets a client connect and list the tools.
	scopeRead = "mcp.read"
	// scopeCall lets it call them too.
	scopeCall = "mcp.call"
)

// protocolVersions are the MCP revisions this server speaks, newest
// first.
var protocolVersions = []string{"2025-11-25", "2025-06-18", "2025-03-26"}

// maxBody is the largest JSON-RPC message read.
const maxBody = 1 << 20

// newHandler returns the server's HTTP surface: the MCP endpoint at the
// resource's path, which needs a token granting scopeRead, and the RFC
// 9728 document, where a client that was answered 401 learns that Latchkey
// is the authorization server to ask.
func newHandler(v *resource.Verifier) http.Handler {
	u, _ := url.Parse(v.Resource())
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	s := &mcpServer{v: v, origin: u.Scheme + "://" + u.Host}
	mux := http.NewServeMux()
	mux.Handle("POST "+path, s.checkOrigin(v.Require(scopeRead)(http.HandlerFunc(s.serveRPC))))
	// No server-sent event stream, no sessions to end (MCP's Streamable
	// HTTP transport allows a server to answer 405 to both).
	mux.Handle(path, methodNotAllowed("POST"))
	// The document at its path (RFC 9728 section 3.1), and at the root
	// form, where some clients look first.
	mux.Handle("GET "+v.MetadataPath(), v.MetadataHandler())
	if v.MetadataPath() != resource.WellKnownPath {
		mux.Handle("GET "+resource.WellKnownPath, v.MetadataHandler())
	}
	return mux
}

// mcpServer answers MCP's JSON-RPC messages.
type mcpServer struct {
	v      *resource.Verifier
	origin string // the resource's origin: the only Origin a browser may send
}

// checkOrigin refuses a request that a browser sent from a page of
// another origin (MCP's transport requires the check, against DNS
// rebinding). Clients that are not browsers send no Origin.
func (s *mcpServer) checkOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" && !strings.EqualFold(o, s.origin) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "This origin may not call the MCP server."})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func methodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "Use " + allow + "."})
	})
}

// request is a JSON-RPC 2.0 request or notification.
type request struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

// rpcError is a JSON-RPC 2.0 error object.
type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// JSON-RPC 2.0's error codes.
const (
	codeParse          = -32700
	codeInvalidRequest = -32600
	codeNoMethod       = -32601
	codeInvalidParams  = -32602
)

// serveRPC answers one JSON-RPC message (MCP's Streamable HTTP transport
// sends one per POST; batches went in revision 2025-06-18). A
// notification is answered 202 with no body; a request, 200 with its
// response as application/json.
func (s *mcpServer) serveRPC(w http.ResponseWriter, r *http.Request) {
	if v := r.Header.Get("MCP-Protocol-Version"); v != "" && !slices.Contains(protocolVersions, v) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Unsupported MCP-Protocol-Version " + v + "."})
		return
	}
	var req request
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(&req); err != nil {
		code, msg := codeParse, "Parse error"
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			code, msg = codeInvalidRequest, "Invalid Request: one JSON-RPC request object per message"
		}
		writeRPC(w, json.RawMessage("null"), nil, &rpcError{code, msg})
		return
	}
	if req.JSONRPC != "2.0" || req.Method == "" || !validID(req.ID) {
		writeRPC(w, json.RawMessage("null"), nil, &rpcError{codeInvalidRequest, "Invalid Request"})
		return
	}
	if req.ID == nil {
		// A notification (notifications/initialized, ...): nothing to
		// answer.
		w.WriteHeader(http.StatusAccepted)
		return
	}
	c := resource.ClaimsFrom(r.Context())
	switch req.Method {
	case "initialize":
		var p struct {
			ProtocolVersion string `json:"protocolVersion"`
		}
		_ = json.Unmarshal(req.Params, &p)
		version := protocolVersions[0]
		if slices.Contains(protocolVersions, p.ProtocolVersion) {
			version = p.ProtocolVersion
		}
		writeRPC(w, req.ID, map[string]any{
			"protocolVersion": version,
			"capabilities":    map[string]any{"tools": map[string]any{"listChanged": false}},
			"serverInfo":      map[string]string{"name": "latchkey-example-mcp", "version": "1.0.0"},
		}, nil)
	case "ping":
		writeRPC(w, req.ID, map[string]any{}, nil)
	case "tools/list":
		writeRPC(w, req.ID, map[string]any{"tools": tools}, nil)
	case "tools/call":
		// Listing needs scopeRead (Require checked it); calling needs
		// scopeCall too. A token without it is answered as MCP says: 403
		// with the scopes to ask for, so that the client can step up.
		if !c.HasScope(scopeCall) {
			s.v.InsufficientScope(w, scopeRead, scopeCall)
			return
		}
		result, rerr := s.call(c, req.Params)
		writeRPC(w, req.ID, result, rerr)
	default:
		writeRPC(w, req.ID, nil, &rpcError{codeNoMethod, "Method not found: " + req.Method})
	}
}

// validID reports whether id is absent (a notification), a string or a
// number: JSON-RPC 2.0's ids (null is discouraged, and not taken).
func validID(id json.RawMessage) bool {
	if id == nil {
		return true
	}
	var v any
	if json.Unmarshal(id, &v) != nil {
		return false
	}
	switch v.(type) {
	case string, float64:
		return true
	}
	return false
}

// tools are this server's tools, as tools/list describes them.
var tools = []map[string]any{
	{
		"name":        "whoami",
		"description": "Says who the access token speaks for: the user, the application, the scopes.",
		"inputSchema": map[string]any{"type": "object", "properties": map[string]any{}},
	},
	{
		"name":        "echo",
		"description": "Answers with the text it is given.",
		"inputSchema": map[string]any{
			"type":       "object",
			"properties": map[string]any{"text": map[string]any{"type": "string"}},
			"required":   []string{"text"},
		},
	},
}

// call runs the tool params names, for the token c.
func (s *mcpServer) call(c *resource.Claims, params json.RawMessage) (any, *rpcError) {
	var p struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, &rpcError{codeInvalidParams, "Invalid params"}
	}
	switch p.Name {
	case "whoami":
		who := map[string]any{"user": c.Subject, "client_id": c.ClientID, "scopes": c.Scopes}
		return toolResult(fmt.Sprintf("user %s, through application %s, with scopes %s", c.Subject, c.ClientID, strings.Join(c.Scopes, " ")), who), nil
	case "echo":
		var a struct {
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(p.Arguments, &a); err != nil || a.Text == nil {
			return nil, &rpcError{codeInvalidParams, "echo needs a string text"}
		}
		return toolResult(*a.Text, nil), nil
	default:
		return nil, &rpcError{codeInvalidParams, "Unknown tool: " + p.Name}
	}
}

// toolResult is a tools/call result: text content, and structured
// content if any.
func toolResult(text string, structured any) map[string]any {
	r := map[string]any{"content": []map[string]string{{"type": "text", "text": text}}, "isError": false}
	if structured != nil {
		r["structuredContent"] = structured
	}
	return r
}

// writeRPC writes a JSON-RPC response: result, or err.
func writeRPC(w http.ResponseWriter, id json.RawMessage, result any, err *rpcError) {
	resp := map[string]any{"jsonrpc": "2.0", "id": id}
	if err != nil {
		resp["error"] = err
	} else {
		resp["result"] = result
	}
	writeJSON(w, http.StatusOK, resp)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}
