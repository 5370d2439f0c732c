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
	"github.com/riverqueue/river/rivertype"

	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/config"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/pool"
	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/similarity"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/webhook"
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
	// MaxActiveImagesPerUser caps a user's queued and running images
	// (default 480): a batch past it is refused with 429, so one user cannot
	// queue unbounded work. Env LUDENG_MAX_QUEUED_IMAGES_PER_USER.
	MaxActiveImagesPerUser int
	// MaxWaitingPerUser is how many of one user's generate jobs may wait for
	// a slot on a node at once (default 2 × Concurrency); more go back to
	// the queue for a moment, so River's fetch window (200 jobs) always has
	// room for other users' jobs and the fair slots see every user.
	MaxWaitingPerUser int
	// MaxQCRetries is the number of nudged retries after a failed QC
	// (default 3 when zero; NoQCRetries, -1, for none:
	// LUDENG_PIPELINE_QC_RETRIES=0).
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
	// HeartbeatInterval is how often a node marks itself alive (default 5s)
	// and, on PostgreSQL, looks for dead nodes.
	HeartbeatInterval time.Duration
	// NodeDeadAfter: a node without a heartbeat for this long is dead and
	// its running jobs go back to the queue (default 30s).
	NodeDeadAfter time.Duration
	// PauseAfterCrash pauses image generation when a node is found to have
	// died without stopping (the previous process on SQLite), until an
	// admin resumes the queue.
	PauseAfterCrash bool
	// APIOnly: this node submits and serves batches but runs no jobs
	// (LUDENG_PIPELINE_WORKERS=false); other nodes on the same PostgreSQL
	// database work them.
	APIOnly bool
}

// NoQCRetries as Config.MaxQCRetries fails an image at its first QC
// rejection (zero means the default).
const NoQCRetries = -1

// qcRetriesFromEnv keeps an explicit 0 from becoming the default 3: the
// variable says "no retries", the struct's zero value says "default".
func qcRetriesFromEnv(n int) int {
	if n == 0 {
		return NoQCRetries
	}
	return n
}

// ConfigFromEnv reads LUDENG_PIPELINE_* variables.
func ConfigFromEnv(env *config.Env) Config {
	c := Config{
		Concurrency:            env.Int("LUDENG_PIPELINE_CONCURRENCY", 5, 1, 500),
		EnhanceTimeout:         env.Duration("LUDENG_PIPELINE_ENHANCE_TIMEOUT", 3*time.Minute),
		GenerateTimeout:        env.Duration("LUDENG_PIPELINE_JOB_TIMEOUT", 10*time.Minute),
		FinalizeTimeout:        env.Duration("LUDENG_PIPELINE_FINALIZE_TIMEOUT", time.Minute),
		SlotWait:               env.Duration("LUDENG_PIPELINE_SLOT_WAIT", 30*time.Second),
		MaxActiveImagesPerUser: env.Int("LUDENG_MAX_QUEUED_IMAGES_PER_USER", 480, 1, 1_000_000),
		MaxQCRetries:           qcRetriesFromEnv(env.Int("LUDENG_PIPELINE_QC_RETRIES", 3, 0, 10)),
		MaxAttempts:            env.Int("LUDENG_PIPELINE_MAX_ATTEMPTS", 5, 1, 50),
		MaxProviderWait:        env.Duration("LUDENG_PIPELINE_MAX_PROVIDER_WAIT", 30*time.Minute),
		FetchPollInterval:      env.Duration("LUDENG_PIPELINE_FETCH_POLL", 100*time.Millisecond),
		FetchCooldown:          env.Duration("LUDENG_PIPELINE_FETCH_COOLDOWN", 20*time.Millisecond),
		RescueStuckJobsAfter:   env.Duration("LUDENG_PIPELINE_RESCUE_AFTER", 0),
		CleanupInterval:        env.Duration("LUDENG_CLEANUP_INTERVAL", time.Hour),
		HeartbeatInterval:      env.Duration("LUDENG_NODE_HEARTBEAT", 5*time.Second),
		NodeDeadAfter:          env.Duration("LUDENG_NODE_DEAD_AFTER", 30*time.Second),
		PauseAfterCrash:        env.Bool("LUDENG_PIPELINE_PAUSE_AFTER_CRASH", false),
		APIOnly:                !env.Bool("LUDENG_PIPELINE_WORKERS", true),
	}
	if c.NodeDeadAfter < 3*c.HeartbeatInterval {
		env.Fail("LUDENG_NODE_DEAD_AFTER", "must be at least three LUDENG_NODE_HEARTBEAT intervals (%s), got %s",
			3*c.HeartbeatInterval, c.NodeDeadAfter)
	}
	return c
}

func (c Config) withDefaults() Config {
	c.Concurrency = cmp.Or(c.Concurrency, 5)
	c.EnhanceTimeout = cmp.Or(c.EnhanceTimeout, 3*time.Minute)
	c.GenerateTimeout = cmp.Or(c.GenerateTimeout, 10*time.Minute)
	c.FinalizeTimeout = cmp.Or(c.FinalizeTimeout, time.Minute)
	c.SlotWait = cmp.Or(c.SlotWait, 30*time.Second)
	c.MaxActiveImagesPerUser = cmp.Or(c.MaxActiveImagesPerUser, 480)
	c.MaxWaitingPerUser = cmp.Or(c.MaxWaitingPerUser, 2*c.Concurrency)
	if c.MaxQCRetries == 0 {
		c.MaxQCRetries = 3
	}
	c.MaxAttempts = cmp.Or(c.MaxAttempts, 5)
	c.MaxProviderWait = cmp.Or(c.MaxProviderWait, 30*time.Minute)
	c.PausedPoll = cmp.Or(c.PausedPoll, 2*time.Second)
	c.FetchPollInterval = cmp.Or(c.FetchPollInterval, 100*time.Millisecond)
	c.FetchCooldown = cmp.Or(c.FetchCooldown, 20*time.Millisecond)
	// River rescues a job only once its worker's timeout has passed too,
	// so the default waits for the longest generate run.
	c.RescueStuckJobsAfter = cmp.Or(c.RescueStuckJobsAfter, c.generateJobTimeout()+time.Minute)
	if c.PricePerImage1536 == 0 {
		c.PricePerImage1536 = c.PricePerImage
	}
	if c.Location == nil {
		c.Location = time.UTC
	}
	c.CleanupInterval = cmp.Or(c.CleanupInterval, time.Hour)
	c.HeartbeatInterval = cmp.Or(c.HeartbeatInterval, 5*time.Second)
	c.NodeDeadAfter = cmp.Or(c.NodeDeadAfter, 30*time.Second)
	return c
}

// generateJobTimeout bounds one generate run: the wait for a slot, the
// provider call and QC + storing. River cancels the run after it and its
// rescuer considers a running job stuck only after it.
func (c Config) generateJobTimeout() time.Duration {
	return c.SlotWait + c.GenerateTimeout + 30*time.Second
}

func (c Config) validate() error {
	var errs []error
	if c.Concurrency < 1 || c.Concurrency > 500 {
		errs = append(errs, fmt.Errorf("LUDENG_PIPELINE_CONCURRENCY: must be 1–500, got %d", c.Concurrency))
	}
	if c.MaxQCRetries < NoQCRetries || c.MaxQCRetries > 10 {
		errs = append(errs, fmt.Errorf("LUDENG_PIPELINE_QC_RETRIES: must be 0–10, got %d", c.MaxQCRetries))
	}
	if c.NodeDeadAfter < 3*c.HeartbeatInterval {
		errs = append(errs, fmt.Errorf("LUDENG_NODE_DEAD_AFTER (%s) must be at least three LUDENG_NODE_HEARTBEAT intervals (%s)", c.NodeDeadAfter, c.HeartbeatInterval))
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
	// Version is recorded on the node's row.
	Version string
	// Webhooks is the SSRF-guarded client deliveries go through; nil uses
	// webhook.NewClient's defaults (https only).
	Webhooks *webhook.Client
	// Limiter, when set (PostgreSQL), makes Config.Concurrency a cap for
	// the whole cluster rather than per node.
	Limiter provider.SharedLimiter
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
	groups  groupIndexCache
	started time.Time
	node    nodeState
}

// New builds the pipeline and its River client (not started).
func New(cfg Config, d Deps) (*Pipeline, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("pipeline config: %w", err)
	}
	if cfg.APIOnly && d.DB.Engine == store.SQLite {
		// One process owns a SQLite database: nobody else would run the jobs.
		return nil, errors.New("pipeline config: LUDENG_PIPELINE_WORKERS=false needs PostgreSQL, where other nodes run the jobs")
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
	river.AddWorker(workers, newWebhookWorker(p))
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
			QueueWebhook:  {MaxWorkers: 10},
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

// riverMigrationLockKey serializes River's migrations between nodes.
const riverMigrationLockKey = 7402032

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
		// Nodes starting together on a fresh database would apply River's
		// steps twice and fail on duplicate types: one at a time, under a
		// session advisory lock (not one transaction: River's steps add an
		// enum value and then use it, which needs separate transactions).
		conn, cerr := db.PG.Acquire(ctx)
		if cerr != nil {
			return 0, fmt.Errorf("river migrate: %w", cerr)
		}
		defer conn.Release()
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", riverMigrationLockKey); err != nil {
			return 0, fmt.Errorf("river migrate lock: %w", err)
		}
		defer func() {
			_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", riverMigrationLockKey)
		}()
		res, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	}
	if err != nil {
		return 0, fmt.Errorf("river migrate: %w", err)
	}
	return len(res.Versions), nil
}

// Start recovers work a previous process left running, registers this node
// and starts the workers and the node's heartbeat.
func (p *Pipeline) Start(ctx context.Context) error {
	p.started = p.d.Now()
	crashed := false
	overlap := false
	if p.db.Engine == store.SQLite {
		others, err := p.liveSiblings(ctx)
		if err != nil {
			return err
		}
		if overlap = len(others) > 0; overlap {
			// A binary handoff: the previous process still finishes its
			// running jobs on this file, and the recovery below would take
			// them from under it (interrupt its images, queue its jobs
			// again). Its work ends through its own clean stop instead;
			// whatever it cancels is retried by River here.
			p.log.Info("another live process serves this database (binary handoff); its running work stays with it",
				slog.String("node_id", others[0].ID), slog.Int("pid", others[0].PID), slog.String("version", others[0].Version))
		}
	}
	if p.db.Engine == store.SQLite && !overlap {
		// A clean stop removes the node's row: one left behind means the
		// previous process died.
		dead, err := p.db.ClaimDeadNodes(ctx, p.jobs.id(), p.started.Add(time.Hour))
		if err != nil {
			return err
		}
		crashed = len(dead) > 0
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
	if err := p.registerNode(ctx); err != nil {
		return err
	}
	if crashed {
		// Before the workers start, so none of the recovered work begins.
		p.afterCrash(ctx, "the previous process stopped without shutting down")
	}
	if p.cfg.APIOnly {
		p.log.Info("pipeline workers off on this node (LUDENG_PIPELINE_WORKERS=false): jobs run on other nodes")
	} else if err := p.jobs.start(ctx); err != nil {
		return err
	}
	p.startNodeLoop(ctx)
	return nil
}

// Stop stops fetching and waits for running jobs until ctx ends, then
// cancels them (their images become interrupted and are retried later),
// and removes the node's row: a clean stop.
func (p *Pipeline) Stop(ctx context.Context) error {
	var err error
	if !p.cfg.APIOnly {
		err = p.jobs.stop(ctx)
	}
	p.stopNodeLoop()
	if err == nil {
		// Only a stop that let its jobs end is clean; otherwise the row
		// stays and the next start (or another node) recovers.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if rerr := p.db.RemoveNode(rctx, p.node.id); rerr != nil {
			p.log.Warn("remove node row", slog.Any("error", rerr))
		}
	}
	return err
}

// WaitingJobs counts the batch's enhance and generate jobs that have not
// started (diagnostics; zero after Cancel).
func (p *Pipeline) WaitingJobs(ctx context.Context, batchID string) (int, error) {
	return p.jobs.countWaiting(ctx, batchID)
}

// PauseQueue / ResumeQueue pause or resume all image generation (admin).
func (p *Pipeline) PauseQueue(ctx context.Context) error  { return p.jobs.pause(ctx, QueueGenerate) }
func (p *Pipeline) ResumeQueue(ctx context.Context) error { return p.jobs.resume(ctx, QueueGenerate) }

// jobClient hides River's transaction type parameter.
type jobClient interface {
	// id is River's client id, which is also the node id.
	id() string
	insertTx(ctx context.Context, tx *store.Tx, params []river.InsertManyParams) error
	// deleteWaiting removes the batch's enhance and generate jobs that have
	// not started (Cancel).
	deleteWaiting(ctx context.Context, tx *store.Tx, batchID string) (int, error)
	countWaiting(ctx context.Context, batchID string) (int, error)
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

func (r *riverClient[TTx]) id() string { return r.c.ID() }

func waitingParams(batchID string) *river.JobListParams {
	return river.NewJobListParams().Kinds(EnhanceArgs{}.Kind(), GenerateArgs{}.Kind()).
		States(rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStateRetryable, rivertype.JobStatePending).
		TagsAny(batchTag(batchID)).First(10_000)
}

func (r *riverClient[TTx]) countWaiting(ctx context.Context, batchID string) (int, error) {
	res, err := r.c.JobList(ctx, waitingParams(batchID))
	if err != nil {
		return 0, fmt.Errorf("list waiting jobs: %w", err)
	}
	return len(res.Jobs), nil
}

func (r *riverClient[TTx]) deleteWaiting(ctx context.Context, tx *store.Tx, batchID string) (int, error) {
	res, err := r.c.JobListTx(ctx, r.tx(tx), waitingParams(batchID))
	if err != nil {
		return 0, fmt.Errorf("list waiting jobs: %w", err)
	}
	if len(res.Jobs) == 0 {
		return 0, nil
	}
	ids := make([]int64, len(res.Jobs))
	for i, j := range res.Jobs {
		ids[i] = j.ID
	}
	// Deleting by id keeps a job that started meanwhile: delete-many only
	// takes jobs that are not running.
	del, err := r.c.JobDeleteManyTx(ctx, r.tx(tx), river.NewJobDeleteManyParams().IDs(ids...).First(len(ids)))
	if err != nil {
		return 0, fmt.Errorf("delete waiting jobs: %w", err)
	}
	return len(del.Jobs), nil
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
					jobs = append(jobs, river.InsertManyParams{Args: EnhanceArgs{BatchID: b.ID, GroupID: im.GroupID}, InsertOpts: jobOpts(b)})
				}
				continue
			}
			jobs = append(jobs, river.InsertManyParams{Args: GenerateArgs{ImageID: im.ID, Round: round}, InsertOpts: jobOpts(b)})
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

// jobOpts are the insert options of a batch's enhance and generate jobs: its
// priority, and a tag naming the batch so Cancel can delete those waiting.
func jobOpts(b *store.Batch) *river.InsertOpts {
	return &river.InsertOpts{Priority: b.Priority, Tags: []string{batchTag(b.ID)}}
}

func batchTag(batchID string) string { return "batch_" + batchID }

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
