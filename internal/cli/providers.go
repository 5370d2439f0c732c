package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ludeng/ludeng/internal/httpapi"
	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/provider/fake"
	"github.com/ludeng/ludeng/internal/provider/sim"
	"github.com/ludeng/ludeng/internal/store"
)

// ledger records provider calls in the usage_ledger table.
type ledger struct{ db *store.DB }

func (l ledger) Begin(ctx context.Context, e provider.LedgerEntry) (string, error) {
	return l.db.BeginUsage(ctx, store.UsageBegin{
		RequestID: e.Ref.RequestID, UserID: e.Ref.UserID, BatchID: e.Ref.BatchID, GroupID: e.Ref.GroupID, ImageID: e.Ref.ImageID,
		Provider: e.Provider, Model: e.Model, Operation: e.Operation, Attempt: e.Attempt,
		EstimatedCostMicros: e.EstimatedCostMicros, StartedAt: e.StartedAt,
	})
}

func (l ledger) Settle(ctx context.Context, id string, s provider.Settlement) error {
	return l.db.SettleUsage(context.WithoutCancel(ctx), id, store.UsageSettle{
		Outcome: s.Outcome, ErrorCode: s.ErrorCode, InputTokens: s.InputTokens, OutputTokens: s.OutputTokens,
		Images: s.Images, CostMicros: s.CostMicros, Latency: s.Latency, FinishedAt: s.FinishedAt,
	})
}

// openProviders builds the image generator (real providers in fallback
// order, or the simulator when none is configured) and the prompt enhancer.
func (a *app) openProviders(ctx context.Context, api *httpapi.Deps) error {
	pcfg := a.cfg.Providers
	if err := a.openClusterLimits(); err != nil {
		return err
	}
	deps := provider.Deps{Logger: a.logger, Registerer: a.registry, Ledger: ledger{a.db}, Simulator: sim.New(sim.Options{})}
	if a.limiter != nil {
		deps.Shared = a.limiter
	}
	svc, err := provider.New(pcfg, deps)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	enh, err := provider.NewEnhancer(pcfg.DeepSeek, deps)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	// Calls left pending by a crash of this database's previous process are
	// charged at their estimate: the provider may have billed them.
	// On PostgreSQL other nodes may have calls in flight right now, so only
	// rows older than any call can run are swept there.
	cutoff := a.db.Now()
	if a.db.Engine == store.Postgres {
		cutoff = cutoff.Add(-time.Hour)
	}
	if n, err := a.db.MarkPendingUsageUnknown(ctx, cutoff); err != nil {
		return err
	} else if n > 0 {
		a.logger.Warn("usage rows left pending by an unclean stop were marked unknown and counted as spent", slog.Int64("rows", n))
	}
	a.images, a.enhancer = svc, enh
	api.Providers = svc
	api.Checks = append(api.Checks, httpapi.Check{Name: "providers", Fn: func(context.Context) (any, error) {
		st := svc.Status()
		if !svc.Ready() {
			return st, fmt.Errorf("no image provider can take work now")
		}
		return st, nil
	}})
	if svc.Simulated() {
		a.logger.Info("no image provider configured: images are simulated (set LUDENG_IMAGE_PROVIDERS and keys for real ones)")
	}
	return nil
}

// cmdFakeProviders implements `ludeng fake-providers --listen ADDR`.
func cmdFakeProviders(ctx context.Context, args []string, stdio IO) error {
	fs, load := newFlags("fake-providers", stdio)
	addr := fs.String("fake-listen", "127.0.0.1:8090", "address of the fake provider APIs (also --listen)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	listen := *addr
	if v := fs.Lookup("listen").Value.String(); v != "" {
		listen = v
	}
	logger := cfg.newLogger(stdio.Stderr)
	fmt.Fprintf(stdio.Stdout, "fake provider APIs on http://%s (/gemini, /openrouter, /openai, /kie, /deepseek; control at /_fake/)\n", listen)
	return fake.Run(ctx, listen, logger, fake.Options{})
}
