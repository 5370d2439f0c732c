package plan_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	pooldata "github.com/ludeng/ludeng/data/pool"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/pool"
)

// fixturePool loads testdata/pool: a small pool cut from the shipped one (6
// provinces, 14 counties, 26 elements), plus two synthetic counties named
// 桥西区 in two prefectures of Hebei for the ambiguous-name case.
func fixturePool(t testing.TB) *pool.Pool {
	t.Helper()
	p, err := pool.Load(os.DirFS("testdata/pool"))
	require.NoError(t, err, "%s", pool.ProblemsOf(err))
	return p
}

func snapshotOf(t testing.TB, p *pool.Pool) *pool.Snapshot {
	t.Helper()
	s, err := pool.NewSnapshot(p)
	require.NoError(t, err, "%s", pool.ProblemsOf(err))
	return s
}

func fixture(t testing.TB) *pool.Snapshot { return snapshotOf(t, fixturePool(t)) }

var (
	realOnce sync.Once
	realSnap *pool.Snapshot
	realErr  error
)

// real is the shipped pool (data/pool, embedded). If it does not load, the
// statistical tests fail with the pool's own problems.
func real(t testing.TB) *pool.Snapshot {
	t.Helper()
	realOnce.Do(func() {
		var p *pool.Pool
		p, realErr = pool.Load(pooldata.FS())
		if realErr == nil {
			realSnap, realErr = pool.NewSnapshot(p)
		}
	})
	require.NoError(t, realErr, "the shipped pool does not load: %s", pool.ProblemsOf(realErr))
	return realSnap
}

func newPlanner(t testing.TB, h plan.History) *plan.Planner {
	t.Helper()
	p, err := plan.New(plan.Config{}, h)
	require.NoError(t, err)
	return p
}

// memHistory is an in-memory History for tests: a plain list scanned in
// full, so it shares no indexing logic with the store or the planner.
type memHistory struct {
	mu      sync.Mutex
	entries []plan.HistoryEntry
	calls   int
}

func (m *memHistory) add(state string, at time.Time, cs ...plan.Combination) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range cs {
		c = c.Canonical()
		m.entries = append(m.entries, plan.HistoryEntry{
			ID: fmt.Sprintf("h%06d", len(m.entries)), Combination: c, Key: c.Key(), LOOKeys: c.LOOKeys(),
			State: state, CreatedAt: at,
		})
	}
}

func (m *memHistory) record(p *plan.Plan) {
	m.add(plan.StateUsed, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), p.Combinations()...)
}

func (m *memHistory) BlockingHistory(_ context.Context, _ string, loo [plan.Dimensions][]string) ([]plan.HistoryEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	var sets [plan.Dimensions]map[string]bool
	for d := range plan.Dimensions {
		sets[d] = map[string]bool{}
		for _, k := range loo[d] {
			sets[d][k] = true
		}
	}
	var out []plan.HistoryEntry
	for _, e := range m.entries {
		if e.State != plan.StateReserved && e.State != plan.StateUsed {
			continue
		}
		for d := range plan.Dimensions {
			if sets[d][e.LOOKeys[d]] {
				out = append(out, e)
				break
			}
		}
	}
	return out, nil
}

func (m *memHistory) blocking() []plan.Combination {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []plan.Combination
	for _, e := range m.entries {
		if e.State == plan.StateReserved || e.State == plan.StateUsed {
			out = append(out, e.Combination)
		}
	}
	return out
}

// ---- independent brute-force checker ----
//
// It compares the four fields directly (never through keys), recomputes the
// distance from the pool's raw tables, and re-derives element fit from the
// fit rules, so that it shares no code with the planner.

// fieldsDiffer counts the differing dimensions of two combinations.
func fieldsDiffer(a, b plan.Combination) int {
	n := 0
	if a.CountyCode != b.CountyCode {
		n++
	}
	if a.Month != b.Month {
		n++
	}
	if a.Road != b.Road {
		n++
	}
	ea, eb := slices.Clone(a.Elements), slices.Clone(b.Elements)
	slices.Sort(ea)
	slices.Sort(eb)
	if !slices.Equal(slices.Compact(ea), slices.Compact(eb)) {
		n++
	}
	return n
}

type checker struct {
	s   *pool.Snapshot
	cfg plan.Config
}

func (c checker) season(county string, month int) *pool.Season {
	for i := range c.s.Pool().Regions {
		r := &c.s.Pool().Regions[i]
		if r.Code == county {
			for j := range c.s.Pool().Seasons {
				se := &c.s.Pool().Seasons[j]
				if se.Zone == r.Zone && se.Month == month {
					return se
				}
			}
		}
	}
	return nil
}

func (c checker) distance(a, b plan.Combination) float64 {
	cfg := c.cfg.WithDefaults()
	region := 0.0
	switch {
	case a.CountyCode == b.CountyCode:
	case a.CountyCode[:2] == b.CountyCode[:2]:
		region = cfg.SameProvince
	default:
		region = 1
	}
	month := 0.0
	if a.Month != b.Month {
		d := a.Month - b.Month
		if d < 0 {
			d = -d
		}
		d = min(d, 12-d)
		month = float64(d) / 12
		if c.season(a.CountyCode, a.Month).Season != c.season(b.CountyCode, b.Month).Season {
			month += 0.5
		}
	}
	road := 0.0
	if a.Road != b.Road {
		road = 1
	}
	inter, union := 0, map[string]bool{}
	for _, x := range a.Elements {
		union[x] = true
		if slices.Contains(b.Elements, x) {
			inter++
		}
	}
	for _, x := range b.Elements {
		union[x] = true
	}
	el := 0.0
	if len(union) > 0 {
		el = 1 - float64(inter)/float64(len(union))
	}
	w := cfg.Weights
	return (w.Region*region + w.Month*month + w.Road*road + w.Elements*el) / (w.Region + w.Month + w.Road + w.Elements)
}

// fits re-derives an element's fit from the pool's place rules (tags,
// provinces, the county's climate) and the road's plausibility in the county,
// not from the planner's precomputed table.
func (c checker) fits(e *pool.Element, r *pool.Region, month int, road string) bool {
	return len(c.s.Unfit(e, r, month, road)) == 0 && c.s.RoadUnfit(road, r) == nil
}

func keyString(cm plan.Combination) string {
	els := slices.Clone(cm.Elements)
	slices.Sort(els)
	return fmt.Sprintf("v1|%s|%02d|%s|%s", cm.CountyCode, cm.Month, cm.Road, strings.Join(els, "+"))
}

// violations lists every rule a smart plan breaks.
func (c checker) violations(p *plan.Plan, req plan.SmartRequest, history []plan.Combination) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if len(p.Groups) != req.Groups {
		bad("%d groups, want %d", len(p.Groups), req.Groups)
	}
	f := req.Filters
	provs := map[string]bool{}
	for _, pc := range f.Provinces {
		if len(pc) == 2 {
			pc += "0000"
		}
		provs[pc] = true
	}
	for i, g := range p.Groups {
		cm := g.Combination
		sum := sha256.Sum256([]byte(keyString(cm)))
		if g.Key != hex.EncodeToString(sum[:]) {
			bad("group %d: key is not sha256(%s)", i, keyString(cm))
		}
		r, err := c.s.Region(cm.CountyCode)
		if err != nil {
			bad("group %d: unknown county %s", i, cm.CountyCode)
			continue
		}
		if cm.ProvinceCode != cm.CountyCode[:2]+"0000" {
			bad("group %d: province %s of county %s", i, cm.ProvinceCode, cm.CountyCode)
		}
		if cm.Month < 1 || cm.Month > 12 {
			bad("group %d: month %d", i, cm.Month)
		}
		if _, err := c.s.Road(cm.Road); err != nil {
			bad("group %d: road %s", i, cm.Road)
		}
		if len(cm.Elements) == 0 {
			bad("group %d: no elements", i)
		}
		if !slices.IsSorted(cm.Elements) || len(slices.Compact(slices.Clone(cm.Elements))) != len(cm.Elements) {
			bad("group %d: elements not sorted and unique: %v", i, cm.Elements)
		}
		for _, id := range cm.Elements {
			e, err := c.s.Element(id)
			if err != nil {
				bad("group %d: unknown element %s", i, id)
				continue
			}
			if !c.fits(e, r, cm.Month, cm.Road) {
				bad("group %d: element %s does not fit %s/%d/%s", i, id, r.Code, cm.Month, cm.Road)
			}
			if len(f.ElementCategories) > 0 && !slices.Contains(f.ElementCategories, e.Category) {
				bad("group %d: element %s outside categories %v", i, id, f.ElementCategories)
			}
		}
		if len(provs) > 0 && !provs[cm.ProvinceCode] {
			bad("group %d: province %s outside filter", i, cm.ProvinceCode)
		}
		if len(f.Months) > 0 && !slices.Contains(f.Months, cm.Month) {
			bad("group %d: month %d outside filter", i, cm.Month)
		}
		if len(f.Roads) > 0 && !slices.Contains(f.Roads, cm.Road) {
			bad("group %d: road %s outside filter", i, cm.Road)
		}
		if len(g.Variants) != 4 {
			bad("group %d: %d variants", i, len(g.Variants))
		}
		for j := range i {
			o := p.Groups[j].Combination
			if cm.CountyCode == o.CountyCode {
				bad("groups %d and %d share county %s", j, i, cm.CountyCode)
			}
			if !req.AllowSameProvince && cm.CountyCode[:2] == o.CountyCode[:2] {
				bad("groups %d and %d share province %s", j, i, cm.ProvinceCode)
			}
			if n := fieldsDiffer(cm, o); n < 2 {
				bad("groups %d and %d differ in %d dimensions", j, i, n)
			}
			if d := c.distance(cm, o); d < c.cfg.WithDefaults().Threshold-1e-9 {
				bad("groups %d and %d are %.4f apart", j, i, d)
			}
		}
		for _, h := range history {
			if n := fieldsDiffer(cm, h); n < 2 {
				bad("group %d (%s) differs from history %s in %d dimensions", i, keyString(cm), keyString(h), n)
			}
		}
	}
	return out
}
