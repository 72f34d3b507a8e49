package httpapi

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/cimd"
	"github.com/latchkey/latchkey/internal/oauth"
)

// The OAuth 2.0 endpoints. The protocol is internal/oauth's (fosite);
// here are the person's side of it (sign-in first, then consent) and the
// limits.

// scopeDescriptions say, on the consent page, what a scope lets an
// application do.
var scopeDescriptions = map[string]string{
	latchkey.ScopeTokensRead:  "see your access tokens",
	latchkey.ScopeTokensWrite: "create and revoke your access tokens",
	latchkey.ScopeAll:         "do everything you can do",
}

type scopeLine struct{ Name, Description string }

// scopeLines names each scope with what it lets an application do.
func scopeLines(scopes []string) []scopeLine {
	lines := make([]scopeLine, 0, len(scopes))
	for _, sc := range scopes {
		d := scopeDescriptions[sc]
		if d == "" {
			d = "use the scope " + sc
		}
		lines = append(lines, scopeLine{sc, d})
	}
	return lines
}

type hiddenField struct{ Name, Value string }

type consentPage struct {
	Client string
	// Resource is the resource server the token is for (RFC 8707), nil
	// for Latchkey's API.
	Resource *latchkey.Resource
	Scopes   []scopeLine
	// Defaulted: the application asked for no scope in particular, and
	// Scopes are its defaults.
	Defaulted bool
	// SelfRegistered: the application registered itself (RFC 7591), so
	// its name is its own claim.
	SelfRegistered bool
	// MetadataHost: the application is identified by a metadata document
	// at a URL of this host (its client_id), whose name is unverified.
	MetadataHost string
	RedirectTo   string
	Hidden       []hiddenField
}

// authorizeParams are the parameters of an authorization request that the
// consent form carries back.
var authorizeParams = []string{"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method", "response_mode", "nonce", "prompt", "resource"}

// authorize serves GET and POST /oauth/authorize: a person signs in,
// approves or denies, and goes back to the application with a code or an
// error. An error goes to the redirect URI only when it is one the
// application registered; otherwise it is shown here.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	}
	// Every answer that goes back to the application names the issuer,
	// as the metadata does (RFC 9207).
	iss := s.baseURL(r)
	// An application identified by a metadata document has it fetched
	// unless it is kept: each address has a budget of such fetches, the
	// one it has of registrations (a fetch may make a client's row).
	ctx = oauth.WithOrigin(ctx, latchkey.Origin{Address: s.clientIP(r), UserAgent: r.UserAgent()})
	ctx = cimd.WithBudget(ctx, func() error {
		if ok, after := s.registerByAddr.allow(s.clientAddr(r), s.svc.Now()); !ok {
			return &fetchesSpent{after}
		}
		return nil
	})
	ctx = oauth.WithSite(ctx, s.site(r))
	ar, err := s.oauth.ParseAuthorize(ctx, r)
	if err != nil {
		if oauth.Redirectable(ar) {
			s.oauth.WriteAuthorizeError(ctx, w, ar, iss, err)
			return
		}
		if spent, ok := errors.AsType[*fetchesSpent](err); ok {
			_ = s.refuse(w, "registration", spent.after)
			s.renderError(w, r, http.StatusTooManyRequests, "Too many attempts",
				"Too many sign-in requests came from your address. Wait a little, then go back to the application and try again.", "temporarily_unavailable")
			return
		}
		rfc := fosite.ErrorToRFC6749Error(err)
		msg := plainRefusal(rfc.ErrorField)
		if id := r.Form.Get("client_id"); cimd.IsURL(id) && rfc.ErrorField == "invalid_client" {
			// Why the document failed stays in the log: it may say
			// what an address inside resolves to.
			msg = "The application that sent you here describes itself in a document at " + urlHost(id) + ", which could not be used."
		}
		s.renderError(w, r, http.StatusBadRequest, "This sign-in link is not valid",
			msg+" Go back to the application and try again.", rfc.ErrorField)
		return
	}
	params := url.Values{}
	for _, k := range authorizeParams {
		if v := r.Form.Get(k); v != "" {
			params.Set(k, v)
		}
	}
	// A request that named no scope has its client's default scopes, or
	// the server's (oauth.Provider.ParseAuthorize).
	requested := latchkey.Scopes(ar.GetRequestedScopes())
	defaulted := strings.TrimSpace(params.Get("scope")) == ""
	prompt := strings.Fields(params.Get("prompt"))
	u := s.sessionUserOrNil(r)
	switch {
	case slices.Contains(prompt, "none") && len(prompt) > 1:
		s.oauth.WriteAuthorizeError(ctx, w, ar, iss, fosite.ErrInvalidRequest.WithHint("prompt=none cannot be combined with other values."))
		return
	case slices.Contains(prompt, "none") && u == nil:
		// The application asked for no page: it must send the person
		// here without prompt=none to sign in.
		s.oauth.WriteAuthorizeError(ctx, w, ar, iss, fosite.ErrLoginRequired)
		return
	case u == nil || r.Method == http.MethodGet && slices.Contains(prompt, "login"):
		// Sign in (again, for prompt=login), then come back: without
		// "login" in the prompt, or the way back would ask again.
		back := maps.Clone(params)
		if p := slices.DeleteFunc(prompt, func(v string) bool { return v == "login" }); len(p) > 0 {
			back.Set("prompt", strings.Join(p, " "))
		} else {
			back.Del("prompt")
		}
		if u != nil {
			redirectToLoginAgain(w, r, "/oauth/authorize?"+back.Encode())
		} else {
			redirectToLogin(w, r, "/oauth/authorize?"+back.Encode())
		}
		return
	}
	c := oauth.Client(ar)
	if r.Method == http.MethodPost {
		switch r.PostForm.Get("decision") {
		case "approve":
			if err := s.svc.ApproveConsent(ctx, u.ID, c.ID, requested); err != nil {
				s.log.ErrorContext(ctx, "saving a consent", "request_id", requestID(w), "err", err)
				s.oauth.WriteAuthorizeError(ctx, w, ar, iss, fosite.ErrServerError)
				return
			}
			s.oauth.Approve(ctx, w, ar, iss, u.ID)
		case "deny":
			s.oauth.Deny(ctx, w, ar, iss)
		default:
			s.renderError(w, r, http.StatusBadRequest, "Bad request", "Choose Approve or Deny.", "invalid_request")
		}
		return
	}
	// Approved before, as the service remembers approvals, and not asked
	// to ask again: straight back to the application. A consent names
	// scopes, not the resource they were approved for: a token for
	// another resource server is asked for every time.
	resource := oauth.RequestResource(ar)
	remembered := false
	if !slices.Contains(prompt, "consent") && resource == nil {
		remembered, err = s.svc.ConsentRemembered(ctx, u.ID, c, requested)
		if err != nil {
			s.log.ErrorContext(ctx, "reading a consent", "request_id", requestID(w), "err", err)
			s.oauth.WriteAuthorizeError(ctx, w, ar, iss, fosite.ErrServerError)
			return
		}
	}
	switch {
	case remembered:
		s.oauth.Approve(ctx, w, ar, iss, u.ID)
		return
	case slices.Contains(prompt, "none"):
		s.oauth.WriteAuthorizeError(ctx, w, ar, iss, fosite.ErrConsentRequired)
		return
	}
	// The consent page shows the scopes, defaults included, and its form
	// names them, so that what is approved is what the person saw.
	page := consentPage{Client: c.Name, RedirectTo: ar.GetRedirectURI().String(), Scopes: scopeLines(requested), Defaulted: defaulted,
		SelfRegistered: c.SelfRegistered, Resource: resource}
	if c.MetadataURL != "" {
		page.MetadataHost = urlHost(c.MetadataURL)
	}
	params.Set("scope", strings.Join(requested, " "))
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		page.Hidden = append(page.Hidden, hiddenField{k, params.Get(k)})
	}
	redirect := ar.GetRedirectURI()
	s.render(w, r, http.StatusOK, "consent", pageData{Title: "Authorize " + c.Name, User: u, Page: page},
		redirect.Scheme+"://"+redirect.Host)
}

// fetchesSpent refuses the fetch of a metadata document for a request
// whose address has spent its budget; the request is refused with 429.
type fetchesSpent struct{ after time.Duration }

func (e *fetchesSpent) Error() string {
	return "this address has spent its budget of metadata documents"
}

// urlHost is the host (and port) of a URL, as a person reads where it
// leads; "" when it has none.
func urlHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

// plainRefusal says in our own words, for the person in front of the
// page, why an authorization request that cannot be sent back to the
// application was refused. fosite's descriptions are written for
// developers ("Client authentication failed (e.g., unknown client, …)");
// the page shows the RFC 6749 code for them.
func plainRefusal(code string) string {
	switch code {
	case "invalid_client":
		return "The application that sent you here is not one this server knows: it may have been removed."
	case "invalid_request":
		return "The link that brought you here is incomplete, or does not match how the application was registered."
	case "invalid_scope":
		return "The application asked for access this server does not offer."
	case "invalid_target":
		return "The application asked for access to a service this server does not issue tokens for."
	case "unsupported_response_type", "unauthorized_client", "unsupported_response_mode":
		return "The application asked to sign you in in a way this server does not allow."
	case "server_error", "temporarily_unavailable":
		return "Something failed on our side."
	}
	return "The application sent you here with a request this server cannot accept."
}

// tokenEndpoint serves one of the endpoints applications call
// (/oauth/token, /oauth/revoke, /oauth/introspect): limited per client
// address, with a bounded form body, and a 401 always names the scheme to
// authenticate with (RFC 6749 section 5.2).
func (s *Server) tokenEndpoint(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, after := s.tokenByAddr.allow(s.clientAddr(r), s.svc.Now()); !ok {
			s.oauthThrottled(w, "token_endpoint", after)
			return
		}
		if declaredTooLarge(r, maxFormBytes) {
			w.Header().Set("Cache-Control", "no-store")
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "invalid_request", "error_description": "The request body must not be larger than 64 KiB."})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		origin := latchkey.Origin{Address: s.clientIP(r), UserAgent: r.UserAgent()}
		ctx := oauth.WithSite(oauth.WithOrigin(r.Context(), origin), s.site(r))
		h(basicChallenge{w}, r.WithContext(ctx))
	})
}

// basicChallenge adds WWW-Authenticate to a 401 that lacks it.
type basicChallenge struct{ http.ResponseWriter }

func (w basicChallenge) WriteHeader(code int) {
	if code == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="latchkey"`)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w basicChallenge) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// oauthThrottled answers 429 in OAuth's error shape, with Retry-After,
// and counts it against the named limit.
func (s *Server) oauthThrottled(w http.ResponseWriter, limit string, after time.Duration) {
	_ = s.refuse(w, limit, after)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusTooManyRequests)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": "slow_down", "error_description": "Too many requests from this address; retry later."})
}

// metadata serves RFC 8414's authorization server metadata.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	base := s.baseURL(r)
	m := map[string]any{
		"issuer":                                        base,
		"authorization_endpoint":                        base + "/oauth/authorize",
		"token_endpoint":                                base + "/oauth/token",
		"revocation_endpoint":                           base + "/oauth/revoke",
		"introspection_endpoint":                        base + "/oauth/introspect",
		"jwks_uri":                                      base + "/.well-known/jwks.json",
		"scopes_supported":                              s.svc.Scopes(),
		"response_types_supported":                      []string{"code"},
		"response_modes_supported":                      []string{"query"},
		"grant_types_supported":                         oauth.GrantTypes,
		"code_challenge_methods_supported":              []string{"S256"},
		"token_endpoint_auth_methods_supported":         []string{"client_secret_basic", "client_secret_post", "none"},
		"revocation_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic"},
		// Every authorization response, success or error, carries iss
		// (RFC 9207).
		"authorization_response_iss_parameter_supported": true,
		// The resource parameter (RFC 8707) is taken at the authorization
		// and token endpoints. No RFC names a member for it; this one is
		// what several servers write.
		"resource_indicators_supported": true,
	}
	if s.opts.Registration.on() {
		m["registration_endpoint"] = base + "/oauth/register"
	}
	if s.oauth.SupportsClientMetadata() {
		// A client_id may be the https URL of the client's metadata
		// document (draft-ietf-oauth-client-id-metadata-document).
		m["client_id_metadata_document_supported"] = true
	}
	w.Header().Set("Content-Type", "application/json")
	s.metadataCaching(w.Header())
	_ = json.NewEncoder(w).Encode(m)
}

// site is where r was addressed, as the authorization server needs it:
// the issuer, and the API's resource identifier, as the metadata
// documents name them.
func (s *Server) site(r *http.Request) oauth.Site {
	iss := s.baseURL(r)
	return oauth.Site{Issuer: iss, API: iss + apiPath}
}

// baseURL is the server's public address: --public-url, else what the
// request was addressed to.
func (s *Server) baseURL(r *http.Request) string {
	if s.opts.PublicURL != "" {
		return s.opts.PublicURL
	}
	scheme := "http"
	if s.secure(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
