package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/store"
)

func init() {
	storeCases["UsageLedger"] = func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		start := time.Now().Add(-time.Minute)
		id1, err := db.BeginUsage(ctx, store.UsageBegin{Provider: "gemini", Model: "m", Operation: "generate", Attempt: 1, EstimatedCostMicros: 300_000, StartedAt: start})
		require.NoError(t, err)
		_, err = db.BeginUsage(ctx, store.UsageBegin{Provider: "gemini", Model: "m", Operation: "generate", Attempt: 1, EstimatedCostMicros: 300_000, StartedAt: start})
		require.NoError(t, err)
		_, err = db.BeginUsage(ctx, store.UsageBegin{Provider: "deepseek", Operation: "enhance", Attempt: 1, StartedAt: start})
		require.NoError(t, err)
		require.NoError(t, db.SettleUsage(ctx, id1, store.UsageSettle{Outcome: "ok", Images: 1, CostMicros: 280_000, Latency: 2 * time.Second}))
		// id2 stays pending: a crash. Recovery counts it as spent at its estimate.
		n, err := db.MarkPendingUsageUnknown(ctx, time.Now())
		require.NoError(t, err)
		require.EqualValues(t, 2, n)
		totals, err := db.UsageByProvider(ctx, "", start.Add(-time.Second))
		require.NoError(t, err)
		require.Len(t, totals, 2)
		require.Equal(t, "deepseek", totals[0].Provider)
		require.Equal(t, "gemini", totals[1].Provider)
		require.EqualValues(t, 2, totals[1].Calls)
		require.EqualValues(t, 580_000, totals[1].CostMicros)
	}
}
