package cli

import (
	"fmt"
	"log/slog"

	"github.com/ludeng/ludeng/internal/clusterlimit"
	"github.com/ludeng/ludeng/internal/store"
)

// openClusterLimits makes provider limits and the generation cap
// cluster-wide on PostgreSQL (LUDENG_LIMITS_SCOPE=cluster, the default
// there). SQLite has one serving process and keeps the in-process limiter.
func (a *app) openClusterLimits() error {
	def := "node"
	if a.db.Engine == store.Postgres {
		def = "cluster"
	}
	scope := a.cfg.env.OneOf("LUDENG_LIMITS_SCOPE", def, "cluster", "node")
	lease := a.cfg.env.Duration("LUDENG_LIMITS_LEASE", 0)
	if err := a.cfg.env.Err(); err != nil {
		return &exitError{code: 2, err: err}
	}
	if scope == "node" {
		return nil
	}
	if a.db.Engine != store.Postgres {
		return &exitError{code: 2, err: fmt.Errorf("LUDENG_LIMITS_SCOPE: cluster needs PostgreSQL (SQLite runs one node)")}
	}
	l, err := clusterlimit.New(a.db.W, clusterlimit.Options{Lease: lease, Logger: a.logger, Registerer: a.registry})
	if err != nil {
		return err
	}
	a.limiter = l
	a.closers = append(a.closers, l.Close)
	a.logger.Info("provider limits and LUDENG_PIPELINE_CONCURRENCY are cluster-wide (LUDENG_LIMITS_SCOPE=cluster)", slog.String("holder", l.Holder()))
	return nil
}
