package plan

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/ludeng/ludeng/internal/pool"
)

// pcgStream is the second PCG parameter: fixed, so that the seed alone
// selects the random sequence ("ludeng" in ASCII).
const pcgStream = 0x6c7564656e67

// Balancing bonuses added to a candidate's distance score during the greedy
// search. They are larger than most distance differences on purpose: spread
// over seasons, climate zones and provinces matters more than squeezing out
// the last 0.05 of distance.
const (
	bonusNewSeason   = 0.15
	bonusNewZone     = 0.10
	bonusNewProvince = 0.30 // only when the same province is allowed
	penaltyMonth     = 0.50 // per use of a month beyond its fair share
)

// triple is a scene without elements: county, month, road.
type triple struct{ region, month, road int }

// cand is a sampled candidate combination.
type cand struct {
	triple
	prov, zone, season int
	elems              []int // element indexes, sorted
	comb               Combination
	key                string
	loo                [Dimensions]string
}

// search is the state of one smart plan.
type search struct {
	x   *index
	cfg Config
	req SmartRequest

	fit       [][]int // x.fit restricted to the category filter
	remaining [][]triple
	provOrder []int // provinces with plausible scenes

	stats       SearchStats
	identical   int // history blocks, by kind
	oneDim      int
	cands       []cand
	plausibleBy struct{ provinces, counties int }
	monthCap    int
}

// Smart plans req.Groups combinations that satisfy every rule, spread over
// provinces, seasons, months and climate zones. See docs/planner.md for the
// algorithm. When the rules cannot be met the error is a *fault.Error with
// code plan_infeasible whose Err is a *Diagnosis.
func (p *Planner) Smart(ctx context.Context, s *pool.Snapshot, req SmartRequest) (*Plan, error) {
	if req.Groups < 1 || req.Groups > MaxGroups {
		return nil, ErrBadGroups.With("groups", req.Groups)
	}
	if req.Seed < 0 || req.Seed >= MaxSeed {
		return nil, ErrBadSeed.With("seed", req.Seed)
	}
	x := p.index(s)
	f, err := x.normalizeFilters(req.Filters)
	if err != nil {
		return nil, err
	}
	req.Filters = f
	sr := &search{x: x, cfg: p.cfg, req: req}
	sr.enumerate()

	// Structural limits need no search (and no history lookups).
	if sr.stats.ScenesPlausible == 0 || sr.plausibleBy.counties < req.Groups ||
		(!req.AllowSameProvince && sr.plausibleBy.provinces < req.Groups) {
		return nil, sr.infeasible(nil)
	}
	rng := rand.New(rand.NewPCG(uint64(req.Seed), pcgStream))
	var best *attempt
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		batch := sr.sample(rng, p.cfg.Sample)
		if len(batch) == 0 {
			break
		}
		sr.stats.Rounds++
		if err := sr.checkHistory(ctx, p.hist, batch); err != nil {
			return nil, err
		}
		best = sr.greedy(rng)
		if len(best.chosen) == req.Groups {
			return sr.plan(best)
		}
	}
	return nil, sr.infeasible(best)
}

// enumerate lists every plausible scene (county, month, road) allowed by the
// filters, per province.
func (s *search) enumerate() {
	x, f := s.x, s.req.Filters
	s.stats.ScenesTotal = len(x.regions) * 12 * len(x.roads)

	months := f.Months
	if len(months) == 0 {
		months = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	}
	s.monthCap = (s.req.Groups + len(months) - 1) / len(months)
	var roads []int
	for ri, r := range x.roads {
		if len(f.Roads) == 0 || slices.Contains(f.Roads, r) {
			roads = append(roads, ri)
		}
	}
	s.fit = x.fit
	if len(f.ElementCategories) > 0 {
		s.fit = make([][]int, len(x.fit))
		for slot, list := range x.fit {
			for _, ei := range list {
				if slices.Contains(f.ElementCategories, x.categories[x.elemCat[ei]]) {
					s.fit[slot] = append(s.fit[slot], ei)
				}
			}
		}
	}
	s.remaining = make([][]triple, len(x.provinces))
	for pi, pc := range x.provinces {
		if len(f.Provinces) > 0 && !slices.Contains(f.Provinces, pc) {
			continue
		}
		counties := 0
		for _, ri := range x.provRegion[pi] {
			has := false
			for _, m := range months {
				for _, rd := range roads {
					s.stats.ScenesFiltered++
					if len(s.fit[x.fitSlot(ri, m, rd)]) >= 1 {
						s.stats.ScenesPlausible++
						s.remaining[pi] = append(s.remaining[pi], triple{ri, m, rd})
						has = true
					}
				}
			}
			if has {
				counties++
			}
		}
		if len(s.remaining[pi]) > 0 {
			s.provOrder = append(s.provOrder, pi)
			s.plausibleBy.provinces++
			s.plausibleBy.counties += counties
		}
	}
}

// sample draws up to n new candidates: provinces round-robin in a random
// order each round (so a province with many counties is not favoured), a
// random unsampled scene of the province, a random element set.
func (s *search) sample(rng *rand.Rand, n int) []cand {
	var out []cand
	for len(out) < n {
		progress := false
		for _, k := range rng.Perm(len(s.provOrder)) {
			pi := s.provOrder[k]
			rem := s.remaining[pi]
			if len(rem) == 0 {
				continue
			}
			j := rng.IntN(len(rem))
			t := rem[j]
			rem[j] = rem[len(rem)-1]
			s.remaining[pi] = rem[:len(rem)-1]
			progress = true
			if c, ok := s.makeCand(rng, t); ok {
				out = append(out, c)
				if len(out) == n {
					break
				}
			}
		}
		if !progress {
			break
		}
	}
	s.stats.Sampled += len(out)
	return out
}

// makeCand picks the element set of a scene: ElementsPerGroup elements, each
// from a category not yet used when possible, weighted towards elements
// specific to a place or time.
func (s *search) makeCand(rng *rand.Rand, t triple) (cand, bool) {
	x := s.x
	zi := x.regionZone[t.region]
	list := s.fit[x.fitSlot(t.region, t.month, t.road)]
	if len(list) == 0 {
		return cand{}, false
	}
	var chosen []int
	usedCat := map[int]bool{}
	for len(chosen) < s.cfg.ElementsPerGroup {
		pick := func(distinctCat bool) int {
			total := 0
			for _, ei := range list {
				if slices.Contains(chosen, ei) || (distinctCat && usedCat[x.elemCat[ei]]) {
					continue
				}
				total += x.elemWeight[ei]
			}
			if total == 0 {
				return -1
			}
			r := rng.IntN(total)
			for _, ei := range list {
				if slices.Contains(chosen, ei) || (distinctCat && usedCat[x.elemCat[ei]]) {
					continue
				}
				if r < x.elemWeight[ei] {
					return ei
				}
				r -= x.elemWeight[ei]
			}
			return -1
		}
		ei := pick(true)
		if ei < 0 {
			ei = pick(false)
		}
		if ei < 0 {
			break
		}
		chosen = append(chosen, ei)
		usedCat[x.elemCat[ei]] = true
	}
	ids := make([]string, len(chosen))
	for i, ei := range chosen {
		ids[i] = x.elements[ei].ID
	}
	r := x.regions[t.region]
	comb := Combination{CountyCode: r.Code, Month: t.month, Road: x.roads[t.road], Elements: ids}.Canonical()
	// Element indexes sorted by id, like comb.Elements, so that equal sets
	// compare equal whatever the pick order.
	slices.SortFunc(chosen, func(a, b int) int {
		return strings.Compare(x.elements[a].ID, x.elements[b].ID)
	})
	key, loo := comb.keys()
	return cand{
		triple: t, prov: x.regionProv[t.region], zone: zi, season: x.season[zi][t.month],
		elems: chosen, comb: comb, key: key, loo: loo,
	}, true
}

// checkHistory drops the candidates of batch that history blocks and keeps
// the rest.
func (s *search) checkHistory(ctx context.Context, h History, batch []cand) error {
	loos := make([][Dimensions]string, len(batch))
	for i, c := range batch {
		loos[i] = c.loo
	}
	bi, q, err := blocking(ctx, h, s.req.UserID, loos)
	s.stats.HistoryQueries += q
	if err != nil {
		return fmt.Errorf("checking history: %w", err)
	}
	for _, c := range batch {
		if cf := bi.conflict(c.key, c.loo); cf != nil {
			s.stats.HistoryBlocked++
			if cf.Identical {
				s.identical++
			} else {
				s.oneDim++
			}
			continue
		}
		s.cands = append(s.cands, c)
	}
	return nil
}

// pair returns the distance of two candidates and the first rule they break.
func (s *search) pair(a, b *cand) (float64, rule) {
	var d Distance
	dims := 0
	switch {
	case a.region == b.region:
	case a.prov == b.prov:
		d.Region = s.cfg.SameProvince
		dims++
	default:
		d.Region = 1
		dims++
	}
	if a.month != b.month {
		d.Month = monthDistance(a.month, a.season, b.month, b.season)
		dims++
	}
	if a.road != b.road {
		d.Road = 1
		dims++
	}
	d.Elements = jaccardDistance(a.elems, b.elems)
	if d.Elements > 0 {
		dims++
	}
	d.DimsDiffer = dims
	d.Total = s.cfg.total(d)
	return d.Total, pairRule(s.cfg, d, a.region == b.region, a.prov == b.prov, s.req.AllowSameProvince)
}

// attempt is one greedy run.
type attempt struct {
	start   int
	chosen  []int
	removed map[rule]int // why the candidates left were excluded, when stuck
	// quality, compared by better
	monthExcess, seasons, provinces int
	minPair, sumMin                 float64
}

// greedy runs the max-min greedy search from Restarts different first
// candidates and returns the best attempt.
func (s *search) greedy(rng *rand.Rand) *attempt {
	n := len(s.cands)
	if n == 0 {
		return &attempt{removed: map[rule]int{}}
	}
	starts := []int{0}
	for _, i := range rng.Perm(n) {
		if len(starts) == s.cfg.Restarts {
			break
		}
		if i != 0 {
			starts = append(starts, i)
		}
	}
	var best *attempt
	for _, st := range starts {
		if a := s.run(st); best == nil || a.better(best) {
			best = a
		}
	}
	return best
}

// run is one greedy pass: start with candidate st, then repeatedly add the
// compatible candidate with the largest distance to its nearest chosen group
// plus balancing bonuses. Ties go to the earlier candidate.
func (s *search) run(st int) *attempt {
	n := len(s.cands)
	alive := make([]bool, n)
	why := make([]rule, n)
	minD := make([]float64, n)
	for i := range alive {
		alive[i] = true
		minD[i] = math.Inf(1)
	}
	a := &attempt{start: st}
	seasonCount := make([]int, len(seasonNames))
	zoneCount := make([]int, len(s.x.zones))
	provCount := make([]int, len(s.x.provinces))
	monthCount := make([]int, 13)
	add := func(ci int) {
		c := &s.cands[ci]
		a.chosen = append(a.chosen, ci)
		alive[ci] = false
		seasonCount[c.season]++
		zoneCount[c.zone]++
		provCount[c.prov]++
		monthCount[c.month]++
		for j := range s.cands {
			if !alive[j] {
				continue
			}
			d, r := s.pair(c, &s.cands[j])
			if r != ruleOK {
				alive[j] = false
				why[j] = r
				continue
			}
			if d < minD[j] {
				minD[j] = d
			}
		}
	}
	add(st)
	for len(a.chosen) < s.req.Groups {
		bestI, bestScore := -1, 0.0
		for j := range s.cands {
			if !alive[j] {
				continue
			}
			c := &s.cands[j]
			score := minD[j]
			if seasonCount[c.season] == 0 {
				score += bonusNewSeason
			}
			if zoneCount[c.zone] == 0 {
				score += bonusNewZone
			}
			if s.req.AllowSameProvince && provCount[c.prov] == 0 {
				score += bonusNewProvince
			}
			if over := monthCount[c.month] + 1 - s.monthCap; over > 0 {
				score -= penaltyMonth * float64(over)
			}
			score = quantize(score)
			if bestI < 0 || score > bestScore {
				bestI, bestScore = j, score
			}
		}
		if bestI < 0 {
			break
		}
		add(bestI)
	}
	a.removed = map[rule]int{}
	if len(a.chosen) < s.req.Groups {
		for j := range s.cands {
			if why[j] != ruleOK {
				a.removed[why[j]]++
			}
		}
	}
	for _, v := range monthCount {
		if v > s.monthCap {
			a.monthExcess += v - s.monthCap
		}
	}
	a.seasons, a.provinces = countNonZero(seasonCount), countNonZero(provCount)
	a.minPair = math.Inf(1)
	for i, ci := range a.chosen {
		nearest := math.Inf(1)
		for k, cj := range a.chosen {
			if k != i {
				d, _ := s.pair(&s.cands[ci], &s.cands[cj])
				nearest = math.Min(nearest, d)
			}
		}
		if !math.IsInf(nearest, 1) {
			a.sumMin += nearest
			a.minPair = math.Min(a.minPair, nearest)
		}
	}
	a.minPair, a.sumMin = quantize(a.minPair), quantize(a.sumMin)
	return a
}

// quantize rounds to 1e-9 so that comparisons do not hinge on the last bits
// of a float (the same plan on every architecture).
func quantize(v float64) float64 {
	if math.IsInf(v, 0) {
		return v
	}
	return math.Round(v*1e9) / 1e9
}

// better orders attempts: more groups, fewer months over their share, more
// seasons, more provinces, larger smallest distance, larger sum of nearest
// distances, then the earlier start.
func (a *attempt) better(b *attempt) bool {
	switch {
	case len(a.chosen) != len(b.chosen):
		return len(a.chosen) > len(b.chosen)
	case a.monthExcess != b.monthExcess:
		return a.monthExcess < b.monthExcess
	case a.seasons != b.seasons:
		return a.seasons > b.seasons
	case a.provinces != b.provinces:
		return a.provinces > b.provinces
	case a.minPair != b.minPair:
		return a.minPair > b.minPair
	case a.sumMin != b.sumMin:
		return a.sumMin > b.sumMin
	}
	return a.start < b.start
}

// plan builds the Plan of a complete attempt.
func (s *search) plan(a *attempt) (*Plan, error) {
	cs := make([]Combination, len(a.chosen))
	for i, ci := range a.chosen {
		cs[i] = s.cands[ci].comb
	}
	groups, err := s.x.buildGroups(s.cfg, cs)
	if err != nil {
		return nil, err
	}
	stats := s.stats
	return &Plan{
		Mode: "smart", Seed: s.req.Seed, PoolVersion: s.x.snap.Version(), ConfigHash: s.cfg.Hash(),
		AllowSameProvince: s.req.AllowSameProvince, Filters: s.req.Filters,
		Groups: groups, Search: &stats,
	}, nil
}

func countNonZero(v []int) int {
	n := 0
	for _, x := range v {
		if x != 0 {
			n++
		}
	}
	return n
}
