package provider

import (
	"sync"
	"time"
)

// BreakerState is the circuit breaker's state.
type BreakerState int

// The states, numbered as exported in the breaker-state gauge.
const (
	BreakerClosed   BreakerState = 0
	BreakerHalfOpen BreakerState = 1
	BreakerOpen     BreakerState = 2
)

func (s BreakerState) String() string {
	switch s {
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half_open"
	}
	return "closed"
}

// BreakerConfig tunes a provider's circuit breaker.
type BreakerConfig struct {
	// Failures is how many consecutive unavailable-class failures open the
	// circuit; default 5.
	Failures int
	// Cooldown is how long the circuit stays open before one probe call is
	// let through; default 30s.
	Cooldown time.Duration
}

func (c BreakerConfig) withDefaults() BreakerConfig {
	if c.Failures <= 0 {
		c.Failures = 5
	}
	if c.Cooldown <= 0 {
		c.Cooldown = 30 * time.Second
	}
	return c
}

// breaker stops calling a provider that keeps failing, so workers fall back
// at once instead of each burning its own retries and timeouts. Only
// unavailable-class failures count: a blocked prompt or a 429 says nothing
// about the provider's health.
type breaker struct {
	cfg      BreakerConfig
	mu       sync.Mutex
	state    BreakerState
	fails    int
	openedAt time.Time
	probing  bool
	onChange func(BreakerState)
}

func newBreaker(cfg BreakerConfig, onChange func(BreakerState)) *breaker {
	return &breaker{cfg: cfg.withDefaults(), onChange: onChange}
}

// allow reports whether a call may go out now. In half-open state exactly
// one call (the probe) is allowed until it reports back.
func (b *breaker) allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerOpen:
		if now.Sub(b.openedAt) < b.cfg.Cooldown {
			return false
		}
		b.set(BreakerHalfOpen)
		b.probing = true
		return true
	case BreakerHalfOpen:
		if b.probing {
			return false
		}
		b.probing = true
		return true
	}
	return true
}

// record reports an attempt's health: failed is true for unavailable-class
// failures only.
func (b *breaker) record(now time.Time, failed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	if !failed {
		b.fails = 0
		if b.state != BreakerClosed {
			b.set(BreakerClosed)
		}
		return
	}
	b.fails++
	if b.state == BreakerHalfOpen || b.fails >= b.cfg.Failures {
		b.openedAt = now
		b.set(BreakerOpen)
	}
}

// release gives back a half-open probe slot whose call never reported
// (cancelled before an answer).
func (b *breaker) release() {
	b.mu.Lock()
	b.probing = false
	b.mu.Unlock()
}

func (b *breaker) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fails, b.probing = 0, false
	b.set(BreakerClosed)
}

func (b *breaker) current(now time.Time) BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == BreakerOpen && now.Sub(b.openedAt) >= b.cfg.Cooldown {
		return BreakerHalfOpen
	}
	return b.state
}

func (b *breaker) set(s BreakerState) {
	b.state = s
	if b.onChange != nil {
		b.onChange(s)
	}
}
