package main

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"

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
	fs := e.flags("keys rotate", "keys rotate\n\nMakes a new RSA 2048 key the signing key; older keys keep verifying until their last token expires.")
	db := fs.dbFlags()
	if err := fs.parse(args); err != nil {
		return err
	}
	return e.withService(ctx, db, nil, func(svc *service.Service) error {
		k, err := svc.RotateKey(ctx)
		if err != nil {
			return describe(err)
		}
		fmt.Fprintln(e.stdout, k.ID)
		return nil
	})
}

func (e *env) keysImport(ctx context.Context, args []string) error {
	fs := e.flags("keys import", "keys import --private-key FILE [--public-key FILE]\n\nMakes an RSA key pair in PEM, such as Laravel Passport's oauth-private.key and oauth-public.key, the signing key.")
	db := fs.dbFlags()
	privFile := fs.FlagSet.String("private-key", "", "PEM file of the RSA private key (required)")
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
