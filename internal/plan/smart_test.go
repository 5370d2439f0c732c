package plan_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/plan"
)

func TestSmartFixture(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	cases := []struct {
		name string
		req  plan.SmartRequest
	}{
		{"one group", plan.SmartRequest{Groups: 1, Seed: 1}},
		{"one per province", plan.SmartRequest{Groups: 6, Seed: 2}},
		{"same province allowed", plan.SmartRequest{Groups: 9, Seed: 3, AllowSameProvince: true}},
		{"province filter, 2-digit code", plan.SmartRequest{Groups: 3, Seed: 4, AllowSameProvince: true, Filters: plan.Filters{Provinces: []string{"13"}}}},
		{"months and roads", plan.SmartRequest{Groups: 4, Seed: 5, Filters: plan.Filters{Months: []int{1, 7}, Roads: []string{"dirt", "asphalt"}}}},
		{"element categories", plan.SmartRequest{Groups: 5, Seed: 6, Filters: plan.Filters{ElementCategories: []string{"animals", "people"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPlanner(t, nil)
			got, err := p.Smart(context.Background(), s, tc.req)
			require.NoError(t, err)
			require.Empty(t, checker{s: s}.violations(got, tc.req, nil))
			require.Equal(t, "smart", got.Mode)
			require.Equal(t, tc.req.Seed, got.Seed)
			require.Equal(t, s.Version(), got.PoolVersion)
			require.Equal(t, plan.Config{}.Hash(), got.ConfigHash)
			require.NoError(t, p.Verify(context.Background(), s, "", got.Combinations(), tc.req.AllowSameProvince))
		})
	}
}

// TestSmartReproducible: the same seed, history, pool and configuration give
// byte-identical plans, also from a fresh planner; another seed gives
// another plan; another configuration another config hash.
func TestSmartReproducible(t *testing.T) {
	t.Parallel()
	s := real(t)
	ctx := context.Background()
	h := &memHistory{}
	first, err := newPlanner(t, h).Smart(ctx, s, plan.SmartRequest{Groups: 12, Seed: 99})
	require.NoError(t, err)
	h.record(first)

	req := plan.SmartRequest{Groups: 12, Seed: 42, AllowSameProvince: true, Filters: plan.Filters{Months: []int{3, 4, 5, 6, 7, 8, 9}}}
	a, err := newPlanner(t, h).Smart(ctx, s, req)
	require.NoError(t, err)
	b, err := newPlanner(t, h).Smart(ctx, s, req)
	require.NoError(t, err)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	require.JSONEq(t, string(ja), string(jb))
	require.Equal(t, string(ja), string(jb))

	req.Seed = 43
	c, err := newPlanner(t, h).Smart(ctx, s, req)
	require.NoError(t, err)
	require.NotEqual(t, a.Combinations(), c.Combinations())

	p2, err := plan.New(plan.Config{Threshold: 0.45}, h)
	require.NoError(t, err)
	req.Seed = 42
	d, err := p2.Smart(ctx, s, req)
	require.NoError(t, err)
	require.NotEqual(t, a.ConfigHash, d.ConfigHash)
}

func TestSmartBadRequests(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	p := newPlanner(t, nil)
	cases := []struct {
		name string
		req  plan.SmartRequest
		want *fault.Error
	}{
		{"zero groups", plan.SmartRequest{Groups: 0}, plan.ErrBadGroups},
		{"13 groups", plan.SmartRequest{Groups: 13}, plan.ErrBadGroups},
		{"negative seed", plan.SmartRequest{Groups: 1, Seed: -1}, plan.ErrBadSeed},
		{"seed 2^53", plan.SmartRequest{Groups: 1, Seed: 1 << 53}, plan.ErrBadSeed},
		{"unknown province", plan.SmartRequest{Groups: 1, Filters: plan.Filters{Provinces: []string{"990000"}}}, plan.ErrBadFilter},
		{"month 13", plan.SmartRequest{Groups: 1, Filters: plan.Filters{Months: []int{13}}}, plan.ErrBadFilter},
		{"unknown road", plan.SmartRequest{Groups: 1, Filters: plan.Filters{Roads: []string{"gravel"}}}, plan.ErrBadFilter},
		{"unknown category", plan.SmartRequest{Groups: 1, Filters: plan.Filters{ElementCategories: []string{"robots"}}}, plan.ErrBadFilter},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := p.Smart(context.Background(), s, tc.req)
			require.ErrorIs(t, err, tc.want)
			require.Equal(t, fault.Invalid, fault.KindOf(err))
		})
	}
}

// TestSmartInfeasible: each binding constraint is named, with counts and
// suggestions.
func TestSmartInfeasible(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	// History that blocks every scene of Heilongjiang (230000): one used
	// combination per county × month × road.
	heilongjiang := &memHistory{}
	for _, county := range []string{"232701", "232722"} {
		for m := 1; m <= 12; m++ {
			for _, road := range []string{"dirt", "cement", "asphalt", "flagstone"} {
				heilongjiang.add(plan.StateUsed, time.Unix(0, 0), plan.Combination{CountyCode: county, Month: m, Road: road, Elements: []string{"village_dog"}})
			}
		}
	}
	cases := []struct {
		name        string
		cfg         plan.Config
		hist        plan.History
		req         plan.SmartRequest
		binding     string
		suggestions []string
		check       func(t *testing.T, d *plan.Diagnosis)
	}{
		{
			name: "more groups than provinces", req: plan.SmartRequest{Groups: 7, Seed: 1},
			binding: plan.BindingSameProvince, suggestions: []string{plan.SuggestAllowSameProvince},
		},
		{
			name: "more groups than counties", req: plan.SmartRequest{Groups: 5, Seed: 1, AllowSameProvince: true, Filters: plan.Filters{Provinces: []string{"130000"}}},
			binding: plan.BindingCounties, suggestions: []string{plan.SuggestWidenFilters},
			check: func(t *testing.T, d *plan.Diagnosis) {
				require.Equal(t, 4, d.Found)
				require.Equal(t, d.Search.ScenesTotal-4*12*4, d.Removed.Filters)
			},
		},
		{
			name: "no element fits", req: plan.SmartRequest{Groups: 1, Seed: 1, Filters: plan.Filters{ElementCategories: []string{"festival"}, Months: []int{7}}},
			binding: plan.BindingPlausibility, suggestions: []string{plan.SuggestWidenFilters},
			check: func(t *testing.T, d *plan.Diagnosis) {
				require.Zero(t, d.Found)
				require.Equal(t, d.Search.ScenesFiltered, d.Removed.Plausibility)
			},
		},
		{
			name: "history blocks a province", hist: heilongjiang, req: plan.SmartRequest{Groups: 6, Seed: 1},
			binding: plan.BindingHistory, suggestions: []string{plan.SuggestArchiveHistory},
			check: func(t *testing.T, d *plan.Diagnosis) {
				require.Equal(t, 2*12*4, d.Removed.HistoryIdentical+d.Removed.HistoryOneDimension)
				require.Contains(t, d.Suggestions, plan.SuggestAllowSameProvince)
			},
		},
		{
			name: "threshold", cfg: plan.Config{Threshold: 1}, req: plan.SmartRequest{Groups: 3, Seed: 1},
			binding: plan.BindingThreshold,
			check: func(t *testing.T, d *plan.Diagnosis) {
				require.Positive(t, d.Removed.Threshold)
				require.Contains(t, d.Suggestions, plan.SuggestFewerGroups)
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := plan.New(tc.cfg, tc.hist)
			require.NoError(t, err)
			_, err = p.Smart(context.Background(), s, tc.req)
			require.ErrorIs(t, err, plan.ErrInfeasible)
			fe := fault.As(err)
			require.Equal(t, fault.Unprocessable, fe.Kind)
			require.Equal(t, "plan_infeasible", fe.Code)
			d, ok := plan.DiagnosisOf(err)
			require.True(t, ok)
			var viaAs *plan.Diagnosis
			require.True(t, errors.As(err, &viaAs))
			require.Equal(t, tc.binding, d.Binding, fe.Detail)
			require.Equal(t, tc.binding, fe.Params["binding"])
			require.Equal(t, tc.req.Groups, d.Requested)
			require.Less(t, d.Found, d.Requested)
			if len(tc.suggestions) > 0 {
				require.Equal(t, tc.suggestions, d.Suggestions[:len(tc.suggestions)], fe.Detail)
			}
			require.Contains(t, fe.Detail, "Cannot plan "+plural(tc.req.Groups))
			// The params survive a JSON round trip (problem+json).
			_, err = json.Marshal(fe.Params)
			require.NoError(t, err)
			if tc.check != nil {
				tc.check(t, d)
			}
		})
	}
}

func plural(n int) string {
	if n == 1 {
		return "1 group "
	}
	return fmt.Sprintf("%d groups ", n)
}

func TestSmartCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newPlanner(t, nil).Smart(ctx, fixture(t), plan.SmartRequest{Groups: 2})
	require.ErrorIs(t, err, context.Canceled)
}

func TestVerifyBatchRules(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	p := newPlanner(t, nil)
	a := plan.Combination{CountyCode: "130503", Month: 7, Road: "dirt", Elements: []string{"tricycle"}}
	cases := []struct {
		name  string
		b     plan.Combination
		allow bool
		rule  string
	}{
		{"same county", plan.Combination{CountyCode: "130503", Month: 1, Road: "asphalt", Elements: []string{"village_dog"}}, true, "same_county"},
		{"same province", plan.Combination{CountyCode: "130133", Month: 1, Road: "asphalt", Elements: []string{"village_dog"}}, false, "same_province"},
		{"one dimension", plan.Combination{CountyCode: "650402", Month: 7, Road: "dirt", Elements: []string{"tricycle"}}, false, "min_dimensions"},
		{"too close", plan.Combination{CountyCode: "650402", Month: 8, Road: "dirt", Elements: []string{"tricycle"}}, false, "threshold"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := p.Verify(context.Background(), s, "", []plan.Combination{a, tc.b}, tc.allow)
			require.ErrorIs(t, err, plan.ErrBatchRule)
			require.Equal(t, tc.rule, fault.As(err).Params["rule"])
		})
	}
	ok := plan.Combination{CountyCode: "650402", Month: 1, Road: "asphalt", Elements: []string{"camels"}}
	require.NoError(t, p.Verify(context.Background(), s, "", []plan.Combination{a, ok}, false))
}
