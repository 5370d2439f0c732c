package cli

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"riverqueue.com/riverui"
	"riverqueue.com/riverui/uiendpoints"

	"github.com/ludeng/ludeng/internal/cleanup"
	"github.com/ludeng/ludeng/internal/httpapi"
	"github.com/ludeng/ludeng/internal/pipeline"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/signedurl"
	"github.com/ludeng/ludeng/internal/webhook"
)

// openPipeline builds the planner and the River pipeline and registers the
// batch routes. Workers start in serve (startPipeline).
func (a *app) openPipeline(ctx context.Context, api *httpapi.Deps) error {
	planner, err := plan.New(a.cfg.Plan, a.db)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	copts, wcfg := a.cfg.Cleanup, a.cfg.Webhooks
	if wcfg.AllowHTTPLoopback {
		a.logger.Warn("LUDENG_WEBHOOK_ALLOW_HTTP_LOOPBACK is set: webhooks may target http:// loopback URLs (tests and local development only)")
	}
	hooks, err := webhook.NewClient(wcfg)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	runCleanup := func(ctx context.Context) error {
		o := copts
		o.Now = time.Now()
		rep, err := cleanup.Run(ctx, o, cleanup.Deps{Store: a.blobs, Refs: a.db, TempDirs: []string{a.blobTemp}, Logger: a.logger})
		if err == nil {
			a.logger.Info("periodic cleanup", slog.Int("temp_files", rep.TempFiles.Files), slog.Int("orphan_blobs", rep.OrphanBlobs.Files),
				slog.Int("results", rep.Results.Files))
		}
		return err
	}
	pd := pipeline.Deps{DB: a.db, Planner: planner, Pool: a.pool, Images: a.images, Enhancer: a.enhancer,
		Blobs: a.blobs, Logger: a.logger, Registerer: a.registry, Cleanup: runCleanup, Version: Version, Webhooks: hooks}
	if a.limiter != nil {
		pd.Limiter = a.limiter
	}
	p, err := pipeline.New(a.cfg.Pipeline, pd)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	a.pipeline = p
	if api.RiverUI, err = a.openRiverUI(ctx); err != nil {
		return err
	}
	bd := httpapi.BatchDeps{Pipeline: p, Blobs: a.blobs, Signer: signedurl.Signer{Key: a.cfg.SecretKey},
		Location: a.cfg.Timezone}
	if ps, ok := a.blobs.Presigner(); ok && a.blobRedirect > 0 {
		ttl := a.blobRedirect
		bd.Presign = func(ctx context.Context, key, ctype string) (string, error) {
			return ps.PresignGet(ctx, key, ttl, ctype, "")
		}
	}
	api.Batches = &bd
	api.Webhooks = &httpapi.WebhookDeps{Pipeline: p, Client: hooks}
	api.Presets = p
	return nil
}

// startPipeline recovers interrupted work and starts the River workers.
func (a *app) startPipeline(ctx context.Context) error {
	if err := a.pipeline.Start(ctx); err != nil {
		return fmt.Errorf("start pipeline: %w", err)
	}
	return nil
}

// stopPipeline lets running jobs finish for up to timeout, then cancels them.
func (a *app) stopPipeline(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := a.pipeline.Stop(ctx); err != nil {
		a.logger.Warn("pipeline stop", slog.Any("error", err))
	}
}

// openRiverUI builds River UI's handler, mounted at /riverui/ (admins only).
func (a *app) openRiverUI(ctx context.Context) (http.Handler, error) {
	var ep uiendpoints.Bundle
	switch c := a.pipeline.RiverClient().(type) {
	case *river.Client[*sql.Tx]:
		ep = riverui.NewEndpoints(c, nil)
	case *river.Client[pgx.Tx]:
		ep = riverui.NewEndpoints(c, nil)
	default:
		return nil, fmt.Errorf("river ui: unexpected client %T", c)
	}
	h, err := riverui.NewHandler(&riverui.HandlerOpts{Endpoints: ep, Prefix: "/riverui", Logger: a.logger.With(slog.String("component", "riverui"))})
	if err != nil {
		return nil, fmt.Errorf("river ui: %w", err)
	}
	if err := h.Start(ctx); err != nil {
		return nil, fmt.Errorf("river ui: %w", err)
	}
	return h, nil
}
