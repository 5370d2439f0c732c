package auth

import (
	"context"
	"sync"
	"time"
)

// Throttle limits password guessing. Within Window, the (username, IP) pair
// may fail PerUser times and the IP PerIP times; the next attempt is refused
// before the password is checked, so a correct password does not help an
// attacker who is already throttled.
//
// An attempt is reserved by Begin before the password is verified and counts
// against both limits until it ends, so N simultaneous guesses cannot all pass
// a check that only saw the failures recorded before any of them finished.
//
// State is per process. On a multi-node deployment each node throttles on its
// own (nginx also rate-limits the login location per IP), so the effective
// limit is at most nodes × limit; acceptable for a handful of nodes.
type Throttle struct {
	Window  time.Duration
	PerUser int
	PerIP   int
	Now     func() time.Time

	mu       sync.Mutex
	byUser   map[string][]time.Time
	byIP     map[string][]time.Time
	inflight map[string]int // keyed like byUser and byIP (IP keys have no NUL)
}

// NewThrottle returns the documented policy: 5 failures per (user, IP) and 20
// per IP within 15 minutes.
func NewThrottle(now func() time.Time) *Throttle {
	if now == nil {
		now = time.Now
	}
	return &Throttle{Window: 15 * time.Minute, PerUser: 5, PerIP: 20, Now: now,
		byUser: map[string][]time.Time{}, byIP: map[string][]time.Time{}, inflight: map[string]int{}}
}

// inFlightWait is the Retry-After given when only attempts still being
// verified fill the budget: they end within one hash time.
const inFlightWait = time.Second

func userKey(username, ip string) string { return username + "\x00" + ip }

// Begin reserves an attempt for (username, ip). When the attempt may not
// proceed it returns how long to wait and a nil end. Otherwise end must be
// called exactly once with the outcome: a failure is recorded, a success
// clears the pair's failures.
func (t *Throttle) Begin(username, ip string) (end func(ok bool), wait time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.Now()
	uk := userKey(username, ip)
	wait = max(t.waitLocked(t.byUser, uk, t.PerUser, now), t.waitLocked(t.byIP, ip, t.PerIP, now))
	if wait > 0 {
		return nil, wait
	}
	t.inflight[uk]++
	t.inflight[ip]++
	var once sync.Once
	return func(ok bool) {
		once.Do(func() { t.end(uk, ip, ok) })
	}, 0
}

func (t *Throttle) end(uk, ip string, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range []string{uk, ip} {
		if t.inflight[k]--; t.inflight[k] <= 0 {
			delete(t.inflight, k)
		}
	}
	now := t.Now()
	if ok {
		delete(t.byUser, uk)
		return
	}
	t.byUser[uk] = append(t.prune(t.byUser, uk, now), now)
	t.byIP[ip] = append(t.prune(t.byIP, ip, now), now)
}

// Check returns 0 when an attempt may proceed, or how long to wait. It
// reserves nothing; use Begin around a real attempt.
func (t *Throttle) Check(username, ip string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.Now()
	return max(t.waitLocked(t.byUser, userKey(username, ip), t.PerUser, now), t.waitLocked(t.byIP, ip, t.PerIP, now))
}

func (t *Throttle) waitLocked(m map[string][]time.Time, key string, limit int, now time.Time) time.Duration {
	fs := t.prune(m, key, now)
	if len(fs)+t.inflight[key] < limit {
		return 0
	}
	if len(fs) >= limit {
		// Allowed again once enough failures have aged out.
		return fs[len(fs)-limit].Add(t.Window).Sub(now)
	}
	return inFlightWait
}

func (t *Throttle) prune(m map[string][]time.Time, key string, now time.Time) []time.Time {
	fs := m[key]
	i := 0
	for i < len(fs) && now.Sub(fs[i]) >= t.Window {
		i++
	}
	fs = fs[i:]
	if len(fs) == 0 {
		delete(m, key)
		return nil
	}
	m[key] = fs
	return fs
}

// HashGate bounds how many password hashes run at once. Each argon2id
// evaluation holds Memory KiB (19 MiB by default), so without a bound one
// client could turn concurrent requests into unbounded memory; with it the
// peak is Slots × Memory and the excess waits briefly, then is refused.
type HashGate struct {
	slots   chan struct{}
	maxWait time.Duration
}

// NewHashGate allows n concurrent hashes; a caller waits at most maxWait for a slot.
func NewHashGate(n int, maxWait time.Duration) *HashGate {
	if n < 1 {
		n = 1
	}
	return &HashGate{slots: make(chan struct{}, n), maxWait: maxWait}
}

// Slots is the number of concurrent hashes allowed.
func (g *HashGate) Slots() int { return cap(g.slots) }

// Acquire takes a slot, returning false when none freed up within maxWait
// (or ctx ended). A true result must be paired with Release.
func (g *HashGate) Acquire(ctx context.Context) bool {
	select {
	case g.slots <- struct{}{}:
		return true
	default:
	}
	tm := time.NewTimer(g.maxWait)
	defer tm.Stop()
	select {
	case g.slots <- struct{}{}:
		return true
	case <-tm.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// Release frees a slot taken by Acquire.
func (g *HashGate) Release() { <-g.slots }
