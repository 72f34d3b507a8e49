package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/service"
)

// RegistrationMode says which clients may register themselves at
// /oauth/register (RFC 7591).
type RegistrationMode string

// The registration modes. The zero value is RegistrationOff.
const (
	// RegistrationOff serves no /oauth/register, and the metadata names
	// no registration_endpoint.
	RegistrationOff RegistrationMode = "off"
	// RegistrationPublic lets public clients register themselves: those
	// that hold no secret and must use PKCE (token_endpoint_auth_method
	// none).
	RegistrationPublic RegistrationMode = "public"
	// RegistrationOpen lets any client register itself, confidential
	// ones included, which are given a secret.
	RegistrationOpen RegistrationMode = "open"
)

// ParseRegistrationMode reads off, public or open.
func ParseRegistrationMode(s string) (RegistrationMode, error) {
	switch m := RegistrationMode(s); m {
	case RegistrationOff, RegistrationPublic, RegistrationOpen:
		return m, nil
	}
	return "", fmt.Errorf("registration mode %q: want off, public or open", s)
}

// on reports whether m serves the registration endpoint.
func (m RegistrationMode) on() bool { return m == RegistrationPublic || m == RegistrationOpen }

// The token endpoint authentication methods a client may register
// (RFC 7591 §2): the token endpoint accepts each.
const (
	authNone        = "none"
	authSecretBasic = "client_secret_basic"
	authSecretPost  = "client_secret_post"
)

// RegistrationRequest is a client's metadata as RFC 7591 §2 has it, the
// fields Latchkey reads; the others are ignored, as §2 asks.
type RegistrationRequest struct {
	RedirectURIs            []string `json:"redirect_uris"`
	ClientName              string   `json:"client_name"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	Scope                   string   `json:"scope"`
}

// RegistrationError is an error of RFC 7591 §3.2.2: Code is
// invalid_redirect_uri or invalid_client_metadata.
type RegistrationError struct {
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *RegistrationError) Error() string { return e.Code + ": " + e.Description }

// The error codes of RFC 7591 §3.2.2.
const (
	errInvalidRedirectURI    = "invalid_redirect_uri"
	errInvalidClientMetadata = "invalid_client_metadata"
)

func metadataError(format string, args ...any) *RegistrationError {
	return &RegistrationError{Code: errInvalidClientMetadata, Description: fmt.Sprintf(format, args...)}
}

// DecodeRegistrationRequest reads the body of a registration request: a
// JSON object, its fields of the types §2 gives them (null is absent).
// It fills in the defaults of §2 (grant_types authorization_code,
// response_types code; token_endpoint_auth_method client_secret_basic,
// or none when only public clients may register) and checks what can be
// checked without the service: the grant and response types, and the
// authentication method against mode. The redirect URIs, name and scope
// are the service's to check. Errors are *RegistrationError.
func DecodeRegistrationRequest(body []byte, mode RegistrationMode) (RegistrationRequest, error) {
	var req RegistrationRequest
	if err := json.Unmarshal(body, &req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return req, metadataError("The field %s has the wrong JSON type.", te.Field)
		}
		return req, metadataError("The request body must be a JSON object.")
	}
	if len(req.RedirectURIs) == 0 {
		return req, &RegistrationError{Code: errInvalidRedirectURI, Description: "At least one redirect URI is required (redirect_uris)."}
	}
	switch req.TokenEndpointAuthMethod {
	case "":
		req.TokenEndpointAuthMethod = authSecretBasic
		if mode != RegistrationOpen {
			req.TokenEndpointAuthMethod = authNone
		}
	case authNone, authSecretBasic, authSecretPost:
	default:
		return req, metadataError("The token_endpoint_auth_method %q is not one this server offers: none, client_secret_basic, client_secret_post.", req.TokenEndpointAuthMethod)
	}
	if mode != RegistrationOpen && req.TokenEndpointAuthMethod != authNone {
		return req, metadataError("Only public clients may register here: token_endpoint_auth_method must be none.")
	}
	if len(req.GrantTypes) == 0 {
		req.GrantTypes = []string{"authorization_code"}
	}
	for _, g := range req.GrantTypes {
		if g != "authorization_code" && g != "refresh_token" {
			return req, metadataError("The grant type %q is not one this server offers: authorization_code, refresh_token.", g)
		}
	}
	if !slices.Contains(req.GrantTypes, "authorization_code") {
		return req, metadataError("The grant types must include authorization_code, the only way this server issues a first token.")
	}
	if len(req.ResponseTypes) == 0 {
		req.ResponseTypes = []string{"code"}
	}
	for _, rt := range req.ResponseTypes {
		if rt != "code" {
			return req, metadataError("The response type %q is not one this server offers: code.", rt)
		}
	}
	req.GrantTypes = compact(req.GrantTypes)
	req.ResponseTypes = compact(req.ResponseTypes)
	return req, nil
}

// compact returns s without repeats, in first-seen order.
func compact(s []string) []string {
	var out []string
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// registrationResponse is the client information response of RFC 7591
// §3.2.1: the client's id and metadata as registered, and a confidential
// client's secret, shown this once.
type registrationResponse struct {
	ClientID                string   `json:"client_id"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at,omitempty"`
	ClientName              string   `json:"client_name"`
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	Scope                   string   `json:"scope,omitempty"`
}

// register serves /oauth/register: dynamic client registration (RFC 7591
// §3), rate-limited per client address. The client is registered as
// self-registered (service.RegisterSelf): should it issue no token, it is
// deleted after service.RegistrationLifetime.
func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	if ok, after := s.registerByAddr.allow(s.clientAddr(r), s.svc.Now()); !ok {
		s.oauthThrottled(w, "registration", after)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeJSON(w, http.StatusBadRequest, metadataError("The request body must be JSON, sent as application/json."))
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		status := http.StatusBadRequest
		if latchkey.ErrorCode(err) == latchkey.ETOOLARGE {
			status = http.StatusRequestEntityTooLarge
		}
		writeJSON(w, status, metadataError("%s", latchkey.ErrorMessage(err)))
		return
	}
	req, err := DecodeRegistrationRequest(body, s.opts.Registration)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, err)
		return
	}
	name := strings.TrimSpace(req.ClientName)
	if name == "" {
		// The consent page needs a name: the host the client receives
		// its codes at says the most of one that gave none.
		if u, err := url.Parse(req.RedirectURIs[0]); err == nil && u.Hostname() != "" {
			name = u.Hostname()
		}
	}
	origin := latchkey.Origin{Address: s.clientIP(r), UserAgent: r.UserAgent()}
	c, secret, err := s.svc.RegisterSelf(r.Context(), origin, service.NewClient{
		Name:          name,
		RedirectURIs:  req.RedirectURIs,
		Public:        req.TokenEndpointAuthMethod == authNone,
		DefaultScopes: strings.Fields(req.Scope),
	})
	if err != nil {
		var e *latchkey.Error
		if !errors.As(err, &e) || e.Code != latchkey.EINVALID {
			s.log.Error("registering a client", "err", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
			return
		}
		writeJSON(w, http.StatusBadRequest, registrationRefusal(e))
		return
	}
	resp := registrationResponse{
		ClientID:                strconv.FormatInt(c.ID, 10),
		ClientIDIssuedAt:        c.CreatedAt.Unix(),
		ClientName:              c.Name,
		RedirectURIs:            service.RedirectURIs(c),
		TokenEndpointAuthMethod: req.TokenEndpointAuthMethod,
		GrantTypes:              req.GrantTypes,
		ResponseTypes:           req.ResponseTypes,
		Scope:                   strings.Join(c.DefaultScopes, " "),
	}
	if secret != "" {
		never := int64(0)
		resp.ClientSecret, resp.ClientSecretExpiresAt = secret, &never
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusCreated, resp)
}

// registrationRefusal is the §3.2.2 error for what the service found
// wrong with a registration: invalid_redirect_uri when it is a redirect
// URI, else invalid_client_metadata, described by the service's first
// sentence.
func registrationRefusal(e *latchkey.Error) *RegistrationError {
	code, desc := errInvalidClientMetadata, e.Message
	for _, f := range e.Fields {
		if len(f.Sentences) == 0 {
			continue
		}
		if f.Field == "redirect_uris" {
			return &RegistrationError{Code: errInvalidRedirectURI, Description: f.Sentences[0]}
		}
		if desc == e.Message {
			desc = f.Sentences[0]
		}
	}
	return &RegistrationError{Code: code, Description: desc}
}
