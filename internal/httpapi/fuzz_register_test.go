package httpapi_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/httpapi"
)

// FuzzDecodeRegistrationRequest feeds the registration decoder any body,
// in each mode. It never panics; it refuses with one of RFC 7591's two
// codes, or returns a request that holds a redirect URI, a method the
// mode allows, and only the grant and response types the server offers.
// What it accepts decodes again, re-encoded, to itself.
func FuzzDecodeRegistrationRequest(f *testing.F) {
	for _, seed := range []string{
		// What MCP clients send.
		`{"redirect_uris":["http://127.0.0.1:33418/callback"],"client_name":"Editor","token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],"response_types":["code"],"scope":"tokens.read"}`,
		// The least: one redirect URI.
		`{"redirect_uris":["https://app.example.com/cb"]}`,
		// A confidential client; only mode open takes it.
		`{"redirect_uris":["https://app.example.com/cb"],"token_endpoint_auth_method":"client_secret_post"}`,
		// Wrong types, nulls, repeats, unknown fields.
		`{"redirect_uris":"https://app.example.com/cb"}`,
		`{"redirect_uris":null,"grant_types":null}`,
		`{"redirect_uris":["a"],"grant_types":["authorization_code","authorization_code"],"response_types":["code","code"]}`,
		`{"redirect_uris":["a"],"jwks":{"keys":[]},"contacts":["a@example.com"],"software_statement":"x.y.z"}`,
		`{"redirect_uris":["a"],"grant_types":["implicit"],"response_types":["token"]}`,
		`{"redirect_uris":["a"],"scope":1}`,
		// Not an object.
		`[]`, `null`, `"x"`, ``, `{`, `{"redirect_uris":["\ud800"]}`,
	} {
		f.Add([]byte(seed))
	}
	modes := []httpapi.RegistrationMode{httpapi.RegistrationPublic, httpapi.RegistrationOpen}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, mode := range modes {
			req, err := httpapi.DecodeRegistrationRequest(body, mode)
			if err != nil {
				var re *httpapi.RegistrationError
				if !errors.As(err, &re) || (re.Code != "invalid_redirect_uri" && re.Code != "invalid_client_metadata") || re.Description == "" {
					t.Fatalf("DecodeRegistrationRequest(%q, %s) = %v, want an RFC 7591 error", body, mode, err)
				}
				continue
			}
			if len(req.RedirectURIs) == 0 {
				t.Errorf("DecodeRegistrationRequest(%q, %s) accepted no redirect URI", body, mode)
			}
			switch m := req.TokenEndpointAuthMethod; {
			case m == "none":
			case mode == httpapi.RegistrationOpen && (m == "client_secret_basic" || m == "client_secret_post"):
			default:
				t.Errorf("DecodeRegistrationRequest(%q, %s) method = %q", body, mode, m)
			}
			if !slices.Contains(req.GrantTypes, "authorization_code") {
				t.Errorf("DecodeRegistrationRequest(%q, %s) grant types %q lack authorization_code", body, mode, req.GrantTypes)
			}
			for _, g := range req.GrantTypes {
				if g != "authorization_code" && g != "refresh_token" {
					t.Errorf("DecodeRegistrationRequest(%q, %s) grant type %q", body, mode, g)
				}
			}
			if !slices.Equal(req.ResponseTypes, []string{"code"}) {
				t.Errorf("DecodeRegistrationRequest(%q, %s) response types %q, want [code]", body, mode, req.ResponseTypes)
			}
			again, err := json.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			back, err := httpapi.DecodeRegistrationRequest(again, mode)
			if err != nil {
				t.Fatalf("DecodeRegistrationRequest(%s), re-encoded, = %v", again, err)
			}
			if diff := cmp.Diff(req, back); diff != "" {
				t.Errorf("DecodeRegistrationRequest round trip (-first +again):\n%s", diff)
			}
		}
	})
}
