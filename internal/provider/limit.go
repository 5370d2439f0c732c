package provider

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Limits are a provider's client-side limits. Zero means unlimited. They are
// enforced per process and shared by every worker, because Gemini counts
// RPM/IPM per project, not per connection.
type Limits struct {
	// RPM and RPH cap requests per sliding minute and hour.
	RPM, RPH int
	// IPM and IPH cap images per sliding minute and hour.
	IPM, IPH int
	// Concurrency caps calls in flight at once.
	Concurrency int
}

// SharedLimiter enforces Limits across every process of a deployment
// (clusterlimit, on PostgreSQL), instead of the in-process limiter. name
// identifies the account ("provider:gemini"); release must be called when
// the call ends.
type SharedLimiter interface {
	Acquire(ctx context.Context, name string, l Limits, images int) (release func(), err error)
}

// limiter enforces Limits with exact sliding windows: unlike a token bucket,
// a window log never lets 2×limit through around a refill boundary, which is
// what a provider's "N per minute" actually counts.
type limiter struct {
	mu      sync.Mutex
	windows []*window
	sem     chan struct{}
}

type window struct {
	size   time.Duration
	limit  int
	images bool // counts images instead of requests
	log    []stamp
	sum    int
}

type stamp struct {
	at time.Time
	n  int
}

func newLimiter(l Limits) *limiter {
	lim := &limiter{}
	add := func(n int, size time.Duration, images bool) {
		if n > 0 {
			lim.windows = append(lim.windows, &window{size: size, limit: n, images: images})
		}
	}
	add(l.RPM, time.Minute, false)
	add(l.RPH, time.Hour, false)
	add(l.IPM, time.Minute, true)
	add(l.IPH, time.Hour, true)
	if l.Concurrency > 0 {
		lim.sem = make(chan struct{}, l.Concurrency)
	}
	return lim
}

// acquire blocks until a call producing images images may start, then
// records it in every window. The concurrency slot is taken first so the
// recorded start time is the real start time (a call that waited for a slot
// after its rate grant could otherwise bunch up with later ones). release
// must be called when the call ends.
func (l *limiter) acquire(ctx context.Context, clk Clock, images int) (release func(), err error) {
	if l.sem != nil {
		select {
		case l.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	release = func() {
		if l.sem != nil {
			<-l.sem
		}
	}
	for {
		wait, err := l.tryTake(clk.Now(), images)
		if err != nil {
			release()
			return nil, err
		}
		if wait == 0 {
			return release, nil
		}
		if err := clk.Sleep(ctx, wait); err != nil {
			release()
			return nil, err
		}
	}
}

// tryTake records the call and returns 0, or returns how long until every
// window has room.
func (l *limiter) tryTake(now time.Time, images int) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, w := range l.windows {
		n := 1
		if w.images {
			n = images
		}
		if n > w.limit {
			return 0, fmt.Errorf("a call of %d exceeds the limit of %d per %s", n, w.limit, w.size)
		}
		if d := w.waitFor(now, n); d > wait {
			wait = d
		}
	}
	if wait > 0 {
		return wait, nil
	}
	for _, w := range l.windows {
		n := 1
		if w.images {
			n = images
		}
		w.log = append(w.log, stamp{now, n})
		w.sum += n
	}
	return 0, nil
}

// waitFor prunes expired stamps (a stamp at t counts during [t, t+size)) and
// returns how long until n more fit.
func (w *window) waitFor(now time.Time, n int) time.Duration {
	i := 0
	for i < len(w.log) && !w.log[i].at.Add(w.size).After(now) {
		w.sum -= w.log[i].n
		i++
	}
	w.log = w.log[i:]
	if w.sum+n <= w.limit {
		return 0
	}
	freed := 0
	for _, s := range w.log {
		freed += s.n
		if w.sum-freed+n <= w.limit {
			return s.at.Add(w.size).Sub(now)
		}
	}
	return w.size
}

// inFlight reports calls currently holding a concurrency slot.
func (l *limiter) inFlight() int {
	if l.sem == nil {
		return 0
	}
	return len(l.sem)
}
