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
}

// CreateResource registers a resource server, as the operator: from now
// on an authorization request naming its URI as resource gets a token
// for it. EINVALID for a bad URI, name or scope (fields uri, name,
// scopes); ECONFLICT when a resource with the same URI, once normalized,
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
	if err := fe.Err(); err != nil {
		return nil, err
	}
	r := &latchkey.Resource{URI: uri, Name: name, Scopes: scopes, CreatedAt: s.now()}
	// The store sets the record's subject to the new resource's id.
	rec := s.auditRecord(Operator(), latchkey.AuditRecord{Action: latchkey.AuditResourceCreated, Detail: uri + " scopes " + strings.Join(scopes, " ")})
	if err := s.store.CreateResource(ctx, r, rec); err != nil {
		return nil, err
	}
	s.log.Info("resource registered", "resource_id", r.ID, "uri", uri, "scopes", scopes)
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

// DeleteResource unregisters a resource, as the operator. Authorization
// requests naming it are refused from now on (invalid_target), and so
// are its codes and refresh tokens at the token endpoint, even should a
// resource be registered at its URI again; access tokens already issued
// for it are left to expire, as its own server, not Latchkey, accepts
// them. ENOTFOUND when there is none.
func (s *Service) DeleteResource(ctx context.Context, r *latchkey.Resource) error {
	rec := s.auditRecord(Operator(), latchkey.AuditRecord{Action: latchkey.AuditResourceDeleted, SubjectID: idString(r.ID), Detail: r.URI})
	if err := s.store.DeleteResource(ctx, r.ID, rec); err != nil {
		if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
			return latchkey.Errorf(latchkey.ENOTFOUND, "no resource %d", r.ID)
		}
		return err
	}
	s.log.Info("resource deleted", "resource_id", r.ID, "uri", r.URI)
	return nil
}

// uriMessage is what latchkey.NormalizeResourceURI says is wrong.
func uriMessage(err error) string {
	var e *latchkey.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "The resource is not a valid URI."
}
