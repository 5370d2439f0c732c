package provider

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ludeng/ludeng/internal/provider/clocktest"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	p := RetryPolicy{}.withDefaults()
	tests := []struct {
		name     string
		attempt  int
		hint     time.Duration
		rnd      float64
		min, max time.Duration
	}{
		{"hint, no jitter", 1, 2 * time.Second, 0, 2 * time.Second, 2 * time.Second},
		{"hint, max jitter", 1, 2 * time.Second, 0.999999, 2 * time.Second, 3 * time.Second},
		{"hint ignores attempt", 4, 53 * time.Second, 0.5, 53 * time.Second, 54 * time.Second},
		{"full jitter first retry", 1, 0, 0.999999, 0, time.Second},
		{"full jitter third retry", 3, 0, 0.999999, 3 * time.Second, 4 * time.Second},
		{"full jitter capped", 30, 0, 0.999999, 59 * time.Second, time.Minute},
		{"full jitter zero", 2, 0, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := p.Delay(tc.attempt, tc.hint, tc.rnd)
			require.GreaterOrEqual(t, d, tc.min)
			require.LessOrEqual(t, d, tc.max)
		})
	}
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	p := RetryPolicy{MaxAttempts: 3}.withDefaults()
	tests := []struct {
		name    string
		err     *Error
		attempt int
		noImage int
		want    bool
	}{
		{"unavailable", &Error{Class: ClassUnavailable}, 1, 0, true},
		{"unavailable at max", &Error{Class: ClassUnavailable}, 3, 0, false},
		{"circuit open", &Error{Class: ClassUnavailable, Code: "circuit_open"}, 1, 0, false},
		{"rate limited short", &Error{Class: ClassRateLimited, RetryAfter: time.Minute}, 1, 0, true},
		{"rate limited too long", &Error{Class: ClassRateLimited, RetryAfter: time.Hour}, 1, 0, false},
		{"no image once", &Error{Class: ClassNoImage}, 1, 1, true},
		{"no image twice", &Error{Class: ClassNoImage}, 2, 2, false},
		{"blocked", &Error{Class: ClassBlocked}, 1, 0, false},
		{"quota", &Error{Class: ClassQuotaExhausted}, 1, 0, false},
		{"auth", &Error{Class: ClassAuth}, 1, 0, false},
		{"bad request", &Error{Class: ClassBadRequest}, 1, 0, false},
		{"model gone", &Error{Class: ClassModelGone}, 1, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ok, _ := p.retryable(tc.err, tc.attempt, tc.noImage)
			require.Equal(t, tc.want, ok)
		})
	}
}

func TestBreaker(t *testing.T) {
	t.Parallel()
	var states []BreakerState
	b := newBreaker(BreakerConfig{Failures: 3, Cooldown: 30 * time.Second}, func(s BreakerState) { states = append(states, s) })
	now := t0
	for range 2 {
		require.True(t, b.allow(now))
		b.record(now, true)
	}
	require.Equal(t, BreakerClosed, b.current(now))
	b.record(now, false) // a success resets the count
	for range 3 {
		require.True(t, b.allow(now))
		b.record(now, true)
	}
	require.Equal(t, BreakerOpen, b.current(now))
	require.False(t, b.allow(now.Add(29*time.Second)))
	// After the cooldown exactly one probe goes through.
	now = now.Add(30 * time.Second)
	require.True(t, b.allow(now))
	require.False(t, b.allow(now))
	b.record(now, true) // probe failed: open again
	require.Equal(t, BreakerOpen, b.current(now))
	now = now.Add(30 * time.Second)
	require.True(t, b.allow(now))
	b.record(now, false)
	require.Equal(t, BreakerClosed, b.current(now))
	require.Equal(t, []BreakerState{BreakerOpen, BreakerHalfOpen, BreakerOpen, BreakerHalfOpen, BreakerClosed}, states)
}

func TestLimiterWindows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		limits Limits
		images int
		calls  int
		// wantWaits[i] is the wait tryTake reports for call i at t0.
		wantFirstWait time.Duration
	}{
		{"rpm", Limits{RPM: 3}, 1, 3, time.Minute},
		{"rph", Limits{RPH: 2}, 1, 2, time.Hour},
		{"ipm counts images", Limits{IPM: 4}, 2, 2, time.Minute},
		{"tightest wins", Limits{RPM: 5, RPH: 2}, 1, 2, time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLimiter(tc.limits)
			for range tc.calls {
				wait, err := l.tryTake(t0, tc.images)
				require.NoError(t, err)
				require.Zero(t, wait)
			}
			wait, err := l.tryTake(t0, tc.images)
			require.NoError(t, err)
			require.Equal(t, tc.wantFirstWait, wait)
			wait, err = l.tryTake(t0.Add(tc.wantFirstWait), tc.images)
			require.NoError(t, err)
			require.Zero(t, wait)
		})
	}
	_, err := newLimiter(Limits{IPM: 1}).tryTake(t0, 2)
	require.Error(t, err, "a call larger than the limit can never run")
}

// TestLimiterWorkers: 5 workers share a 10/minute limit. In virtual time no
// sliding 60 s holds more than 10 starts, and 3 minutes hold at least 29.
func TestLimiterWorkers(t *testing.T) {
	t.Parallel()
	clk := clocktest.New(t0)
	c := Clock{Now: clk.Now, Sleep: clk.Sleep}.withDefaults()
	l := newLimiter(Limits{RPM: 10, Concurrency: 5})
	end := t0.Add(3 * time.Minute)
	var (
		mu     sync.Mutex
		starts []time.Time
		live   atomic.Int32
		wg     sync.WaitGroup
	)
	live.Store(5)
	for range 5 {
		wg.Go(func() {
			defer func() { live.Add(-1); clk.Notify() }()
			for {
				release, err := l.acquire(context.Background(), c, 1)
				if err != nil {
					return
				}
				now := clk.Now()
				if !now.Before(end) {
					release()
					return
				}
				mu.Lock()
				starts = append(starts, now)
				mu.Unlock()
				release()
			}
		})
	}
	for live.Load() > 0 {
		clk.WaitFor(func(n int) bool { return n >= int(live.Load()) })
		if live.Load() == 0 {
			break
		}
		clk.AdvanceToNext()
	}
	wg.Wait()
	requireSliding(t, starts, time.Minute, 10)
	require.GreaterOrEqual(t, len(starts), 29)
}

// requireSliding checks that no window [s, s+size) holds more than max of times.
func requireSliding(t *testing.T, times []time.Time, size time.Duration, max int) {
	t.Helper()
	for _, s := range times {
		n := 0
		for _, u := range times {
			if !u.Before(s) && u.Before(s.Add(size)) {
				n++
			}
		}
		require.LessOrEqualf(t, n, max, "window starting %s", s.Sub(t0))
	}
}
