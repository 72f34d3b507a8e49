package storeerr

import (
	"errors"
	"testing"

	"github.com/latchkey/latchkey"
)

func TestTranslate(t *testing.T) {
	native := errors.New("native")
	tests := []struct {
		name    string
		kind    Kind
		code    string
		message string
	}{
		{"Unique", Unique, latchkey.ECONFLICT, MsgValueTaken},
		{"ForeignKey", ForeignKey, latchkey.ENOTFOUND, MsgReferenceNotFound},
		{"NoRows", NoRows, latchkey.ENOTFOUND, MsgRecordNotFound},
		{"Unstorable", Unstorable, latchkey.EINVALID, MsgUnstorable},
		{"Busy", Busy, latchkey.EUNAVAILABLE, MsgBusy},
		{"Unavailable", Unavailable, latchkey.EUNAVAILABLE, MsgUnavailable},
		{"Other", Other, latchkey.EINTERNAL, "Server Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Translate(native, tt.kind)
			if got := latchkey.ErrorCode(err); got != tt.code {
				t.Errorf("ErrorCode(Translate(native, %v)) = %q, want %q", tt.kind, got, tt.code)
			}
			if got := latchkey.ErrorMessage(err); got != tt.message {
				t.Errorf("ErrorMessage(Translate(native, %v)) = %q, want %q", tt.kind, got, tt.message)
			}
			if !errors.Is(err, native) {
				t.Errorf("Translate(native, %v) = %v, which does not wrap the native error", tt.kind, err)
			}
		})
	}

	t.Run("DomainErrorKept", func(t *testing.T) {
		// The operation said more than the kind does: its words stand.
		said := NotFound(MsgTokenOwnerNotFound, native)
		for _, kind := range []Kind{Unique, ForeignKey, NoRows, Busy} {
			if err := Translate(said, kind); err != said {
				t.Errorf("Translate(%v, %v) = %v, want the error unchanged", said, kind, err)
			}
		}
	})

	t.Run("Nil", func(t *testing.T) {
		if err := Translate(nil, Unique); err != nil {
			t.Errorf("Translate(nil, Unique) = %v, want nil", err)
		}
	})
}
