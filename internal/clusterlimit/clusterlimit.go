// Package clusterlimit enforces rate limits and concurrency caps across all
// nodes that share one PostgreSQL database: the provider limits an account
// has (Gemini counts RPM/IPM per project, not per server) and the
// generation cap LUDENG_PIPELINE_CONCURRENCY.
//
// Each grant is one call of the SQL function ludeng_limit_acquire
// (migration 011): under a transaction-scoped advisory lock per name it
// drops expired slot leases, counts the slots and the sliding windows, and
// either inserts a slot lease and a window stamp or answers how long to
// wait. Slots are leases that the holding process renews; a node that dies
// (kill -9, lost network) stops renewing and its slots lapse after the
// lease, with nothing left to clean up.
//
// Why not the alternatives: a token bucket row is one UPDATE, but it lets
// 2×limit through in a minute around a refill, which the provider then
// answers with 429s; session advisory locks as slots pin one database
// connection per call in flight and are released only when PostgreSQL
// notices the dead node's connection is gone (TCP keepalive, minutes).
// docs/benchmarks.md has the measured cost per call.
package clusterlimit

import (
	"context"
	crand "crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ludeng/ludeng/internal/provider"
)

// Options tune the limiter. Zero values take the defaults.
type Options struct {
	// Lease is how long a slot outlives its holder's last renewal (default
	// 15s): the time a dead node's slots keep counting.
	Lease time.Duration
	// Margin widens every window (default 500ms), covering the delay
	// between the grant and the provider's receipt.
	Margin time.Duration
	// Poll is the mean wait between tries while every slot is taken
	// (default 100ms, jittered ±50%).
	Poll time.Duration
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Registerer receives the metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

// Limiter is a cluster-wide provider.SharedLimiter on PostgreSQL.
type Limiter struct {
	db     *sql.DB
	holder string
	opts   Options
	log    *slog.Logger

	mu    sync.Mutex
	held  map[int64]struct{}
	gates map[string]chan struct{}

	stop chan struct{}
	done chan struct{}

	calls *prometheus.HistogramVec
	waits *prometheus.CounterVec
	// renewFn is swapped by tests to play a node that stopped renewing; an
	// atomic pointer because the renew loop reads it concurrently.
	renewFn atomic.Pointer[func(ctx context.Context) error]
}

var _ provider.SharedLimiter = (*Limiter)(nil)

// New starts the lease renewal loop; Close stops it and frees the slots
// still held.
func New(db *sql.DB, opts Options) (*Limiter, error) {
	if opts.Lease <= 0 {
		opts.Lease = 15 * time.Second
	}
	if opts.Margin <= 0 {
		opts.Margin = 500 * time.Millisecond
	}
	if opts.Poll <= 0 {
		opts.Poll = 100 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var id [8]byte
	_, _ = crand.Read(id[:])
	l := &Limiter{db: db, holder: hex.EncodeToString(id[:]), opts: opts, log: opts.Logger,
		held: map[int64]struct{}{}, gates: map[string]chan struct{}{},
		stop: make(chan struct{}), done: make(chan struct{}),
		calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ludeng_cluster_limit_query_seconds",
			Help:    "Duration of one ludeng_limit_acquire round trip (the overhead the cluster limiter adds per try).",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"name"}),
		waits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ludeng_cluster_limit_waits_total",
			Help: "Tries that had to wait, by reason (slots: every slot taken; window: a rate window full).",
		}, []string{"name", "reason"}),
	}
	renew := l.renew
	l.renewFn.Store(&renew)
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{l.calls, l.waits} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	go l.renewLoop()
	return l, nil
}

// Holder is this process's lease holder id.
func (l *Limiter) Holder() string { return l.holder }

// Acquire waits until a call producing images images may start under
// limits, cluster-wide. release frees the slot at once (a slot not
// released lapses after the lease).
func (l *Limiter) Acquire(ctx context.Context, name string, lim provider.Limits, images int) (release func(), err error) {
	for _, w := range []struct {
		n, max int
		what   string
	}{{images, lim.IPM, "minute"}, {images, lim.IPH, "hour"}} {
		if w.max > 0 && w.n > w.max {
			return nil, fmt.Errorf("a call of %d images exceeds the limit of %d per %s", w.n, w.max, w.what)
		}
	}
	// Callers of one process queue for a local gate first, so at most
	// Concurrency tries per name and process poll the database.
	var gate chan struct{}
	if lim.Concurrency > 0 {
		gate = l.gate(name, lim.Concurrency)
		select {
		case gate <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	unGate := func() {
		if gate != nil {
			<-gate
		}
	}
	for {
		start := time.Now()
		var slot, wait int64
		err := l.db.QueryRowContext(ctx, `SELECT slot_id, wait_ms FROM ludeng_limit_acquire($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			name, l.holder, l.opts.Lease.Milliseconds(), images, lim.RPM, lim.RPH, lim.IPM, lim.IPH, lim.Concurrency,
			l.opts.Margin.Milliseconds()).Scan(&slot, &wait)
		l.calls.WithLabelValues(name).Observe(time.Since(start).Seconds())
		if err != nil {
			unGate()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("cluster limit %s: %w", name, err)
		}
		if wait == 0 {
			if slot != 0 {
				l.mu.Lock()
				l.held[slot] = struct{}{}
				l.mu.Unlock()
			}
			var once sync.Once
			return func() { once.Do(func() { l.release(slot); unGate() }) }, nil
		}
		d := time.Duration(wait) * time.Millisecond
		reason := "window"
		if wait < 0 {
			reason = "slots"
			d = l.opts.Poll/2 + rand.N(l.opts.Poll)
		}
		l.waits.WithLabelValues(name, reason).Inc()
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			unGate()
			return nil, ctx.Err()
		}
	}
}

func (l *Limiter) gate(name string, n int) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	g, ok := l.gates[name]
	if !ok || cap(g) != n {
		g = make(chan struct{}, n)
		l.gates[name] = g
	}
	return g
}

func (l *Limiter) release(slot int64) {
	if slot == 0 {
		return
	}
	l.mu.Lock()
	delete(l.held, slot)
	l.mu.Unlock()
	// Not the caller's context: a canceled call must still give its slot
	// back now rather than after the lease.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := l.db.ExecContext(ctx, "SELECT ludeng_limit_release($1)", slot); err != nil {
		l.log.Warn("cluster limit: release failed; the slot lapses with its lease", slog.Int64("slot", slot), slog.Any("error", err))
	}
}

// renew extends the leases of every slot this process holds.
func (l *Limiter) renew(ctx context.Context) error {
	l.mu.Lock()
	n := len(l.held)
	l.mu.Unlock()
	if n == 0 {
		return nil
	}
	_, err := l.db.ExecContext(ctx, "SELECT ludeng_limit_renew($1, $2)", l.holder, l.opts.Lease.Milliseconds())
	return err
}

func (l *Limiter) renewLoop() {
	defer close(l.done)
	t := time.NewTicker(l.opts.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), l.opts.Lease/3)
			if err := (*l.renewFn.Load())(ctx); err != nil {
				l.log.Warn("cluster limit: lease renewal failed", slog.Any("error", err))
			}
			cancel()
		}
	}
}

// Close stops renewing and frees the slots still held.
func (l *Limiter) Close() error {
	close(l.stop)
	<-l.done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := l.db.ExecContext(ctx, "DELETE FROM limit_slots WHERE holder = $1", l.holder)
	return err
}
