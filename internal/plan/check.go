package plan

import "github.com/ludeng/ludeng/internal/pool"

// CheckFilters validates filters against the snapshot exactly as Smart
// does and returns them canonical. Saved settings (presets) use it so that
// what Smart would refuse is refused when it is saved, by the same code.
func (p *Planner) CheckFilters(s *pool.Snapshot, f Filters) (Filters, error) {
	return p.index(s).normalizeFilters(f)
}

// CheckManual validates a manual combination against the snapshot exactly
// as Manual does, except for the user's history (which only submit can
// judge), and returns it canonical (the county resolved to its code).
func (p *Planner) CheckManual(s *pool.Snapshot, req ManualRequest) (Combination, error) {
	return p.checkManual(p.index(s), req)
}
