// Package cimd reads OAuth Client ID Metadata Documents
// (draft-ietf-oauth-client-id-metadata-document): a client whose client_id
// is an https URL describes itself in a JSON document served at that URL,
// so that an authorization server that never met it learns its name and
// redirect URIs without a registration. MCP clients identify themselves
// this way.
//
// CheckURL says whether a client_id is a usable Client Identifier URL,
// Parse reads a document, and a Fetcher fetches documents through the
// SSRF guard (internal/ssrf) and keeps them for a while. What a client may
// then do is internal/oauth's and internal/service's to decide.
package cimd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/ssrf"
)

// MaxURLLength is the longest Client Identifier URL accepted, in bytes:
// as long as a redirect URI may be.
const MaxURLLength = 2000

// Error is why a client_id, or its document, cannot identify a client. Its
// text is fit to show the client's developer (an OAuth
// error_description): it names what is wrong, never more of the document
// than a field's name.
type Error struct {
	Description string
	// Err is the cause, when there is one besides the description: a
	// network failure, a budget refused (see WithBudget).
	Err error
}

func (e *Error) Error() string { return e.Description }
func (e *Error) Unwrap() error { return e.Err }

func errorf(format string, args ...any) *Error {
	return &Error{Description: fmt.Sprintf(format, args...)}
}

// IsURL reports whether clientID is meant as a Client Identifier URL
// rather than an id of this server's (which are numbers): it names a
// scheme. Whether it is a usable one is CheckURL's to say.
func IsURL(clientID string) bool { return strings.Contains(clientID, "://") }

// CheckURL checks a Client Identifier URL as the draft's section 3 has it:
// the https scheme, a host, a path, no user information, no fragment, no
// "." or ".." segment in the path (percent-encoded or not); a query is
// allowed, as the draft does (it only advises against one). Besides, the
// URL is printable ASCII of at most MaxURLLength bytes, and its host must
// pass p (ssrf.Policy.CheckHost): no local name, no address that p does
// not let a request reach. The URL is compared as a string everywhere, so
// nothing of it is normalized.
func CheckURL(raw string, p ssrf.Policy) error {
	switch {
	case len(raw) > MaxURLLength:
		return errorf("The client_id URL is longer than %d bytes.", MaxURLLength)
	case strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r >= 0x7f }):
		return errorf("The client_id URL must be printable ASCII, without spaces.")
	case !strings.HasPrefix(raw, "https://"):
		return errorf("A client_id URL must use https.")
	case strings.Contains(raw, "#"):
		return errorf("A client_id URL must not have a fragment.")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errorf("The client_id URL does not parse.")
	case u.User != nil:
		return errorf("A client_id URL must not hold a user name or password.")
	case u.Path == "":
		return errorf("A client_id URL must have a path, such as https://app.example.com/oauth/client.json.")
	}
	for seg := range strings.SplitSeq(u.EscapedPath(), "/") {
		if s, err := url.PathUnescape(seg); err != nil || s == "." || s == ".." {
			return errorf("A client_id URL's path must not have a . or .. segment.")
		}
	}
	if err := p.CheckHost(u); err != nil {
		return &Error{Description: "The client_id URL's host is not one this server fetches from: " + err.Error() + ".", Err: err}
	}
	return nil
}

// Document is a Client ID Metadata Document, the fields Latchkey reads of
// RFC 7591's client metadata.
type Document struct {
	ClientID     string
	ClientName   string // "" when the document gives none
	ClientURI    string // not shown: kept for the log and for completeness
	LogoURI      string // never fetched nor shown
	RedirectURIs []string
	// GrantTypes and ResponseTypes are as the document lists them (RFC
	// 7591's defaults, authorization_code and code, when it does not).
	GrantTypes    []string
	ResponseTypes []string
	// TokenEndpointAuthMethod is always "none": Parse refuses any other.
	TokenEndpointAuthMethod string
	Scope                   string // space-separated, "" for none
}

// document is a document as JSON has it: the fields Latchkey reads, and
// those whose presence alone refuses it.
type document struct {
	ClientID                *string         `json:"client_id"`
	ClientName              string          `json:"client_name"`
	ClientURI               string          `json:"client_uri"`
	LogoURI                 string          `json:"logo_uri"`
	RedirectURIs            []string        `json:"redirect_uris"`
	GrantTypes              []string        `json:"grant_types"`
	ResponseTypes           []string        `json:"response_types"`
	TokenEndpointAuthMethod *string         `json:"token_endpoint_auth_method"`
	Scope                   string          `json:"scope"`
	ClientSecret            json.RawMessage `json:"client_secret"`
	ClientSecretExpiresAt   json.RawMessage `json:"client_secret_expires_at"`
}

// Parse reads body, the document fetched at clientID, and checks what the
// draft asks of it and what this server needs:
//
//   - one JSON object, its fields of the types RFC 7591 gives them (null
//     is absent), nothing after it;
//   - client_id, equal to clientID character for character (section 4);
//   - redirect_uris, at least one (whether this server can use each is
//     for the caller to say);
//   - no client_secret nor client_secret_expires_at, and a
//     token_endpoint_auth_method of none or none given (section 4.1: no
//     secret can be shared through a document, and this server takes no
//     client assertions, so such a client is public and must use PKCE);
//   - grant_types, when given, including authorization_code, and
//     response_types, when given, including code: the only way this server
//     issues a first token. Other types a document may list for other
//     servers are ignored.
//
// Fields Latchkey does not read are ignored, as RFC 7591 section 2 asks.
// Errors are *Error.
func Parse(clientID string, body []byte) (*Document, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var d document
	if err := dec.Decode(&d); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, errorf("The client's metadata document has the field %s of the wrong JSON type.", te.Field)
		}
		return nil, errorf("The client's metadata document is not a JSON object.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errorf("The client's metadata document has more after its JSON object.")
	}
	switch {
	case d.ClientID == nil:
		return nil, errorf("The client's metadata document has no client_id.")
	case *d.ClientID != clientID:
		return nil, errorf("The client's metadata document names another client_id than its URL.")
	case len(d.RedirectURIs) == 0:
		return nil, errorf("The client's metadata document lists no redirect_uris.")
	case len(d.ClientSecret) > 0 || len(d.ClientSecretExpiresAt) > 0:
		return nil, errorf("The client's metadata document must not hold a client_secret: a client identified by a URL shares no secret.")
	case d.TokenEndpointAuthMethod != nil && *d.TokenEndpointAuthMethod != "none":
		return nil, errorf("The client's metadata document asks for token_endpoint_auth_method %q: this server takes clients identified by a URL as public clients only (none), which use PKCE.", truncate(*d.TokenEndpointAuthMethod))
	case len(d.GrantTypes) > 0 && !slices.Contains(d.GrantTypes, "authorization_code"):
		return nil, errorf("The client's metadata document's grant_types lack authorization_code, the only way this server issues a first token.")
	case len(d.ResponseTypes) > 0 && !slices.Contains(d.ResponseTypes, "code"):
		return nil, errorf("The client's metadata document's response_types lack code, the only one this server offers.")
	}
	doc := &Document{
		ClientID:                *d.ClientID,
		ClientName:              d.ClientName,
		ClientURI:               d.ClientURI,
		LogoURI:                 d.LogoURI,
		RedirectURIs:            d.RedirectURIs,
		GrantTypes:              d.GrantTypes,
		ResponseTypes:           d.ResponseTypes,
		TokenEndpointAuthMethod: "none",
		Scope:                   d.Scope,
	}
	if len(doc.GrantTypes) == 0 {
		doc.GrantTypes = []string{"authorization_code"}
	}
	if len(doc.ResponseTypes) == 0 {
		doc.ResponseTypes = []string{"code"}
	}
	return doc, nil
}

// truncate shortens what a document says to quote it in an error.
func truncate(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}
