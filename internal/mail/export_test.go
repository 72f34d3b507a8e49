package mail

import "time"

// DialVia makes m dial addr in place of its URL's host and port: a
// listener on 127.0.0.1 stands for another host, whose name TLS still
// verifies.
func DialVia(m *Mailer, addr string) { m.dialAddr = addr }

// Compose exposes compose, with now as the clock.
func Compose(m *Mailer, msg Message, now time.Time) (to string, data []byte, err error) {
	return m.compose(msg, func() time.Time { return now })
}
