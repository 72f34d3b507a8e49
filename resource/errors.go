package resource

import "errors"

// ErrInvalidToken is what every refused token's error matches with
// errors.Is: the middleware answers it 401 with error="invalid_token".
// Each reason below matches it too, and a token refused for several
// reasons at once (after its signature verified, every claim is checked)
// matches each of them.
var ErrInvalidToken = errors.New("resource: invalid token")

// The reasons a token is refused. ErrMalformed, ErrAlgorithm,
// ErrUnknownKey and ErrSignature are found before the signature is
// verified, or by verifying it, and alone; the others only once it
// verified, each of them that applies (ErrMalformed again for missing
// claims).
var (
	// ErrMalformed: not a JWS in compact form of at most 16 KiB, a
	// header without alg or kid or with crit or cty; once the signature
	// verified, claims that are not a JSON object whose known members
	// have their types, or that lack sub, client_id or exp.
	ErrMalformed error = &tokenError{"resource: the token is malformed"}
	// ErrAlgorithm: the header's alg is not RS256, ES256 or EdDSA, or is
	// not the algorithm of the key its kid names.
	ErrAlgorithm error = &tokenError{"resource: the token's algorithm is not its key's"}
	// ErrUnknownKey: the issuer's JWKS has no key of the header's kid,
	// even fetched again (at most once every 10 seconds).
	ErrUnknownKey error = &tokenError{"resource: the token's key is not in the issuer's JWKS"}
	// ErrSignature: the signature is not the key's.
	ErrSignature error = &tokenError{"resource: the token's signature does not verify"}
	// ErrType: the header's typ is not at+jwt (RFC 9068 section 4).
	ErrType error = &tokenError{"resource: the token is not an access token (typ at+jwt)"}
	// ErrExpired: exp has passed, by more than the leeway.
	ErrExpired error = &tokenError{"resource: the token has expired"}
	// ErrNotYetValid: nbf or iat is in the future, by more than the
	// leeway.
	ErrNotYetValid error = &tokenError{"resource: the token is not valid yet"}
	// ErrIssuer: iss is missing or not the configured issuer.
	ErrIssuer error = &tokenError{"resource: the token's issuer is not the configured one"}
	// ErrAudience: aud is missing or does not name this resource.
	ErrAudience error = &tokenError{"resource: the token is for another audience"}
	// ErrRevoked: the issuer's introspection endpoint says the token is
	// not active: it was revoked, or its user or client was.
	ErrRevoked error = &tokenError{"resource: the token was revoked"}
)

// ErrUnavailable is what an error matches when a token could not be
// checked because the authorization server could not be asked (its JWKS
// or its introspection endpoint failed or did not answer in time): it
// says nothing of the token. The middleware answers it 503.
var ErrUnavailable = errors.New("resource: the authorization server is unavailable")

// tokenError is a reason a token is refused.
type tokenError struct{ msg string }

func (e *tokenError) Error() string { return e.msg }

// Is makes every reason match ErrInvalidToken.
func (e *tokenError) Is(target error) bool { return target == ErrInvalidToken }
