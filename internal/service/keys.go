package service

import (
	"context"
	"crypto"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/jwt"
)

// loadKeys reads the keys that still verify and makes them the keyring.
func (s *Service) loadKeys(ctx context.Context) error {
	keys, err := s.store.VerifyingKeys(ctx, s.now())
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	kr, err := jwt.NewKeyring(keys, s.sealer)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	s.keys.Store(kr)
	s.reloadMu.Lock()
	s.lastReload = time.Now()
	s.reloadMu.Unlock()
	return nil
}

// reloadForUnknownKey reads the keys again when kid (a token's) is one the
// keyring lacks, at most once a second, and reports whether it did.
func (s *Service) reloadForUnknownKey(ctx context.Context, kid string) bool {
	if kid == "" || s.keys.Load().Has(kid) {
		return false
	}
	s.reloadMu.Lock()
	recent := time.Since(s.lastReload) < time.Second
	s.reloadMu.Unlock()
	if recent {
		return false
	}
	if err := s.loadKeys(ctx); err != nil {
		s.log.Error("reloading signing keys", "err", err)
		return false
	}
	return s.keys.Load().Has(kid)
}

// addKey makes priv, or a new key of jwt.DefaultAlgorithm when priv is
// nil, the signing key.
func (s *Service) addKey(ctx context.Context, priv crypto.Signer) (*latchkey.SigningKey, error) {
	if priv == nil {
		var err error
		if priv, err = jwt.GenerateKey(jwt.DefaultAlgorithm); err != nil {
			return nil, err
		}
	}
	k, err := jwt.NewSigningKey(priv, s.sealer, s.now())
	if err != nil {
		return nil, err
	}
	if err := s.store.AddSigningKey(ctx, k, s.auditRecord(Operator(), latchkey.AuditRecord{Action: latchkey.AuditKeyAdded, SubjectID: k.ID})); err != nil {
		return nil, err
	}
	s.log.Info("signing key added", "kid", k.ID)
	s.publish(ctx, latchkey.Event{Kind: latchkey.EventKeysChanged})
	return k, nil
}

// RotateKey makes a new key of alg (jwt.RS256, jwt.ES256 or jwt.EdDSA) the
// signing key. The old ones, of whatever algorithm, keep verifying until
// the last token they signed expires or is revoked. EINVALID for any other
// alg.
func (s *Service) RotateKey(ctx context.Context, alg string) (*latchkey.SigningKey, error) {
	if !slices.Contains(jwt.Algorithms(), alg) {
		return nil, latchkey.Errorf(latchkey.EINVALID, "unknown key algorithm %q; want %s", alg, strings.Join(jwt.Algorithms(), ", "))
	}
	priv, err := jwt.GenerateKey(alg)
	if err != nil {
		return nil, err
	}
	k, err := s.addKey(ctx, priv)
	if err != nil {
		return nil, err
	}
	return k, s.loadKeys(ctx)
}

// ImportKey makes the key in privPEM the signing key: an RSA key, as
// Laravel Passport's oauth-private.key, so that tokens of either side
// verify on the other, or an ECDSA P-256 or Ed25519 key (see
// jwt.ParsePrivateKeyPEM). pubPEM, when given, must be its public half.
func (s *Service) ImportKey(ctx context.Context, privPEM, pubPEM []byte) (*latchkey.SigningKey, error) {
	priv, err := jwt.ParsePrivateKeyPEM(privPEM)
	if err != nil {
		return nil, &latchkey.Error{Code: latchkey.EINVALID, Message: err.Error(), Err: err}
	}
	if len(pubPEM) > 0 {
		pub, err := jwt.ParsePublicKeyPEM(pubPEM)
		if err != nil {
			return nil, &latchkey.Error{Code: latchkey.EINVALID, Message: err.Error(), Err: err}
		}
		if jwt.CheckKeyPair(priv, pub) != nil {
			return nil, latchkey.Errorf(latchkey.EINVALID, "the public key is not the private key's public half")
		}
	}
	k, err := s.addKey(ctx, priv)
	if err != nil {
		if latchkey.ErrorCode(err) == latchkey.ECONFLICT {
			return nil, latchkey.Errorf(latchkey.ECONFLICT, "this key is already imported")
		}
		return nil, err
	}
	return k, s.loadKeys(ctx)
}

// KeyInfo is a signing key as the operator sees it.
type KeyInfo struct {
	*latchkey.SigningKey
	Verifying bool // it still verifies tokens and is published
}

// Keys lists every key, newest first, with whether it still verifies.
func (s *Service) Keys(ctx context.Context) ([]KeyInfo, error) {
	all, err := s.store.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	live, err := s.store.VerifyingKeys(ctx, s.now())
	if err != nil {
		return nil, err
	}
	out := make([]KeyInfo, len(all))
	for i, k := range all {
		out[i] = KeyInfo{SigningKey: k}
		for _, l := range live {
			out[i].Verifying = out[i].Verifying || l.ID == k.ID
		}
	}
	return out, nil
}

// JWKS is the JSON Web Key Set of every key that still verifies.
func (s *Service) JWKS() []byte { return s.keys.Load().JWKS() }
