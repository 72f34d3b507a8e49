package oauth

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey"
)

// TestEncodeRequestKeepsNoSecret: whatever form a flow hands to storage,
// no credential of it is written.
func TestEncodeRequestKeepsNoSecret(t *testing.T) {
	req := fosite.NewRequest()
	req.ID = "request-1"
	req.Client = newClient(&latchkey.Client{ID: 7, Name: "App", Redirect: "https://app.example/cb"})
	req.GrantedScope = fosite.Arguments{"tokens.read"}
	req.Form = url.Values{
		"redirect_uri": {"https://app.example/cb"}, "code_challenge": {"challenge-kept"}, "code_challenge_method": {"S256"},
		"client_secret": {"secret-1"}, "code": {"secret-2"}, "code_verifier": {"secret-3"}, "refresh_token": {"secret-4"},
		"password": {"secret-5"}, "client_assertion": {"secret-6"}, "access_token": {"secret-7"}, "token": {"secret-8"},
	}
	exp := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	sess := NewSession(42)
	sess.SetExpiresAt(fosite.AccessToken, exp)
	req.Session = sess
	b, got, err := encodeRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	if got != sess {
		t.Error("encodeRequest returned another session")
	}
	if strings.Contains(string(b), "secret-") {
		t.Errorf("a credential was kept: %s", b)
	}
	var sr storedRequest
	if err := json.Unmarshal(b, &sr); err != nil {
		t.Fatal(err)
	}
	if sr.ID != "request-1" || sr.ClientID != "7" || sr.Subject != "42" || sr.Form.Get("code_challenge") != "challenge-kept" ||
		sr.Form.Get("redirect_uri") != "https://app.example/cb" || !sr.ExpiresAt[fosite.AccessToken].Equal(exp) || len(sr.GrantedScope) != 1 {
		t.Errorf("stored request %+v: what the flow needs later is missing", sr)
	}
}

func TestSessionClone(t *testing.T) {
	s := NewSession(5)
	s.SetExpiresAt(fosite.RefreshToken, time.Unix(100, 0))
	c := s.Clone().(*Session)
	c.SetExpiresAt(fosite.RefreshToken, time.Unix(200, 0))
	if !s.GetExpiresAt(fosite.RefreshToken).Equal(time.Unix(100, 0)) {
		t.Error("a clone shares its expiry times with the original")
	}
	if _, err := (&Session{Subject: "x"}).userID(); err == nil {
		t.Error("a subject that is not a user id was accepted")
	}
}

func TestHashSignature(t *testing.T) {
	h := hashSignature("sig")
	if len(h) != 64 || h == "sig" || hashSignature("sig") != h || hashSignature("sig2") == h {
		t.Errorf("hashSignature(sig) = %q", h)
	}
}

// TestSessionUserID: the subject is a user id, a positive integer.
func TestSessionUserID(t *testing.T) {
	for _, tc := range []struct {
		subject string
		want    int64 // 0: refused
	}{
		{"1", 1},
		{"9223372036854775807", 9223372036854775807},
		{"0", 0},
		{"-1", 0},
		{"", 0},
		{"x", 0},
		{"9223372036854775808", 0},
	} {
		got, err := (&Session{Subject: tc.subject}).userID()
		if got != tc.want || (err == nil) != (tc.want != 0) {
			t.Errorf("userID(%q) = %d, %v; want %d", tc.subject, got, err, tc.want)
		}
	}
}

// TestStoredRequestKeepsTheResource: a grant keeps the resource it is for
// (RFC 8707): its URI as the requested and granted audience, the
// registered resource's id in the session; a grant for Latchkey's API
// keeps none. Refreshes and the code's exchange read it back from here.
func TestStoredRequestKeepsTheResource(t *testing.T) {
	st := &storage{p: &Provider{}, st: clientStore{}}
	for _, tc := range []struct {
		name     string
		audience fosite.Arguments
		id       int64
	}{
		{"a resource", fosite.Arguments{"https://mcp.example.com/mcp"}, 9},
		{"the API", nil, 0},
	} {
		req := fosite.NewRequest()
		req.ID = "request-1"
		req.Client = newClient(&latchkey.Client{ID: 7, Name: "App", Redirect: "https://app.example/cb"})
		req.RequestedAudience, req.GrantedAudience = tc.audience, tc.audience
		sess := NewSession(42)
		sess.ResourceID = tc.id
		req.Session = sess
		b, _, err := encodeRequest(req)
		if err != nil {
			t.Fatal(err)
		}
		if tc.audience == nil && strings.Contains(string(b), "audience") || strings.Contains(string(b), "resource_id") != (tc.id != 0) {
			t.Errorf("%s: stored %s", tc.name, b)
		}
		got, err := st.decode(t.Context(), b)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := grantedResource(got)
		if len(got.GetRequestedAudience()) != len(tc.audience) || r != strings.Join(tc.audience, "") || got.GetSession().(*Session).ResourceID != tc.id {
			t.Errorf("%s: read back audience %v / %v, resource id %d; want %v, %d", tc.name, got.GetRequestedAudience(), got.GetGrantedAudience(),
				got.GetSession().(*Session).ResourceID, tc.audience, tc.id)
		}
	}
}

// clientStore answers Client with an application, for decode.
type clientStore struct{ Store }

func (clientStore) Client(_ context.Context, id int64) (*latchkey.Client, error) {
	return &latchkey.Client{ID: id, Name: "App", Redirect: "https://app.example/cb"}, nil
}
