package plan

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/pool"
)

// Planner plans batches. It is safe for concurrent use and meant to live as
// long as the process: each call takes the pool snapshot to plan from (the
// current one of a pool.Holder), and the planner caches its index of the
// most recent snapshot.
type Planner struct {
	cfg  Config
	hist History

	mu     sync.Mutex
	cached *index
}

// New returns a planner. hist may be nil (no history: NoHistory).
func New(cfg Config, hist History) (*Planner, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("plan config: %w", err)
	}
	if hist == nil {
		hist = NoHistory{}
	}
	return &Planner{cfg: cfg.WithDefaults(), hist: hist}, nil
}

// Config returns the effective configuration.
func (p *Planner) Config() Config { return p.cfg }

func (p *Planner) index(s *pool.Snapshot) *index {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cached != nil && p.cached.snap == s {
		return p.cached
	}
	x := newIndex(s)
	p.cached = x
	return x
}

// Filters narrow a smart plan. Empty lists mean "any".
type Filters struct {
	// Provinces are 6-digit ("130000") or 2-digit ("13") province codes.
	Provinces []string `json:"provinces"`
	Months    []int    `json:"months"`
	Roads     []string `json:"roads"`
	// ElementCategories restrict scene elements to these categories.
	ElementCategories []string `json:"element_categories"`
}

func (f Filters) any() bool {
	return len(f.Provinces)+len(f.Months)+len(f.Roads)+len(f.ElementCategories) > 0
}

// SmartRequest asks for N combinations chosen by the planner.
type SmartRequest struct {
	UserID string
	// Groups is N, 1..12.
	Groups int
	// Seed makes the plan reproducible: the same seed, history, pool version
	// and configuration give the same plan. 0 ≤ Seed < 2^53.
	Seed    int64
	Filters Filters
	// AllowSameProvince lets two groups use different counties of one
	// province (never the same county).
	AllowSameProvince bool
}

// ManualRequest is one exact combination chosen by the user.
type ManualRequest struct {
	UserID string
	// County is a current code (130503), an old code (130521) or a name
	// ("邢台县", "河北 邢台县", "Xingtai Xian").
	County   string
	Month    int
	Road     string
	Elements []string
}

// Errors of request validation. Each returned copy carries params naming
// the offending value.
var (
	ErrBadGroups   = fault.New(fault.Invalid, "plan_bad_groups", "The number of groups must be between 1 and 12.")
	ErrBadSeed     = fault.New(fault.Invalid, "plan_bad_seed", "The seed must be an integer between 0 and 2^53-1.")
	ErrBadFilter   = fault.New(fault.Invalid, "plan_bad_filter", "A filter names something the element pool does not have.")
	ErrBadMonth    = fault.New(fault.Invalid, "plan_bad_month", "The month must be between 1 and 12.")
	ErrUnknownRoad = fault.New(fault.Invalid, "plan_unknown_road", "Unknown road surface.")
	ErrNoElements  = fault.New(fault.Invalid, "plan_no_elements", "Choose at least one scene element.")
	ErrTooMany     = fault.New(fault.Invalid, "plan_too_many_elements", "Too many scene elements.")
	ErrUnknownElem = fault.New(fault.Invalid, "plan_unknown_element", "Unknown scene element.")

	ErrUnknownCounty   = fault.New(fault.Unprocessable, "plan_unknown_county", "No county matches.")
	ErrAmbiguousCounty = fault.New(fault.Unprocessable, "plan_ambiguous_county", "Several counties match; choose one by code.")
	ErrElementUnfit    = fault.New(fault.Unprocessable, "plan_element_unfit", "A scene element does not fit the county, month or road.")
	ErrRoadUnfit       = fault.New(fault.Unprocessable, "plan_road_unfit", "This road surface is not plausible in the county.")
	ErrWeatherUnfit    = fault.New(fault.Unprocessable, "plan_weather_unfit", "This weather does not happen in the county in that month.")
	ErrRepeatsHistory  = fault.New(fault.Unprocessable, "plan_repeats_history", "This combination was generated before.")
	ErrNearHistory     = fault.New(fault.Unprocessable, "plan_near_history", "This combination differs from an earlier one in one dimension only.")
	ErrBatchRule       = fault.New(fault.Unprocessable, "plan_batch_rule", "Two groups of the batch are too similar.")
	ErrInfeasible      = fault.New(fault.Unprocessable, "plan_infeasible", "The rules cannot be met.")
)

// normalizeFilters checks the filters against the pool and returns them
// canonical: 6-digit province codes, everything sorted and unique.
func (x *index) normalizeFilters(f Filters) (Filters, error) {
	var out Filters
	for _, c := range f.Provinces {
		pr, err := x.snap.Province(c)
		if err != nil {
			return out, ErrBadFilter.With("filter", "provinces").With("value", c).Wrap(err)
		}
		out.Provinces = append(out.Provinces, pr.Code)
	}
	for _, m := range f.Months {
		if m < 1 || m > 12 {
			return out, ErrBadFilter.With("filter", "months").With("value", m)
		}
		out.Months = append(out.Months, m)
	}
	for _, r := range f.Roads {
		if _, ok := x.roadIdx[r]; !ok {
			return out, ErrBadFilter.With("filter", "roads").With("value", r).With("allowed", x.roads)
		}
		out.Roads = append(out.Roads, r)
	}
	for _, c := range f.ElementCategories {
		if _, ok := x.catIdx[c]; !ok {
			return out, ErrBadFilter.With("filter", "element_categories").With("value", c).With("allowed", x.categories)
		}
		out.ElementCategories = append(out.ElementCategories, c)
	}
	sortUniq := func(s []string) []string { slices.Sort(s); return slices.Compact(s) }
	out.Provinces = sortUniq(out.Provinces)
	out.Roads = sortUniq(out.Roads)
	out.ElementCategories = sortUniq(out.ElementCategories)
	slices.Sort(out.Months)
	out.Months = slices.Compact(out.Months)
	return out.nonNil(), nil
}

// nonNil replaces nil lists by empty ones, so plan JSON shows [] not null.
func (f Filters) nonNil() Filters {
	if f.Provinces == nil {
		f.Provinces = []string{}
	}
	if f.Months == nil {
		f.Months = []int{}
	}
	if f.Roads == nil {
		f.Roads = []string{}
	}
	if f.ElementCategories == nil {
		f.ElementCategories = []string{}
	}
	return f
}

// Distance returns the distance between two combinations, seasons taken from
// the snapshot's season table.
func (p *Planner) Distance(s *pool.Snapshot, a, b Combination) Distance {
	return p.index(s).distance(p.cfg, a.Canonical(), b.Canonical())
}

func (x *index) distance(cfg Config, a, b Combination) Distance {
	var d Distance
	switch {
	case a.CountyCode == b.CountyCode:
	case a.ProvinceCode == b.ProvinceCode:
		d.Region = cfg.SameProvince
	default:
		d.Region = 1
	}
	d.Month = monthDistance(a.Month, x.seasonOf(a.CountyCode, a.Month), b.Month, x.seasonOf(b.CountyCode, b.Month))
	if a.Road != b.Road {
		d.Road = 1
	}
	d.Elements = jaccardDistance(a.Elements, b.Elements)
	d.Total = cfg.total(d)
	d.DimsDiffer = len(a.DiffDims(b))
	return d
}

// rule names a batch rule; the order is the order rules are checked in.
type rule int

const (
	ruleOK rule = iota
	ruleSameCounty
	ruleSameProvince
	ruleMinDims
	ruleThreshold
)

var ruleNames = map[rule]string{
	ruleSameCounty:   "same_county",
	ruleSameProvince: "same_province",
	ruleMinDims:      "min_dimensions",
	ruleThreshold:    "threshold",
}

// pairRule returns the first batch rule two groups break, or ruleOK.
func pairRule(cfg Config, d Distance, sameCounty, sameProvince, allowSameProvince bool) rule {
	switch {
	case sameCounty:
		return ruleSameCounty
	case sameProvince && !allowSameProvince:
		return ruleSameProvince
	case d.DimsDiffer < 2:
		return ruleMinDims
	case d.Total < cfg.Threshold-eps:
		return ruleThreshold
	}
	return ruleOK
}

// Verify checks combinations as one batch against every rule: each exists in
// the snapshot and its elements fit; every pair satisfies the batch rules;
// none is blocked by the user's history. The pipeline calls it at submit
// time on a plan made earlier (a dry run), since history may have changed.
func (p *Planner) Verify(ctx context.Context, s *pool.Snapshot, userID string, combos []Combination, allowSameProvince bool) error {
	x := p.index(s)
	cs := make([]Combination, len(combos))
	for i, c := range combos {
		c = c.Canonical()
		if err := c.Validate(); err != nil {
			return err
		}
		if err := x.checkPlausible(c); err != nil {
			return err
		}
		cs[i] = c
	}
	for i := range cs {
		for j := i + 1; j < len(cs); j++ {
			d := x.distance(p.cfg, cs[i], cs[j])
			r := pairRule(p.cfg, d, cs[i].CountyCode == cs[j].CountyCode, cs[i].ProvinceCode == cs[j].ProvinceCode, allowSameProvince)
			if r != ruleOK {
				return ErrBatchRule.With("rule", ruleNames[r]).With("groups", []int{i, j}).
					With("distance", d.rounded()).With("threshold", p.cfg.Threshold)
			}
		}
	}
	loos := make([][Dimensions]string, len(cs))
	for i, c := range cs {
		loos[i] = c.LOOKeys()
	}
	bi, _, err := blocking(ctx, p.hist, userID, loos)
	if err != nil {
		return fmt.Errorf("checking history: %w", err)
	}
	for i, c := range cs {
		if cf := bi.conflict(c.Key(), loos[i]); cf != nil {
			return historyError(x, c, cf).With("group", i)
		}
	}
	return nil
}

// checkPlausible reports an unknown county, road or element, or an element
// that does not fit, as a fault naming the reason.
func (x *index) checkPlausible(c Combination) error {
	r, err := x.snap.Region(c.CountyCode)
	if err != nil {
		return ErrUnknownCounty.With("county", c.CountyCode).Wrap(err)
	}
	if _, ok := x.roadIdx[c.Road]; !ok {
		return ErrUnknownRoad.With("road", c.Road).With("allowed", x.roads)
	}
	if u := x.snap.RoadUnfit(c.Road, r); u != nil {
		e := ErrRoadUnfit.With("county", r.Code).With("road", c.Road).With("rule", u.Rule)
		e.Detail = "Road surface does not fit: " + u.Detail + "."
		return e
	}
	var unfit []UnfitElement
	for _, id := range c.Elements {
		ei, ok := x.elemIdx[id]
		if !ok {
			return ErrUnknownElem.With("element", id)
		}
		if reasons := x.unfitReasons(x.elements[ei], r, c.Month, c.Road); len(reasons) > 0 {
			unfit = append(unfit, UnfitElement{Element: id, Reasons: reasons})
		}
	}
	if len(unfit) > 0 {
		return unfitError(r, c, unfit)
	}
	return nil
}

// buildGroups turns combinations into plan groups with distances, scene
// names, variants and prompts.
func (x *index) buildGroups(cfg Config, cs []Combination) ([]Group, error) {
	groups := make([]Group, len(cs))
	for i, c := range cs {
		f, err := x.facts(c)
		if err != nil {
			return nil, err
		}
		key, loo := c.keys()
		g := Group{Index: i, Combination: c, Key: key, LOOKeys: loo, Distances: []PairDistance{}, Scene: f.scene()}
		for j, o := range cs {
			if j == i {
				continue
			}
			d := x.distance(cfg, c, o)
			if g.MinDistance == nil || d.Total < *g.MinDistance {
				v := d.Total
				g.MinDistance = &v
			}
			g.Distances = append(g.Distances, PairDistance{Group: j, Distance: d.rounded()})
		}
		if g.MinDistance != nil {
			v := round4(*g.MinDistance)
			g.MinDistance = &v
		}
		for _, v := range f.variants() {
			g.Variants = append(g.Variants, Variant{
				ID: v.ID, Time: v.Time, Weather: v.Weather,
				PromptEN: f.promptEN(v), PromptZH: f.promptZH(v),
			})
		}
		groups[i] = g
	}
	return groups, nil
}
