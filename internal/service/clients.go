package service

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey"
)

// Limits on an application's registration.
const (
	MaxRedirectURIs      = 10   // redirect URIs a client may register
	MaxRedirectURILength = 2000 // bytes in one redirect URI
)

// secretBytes is how many random bytes a client secret or a session's
// cookie holds.
const secretBytes = 32

// newSecret returns secretBytes random bytes, base64url without padding:
// 43 characters safe in a form, a header or a cookie.
func (s *Service) newSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := io.ReadFull(s.cfg.Random, b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// hexSHA256 is the lowercase hex SHA-256 of s.
func hexSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// NewClient describes an application to register.
type NewClient struct {
	Name         string
	RedirectURIs []string
	// Public is a client that cannot keep a secret (a single-page or
	// native app): it gets none, and must use PKCE.
	Public bool
	// DefaultScopes are granted to an authorization request of the client
	// that names no scope; none leaves that to the authorization server's
	// own default. Each must be a scope the server knows.
	DefaultScopes []string
}

// RegisterClient validates and stores an OAuth application, as the
// operator, and returns it with its secret: the only time the secret is
// ever seen. A public client's secret is "". EINVALID for a bad name,
// redirect URI or default scope.
func (s *Service) RegisterClient(ctx context.Context, n NewClient) (*latchkey.Client, string, error) {
	return s.registerClient(ctx, Operator(), n, false)
}

// RegistrationLifetime is how long a client that registered itself
// (RegisterSelf) is kept while it has issued no token.
const RegistrationLifetime = 30 * 24 * time.Hour

// RegisterSelf validates and stores an OAuth application that registered
// itself over the network (RFC 7591), on behalf of someone not signed in
// at origin, and returns it with its secret as RegisterClient does. The
// client is marked SelfRegistered: should it issue no token within
// RegistrationLifetime, the hourly prune deletes it. Which clients may
// register themselves (public ones only, or any) is the caller's to
// decide. EINVALID as RegisterClient, its fields named name,
// redirect_uris and default_scopes.
func (s *Service) RegisterSelf(ctx context.Context, origin latchkey.Origin, n NewClient) (*latchkey.Client, string, error) {
	return s.registerClient(ctx, &latchkey.Principal{Origin: origin}, n, true)
}

// registerClient validates and stores an application, registered by p.
func (s *Service) registerClient(ctx context.Context, p *latchkey.Principal, n NewClient, self bool) (*latchkey.Client, string, error) {
	name := strings.TrimSpace(n.Name)
	uris, fe := checkClient(name, n.RedirectURIs)
	defaults, msg := s.checkDefaultScopes(n.DefaultScopes)
	if msg != "" {
		fe.Add("default_scopes", msg)
	}
	if err := fe.Err(); err != nil {
		return nil, "", err
	}
	now := s.now()
	c := &latchkey.Client{
		Name:           name,
		Redirect:       strings.Join(uris, ","),
		DefaultScopes:  defaults,
		SelfRegistered: self,
		CreatedAt:      now,
		UpdatedAt:      now,
	}
	var err error
	secret := ""
	if !n.Public {
		if secret, err = s.newSecret(); err != nil {
			return nil, "", fmt.Errorf("client secret: %w", err)
		}
		c.SecretHash = HashClientSecret(secret)
	}
	// The store sets the record's subject to the new client's id.
	if err := s.store.CreateClient(ctx, c, s.auditRecord(p, latchkey.AuditRecord{Action: latchkey.AuditClientAdded, Detail: c.Name})); err != nil {
		return nil, "", err
	}
	s.log.Info("client registered", "client_id", c.ID, "name", c.Name, "self_registered", self)
	return c, secret, nil
}

// pruneRegistrations deletes the clients that registered themselves more
// than RegistrationLifetime ago and have issued no token.
func (s *Service) pruneRegistrations(ctx context.Context) {
	n, err := s.store.PruneRegisteredClients(ctx, s.now().Add(-RegistrationLifetime))
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Error("pruning unused registered clients", "err", err)
	case n > 0:
		s.log.Info("unused registered clients pruned", "clients", n)
	}
}

// checkDefaultScopes validates a registration's default scopes, and
// returns them to store: trimmed, without duplicates, nil for none; or
// what is wrong with them.
func (s *Service) checkDefaultScopes(raw []string) (latchkey.Scopes, string) {
	var out latchkey.Scopes
	for _, sc := range raw {
		sc = strings.TrimSpace(sc)
		switch {
		case sc == "":
			continue
		case !slices.Contains(s.scopes, sc):
			return nil, fmt.Sprintf("The default scope %q is not one this server knows: %s.", sc, strings.Join(s.scopes, ", "))
		case !slices.Contains(out, sc):
			out = append(out, sc)
		}
	}
	return out, ""
}

// checkClient validates a registration's trimmed name and its redirect
// URIs, and returns the URIs to store (trimmed, without duplicates) and
// what is wrong.
func checkClient(name string, rawURIs []string) ([]string, latchkey.FieldErrors) {
	fe := checkName(name)
	var uris []string
	for _, u := range rawURIs {
		if u = strings.TrimSpace(u); !slices.Contains(uris, u) {
			uris = append(uris, u)
		}
	}
	switch {
	case len(uris) == 0:
		fe.Add("redirect_uris", "At least one redirect URI is required.")
	case len(uris) > MaxRedirectURIs:
		fe.Add("redirect_uris", fmt.Sprintf("At most %d redirect URIs may be registered.", MaxRedirectURIs))
	}
	for _, u := range uris {
		if msg := checkRedirectURI(u); msg != "" {
			fe.Add("redirect_uris", msg)
		}
	}
	return uris, fe
}

// checkRedirectURI returns what is wrong with a redirect URI, or "". A
// redirect URI is absolute, https (RFC 6749 §3.1.2.1) or http on a
// loopback host (RFC 8252 §7.3), with no fragment (§3.1.2) and no user
// information; it holds no comma, the separator of the stored list.
func checkRedirectURI(raw string) string {
	switch {
	case raw == "":
		return "A redirect URI must not be empty."
	case len(raw) > MaxRedirectURILength:
		return fmt.Sprintf("The redirect URI %q… is longer than %d bytes.", raw[:60], MaxRedirectURILength)
	case strings.Contains(raw, ","):
		return fmt.Sprintf("The redirect URI %q must not contain a comma.", raw)
	case strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return fmt.Sprintf("The redirect URI %q must not contain spaces or control characters.", raw)
	case strings.ContainsFunc(raw, func(r rune) bool { return r >= utf8.RuneSelf }):
		// A URI is ASCII (RFC 3986): anything else is percent-encoded,
		// so that no invisible or reordering character is kept raw, to
		// be shown to a person or compared with what a client sends.
		return fmt.Sprintf("The redirect URI %q must be ASCII: percent-encode any other character.", raw)
	case strings.Contains(raw, "#"):
		return fmt.Sprintf("The redirect URI %q must not have a fragment (#).", raw)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return fmt.Sprintf("The redirect URI %q is not an absolute URL such as https://app.example.com/callback.", raw)
	case u.User != nil:
		return fmt.Sprintf("The redirect URI %q must not contain a user name or password.", raw)
	case !validHost(u.Hostname()):
		// The host also goes into the consent page's Content-Security-
		// Policy: nothing but a name or an address may reach it.
		return fmt.Sprintf("The redirect URI %q does not name a host: letters, digits, dots and hyphens, or an IP address.", raw)
	case u.Port() != "" && !validPort(u.Port()):
		return fmt.Sprintf("The redirect URI %q has a port that is not a number from 1 to 65535.", raw)
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && loopback(u.Hostname()):
		return ""
	}
	return fmt.Sprintf("The redirect URI %q must use https, or http on localhost, 127.0.0.1 or [::1].", raw)
}

// hostName is a DNS name as a redirect URI may use it.
var hostName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$`)

// validHost reports whether host (without port or brackets) is a DNS name
// or an IP address.
func validHost(host string) bool {
	if _, err := netip.ParseAddr(host); err == nil {
		return !strings.Contains(host, "%") // no IPv6 zone
	}
	return len(host) <= 253 && hostName.MatchString(host)
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535 && strconv.Itoa(n) == p
}

// loopback reports whether host (a URL's, without port or brackets) is
// one that RFC 8252 lets a native app listen on with plain http.
func loopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// HashClientSecret is how a client secret is stored: the lowercase hex
// SHA-256 of it. Secrets are 32 random bytes, so a fast hash suffices; a
// password hash's cost would buy nothing.
func HashClientSecret(secret string) string { return hexSHA256(secret) }

// CheckClientSecret reports whether secret is the one whose hash is hash,
// in constant time. A public client's hash, "", matches nothing.
func CheckClientSecret(hash, secret string) bool {
	if hash == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(HashClientSecret(secret)), []byte(hash)) == 1
}

// RedirectURIs returns the redirect URIs c registered; nil for none.
func RedirectURIs(c *latchkey.Client) []string {
	if c.Redirect == "" {
		return nil
	}
	return strings.Split(c.Redirect, ",")
}

// Client returns the client with that id, revoked or not. ENOTFOUND when
// there is none.
func (s *Service) Client(ctx context.Context, id int64) (*latchkey.Client, error) {
	c, err := s.store.Client(ctx, id)
	if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "no client %d", id)
	}
	return c, err
}

// Clients returns every client, the personal access client and revoked
// ones included, by id ascending.
func (s *Service) Clients(ctx context.Context) ([]*latchkey.Client, error) {
	return s.store.Clients(ctx)
}

// RevokeClient revokes an application, as the operator: every token it
// issued stops authenticating, on every replica, the moment this returns,
// and its codes and refresh tokens stop working. Revoking a revoked client
// is not an error. ENOTFOUND when there is no such client; EINVALID for
// the personal access client, which would take every personal token with
// it.
func (s *Service) RevokeClient(ctx context.Context, id int64) error {
	c, err := s.Client(ctx, id)
	if err != nil {
		return err
	}
	if c.ID == latchkey.PersonalAccessClientID || c.PersonalAccessClient {
		return latchkey.Errorf(latchkey.EINVALID, "the personal access client cannot be revoked: revoke tokens one by one")
	}
	rec := s.auditRecord(Operator(), latchkey.AuditRecord{Action: latchkey.AuditClientRevoked, Notify: latchkey.NoteTokenRevoked, SubjectID: idString(id), Detail: c.Name})
	ts, err := s.store.RevokeClient(ctx, id, rec.At, rec)
	if err != nil {
		if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
			return latchkey.Errorf(latchkey.ENOTFOUND, "no client %d", id)
		}
		return err
	}
	// The client's own tokens go with the client event; the tokens they
	// made are personal, and each is told.
	var made []*latchkey.Token
	for _, t := range ts {
		if t.RevokedReason == latchkey.ReasonParentRevoked {
			made = append(made, t)
		}
	}
	s.revoked(ctx, made, string(latchkey.ReasonClientRevoked),
		latchkey.Event{Kind: latchkey.EventClientRevoked, ID: strconv.FormatInt(id, 10)})
	s.log.Info("client revoked", "client_id", id, "name", c.Name)
	return nil
}
