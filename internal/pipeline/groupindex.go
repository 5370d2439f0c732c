package pipeline

import (
	"sync"

	"github.com/ludeng/ludeng/internal/store"
)

// maxGroupIndex bounds the group-index cache: far above the groups of the
// batches one node works on at a time (Concurrency × 12 groups).
const maxGroupIndex = 16384

// groupIndexCache maps group id → plan index for the batches this pipeline
// works on. It belongs to one Pipeline (it used to be a process-wide map
// that only grew); a batch's entries go when it is finalized or deleted,
// and the oldest batches go first when the cap is reached. Entries are
// reloaded by every job before use (loadGroupIndex), so an evicted batch
// only costs a query.
type groupIndexCache struct {
	mu      sync.Mutex
	idx     map[string]int      // group id → plan index
	batches map[string][]string // batch id → its group ids
	order   []string            // batch ids, oldest first
}

func (c *groupIndexCache) remember(batchID string, gs []*store.Group) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idx == nil {
		c.idx, c.batches = map[string]int{}, map[string][]string{}
	}
	if _, ok := c.batches[batchID]; !ok {
		c.order = append(c.order, batchID)
	}
	ids := make([]string, len(gs))
	for i, g := range gs {
		c.idx[g.ID] = g.Index
		ids[i] = g.ID
	}
	c.batches[batchID] = ids
	for len(c.idx) > maxGroupIndex && len(c.order) > 1 {
		c.dropLocked(c.order[0])
	}
}

func (c *groupIndexCache) index(groupID string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i, ok := c.idx[groupID]; ok {
		return i
	}
	return -1
}

func (c *groupIndexCache) forget(batchID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(batchID)
}

func (c *groupIndexCache) dropLocked(batchID string) {
	for _, id := range c.batches[batchID] {
		delete(c.idx, id)
	}
	delete(c.batches, batchID)
	for i, b := range c.order {
		if b == batchID {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
}

func (c *groupIndexCache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.idx)
}
