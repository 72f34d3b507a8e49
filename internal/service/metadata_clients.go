package service

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/latchkey/latchkey"
)

// MetadataClient is what a client's Client ID Metadata Document says of
// it (draft-ietf-oauth-client-id-metadata-document), as internal/oauth
// read it.
type MetadataClient struct {
	// URL is the document's URL, the client's client_id.
	URL string
	// Name is the document's client_name, "" when it gives none.
	Name         string
	RedirectURIs []string
	// Scopes are those of the document's scope.
	Scopes []string
}

// SyncMetadataClient returns the client whose client_id is m.URL, as its
// document m describes it now. The first time, the client is made: public
// (it holds no secret, and must use PKCE), marked SelfRegistered (so that,
// should it issue no token, the hourly prune deletes it after
// RegistrationLifetime, as it does a client registered at
// /oauth/register) and audited as registered by someone not signed in at
// origin. Later, its name, redirect URIs and default scopes are rewritten
// when the document changed them, audited as client.updated. A revoked
// client is returned as it is, not rewritten: the operator revoked it.
//
// The document is written for every authorization server, so what this
// one cannot use is left out rather than refused: a redirect URI that
// RegisterClient would refuse (another scheme, http to a host not on
// the loopback, a comma), and a scope the server does not know. Its
// name, or the URL's host when it gives none, must be one RegisterClient
// takes. EINVALID, the fields named name and redirect_uris, when the name
// cannot be, or when no redirect URI is left, or more than
// MaxRedirectURIs.
func (s *Service) SyncMetadataClient(ctx context.Context, origin latchkey.Origin, m MetadataClient) (*latchkey.Client, error) {
	want, err := s.metadataClient(m)
	if err != nil {
		return nil, err
	}
	for range 2 {
		c, err := s.store.ClientByMetadataURL(ctx, m.URL)
		switch {
		case latchkey.ErrorCode(err) == latchkey.ENOTFOUND:
			now := s.now()
			want.CreatedAt, want.UpdatedAt = now, now
			rec := s.auditRecord(&latchkey.Principal{Origin: origin}, latchkey.AuditRecord{Action: latchkey.AuditClientAdded, Detail: want.Name + " (" + m.URL + ")"})
			err := s.store.CreateClient(ctx, want, rec)
			if latchkey.ErrorCode(err) == latchkey.ECONFLICT {
				continue // made meanwhile, by another request or server: read it
			}
			if err != nil {
				return nil, err
			}
			s.log.Info("client registered", "client_id", want.ID, "name", want.Name, "metadata_url", m.URL)
			return want, nil
		case err != nil:
			return nil, err
		case c.Revoked:
			return c, nil
		}
		changed := changes(c, want)
		if len(changed) == 0 {
			return c, nil
		}
		c.Name, c.Redirect, c.DefaultScopes, c.UpdatedAt = want.Name, want.Redirect, want.DefaultScopes, s.now()
		rec := s.auditRecord(&latchkey.Principal{Origin: origin}, latchkey.AuditRecord{Action: latchkey.AuditClientUpdated,
			SubjectID: idString(c.ID), Detail: "metadata document changed: " + strings.Join(changed, ", ")})
		if err := s.store.UpdateClient(ctx, c, rec); err != nil {
			return nil, err
		}
		s.log.Info("client updated from its metadata document", "client_id", c.ID, "name", c.Name, "changed", changed)
		return c, nil
	}
	return nil, fmt.Errorf("client of %s: made and gone again while it was read", m.URL)
}

// metadataClient is the client m describes, as it is stored: what of it
// this server can use (see SyncMetadataClient).
func (s *Service) metadataClient(m MetadataClient) (*latchkey.Client, error) {
	name := strings.TrimSpace(m.Name)
	if name == "" {
		if u, err := url.Parse(m.URL); err == nil {
			name = u.Hostname()
		}
	}
	fe := checkName(name)
	var uris []string
	for _, u := range m.RedirectURIs {
		if u = strings.TrimSpace(u); checkRedirectURI(u) == "" && !slices.Contains(uris, u) {
			uris = append(uris, u)
		}
	}
	switch {
	case len(uris) == 0:
		fe.Add("redirect_uris", "The metadata document lists no redirect URI this server accepts: https, or http on localhost, 127.0.0.1 or [::1], without a fragment.")
	case len(uris) > MaxRedirectURIs:
		fe.Add("redirect_uris", fmt.Sprintf("The metadata document lists more than %d redirect URIs this server accepts.", MaxRedirectURIs))
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	var defaults latchkey.Scopes
	for _, sc := range m.Scopes {
		if slices.Contains(s.scopes, sc) && !slices.Contains(defaults, sc) {
			defaults = append(defaults, sc)
		}
	}
	return &latchkey.Client{
		Name:           name,
		Redirect:       strings.Join(uris, ","),
		DefaultScopes:  defaults,
		SelfRegistered: true,
		MetadataURL:    m.URL,
	}, nil
}

// changes names what of c want differs in: its name, redirect URIs or
// default scopes.
func changes(c, want *latchkey.Client) []string {
	var changed []string
	if c.Name != want.Name {
		changed = append(changed, "name")
	}
	if c.Redirect != want.Redirect {
		changed = append(changed, "redirect URIs")
	}
	if !slices.Equal(c.DefaultScopes, want.DefaultScopes) {
		changed = append(changed, "default scopes")
	}
	return changed
}
