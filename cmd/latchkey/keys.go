package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/latchkey/latchkey/internal/jwt"
	"github.com/latchkey/latchkey/internal/service"
)

func (e *env) keys(ctx context.Context, args []string) error {
	return subcommand(ctx, "keys", args, map[string]func(context.Context, []string) error{
		"rotate": e.keysRotate,
		"import": e.keysImport,
		"list":   e.keysList,
	}, "rotate, import or list")
}

func (e *env) keysRotate(ctx context.Context, args []string) error {
	fs := e.flags("keys rotate", "keys rotate [--alg RS256|ES256|EdDSA]\n\n"+
		"Makes a new key the signing key: RSA 2048 for RS256 (the default, and the only one Laravel Passport verifies),\n"+
		"ECDSA P-256 for ES256, Ed25519 for EdDSA. Older keys, of any algorithm, keep verifying until their last token expires.")
	db := fs.dbFlags()
	alg := algFlag(jwt.DefaultAlgorithm)
	fs.Var(&alg, "alg", "the signing `algorithm` of the new key: "+strings.Join(jwt.Algorithms(), ", "))
	if err := fs.parse(args); err != nil {
		return err
	}
	return e.withService(ctx, db, nil, func(svc *service.Service) error {
		k, err := svc.RotateKey(ctx, string(alg))
		if err != nil {
			return describe(err)
		}
		fmt.Fprintln(e.stdout, k.ID)
		return nil
	})
}

func (e *env) keysImport(ctx context.Context, args []string) error {
	fs := e.flags("keys import", "keys import --private-key FILE [--public-key FILE]\n\n"+
		"Makes a key pair in PEM the signing key: RSA (RS256), such as Laravel Passport's oauth-private.key and\n"+
		"oauth-public.key, ECDSA P-256 (ES256) or Ed25519 (EdDSA).")
	db := fs.dbFlags()
	privFile := fs.FlagSet.String("private-key", "", "PEM file of the private key, unencrypted: PKCS #8, PKCS #1 (RSA) or SEC 1 (ECDSA) (required)")
	pubFile := fs.FlagSet.String("public-key", "", "PEM file of its public key, checked against the private key")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *privFile == "" {
		return usagef("keys import: --private-key is required")
	}
	priv, err := os.ReadFile(*privFile)
	if err != nil {
		return fmt.Errorf("keys import: %w", err)
	}
	var pub []byte
	if *pubFile != "" {
		if pub, err = os.ReadFile(*pubFile); err != nil {
			return fmt.Errorf("keys import: %w", err)
		}
	}
	return e.withService(ctx, db, nil, func(svc *service.Service) error {
		k, err := svc.ImportKey(ctx, priv, pub)
		if err != nil {
			return describe(err)
		}
		fmt.Fprintln(e.stdout, k.ID)
		return nil
	})
}

// algFlag is --alg: one of jwt.Algorithms, spelled exactly.
type algFlag string

func (a *algFlag) String() string { return string(*a) }

func (a *algFlag) Set(s string) error {
	if !slices.Contains(jwt.Algorithms(), s) {
		return fmt.Errorf("want %s", strings.Join(jwt.Algorithms(), ", "))
	}
	*a = algFlag(s)
	return nil
}

func (e *env) keysList(ctx context.Context, args []string) error {
	fs := e.flags("keys list", "keys list")
	db := fs.dbFlags()
	if err := fs.parse(args); err != nil {
		return err
	}
	var keys []service.KeyInfo
	err := e.withService(ctx, db, nil, func(svc *service.Service) (err error) {
		keys, err = svc.Keys(ctx)
		return err
	})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tCREATED\tRETIRED\tSTATE")
	for _, k := range keys {
		state := "retired"
		switch {
		case k.Signing():
			state = "signing"
		case k.Verifying:
			state = "verifying"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", printable(k.ID), printable(k.Algorithm), day(&k.CreatedAt), day(k.RetiredAt), state)
	}
	return tw.Flush()
}
