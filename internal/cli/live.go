package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ludeng/ludeng/internal/httpapi"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/ws"
	"github.com/ludeng/ludeng/internal/ws/pghub"
)

// openLive gives the server what GET /api/v1/ws needs: the WebSocket
// settings and the hub that wakes subscriptions. The hub is
// chosen by engine: in-process on SQLite (one node), LISTEN/NOTIFY on
// PostgreSQL so a client on one node sees the events of jobs on another.
// Events announce themselves: NOTIFY inside the event's transaction on
// PostgreSQL, Publish after the commit on SQLite.
func (a *app) openLive(ctx context.Context, api *httpapi.Deps) error {
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
		// The hook hears only this process. During a binary handoff the
		// old and the new process share the file, and a client of one must
		// see the events the other one's workers write: poll for them.
		pctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() { defer close(done); pollForeignEvents(pctx, a.db, h, a.logger, time.Second) }()
		a.closers = append(a.closers, func() error { stop(); <-done; return nil })
		hub = h
	}
	// A user's rights notice goes through the same hub as batch events
	// (the server publishes it), so sockets of a disabled, demoted or
	// logged-out user close on every node.
	api.Live = &httpapi.LiveDeps{Config: a.cfg.Live, Hub: hub}
	return nil
}

// pollForeignEvents announces every newly stored event's batch head on hub
// each interval, whichever process wrote it. Heads this process already
// announced cost the sessions one comparison: they never resend a seq.
func pollForeignEvents(ctx context.Context, db *store.DB, hub *ws.MemoryHub, logger *slog.Logger, every time.Duration) {
	cursor := int64(-1)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		heads, next, err := db.EventHeadsSince(ctx, cursor)
		if err != nil && ctx.Err() == nil {
			logger.Warn("poll batch events", slog.Any("error", err))
		}
		cursor = next
		for _, h := range heads {
			_ = hub.Publish(ctx, h.BatchID, h.Seq)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
