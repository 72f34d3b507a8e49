package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/service"
	"github.com/latchkey/latchkey/internal/wire"
)

const selfPath = "/api/1.0/tokens/self"

// created decodes a 201 answer in the create's shape.
func created(t *testing.T, r *response) wire.CreatedToken {
	t.Helper()
	if r.status != http.StatusCreated {
		t.Fatalf("status %d, want 201: %s", r.status, r.body)
	}
	var c wire.CreatedToken
	if err := json.Unmarshal(r.body, &c); err != nil {
		t.Fatalf("created body %s: %v", r.body, err)
	}
	return c
}

// shown decodes a 200 answer holding one token.
func shown(t *testing.T, r *response) wire.UserToken {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.status, r.body)
	}
	var u wire.UserToken
	if err := json.Unmarshal(r.body, &u); err != nil {
		t.Fatalf("token body %s: %v", r.body, err)
	}
	return u
}

// createVia makes a token for u through the API with auth, body as given.
func (h *harness) createVia(u *latchkey.User, auth, body string) wire.CreatedToken {
	h.t.Helper()
	return created(h.t.(*testing.T), h.do("POST", tokensPath(u.ID), auth, []byte(body)))
}

func rotatePath(u *latchkey.User, id string) string { return tokensPath(u.ID) + "/" + id + "/rotate" }

// TestRotateWithGrace: a rotation answers the successor in the create's
// shape; the old token keeps working through its grace period and no
// longer after it; the sweep then revokes it for "rotated".
func TestRotateWithGrace(t *testing.T) {
	onEachStore(t, func(t *testing.T, h *harness) {
		old := h.createVia(h.user, bearer(h.userJWT), `{"name":"deploy","scopes":["tokens.read"],"expires_at":"`+start.Add(90*24*time.Hour).Format(time.RFC3339)+`"}`)
		// Used, so cached with its first expiry: the rotation must drop it.
		shown(t, h.do("GET", selfPath, bearer(old.AccessToken), nil))
		h.clock.Advance(time.Hour)
		r := h.do("POST", rotatePath(h.user, old.ID), bearer(h.userJWT), []byte(`{"grace_seconds":600}`))
		succ := created(t, r)
		if succ.ID == old.ID || succ.AccessToken == "" || succ.AccessToken == old.AccessToken {
			t.Fatal("the successor has the old token's id or secret")
		}
		if succ.Name != "deploy" || strings.Join(succ.Scopes, " ") != "tokens.read" || succ.RotatedFrom == nil || *succ.RotatedFrom != old.ID {
			t.Errorf("successor = name %q, scopes %v, rotated_from %v; want the old token's name and scopes, rotated from it", succ.Name, succ.Scopes, succ.RotatedFrom)
		}
		// The old token's lifetime again, from now.
		if want := start.Add(time.Hour + 90*24*time.Hour); !succ.ExpiresAt.Time.Equal(want) {
			t.Errorf("successor expires at %v, want %v: the old lifetime again", succ.ExpiresAt.Time, want)
		}
		if loc := r.header.Get("Location"); loc != tokensPath(h.user.ID)+"/"+succ.ID {
			t.Errorf("Location = %q", loc)
		}

		// During the grace period both work; the old one says where it
		// went and when it stops.
		self := shown(t, h.do("GET", selfPath, bearer(old.AccessToken), nil))
		if self.RotatedTo == nil || *self.RotatedTo != succ.ID || self.Revoked || !self.ExpiresAt.Time.Equal(h.clock.Now().Add(10*time.Minute)) {
			t.Errorf("the old token during its grace = rotated_to %v, revoked %t, expires %v", self.RotatedTo, self.Revoked, self.ExpiresAt)
		}
		shown(t, h.do("GET", selfPath, bearer(succ.AccessToken), nil))

		h.clock.Advance(10 * time.Minute)
		if r := h.do("GET", selfPath, bearer(old.AccessToken), nil); r.status != http.StatusUnauthorized {
			t.Errorf("the old token after its grace: status %d, want 401", r.status)
		}
		shown(t, h.do("GET", selfPath, bearer(succ.AccessToken), nil))
		if err := h.svc.Sweep(t.Context()); err != nil {
			t.Fatal(err)
		}
		got := shown(t, h.do("GET", tokensPath(h.user.ID)+"/"+old.ID, bearer(h.userJWT), nil))
		if !got.Revoked || got.RevokedReason == nil || *got.RevokedReason != "rotated" || got.RevokedAt == nil || !got.RevokedAt.Time.Equal(h.clock.Now()) {
			t.Errorf("the old token after the sweep = revoked %t, reason %v, at %v; want revoked for rotated, now", got.Revoked, got.RevokedReason, got.RevokedAt)
		}
	})
}

// TestRotateSelfAnswerLost: a client that lost the answer to its
// rotation asks again with the old secret, and gets a new successor; the
// one it never received is revoked.
func TestRotateSelfAnswerLost(t *testing.T) {
	onEachStore(t, func(t *testing.T, h *harness) {
		old := h.createVia(h.user, bearer(h.userJWT), `{"name":"ci"}`)
		lost := created(t, h.do("POST", selfPath+"/rotate", bearer(old.AccessToken), nil))
		// No grace: the old token is revoked for everything but asking
		// again.
		if r := h.do("GET", selfPath, bearer(old.AccessToken), nil); r.status != http.StatusUnauthorized {
			t.Fatalf("the rotated token showed itself: status %d", r.status)
		}
		again := created(t, h.do("POST", selfPath+"/rotate", bearer(old.AccessToken), []byte(`{}`)))
		if again.ID == lost.ID {
			t.Fatal("asked again, the rotation answered the same token")
		}
		if r := h.do("GET", selfPath, bearer(lost.AccessToken), nil); r.status != http.StatusUnauthorized {
			t.Errorf("the lost successor still works: status %d", r.status)
		}
		got := shown(t, h.do("GET", tokensPath(h.user.ID)+"/"+lost.ID, bearer(h.userJWT), nil))
		if got.RevokedReason == nil || *got.RevokedReason != "superseded" {
			t.Errorf("the lost successor's reason = %v, want superseded", got.RevokedReason)
		}
		shown(t, h.do("GET", selfPath, bearer(again.AccessToken), nil))
		got = shown(t, h.do("GET", tokensPath(h.user.ID)+"/"+old.ID, bearer(h.userJWT), nil))
		if got.RotatedTo == nil || *got.RotatedTo != again.ID || got.RevokedReason == nil || *got.RevokedReason != "rotated" {
			t.Errorf("the old token = rotated_to %v, reason %v; want the second successor, rotated", got.RotatedTo, got.RevokedReason)
		}
	})
}

// TestRotateReuseDetected: the old secret asking to rotate after its
// successor was used means two parties hold the chain's secrets: 409,
// and every token of the chain, and what they made, is revoked.
func TestRotateReuseDetected(t *testing.T) {
	onEachStore(t, func(t *testing.T, h *harness) {
		old := h.createVia(h.user, bearer(h.userJWT), `{"name":"bot"}`)
		succ := created(t, h.do("POST", selfPath+"/rotate", bearer(old.AccessToken), []byte(`{"grace_seconds":3600}`)))
		child := h.createVia(h.user, bearer(succ.AccessToken), `{"name":"made by the successor"}`)
		shown(t, h.do("GET", selfPath, bearer(succ.AccessToken), nil)) // a use

		r := h.do("POST", selfPath+"/rotate", bearer(old.AccessToken), nil)
		if r.status != http.StatusConflict {
			t.Fatalf("rotating again after the successor's use: status %d, want 409: %s", r.status, r.body)
		}
		if p := problemOf(t, r); p.Message != service.MsgReuseDetected {
			t.Errorf("message = %q", p.Message)
		}
		for name, jwt := range map[string]string{"old": old.AccessToken, "successor": succ.AccessToken, "child": child.AccessToken} {
			if r := h.do("GET", selfPath, bearer(jwt), nil); r.status != http.StatusUnauthorized {
				t.Errorf("the %s token works after the reuse: status %d", name, r.status)
			}
		}
		for id, want := range map[string]string{old.ID: "reuse_detected", succ.ID: "reuse_detected", child.ID: "parent_revoked"} {
			got := shown(t, h.do("GET", tokensPath(h.user.ID)+"/"+id, bearer(h.userJWT), nil))
			if got.RevokedReason == nil || *got.RevokedReason != want {
				t.Errorf("token %s… reason %v, want %s", id[:8], got.RevokedReason, want)
			}
		}
		recs, err := h.svc.Audit(t.Context(), latchkey.AuditFilter{Action: latchkey.AuditTokenReuse})
		if err != nil || len(recs) != 1 || recs[0].SubjectID != old.ID {
			t.Errorf("reuse records = %v (%v), want one about the old token", recs, err)
		}
	})
}

// TestRotateRefusals: who may rotate, and what a rotation may ask, in the
// contract's order and shapes.
func TestRotateRefusals(t *testing.T) {
	onEachStore(t, func(t *testing.T, h *harness) {
		tok := h.createVia(h.user, bearer(h.userJWT), `{"name":"x"}`)
		readOnly := h.createVia(h.user, bearer(h.userJWT), `{"name":"reader","scopes":["tokens.read"]}`)
		path := rotatePath(h.user, tok.ID)
		for _, tc := range []struct {
			name, method, path, auth, body string
			status                         int
			field                          string // the field a 422 names
		}{
			{"no credentials", "POST", path, "", "", 401, ""},
			{"another user's viewer", "POST", path, bearer(h.viewerJWT), "", 403, ""},
			{"a token that may only read", "POST", selfPath + "/rotate", bearer(readOnly.AccessToken), "", 403, ""},
			{"negative grace", "POST", path, bearer(h.userJWT), `{"grace_seconds":-1}`, 422, "grace_seconds"},
			{"more than a week", "POST", path, bearer(h.userJWT), `{"grace_seconds":604801}`, 422, "grace_seconds"},
			{"grace as a string", "POST", path, bearer(h.userJWT), `{"grace_seconds":"60"}`, 422, "grace_seconds"},
			{"grace with a fraction", "POST", path, bearer(h.userJWT), `{"grace_seconds":1.5}`, 422, "grace_seconds"},
			{"a key in another case", "POST", path, bearer(h.userJWT), `{"Grace_Seconds":60}`, 422, "Grace_Seconds"},
			{"expiry in the past", "POST", path, bearer(h.userJWT), `{"expires_at":"2020-01-01T00:00:00Z"}`, 422, "expires_at"},
			{"not JSON", "POST", path, bearer(h.userJWT), `{"grace_seconds":`, 400, ""},
			{"no such token", "POST", rotatePath(h.user, strings.Repeat("0", 80)), bearer(h.userJWT), "", 404, ""},
			{"a token of another user", "POST", rotatePath(h.user, mustID(t, h, h.admin)), bearer(h.userJWT), "", 404, ""},
			{"GET", "GET", path, bearer(h.userJWT), "", 405, ""},
			{"PUT on self", "PUT", selfPath, bearer(h.userJWT), "", 405, ""},
		} {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			r := h.do(tc.method, tc.path, tc.auth, body)
			if r.status != tc.status {
				t.Errorf("%s: status %d, want %d: %s", tc.name, r.status, tc.status, r.body)
				continue
			}
			if tc.field != "" {
				if p := problemOf(t, r); len(latchkey.FieldErrors(p.Errors).Get(tc.field)) == 0 {
					t.Errorf("%s: errors %v, want one about %s", tc.name, p.Errors, tc.field)
				}
			}
		}
		// A revoked token is not rotated.
		if r := h.do("DELETE", tokensPath(h.user.ID)+"/"+tok.ID, bearer(h.userJWT), nil); r.status != http.StatusNoContent {
			t.Fatal(r.status)
		}
		if r := h.do("POST", path, bearer(h.userJWT), nil); r.status != http.StatusConflict {
			t.Errorf("rotating a revoked token: status %d, want 409", r.status)
		}
		// Nothing refused was made.
		list := h.do("GET", tokensPath(h.user.ID)+"?per_page=100", bearer(h.userJWT), nil)
		var l wire.TokenList
		if err := json.Unmarshal(list.body, &l); err != nil {
			t.Fatal(err)
		}
		for _, u := range l.Data {
			if u.RotatedFrom != nil {
				t.Errorf("a refused rotation made token %q", u.Name)
			}
		}
	})
}

// mustID is the id of a token made for u at the command line.
func mustID(t *testing.T, h *harness, u *latchkey.User) string {
	t.Helper()
	tok, _, err := h.mintToken(u, "other", nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok.ID
}

// TestSelf: any token shows and revokes itself, whatever its scopes; the
// revocation takes what it made with it, and says the owner did it.
func TestSelf(t *testing.T) {
	onEachStore(t, func(t *testing.T, h *harness) {
		narrow := h.createVia(h.user, bearer(h.userJWT), `{"name":"reports","scopes":["reports.read"]}`)
		got := shown(t, h.do("GET", selfPath, bearer(narrow.AccessToken), nil))
		if got.ID != narrow.ID || got.Name != "reports" {
			t.Errorf("self = %s %q, want the calling token", got.ID, got.Name)
		}
		parent := h.createVia(h.user, bearer(h.userJWT), `{"name":"parent"}`)
		child := h.createVia(h.user, bearer(parent.AccessToken), `{"name":"child"}`)
		if r := h.do("DELETE", selfPath, bearer(parent.AccessToken), nil); r.status != http.StatusNoContent {
			t.Fatalf("DELETE self: status %d", r.status)
		}
		for _, jwt := range []string{parent.AccessToken, child.AccessToken} {
			if r := h.do("GET", selfPath, bearer(jwt), nil); r.status != http.StatusUnauthorized {
				t.Errorf("a token revoked with self: status %d", r.status)
			}
		}
		got = shown(t, h.do("GET", tokensPath(h.user.ID)+"/"+parent.ID, bearer(h.userJWT), nil))
		if got.RevokedReason == nil || *got.RevokedReason != "owner" {
			t.Errorf("reason = %v, want owner", got.RevokedReason)
		}
		if r := h.do("DELETE", selfPath, bearer(narrow.AccessToken), nil); r.status != http.StatusNoContent {
			t.Errorf("a narrow token revoking itself: status %d", r.status)
		}
		if r := h.do("GET", selfPath, "", nil); r.status != http.StatusUnauthorized {
			t.Errorf("self without credentials: status %d", r.status)
		}
		// An administrator revoking someone's token is "admin".
		other := h.createVia(h.user, bearer(h.userJWT), `{"name":"other"}`)
		if r := h.do("DELETE", tokensPath(h.user.ID)+"/"+other.ID, bearer(h.adminJWT), nil); r.status != http.StatusNoContent {
			t.Fatal(r.status)
		}
		got = shown(t, h.do("GET", tokensPath(h.user.ID)+"/"+other.ID, bearer(h.userJWT), nil))
		if got.RevokedReason == nil || *got.RevokedReason != "admin" {
			t.Errorf("reason = %v, want admin", got.RevokedReason)
		}
	})
}

// TestRotateBounds: what a rotation may not do, found by attacking it.
// The chain ended on purpose stays ended; a token's bearer rotating
// another token mints a credential that is its child; a token rotating
// itself gets no longer life nor more networks than it was made with.
func TestRotateBounds(t *testing.T) {
	onEachStoreWith(t, behindProxy, func(t *testing.T, h *harness) {
		// The old secret cannot bring back a chain whose successor was
		// revoked, never used.
		old := h.createVia(h.user, bearer(h.userJWT), `{"name":"ended"}`)
		succ := created(t, h.do("POST", selfPath+"/rotate", bearer(old.AccessToken), nil))
		if r := h.do("DELETE", tokensPath(h.user.ID)+"/"+succ.ID, bearer(h.userJWT), nil); r.status != http.StatusNoContent {
			t.Fatal(r.status)
		}
		if r := h.do("POST", selfPath+"/rotate", bearer(old.AccessToken), nil); r.status != http.StatusConflict {
			t.Errorf("the old secret after its successor was revoked: status %d, want 409: %s", r.status, r.body)
		}

		// Another token's bearer: the successor is its child, bounded by
		// it, and goes when it goes.
		pat := h.createVia(h.user, bearer(h.userJWT), `{"name":"a PAT","scopes":["tokens.read"]}`)
		short := h.createVia(h.user, bearer(h.userJWT), `{"name":"short","expires_at":"`+start.Add(time.Hour).Format(time.RFC3339)+`","allowed_ips":["127.0.0.0/8"]}`)
		r := h.do("POST", rotatePath(h.user, pat.ID), bearer(short.AccessToken), []byte(`{"grace_seconds":604800}`))
		taken := created(t, r)
		if taken.ParentID == nil || *taken.ParentID != short.ID || taken.ExpiresAt.Time.After(start.Add(time.Hour)) || strings.Join(taken.AllowedIPs, " ") != "127.0.0.0/8" {
			t.Errorf("a token rotating another made parent %v, expiry %v, networks %v; want its child, within its hour and networks",
				taken.ParentID, taken.ExpiresAt, taken.AllowedIPs)
		}
		if r := h.do("DELETE", selfPath, bearer(short.AccessToken), nil); r.status != http.StatusNoContent {
			t.Fatal(r.status)
		}
		if r := h.do("GET", selfPath, bearer(taken.AccessToken), nil); r.status != http.StatusUnauthorized {
			t.Errorf("the successor outlived the token that made it: status %d", r.status)
		}

		// A token rotating itself: no longer than it was made to live, no
		// wider than its networks; an empty list keeps them.
		limited := h.createVia(h.user, bearer(h.userJWT), `{"name":"limited","expires_at":"`+start.Add(time.Hour).Format(time.RFC3339)+`","allowed_ips":["127.0.0.1"]}`)
		for _, body := range []string{
			`{"expires_at":"` + start.Add(360*24*time.Hour).Format(time.RFC3339) + `"}`,
			`{"allowed_ips":["127.0.0.0/8"]}`,
		} {
			if r := h.do("POST", selfPath+"/rotate", bearer(limited.AccessToken), []byte(body)); r.status != http.StatusUnprocessableEntity {
				t.Errorf("a token rotating itself into more (%s): status %d, want 422", body, r.status)
			}
		}
		kept := created(t, h.do("POST", selfPath+"/rotate", bearer(limited.AccessToken), []byte(`{"allowed_ips":[]}`)))
		if strings.Join(kept.AllowedIPs, " ") != "127.0.0.1/32" || kept.ExpiresAt.Time.After(start.Add(time.Hour)) {
			t.Errorf("rotating itself with allowed_ips [] gave %v, expiring %v; want its own network and hour", kept.AllowedIPs, kept.ExpiresAt)
		}
	})
}

// TestForwardedForForms: behind a trusted proxy, a hop written with a
// port or brackets is read as its address, and one that is not an
// address matches no limit.
func TestForwardedForForms(t *testing.T) {
	h := newHarnessWith(t, behindProxy)
	tok := h.createVia(h.user, bearer(h.userJWT), `{"name":"here","allowed_ips":["127.0.0.0/8","2001:db8::1"]}`)
	for _, tc := range []struct {
		xff  string
		want int
	}{
		{"127.0.0.9:443", 200}, {"[2001:db8::1]", 200}, {"[2001:db8::1]:8443", 200},
		{"garbage", 401}, {"8.8.8.8:80", 401}, {"8.8.8.8, unknown", 401}, {"[2001:db8::2]", 401},
	} {
		if r := h.doFrom(tc.xff, "GET", selfPath, bearer(tok.AccessToken), nil); r.status != tc.want {
			t.Errorf("X-Forwarded-For %q: status %d, want %d", tc.xff, r.status, tc.want)
		}
	}
}

// TestRotateAgainByID: naming a rotated token by its id, without its
// secret, is no evidence of theft: while its successor was never used it
// answers again; once it was, 409 and nothing is revoked. After a reuse
// detected, every read says so at once.
func TestRotateAgainByID(t *testing.T) {
	onEachStore(t, func(t *testing.T, h *harness) {
		old := h.createVia(h.user, bearer(h.userJWT), `{"name":"by id"}`)
		first := created(t, h.do("POST", rotatePath(h.user, old.ID), bearer(h.adminJWT), nil))  // old revoked at once
		second := created(t, h.do("POST", rotatePath(h.user, old.ID), bearer(h.adminJWT), nil)) // the answer was lost
		shown(t, h.do("GET", selfPath, bearer(second.AccessToken), nil))                        // in use
		r := h.do("POST", rotatePath(h.user, old.ID), bearer(h.adminJWT), nil)
		if r.status != http.StatusConflict || problemOf(t, r).Message != storeerrRotatedAlready {
			t.Fatalf("rotating by id after the successor's use: %d %s, want 409", r.status, r.body)
		}
		shown(t, h.do("GET", selfPath, bearer(second.AccessToken), nil)) // still works
		if r := h.do("GET", selfPath, bearer(first.AccessToken), nil); r.status != http.StatusUnauthorized {
			t.Errorf("the superseded successor: status %d, want 401", r.status)
		}

		// Its own secret, asking again: reuse, and the old token's row
		// says so at once, cached or not.
		shown(t, h.do("GET", tokensPath(h.user.ID)+"/"+old.ID, bearer(h.userJWT), nil)) // cached
		if r := h.do("POST", selfPath+"/rotate", bearer(old.AccessToken), nil); r.status != http.StatusConflict {
			t.Fatalf("the old secret after its successor's use: status %d, want 409", r.status)
		}
		got := shown(t, h.do("GET", tokensPath(h.user.ID)+"/"+old.ID, bearer(h.userJWT), nil))
		if got.RevokedReason == nil || *got.RevokedReason != "reuse_detected" {
			t.Errorf("the old token right after reuse: reason %v, want reuse_detected", got.RevokedReason)
		}
	})
}

const storeerrRotatedAlready = "This token was rotated already, and its successor is in use: rotate the successor instead."
