package cimd_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/cimd"
	"github.com/latchkey/latchkey/internal/ssrf"
)

func TestCheckURL(t *testing.T) {
	long := "https://app.example.com/" + strings.Repeat("a", cimd.MaxURLLength-len("https://app.example.com/"))
	for _, tc := range []struct {
		url  string
		want string // the start of the error, "" for none
	}{
		{"https://app.example.com/oauth/client.json", ""},
		{"https://app.example.com/", ""},
		{"https://app.example.com:8443/client", ""},
		{"https://app.example.com/client?v=2", ""},
		{"https://app.example.com/a/.well-known/client", ""},
		{"https://93.184.215.14/client.json", ""},
		{long, ""},
		{long + "a", "The client_id URL is longer than 2000 bytes."},
		{"http://app.example.com/client.json", "A client_id URL must use https."},
		{"HTTPS://app.example.com/client.json", "A client_id URL must use https."},
		{"ftp://app.example.com/client.json", "A client_id URL must use https."},
		{"app.example.com/client.json", "A client_id URL must use https."},
		{"https://app.example.com", "A client_id URL must have a path"},
		{"https://app.example.com?x=1", "A client_id URL must have a path"},
		{"https://app.example.com/client.json#frag", "A client_id URL must not have a fragment."},
		{"https://app.example.com/client.json#", "A client_id URL must not have a fragment."},
		{"https://user:pw@app.example.com/client.json", "A client_id URL must not hold a user name or password."},
		{"https://user@app.example.com/client.json", "A client_id URL must not hold a user name or password."},
		{"https://app.example.com/./client.json", "A client_id URL's path must not have a . or .. segment."},
		{"https://app.example.com/a/../client.json", "A client_id URL's path must not have a . or .. segment."},
		{"https://app.example.com/a/..", "A client_id URL's path must not have a . or .. segment."},
		{"https://app.example.com/%2e%2E/client.json", "A client_id URL's path must not have a . or .. segment."},
		{"https://app.example.com/a/%2e", "A client_id URL's path must not have a . or .. segment."},
		{"https://app.example.com/client json", "The client_id URL must be printable ASCII"},
		{"https://app.example.com/clïent", "The client_id URL must be printable ASCII"},
		{"https://app.example.com/\x00", "The client_id URL must be printable ASCII"},
		{"https://app.example.com/%zz", "The client_id URL does not parse."},
		{"https://127.0.0.1/client.json", "The client_id URL's host is not one this server fetches from: address 127.0.0.1 is loopback."},
		{"https://localhost/client.json", "The client_id URL's host is not one this server fetches from: the host \"localhost\" is this machine."},
		{"https://169.254.169.254/latest", "The client_id URL's host is not one this server fetches from: address 169.254.169.254 is link-local."},
		{"https://[::1]/client.json", "The client_id URL's host is not one this server fetches from"},
		{"https://0x7f.1/client.json", "The client_id URL's host is not one this server fetches from"},
		{"https://metadata.google.internal/client.json", "The client_id URL's host is not one this server fetches from"},
		{"https://app.example.com:0/client.json", "The client_id URL's host is not one this server fetches from"},
		{"https:///client.json", "The client_id URL's host is not one this server fetches from"},
	} {
		err := cimd.CheckURL(tc.url, ssrf.Policy{})
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)) {
			t.Errorf("CheckURL(%.80q) = %v, want %q", tc.url, err, tc.want)
		}
	}
	// The loopback only when the policy allows it: tests' servers.
	for _, u := range []string{"https://127.0.0.1:8443/client.json", "https://[::1]:8443/client.json"} {
		if err := cimd.CheckURL(u, ssrf.Policy{AllowLoopback: true}); err != nil {
			t.Errorf("CheckURL(%q) allowing the loopback = %v, want nil", u, err)
		}
	}
	if err := cimd.CheckURL("https://10.0.0.1/client.json", ssrf.Policy{AllowLoopback: true}); err == nil {
		t.Error("CheckURL(https://10.0.0.1/...) allowing the loopback = nil, want an error")
	}
}

func TestIsURL(t *testing.T) {
	for id, want := range map[string]bool{
		"https://app.example.com/c.json": true,
		"http://app.example.com/c.json":  true,
		"7":                              false,
		"":                               false,
		"app.example.com/c.json":         false,
	} {
		if got := cimd.IsURL(id); got != want {
			t.Errorf("IsURL(%q) = %v, want %v", id, got, want)
		}
	}
}

const clientURL = "https://app.example.com/oauth/client.json"

func TestParse(t *testing.T) {
	doc, err := cimd.Parse(clientURL, []byte(`{
		"client_id": "https://app.example.com/oauth/client.json",
		"client_name": "Example Agent",
		"client_uri": "https://app.example.com",
		"logo_uri": "https://app.example.com/logo.png",
		"redirect_uris": ["http://127.0.0.1:3000/callback", "https://app.example.com/callback"],
		"grant_types": ["authorization_code", "refresh_token"],
		"response_types": ["code"],
		"token_endpoint_auth_method": "none",
		"scope": "tokens.read mcp:tools",
		"software_id": "ignored",
		"jwks_uri": "https://app.example.com/jwks.json"
	}`))
	if err != nil {
		t.Fatalf("Parse() = %v", err)
	}
	want := &cimd.Document{
		ClientID: clientURL, ClientName: "Example Agent", ClientURI: "https://app.example.com", LogoURI: "https://app.example.com/logo.png",
		RedirectURIs:            []string{"http://127.0.0.1:3000/callback", "https://app.example.com/callback"},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		TokenEndpointAuthMethod: "none",
		Scope:                   "tokens.read mcp:tools",
	}
	if diff := cmp.Diff(want, doc); diff != "" {
		t.Errorf("Parse() mismatch (-want +got):\n%s", diff)
	}

	// The least a document may say: RFC 7591's defaults, and a public
	// client's method.
	doc, err = cimd.Parse(clientURL, []byte(` {"client_id":"`+clientURL+`","redirect_uris":["https://app.example.com/cb"],"client_name":null} `+"\n"))
	if err != nil {
		t.Fatalf("Parse(the least) = %v", err)
	}
	want = &cimd.Document{ClientID: clientURL, RedirectURIs: []string{"https://app.example.com/cb"},
		GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"}, TokenEndpointAuthMethod: "none"}
	if diff := cmp.Diff(want, doc); diff != "" {
		t.Errorf("Parse(the least) mismatch (-want +got):\n%s", diff)
	}
	// Types a document lists for other servers are ignored.
	if _, err := cimd.Parse(clientURL, []byte(`{"client_id":"`+clientURL+`","redirect_uris":["https://app.example.com/cb"],
		"grant_types":["authorization_code","urn:ietf:params:oauth:grant-type:device_code"],"response_types":["code","token"]}`)); err != nil {
		t.Errorf("Parse(with other grant and response types too) = %v, want nil", err)
	}
}

func TestParseRefuses(t *testing.T) {
	const uris = `"redirect_uris":["https://app.example.com/cb"]`
	id := `"client_id":"` + clientURL + `"`
	for _, tc := range []struct {
		name, body, want string
	}{
		{"not JSON", `client_id=x`, "The client's metadata document is not a JSON object."},
		{"an array", `[{` + id + `,` + uris + `}]`, "The client's metadata document is not a JSON object."},
		{"a string", `"` + clientURL + `"`, "The client's metadata document is not a JSON object."},
		{"empty", ``, "The client's metadata document is not a JSON object."},
		{"truncated", `{` + id + `,` + uris, "The client's metadata document is not a JSON object."},
		{"two objects", `{` + id + `,` + uris + `}{}`, "The client's metadata document has more after its JSON object."},
		{"trailing text", `{` + id + `,` + uris + `} x`, "The client's metadata document has more after its JSON object."},
		{"no client_id", `{` + uris + `}`, "The client's metadata document has no client_id."},
		{"null client_id", `{"client_id":null,` + uris + `}`, "The client's metadata document has no client_id."},
		{"another client_id", `{"client_id":"https://other.example.com/oauth/client.json",` + uris + `}`, "The client's metadata document names another client_id than its URL."},
		{"client_id with a final slash", `{"client_id":"` + clientURL + `/",` + uris + `}`, "The client's metadata document names another client_id than its URL."},
		{"client_id with the port said", `{"client_id":"https://app.example.com:443/oauth/client.json",` + uris + `}`, "The client's metadata document names another client_id than its URL."},
		{"client_id of another case", `{"client_id":"https://APP.example.com/oauth/client.json",` + uris + `}`, "The client's metadata document names another client_id than its URL."},
		{"client_id a number", `{"client_id":7,` + uris + `}`, "The client's metadata document has the field client_id of the wrong JSON type."},
		{"no redirect_uris", `{` + id + `}`, "The client's metadata document lists no redirect_uris."},
		{"empty redirect_uris", `{` + id + `,"redirect_uris":[]}`, "The client's metadata document lists no redirect_uris."},
		{"redirect_uris a string", `{` + id + `,"redirect_uris":"https://app.example.com/cb"}`, "The client's metadata document has the field redirect_uris of the wrong JSON type."},
		{"client_secret", `{` + id + `,` + uris + `,"client_secret":"s3cr3t"}`, "The client's metadata document must not hold a client_secret"},
		{"client_secret null", `{` + id + `,` + uris + `,"client_secret":null}`, "The client's metadata document must not hold a client_secret"},
		{"client_secret_expires_at", `{` + id + `,` + uris + `,"client_secret_expires_at":0}`, "The client's metadata document must not hold a client_secret"},
		{"client_secret_basic", `{` + id + `,` + uris + `,"token_endpoint_auth_method":"client_secret_basic"}`, `The client's metadata document asks for token_endpoint_auth_method "client_secret_basic"`},
		{"client_secret_post", `{` + id + `,` + uris + `,"token_endpoint_auth_method":"client_secret_post"}`, `The client's metadata document asks for token_endpoint_auth_method "client_secret_post"`},
		{"client_secret_jwt", `{` + id + `,` + uris + `,"token_endpoint_auth_method":"client_secret_jwt"}`, `The client's metadata document asks for token_endpoint_auth_method "client_secret_jwt"`},
		{"private_key_jwt", `{` + id + `,` + uris + `,"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://app.example.com/jwks"}`, `The client's metadata document asks for token_endpoint_auth_method "private_key_jwt"`},
		{"empty auth method", `{` + id + `,` + uris + `,"token_endpoint_auth_method":""}`, `The client's metadata document asks for token_endpoint_auth_method ""`},
		{"no authorization_code", `{` + id + `,` + uris + `,"grant_types":["client_credentials"]}`, "The client's metadata document's grant_types lack authorization_code"},
		{"no code", `{` + id + `,` + uris + `,"response_types":["token"]}`, "The client's metadata document's response_types lack code"},
		{"scope a list", `{` + id + `,` + uris + `,"scope":["tokens.read"]}`, "The client's metadata document has the field scope of the wrong JSON type."},
		{"client_name a number", `{` + id + `,` + uris + `,"client_name":7}`, "The client's metadata document has the field client_name of the wrong JSON type."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := cimd.Parse(clientURL, []byte(tc.body))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("Parse(%s) = %+v, %v; want %q", tc.body, doc, err, tc.want)
			}
			if _, ok := err.(*cimd.Error); !ok {
				t.Errorf("Parse(%s) = %T, want *cimd.Error", tc.body, err)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("Parse(%s) = %v: the error quotes the secret", tc.body, err)
			}
		})
	}
}

// FuzzParse feeds Parse arbitrary documents for a fixed URL. Properties:
// it never panics; a document it accepts names the URL as its client_id
// exactly, lists a redirect URI, holds no client_secret nor
// client_secret_expires_at (in any case of the key, as Go's JSON matches
// keys), asks for no authentication method but none, can use the
// authorization code grant with the code response type, and Parse gives
// it back the same way twice.
func FuzzParse(f *testing.F) {
	id := `"client_id":"` + clientURL + `"`
	for _, seed := range []string{
		`{` + id + `,"redirect_uris":["https://app.example.com/cb"]}`,
		`{` + id + `,"client_name":"Agent","redirect_uris":["http://127.0.0.1:3000/cb"],"grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"none","scope":"tokens.read"}`,
		`{` + id + `,"redirect_uris":["https://app.example.com/cb"],"client_secret":"x"}`,
		`{` + id + `,"redirect_uris":["https://app.example.com/cb"],"CLIENT_SECRET":"x"}`,
		`{"CLIENT_ID":"` + clientURL + `","redirect_uris":["https://app.example.com/cb"]}`,
		`{` + id + `,"redirect_uris":["https://app.example.com/cb"],"token_endpoint_auth_method":"client_secret_basic"}`,
		`{` + id + `,"redirect_uris":["https://app.example.com/cb"],"grant_types":[]}`,
		`{` + id + `,` + id + `,"redirect_uris":["x"]}`,
		`{"client_id":"https://evil.example.com/c.json","redirect_uris":["https://evil.example.com/cb"]}`,
		`{` + id + `,"redirect_uris":[null]} {}`,
		`[]`, `null`, `"x"`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		doc, err := cimd.Parse(clientURL, body)
		if err != nil {
			if doc != nil {
				t.Fatalf("Parse(%q) = %+v and %v", body, doc, err)
			}
			return
		}
		if doc.ClientID != clientURL || len(doc.RedirectURIs) == 0 || doc.TokenEndpointAuthMethod != "none" ||
			!slices.Contains(doc.GrantTypes, "authorization_code") || !slices.Contains(doc.ResponseTypes, "code") {
			t.Fatalf("Parse(%q) accepted %+v", body, doc)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("Parse(%q) accepted what is not a JSON object: %v", body, err)
		}
		for k := range m {
			if strings.EqualFold(k, "client_secret") || strings.EqualFold(k, "client_secret_expires_at") {
				t.Fatalf("Parse(%q) accepted a document with %s", body, k)
			}
		}
		again, err := cimd.Parse(clientURL, body)
		if err != nil || !cmp.Equal(doc, again) {
			t.Fatalf("Parse(%q) twice = %+v, then %+v, %v", body, doc, again, err)
		}
	})
}

// FuzzCheckURL feeds CheckURL arbitrary client ids. Properties: it never
// panics; what it accepts is printable ASCII of at most MaxURLLength
// bytes, an https URL that parses, with a host, a path without . or ..
// segments, no user information and no fragment, whose host the SSRF
// policy accepts; and what it accepts without the loopback it accepts
// with it.
func FuzzCheckURL(f *testing.F) {
	for _, seed := range []string{
		clientURL,
		"https://app.example.com/",
		"https://app.example.com:8443/c?x=1",
		"https://127.0.0.1:8443/client.json",
		"https://[::1]/c",
		"http://app.example.com/c",
		"https://app.example.com",
		"https://app.example.com/a/../c",
		"https://app.example.com/%2e/c",
		"https://u@app.example.com/c",
		"https://app.example.com/c#f",
		"https://0x7f.1/c",
		"https://localhost/c",
		"https:app.example.com/c",
		"https://app.example.com\\@evil.example.com/c",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := cimd.CheckURL(raw, ssrf.Policy{})
		if loose := cimd.CheckURL(raw, ssrf.Policy{AllowLoopback: true}); err == nil && loose != nil {
			t.Fatalf("CheckURL(%q) = nil, but allowing the loopback = %v", raw, loose)
		}
		if err != nil {
			return
		}
		u, perr := url.Parse(raw)
		if perr != nil || len(raw) > cimd.MaxURLLength || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Path == "" || u.Fragment != "" || strings.Contains(raw, "#") {
			t.Fatalf("CheckURL(%q) = nil: %+v, %v", raw, u, perr)
		}
		for _, r := range raw {
			if r <= ' ' || r >= 0x7f {
				t.Fatalf("CheckURL(%q) = nil, with the character %q", raw, r)
			}
		}
		for _, seg := range strings.Split(u.Path, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("CheckURL(%q) = nil, with a dot segment in %q", raw, u.Path)
			}
		}
		if herr := (ssrf.Policy{}).CheckHost(u); herr != nil {
			t.Fatalf("CheckURL(%q) = nil, but CheckHost = %v", raw, herr)
		}
	})
}
