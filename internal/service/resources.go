package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/latchkey/latchkey"
)

// NewResource is a resource server the operator registers (RFC 8707).
type NewResource struct {
	URI    string   // normalized as latchkey.CheckResourceURI says
	Name   string   // shown on the consent page
	Scopes []string // the scopes it understands: at least one
	// DefaultScopes are some of Scopes, granted to a request that names
	// no scope when none of its application's default scopes is one the
	// resource understands. None: all of Scopes.
	DefaultScopes []string
}

// CreateResource registers a resource server, as the operator: from now
// on an authorization request naming its URI as resource gets a token
// for it. EINVALID for a bad URI, name or scope (fields uri, name,
// scopes), or a default scope not among the scopes (default_scopes);
// ECONFLICT when a resource with the same URI, once normalized,
// is registered.
func (s *Service) CreateResource(ctx context.Context, n NewResource) (*latchkey.Resource, error) {
	name := strings.TrimSpace(n.Name)
	fe := checkName(name)
	uri, err := latchkey.CheckResourceURI(strings.TrimSpace(n.URI))
	if err != nil {
		fe.Add("uri", uriMessage(err))
	}
	var scopes []string
	for _, sc := range n.Scopes {
		switch sc = strings.TrimSpace(sc); {
		case sc == "":
		case !latchkey.ValidScopeName(sc):
			fe.Add("scopes", fmt.Sprintf("The scope %q is not 1 to 100 letters, digits and . _ : / -, starting with a letter or digit.", sc))
		case !slices.Contains(scopes, sc):
			scopes = append(scopes, sc)
		}
	}
	switch {
	case len(scopes) == 0 && len(fe.Get("scopes")) == 0:
		fe.Add("scopes", "A resource understands at least one scope.")
	case len(scopes) > latchkey.MaxResourceScopes:
		fe.Add("scopes", fmt.Sprintf("A resource understands at most %d scopes.", latchkey.MaxResourceScopes))
	}
	// All of its scopes by default: the person approving sees each one
	// granted on the consent page, and an MCP server that wants fewer
	// asks for more only as a tool needs it (403 insufficient_scope), so
	// an operator after least privilege names the few.
	var defaults []string
	for _, sc := range n.DefaultScopes {
		switch sc = strings.TrimSpace(sc); {
		case sc == "":
		case !slices.Contains(scopes, sc):
			fe.Add("default_scopes", fmt.Sprintf("The default scope %q is not one of the resource's scopes: %s.", sc, strings.Join(scopes, ", ")))
		case !slices.Contains(defaults, sc):
			defaults = append(defaults, sc)
		}
	}
	if len(defaults) == 0 && len(fe.Get("default_scopes")) == 0 {
		defaults = scopes
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	r := &latchkey.Resource{URI: uri, Name: name, Scopes: scopes, DefaultScopes: slices.Clone(defaults), CreatedAt: s.now()}
	// The store sets the record's subject to the new resource's id.
	rec := s.auditRecord(Operator(), latchkey.AuditRecord{Action: latchkey.AuditResourceCreated,
		Detail: uri + " scopes " + strings.Join(scopes, " ") + " default " + strings.Join(defaults, " ")})
	if err := s.store.CreateResource(ctx, r, rec); err != nil {
		return nil, err
	}
	s.log.Info("resource registered", "resource_id", r.ID, "uri", uri, "scopes", scopes, "default_scopes", r.DefaultScopes)
	return r, nil
}

// Resources lists the registered resources, by id.
func (s *Service) Resources(ctx context.Context) ([]*latchkey.Resource, error) {
	return s.store.Resources(ctx)
}

// FindResource returns the resource ref names: its id, or its URI in
// any spelling that normalizes to the registered one. ENOTFOUND when
// there is none.
func (s *Service) FindResource(ctx context.Context, ref string) (*latchkey.Resource, error) {
	ref = strings.TrimSpace(ref)
	if strings.Trim(ref, "0123456789") == "" && ref != "" {
		list, err := s.store.Resources(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range list {
			if idString(r.ID) == ref {
				return r, nil
			}
		}
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "no resource %s", ref)
	}
	uri, err := latchkey.NormalizeResourceURI(ref)
	if err != nil {
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "no resource %s: %s", ref, uriMessage(err))
	}
	r, err := s.store.Resource(ctx, uri)
	if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "no resource %s", uri)
	}
	return r, err
}

// DeleteResource unregisters a resource, as the operator, and says how
// many tokens it revoked. Authorization requests naming it are refused
// from now on (invalid_target), and so are its codes and refresh tokens
// at the token endpoint, even should a resource be registered at its URI
// again; the access tokens issued for it are revoked
// (ReasonResourceDeleted), so that introspection calls them inactive on
// every server before this returns. A resource server that verifies the
// JWTs itself accepts them until they expire: revocation reaches it only
// through introspection. ENOTFOUND when there is none.
func (s *Service) DeleteResource(ctx context.Context, r *latchkey.Resource) (int, error) {
	rec := s.auditRecord(Operator(), latchkey.AuditRecord{Action: latchkey.AuditResourceDeleted, Notify: latchkey.NoteTokenRevoked, SubjectID: idString(r.ID), Detail: r.URI})
	ts, err := s.store.DeleteResource(ctx, r.ID, rec.At, rec)
	if err != nil {
		if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
			return 0, latchkey.Errorf(latchkey.ENOTFOUND, "no resource %d", r.ID)
		}
		return 0, err
	}
	// Every replica forgets the tokens before the answer, as for any
	// revocation.
	s.revoked(ctx, ts, string(latchkey.ReasonResourceDeleted))
	s.log.Info("resource deleted", "resource_id", r.ID, "uri", r.URI, "tokens_revoked", len(ts))
	return len(ts), nil
}

// uriMessage is what latchkey.NormalizeResourceURI says is wrong.
func uriMessage(err error) string {
	var e *latchkey.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "The resource is not a valid URI."
}
