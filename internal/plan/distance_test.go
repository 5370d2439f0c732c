package plan_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/config"
	"github.com/ludeng/ludeng/internal/plan"
)

func TestDistance(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	p := newPlanner(t, nil)
	// 信都区 (warm_temperate): July and August are summer, September autumn.
	base := plan.Combination{CountyCode: "130503", Month: 7, Road: "dirt", Elements: []string{"tricycle", "village_dog"}}
	with := func(edit func(c *plan.Combination)) plan.Combination {
		c := base
		c.Elements = append([]string(nil), base.Elements...)
		edit(&c)
		return c
	}
	cases := []struct {
		name string
		b    plan.Combination
		want plan.Distance
	}{
		{"identical", base, plan.Distance{}},
		{"same province, other county", with(func(c *plan.Combination) { c.CountyCode = "130133" }),
			plan.Distance{Region: 0.6, Total: 0.21, DimsDiffer: 1}},
		{"other province", with(func(c *plan.Combination) { c.CountyCode = "650402" }),
			plan.Distance{Region: 1, Total: 0.35, DimsDiffer: 1}},
		{"next month, same season", with(func(c *plan.Combination) { c.Month = 8 }),
			plan.Distance{Month: 1.0 / 12, Total: 0.025, DimsDiffer: 1}},
		{"previous month, same season", with(func(c *plan.Combination) { c.Month = 6 }),
			plan.Distance{Month: 1.0 / 12, Total: 0.025, DimsDiffer: 1}},
		{"two months back, into spring", with(func(c *plan.Combination) { c.Month = 5 }),
			plan.Distance{Month: 2.0/12 + 0.5, Total: 0.2, DimsDiffer: 1}},
		{"crossing into autumn", with(func(c *plan.Combination) { c.Month = 9 }),
			plan.Distance{Month: 2.0/12 + 0.5, Total: 0.2, DimsDiffer: 1}},
		{"opposite month, other season", with(func(c *plan.Combination) { c.Month = 1 }),
			plan.Distance{Month: 1, Total: 0.3, DimsDiffer: 1}},
		{"circular: December to January", with(func(c *plan.Combination) { c.Month = 12 }),
			plan.Distance{Month: 5.0/12 + 0.5, Total: 0.3 * (5.0/12 + 0.5), DimsDiffer: 1}},
		{"road", with(func(c *plan.Combination) { c.Road = "asphalt" }),
			plan.Distance{Road: 1, Total: 0.15, DimsDiffer: 1}},
		{"elements share one of three", with(func(c *plan.Combination) { c.Elements = []string{"tricycle", "cooking_smoke"} }),
			plan.Distance{Elements: 2.0 / 3, Total: 0.2 * 2 / 3, DimsDiffer: 1}},
		{"elements disjoint", with(func(c *plan.Combination) { c.Elements = []string{"market_day"} }),
			plan.Distance{Elements: 1, Total: 0.2, DimsDiffer: 1}},
		{"documented: other province + other road", with(func(c *plan.Combination) { c.CountyCode = "650402"; c.Road = "cement" }),
			plan.Distance{Region: 1, Road: 1, Total: 0.5, DimsDiffer: 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := p.Distance(s, base, tc.b)
			require.InDelta(t, tc.want.Region, got.Region, 1e-9)
			require.InDelta(t, tc.want.Month, got.Month, 1e-9)
			require.InDelta(t, tc.want.Road, got.Road, 1e-9)
			require.InDelta(t, tc.want.Elements, got.Elements, 1e-9)
			require.InDelta(t, tc.want.Total, got.Total, 1e-9)
			require.Equal(t, tc.want.DimsDiffer, got.DimsDiffer)
			// Symmetric.
			require.Equal(t, got, p.Distance(s, tc.b, base))
		})
	}
	// The month part uses each county's own season table: 徐闻县
	// (tropical, still summer in September) two months after
	// 信都区's July is the same season, so only 2/12 of the month weight.
	got := p.Distance(s, base, with(func(c *plan.Combination) { c.CountyCode = "440825"; c.Month = 9 }))
	require.InDelta(t, 2.0/12, got.Month, 1e-9)
	require.InDelta(t, 0.35+0.3*2/12, got.Total, 1e-9)
}

func TestConfig(t *testing.T) {
	t.Parallel()
	d := plan.Config{}.WithDefaults()
	require.Equal(t, plan.DefaultWeights, d.Weights)
	require.InDelta(t, 1.0, d.Weights.Region+d.Weights.Month+d.Weights.Road+d.Weights.Elements, 1e-12)
	require.Equal(t, plan.DefaultThreshold, d.Threshold)
	require.Equal(t, plan.DefaultSameProvince, d.SameProvince)
	require.Equal(t, plan.Config{}.Hash(), d.Hash())
	require.NotEqual(t, d.Hash(), plan.Config{Threshold: 0.5}.Hash())

	bad := []plan.Config{
		{Threshold: 1.5},
		{Threshold: -0.1},
		{SameProvince: 1},
		{Weights: plan.Weights{Region: -1, Month: 1}},
		{ElementsPerGroup: 4},
		{Sample: 10},
		{Restarts: 100},
		{MaxElements: 9},
	}
	for _, c := range bad {
		_, err := plan.New(c, nil)
		require.Error(t, err, "%+v", c)
	}

	env := func(vars map[string]string) (plan.Config, error) {
		e := config.NewEnv(func(k string) string { return vars[k] })
		c := plan.ConfigFromEnv(e)
		return c, e.Err()
	}
	c, err := env(map[string]string{"LUDENG_PLAN_WEIGHTS": "0.4,0.3,0.1,0.2", "LUDENG_PLAN_THRESHOLD": "0.5", "LUDENG_PLAN_ELEMENTS_PER_GROUP": "1"})
	require.NoError(t, err)
	require.Equal(t, plan.Weights{Region: 0.4, Month: 0.3, Road: 0.1, Elements: 0.2}, c.Weights)
	require.Equal(t, 0.5, c.Threshold)
	require.Equal(t, 1, c.ElementsPerGroup)
	for name, value := range map[string]string{
		"LUDENG_PLAN_WEIGHTS":                "heavy",
		"LUDENG_PLAN_THRESHOLD":              "2",
		"LUDENG_PLAN_SAME_PROVINCE_DISTANCE": "1.5",
		"LUDENG_PLAN_ELEMENTS_PER_GROUP":     "9",
	} {
		_, err := env(map[string]string{name: value})
		require.Error(t, err, name)
		require.True(t, strings.Contains(err.Error(), "LUDENG_PLAN_"), err.Error())
	}
}
