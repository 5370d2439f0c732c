package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/pipeline"
	"github.com/ludeng/ludeng/internal/store/storetest"
)

// TestPeriodicCleanup: River's periodic job runs the configured cleanup,
// on both engines, and River's schema migration is idempotent.
func TestPeriodicCleanup(t *testing.T) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := storetest.Open(t, engine)
			n, err := pipeline.Migrate(ctx, db)
			require.NoError(t, err)
			require.Positive(t, n)
			n, err = pipeline.Migrate(ctx, db)
			require.NoError(t, err)
			require.Zero(t, n)
			ran := make(chan struct{}, 10)
			p, err := pipeline.New(pipeline.Config{CleanupInterval: 200 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond},
				pipeline.Deps{DB: db, Cleanup: func(context.Context) error { ran <- struct{}{}; return nil }})
			require.NoError(t, err)
			require.NoError(t, p.Start(ctx))
			t.Cleanup(func() {
				sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = p.Stop(sctx)
			})
			select {
			case <-ran:
			case <-time.After(2 * time.Minute):
				t.Fatal("the periodic cleanup never ran")
			}
		})
	}
}
