package oauth

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"strconv"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey"
)

// Session is what an authorization carries besides its request: whose it
// is, and when each of its tokens expires.
type Session struct {
	Subject   string                         // the user id
	ExpiresAt map[fosite.TokenType]time.Time // by token type
	// ResourceID is the id of the registered resource the authorization
	// is for, 0 for Latchkey's API; its URI is the request's granted
	// audience.
	ResourceID int64

	// resource is the resource ParseAuthorize found, for the consent
	// page; never stored.
	resource *latchkey.Resource

	// accessKeyID is the kid of the key that signed the access token just
	// generated, handed from the strategy to the storage in one request.
	accessKeyID string
}

// NewSession returns the session of an authorization by user.
func NewSession(userID int64) *Session {
	return &Session{Subject: strconv.FormatInt(userID, 10)}
}

// SetExpiresAt sets when the token of type key expires.
func (s *Session) SetExpiresAt(key fosite.TokenType, exp time.Time) {
	if s.ExpiresAt == nil {
		s.ExpiresAt = map[fosite.TokenType]time.Time{}
	}
	s.ExpiresAt[key] = exp
}

// GetExpiresAt says when the token of type key expires; zero when unset.
func (s *Session) GetExpiresAt(key fosite.TokenType) time.Time {
	return s.ExpiresAt[key]
}

// GetUsername is empty: the subject names the user.
func (s *Session) GetUsername() string { return "" }

// GetSubject is the user id.
func (s *Session) GetSubject() string { return s.Subject }

// Clone returns a deep copy.
func (s *Session) Clone() fosite.Session {
	c := *s
	c.ExpiresAt = maps.Clone(s.ExpiresAt)
	return &c
}

// userID is the subject as a user id.
func (s *Session) userID() (int64, error) {
	id, err := strconv.ParseInt(s.Subject, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("oauth: the session's subject %q is not a user id", s.Subject)
	}
	return id, nil
}

// storedRequest is an authorization request as grants keep it.
type storedRequest struct {
	ID             string                         `json:"id"`
	RequestedAt    time.Time                      `json:"requested_at"`
	ClientID       string                         `json:"client_id"`
	RequestedScope []string                       `json:"requested_scope"`
	GrantedScope   []string                       `json:"granted_scope"`
	Form           url.Values                     `json:"form"`
	Subject        string                         `json:"subject"`
	ExpiresAt      map[fosite.TokenType]time.Time `json:"expires_at"`
	// The resource (RFC 8707), absent for Latchkey's API: its URI as
	// fosite's audience, and the registered resource's id.
	RequestedAudience []string `json:"requested_audience,omitempty"`
	GrantedAudience   []string `json:"granted_audience,omitempty"`
	ResourceID        int64    `json:"resource_id,omitempty"`
}

// secretParameters never reach storage, whatever a flow hands it.
var secretParameters = []string{"client_secret", "code", "code_verifier", "refresh_token", "password", "client_assertion", "access_token", "token"}

// encodeRequest serializes what a grant needs of req.
func encodeRequest(req fosite.Requester) ([]byte, *Session, error) {
	sess, ok := req.GetSession().(*Session)
	if !ok {
		return nil, nil, fmt.Errorf("oauth: a request with a %T session", req.GetSession())
	}
	form := url.Values{}
	for k, v := range req.GetRequestForm() {
		form[k] = v
	}
	for _, k := range secretParameters {
		delete(form, k)
	}
	b, err := json.Marshal(storedRequest{
		ID:             req.GetID(),
		RequestedAt:    req.GetRequestedAt(),
		ClientID:       req.GetClient().GetID(),
		RequestedScope: req.GetRequestedScopes(),
		GrantedScope:   req.GetGrantedScopes(),
		Form:           form,
		Subject:        sess.Subject,
		ExpiresAt:      sess.ExpiresAt,

		RequestedAudience: req.GetRequestedAudience(),
		GrantedAudience:   req.GetGrantedAudience(),
		ResourceID:        sess.ResourceID,
	})
	return b, sess, err
}
