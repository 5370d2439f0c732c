package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/clamav"
	"github.com/ludeng/ludeng/internal/cleanup"
	"github.com/ludeng/ludeng/internal/httpapi"
	"github.com/ludeng/ludeng/internal/signedurl"
	"github.com/ludeng/ludeng/internal/upload"
)

// openFiles wires blob storage, the upload intake, the optional malware
// scanner and signed links into the app.
func (a *app) openFiles(ctx context.Context, api *httpapi.Deps) error {
	bs, err := openBlobs(a.cfg, a.registry)
	if err != nil {
		return err
	}
	var guard upload.SpaceChecker = blob.Guard{Dir: a.cfg.DataDir, Min: a.cfg.MinFreeDisk}
	if bs.s3 != nil {
		// A bucket has no free-space figure to watch; what can go wrong is
		// that it is unreachable, which readiness and uploads report.
		guard = &blob.StoreGuard{C: bs.store}
		api.Checks = append(api.Checks, httpapi.Check{Name: "blob_store", Critical: true, Fn: func(ctx context.Context) (any, error) {
			return map[string]string{"url": bs.s3.String()}, bs.store.Check(ctx)
		}})
		a.logger.Info("blob store on S3", slog.String("url", bs.s3.String()), slog.String("endpoint", bs.s3.Config().Endpoint))
	}
	blobs := bs.store
	ucfg := a.cfg.Upload
	ucfg.TempDir = bs.tempDir
	ccfg := a.cfg.Clamd
	deps := upload.Deps{Space: guard, Registerer: a.registry, Logger: a.logger}
	if ccfg.Enabled() {
		scanner, err := clamav.New(ccfg, a.registry)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		deps.Scanner = scanner
		// Configured but unreachable means uploads answer 503; readiness
		// reports it without taking the node out (downloads still work).
		api.Checks = append(api.Checks, httpapi.Check{Name: "clamd", Fn: func(ctx context.Context) (any, error) {
			return map[string]string{"addr": ccfg.Addr}, scanner.Ping(ctx)
		}})
	}
	intake, err := upload.New(ucfg, deps)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	a.blobs, a.blobTemp = blobs, bs.tempDir
	if bs.s3 != nil {
		a.blobRedirect = bs.s3.Config().RedirectTTL
	}
	api.Uploads = &httpapi.UploadDeps{Blobs: blobs, Intake: intake, Signer: signedurl.Signer{Key: a.cfg.SecretKey}}
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
	opts := cfg.Cleanup
	logger := cfg.newLogger(stdio.Stderr)
	db, err := openDB(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	bs, err := openBlobs(cfg, nil)
	if err != nil {
		return err
	}
	opts.DryRun, opts.Now = *dry, time.Now()
	rep, err := cleanup.Run(ctx, opts, cleanup.Deps{Store: bs.store, Refs: db, TempDirs: []string{bs.tempDir}, Logger: logger})
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

// blobStores is the configured blob store with what callers need beside it.
type blobStores struct {
	store *blob.Instrumented
	// s3 is set when LUDENG_BLOB_URL names a bucket.
	s3 *blob.S3
	// tempDir is where uploads spool before they are stored: the local
	// store's own staging directory, or <data dir>/tmp beside an S3 store.
	tempDir string
}

// openBlobs builds the configured store: the data directory, or the
// bucket of LUDENG_BLOB_URL=s3://… (cfg.BlobS3).
func openBlobs(cfg *Config, reg prometheus.Registerer) (blobStores, error) {
	var bs blobStores
	if cfg.BlobS3 == nil {
		l, err := blob.NewLocal(cfg.DataDir)
		if err != nil {
			return bs, fmt.Errorf("blob store: %w", err)
		}
		bs.tempDir = l.TempDir()
		if bs.store, err = blob.Instrument(l, "local", reg); err != nil {
			return bs, err
		}
		return bs, nil
	}
	s, err := blob.NewS3(*cfg.BlobS3, nil)
	if err != nil {
		return bs, &exitError{code: 2, err: err}
	}
	bs.s3 = s
	bs.tempDir = filepath.Join(cfg.DataDir, blob.TempDirName)
	if err := os.MkdirAll(bs.tempDir, 0o750); err != nil {
		return bs, fmt.Errorf("blob store: %w", err)
	}
	if bs.store, err = blob.Instrument(s, "s3", reg); err != nil {
		return bs, err
	}
	return bs, nil
}
