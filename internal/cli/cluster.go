package cli

import (
	"log/slog"

	"github.com/ludeng/ludeng/internal/clusterlimit"
)

// openClusterLimits makes provider limits and the generation cap
// cluster-wide on PostgreSQL (LUDENG_LIMITS_SCOPE=cluster, the default
// there). SQLite has one serving process and keeps the in-process limiter.
func (a *app) openClusterLimits() error {
	// LUDENG_LIMITS_SCOPE was checked against the engine with the rest of
	// the configuration.
	if !a.cfg.ClusterLimits {
		return nil
	}
	l, err := clusterlimit.New(a.db.W, clusterlimit.Options{Lease: a.cfg.LimitsLease, Logger: a.logger, Registerer: a.registry})
	if err != nil {
		return err
	}
	a.limiter = l
	a.closers = append(a.closers, l.Close)
	a.logger.Info("provider limits and LUDENG_PIPELINE_CONCURRENCY are cluster-wide (LUDENG_LIMITS_SCOPE=cluster)", slog.String("holder", l.Holder()))
	return nil
}
