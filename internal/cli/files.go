package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/clamav"
	"github.com/ludeng/ludeng/internal/cleanup"
	"github.com/ludeng/ludeng/internal/httpapi"
	"github.com/ludeng/ludeng/internal/signedurl"
	"github.com/ludeng/ludeng/internal/upload"
)

// openFiles wires blob storage, the upload intake, the optional malware
// scanner and signed links into the app.
func (a *app) openFiles(ctx context.Context) error {
	blobs, err := blob.NewLocal(a.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	guard := blob.Guard{Dir: a.cfg.DataDir, Min: a.cfg.MinFreeDisk}
	ucfg := upload.ConfigFromEnv(a.cfg.env)
	ucfg.TempDir = blobs.TempDir()
	ccfg := clamav.ConfigFromEnv(a.cfg.env)
	if err := a.cfg.env.Err(); err != nil {
		return &exitError{code: 2, err: err}
	}
	deps := upload.Deps{Space: guard, Registerer: a.registry, Logger: a.logger}
	if ccfg.Enabled() {
		scanner, err := clamav.New(ccfg, a.registry)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		deps.Scanner = scanner
		// Configured but unreachable means uploads answer 503; readiness
		// reports it without taking the node out (downloads still work).
		a.api.AddCheck(httpapi.Check{Name: "clamd", Fn: func(ctx context.Context) (any, error) {
			return map[string]string{"addr": ccfg.Addr}, scanner.Ping(ctx)
		}})
	}
	intake, err := upload.New(ucfg, deps)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	a.blobs = blobs
	a.api.EnableUploads(httpapi.UploadDeps{Blobs: blobs, Intake: intake, Signer: signedurl.Signer{Key: a.cfg.SecretKey}})
	return nil
}

// cmdCleanup implements `ludeng cleanup [--dry-run]`.
func cmdCleanup(ctx context.Context, args []string, stdio IO) error {
	fs, load := newFlags("cleanup", stdio)
	dry := fs.Bool("dry-run", false, "report what would be deleted without deleting")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	opts := cleanup.OptionsFromEnv(cfg.env)
	if err := cfg.env.Err(); err != nil {
		return &exitError{code: 2, err: err}
	}
	logger := cfg.newLogger(stdio.Stderr)
	db, err := openDB(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	blobs, err := blob.NewLocal(cfg.DataDir)
	if err != nil {
		return err
	}
	opts.DryRun, opts.Now = *dry, time.Now()
	rep, err := cleanup.Run(ctx, opts, cleanup.Deps{Store: blobs, Refs: db, TempDirs: []string{blobs.TempDir()}, Logger: logger})
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdio.Stdout).Encode(rep)
	}
	verb := "deleted"
	if rep.DryRun {
		verb = "would delete"
	}
	fmt.Fprintf(stdio.Stdout, "%s: %d temp files (%d bytes), %d orphaned blobs (%d bytes), %d expired results (%d bytes); %d errors\n",
		verb, rep.TempFiles.Files, rep.TempFiles.Bytes, rep.OrphanBlobs.Files, rep.OrphanBlobs.Bytes,
		rep.Results.Files, rep.Results.Bytes, rep.Errors)
	return nil
}
