package main

import (
	"encoding/base64"
	"flag"
)

var errHelp = flag.ErrHelp

func base64URL(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
