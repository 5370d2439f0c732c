// Package pipeline runs batches on River: submit (planning, budget and the
// jobs inserted in one transaction), enhance prompts (one job per group),
// generate + visual QC (one job per image) and finalize (one per batch).
//
// River runs on the application's database: riversqlite on the SQLite write
// pool (one connection — a worker never holds a transaction while touching
// db.W) and riverpgxv5 on the PostgreSQL pool. Jobs are inserted in the
// transaction of the state change that causes them, and every state change
// writes a batch event with the batch's next sequence number in that same
// transaction. See docs/pipeline.md.
package pipeline

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/config"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/pool"
	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/similarity"
	"github.com/ludeng/ludeng/internal/store"
)

// Queue names.
const (
	QueueDefault  = river.QueueDefault
	QueueGenerate = "generate"
)

// Config tunes the pipeline. Zero values take the documented defaults.
type Config struct {
	// Concurrency caps image generations in flight per node (default 5),
	// shared fairly between users.
	Concurrency int
	// EnhanceTimeout, GenerateTimeout and FinalizeTimeout bound one job run
	// of each kind (defaults 3m, 10m, 1m). GenerateTimeout covers the
	// provider call and QC, not the wait for a generation slot.
	EnhanceTimeout, GenerateTimeout, FinalizeTimeout time.Duration
	// SlotWait is how long a generate job waits for a slot before it goes
	// back to the queue (default 30s).
	SlotWait time.Duration
	// MaxQCRetries is the number of nudged retries after a failed QC
	// (default 3).
	MaxQCRetries int
	// MaxAttempts of a generate job against unavailable providers (default 5).
	MaxAttempts int
	// MaxProviderWait is how long images wait while every provider is out
	// (quota, open circuit) before they fail (default 30m).
	MaxProviderWait time.Duration
	// PausedPoll is how often jobs of a paused batch look again (default 2s).
	PausedPoll time.Duration
	// FetchPollInterval and FetchCooldown tune River's fetch loop
	// (defaults 100ms and 20ms; SQLite polls).
	FetchPollInterval, FetchCooldown time.Duration
	// RescueStuckJobsAfter: running jobs of a dead process become retryable
	// after this (default GenerateTimeout + 1m).
	RescueStuckJobsAfter time.Duration
	// PricePerImage / PricePerImage1536 estimate a generation, in micros.
	PricePerImage, PricePerImage1536 int64
	// Location is where days and months of budgets begin (LUDENG_TIMEZONE).
	Location *time.Location
	// QC thresholds (defaults from the similarity package).
	QC similarity.Thresholds
	// CleanupInterval runs Deps.Cleanup periodically (default 1h).
	CleanupInterval time.Duration
}

// ConfigFromEnv reads LUDENG_PIPELINE_* variables.
func ConfigFromEnv(env *config.Env) Config {
	return Config{
		Concurrency:          env.Int("LUDENG_PIPELINE_CONCURRENCY", 5, 1, 500),
		EnhanceTimeout:       env.Duration("LUDENG_PIPELINE_ENHANCE_TIMEOUT", 3*time.Minute),
		GenerateTimeout:      env.Duration("LUDENG_PIPELINE_JOB_TIMEOUT", 10*time.Minute),
		FinalizeTimeout:      env.Duration("LUDENG_PIPELINE_FINALIZE_TIMEOUT", time.Minute),
		SlotWait:             env.Duration("LUDENG_PIPELINE_SLOT_WAIT", 30*time.Second),
		MaxQCRetries:         env.Int("LUDENG_PIPELINE_QC_RETRIES", 3, 0, 10),
		MaxAttempts:          env.Int("LUDENG_PIPELINE_MAX_ATTEMPTS", 5, 1, 50),
		MaxProviderWait:      env.Duration("LUDENG_PIPELINE_MAX_PROVIDER_WAIT", 30*time.Minute),
		FetchPollInterval:    env.Duration("LUDENG_PIPELINE_FETCH_POLL", 100*time.Millisecond),
		FetchCooldown:        env.Duration("LUDENG_PIPELINE_FETCH_COOLDOWN", 20*time.Millisecond),
		RescueStuckJobsAfter: env.Duration("LUDENG_PIPELINE_RESCUE_AFTER", 0),
		CleanupInterval:      env.Duration("LUDENG_CLEANUP_INTERVAL", time.Hour),
	}
}

func (c Config) withDefaults() Config {
	c.Concurrency = cmp.Or(c.Concurrency, 5)
	c.EnhanceTimeout = cmp.Or(c.EnhanceTimeout, 3*time.Minute)
	c.GenerateTimeout = cmp.Or(c.GenerateTimeout, 10*time.Minute)
	c.FinalizeTimeout = cmp.Or(c.FinalizeTimeout, time.Minute)
	c.SlotWait = cmp.Or(c.SlotWait, 30*time.Second)
	if c.MaxQCRetries == 0 {
		c.MaxQCRetries = 3
	}
	c.MaxAttempts = cmp.Or(c.MaxAttempts, 5)
	c.MaxProviderWait = cmp.Or(c.MaxProviderWait, 30*time.Minute)
	c.PausedPoll = cmp.Or(c.PausedPoll, 2*time.Second)
	c.FetchPollInterval = cmp.Or(c.FetchPollInterval, 100*time.Millisecond)
	c.FetchCooldown = cmp.Or(c.FetchCooldown, 20*time.Millisecond)
	c.RescueStuckJobsAfter = cmp.Or(c.RescueStuckJobsAfter, c.GenerateTimeout+time.Minute)
	if c.PricePerImage1536 == 0 {
		c.PricePerImage1536 = c.PricePerImage
	}
	if c.Location == nil {
		c.Location = time.UTC
	}
	c.CleanupInterval = cmp.Or(c.CleanupInterval, time.Hour)
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Concurrency < 1 || c.Concurrency > 500 {
		errs = append(errs, fmt.Errorf("LUDENG_PIPELINE_CONCURRENCY: must be 1–500, got %d", c.Concurrency))
	}
	if c.MaxQCRetries < 0 || c.MaxQCRetries > 10 {
		errs = append(errs, fmt.Errorf("LUDENG_PIPELINE_QC_RETRIES: must be 0–10, got %d", c.MaxQCRetries))
	}
	if c.PricePerImage < 0 || c.PricePerImage1536 < 0 {
		errs = append(errs, errors.New("prices must not be negative"))
	}
	return errors.Join(errs...)
}

// Snapshots gives the current element pool (poolsync.Manager).
type Snapshots interface {
	Current() *pool.Snapshot
}

// Deps are the pipeline's collaborators.
type Deps struct {
	DB       *store.DB
	Planner  *plan.Planner
	Pool     Snapshots
	Images   provider.ImageGenerator
	Enhancer provider.Enhancer
	Blobs    blob.Store
	Logger   *slog.Logger
	// Registerer receives the metrics; nil registers nothing.
	Registerer prometheus.Registerer
	Now        func() time.Time
	// Cleanup, when set, runs as the periodic ludeng_cleanup job (the
	// files issue's cleanup.Run), once per CleanupInterval on the leader.
	Cleanup func(ctx context.Context) error
}

// Pipeline owns the River client and the workers.
type Pipeline struct {
	cfg  Config
	d    Deps
	db   *store.DB
	log  *slog.Logger
	jobs jobClient
	fair *fairSlots
	m    *metrics

	mu      sync.Mutex
	running map[string]context.CancelFunc // image id → cancel of its provider call
	sigs    sigCache
	photos  photoCache
	started time.Time
}

// New builds the pipeline and its River client (not started).
func New(cfg Config, d Deps) (*Pipeline, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("pipeline config: %w", err)
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	m, err := newMetrics(d.Registerer, d.DB)
	if err != nil {
		return nil, err
	}
	p := &Pipeline{cfg: cfg, d: d, db: d.DB, log: d.Logger, fair: newFairSlots(cfg.Concurrency), m: m,
		running: map[string]context.CancelFunc{}, sigs: sigCache{m: map[string]*similarity.Signature{}},
		photos: photoCache{m: map[string][]byte{}}}
	workers := river.NewWorkers()
	river.AddWorker(workers, &enhanceWorker{p: p})
	river.AddWorker(workers, &generateWorker{p: p})
	river.AddWorker(workers, &finalizeWorker{p: p})
	var periodic []*river.PeriodicJob
	if d.Cleanup != nil {
		river.AddWorker(workers, &cleanupWorker{p: p})
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(cfg.CleanupInterval),
			func() (river.JobArgs, *river.InsertOpts) { return CleanupArgs{}, nil }, nil))
	}
	rc := &river.Config{
		PeriodicJobs: periodic,
		Queues: map[string]river.QueueConfig{
			QueueDefault: {MaxWorkers: 20},
			// Every available generation is fetched; the fair slots decide
			// which run, so one user's big batch cannot keep another's jobs
			// out of the fetch window.
			QueueGenerate: {MaxWorkers: 200},
		},
		Workers:              workers,
		FetchPollInterval:    cfg.FetchPollInterval,
		FetchCooldown:        cfg.FetchCooldown,
		RescueStuckJobsAfter: cfg.RescueStuckJobsAfter,
		JobTimeout:           -1,
		MaxAttempts:          cfg.MaxAttempts,
		Logger:               d.Logger.With(slog.String("component", "river")),
	}
	switch d.DB.Engine {
	case store.SQLite:
		c, err := river.NewClient(riversqlite.New(d.DB.W), rc)
		if err != nil {
			return nil, fmt.Errorf("river client: %w", err)
		}
		p.jobs = &riverClient[*sql.Tx]{c: c, tx: func(t *store.Tx) *sql.Tx { return t.SQLTx() }}
	default:
		c, err := river.NewClient(riverpgxv5.New(d.DB.PG), rc)
		if err != nil {
			return nil, fmt.Errorf("river client: %w", err)
		}
		p.jobs = &riverClient[pgx.Tx]{c: c, tx: func(t *store.Tx) pgx.Tx { return t.PgxTx() }}
	}
	return p, nil
}

// Migrate applies River's schema migrations to the database (idempotent).
func Migrate(ctx context.Context, db *store.DB) (int, error) {
	var (
		res *rivermigrate.MigrateResult
		err error
	)
	switch db.Engine {
	case store.SQLite:
		m, merr := rivermigrate.New(riversqlite.New(db.W), nil)
		if merr != nil {
			return 0, fmt.Errorf("river migrator: %w", merr)
		}
		res, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	default:
		m, merr := rivermigrate.New(riverpgxv5.New(db.PG), nil)
		if merr != nil {
			return 0, fmt.Errorf("river migrator: %w", merr)
		}
		res, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	}
	if err != nil {
		return 0, fmt.Errorf("river migrate: %w", err)
	}
	return len(res.Versions), nil
}

// Start recovers work a previous process left running and starts the
// workers.
func (p *Pipeline) Start(ctx context.Context) error {
	p.started = p.d.Now()
	if p.db.Engine == store.SQLite {
		// Only on SQLite is every running image this database's own: on
		// PostgreSQL other nodes may be generating right now, and River's
		// rescuer hands a dead node's jobs (and their running images) over.
		n, err := p.db.MarkInterrupted(ctx, p.started)
		if err != nil {
			return fmt.Errorf("mark interrupted images: %w", err)
		}
		if n > 0 {
			p.log.Warn("images in flight at the last stop were marked interrupted; their jobs are retried", slog.Int("images", n))
		}
		// One process owns a SQLite database, so every River job still
		// "running" belongs to the dead one. Rather than wait for River's
		// stuck-job rescuer, queue the unfinished work again now; a rescued
		// old job later finds its image done or taken and does nothing.
		if err := p.resume(ctx); err != nil {
			return err
		}
	}
	return p.jobs.start(ctx)
}

// Stop stops fetching and waits for running jobs until ctx ends, then
// cancels them (their images become interrupted and are retried later).
func (p *Pipeline) Stop(ctx context.Context) error {
	return p.jobs.stop(ctx)
}

// PauseQueue / ResumeQueue pause or resume all image generation (admin).
func (p *Pipeline) PauseQueue(ctx context.Context) error  { return p.jobs.pause(ctx, QueueGenerate) }
func (p *Pipeline) ResumeQueue(ctx context.Context) error { return p.jobs.resume(ctx, QueueGenerate) }

// jobClient hides River's transaction type parameter.
type jobClient interface {
	insertTx(ctx context.Context, tx *store.Tx, params []river.InsertManyParams) error
	start(ctx context.Context) error
	stop(ctx context.Context) error
	pause(ctx context.Context, queue string) error
	resume(ctx context.Context, queue string) error
	// raw returns the *river.Client (for River UI).
	raw() any
}

type riverClient[TTx any] struct {
	c  *river.Client[TTx]
	tx func(*store.Tx) TTx
}

func (r *riverClient[TTx]) insertTx(ctx context.Context, tx *store.Tx, params []river.InsertManyParams) error {
	if len(params) == 0 {
		return nil
	}
	if _, err := r.c.InsertManyTx(ctx, r.tx(tx), params); err != nil {
		return fmt.Errorf("insert jobs: %w", err)
	}
	return nil
}

func (r *riverClient[TTx]) start(ctx context.Context) error { return r.c.Start(ctx) }

func (r *riverClient[TTx]) stop(ctx context.Context) error {
	err := r.c.Stop(ctx)
	if err != nil && ctx.Err() != nil {
		// Soft stop timed out: cancel the jobs still running.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return r.c.StopAndCancel(cctx)
	}
	return err
}

func (r *riverClient[TTx]) pause(ctx context.Context, q string) error {
	return r.c.QueuePause(ctx, q, nil)
}

func (r *riverClient[TTx]) resume(ctx context.Context, q string) error {
	return r.c.QueueResume(ctx, q, nil)
}

func (r *riverClient[TTx]) raw() any { return r.c }

// RiverClient returns the *river.Client[*sql.Tx] (SQLite) or
// *river.Client[pgx.Tx] (PostgreSQL), for mounting River UI.
func (p *Pipeline) RiverClient() any { return p.jobs.raw() }

// photoCache keeps upload bytes by blob key (small: a few photos).
type photoCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

// sigCache keeps QC signatures of stored results by image id.
type sigCache struct {
	mu sync.Mutex
	m  map[string]*similarity.Signature
}

// resume re-queues the work of every active batch: enhance for groups
// without prompts, generate for images waiting, finalize when all are done.
func (p *Pipeline) resume(ctx context.Context) error {
	batches, err := p.db.ActiveBatches(ctx)
	if err != nil {
		return err
	}
	round := p.started.UnixNano()
	for _, b := range batches {
		imgs, err := p.db.ImagesOf(ctx, b.ID)
		if err != nil {
			return err
		}
		var jobs []river.InsertManyParams
		enhance := map[string]bool{}
		left := 0
		for _, im := range imgs {
			if store.ImageTerminal(im.Status) {
				continue
			}
			left++
			if im.Prompt == "" {
				if !enhance[im.GroupID] {
					enhance[im.GroupID] = true
					jobs = append(jobs, river.InsertManyParams{Args: EnhanceArgs{BatchID: b.ID, GroupID: im.GroupID}, InsertOpts: &river.InsertOpts{Priority: b.Priority}})
				}
				continue
			}
			jobs = append(jobs, river.InsertManyParams{Args: GenerateArgs{ImageID: im.ID, Round: round}, InsertOpts: &river.InsertOpts{Priority: b.Priority}})
		}
		if left == 0 {
			jobs = append(jobs, river.InsertManyParams{Args: FinalizeArgs{BatchID: b.ID}})
		}
		if err := p.db.InTx(ctx, func(tx *store.Tx) error { return p.jobs.insertTx(ctx, tx, jobs) }); err != nil {
			return err
		}
		if len(jobs) > 0 {
			p.log.Info("resumed an unfinished batch", slog.String("batch_id", b.ID), slog.Int("jobs", len(jobs)))
		}
	}
	return nil
}

// CleanupArgs: one run of the retention cleanup.
type CleanupArgs struct{}

// Kind implements river.JobArgs.
func (CleanupArgs) Kind() string { return "ludeng_cleanup" }

type cleanupWorker struct {
	river.WorkerDefaults[CleanupArgs]
	p *Pipeline
}

func (w *cleanupWorker) Timeout(*river.Job[CleanupArgs]) time.Duration { return 30 * time.Minute }

func (w *cleanupWorker) Work(ctx context.Context, _ *river.Job[CleanupArgs]) (err error) {
	defer func() { w.p.count("cleanup", err) }()
	return w.p.d.Cleanup(ctx)
}
