package clusterlimit

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/store/storetest"
)

// openPG returns a migrated PostgreSQL schema; cluster limits exist only
// there. CI sets LUDENG_TEST_DATABASE_URL and fails the run when these
// tests are skipped (pass counts per engine).
func openPG(t *testing.T) *store.DB {
	t.Helper()
	if os.Getenv(storetest.EnvURL) == "" {
		if os.Getenv("CI") != "" {
			t.Fatal(storetest.EnvURL + " must be set in CI")
		}
		t.Skip(storetest.EnvURL + " not set: cluster limits need PostgreSQL")
	}
	return storetest.Open(t, store.Postgres)
}

func newLimiter(t *testing.T, db *store.DB, opts Options) *Limiter {
	t.Helper()
	l, err := New(db.W, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func TestConcurrencyIsSharedByNodes(t *testing.T) {
	t.Parallel()
	db := openPG(t)
	nodes := []*Limiter{newLimiter(t, db, Options{Poll: 20 * time.Millisecond}), newLimiter(t, db, Options{Poll: 20 * time.Millisecond})}
	var inFlight, peak atomic.Int64
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			release, err := nodes[i%2].Acquire(context.Background(), "provider:x", provider.Limits{Concurrency: 3}, 1)
			if !assertNoError(t, err) {
				return
			}
			n := inFlight.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(30 * time.Millisecond)
			inFlight.Add(-1)
			release()
		})
	}
	wg.Wait()
	require.Equal(t, int64(3), peak.Load(), "three calls at once across both nodes, never more")
	var left int
	require.NoError(t, db.W.QueryRow("SELECT count(*) FROM limit_slots").Scan(&left))
	require.Zero(t, left, "every slot released")
}

func assertNoError(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Error(err)
		return false
	}
	return true
}

func TestWindowsCountEveryNodeAndSayHowLongToWait(t *testing.T) {
	t.Parallel()
	db := openPG(t)
	a, b := newLimiter(t, db, Options{}), newLimiter(t, db, Options{})
	lim := provider.Limits{RPM: 10, IPM: 4}
	for i := range 2 {
		for _, l := range []*Limiter{a, b} {
			release, err := l.Acquire(context.Background(), "provider:y", lim, 1)
			require.NoError(t, err, i)
			release()
		}
	}
	// Four images in this minute: a fifth waits about a minute, whichever
	// node asks.
	var slot, wait int64
	require.NoError(t, db.W.QueryRow(`SELECT slot_id, wait_ms FROM ludeng_limit_acquire('provider:y', 'z', 1000, 1, 10, 0, 4, 0, 0, 500)`).Scan(&slot, &wait))
	require.InDelta(t, 60500, wait, 2000)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := b.Acquire(ctx, "provider:y", lim, 1)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	// Other names are not affected, and a call bigger than a window fails.
	release, err := a.Acquire(context.Background(), "provider:other", lim, 2)
	require.NoError(t, err)
	release()
	_, err = a.Acquire(context.Background(), "provider:other", lim, 5)
	require.ErrorContains(t, err, "exceeds the limit")
}

func TestDeadNodeSlotsLapseWithTheLease(t *testing.T) {
	t.Parallel()
	db := openPG(t)
	lease := 900 * time.Millisecond
	live := newLimiter(t, db, Options{Lease: lease, Poll: 20 * time.Millisecond})
	dead := newLimiter(t, db, Options{Lease: lease, Poll: 20 * time.Millisecond})
	lim := provider.Limits{Concurrency: 1}

	// A live holder keeps its slot past several leases by renewing it.
	release, err := live.Acquire(context.Background(), "pipeline", lim, 0)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*lease)
	_, err = dead.Acquire(ctx, "pipeline", lim, 0)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	release()

	// A holder that stops renewing (as a killed process does) loses the
	// slot one lease after its last renewal, without releasing it.
	noRenew := func(context.Context) error { return nil }
	dead.renewFn.Store(&noRenew)
	_, err = dead.Acquire(context.Background(), "pipeline", lim, 0)
	require.NoError(t, err)
	start := time.Now()
	ctx, cancel = context.WithTimeout(context.Background(), 10*lease)
	defer cancel()
	release, err = live.Acquire(ctx, "pipeline", lim, 0)
	require.NoError(t, err)
	release()
	require.GreaterOrEqual(t, time.Since(start), lease/2)
}
