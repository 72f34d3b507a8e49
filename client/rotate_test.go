package client_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
)

// TestRotate: the requests of rotation and of the calling token, and what
// the client makes of their answers.
func TestRotate(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	f := newFake(t, jsonAnswer(201, createdJSON(id2, "ci", "jwt.two.sig")))
	c := f.client(t)
	got, err := c.RotateToken(t.Context(), 12, id1, client.RotateTokenRequest{Grace: time.Hour, ExpiresAt: ptr(time.Date(2027, 3, 1, 18, 45, 10, 0, cet))})
	if err != nil {
		t.Fatalf("RotateToken() = %v", err)
	}
	if diff := cmp.Diff(&client.CreatedToken{Token: wantToken(id2, "ci"), AccessToken: "jwt.two.sig"}, got); diff != "" {
		t.Errorf("RotateToken() mismatch (-want +got):\n%s", diff)
	}
	if _, err := c.RotateSelf(t.Context(), client.RotateTokenRequest{}); err != nil {
		t.Fatalf("RotateSelf() = %v", err)
	}
	want := []request{
		sent("POST", "/api/1.0/users/12/tokens/"+id1+"/rotate", "", `{"expires_at":"2027-03-01T17:45:10Z","grace_seconds":3600}`),
		sent("POST", "/api/1.0/tokens/self/rotate", "", `{}`),
	}
	if diff := cmp.Diff(want, f.got()); diff != "" {
		t.Errorf("sent (-want +got):\n%s", diff)
	}

	// A grace that is not whole seconds is refused before any request.
	_, err = c.RotateSelf(t.Context(), client.RotateTokenRequest{Grace: 1500 * time.Millisecond})
	if latchkey.ErrorCode(err) != latchkey.EINVALID {
		t.Errorf("RotateSelf(1.5 s of grace) = %v, want EINVALID", err)
	}
	if n := len(f.got()); n != 2 {
		t.Errorf("%d requests sent, want 2", n)
	}
}

func TestSelf(t *testing.T) {
	f := newFake(t, jsonAnswer(200, tokenJSON(id1, "ci")), answer{status: 204})
	c := f.client(t)
	got, err := c.Self(t.Context())
	if err != nil {
		t.Fatalf("Self() = %v", err)
	}
	if diff := cmp.Diff(wantToken(id1, "ci"), got); diff != "" {
		t.Errorf("Self() mismatch (-want +got):\n%s", diff)
	}
	if err := c.RevokeSelf(t.Context()); err != nil {
		t.Fatalf("RevokeSelf() = %v", err)
	}
	want := []request{sent("GET", "/api/1.0/tokens/self", "", ""), sent("DELETE", "/api/1.0/tokens/self", "", "")}
	if diff := cmp.Diff(want, f.got()); diff != "" {
		t.Errorf("sent (-want +got):\n%s", diff)
	}
}
