package pipeline

import (
	"context"
	"sync"
)

// fairSlots is the global generation cap with fair sharing: when a slot
// frees, the waiting request of the highest priority whose user holds the
// fewest slots gets it (ties: the earliest). One user's 48 waiting images
// therefore never keep another user's 4 waiting for long.
type fairSlots struct {
	mu      sync.Mutex
	cap     int
	inUse   int
	perUser map[string]int
	waiting []*slotWaiter
	seq     uint64
}

type slotWaiter struct {
	user     string
	priority int // lower is more urgent (River priorities)
	seq      uint64
	ready    chan struct{}
	granted  bool
}

func newFairSlots(n int) *fairSlots {
	return &fairSlots{cap: n, perUser: map[string]int{}}
}

// acquire waits for a slot; release must be called exactly once after a
// nil error.
func (f *fairSlots) acquire(ctx context.Context, user string, priority int) (release func(), err error) {
	f.mu.Lock()
	if f.inUse < f.cap && len(f.waiting) == 0 {
		f.grantLocked(user)
		f.mu.Unlock()
		return f.releaser(user), nil
	}
	f.seq++
	w := &slotWaiter{user: user, priority: priority, seq: f.seq, ready: make(chan struct{})}
	f.waiting = append(f.waiting, w)
	f.mu.Unlock()
	select {
	case <-w.ready:
		return f.releaser(user), nil
	case <-ctx.Done():
		f.mu.Lock()
		defer f.mu.Unlock()
		if w.granted {
			// Granted while giving up: hand the slot on.
			f.releaseLocked(user)
			return nil, ctx.Err()
		}
		for i, o := range f.waiting {
			if o == w {
				f.waiting = append(f.waiting[:i], f.waiting[i+1:]...)
				break
			}
		}
		return nil, ctx.Err()
	}
}

func (f *fairSlots) grantLocked(user string) {
	f.inUse++
	f.perUser[user]++
}

func (f *fairSlots) releaser(user string) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			f.releaseLocked(user)
			f.mu.Unlock()
		})
	}
}

func (f *fairSlots) releaseLocked(user string) {
	f.inUse--
	if f.perUser[user]--; f.perUser[user] <= 0 {
		delete(f.perUser, user)
	}
	for f.inUse < f.cap && len(f.waiting) > 0 {
		best := 0
		for i, w := range f.waiting[1:] {
			b := f.waiting[best]
			switch {
			case w.priority != b.priority:
				if w.priority < b.priority {
					best = i + 1
				}
			case f.perUser[w.user] != f.perUser[b.user]:
				if f.perUser[w.user] < f.perUser[b.user] {
					best = i + 1
				}
			case w.seq < b.seq:
				best = i + 1
			}
		}
		w := f.waiting[best]
		f.waiting = append(f.waiting[:best], f.waiting[best+1:]...)
		w.granted = true
		f.grantLocked(w.user)
		close(w.ready)
	}
}

// waitingOf returns how many of user's requests wait for a slot.
func (f *fairSlots) waitingOf(user string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, w := range f.waiting {
		if w.user == user {
			n++
		}
	}
	return n
}

// inFlight returns the slots in use and the requests waiting.
func (f *fairSlots) inFlight() (int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inUse, len(f.waiting)
}
