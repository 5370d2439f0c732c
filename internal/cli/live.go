package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ludeng/ludeng/internal/httpapi"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/ws"
	"github.com/ludeng/ludeng/internal/ws/pghub"
)

// openLive mounts GET /api/v1/ws over the pipeline's event log. The hub is
// chosen by engine: in-process on SQLite (one node), LISTEN/NOTIFY on
// PostgreSQL so a client on one node sees the events of jobs on another.
// Events announce themselves: NOTIFY inside the event's transaction on
// PostgreSQL, Publish after the commit on SQLite.
func (a *app) openLive(ctx context.Context) error {
	wcfg := ws.ConfigFromEnv(a.cfg.env, a.cfg.BaseURL)
	if err := a.cfg.env.Err(); err != nil {
		return &exitError{code: 2, err: err}
	}
	var hub ws.Hub
	switch a.db.Engine {
	case store.Postgres:
		h, err := pghub.New(a.db.PG, pghub.Config{}, a.logger.With(slog.String("component", "pghub")), a.registry)
		if err != nil {
			return fmt.Errorf("event hub: %w", err)
		}
		if err := h.Start(ctx); err != nil {
			return fmt.Errorf("event hub: %w", err)
		}
		a.closers = append(a.closers, func() error { return h.Stop(context.Background()) })
		a.db.PublishEvents(pghub.Channel, nil)
		hub = h
	default:
		h, err := ws.NewMemoryHub(0, a.registry)
		if err != nil {
			return fmt.Errorf("event hub: %w", err)
		}
		a.closers = append(a.closers, h.Close)
		a.db.PublishEvents("", func(batchID string, seq int64) { _ = h.Publish(context.Background(), batchID, seq) })
		hub = h
	}
	h, err := ws.NewHandler(wcfg, ws.Deps{Source: a.api.LiveSource(), Hub: hub, Authenticate: httpapi.LiveAuthenticator,
		Logger: a.logger.With(slog.String("component", "ws")), Registerer: a.registry, Stopping: a.api.Stopping()})
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	a.api.EnableLive(h)
	a.live = h
	return nil
}
