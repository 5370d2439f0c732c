package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/ludeng/ludeng/internal/batchview"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/ws"
)

// LiveDeps are what GET /api/v1/ws needs beyond the server itself.
type LiveDeps struct {
	// Config is the WebSocket settings (LUDENG_WS_*).
	Config ws.Config
	// Hub wakes subscriptions: ws.MemoryHub on SQLite, pghub.Hub on
	// PostgreSQL. A user's rights notice goes through it too, so the
	// sockets of a disabled, demoted or logged-out user close on every node.
	Hub ws.Hub
}

// live is the WebSocket handler over the server's batch views and session
// resolution.
type live struct {
	h   *ws.Handler
	hub ws.Hub
}

func newLive(s *Server, d LiveDeps) (*live, error) {
	h, err := ws.NewHandler(d.Config, ws.Deps{Source: liveSource{a: s.batches}, Hub: d.Hub, Authenticate: liveAuthenticator,
		Recheck: s.liveRecheck, IsHTTPS: requestIsHTTPS,
		Logger: s.logger.With(slog.String("component", "ws")), Registerer: s.registry, Stopping: s.Stopping()})
	if err != nil {
		return nil, err
	}
	return &live{h: h, hub: d.Hub}, nil
}

// WaitLive waits until the upgraded WebSocket connections ended (they were
// told to close when shutdown began; http.Server.Shutdown does not wait for
// hijacked connections).
func (s *Server) WaitLive(ctx context.Context) error {
	if s.live == nil {
		return nil
	}
	return s.live.h.Wait(ctx)
}

// liveAuthenticator identifies the user of a WebSocket upgrade. The route is
// Authenticated, so the middleware has already resolved the session or token.
func liveAuthenticator(r *http.Request) (string, bool, error) {
	u := UserFrom(r.Context())
	if u == nil {
		return "", false, errors.New("no user")
	}
	return u.ID, u.Role == store.RoleAdmin, nil
}

// liveRecheck resolves a WebSocket's credentials again (ws.Deps.Recheck):
// the session or token must still be valid and the user enabled.
func (s *Server) liveRecheck(r *http.Request) (string, bool, error) {
	p, err := s.resolve(r)
	if err != nil {
		return "", false, err
	}
	return p.User.ID, p.User.IsAdmin(), nil
}

// requestIsHTTPS reports whether the client used HTTPS, as resolved through
// the trusted proxies (ws.Deps.IsHTTPS).
func requestIsHTTPS(r *http.Request) bool { return clientFrom(r.Context()).HTTPS }

// notifyRights tells every node's open sockets of the user that its
// sessions, tokens, role or enabled state changed, so they re-check their
// credentials.
func (s *Server) notifyRights(userID string) {
	if s.live == nil {
		return
	}
	if err := s.live.hub.Publish(context.Background(), ws.RightsKey(userID), 0); err != nil {
		s.logger.Warn("publishing a rights change to live connections failed", slog.Any("error", err))
	}
}

// liveSource reads the batch event log for the WebSocket stream: snapshots
// are GET /api/v1/batches/{id}'s view, events the stored log with the stored
// kind passed through (one vocabulary, store.EventKind; docs/live-progress.md).
type liveSource struct{ a *batchAPI }

func (l liveSource) CanRead(ctx context.Context, userID string, isAdmin bool, batchID string) (bool, error) {
	b, err := l.a.s.db.BatchByID(ctx, batchID)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrBatchNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return isAdmin || b.UserID == userID, nil
}

func (l liveSource) Snapshot(ctx context.Context, batchID string) (int64, any, error) {
	b, err := l.a.s.db.BatchByID(ctx, batchID)
	if err != nil {
		return 0, nil, err
	}
	// The batch row is read first, so the view reflects at least its seq.
	v, err := l.a.view(ctx, b)
	if err != nil {
		return 0, nil, err
	}
	return b.EventSeq, v, nil
}

func (l liveSource) EventsAfter(ctx context.Context, batchID string, afterSeq int64, limit int) ([]ws.Event, error) {
	evs, err := l.a.s.db.EventsAfter(ctx, batchID, afterSeq, limit)
	if err != nil {
		return nil, err
	}
	out := make([]ws.Event, len(evs))
	for i, e := range evs {
		out[i] = ws.Event{Seq: e.Seq, Kind: string(e.Type), At: e.CreatedAt, Data: batchview.LiveEventData(e.Type, e.Data)}
	}
	return out, nil
}
