package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	pooldata "github.com/ludeng/ludeng/data/pool"
	"github.com/ludeng/ludeng/docs/manual"
	"github.com/ludeng/ludeng/internal/auth"
	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/clusterlimit"
	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/httpapi"
	"github.com/ludeng/ludeng/internal/pipeline"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/poolsync"
	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/web"
)

// app is the wired service: built by open, run by serve, released by close.
// Tests build one directly to drive the real stack.
type app struct {
	cfg      *Config
	logger   *slog.Logger
	db       *store.DB
	registry *prometheus.Registry
	api      *httpapi.Server
	pool     *poolsync.Manager
	blobs    *blob.Instrumented
	blobTemp string // where uploads spool and cleanup sweeps
	// blobRedirect is LUDENG_BLOB_S3_REDIRECT (0: serve bytes through ludeng).
	blobRedirect time.Duration
	// limiter is the cluster-wide limiter (nil: limits are per process).
	limiter  *clusterlimit.Limiter
	images   *provider.Service
	enhancer *provider.PromptEnhancer
	pipeline *pipeline.Pipeline
	// closers run in reverse order on close.
	closers []func() error
}

// openDB opens and migrates the configured database.
func openDB(ctx context.Context, cfg *Config, logger *slog.Logger) (*store.DB, error) {
	db, err := store.Open(ctx, store.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if _, err := pipeline.Migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// openCmdDB loads the configuration and opens the migrated database for a
// one-shot command; the caller closes the database.
func openCmdDB(ctx context.Context, load func() (*Config, error), stdio IO) (*Config, *slog.Logger, *store.DB, error) {
	cfg, err := load()
	if err != nil {
		return nil, nil, nil, err
	}
	logger := cfg.newLogger(stdio.Stderr)
	db, err := openDB(ctx, cfg, logger)
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, logger, db, nil
}

func openApp(ctx context.Context, cfg *Config, logger *slog.Logger, webFS fs.FS) (*app, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", cfg.DataDir, err)
	}
	if err := cfg.ensureSecretKey(); err != nil {
		return nil, err
	}
	db, err := openDB(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, logger: logger, db: db, registry: prometheus.NewRegistry()}
	a.closers = append(a.closers, db.Close)
	if err := ensureAdmin(ctx, a); err != nil {
		a.close()
		return nil, err
	}
	a.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(db.W, "write"),
		// Which version each node runs, for watching a rolling upgrade.
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ludeng_build_info", Help: "Always 1; labels name the running build.",
			ConstLabels: prometheus.Labels{"version": Version, "go_version": runtime.Version(), "database": string(db.Engine)}},
			func() float64 { return 1 }),
	)
	if db.R != db.W {
		a.registry.MustRegister(collectors.NewDBStatsCollector(db.R, "read"))
	}
	a.pool = poolsync.New(db, logger)
	if err := a.pool.Start(ctx, pooldata.FS()); err != nil {
		a.close()
		return nil, fmt.Errorf("element pool: %w", err)
	}
	// Every component is built first; the HTTP server is then built once
	// with all of them (httpapi.Deps), its routes listed in one place.
	deps := httpapi.Deps{DB: db, Logger: logger, Registry: a.registry, Web: webFS, DiskFree: blob.FreeBytes, Pool: a.pool}
	if webFS != nil {
		deps.Manual = manual.FS()
	}
	for _, open := range []func(context.Context, *httpapi.Deps) error{a.openFiles, a.openProviders, a.openPipeline, a.openLive} {
		if err := open(ctx, &deps); err != nil {
			a.close()
			return nil, err
		}
	}
	a.api, err = httpapi.New(httpapi.Config{
		BaseURL:          cfg.BaseURL,
		TrustedProxies:   cfg.TrustedProxies,
		SessionTTL:       cfg.SessionTTL,
		APIRate:          cfg.APIRate,
		APIBurst:         cfg.APIBurst,
		HashSlots:        cfg.HashSlots,
		MetricsToken:     cfg.MetricsToken,
		UploadMinRate:    cfg.UploadMinRate,
		UploadGrace:      cfg.UploadGrace,
		OperatorNetworks: operatorNetworks(cfg),
		MaxTokensPerUser: cfg.MaxTokens,
		TokenMaxTTL:      cfg.TokenMaxTTL,
		MinFreeDisk:      cfg.MinFreeDisk,
		DataDir:          cfg.DataDir,
		Version:          Version,
		Build:            buildInfo(),
		Simulated:        a.images.Simulated(),
		Currency:         cfg.Currency,
		Limits:           httpapi.Limits{GroupsMax: plan.MaxGroups, UploadMaxBytes: cfg.Upload.MaxBytes},
	}, deps)
	if err != nil {
		a.close()
		return nil, &exitError{code: 2, err: err}
	}
	return a, nil
}

// operatorNetworks is LUDENG_OPERATOR_NETWORKS, or loopback and the trusted
// proxies when unset.
func operatorNetworks(cfg *Config) []netip.Prefix {
	if len(cfg.OperatorNetworks) > 0 {
		return cfg.OperatorNetworks
	}
	return append([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}, cfg.TrustedProxies...)
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil {
			a.logger.Warn("close", slog.Any("error", err))
		}
	}
}

// ensureAdmin creates the first admin when none exists. Its password comes
// from LUDENG_ADMIN_PASSWORD or is generated into a 0600 file; the log names
// the file, never the password.
func ensureAdmin(ctx context.Context, a *app) error {
	n, err := a.db.CountAdmins(ctx)
	if err != nil || n > 0 {
		return err
	}
	if _, err := a.db.UserByName(ctx, "admin"); err == nil {
		// An "admin" account exists but is not an enabled admin: an operator
		// decision we must not override.
		a.logger.Warn("no enabled admin account; create one with `ludeng user add --admin`")
		return nil
	}
	pw, fromEnv := a.cfg.AdminPassword, true
	if pw == "" {
		pw, fromEnv = auth.RandomPassword(), false
	}
	hash, err := auth.Hash(pw, auth.DefaultParams)
	if err != nil {
		return err
	}
	err = a.db.InTx(ctx, func(tx *store.Tx) error {
		u, err := a.db.CreateUser(ctx, tx, "admin", hash, store.RoleAdmin)
		if err != nil {
			return err
		}
		return a.db.Audit(ctx, tx, store.AuditEntry{ActorName: "system", Action: "user.create", TargetType: "user", TargetID: u.ID,
			Detail: map[string]any{"username": "admin", "role": "admin", "reason": "first start"}})
	})
	if fe := fault.As(err); fe != nil && fe.Code == "username_taken" {
		// Another node of a cluster starting at the same moment made it.
		a.logger.Info("the first admin account was created by another node", slog.String("username", "admin"))
		return nil
	}
	if err != nil {
		return fmt.Errorf("create first admin: %w", err)
	}
	if fromEnv {
		a.logger.Info("created admin account with the password from LUDENG_ADMIN_PASSWORD", slog.String("username", "admin"))
		return nil
	}
	path := filepath.Join(a.cfg.DataDir, "initial-admin-password")
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return fmt.Errorf("write initial admin password: %w", err)
	}
	a.logger.Warn("created admin account; its password is in the file named here (change it after signing in)",
		slog.String("username", "admin"), slog.String("password_file", path))
	return nil
}

func cmdServe(ctx context.Context, args []string, stdio IO) error {
	fs, load := newFlags("serve", stdio)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	// Two processes write the same log during a handoff: say which is which.
	logger := cfg.newLogger(stdio.Stderr).With(slog.Int("pid", os.Getpid()))
	h, err := newHandoff(cfg, logger)
	if err != nil {
		return err
	}
	defer h.stop()
	return serve(ctx, cfg, logger, web.FS(), nil, h)
}

// serve runs the service until ctx is cancelled (SIGTERM/SIGINT) or a new
// binary took over (h, SIGUSR2; nil: a plain listener, no upgrades), then
// drains in-flight requests for up to ShutdownTimeout and returns nil.
// ready, when non-nil, receives the bound address (tests listen on :0).
func serve(ctx context.Context, cfg *Config, logger *slog.Logger, webFS fs.FS, ready chan<- string, h *handoff) error {
	a, err := openApp(ctx, cfg, logger, webFS)
	if err != nil {
		return err
	}
	defer a.close()

	ln, err := h.listen(cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	// Request contexts must survive the start of shutdown (in-flight requests
	// drain normally), so they are not derived from ctx. Long-lived handlers
	// (WebSockets, streams) watch api.Stopping() instead, which closes when
	// shutdown begins, so they end instead of holding Shutdown to its timeout.
	baseCtx := context.WithoutCancel(ctx)
	srv := &http.Server{
		Handler:           closeWhenDraining(a.api),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(a.api.BeginShutdown)

	// Background loops stop with bgCtx when serve returns.
	bgCtx, stopBG := context.WithCancel(ctx)
	defer stopBG()
	go a.pool.Watch(bgCtx, 30*time.Second)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if h != nil {
		usr2 := make(chan os.Signal, 1)
		signal.Notify(usr2, syscall.SIGUSR2)
		defer signal.Stop(usr2)
		go func() {
			for {
				select {
				case <-bgCtx.Done():
					return
				case <-usr2:
					h.upgrade()
				}
			}
		}()
	}
	go func() {
		for {
			select {
			case <-bgCtx.Done():
				return
			case <-hup:
				if n, changed, err := a.pool.Reload(bgCtx); err != nil {
					logger.Error("SIGHUP: element pool reload failed", slog.Any("error", err))
				} else {
					logger.Info("SIGHUP: element pool reloaded", slog.Int("version", n), slog.Bool("changed", changed))
				}
			}
		}
	}()

	if err := a.startPipeline(ctx); err != nil {
		return err
	}
	// Workers stop after the HTTP server drained (below), or on return.
	pipelineStopped := false
	defer func() {
		if !pipelineStopped {
			a.stopPipeline(cfg.ShutdownTimeout)
		}
	}()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("ludeng listening", slog.String("addr", ln.Addr().String()), slog.String("version", Version),
		slog.String("database", string(a.db.Engine)), slog.String("data_dir", cfg.DataDir))
	if err := h.ready(); err != nil {
		return err
	}
	if ready != nil {
		ready <- ln.Addr().String()
	}
	var drainStart time.Time
	handedOver := false
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
		drainStart = time.Now()
		h.stop() // no upgrade may start now
		a.api.BeginDrain()
		if cfg.DrainDelay > 0 {
			// A load balancer that probes /readyz takes this node out
			// before its socket closes.
			logger.Info("draining: /readyz answers 503 before the listener closes", slog.Duration("delay", cfg.DrainDelay))
			time.Sleep(cfg.DrainDelay)
		}
	case <-h.exit():
		drainStart = time.Now()
		handedOver = true
		a.api.BeginDrain()
		// The new process accepts on the same socket; closing this copy
		// only stops this process from taking connections.
		_ = ln.Close()
		pipelineStopped = true
		pipeDone := make(chan struct{})
		go func() {
			defer close(pipeDone)
			// Stop taking jobs now; running ones finish (or are handed
			// back to the queue at the timeout) while HTTP drains.
			a.stopPipeline(cfg.ShutdownTimeout)
			logger.Info("handoff: pipeline stopped", slog.Duration("took", time.Since(drainStart)))
		}()
		defer func() {
			<-pipeDone
			logger.Info("handoff complete: the old process exits", slog.Duration("drain", time.Since(drainStart)))
		}()
		// Keep-alive connections (nginx's upstream pool, clients) get
		// "Connection: close" on their next answer; after the grace an
		// idle one is closed. The grace must exceed the peers' idle
		// timeout (nginx: keepalive_timeout 4s in the upstream), or a peer
		// may send a request on a connection this process is closing.
		logger.Info("handoff: a new process serves the listener; draining this one",
			slog.Duration("grace", cfg.HandoffGrace), slog.Duration("timeout", cfg.ShutdownTimeout))
		time.Sleep(cfg.HandoffGrace)
	}
	logger.Info("shutting down: draining in-flight requests", slog.Duration("timeout", cfg.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if errors.Is(err, net.ErrClosed) {
		err = nil // the handoff closed the listener already
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	} else if err != nil {
		logger.Warn("shutdown timeout reached; remaining connections closed")
		_ = srv.Close()
	}
	// Shutdown does not wait for hijacked WebSocket connections; they were
	// told to close (1001) when shutdown began.
	if err := a.api.WaitLive(sctx); err != nil {
		logger.Warn("websocket connections still open at the shutdown timeout")
	}
	if handedOver {
		logger.Info("handoff: HTTP drained", slog.Duration("took", time.Since(drainStart)))
		return nil
	}
	logger.Info("stopping pipeline workers: running jobs finish or are interrupted", slog.Duration("timeout", cfg.ShutdownTimeout))
	pipelineStopped = true
	a.stopPipeline(cfg.ShutdownTimeout)
	logger.Info("shutdown complete")
	return nil
}

// closeWhenDraining asks every client to close its connection after the
// answer once the process drains, so keep-alive connections move to the
// process that now owns the listener instead of being cut while idle.
// WebSocket handshakes are left alone (their answer must say Upgrade).
func closeWhenDraining(api *httpapi.Server) http.Handler {
	next := api.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if api.Draining() && r.Header.Get("Upgrade") == "" {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}
