// Package httpapi is ludeng's HTTP interface: the REST API under /api/v1,
// health and metrics endpoints, and the embedded single-page app.
package httpapi

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ludeng/ludeng/internal/auth"
	"github.com/ludeng/ludeng/internal/pipeline"
	"github.com/ludeng/ludeng/internal/store"
)

// Config holds the HTTP layer's settings.
type Config struct {
	// BaseURL is the public URL (scheme://host); used for links and as an allowed Origin.
	BaseURL string
	// TrustedProxies are the networks whose X-Forwarded-For/-Proto headers are believed.
	TrustedProxies []netip.Prefix
	// SessionTTL is how long a browser session lasts (default 7 days).
	SessionTTL time.Duration
	// APIRate and APIBurst bound requests per user; a user's sessions and
	// tokens share one bucket (default 20/s, burst 60).
	APIRate  float64
	APIBurst int
	// JSONBodyLimit caps JSON request bodies (default 1 MiB).
	JSONBodyLimit int64
	// MinFreeDisk is the free-space floor checked by /readyz and write guards.
	MinFreeDisk int64
	// DataDir must stay writable (checked by /readyz).
	DataDir string
	// Version and Build are reported by /api/v1/meta.
	Version, Build string
	// Simulated is true when no real image provider is configured.
	Simulated bool
	// Currency is the ISO code money is expressed in.
	Currency string
	// PasswordParams are the argon2id costs for new hashes.
	PasswordParams auth.Params
	// UploadMinRate (bytes/s, default 4 KiB/s) and UploadGrace (default 30s)
	// bound how slowly an authenticated upload body may arrive.
	UploadMinRate int64
	UploadGrace   time.Duration
	// MetricsToken, when set, is a bearer token that opens /metrics and the
	// detailed /readyz from anywhere. OperatorNetworks open them without it
	// (default: loopback and TrustedProxies).
	MetricsToken     string
	OperatorNetworks []netip.Prefix
	// MaxTokensPerUser caps live API tokens per user (default 50); TokenMaxTTL
	// is the longest and default token lifetime (default 365 days).
	MaxTokensPerUser int
	TokenMaxTTL      time.Duration
	// HashSlots bounds concurrent password hashes (default max(2, NumCPU));
	// HashWait is how long a login waits for a slot before 503 auth_busy (default 2s).
	HashSlots int
	HashWait  time.Duration
	// Limits are advertised in /api/v1/meta.
	Limits Limits
}

func (c *Config) withDefaults() {
	if c.SessionTTL == 0 {
		c.SessionTTL = 7 * 24 * time.Hour
	}
	if c.APIRate == 0 {
		c.APIRate = 20
	}
	if c.APIBurst == 0 {
		c.APIBurst = 60
	}
	if c.JSONBodyLimit == 0 {
		c.JSONBodyLimit = 1 << 20
	}
	if c.Currency == "" {
		c.Currency = "CNY"
	}
	if c.UploadMinRate == 0 {
		c.UploadMinRate = 4 << 10
	}
	if c.UploadGrace == 0 {
		c.UploadGrace = 30 * time.Second
	}
	if c.OperatorNetworks == nil {
		c.OperatorNetworks = append([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
			c.TrustedProxies...)
	}
	if c.MaxTokensPerUser == 0 {
		c.MaxTokensPerUser = 50
	}
	if c.TokenMaxTTL == 0 {
		c.TokenMaxTTL = 365 * 24 * time.Hour
	}
	if c.HashSlots == 0 {
		c.HashSlots = max(2, runtime.NumCPU())
	}
	if c.HashWait == 0 {
		c.HashWait = 2 * time.Second
	}
	if c.PasswordParams == (auth.Params{}) {
		c.PasswordParams = auth.DefaultParams
	}
}

// Check is one readiness probe. Critical checks fail /readyz; the others
// only appear in its JSON detail.
type Check struct {
	Name     string
	Critical bool
	Fn       func(ctx context.Context) (detail any, err error)
}

// Deps are the collaborators of the server: everything it serves is given
// here, once, and routes lists the routes each one brings. A nil optional
// dependency leaves its route group out (its paths answer 404
// route_not_found like any unknown path).
type Deps struct {
	DB       *store.DB
	Logger   *slog.Logger
	Registry *prometheus.Registry
	// Web is the built SPA (web/dist); nil serves no UI.
	Web fs.FS
	// Manual is the user manual (docs/manual) served at /manual/ beside the
	// SPA; nil serves none.
	Manual fs.FS
	// Now is the clock (tests inject one for the login throttle).
	Now func() time.Time
	// DiskFree reports free bytes of the filesystem holding a path.
	DiskFree func(path string) (int64, error)
	// Checks are readiness checks beyond the core ones (database, data
	// directory, disk): blob store, clamd, providers.
	Checks []Check

	// Pool serves the element pool routes.
	Pool PoolService
	// Uploads serves the upload routes.
	Uploads *UploadDeps
	// Providers serves the provider admin routes and the kie callback.
	Providers ProviderAdmin
	// Batches serves the batch, image, picking, history, usage, budget and
	// queue routes.
	Batches *BatchDeps
	// Presets serves the preset routes (settings checked by the pipeline).
	Presets *pipeline.Pipeline
	// Webhooks serves the user's webhook routes.
	Webhooks *WebhookDeps
	// Live serves GET /api/v1/ws over the batch views; needs Batches.
	Live *LiveDeps
	// RiverUI is River UI's handler (built with Prefix "/riverui"), mounted
	// at /riverui/ for admins.
	RiverUI http.Handler
}

// Server serves the API.
type Server struct {
	cfg       Config
	db        *store.DB
	logger    *slog.Logger
	registry  *prometheus.Registry
	web       fs.FS
	gz        gzipCache
	manual    fs.FS
	now       func() time.Time
	diskFree  func(string) (int64, error)
	throttle  *auth.Throttle
	hashGate  *auth.HashGate
	limiter   *limiter
	metrics   *metrics
	checks    []Check
	pool      PoolService
	uploads   *UploadDeps
	providers ProviderAdmin
	batches   *batchAPI
	presets   *presetAPI
	webhooks  *webhookAPI
	live      *live
	riverUI   http.Handler
	// testRoutes are routes a test of this package added (export_test.go).
	testRoutes []Route
	handler    http.Handler
	// dummyHash is verified against when the user does not exist, so a
	// failed login costs the same time either way.
	dummyHash string

	stopping     context.Context
	stopStopping context.CancelFunc
	// draining: this process is handing over (a new binary took the
	// listener) or about to stop; /readyz says 503 so load balancers and the
	// deploy script stop sending it new work, while requests still succeed.
	draining atomic.Bool
}

// New builds the server with every dependency it serves; routes lists what
// each brings.
func New(cfg Config, d Deps) (*Server, error) {
	cfg.withDefaults()
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	s := &Server{
		cfg: cfg, db: d.DB, logger: d.Logger, registry: d.Registry, web: d.Web, manual: d.Manual, now: d.Now,
		diskFree: d.DiskFree,
		throttle: auth.NewThrottle(d.Now),
		hashGate: auth.NewHashGate(cfg.HashSlots, cfg.HashWait),
		limiter:  newLimiter(cfg.APIRate, cfg.APIBurst, d.Now),
		metrics:  newMetrics(d.Registry),
		pool:     d.Pool, uploads: d.Uploads, providers: d.Providers, riverUI: d.RiverUI,
	}
	s.stopping, s.stopStopping = context.WithCancel(context.Background())
	s.dummyHash, _ = auth.Hash("not-a-real-password", cfg.PasswordParams)
	s.checks = append(s.coreChecks(), d.Checks...)
	if d.Batches != nil {
		s.batches = newBatchAPI(s, *d.Batches)
	}
	if d.Presets != nil {
		s.presets = &presetAPI{s: s, p: d.Presets}
	}
	if d.Webhooks != nil {
		s.webhooks = &webhookAPI{s: s, d: *d.Webhooks}
	}
	if d.Live != nil {
		if s.batches == nil {
			return nil, errors.New("httpapi: Live needs Batches (the stream's snapshots are batch views)")
		}
		l, err := newLive(s, *d.Live)
		if err != nil {
			return nil, err
		}
		s.live = l
	}
	return s, nil
}

// Handler returns the root handler with every middleware applied.
func (s *Server) Handler() http.Handler {
	if s.handler == nil {
		s.handler = s.build()
	}
	return s.handler
}

// BeginShutdown tells long-lived handlers to finish; wired to
// http.Server.RegisterOnShutdown.
func (s *Server) BeginShutdown() { s.stopStopping() }

// BeginDrain makes /readyz answer 503 "draining" from now on. Requests keep
// being served; the caller stops accepting and shuts down when it chooses.
func (s *Server) BeginDrain() { s.draining.Store(true) }

// Draining reports whether BeginDrain was called.
func (s *Server) Draining() bool { return s.draining.Load() }

// Stopping is closed when shutdown begins.
func (s *Server) Stopping() <-chan struct{} { return s.stopping.Done() }
