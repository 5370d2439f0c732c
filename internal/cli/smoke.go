package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ludeng/ludeng/internal/smoke"
)

func init() { extraCommands["smoke"] = cmdSmoke }

// cmdSmoke runs the post-deployment smoke test against a running server.
// The password comes from a file or LUDENG_SMOKE_PASSWORD, never a flag (it
// would show in ps).
func cmdSmoke(ctx context.Context, args []string, stdio IO) error {
	fs := flag.NewFlagSet("ludeng smoke", flag.ContinueOnError)
	fs.SetOutput(stdio.Stderr)
	url := fs.String("url", "http://127.0.0.1:8080", "server base URL")
	user := fs.String("user", "smoke", "account to sign in with")
	pwFile := fs.String("password-file", "", "file holding the password (else LUDENG_SMOKE_PASSWORD)")
	version := fs.String("version", "", "fail unless /api/v1/meta reports this version")
	batch := fs.String("batch", "auto", "one-group batch: auto (only when images are simulated), always, never")
	timeout := fs.Duration("timeout", 2*time.Minute, "whole smoke test")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch *batch {
	case "auto", "always", "never":
	default:
		return usageErr("--batch: want auto, always or never, got %q", *batch)
	}
	pw := stdio.Getenv("LUDENG_SMOKE_PASSWORD")
	if *pwFile != "" {
		b, err := os.ReadFile(*pwFile)
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--password-file: %w", err)}
		}
		pw = strings.TrimSpace(string(b))
	}
	if pw == "" {
		return usageErr("no password: --password-file or LUDENG_SMOKE_PASSWORD")
	}
	return smoke.Run(ctx, smoke.Options{URL: *url, User: *user, Password: pw, Version: *version, Batch: *batch, Timeout: *timeout}, stdio.Stdout)
}
