// Package pghub is the multi-node ws.Hub: PostgreSQL LISTEN/NOTIFY.
//
// Publish runs pg_notify('ludeng_events', '<batchID>:<seq>') on the pool;
// every node (the publisher included) holds one dedicated connection that
// LISTENs on the channel and fans each notification out to its local
// subscribers through a ws.MemoryHub. The payload is only a wake-up: readers
// fetch the stored rows, so NOTIFY's 8000-byte payload limit never matters.
//
// When the listening connection breaks, notifications sent meanwhile are
// lost (PostgreSQL does not queue them for a closed session), so after
// reconnecting the hub wakes every local subscriber with a Seq-0 notice and
// they re-read the log: a broken connection costs latency, never events.
package pghub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ludeng/ludeng/internal/ws"
)

// Channel is the NOTIFY channel.
const Channel = "ludeng_events"

// Payload is the NOTIFY payload for an event: "<batchID>:<seq>". A store
// that prefers to notify inside its own transaction (delivered at commit,
// so a crash between commit and Publish cannot lose the wake-up) runs
// `SELECT pg_notify('ludeng_events', $1)` with this value.
func Payload(batchID string, seq int64) string {
	return batchID + ":" + strconv.FormatInt(seq, 10)
}

// parsePayload is the inverse of Payload.
func parsePayload(p string) (ws.Notice, bool) {
	i := strings.LastIndexByte(p, ':')
	if i <= 0 {
		return ws.Notice{}, false
	}
	seq, err := strconv.ParseInt(p[i+1:], 10, 64)
	if err != nil || seq < 0 {
		return ws.Notice{}, false
	}
	return ws.Notice{BatchID: p[:i], Seq: seq}, true
}

// Defaults.
const (
	DefaultReconnectMin = 250 * time.Millisecond
	DefaultReconnectMax = 30 * time.Second
)

// Config configures the hub. Zero values select the defaults.
type Config struct {
	// ReconnectMin and ReconnectMax bound the exponential backoff (full
	// jitter) between attempts to re-establish LISTEN (defaults 250 ms, 30 s).
	ReconnectMin, ReconnectMax time.Duration
	// Buffer is the per-subscriber notice buffer (default ws.DefaultSubscriptionBuffer).
	Buffer int
}

func (c *Config) setDefaults() {
	if c.ReconnectMin == 0 {
		c.ReconnectMin = DefaultReconnectMin
	}
	if c.ReconnectMax == 0 {
		c.ReconnectMax = DefaultReconnectMax
	}
}

func (c Config) validate() error {
	if c.ReconnectMin < 0 || c.ReconnectMax < c.ReconnectMin || c.Buffer < 0 {
		return errors.New("pghub: need 0 ≤ ReconnectMin ≤ ReconnectMax and Buffer ≥ 0")
	}
	return nil
}

// Hub implements ws.Hub over PostgreSQL. Start it before serving and Stop it
// after the HTTP server has shut down.
type Hub struct {
	pool  *pgxpool.Pool
	cfg   Config
	log   *slog.Logger
	local *ws.MemoryHub

	received   prometheus.Counter
	published  prometheus.Counter
	reconnects prometheus.Counter
	listening  prometheus.Gauge

	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	done    chan struct{}
	pid     atomic.Uint32 // backend pid of the listening connection (tests)
}

var _ ws.Hub = (*Hub)(nil)

// New returns a stopped hub using pool for Publish and the pool's connection
// settings for its dedicated listening connection.
func New(pool *pgxpool.Pool, cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Hub, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	local, err := ws.NewMemoryHub(cfg.Buffer, reg)
	if err != nil {
		return nil, fmt.Errorf("pghub: %w", err)
	}
	h := &Hub{
		pool: pool, cfg: cfg, log: logger, local: local,
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ludeng_ws_pghub_notifications_received_total",
			Help: "NOTIFY messages received on the ludeng_events channel.",
		}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ludeng_ws_pghub_notifications_sent_total",
			Help: "pg_notify calls made by Publish.",
		}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ludeng_ws_pghub_reconnects_total",
			Help: "Times the LISTEN connection was re-established after a failure.",
		}),
		listening: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ludeng_ws_pghub_listening",
			Help: "1 while the LISTEN connection is up.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{h.received, h.published, h.reconnects, h.listening} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("pghub: register metrics: %w", err)
			}
		}
	}
	return h, nil
}

// Start opens the listening connection and returns once LISTEN is active,
// so a notification published after Start returns reaches this node. A
// failure here is returned; later failures are retried forever. Safe to
// call twice.
func (h *Hub) Start(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started {
		return nil
	}
	conn, err := h.connect(ctx)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h.started, h.cancel, h.done = true, cancel, make(chan struct{})
	go h.run(runCtx, conn)
	return nil
}

// Stop closes the listening connection and ends every subscription. Safe to
// call twice; ctx bounds the wait for the listener goroutine.
func (h *Hub) Stop(ctx context.Context) error {
	h.mu.Lock()
	cancel, done := h.cancel, h.done
	h.cancel = nil
	h.mu.Unlock()
	if cancel != nil {
		cancel()
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return h.local.Close()
}

// Publish notifies every node (this one included) that batchID has stored
// events up to seq. Call it after the appending transaction committed.
func (h *Hub) Publish(ctx context.Context, batchID string, seq int64) error {
	if _, err := h.pool.Exec(ctx, "SELECT pg_notify($1, $2)", Channel, Payload(batchID, seq)); err != nil {
		return fmt.Errorf("pghub: notify: %w", err)
	}
	h.published.Inc()
	return nil
}

// Subscribe registers a local subscriber; see ws.Hub.
func (h *Hub) Subscribe(ctx context.Context, batchID string) (ws.Subscription, error) {
	return h.local.Subscribe(ctx, batchID)
}

func (h *Hub) connect(ctx context.Context) (*pgx.Conn, error) {
	cfg := h.pool.Config().ConnConfig
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = "ludeng-events-listener"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pghub: connect: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("pghub: listen: %w", err)
	}
	h.pid.Store(conn.PgConn().PID())
	h.listening.Set(1)
	return conn, nil
}

// run owns the listening connection until ctx ends.
func (h *Hub) run(ctx context.Context, conn *pgx.Conn) {
	defer close(h.done)
	defer h.listening.Set(0)
	for {
		err := h.listen(ctx, conn)
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = conn.Close(closeCtx)
		cancel()
		h.listening.Set(0)
		if ctx.Err() != nil {
			return
		}
		h.log.Warn("event listener connection lost; reconnecting", slog.Any("error", err))
		if conn = h.reconnect(ctx); conn == nil {
			return
		}
		h.reconnects.Inc()
		h.log.Info("event listener reconnected")
		// Notifications sent while we were away are gone: everyone re-reads.
		h.local.WakeAll()
	}
}

func (h *Hub) listen(ctx context.Context, conn *pgx.Conn) error {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		h.received.Inc()
		notice, ok := parsePayload(n.Payload)
		if !ok {
			h.log.Warn("ignoring malformed event notification", slog.String("payload", n.Payload))
			continue
		}
		_ = h.local.Publish(ctx, notice.BatchID, notice.Seq)
	}
}

// reconnect retries with exponential backoff and full jitter until it
// succeeds or ctx ends (nil).
func (h *Hub) reconnect(ctx context.Context) *pgx.Conn {
	backoff := h.cfg.ReconnectMin
	for {
		wait := time.Duration(rand.Int64N(int64(backoff) + 1))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		conn, err := h.connect(ctx)
		if err == nil {
			return conn
		}
		if ctx.Err() != nil {
			return nil
		}
		h.log.Warn("event listener reconnect failed", slog.Any("error", err))
		backoff = min(backoff*2, h.cfg.ReconnectMax)
	}
}
