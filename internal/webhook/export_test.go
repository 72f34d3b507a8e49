package webhook

import "net"

// SetResolver makes s resolve names with r, a resolver a test points at
// its own DNS server. It must be called before s's first Send.
func SetResolver(s *Sender, r *net.Resolver) { s.resolver = r }
