// Package poolsync keeps the in-memory element pool in step with the versions
// stored in the database: it imports the embedded pool on first start, applies
// admin edits as new versions (with an audit row in the same transaction) and
// reloads when another process stored a newer version.
package poolsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/pool"
	"github.com/ludeng/ludeng/internal/store"
)

// Manager owns the current pool snapshot of this process.
type Manager struct {
	db     *store.DB
	logger *slog.Logger
	holder *pool.Holder
	// Minimums are enforced on every stored version (tests relax them).
	Minimums pool.Minimums

	mu     sync.Mutex // serialises edits and reloads in this process
	number int        // version number of the current snapshot
	at     time.Time
}

// New returns a manager; call Start before use.
func New(db *store.DB, logger *slog.Logger) *Manager {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{db: db, logger: logger, Minimums: pool.DefaultMinimums()}
}

// Start loads the newest stored version, importing seed first when the
// database has none (the quick start gets a pool with no extra step).
func (m *Manager) Start(ctx context.Context, seed fs.FS) error {
	n, err := m.db.LatestPoolVersionNumber(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		v, _, err := m.Import(ctx, seed, "system", "initial import of the embedded pool")
		if fe := fault.As(err); fe != nil && fe.Code == "pool_edit_conflict" {
			// Another node of a cluster starting at the same moment
			// imported it first: load that version.
			_, _, err = m.Reload(ctx)
			return err
		}
		if err != nil {
			return fmt.Errorf("import embedded pool: %w", err)
		}
		m.logger.Info("element pool imported", slog.Int("version", v.Number), slog.String("hash", v.Hash))
		return nil
	}
	_, _, err = m.Reload(ctx)
	return err
}

// Current returns the current snapshot (never nil after Start).
func (m *Manager) Current() *pool.Snapshot { return m.holder.Current() }

// Holder exposes the atomic snapshot holder for components that keep it.
func (m *Manager) Holder() *pool.Holder { return m.holder }

// VersionInfo describes the loaded version.
func (m *Manager) VersionInfo() (number int, hash string, loadedAt time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.number, m.Current().Version(), m.at
}

func (m *Manager) install(number int, p *pool.Pool) error {
	snap, err := pool.NewSnapshot(p)
	if err != nil {
		return fmt.Errorf("build pool snapshot: %w", err)
	}
	if m.holder == nil {
		m.holder = pool.NewHolder(snap)
	} else {
		m.holder.Swap(snap)
	}
	m.number, m.at = number, time.Now().UTC()
	return nil
}

// Import validates the pool in fsys and stores it as a new version unless it
// equals the newest one. It returns the version and whether it was created.
func (m *Manager) Import(ctx context.Context, fsys fs.FS, by, note string) (*store.PoolVersion, bool, error) {
	p, problems := pool.ValidateFS(fsys, m.Minimums)
	if len(problems) > 0 {
		return nil, false, problems.Err()
	}
	return m.store(ctx, p, store.AuditEntry{ActorName: by, Action: "pool.import"}, note)
}

// store writes p as a version with its audit row, then installs it.
func (m *Manager) store(ctx context.Context, p *pool.Pool, audit store.AuditEntry, note string) (*store.PoolVersion, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	content, err := p.Encode()
	if err != nil {
		return nil, false, fmt.Errorf("encode pool: %w", err)
	}
	counts, _ := json.Marshal(p.Counts())
	var v *store.PoolVersion
	var created bool
	err = m.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		v, created, err = m.db.AddPoolVersion(ctx, tx, p.ComputeVersion(), content, string(counts), audit.ActorName, note)
		if err != nil || !created {
			return err
		}
		audit.TargetType, audit.TargetID = "pool_version", fmt.Sprint(v.Number)
		if audit.Detail == nil {
			audit.Detail = map[string]any{}
		}
		audit.Detail["hash"] = v.Hash
		return m.db.Audit(ctx, tx, audit)
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, false, fault.New(fault.Conflict, "pool_edit_conflict", "Someone else changed the element pool at the same moment; reload and try again.").Wrap(err)
	}
	if err != nil {
		return nil, false, err
	}
	if err := m.install(v.Number, p); err != nil {
		return nil, false, err
	}
	return v, created, nil
}

// Mutate applies fn to a copy of the newest stored pool, validates the result
// and stores it as version N+1 with an audit row. A result that fails
// validation is refused (422 pool_invalid with the problems) and nothing is
// stored.
func (m *Manager) Mutate(ctx context.Context, audit store.AuditEntry, fn func(p *pool.Pool) error) (*store.PoolVersion, error) {
	latest, err := m.db.LatestPoolVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("load newest pool: %w", err)
	}
	p, err := pool.Decode(latest.Content)
	if err != nil {
		return nil, fmt.Errorf("decode stored pool %d: %w", latest.Number, err)
	}
	if err := fn(p); err != nil {
		return nil, err
	}
	if problems := pool.ValidateWith(p, m.Minimums); len(problems) > 0 {
		return nil, problems.Err()
	}
	v, _, err := m.store(ctx, p, audit, audit.Action)
	return v, err
}

// Reload installs the newest stored version if it is not the current one.
func (m *Manager) Reload(ctx context.Context) (number int, changed bool, err error) {
	n, err := m.db.LatestPoolVersionNumber(ctx)
	if err != nil {
		return 0, false, err
	}
	m.mu.Lock()
	same := m.holder != nil && n == m.number
	m.mu.Unlock()
	if same {
		return n, false, nil
	}
	v, err := m.db.LatestPoolVersion(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("load pool version: %w", err)
	}
	p, err := pool.Decode(v.Content)
	if err != nil {
		return 0, false, fmt.Errorf("decode pool version %d: %w", v.Number, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.install(v.Number, p); err != nil {
		return 0, false, err
	}
	m.logger.Info("element pool loaded", slog.Int("version", v.Number), slog.String("hash", v.Hash))
	return v.Number, true, nil
}

// Watch polls for versions stored by other processes every interval until ctx
// ends, so every node of a deployment serves the same pool within interval.
func (m *Manager) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, _, err := m.Reload(ctx); err != nil && ctx.Err() == nil {
				m.logger.Warn("element pool reload failed", slog.Any("error", err))
			}
		}
	}
}
