package httpapi

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
	s.mux.Handle(token, methodNotAllowed("GET, HEAD, DELETE"))

	// Keys others verify our tokens with.
	s.mux.Handle("GET /.well-known/jwks.json", s.jwks())

	// Operations.
	s.mux.Handle("GET /healthz", healthz())
	s.mux.Handle("GET /readyz", s.readyz())
	if s.metrics != nil {
		s.mux.Handle("GET /metrics", s.metrics.Handler())
	}

	// Everything else is the contract's JSON 404.
	s.mux.Handle("/", s.handle(notFoundHandler))
}
