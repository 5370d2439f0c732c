// Package ws is the live-progress stream: the WebSocket endpoint
// GET /api/v1/ws and the event hub that wakes it.
//
// Progress is durable first, pushed second. The pipeline stores every state
// change as an event with a per-batch sequence number and, after the commit,
// calls Hub.Publish(batchID, seq). A Notice is only a wake-up: the handler
// always reads the stored log after the last sequence number it delivered on
// that connection, so replay after a reconnect and live delivery are the same
// code path, a notice lost anywhere costs latency but never an event, and no
// sequence number is ever sent twice on one subscription.
//
// The protocol (message shapes, replay rule, close codes) is documented in
// docs/live-progress.md.
package ws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ludeng/ludeng/internal/config"
	"github.com/ludeng/ludeng/internal/fault"
)

// Event is one stored progress event of a batch.
type Event struct {
	Seq  int64
	Kind string
	At   time.Time
	Data json.RawMessage
}

// Source is what the handler needs from the pipeline's store. Implementations
// must make an event visible to EventsAfter before Publish is called for it,
// and sequence numbers of a batch must become visible in increasing order
// (allocate them under a per-batch row lock in the appending transaction).
type Source interface {
	// CanRead reports whether the user may read the batch (owner or admin).
	// Another user's batch and an unknown batch both answer false.
	CanRead(ctx context.Context, userID string, isAdmin bool, batchID string) (bool, error)
	// Snapshot returns the batch's current state (status, progress, queue
	// position, ETA, images so far) and the sequence number of the last
	// event it reflects.
	Snapshot(ctx context.Context, batchID string) (seq int64, data any, err error)
	// EventsAfter returns at most limit events with Seq > afterSeq in
	// ascending Seq order.
	EventsAfter(ctx context.Context, batchID string, afterSeq int64, limit int) ([]Event, error)
}

// Authenticator identifies the user of an upgrade request (session cookie or
// API token). A non-nil error refuses the upgrade; a *fault.Error keeps its
// kind, anything else becomes 401.
type Authenticator func(r *http.Request) (userID string, isAdmin bool, err error)

// Close codes sent by the server besides the standard ones (1001 going away at
// shutdown, 1003 for binary messages, 1009 for oversized messages, 1012 when
// the event hub closed).
const (
	// StatusSlowConsumer: the send buffer stayed full; reconnect with after_seq.
	StatusSlowConsumer websocket.StatusCode = 4000
	// StatusIdleTimeout: no subscription for Config.IdleTimeout.
	StatusIdleTimeout websocket.StatusCode = 4001
	// StatusMaxLifetime: the connection reached Config.MaxLifetime; reconnect with after_seq.
	StatusMaxLifetime websocket.StatusCode = 4002
	// StatusRightsChanged: the credentials were revoked, the user disabled or
	// demoted; sign in again before reconnecting.
	StatusRightsChanged websocket.StatusCode = 4003
)

// Defaults.
const (
	DefaultPingInterval     = 25 * time.Second // below common proxy idle timeouts (nginx 60 s)
	DefaultPongTimeout      = 15 * time.Second
	DefaultIdleTimeout      = 2 * time.Minute // a tab that subscribes to nothing holds no connection
	DefaultMaxLifetime      = time.Hour       // bounds token/session revocation lag and rebalances nodes
	DefaultSendBuffer       = 256             // messages queued per connection
	DefaultSendTimeout      = 5 * time.Second // how long a full queue may stay full
	DefaultWriteTimeout     = 10 * time.Second
	DefaultMaxSubscriptions = 32
	DefaultReplayPage       = 500
	DefaultReadLimit        = 4 << 10 // client messages are tiny
	DefaultMaxConnsPerUser  = 16      // a few tabs and scripts per user; refuses connection floods
)

// Config configures the handler. Zero values select the defaults.
type Config struct {
	// AllowedOrigins are origins ("https://ludeng.example.com") accepted on
	// cookie-authenticated upgrades besides the request's own Host. Set from
	// LUDENG_BASE_URL.
	AllowedOrigins []string
	// PingInterval between heartbeats (default 25 s). Env LUDENG_WS_PING_INTERVAL.
	PingInterval time.Duration
	// PongTimeout: a ping unanswered this long closes the connection (default 15 s).
	PongTimeout time.Duration
	// IdleTimeout closes a connection without any subscription (default 2 min).
	// Env LUDENG_WS_IDLE_TIMEOUT.
	IdleTimeout time.Duration
	// MaxLifetime closes every connection after this long with 4002 (default 1 h).
	// Env LUDENG_WS_MAX_LIFETIME.
	MaxLifetime time.Duration
	// SendBuffer is the per-connection queue of outgoing messages (default 256).
	// Env LUDENG_WS_SEND_BUFFER.
	SendBuffer int
	// SendTimeout: when the queue stays full this long the client is dropped
	// with 4000 (default 5 s). Replays wait for the queue within this bound.
	SendTimeout time.Duration
	// WriteTimeout bounds writing one frame (default 10 s).
	WriteTimeout time.Duration
	// MaxSubscriptions per connection (default 32).
	MaxSubscriptions int
	// ReplayPage is the EventsAfter limit per store read (default 500).
	ReplayPage int
	// ReadLimit is the largest client message in bytes (default 4 KiB).
	ReadLimit int64
	// MaxConnsPerUser caps one user's open connections on this node
	// (default 16); more are refused with 429. Env LUDENG_WS_MAX_CONNS_PER_USER.
	MaxConnsPerUser int
}

// ConfigFromEnv reads the LUDENG_WS_* variables; baseURL is LUDENG_BASE_URL.
func ConfigFromEnv(env *config.Env, baseURL string) Config {
	c := Config{
		PingInterval:    env.Duration("LUDENG_WS_PING_INTERVAL", DefaultPingInterval),
		IdleTimeout:     env.Duration("LUDENG_WS_IDLE_TIMEOUT", DefaultIdleTimeout),
		MaxLifetime:     env.Duration("LUDENG_WS_MAX_LIFETIME", DefaultMaxLifetime),
		SendBuffer:      env.Int("LUDENG_WS_SEND_BUFFER", DefaultSendBuffer, 16, 1<<16),
		MaxConnsPerUser: env.Int("LUDENG_WS_MAX_CONNS_PER_USER", DefaultMaxConnsPerUser, 1, 1<<16),
	}
	if baseURL != "" {
		if o, err := originOf(baseURL); err == nil {
			c.AllowedOrigins = []string{o}
		}
	}
	return c
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.PingInterval, DefaultPingInterval)
	def(&c.PongTimeout, DefaultPongTimeout)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	def(&c.MaxLifetime, DefaultMaxLifetime)
	def(&c.SendTimeout, DefaultSendTimeout)
	def(&c.WriteTimeout, DefaultWriteTimeout)
	if c.SendBuffer == 0 {
		c.SendBuffer = DefaultSendBuffer
	}
	if c.MaxSubscriptions == 0 {
		c.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if c.ReplayPage == 0 {
		c.ReplayPage = DefaultReplayPage
	}
	if c.ReadLimit == 0 {
		c.ReadLimit = DefaultReadLimit
	}
	if c.MaxConnsPerUser == 0 {
		c.MaxConnsPerUser = DefaultMaxConnsPerUser
	}
}

func (c Config) validate() error {
	if c.PingInterval < 0 || c.PongTimeout < 0 || c.IdleTimeout < 0 || c.MaxLifetime < 0 ||
		c.SendTimeout < 0 || c.WriteTimeout < 0 {
		return errors.New("ws: negative duration in config")
	}
	if c.SendBuffer < 1 || c.MaxSubscriptions < 1 || c.ReplayPage < 1 || c.ReadLimit < 64 {
		return errors.New("ws: send buffer, subscriptions and replay page must be ≥ 1, read limit ≥ 64")
	}
	for _, o := range c.AllowedOrigins {
		if n, err := originOf(o); err != nil || n != strings.ToLower(strings.TrimRight(o, "/")) {
			return fmt.Errorf("ws: allowed origin %q is not scheme://host[:port]", o)
		}
	}
	return nil
}

// Deps are the handler's collaborators.
type Deps struct {
	// Source reads the stored events (the pipeline's store, via an adapter).
	Source Source
	// Hub wakes subscriptions: ws.MemoryHub on SQLite, pghub.Hub on PostgreSQL.
	Hub Hub
	// Authenticate identifies the user of the upgrade request.
	Authenticate Authenticator
	// Recheck resolves the upgrade request's credentials again (session or
	// token still valid, user still enabled, current role). It runs on every
	// subscribe and whenever the user's rights notice arrives; an error
	// closes the connection with 4003. Nil keeps the rights of connect time.
	Recheck Authenticator
	// IsHTTPS reports whether the request reached the service over HTTPS
	// (directly or through a trusted proxy); the origin check compares the
	// scheme too. Nil means r.TLS != nil.
	IsHTTPS func(r *http.Request) bool
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// Registerer receives the handler's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Stopping is closed when the server shuts down: every connection is
	// closed with 1001 and new upgrades are refused with 503.
	Stopping <-chan struct{}
	// WriteError renders a refusal before the upgrade (httpapi's problem
	// writer). Nil writes a minimal problem+json body; unused when the handler
	// is mounted through Serve.
	WriteError func(w http.ResponseWriter, r *http.Request, err error)
	// Now defaults to time.Now (stamps snapshots).
	Now func() time.Time
}

// Handler serves GET /api/v1/ws.
type Handler struct {
	cfg    Config
	deps   Deps
	log    *slog.Logger
	m      metrics
	active tracker // upgraded connections still being served

	connsMu sync.Mutex
	conns   map[string]int // open connections per user
}

// RightsKey is the hub key whose notices mean "this user's sessions, tokens
// or role changed": every connection of the user re-checks its credentials.
// Hub keys are otherwise batch ids (UUIDs), which never contain ':'.
func RightsKey(userID string) string { return "rights:" + userID }

// tracker counts live connections. Unlike sync.WaitGroup it allows an Add
// racing with a Wait (an upgrade that began just before shutdown).
type tracker struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0
}

func (t *tracker) add() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == 0 {
		t.idle = make(chan struct{})
	}
	t.n++
}

func (t *tracker) done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n--
	if t.n == 0 {
		close(t.idle)
	}
}

func (t *tracker) wait(ctx context.Context) error {
	t.mu.Lock()
	if t.n == 0 {
		t.mu.Unlock()
		return nil
	}
	idle := t.idle
	t.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type metrics struct {
	connections prometheus.Gauge
	messages    *prometheus.CounterVec
	closes      *prometheus.CounterVec
	refused     *prometheus.CounterVec
}

// Errors refusing an upgrade.
var (
	ErrCrossOrigin = fault.New(fault.Forbidden, "cross_origin_forbidden",
		"Cross-origin WebSocket refused. Use the ludeng web app or an API token.")
	ErrShuttingDown = fault.New(fault.Unavailable, "shutting_down",
		"The server is restarting. Reconnect in a moment.")
	errUnauthenticated = fault.New(fault.Unauthenticated, "unauthenticated", "Sign in first.")
	// ErrTooManyConnections: the user already has MaxConnsPerUser open.
	ErrTooManyConnections = func() *fault.Error {
		e := fault.New(fault.RateLimited, "too_many_connections", "Too many live connections for this user; close a tab or retry later.")
		e.RetryAfter = 5
		return e
	}()
)

// NewHandler validates cfg and registers the handler's metrics.
func NewHandler(cfg Config, deps Deps) (*Handler, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	for i, o := range cfg.AllowedOrigins {
		cfg.AllowedOrigins[i] = strings.ToLower(strings.TrimRight(o, "/"))
	}
	if deps.Source == nil || deps.Hub == nil || deps.Authenticate == nil {
		return nil, errors.New("ws: Source, Hub and Authenticate are required")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.IsHTTPS == nil {
		deps.IsHTTPS = func(r *http.Request) bool { return r.TLS != nil }
	}
	if deps.Stopping == nil {
		deps.Stopping = make(chan struct{})
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{cfg: cfg, deps: deps, log: log, conns: map[string]int{}, m: metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ludeng_ws_connections",
			Help: "Open WebSocket connections.",
		}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ludeng_ws_messages_total",
			Help: "WebSocket messages by direction (in, out) and type.",
		}, []string{"direction", "type"}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ludeng_ws_closes_total",
			Help: "Closed WebSocket connections by reason.",
		}, []string{"reason"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ludeng_ws_upgrades_refused_total",
			Help: "WebSocket upgrades refused before the handshake, by reason.",
		}, []string{"reason"}),
	}}
	if deps.Registerer != nil {
		for _, c := range []prometheus.Collector{h.m.connections, h.m.messages, h.m.closes, h.m.refused} {
			if err := deps.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("ws: register metrics: %w", err)
			}
		}
	}
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.Serve(w, r); err != nil {
		if h.deps.WriteError != nil {
			h.deps.WriteError(w, r, err)
			return
		}
		writeProblem(w, err)
	}
}

// Serve has httpapi.HandlerFunc's shape: a refusal before the upgrade is
// returned as a *fault.Error (403 cross_origin_forbidden, 401, 503
// shutting_down) for the caller to render; after the upgrade it returns nil.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request) error {
	// Browsers cannot put an Authorization header on a WebSocket handshake,
	// so only cookie-authenticated upgrades can be cross-site hijacked and
	// only those are origin-checked.
	if !isBearer(r) && !h.originAllowed(r) {
		h.m.refused.WithLabelValues("origin").Inc()
		return ErrCrossOrigin
	}
	userID, isAdmin, err := h.deps.Authenticate(r)
	if err != nil || userID == "" {
		h.m.refused.WithLabelValues("auth").Inc()
		if fault.As(err) != nil {
			return err
		}
		return errUnauthenticated.Wrap(err)
	}
	select {
	case <-h.deps.Stopping:
		h.m.refused.WithLabelValues("shutdown").Inc()
		return ErrShuttingDown
	default:
	}
	if !h.reserveConn(userID) {
		h.m.refused.WithLabelValues("per_user_limit").Inc()
		return ErrTooManyConnections.With("max_connections", h.cfg.MaxConnsPerUser)
	}
	defer h.releaseConn(userID)
	// The origin was verified above (or the request carries a bearer token).
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		h.m.refused.WithLabelValues("handshake").Inc()
		return nil // Accept has written the response
	}
	conn.SetReadLimit(h.cfg.ReadLimit)
	h.active.add()
	defer h.active.done()
	h.m.connections.Inc()
	defer h.m.connections.Dec()
	s := newSession(h, conn, userID, isAdmin)
	if h.deps.Recheck != nil {
		s.recheck = func(ctx context.Context) (string, bool, error) { return h.deps.Recheck(r.WithContext(ctx)) }
	}
	reason := s.run(r.Context())
	h.m.closes.WithLabelValues(reason.label).Inc()
	h.log.Debug("websocket closed", slog.String("user_id", userID), slog.String("reason", reason.label))
	return nil
}

func (h *Handler) reserveConn(userID string) bool {
	h.connsMu.Lock()
	defer h.connsMu.Unlock()
	if h.conns[userID] >= h.cfg.MaxConnsPerUser {
		return false
	}
	h.conns[userID]++
	return true
}

func (h *Handler) releaseConn(userID string) {
	h.connsMu.Lock()
	defer h.connsMu.Unlock()
	if h.conns[userID]--; h.conns[userID] <= 0 {
		delete(h.conns, userID)
	}
}

// Wait blocks until every upgraded connection has been closed, or ctx ends.
// http.Server.Shutdown does not wait for hijacked connections, so call it
// after closing Deps.Stopping and before closing the hub and the database.
func (h *Handler) Wait(ctx context.Context) error { return h.active.wait(ctx) }

func isBearer(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ")
}

// originAllowed accepts no Origin (non-browser clients; browsers always send
// one on WebSocket handshakes), the request's own origin (scheme, host and
// port: http://host is another origin than https://host), and AllowedOrigins.
func (h *Handler) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	o, err := originOf(origin)
	if err != nil {
		return false
	}
	scheme := "http"
	if h.deps.IsHTTPS(r) {
		scheme = "https"
	}
	if self, err := originOf(scheme + "://" + r.Host); err == nil && self == o {
		return true
	}
	for _, a := range h.cfg.AllowedOrigins {
		if a == o {
			return true
		}
	}
	return false
}

// originOf returns the lower-case scheme://host[:port] of raw, without the
// scheme's default port, so "https://a" and "https://a:443" compare equal.
func originOf(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("not an http(s) origin: %q", raw)
	}
	host := u.Host
	if p := u.Port(); (u.Scheme == "http" && p == "80") || (u.Scheme == "https" && p == "443") {
		host = strings.TrimSuffix(host, ":"+p)
	}
	return strings.ToLower(u.Scheme + "://" + host), nil
}

// writeProblem is the fallback refusal body when Deps.WriteError is nil.
func writeProblem(w http.ResponseWriter, err error) {
	fe := fault.As(err)
	status, code, detail := http.StatusInternalServerError, "internal", "Internal error."
	if fe != nil {
		code, detail = fe.Code, fe.Detail
		switch fe.Kind {
		case fault.Forbidden:
			status = http.StatusForbidden
		case fault.Unauthenticated:
			status = http.StatusUnauthorized
		case fault.Unavailable:
			status = http.StatusServiceUnavailable
		case fault.NotFound:
			status = http.StatusNotFound
		case fault.RateLimited:
			status = http.StatusTooManyRequests
			if fe.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(fe.RetryAfter))
			}
		}
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type": "about:blank", "title": http.StatusText(status), "status": status, "code": code, "detail": detail,
	})
}
