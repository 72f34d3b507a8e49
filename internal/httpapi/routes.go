package httpapi

import "net/http"

// routes registers the whole HTTP surface of the server.
func (s *Server) routes() {
	const tokens = "/api/1.0/users/{user_id}/tokens"
	const token = tokens + "/{token_id}"

	// ProcessMaker's Personal Tokens API (see docs/api.md).
	s.mux.Handle("GET "+tokens, s.handle(s.listTokens))
	s.mux.Handle("POST "+tokens, s.handle(s.createToken))
	s.mux.Handle("GET "+token, s.handle(s.showToken))
	s.mux.Handle("DELETE "+token, s.handle(s.deleteToken))
	s.mux.Handle(tokens, methodNotAllowed("GET, HEAD, POST"))
	// Beyond ProcessMaker: every user's tokens (see docs/api.md).
	s.mux.Handle("GET /api/1.0/tokens", s.handle(s.inventory))
	s.mux.Handle("/api/1.0/tokens", methodNotAllowed("GET, HEAD"))
	s.mux.Handle(token, methodNotAllowed("GET, HEAD, DELETE"))
	// Extensions: rotation, and the calling token itself.
	s.mux.Handle("POST "+token+"/rotate", s.handle(s.rotateToken))
	s.mux.Handle(token+"/rotate", methodNotAllowed("POST"))
	const self = "/api/1.0/tokens/self"
	s.mux.Handle("GET "+self, s.handle(s.showSelf))
	s.mux.Handle("DELETE "+self, s.handle(s.deleteSelf))
	s.mux.Handle(self, methodNotAllowed("GET, HEAD, DELETE"))
	s.mux.Handle("POST "+self+"/rotate", s.handle(s.rotateSelf))
	s.mux.Handle(self+"/rotate", methodNotAllowed("POST"))

	// Keys others verify our tokens with.
	s.mux.Handle("GET /.well-known/jwks.json", cors(s.jwks()))
	s.mux.Handle("OPTIONS /.well-known/jwks.json", preflight("GET, HEAD"))

	// Web pages: sign-in (and, with the authorization server, consent).
	s.mux.Handle("GET /static/", static())
	s.mux.Handle("GET /login", http.HandlerFunc(s.loginForm))
	s.mux.Handle("POST /login", s.page(s.ui(s.login)))
	s.mux.Handle("POST /logout", s.page(s.logout))

	// The OAuth 2.0 authorization server.
	if s.oauth != nil {
		s.mux.Handle("GET /oauth/authorize", http.HandlerFunc(s.authorize))
		s.mux.Handle("POST /oauth/authorize", s.page(s.authorize))
		// What a public client in a browser calls with fetch is open to
		// any origin (cors.go); /oauth/authorize and /oauth/introspect
		// are not.
		s.mux.Handle("POST /oauth/token", cors(s.tokenEndpoint(s.oauth.Token)))
		s.mux.Handle("POST /oauth/revoke", cors(s.tokenEndpoint(s.oauth.Revoke)))
		s.mux.Handle("POST /oauth/introspect", s.tokenEndpoint(s.oauth.Introspect))
		s.mux.Handle("GET /.well-known/oauth-authorization-server", cors(http.HandlerFunc(s.metadata)))
		// The API as the authorization server's resource (RFC 9728):
		// at its own path, and at the root form that clients fall
		// back to.
		s.mux.Handle("GET "+resourceMetadataPath+apiPath, cors(http.HandlerFunc(s.protectedResource)))
		s.mux.Handle("GET "+resourceMetadataPath, cors(http.HandlerFunc(s.protectedResource)))
		for _, p := range []string{"/.well-known/oauth-authorization-server", resourceMetadataPath + apiPath, resourceMetadataPath} {
			s.mux.Handle("OPTIONS "+p, preflight("GET, HEAD"))
		}
		for _, p := range []string{"/oauth/token", "/oauth/revoke"} {
			s.mux.Handle("OPTIONS "+p, preflight("POST"))
		}
		for _, p := range []string{"/oauth/token", "/oauth/revoke", "/oauth/introspect"} {
			s.mux.Handle(p, methodNotAllowed("POST"))
		}
		s.mux.Handle("/oauth/authorize", methodNotAllowed("GET, HEAD, POST"))
		// Dynamic client registration (RFC 7591); off, the path is
		// unknown, as any other.
		if s.opts.Registration.on() {
			s.mux.Handle("POST /oauth/register", cors(http.HandlerFunc(s.register)))
			s.mux.Handle("OPTIONS /oauth/register", preflight("POST"))
			s.mux.Handle("/oauth/register", methodNotAllowed("POST"))
		}
	}

	// The web UI.
	s.mux.Handle("GET /{$}", http.HandlerFunc(s.uiHome))
	s.mux.Handle("GET /tokens", s.ui(s.uiTokens))
	s.mux.Handle("POST /tokens", s.page(s.ui(s.uiCreateToken)))
	s.mux.Handle("GET /tokens/{token_id}/revoke", s.ui(s.uiConfirmRevoke))
	s.mux.Handle("POST /tokens/{token_id}/revoke", s.page(s.ui(s.uiRevokeToken)))
	s.mux.Handle("GET /tokens/{token_id}/rotate", s.ui(s.uiConfirmRotate))
	s.mux.Handle("POST /tokens/{token_id}/rotate", s.page(s.ui(s.uiRotateToken)))
	s.mux.Handle("GET /applications", s.ui(s.uiApplications))
	s.mux.Handle("POST /applications/{client_id}/revoke", s.page(s.ui(s.uiRevokeApplication)))
	s.mux.Handle("GET /settings/notifications", s.ui(s.uiNotifications))
	s.mux.Handle("POST /settings/notifications", s.page(s.ui(s.uiSaveNotifications)))
	s.mux.Handle("GET /users", s.ui(s.uiUsers))
	s.mux.Handle("GET /inventory", s.ui(s.uiInventory))
	s.mux.Handle("GET /inventory.csv", s.ui(s.uiInventoryCSV))
	s.mux.Handle("GET /users/{user_id}", s.ui(s.uiTokens))
	s.mux.Handle("POST /users/{user_id}/tokens", s.page(s.ui(s.uiCreateToken)))
	s.mux.Handle("GET /users/{user_id}/tokens/{token_id}/revoke", s.ui(s.uiConfirmRevoke))
	s.mux.Handle("POST /users/{user_id}/tokens/{token_id}/revoke", s.page(s.ui(s.uiRevokeToken)))
	s.mux.Handle("GET /users/{user_id}/tokens/{token_id}/rotate", s.ui(s.uiConfirmRotate))
	s.mux.Handle("POST /users/{user_id}/tokens/{token_id}/rotate", s.page(s.ui(s.uiRotateToken)))

	// Operations.
	s.mux.Handle("GET /healthz", healthz())
	s.mux.Handle("GET /readyz", s.readyz())
	// No /metrics here: the metrics have a listener of their own
	// (serve --metrics-addr), since they describe refusals and traffic.

	// Everything else is the contract's JSON 404 (a browser's page, the
	// styled one).
	s.mux.Handle("/", http.HandlerFunc(s.notFound))
}
