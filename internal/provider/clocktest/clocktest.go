// Package clocktest is a virtual clock for tests of code that sleeps: time
// only moves when the test advances it, so schedules (backoff, rate-limit
// waits, polling) are checked exactly and without real sleeping.
package clocktest

import (
	"context"
	"sync"
	"time"
)

// Virtual is a manually advanced clock. Sleep blocks until Advance moves
// the time past the sleeper's deadline or its context ends.
type Virtual struct {
	mu       sync.Mutex
	cond     *sync.Cond
	now      time.Time
	sleepers map[*sleeper]struct{}
	slept    []time.Duration
}

type sleeper struct {
	until time.Time
	ch    chan struct{}
}

// New returns a virtual clock at start.
func New(start time.Time) *Virtual {
	v := &Virtual{now: start, sleepers: map[*sleeper]struct{}{}}
	v.cond = sync.NewCond(&v.mu)
	return v
}

// Now returns the virtual time.
func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

// Sleep blocks until the clock has advanced d, or ctx ends.
func (v *Virtual) Sleep(ctx context.Context, d time.Duration) error {
	v.mu.Lock()
	v.slept = append(v.slept, d)
	if d <= 0 {
		v.mu.Unlock()
		return ctx.Err()
	}
	s := &sleeper{until: v.now.Add(d), ch: make(chan struct{})}
	v.sleepers[s] = struct{}{}
	v.cond.Broadcast()
	v.mu.Unlock()
	select {
	case <-s.ch:
		return nil
	case <-ctx.Done():
		v.mu.Lock()
		delete(v.sleepers, s)
		v.cond.Broadcast()
		v.mu.Unlock()
		return ctx.Err()
	}
}

// Slept returns every duration passed to Sleep, in order.
func (v *Virtual) Slept() []time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]time.Duration(nil), v.slept...)
}

// Sleepers returns how many goroutines are blocked in Sleep.
func (v *Virtual) Sleepers() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.sleepers)
}

// WaitFor blocks until cond(sleepers) is true; cond is re-checked whenever a
// sleeper arrives or leaves and whenever Notify is called.
func (v *Virtual) WaitFor(cond func(sleepers int) bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for !cond(len(v.sleepers)) {
		v.cond.Wait()
	}
}

// Notify wakes WaitFor callers to re-check their condition (call it when
// something they count changes, e.g. a worker exits).
func (v *Virtual) Notify() {
	v.mu.Lock()
	v.cond.Broadcast()
	v.mu.Unlock()
}

// Advance moves the clock by d and wakes every sleeper now due.
func (v *Virtual) Advance(d time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.now = v.now.Add(d)
	v.wake()
}

// AdvanceToNext moves the clock to the earliest sleeper's deadline, wakes
// the sleepers due then, and returns the new time. With no sleeper it does
// nothing.
func (v *Virtual) AdvanceToNext() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	var next time.Time
	for s := range v.sleepers {
		if next.IsZero() || s.until.Before(next) {
			next = s.until
		}
	}
	if !next.IsZero() && next.After(v.now) {
		v.now = next
	}
	v.wake()
	return v.now
}

func (v *Virtual) wake() {
	for s := range v.sleepers {
		if !s.until.After(v.now) {
			close(s.ch)
			delete(v.sleepers, s)
		}
	}
	v.cond.Broadcast()
}
