package service

import (
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
)

func TestCreateResource(t *testing.T) {
	svc, st := newTestService(t, Config{})
	ctx := t.Context()
	r, err := svc.CreateResource(ctx, NewResource{URI: " HTTPS://MCP.Example.com:443/mcp/ ", Name: "  Tools  ", Scopes: []string{"mcp:tools", " mcp:tools", "", "mcp:resources"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.URI != "https://mcp.example.com/mcp" || r.Name != "Tools" || strings.Join(r.Scopes, " ") != "mcp:tools mcp:resources" || r.ID == 0 {
		t.Errorf("CreateResource = %+v; want the normal URI, the trimmed name, the scopes once each, an id", r)
	}
	// No default scopes named: all of its scopes.
	if strings.Join(r.DefaultScopes, " ") != "mcp:tools mcp:resources" {
		t.Errorf("CreateResource's default scopes = %q, want all its scopes", r.DefaultScopes)
	}
	recs, err := st.AuditRecords(ctx, latchkey.AuditFilter{Action: latchkey.AuditResourceCreated})
	if err != nil || len(recs) != 1 || recs[0].SubjectID != idString(r.ID) || recs[0].Actor != latchkey.ActorOperator || !strings.Contains(recs[0].Detail, r.URI) {
		t.Errorf("audit of the registration = %+v, %v", recs, err)
	}

	d, err := svc.CreateResource(ctx, NewResource{URI: "https://d.example/mcp", Name: "D", Scopes: []string{"a", "b", "c"}, DefaultScopes: []string{" c", "a", "c", ""}})
	if err != nil || strings.Join(d.DefaultScopes, " ") != "c a" {
		t.Errorf("CreateResource with default scopes = %+v, %v; want them trimmed, once each, in their order: c a", d, err)
	}

	// The same URI in another spelling is the same resource.
	_, err = svc.CreateResource(ctx, NewResource{URI: "https://mcp.example.com/mcp", Name: "Again", Scopes: []string{"x"}})
	if latchkey.ErrorCode(err) != latchkey.ECONFLICT {
		t.Errorf("CreateResource of a registered URI = %v, want ECONFLICT", err)
	}

	for _, tc := range []struct {
		name  string
		n     NewResource
		field string
	}{
		{"no URI", NewResource{Name: "x", Scopes: []string{"a"}}, "uri"},
		{"a fragment", NewResource{URI: "https://a.example/#x", Name: "x", Scopes: []string{"a"}}, "uri"},
		{"http elsewhere than loopback", NewResource{URI: "http://a.example/mcp", Name: "x", Scopes: []string{"a"}}, "uri"},
		{"no name", NewResource{URI: "https://a.example/mcp", Scopes: []string{"a"}}, "name"},
		{"no scope", NewResource{URI: "https://a.example/mcp", Name: "x", Scopes: []string{" "}}, "scopes"},
		{"scope *", NewResource{URI: "https://a.example/mcp", Name: "x", Scopes: []string{"*"}}, "scopes"},
		{"scope with a space", NewResource{URI: "https://a.example/mcp", Name: "x", Scopes: []string{"a b"}}, "scopes"},
		{"a default scope it does not understand", NewResource{URI: "https://a.example/mcp", Name: "x", Scopes: []string{"a"}, DefaultScopes: []string{"a", "b"}}, "default_scopes"},
	} {
		_, err := svc.CreateResource(ctx, tc.n)
		var e *latchkey.Error
		if !asError(err, &e) || e.Code != latchkey.EINVALID || len(e.Fields.Get(tc.field)) == 0 {
			t.Errorf("%s: CreateResource = %v, want EINVALID on %s", tc.name, err, tc.field)
		}
	}
	many := make([]string, latchkey.MaxResourceScopes+1)
	for i := range many {
		many[i] = "s" + idString(int64(i))
	}
	if _, err := svc.CreateResource(ctx, NewResource{URI: "https://b.example/mcp", Name: "x", Scopes: many}); latchkey.ErrorCode(err) != latchkey.EINVALID {
		t.Errorf("CreateResource with %d scopes = %v, want EINVALID", len(many), err)
	}
}

func TestFindAndDeleteResource(t *testing.T) {
	svc, st := newTestService(t, Config{})
	ctx := t.Context()
	r, err := svc.CreateResource(ctx, NewResource{URI: "https://mcp.example.com/mcp", Name: "Tools", Scopes: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{idString(r.ID), "https://MCP.example.com/mcp/", " https://mcp.example.com:443/mcp "} {
		got, err := svc.FindResource(ctx, ref)
		if err != nil || got.ID != r.ID {
			t.Errorf("FindResource(%q) = %+v, %v; want resource %d", ref, got, err, r.ID)
		}
	}
	for _, ref := range []string{"99", "https://other.example/mcp", "not a uri", ""} {
		if _, err := svc.FindResource(ctx, ref); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Errorf("FindResource(%q) = %v, want ENOTFOUND", ref, err)
		}
	}
	if _, err := svc.DeleteResource(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DeleteResource(ctx, r); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		t.Errorf("DeleteResource again = %v, want ENOTFOUND", err)
	}
	recs, err := st.AuditRecords(ctx, latchkey.AuditFilter{Action: latchkey.AuditResourceDeleted})
	if err != nil || len(recs) != 1 || recs[0].SubjectID != idString(r.ID) {
		t.Errorf("audit of the deletion = %+v, %v", recs, err)
	}
}
