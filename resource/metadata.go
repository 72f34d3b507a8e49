package resource

import (
	"encoding/json"
	"net/http"
	"net/url"
)

// WellKnownPath is RFC 9728's well-known path. A resource's document is at
// it followed by the resource's path (section 3.1): the document of
// https://mcp.example.com/mcp is at
// https://mcp.example.com/.well-known/oauth-protected-resource/mcp.
const WellKnownPath = "/.well-known/oauth-protected-resource"

// metadataPath returns the path of the RFC 9728 document of resource, a
// URI in normal form.
func metadataPath(resource string) string {
	u, _ := url.Parse(resource)
	return WellKnownPath + u.EscapedPath()
}

// MetadataPath returns the path at which the resource's RFC 9728 document
// is looked for: WellKnownPath followed by the resource's path.
func (v *Verifier) MetadataPath() string { return metadataPath(v.resource) }

// MetadataURL returns the URL of the resource's RFC 9728 document, which
// every 401 and 403 of the middleware names as resource_metadata.
func (v *Verifier) MetadataURL() string { return v.metadataURL }

// resourceMetadata is RFC 9728's protected resource metadata (section 2),
// the members that apply, in the order the RFC lists them.
type resourceMetadata struct {
	Resource             string   `json:"resource"`
	AuthorizationServers []string `json:"authorization_servers"`
	ScopesSupported      []string `json:"scopes_supported,omitempty"`
	// BearerMethods is "header" alone: the middleware reads a token from
	// the Authorization header, never from a form or the query string.
	BearerMethods []string `json:"bearer_methods_supported"`
	ResourceName  string   `json:"resource_name,omitempty"`
}

func metadataDocument(resource, issuer string, scopes []string, name string) []byte {
	b, _ := json.Marshal(resourceMetadata{
		Resource:             resource,
		AuthorizationServers: []string{issuer},
		ScopesSupported:      scopes,
		BearerMethods:        []string{"header"},
		ResourceName:         name,
	})
	return append(b, '\n')
}

// MetadataHandler serves the resource's RFC 9728 document to GET and
// HEAD: resource (in normal form), authorization_servers (the issuer),
// scopes_supported (Config.Scopes), bearer_methods_supported ("header")
// and resource_name (Config.ResourceName). Mount it at MetadataPath, and,
// for clients that look there first or only, at WellKnownPath:
//
//	mux.Handle(v.MetadataPath(), v.MetadataHandler())
//	mux.Handle(resource.WellKnownPath, v.MetadataHandler())
//
// The document names no secret and changes only with the configuration,
// so it may be cached for five minutes, and read from any origin (a
// browser-based client reads it before it has a token).
func (v *Verifier) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSONError(w, http.StatusMethodNotAllowed, "invalid_request", "The metadata is read with GET.")
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("Access-Control-Allow-Origin", "*")
		_, _ = w.Write(v.metadataDoc)
	})
}
