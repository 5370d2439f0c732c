package plan_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/pool"
)

// randomFilters draws filters that are usually, not always, satisfiable.
func randomFilters(rng *rand.Rand, s *pool.Snapshot) plan.Filters {
	var f plan.Filters
	if rng.IntN(3) == 0 {
		ps := s.Provinces()
		for _, i := range rng.Perm(len(ps))[:1+rng.IntN(len(ps))] {
			code := ps[i].Code
			if rng.IntN(2) == 0 {
				code = code[:2]
			}
			f.Provinces = append(f.Provinces, code)
		}
	}
	if rng.IntN(3) == 0 {
		for _, i := range rng.Perm(12)[:1+rng.IntN(12)] {
			f.Months = append(f.Months, i+1)
		}
	}
	if rng.IntN(4) == 0 {
		for _, i := range rng.Perm(len(pool.RoadIDs))[:1+rng.IntN(len(pool.RoadIDs))] {
			f.Roads = append(f.Roads, pool.RoadIDs[i])
		}
	}
	if rng.IntN(4) == 0 {
		cs := s.Categories()
		for _, i := range rng.Perm(len(cs))[:1+rng.IntN(len(cs))] {
			f.ElementCategories = append(f.ElementCategories, cs[i].ID)
		}
	}
	return f
}

// randomCombination is a plausible combination of the pool, drawn without
// the planner.
func randomCombination(rng *rand.Rand, s *pool.Snapshot) plan.Combination {
	rs := s.Regions()
	for {
		r := rs[rng.IntN(len(rs))]
		m := 1 + rng.IntN(12)
		road := pool.RoadIDs[rng.IntN(len(pool.RoadIDs))]
		els, _ := s.ElementsFor(r.Zone, m, road)
		if len(els) == 0 {
			continue
		}
		var ids []string
		for _, i := range rng.Perm(len(els))[:1+rng.IntN(min(2, len(els)))] {
			ids = append(ids, els[i].ID)
		}
		return plan.Combination{CountyCode: r.Code, Month: m, Road: road, Elements: ids}.Canonical()
	}
}

// TestBruteForceChecker is acceptance 1: over hundreds of random seeds,
// filters and histories, an independent checker (fields compared directly)
// finds no violation in any plan; a request that cannot be met fails with a
// plan_infeasible diagnosis, never with a bad plan.
func TestBruteForceChecker(t *testing.T) {
	t.Parallel()
	s := real(t)
	rng := rand.New(rand.NewPCG(2026, 4))
	cases := 300
	if raceEnabled {
		cases = 60
	}
	ok, infeasible := 0, 0
	for i := range cases {
		req := plan.SmartRequest{
			UserID: "u", Groups: 1 + rng.IntN(12), Seed: rng.Int64N(plan.MaxSeed),
			AllowSameProvince: rng.IntN(3) == 0,
		}
		if rng.IntN(2) == 0 {
			req.Filters = randomFilters(rng, s)
		}
		h := &memHistory{}
		switch rng.IntN(4) {
		case 0: // no history
		case 1: // random combinations, possibly close to each other, some not blocking
			for range rng.IntN(400) {
				state := []string{plan.StateUsed, plan.StateReserved, plan.StateReleased, plan.StateArchived}[rng.IntN(4)]
				h.add(state, time.Unix(int64(rng.IntN(1e6)), 0), randomCombination(rng, s))
			}
		default: // earlier plans of the same user
			for range 1 + rng.IntN(4) {
				prev, err := newPlanner(t, h).Smart(context.Background(), s, plan.SmartRequest{Groups: 12, Seed: rng.Int64N(1000)})
				require.NoError(t, err)
				h.record(prev)
			}
		}
		p := newPlanner(t, h)
		got, err := p.Smart(context.Background(), s, req)
		if err != nil {
			d, isDiag := plan.DiagnosisOf(err)
			require.True(t, isDiag, "case %d: %+v: %v", i, req, err)
			require.Equal(t, fault.Unprocessable, fault.KindOf(err))
			require.NotEmpty(t, d.Binding)
			require.True(t, req.Filters.Provinces != nil || req.Filters.Months != nil || req.Filters.Roads != nil || req.Filters.ElementCategories != nil,
				"case %d: unfiltered request failed: %v", i, err)
			// The structural bindings are checked independently.
			provinces, counties := 0, 0
			for _, pr := range s.Provinces() {
				if len(req.Filters.Provinces) > 0 && !slices.Contains(req.Filters.Provinces, pr.Code) && !slices.Contains(req.Filters.Provinces, pr.Code[:2]) {
					continue
				}
				rs, _ := s.ByProvince(pr.Code)
				if len(rs) > 0 {
					provinces++
					counties += len(rs)
				}
			}
			switch d.Binding {
			case plan.BindingSameProvince:
				require.Less(t, provinces, req.Groups, "case %d", i)
			case plan.BindingCounties:
				require.Less(t, counties, req.Groups, "case %d", i)
			default:
				t.Logf("case %d: %+v: %s", i, req, fault.As(err).Detail)
			}
			infeasible++
			continue
		}
		ok++
		require.Empty(t, checker{s: s}.violations(got, req, h.blocking()), "case %d: %+v", i, req)
	}
	t.Logf("%d plans checked, %d infeasible requests", ok, infeasible)
	require.Greater(t, ok, cases/2)
}

// TestNeverFailsUnfiltered is acceptance 1, second half: without filters,
// with N ≤ 12 and up to 1,000 recorded groups, planning never fails. Each
// run records its plans until the history holds ≥ 1,000 groups.
func TestNeverFailsUnfiltered(t *testing.T) {
	t.Parallel()
	s := real(t)
	for run := range 2 {
		t.Run(fmt.Sprint(run), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(run), 77))
			h := &memHistory{}
			for len(h.entries) < 1000 {
				req := plan.SmartRequest{UserID: "u", Groups: 6 + rng.IntN(7), Seed: rng.Int64N(plan.MaxSeed), AllowSameProvince: rng.IntN(4) == 0}
				got, err := newPlanner(t, h).Smart(context.Background(), s, req)
				require.NoError(t, err, "after %d recorded groups", len(h.entries))
				require.Empty(t, checker{s: s}.violations(got, req, h.blocking()))
				h.record(got)
			}
			// And the largest request still succeeds after 1,000 groups.
			got, err := newPlanner(t, h).Smart(context.Background(), s, plan.SmartRequest{Groups: 12, Seed: 1})
			require.NoError(t, err)
			require.Empty(t, checker{s: s}.violations(got, plan.SmartRequest{Groups: 12}, h.blocking()))
		})
	}
}

// TestSpread is acceptance 2: over 100 seeds with N = 12, every plan spans
// ≥ 10 provinces and ≥ 3 seasons (from the season table) and uses no month
// more than 3 times.
func TestSpread(t *testing.T) {
	t.Parallel()
	s := real(t)
	p := newPlanner(t, nil)
	minProv, minSeasons, maxMonth := 99, 99, 0
	for seed := range int64(100) {
		got, err := p.Smart(context.Background(), s, plan.SmartRequest{Groups: 12, Seed: seed})
		require.NoError(t, err)
		provinces, seasons, months := map[string]bool{}, map[string]bool{}, map[int]int{}
		for _, g := range got.Groups {
			c := g.Combination
			provinces[c.ProvinceCode] = true
			r, err := s.Region(c.CountyCode)
			require.NoError(t, err)
			se, err := s.Season(r.Zone, c.Month)
			require.NoError(t, err)
			seasons[se.Season] = true
			months[c.Month]++
		}
		top := 0
		for _, n := range months {
			top = max(top, n)
		}
		require.GreaterOrEqual(t, len(provinces), 10, "seed %d", seed)
		require.GreaterOrEqual(t, len(seasons), 3, "seed %d", seed)
		require.LessOrEqual(t, top, 3, "seed %d", seed)
		minProv, minSeasons, maxMonth = min(minProv, len(provinces)), min(minSeasons, len(seasons)), max(maxMonth, top)
	}
	t.Logf("worst of 100 seeds: %d provinces, %d seasons, a month used %d times", minProv, minSeasons, maxMonth)
}

// TestSeedsRecordedInTurn is acceptance 3: plans for seeds 1–5, each
// recorded before the next, never repeat an earlier group nor come within
// one dimension of it (fields compared directly).
func TestSeedsRecordedInTurn(t *testing.T) {
	t.Parallel()
	s := real(t)
	h := &memHistory{}
	var earlier []plan.Combination
	for seed := int64(1); seed <= 5; seed++ {
		got, err := newPlanner(t, h).Smart(context.Background(), s, plan.SmartRequest{UserID: "u", Groups: 12, Seed: seed})
		require.NoError(t, err)
		for _, g := range got.Groups {
			for _, e := range earlier {
				require.GreaterOrEqual(t, fieldsDiffer(g.Combination, e), 2, "seed %d: %s vs %s", seed, keyString(g.Combination), keyString(e))
			}
		}
		require.Empty(t, checker{s: s}.violations(got, plan.SmartRequest{Groups: 12}, earlier))
		h.record(got)
		earlier = append(earlier, got.Combinations()...)
	}
	require.Len(t, earlier, 60)
	keys := map[string]bool{}
	for _, c := range earlier {
		keys[keyString(c)] = true
	}
	require.Len(t, keys, 60)
}

// TestHistoryLookupsAreBatched: a smart plan asks history in a few calls,
// however many candidates it considers.
func TestHistoryLookupsAreBatched(t *testing.T) {
	t.Parallel()
	s := real(t)
	h := &memHistory{}
	got, err := newPlanner(t, h).Smart(context.Background(), s, plan.SmartRequest{Groups: 12, Seed: 5})
	require.NoError(t, err)
	require.Equal(t, got.Search.HistoryQueries, h.calls)
	require.LessOrEqual(t, h.calls, 4)
	require.True(t, slices.ContainsFunc(got.Groups, func(g plan.Group) bool { return g.MinDistance != nil }))
}
