package plan

import "github.com/ludeng/ludeng/internal/pool"

// CheckFilters validates filters against the snapshot exactly as Smart
// does and returns them canonical. Saved settings (presets) use it so that
// what Smart would refuse is refused when it is saved, by the same code.
func (p *Planner) CheckFilters(s *pool.Snapshot, f Filters) (Filters, error) {
	return p.index(s).normalizeFilters(f)
}
