package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/ludeng/ludeng/internal/batchview"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/ws"
)

// LiveServer is the WebSocket handler (ws.Handler) as the API mounts it.
type LiveServer interface {
	Serve(w http.ResponseWriter, r *http.Request) error
}

// EnableLive mounts GET /api/v1/ws. Call after EnableBatches; the handler
// is built over LiveSource.
func (s *Server) EnableLive(h LiveServer) {
	s.AddRoutes(Route{Method: "GET", Path: "/api/v1/ws", Access: Authenticated, Handle: h.Serve, LongLived: true, NoRateLimit: true})
}

// LiveAuthenticator identifies the user of a WebSocket upgrade. The route is
// Authenticated, so the middleware has already resolved the session or token.
func LiveAuthenticator(r *http.Request) (string, bool, error) {
	u := UserFrom(r.Context())
	if u == nil {
		return "", false, errors.New("no user")
	}
	return u.ID, u.Role == store.RoleAdmin, nil
}

// LiveRecheck resolves a WebSocket's credentials again (ws.Deps.Recheck):
// the session or token must still be valid and the user enabled.
func (s *Server) LiveRecheck(r *http.Request) (string, bool, error) {
	p, err := s.resolve(r)
	if err != nil {
		return "", false, err
	}
	return p.User.ID, p.User.IsAdmin(), nil
}

// RequestIsHTTPS reports whether the client used HTTPS, as resolved through
// the trusted proxies (ws.Deps.IsHTTPS).
func RequestIsHTTPS(r *http.Request) bool { return clientFrom(r.Context()).HTTPS }

// OnRightsChanged registers fn, called after a user's sessions, tokens,
// role or enabled state changed (the live server publishes it to every
// node so open sockets re-check their credentials).
func (s *Server) OnRightsChanged(fn func(userID string)) { s.rightsHook = fn }

func (s *Server) notifyRights(userID string) {
	if s.rightsHook != nil {
		s.rightsHook(userID)
	}
}

// LiveSource reads the batch event log for the WebSocket stream: snapshots
// are GET /api/v1/batches/{id}'s view, events the stored log with the stored
// kind passed through (one vocabulary, store.EventKind; docs/live-progress.md).
func (s *Server) LiveSource() ws.Source {
	return liveSource{a: s.batches}
}

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
		out[i] = ws.Event{Seq: e.Seq, Kind: string(e.Type), At: e.CreatedAt, Data: withURLs(e.Type, e.Data)}
	}
	return out, nil
}

// withURLs adds an image.succeeded event's content links, so a client can
// show the image without fetching the batch.
func withURLs(kind store.EventKind, data json.RawMessage) json.RawMessage {
	if kind != store.ImageKind(store.ImageSucceeded) {
		return data
	}
	var m map[string]any
	if json.Unmarshal(data, &m) != nil {
		return data
	}
	if id, _ := m["image_id"].(string); id != "" {
		m["urls"] = batchview.ContentURLs(id)
		if b, err := json.Marshal(m); err == nil {
			return b
		}
	}
	return data
}
