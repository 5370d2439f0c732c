package provider

import (
	"context"
	"math/rand/v2"
	"time"
)

// Clock is every source of time and chance the package uses. Tests replace
// all three so backoff, rate-limit waits and polling are exact and instant.
type Clock struct {
	// Now defaults to time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx ends; it defaults to a timer select.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand returns a value in [0, 1) for jitter; defaults to math/rand/v2.
	Rand func() float64
}

func (c Clock) withDefaults() Clock {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sleep == nil {
		c.Sleep = sleepCtx
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	return c
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
