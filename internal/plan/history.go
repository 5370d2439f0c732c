package plan

import (
	"context"
	"time"
)

// History states. Only reserved and used entries block new combinations.
const (
	StateReserved = "reserved" // planned for a batch that is still running
	StateUsed     = "used"     // generated
	StateReleased = "released" // the batch was cancelled or failed before use
	StateArchived = "archived" // the user archived it; free for reuse
)

// HistoryEntry is one combination a user planned or generated before.
type HistoryEntry struct {
	ID          string
	Combination Combination
	// Key and LOOKeys are as stored (see Combination.Key, LOOKeys).
	Key       string
	LOOKeys   [Dimensions]string
	BatchID   string // "" when none
	GroupID   string // "" when none
	State     string
	CreatedAt time.Time
}

// History is the user's generation history as the planner needs it. The
// store implements it with indexed lookups on the leave-one-out keys, so the
// cost depends on the number of keys asked, not on the length of the history.
type History interface {
	// BlockingHistory returns the user's blocking (reserved or used) entries
	// whose leave-one-out key for dimension d is among loo[d], for any d.
	// Order does not matter; an entry may be returned once only.
	BlockingHistory(ctx context.Context, userID string, loo [Dimensions][]string) ([]HistoryEntry, error)
}

// NoHistory is a History without entries (a user's first batch, or a dry run
// that ignores history).
type NoHistory struct{}

// BlockingHistory returns nothing.
func (NoHistory) BlockingHistory(context.Context, string, [Dimensions][]string) ([]HistoryEntry, error) {
	return nil, nil
}

// Conflict is how a history entry blocks a combination.
type Conflict struct {
	Entry HistoryEntry
	// Identical is true for the same combination; otherwise Dimension is the
	// only dimension in which the two differ.
	Identical bool
	Dimension Dimension
}

// blockIndex answers "which history entry blocks this combination" from the
// entries returned for a set of candidates.
type blockIndex struct {
	byLOO [Dimensions]map[string]*HistoryEntry
}

func newBlockIndex(entries []HistoryEntry) *blockIndex {
	b := &blockIndex{}
	for d := range Dimensions {
		b.byLOO[d] = make(map[string]*HistoryEntry, len(entries))
	}
	for i := range entries {
		e := &entries[i]
		for d := range Dimensions {
			// Keep the oldest entry per key so messages are stable whatever
			// order the store returns rows in.
			if prev := b.byLOO[d][e.LOOKeys[d]]; prev == nil || entryBefore(e, prev) {
				b.byLOO[d][e.LOOKeys[d]] = e
			}
		}
	}
	return b
}

func entryBefore(a, b *HistoryEntry) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	return a.ID < b.ID
}

// conflict returns how history blocks a combination with the given key and
// leave-one-out keys, or nil.
func (b *blockIndex) conflict(key string, loo [Dimensions]string) *Conflict {
	var found *Conflict
	for d := range Dimensions {
		e := b.byLOO[d][loo[d]]
		if e == nil {
			continue
		}
		if e.Key == key {
			return &Conflict{Entry: *e, Identical: true}
		}
		if found == nil {
			found = &Conflict{Entry: *e, Dimension: Dimension(d)}
		}
	}
	return found
}

// lookupChunk bounds the keys per dimension of one History call (one store
// statement; a default round of 384 candidates is one call).
const lookupChunk = 512

// blocking asks history about the given leave-one-out key sets, in chunks.
func blocking(ctx context.Context, h History, userID string, loos [][Dimensions]string) (*blockIndex, int, error) {
	var all []HistoryEntry
	queries := 0
	for start := 0; start < len(loos); start += lookupChunk {
		end := min(start+lookupChunk, len(loos))
		var q [Dimensions][]string
		for _, l := range loos[start:end] {
			for d := range Dimensions {
				q[d] = append(q[d], l[d])
			}
		}
		es, err := h.BlockingHistory(ctx, userID, q)
		if err != nil {
			return nil, queries, err
		}
		queries++
		all = append(all, es...)
	}
	return newBlockIndex(all), queries, nil
}
