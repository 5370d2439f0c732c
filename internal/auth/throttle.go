package auth

import (
	"sync"
	"time"
)

// Throttle limits password guessing. Within Window, the (username, IP) pair
// may fail PerUser times and the IP PerIP times; the next attempt is refused
// before the password is checked, so a correct password does not help an
// attacker who is already throttled.
//
// State is per process. On a multi-node deployment each node throttles on its
// own (nginx also rate-limits the login location per IP), so the effective
// limit is at most nodes × limit; acceptable for a handful of nodes.
type Throttle struct {
	Window  time.Duration
	PerUser int
	PerIP   int
	Now     func() time.Time

	mu     sync.Mutex
	byUser map[string][]time.Time
	byIP   map[string][]time.Time
}

// NewThrottle returns the documented policy: 5 failures per (user, IP) and 20
// per IP within 15 minutes.
func NewThrottle(now func() time.Time) *Throttle {
	if now == nil {
		now = time.Now
	}
	return &Throttle{Window: 15 * time.Minute, PerUser: 5, PerIP: 20, Now: now,
		byUser: map[string][]time.Time{}, byIP: map[string][]time.Time{}}
}

// Check returns 0 when an attempt may proceed, or how long to wait.
func (t *Throttle) Check(username, ip string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.Now()
	wait := func(m map[string][]time.Time, key string, limit int) time.Duration {
		fs := t.prune(m, key, now)
		if len(fs) < limit {
			return 0
		}
		// The attempt is allowed again once enough failures have aged out.
		return fs[len(fs)-limit].Add(t.Window).Sub(now)
	}
	return max(wait(t.byUser, username+"\x00"+ip, t.PerUser), wait(t.byIP, ip, t.PerIP))
}

// Fail records a failed attempt.
func (t *Throttle) Fail(username, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.Now()
	k := username + "\x00" + ip
	t.byUser[k] = append(t.prune(t.byUser, k, now), now)
	t.byIP[ip] = append(t.prune(t.byIP, ip, now), now)
}

// Succeed clears the (username, IP) failures after a good login.
func (t *Throttle) Succeed(username, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.byUser, username+"\x00"+ip)
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
