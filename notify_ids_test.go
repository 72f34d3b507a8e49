package latchkey_test

import (
	"regexp"
	"testing"

	"github.com/latchkey/latchkey"
)

func TestRandomIDs(t *testing.T) {
	tests := []struct {
		name string
		make func() string
		want *regexp.Regexp
	}{
		{"NewMsgID", latchkey.NewMsgID, regexp.MustCompile(`^msg_[a-z2-7]{26}$`)},
		{"NewWebhookID", latchkey.NewWebhookID, regexp.MustCompile(`^wh_[a-z2-7]{26}$`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[string]bool{}
			for range 100 {
				id := tt.make()
				if !tt.want.MatchString(id) {
					t.Fatalf("%s() = %q, want it to match %s", tt.name, id, tt.want)
				}
				if seen[id] {
					t.Fatalf("%s() = %q twice", tt.name, id)
				}
				seen[id] = true
			}
		})
	}
}
