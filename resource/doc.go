// Package resource is for resource servers that accept the access tokens
// Latchkey issues for them: an MCP server, an API of one's own. An
// application asks Latchkey for a token for the resource (RFC 8707: the
// resource parameter), and Latchkey signs a JWT access token (RFC 9068)
// whose aud is the resource. A Verifier checks such tokens on their own,
// with the keys Latchkey publishes, and asks Latchkey whether they were
// revoked.
//
// # Use
//
// Register the resource with Latchkey, and, to see revocations, a
// confidential client whose credentials the resource server presents to
// Latchkey's introspection endpoint. Then, at start-up:
//
//	v, err := resource.New(ctx, resource.Config{
//		Issuer:       "https://auth.example.com",    // Latchkey's --public-url
//		Resource:     "https://mcp.example.com/mcp", // as registered
//		Scopes:       []string{"mcp.read", "mcp.call"},
//		ClientID:     clientID,
//		ClientSecret: clientSecret,
//	})
//	...
//	mux.Handle("POST /mcp", v.Require("mcp.read")(mcpHandler))
//	mux.Handle(v.MetadataPath(), v.MetadataHandler())
//	mux.Handle(resource.WellKnownPath, v.MetadataHandler())
//
// and, in a handler, resource.ClaimsFrom(r.Context()) is the token's
// claims: the user (Subject), the application (ClientID), the scopes.
//
// # What a Verifier checks
//
// New reads Latchkey's RFC 8414 metadata, whose issuer must be
// Config.Issuer exactly, and fetches the JWKS it names; both must be at
// the issuer's origin (the package fetches from nowhere else, follows
// redirects only within it, and reads at most 64 KiB of metadata and 256
// KiB of JWKS). The JWKS is fetched again when its Cache-Control max-age
// runs out (kept between one minute and one hour by default), and at once
// when a token names a kid it lacks, but at most every 10 seconds and one
// fetch at a time; the keys fetched before stay until a new set arrives.
// So a rotation (latchkey keys rotate) is followed as soon as a token of
// the new key arrives, or, if the set was fetched in the 10 seconds
// before, within those 10 seconds.
//
// Verify refuses, with an error matching ErrInvalidToken:
//
//   - anything but a JWS in compact form, of at most 16 KiB, whose header
//     names alg and kid and has neither crit nor cty;
//   - an alg other than RS256, ES256 or EdDSA (none, the HMACs, all
//     others), or other than the algorithm of the key the kid names: a
//     key's algorithm is fixed by its kind (RSA of 2048 to 8192 bits, EC
//     P-256, Ed25519) and its alg member, never by the token;
//   - a signature that is not that key's;
//   - a typ other than at+jwt or application/at+jwt (RFC 9068 section 4:
//     a resource server must tell access tokens from other JWTs, such as
//     Latchkey's personal tokens, whose typ is JWT);
//   - an exp passed, or an nbf or iat in the future, beyond the leeway
//     (30 seconds by default), on the clock of Config.Now;
//   - an iss other than Config.Issuer;
//   - an aud (a string or an array) that does not name Config.Resource,
//     compared in the form NormalizeURI gives;
//   - with introspection credentials, a token the introspection endpoint
//     says is not active (ErrRevoked).
//
// Once a signature has verified, every claim is checked and each failure
// is in the error (errors.Is(err, ErrAudience), and so on), to be logged;
// the middleware answers them all alike.
//
// # Revocation
//
// A JWT stays valid until it expires, whatever happens at Latchkey,
// unless the resource server asks. With Config.ClientID and ClientSecret,
// a Verifier asks Latchkey's introspection endpoint (RFC 7662) about each
// token once its signature and claims are good, and keeps the answer:
// "active" for Config.ActiveTTL (30 seconds by default), "not active"
// until the token expires, at most Config.MaxCachedTokens answers (10000
// by default). So a token revoked at Latchkey (a person revoking an
// application, an administrator disabling a user, latchkey token revoke)
// is refused at most ActiveTTL after the revocation. If Latchkey cannot
// be asked, the token is not accepted: the middleware answers 503.
//
// Latchkey limits the requests one address makes to its token and
// introspection endpoints (--limit-token-endpoint, 10 a second with a
// burst of 100 by default): a resource server that sees many distinct
// tokens at once should have its address's limit raised.
//
// # Scopes
//
// A token's scopes are its scope claim, split at spaces (RFC 9068), else
// its scopes array (Laravel Passport's). Require and Claims.HasScope honour
// Latchkey's "*", which grants every scope; an empty list grants none.
//
// # Testing
//
// Package resourcetest is a stand-in authorization server for the tests
// of a resource server: metadata, a JWKS and an introspection endpoint,
// tokens of Latchkey's shape or any other, key rotation, revocation and
// outages. This package's own tests also run against a real latchkey
// serve.
package resource
