package blob

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ludeng/ludeng/internal/fault"
)

// ErrDiskFull is the 507 answer for uploads and new work when free space is
// below the configured minimum, or when a write actually hit ENOSPC.
var ErrDiskFull = fault.New(fault.InsufficientStorage, "disk_full",
	"The server is low on disk space; new uploads and generation are paused. Please try again later or contact an administrator.")

// DefaultMinFree is the default LUDENG_MIN_FREE_DISK: 1 GiB leaves room for
// in-flight batches (a 12-group batch at 1536 px is ~100 MB with variants)
// and for the database and logs on the same disk.
const DefaultMinFree int64 = 1 << 30

// Guard refuses new work when the filesystem holding Dir has less than Min
// bytes available to unprivileged users. Refusing early, with a clear 507,
// beats half-written batches and a database that can no longer commit.
type Guard struct {
	// Dir is any path on the filesystem to watch (the data dir).
	Dir string
	// Min is the minimum free bytes; 0 disables the guard.
	Min int64
	// FreeFunc measures free space; nil means FreeBytes. Tests inject it.
	FreeFunc func(dir string) (int64, error)
}

// Check returns ErrDiskFull (with params free_bytes and min_bytes) when free
// space is below Min, an internal error when it cannot be measured, and nil
// otherwise.
func (g Guard) Check(ctx context.Context) error {
	if g.Min <= 0 {
		return nil
	}
	free := g.FreeFunc
	if free == nil {
		free = FreeBytes
	}
	n, err := free(g.Dir)
	if err != nil {
		return fmt.Errorf("disk guard: %w", err)
	}
	if n < g.Min {
		return ErrDiskFull.With("free_bytes", n).With("min_bytes", g.Min)
	}
	return nil
}

// StoreGuard is the upload guard of a store without a local disk (S3): it
// refuses new work with a 503 while the bucket cannot be reached, instead of
// letting an upload spool to disk and then fail. The last answer is reused
// for a few seconds so a burst of uploads costs one bucket request.
type StoreGuard struct {
	C   Checker
	TTL time.Duration

	mu   sync.Mutex
	at   time.Time
	last error
}

// Check returns ErrStoreUnavailable (wrapping the cause) while the store is
// unreachable.
func (g *StoreGuard) Check(ctx context.Context) error {
	ttl := g.TTL
	if ttl == 0 {
		ttl = 5 * time.Second
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.at.IsZero() && time.Since(g.at) < ttl {
		return g.last
	}
	err := g.C.Check(ctx)
	if err != nil && !errors.Is(err, ErrStoreUnavailable) {
		err = ErrStoreUnavailable.Wrap(err)
	}
	g.at, g.last = time.Now(), err
	return err
}
