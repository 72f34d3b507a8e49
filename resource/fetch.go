package resource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// maxRedirects is the most redirects a fetch follows, all within the
// issuer's origin.
const maxRedirects = 3

// httpClient returns the client the Verifier fetches with: a copy of c
// (or of a client with a 10-second timeout) whose redirects stay within
// the issuer's origin. The issuer is the operator's choice, not an
// attacker's; what is guarded against is a metadata document or a
// redirect that sends the package elsewhere.
func (v *Verifier) httpClient(c *http.Client) *http.Client {
	var cc http.Client
	if c != nil {
		cc = *c
	} else {
		cc.Timeout = defaultTimeout
	}
	cc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		if origin(req.URL) != v.issuerOrigin {
			return fmt.Errorf("refused a redirect to %s, outside the issuer's origin", origin(req.URL))
		}
		return nil
	}
	return &cc
}

// get fetches u and returns its body, of at most limit bytes, and its
// headers. Any status but 200 is an error.
func (v *Verifier) get(ctx context.Context, u string, limit int64) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	return v.do(req, limit)
}

// do sends req and reads its answer as get says.
func (v *Verifier) do(req *http.Request, limit int64) ([]byte, http.Header, error) {
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, nil, fmt.Errorf("%s %s answered %s", req.Method, req.URL.Redacted(), resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: reading the answer: %w", req.Method, req.URL.Redacted(), err)
	}
	if int64(len(body)) > limit {
		return nil, nil, fmt.Errorf("%s %s: the answer is larger than %d bytes", req.Method, req.URL.Redacted(), limit)
	}
	return body, resp.Header, nil
}

// metadataURL returns where RFC 8414 section 3.1 puts the metadata of
// issuer: the well-known path between the host and the issuer's path,
// whose terminating slash is removed.
func authorizationServerMetadataURL(issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return "", err
	}
	u.Path = "/.well-known/oauth-authorization-server" + strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

// asMetadata is what the Verifier uses of the issuer's metadata.
type asMetadata struct {
	jwksURI               string
	introspectionEndpoint string
}

// discover reads the issuer's RFC 8414 metadata. Its issuer must be the
// configured one, exactly (section 3.3); jwks_uri, and with introspection
// credentials introspection_endpoint, must be at the issuer's origin, so
// that the package fetches from the configured server only.
func (v *Verifier) discover(ctx context.Context) (*asMetadata, error) {
	mu, err := authorizationServerMetadataURL(v.issuer)
	if err != nil {
		return nil, fmt.Errorf("resource: %w", err)
	}
	body, _, err := v.get(ctx, mu, maxMetadataBytes)
	if err != nil {
		return nil, fmt.Errorf("resource: reading the authorization server's metadata: %w", err)
	}
	var doc struct {
		Issuer                string   `json:"issuer"`
		JWKSURI               string   `json:"jwks_uri"`
		IntrospectionEndpoint string   `json:"introspection_endpoint"`
		IntrospectionAuth     []string `json:"introspection_endpoint_auth_methods_supported"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("resource: the metadata at %s is not a JSON object of RFC 8414: %w", mu, err)
	}
	if doc.Issuer != v.issuer {
		return nil, fmt.Errorf("resource: the metadata at %s names the issuer %q, not %q (RFC 8414 section 3.3)", mu, doc.Issuer, v.issuer)
	}
	m := &asMetadata{}
	if m.jwksURI, err = v.issuerURL(doc.JWKSURI); err != nil {
		return nil, fmt.Errorf("resource: the metadata's jwks_uri: %w", err)
	}
	if v.introspect != nil {
		if m.introspectionEndpoint, err = v.issuerURL(doc.IntrospectionEndpoint); err != nil {
			return nil, fmt.Errorf("resource: the metadata's introspection_endpoint: %w", err)
		}
		if doc.IntrospectionAuth != nil && !slices.Contains(doc.IntrospectionAuth, "client_secret_basic") {
			return nil, fmt.Errorf("resource: the introspection endpoint does not take client_secret_basic (it takes %s)", strings.Join(doc.IntrospectionAuth, ", "))
		}
	}
	return m, nil
}

// issuerURL checks that s is an absolute URL at the issuer's origin.
func (v *Verifier) issuerURL(s string) (string, error) {
	if s == "" {
		return "", errors.New("missing")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if !u.IsAbs() || u.Host == "" || u.User != nil {
		return "", fmt.Errorf("%q is not an absolute URL", s)
	}
	if origin(u) != v.issuerOrigin {
		return "", fmt.Errorf("%q is not at the issuer's origin %s", u.Redacted(), v.issuerOrigin)
	}
	return u.String(), nil
}
