package plan_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/pool"
)

// TestManualXingtai is acceptance 4: 邢台县 (by old code or name, now 信都区),
// July, dirt road, tricycle gives one group of 4 whose prompts (v2, issue
// #12) name the place in English without placeholders, one landform cue, the
// month's state, the road, the tricycle and each variant's time and weather.
func TestManualXingtai(t *testing.T) {
	t.Parallel()
	s := real(t)
	for _, county := range []string{"130521", "邢台县", "河北 邢台县", "130503"} {
		t.Run(county, func(t *testing.T) {
			t.Parallel()
			got, err := newPlanner(t, nil).Manual(context.Background(), s, plan.ManualRequest{
				UserID: "u", County: county, Month: 7, Road: "dirt", Elements: []string{"tricycle"},
			})
			require.NoError(t, err)
			require.Equal(t, "manual", got.Mode)
			require.Len(t, got.Groups, 1)
			g := got.Groups[0]
			require.Equal(t, plan.Combination{CountyCode: "130503", ProvinceCode: "130000", Month: 7, Road: "dirt", Elements: []string{"tricycle"}}, g.Combination)
			require.Equal(t, "v1|130503|07|dirt|tricycle", g.Combination.KeyString())
			require.Equal(t, g.Combination.Key(), g.Key)
			require.Empty(t, g.Distances)
			require.Nil(t, g.MinDistance)
			require.Equal(t, "信都区", g.Scene.County)

			r, err := s.Region("130503")
			require.NoError(t, err)
			road, err := s.Road("dirt")
			require.NoError(t, err)
			tricycle, err := s.Element("tricycle")
			require.NoError(t, err)
			se, err := s.Season(r.Zone, 7)
			require.NoError(t, err)

			require.Len(t, g.Variants, 4)
			wantIDs := []string{"sunny_morning", "sunny_evening", "overcast_noon", "rain_night"}
			for i, v := range g.Variants {
				require.Equal(t, wantIDs[i], v.ID)
				timeEN, timeZH := plan.TimeLabel(v.Time)
				weatherEN, weatherZH := plan.WeatherLabel(v.Weather)
				for _, want := range []string{road.EN, tricycle.EN, timeEN, weatherEN, "July", "solar street light", "reference photo", "logo",
					"Xindu, Xingtai, Hebei, China", se.PlantState.EN, "6 m pole", "3:4", "own light colour"} {
					require.Contains(t, v.PromptEN, want, v.ID)
				}
				for _, want := range []string{road.ZH, tricycle.ZH, "三轮车", "土路", timeZH, weatherZH, "7月", "太阳能路灯", "参考照片", "标志",
					"河北邢台市信都区", se.PlantState.ZH} {
					require.Contains(t, v.PromptZH, want, v.ID)
				}
				cue := slices.ContainsFunc(r.Terrain, func(t pool.Term) bool { return strings.Contains(v.PromptEN, t.EN) })
				require.True(t, cue, "one landform of the county is a place cue")
				require.NotContains(t, v.PromptEN, "Qu,")
			}
			require.Equal(t, "sunny", g.Variants[0].Weather)
			require.Equal(t, "morning", g.Variants[0].Time)
			require.Equal(t, "light_rain", g.Variants[3].Weather)
			require.Equal(t, "night", g.Variants[3].Time)
		})
	}
}

// TestPromptFollowsFixture: prompts are built from pool facts, so editing
// the county's crop (or the season table) in the fixture changes them.
func TestPromptFollowsFixture(t *testing.T) {
	t.Parallel()
	req := plan.ManualRequest{County: "邢台县", Month: 7, Road: "dirt", Elements: []string{"tricycle"}}
	base := fixturePool(t)
	orig, err := newPlanner(t, nil).Manual(context.Background(), snapshotOf(t, base), req)
	require.NoError(t, err)

	cases := []struct {
		name string
		edit func(p *pool.Pool)
		want []string
	}{
		{"landform renamed", func(p *pool.Pool) {
			for i := range p.Regions {
				if p.Regions[i].Code == "130503" {
					for j := range p.Regions[i].Terrain {
						p.Regions[i].Terrain[j] = pool.Term{ZH: "测试山地" + strconv.Itoa(j), EN: "test hills " + strconv.Itoa(j)}
					}
				}
			}
		}, []string{"test hills", "测试山地"}},
		{"season plant state", func(p *pool.Pool) {
			for i := range p.Seasons {
				if p.Seasons[i].Zone == "warm_temperate" && p.Seasons[i].Month == 7 {
					p.Seasons[i].PlantState = pool.Text{ZH: "测试植被状态", EN: "test plant state"}
				}
			}
		}, []string{"test plant state", "测试植被状态"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := base.Clone()
			tc.edit(p)
			got, err := newPlanner(t, nil).Manual(context.Background(), snapshotOf(t, p), req)
			require.NoError(t, err)
			for i, v := range got.Groups[0].Variants {
				o := orig.Groups[0].Variants[i]
				require.NotEqual(t, o.PromptEN, v.PromptEN)
				require.NotEqual(t, o.PromptZH, v.PromptZH)
				require.Contains(t, v.PromptEN, tc.want[0])
				require.Contains(t, v.PromptZH, tc.want[1])
			}
			require.NotEqual(t, orig.PoolVersion, got.PoolVersion)
		})
	}
}

func TestPromptsDeterministicAndWinterSet(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	p := newPlanner(t, nil)
	// 漠河 in January is snow-covered: the winter set replaces rain with snow.
	got, err := p.Manual(context.Background(), s, plan.ManualRequest{County: "232701", Month: 1, Road: "dirt", Elements: []string{"snowman", "village_dog"}})
	require.NoError(t, err)
	g := got.Groups[0]
	require.True(t, g.Scene.SnowCover)
	require.Equal(t, []string{"snowman", "village_dog"}, g.Combination.Elements)
	last := g.Variants[3]
	require.Equal(t, "snow_night", last.ID)
	require.Equal(t, plan.WeatherLightSnow, last.Weather)
	require.Contains(t, last.PromptEN, "light snow")
	require.Contains(t, last.PromptZH, "小雪")
	for _, v := range g.Variants {
		require.NotContains(t, v.PromptEN, "light rain")
		en, zh, err := p.Prompts(s, g.Combination, v.Spec())
		require.NoError(t, err)
		require.Equal(t, v.PromptEN, en)
		require.Equal(t, v.PromptZH, zh)
	}
	// Element order in the request does not matter.
	again, err := p.Manual(context.Background(), s, plan.ManualRequest{County: "漠河市", Month: 1, Road: "dirt", Elements: []string{"village_dog", "snowman"}})
	require.NoError(t, err)
	require.Equal(t, got, again)

	_, _, err = p.Prompts(s, g.Combination, plan.VariantSpec{ID: "x", Time: "dawn", Weather: "sunny"})
	require.Error(t, err)
}

func TestManualErrors(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	h := &memHistory{}
	h.add(plan.StateUsed, time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC),
		plan.Combination{CountyCode: "650402", Month: 1, Road: "asphalt", Elements: []string{"camels"}})
	h.add(plan.StateArchived, time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC),
		plan.Combination{CountyCode: "540222", Month: 8, Road: "dirt", Elements: []string{"yak_herd"}})
	ok := plan.ManualRequest{County: "130503", Month: 7, Road: "dirt", Elements: []string{"tricycle"}}
	cases := []struct {
		name   string
		edit   func(r *plan.ManualRequest)
		want   *fault.Error
		kind   fault.Kind
		detail []string
		check  func(t *testing.T, fe *fault.Error)
	}{
		{name: "unknown county", edit: func(r *plan.ManualRequest) { r.County = "火星县" }, want: plan.ErrUnknownCounty, kind: fault.Unprocessable, detail: []string{"火星县"}},
		{name: "unknown county with suggestions", edit: func(r *plan.ManualRequest) { r.County = "桥" }, want: plan.ErrUnknownCounty, kind: fault.Unprocessable,
			detail: []string{"Did you mean", "桥西区"},
			check: func(t *testing.T, fe *fault.Error) {
				require.NotEmpty(t, fe.Params["suggestions"])
			}},
		{name: "ambiguous name", edit: func(r *plan.ManualRequest) { r.County = "桥西区" }, want: plan.ErrAmbiguousCounty, kind: fault.Unprocessable,
			detail: []string{"130104", "130703", "石家庄市", "张家口市"},
			check: func(t *testing.T, fe *fault.Error) {
				cands := fe.Params["candidates"].([]plan.CountyCandidate)
				require.Len(t, cands, 2)
				require.Equal(t, "130104", cands[0].Code)
				require.Equal(t, "130703", cands[1].Code)
			}},
		{name: "month 13", edit: func(r *plan.ManualRequest) { r.Month = 13 }, want: plan.ErrBadMonth, kind: fault.Invalid},
		{name: "unknown road", edit: func(r *plan.ManualRequest) { r.Road = "gravel" }, want: plan.ErrUnknownRoad, kind: fault.Invalid},
		{name: "no elements", edit: func(r *plan.ManualRequest) { r.Elements = nil }, want: plan.ErrNoElements, kind: fault.Invalid},
		{name: "unknown element", edit: func(r *plan.ManualRequest) { r.Elements = []string{"tricycle", "unicorn"} }, want: plan.ErrUnknownElem, kind: fault.Invalid},
		{name: "too many elements", edit: func(r *plan.ManualRequest) {
			r.Elements = []string{"tricycle", "village_dog", "old_man_cane", "cooking_smoke", "market_day"}
		}, want: plan.ErrTooMany, kind: fault.Invalid},
		{name: "element on the wrong road", edit: func(r *plan.ManualRequest) { r.Road = "flagstone" }, want: plan.ErrElementUnfit, kind: fault.Unprocessable,
			detail: []string{"tricycle fits only on dirt, cement, asphalt roads, not on flagstone"}},
		{name: "element in the wrong zone and month", edit: func(r *plan.ManualRequest) { r.Elements = []string{"snowman", "tricycle"} }, want: plan.ErrElementUnfit, kind: fault.Unprocessable,
			detail: []string{"snowman fits only the cold_temperate", "信都区 is warm_temperate", "not in July"},
			check: func(t *testing.T, fe *fault.Error) {
				unfit := fe.Params["unfit"].([]plan.UnfitElement)
				require.Len(t, unfit, 1)
				require.Equal(t, "snowman", unfit[0].Element)
				var rules []string
				for _, r := range unfit[0].Reasons {
					rules = append(rules, r.Rule)
				}
				require.Equal(t, []string{"zone", "month"}, rules)
			}},
		{name: "element on snow", edit: func(r *plan.ManualRequest) {
			r.County, r.Month, r.Elements = "漠河市", 1, []string{"women_chatting"}
		}, want: plan.ErrElementUnfit, kind: fault.Unprocessable, detail: []string{"does not fit snow-covered ground", "snow lies in 漠河市 in January"}},
		{name: "repeat of history", edit: func(r *plan.ManualRequest) {
			r.County, r.Month, r.Road, r.Elements = "650402", 1, "asphalt", []string{"camels"}
		}, want: plan.ErrRepeatsHistory, kind: fault.Unprocessable, detail: []string{"already generated on 2026-05-01"}},
		{name: "one dimension from history", edit: func(r *plan.ManualRequest) {
			r.County, r.Month, r.Road, r.Elements = "650402", 2, "asphalt", []string{"camels"}
		}, want: plan.ErrNearHistory, kind: fault.Unprocessable, detail: []string{"only in its month", "earlier: January"},
			check: func(t *testing.T, fe *fault.Error) {
				require.Equal(t, "month", fe.Params["dimension"])
			}},
	}
	p := newPlanner(t, h)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := ok
			tc.edit(&req)
			_, err := p.Manual(context.Background(), s, req)
			require.ErrorIs(t, err, tc.want)
			fe := fault.As(err)
			require.Equal(t, tc.kind, fe.Kind)
			for _, d := range tc.detail {
				require.Contains(t, fe.Detail, d)
			}
			if tc.check != nil {
				tc.check(t, fe)
			}
		})
	}
	// Archived history does not block; the valid request plans.
	_, err := p.Manual(context.Background(), s, plan.ManualRequest{County: "540222", Month: 8, Road: "dirt", Elements: []string{"yak_herd"}})
	require.NoError(t, err)
	_, err = p.Manual(context.Background(), s, ok)
	require.NoError(t, err)
}

func TestNudge(t *testing.T) {
	t.Parallel()
	rain := plan.VariantSpecs(false)[3]
	cases := []struct {
		name string
		v    plan.VariantSpec
		n    int
		snow bool
		want plan.VariantSpec
	}{
		{"time", rain, 1, false, plan.VariantSpec{ID: "rain_night~1", Time: plan.TimeMorning, Weather: plan.WeatherLightRain}},
		{"weather skips snow", rain, 2, false, plan.VariantSpec{ID: "rain_night~2", Time: plan.TimeNight, Weather: plan.WeatherSunny}},
		{"both", plan.VariantSpecs(false)[0], 3, false, plan.VariantSpec{ID: "sunny_morning~3", Time: plan.TimeNoon, Weather: plan.WeatherOvercast}},
		{"snowy season never rains", plan.VariantSpecs(true)[2], 2, true, plan.VariantSpec{ID: "overcast_noon~2", Time: plan.TimeNoon, Weather: plan.WeatherLightSnow}},
		{"renudge keeps the base id", plan.VariantSpec{ID: "sunny_evening~1", Time: plan.TimeNight, Weather: plan.WeatherSunny}, 2, false,
			plan.VariantSpec{ID: "sunny_evening~2", Time: plan.TimeNight, Weather: plan.WeatherOvercast}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := plan.Nudge(tc.v, tc.n, tc.snow)
			require.Equal(t, tc.want, got)
			require.True(t, plan.ValidVariant(got))
		})
	}
}
