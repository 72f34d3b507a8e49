package oauth

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/cimd"
	"github.com/latchkey/latchkey/internal/service"
)

// Clients identified by a Client ID Metadata Document
// (draft-ietf-oauth-client-id-metadata-document), as MCP clients may be:
// the client_id is an https URL, and the JSON document at that URL
// describes the client. Such a client needs no registration, and holds
// no secret: it is public, and must use PKCE.
//
// Its tokens, grants and consents need a client's row, as any client's
// do. The mapping: the row is found by the URL (latchkey.Client's
// MetadataURL, unique), and made the first time the URL comes to the
// authorization endpoint. fosite sees the URL as the client's id
// everywhere (newClient), so that what it stores with a code or refresh
// token, and what the client sends at the token and revocation
// endpoints, is the URL; the row's id is what tokens, grants and consents
// hold (clientRowID), and is not a client_id of its own (GetClient
// refuses it).
//
// The document is read where a person is asked to authorize: every
// authorization request of such a client (the consent form's answer
// included) has the document fetched or taken from the Fetcher's cache,
// checked, and the row made current from it (service.SyncMetadataClient)
// before fosite looks at the request, so that the redirect URI is held to
// the document as it is now. The token, revocation and introspection
// endpoints read the row, and fetch nothing: what they act on was
// authorized by a person against the document.

// SupportsClientMetadata reports whether p takes client_id URLs, as its
// metadata says (client_id_metadata_document_supported).
func (p *Provider) SupportsClientMetadata() bool { return p.cfg.ClientMetadata != nil }

// metadataClient makes current the client of an authorization request
// whose client_id is a URL, from its document; it does nothing for
// another. Every refusal is one that must not be sent to a redirect URI
// (RFC 6749 section 4.1.2.1: the client, or its redirect URI, cannot be
// trusted): invalid_client when the URL or its document cannot identify
// a client, invalid_request when the request names no redirect URI.
func (p *Provider) metadataClient(ctx context.Context, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return nil // fosite reports the unreadable form
	}
	id := r.Form.Get("client_id")
	if !cimd.IsURL(id) {
		return nil
	}
	if p.cfg.ClientMetadata == nil {
		return fosite.ErrInvalidClient.WithHint("This server does not take client_id URLs (client ID metadata documents).")
	}
	doc, err := p.cfg.ClientMetadata.Fetch(ctx, id)
	if err != nil {
		hint := err.Error()
		if e, ok := errors.AsType[*cimd.Error](err); ok {
			hint = e.Description
		}
		return fosite.ErrInvalidClient.WithHint(hint).WithWrap(err)
	}
	// Whatever the document lists, the request says which redirect URI
	// it means: a code goes nowhere the request did not name.
	if r.Form.Get("redirect_uri") == "" {
		return fosite.ErrInvalidRequest.WithHint("A client identified by a URL must send redirect_uri.")
	}
	_, err = p.svc.SyncMetadataClient(ctx, originOf(ctx), service.MetadataClient{
		URL: id, Name: doc.ClientName, RedirectURIs: doc.RedirectURIs, Scopes: strings.Fields(doc.Scope),
	})
	if e, ok := errors.AsType[*latchkey.Error](err); ok && e.Code == latchkey.EINVALID {
		hint := e.Message
		for _, f := range e.Fields {
			if len(f.Sentences) > 0 {
				hint = f.Sentences[0]
				break
			}
		}
		p.log.InfoContext(ctx, "client metadata document refused", "client_id", id, "err", hint)
		return fosite.ErrInvalidClient.WithHint("The client's metadata document cannot be used: " + hint)
	}
	if err != nil {
		p.log.ErrorContext(ctx, "keeping a metadata document's client", "client_id", id, "err", err)
		return fosite.ErrServerError.WithWrap(err)
	}
	return nil
}
