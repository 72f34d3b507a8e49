package client

import "time"

// SetNow sets the clock c reads Retry-After dates against.
func SetNow(c *Client, now func() time.Time) { c.now = now }

// RetryAfter is retryAfter, for tests.
var RetryAfter = retryAfter
