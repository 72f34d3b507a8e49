package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/storeerr"
)

// NativeErrors are errors of a store's database driver, as its queries
// return them.
type NativeErrors struct {
	Unique     error // a unique or primary key constraint violated
	ForeignKey error // a foreign key constraint violated
	NoRows     error // a query of one row that found none
	Other      error // anything else: a syntax error, say
}

// Wrap checks a store's wrap, what it does to every error an operation
// returns: the native errors an operation did not translate itself become
// the codes and sentences every store gives them, a domain error and a
// canceled context stay as they are, the cause is kept, and the text
// starts with name (the store's package), a colon and the operation.
//
//	func TestWrap(t *testing.T) {
//		storetest.Wrap(t, "sqlite", wrap, storetest.NativeErrors{…})
//	}
func Wrap(t *testing.T, name string, wrap func(op string, err error) error, native NativeErrors) {
	domain := latchkey.Errorf(latchkey.EINVALID, "No.")
	tests := []struct {
		name    string
		err     error
		code    string
		message string
	}{
		{"Unique", native.Unique, latchkey.ECONFLICT, storeerr.MsgValueTaken},
		{"ForeignKey", native.ForeignKey, latchkey.ENOTFOUND, storeerr.MsgReferenceNotFound},
		{"NoRows", native.NoRows, latchkey.ENOTFOUND, storeerr.MsgRecordNotFound},
		{"Other", native.Other, latchkey.EINTERNAL, "Server Error"},
		{"Domain", domain, latchkey.EINVALID, "No."},
		{"Canceled", context.Canceled, latchkey.EINTERNAL, "Server Error"},
		{"SaidByTheOperation", storeerr.NotFound(storeerr.MsgTokenOwnerNotFound, native.ForeignKey),
			latchkey.ENOTFOUND, storeerr.MsgTokenOwnerNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil {
				t.Fatal("no native error given")
			}
			err := wrap("op", tt.err)
			checkError(t, "wrap(op, "+tt.err.Error()+")", err, name+": op", tt.code, tt.message)
			if !errors.Is(err, tt.err) {
				t.Errorf("wrap(op, %v) = %v, which does not wrap the cause", tt.err, err)
			}
		})
	}
}
