// Package latchkey is the domain of the Latchkey personal access token
// server: users, tokens, OAuth clients, signing keys, scopes, the rules of
// who may do what, the error type with its closed set of codes, and the
// contracts that storage backends satisfy.
//
// It imports only the standard library. Each technology lives in a package
// of its own under internal/ (sqlite, httpapi, jwt, …) and adapts these types
// to it; cmd/latchkey wires them together; client/ is the Go client of the
// HTTP API.
package latchkey
