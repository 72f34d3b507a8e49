package resource

import (
	"context"
	"time"
)

// Active asks the introspection endpoint about token, or takes the kept
// answer, as Verify does once the token's signature and claims are good:
// for the tests against a real Latchkey, whose tokens cannot yet be bound
// to a resource.
func (v *Verifier) Active(ctx context.Context, token string, exp time.Time) (bool, error) {
	return v.introspect.active(ctx, token, exp)
}
