package plan_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/plan"
)

// combo is one hand-written element × place × month case; rule is the fit
// rule the refusal must name ("road_place" for an implausible road surface).
type combo struct {
	county string
	month  int
	road   string
	elem   string
	rule   string
	why    string
}

// implausible are scenes a local would not recognise (issue #12): each must
// be refused by Manual and by CheckManual (what presets run) with the rule.
var implausible = []combo{
	{"220582", 12, "dirt", "camels", "tag", "camels in 集安, Jilin"},
	{"140925", 6, "cement", "camels", "tag", "camels in 宁武, Shanxi"},
	{"220621", 7, "cement", "naadam", "tag", "a naadam in 抚松, Jilin"},
	{"140922", 1, "dirt", "horse_sleigh", "no_snow", "a horse sleigh in 五台 without lying snow"},
	{"310120", 4, "cement", "tea_picking", "tag", "tea picking in 奉贤, Shanghai"},
	{"640521", 9, "cement", "cotton_picker", "tag", "a cotton picker in 中宁"},
	{"540402", 12, "cement", "peach_blossom", "month", "peach blossom in 巴宜 in December"},
	{"232701", 7, "flagstone", "tricycle", "road_place", "flagstone in 漠河"},
	{"632801", 5, "flagstone", "tricycle", "road_place", "flagstone in 格尔木"},
	{"650402", 1, "cement", "snowman", "no_snow", "a snowman in Turpan"},
	{"653125", 1, "cement", "sledging", "no_snow", "sledging in 莎车"},
	{"150725", 7, "cement", "tea_picking", "tag", "tea picking on the Hulunbuir steppe"},
	{"110115", 5, "dirt", "tricycle", "road_place", "a dirt road in suburban Daxing"},
	{"532823", 1, "cement", "ice_fishing", "zone", "ice fishing in Xishuangbanna"},
	{"230184", 1, "cement", "water_buffalo", "zone", "water buffalo in Heilongjiang"},
	{"540223", 8, "cement", "rubber_tapping", "tag", "rubber tapping in Tingri"},
	{"620982", 4, "cement", "water_splashing", "tag", "the Dai festival in Dunhuang"},
	{"130632", 7, "cement", "yak_herd", "tag", "yaks in Baiyangdian"},
	{"320506", 7, "cement", "prayer_flags", "tag", "prayer flags in Suzhou"},
	{"441403", 1, "cement", "frozen_goods_stall", "no_snow", "frozen-goods stall in Meizhou"},
	{"469002", 12, "cement", "snow_shovelling", "no_snow", "snow shovelling in Hainan"},
	{"410225", 1, "cement", "ice_sliding", "temp", "ice sledges in 兰考 where January is above freezing"},
	{"232701", 1, "cement", "women_chatting", "snow", "women chatting outdoors on the snow of 漠河"},
	{"150785", 1, "cement", "farmer_hoe", "month", "hoeing in 根河 in January"},
	{"430621", 7, "cement", "cotton_picker", "zone", "a cotton picker in Hunan"},
	{"310151", 10, "cement", "combine_maize", "tag", "maize harvest on Chongming"},
	{"632701", 12, "cement", "combine_rice", "month", "rice harvest in Yushu in December"},
	{"540222", 1, "cement", "kite_flying", "month", "kites in Gyantse in January"},
	{"650402", 7, "cement", "lotus_root_digging", "tag", "lotus roots in Turpan"},
	{"220721", 7, "cement", "coconut_palms", "tag", "coconut palms in Jilin"},
	{"152921", 5, "cement", "terraced_paddies", "tag", "rice terraces in Alxa"},
	{"621202", 6, "cement", "desert_dunes", "tag", "dunes in Longnan"},
	{"341021", 10, "cement", "desert_poplars", "tag", "desert poplars in Huangshan"},
	{"511381", 2, "cement", "golden_larch", "month", "golden larch in Sichuan in February"},
	{"513232", 7, "cement", "sugarcane_harvest", "tag", "sugarcane on the Zoige grassland"},
	{"361130", 8, "cement", "rapeseed_bloom", "month", "rapeseed bloom in Wuyuan in August"},
	{"654027", 1, "cement", "cattle_grazing", "snow", "cattle grazing in Tekes under snow"},
	{"130828", 7, "cement", "horse_sleigh", "no_snow", "a horse sleigh in Weichang in July"},
	{"222405", 1, "cement", "horse_sleigh", "no_snow", "a horse sleigh in Longjing, where snow does not lie"},
	{"450328", 3, "cement", "yak_plough", "tag", "yaks ploughing in Longsheng"},
	{"330225", 9, "cement", "grape_harvest", "tag", "grape harvest in Xiangshan"},
	{"620723", 10, "cement", "cotton_hand_picking", "tag", "cotton in Linze, a seed-maize county"},
	{"653221", 9, "cement", "cotton_picker", "tag", "a cotton picker in Hotan county"},
	{"640502", 1, "cement", "combine_rice", "month", "rice harvest in Zhongwei in January"},
	{"140728", 9, "cement", "cotton_hand_picking", "tag", "cotton in Pingyao"},
	{"230883", 7, "cement", "tea_picking", "tag", "tea in Fuyuan, Heilongjiang"},
	{"469005", 7, "cement", "horses_grazing", "tag", "horses grazing in Wenchang"},
	{"500152", 5, "cement", "yak_dung_wall", "tag", "yak dung in Tongnan"},
	{"610827", 5, "cement", "water_splashing", "tag", "the Dai festival in Mizhi"},
	{"350524", 2, "cement", "snowy_peaks", "zone", "glaciers above Anxi"},
	{"420527", 4, "cement", "naadam", "tag", "a naadam in Zigui"},
	{"532901", 7, "cement", "camels", "tag", "camels in Dali"},
	{"110117", 4, "dirt", "peach_blossom", "road_place", "a dirt road in suburban Pinggu"},
	{"371082", 6, "cement", "tibetan_herder", "tag", "a Tibetan herder in Rongcheng"},
	{"141124", 7, "cement", "lychee_picking", "tag", "lychees in Shanxi"},
	{"440783", 1, "cement", "apple_picking", "tag", "apples in Kaiping"},
	{"654321", 1, "cement", "kite_flying", "snow", "kites in snowbound Burqin"},
	{"540502", 7, "cement", "horse_sleigh", "no_snow", "a horse sleigh in Nedong in July"},
	{"513401", 1, "cement", "sledging", "no_snow", "sledging in Xichang"},
	{"231182", 12, "cement", "swallows", "month", "swallows in Wudalianchi in December"},
	{"330483", 1, "cement", "beehives_summer", "month", "summer beehives in Tongxiang in January"},
	{"653125", 7, "cement", "desert_poplars", "month", "golden desert poplars in July"},
}

// plausible are scenes that must be accepted.
var plausible = []combo{
	{"152921", 5, "cement", "camels", "", "camels in Alxa"},
	{"650402", 9, "cement", "grape_harvest", "", "grape harvest in Turpan"},
	{"653125", 10, "cement", "cotton_picker", "", "cotton picker in Yarkand"},
	{"220721", 7, "cement", "naadam", "", "naadam in Qian Gorlos"},
	{"232701", 1, "dirt", "horse_sleigh", "", "horse sleigh in Mohe"},
	{"220721", 1, "cement", "ice_fishing", "", "winter fishing on Chagan Lake"},
	{"350524", 4, "cement", "tea_picking", "", "tea picking in Anxi"},
	{"540222", 8, "cement", "barley_harvest", "", "barley harvest in Gyantse"},
	{"632701", 7, "cement", "yak_herd", "", "yaks in Yushu"},
	{"532823", 4, "cement", "water_splashing", "", "Water-Splashing Festival in Mengla"},
	{"469001", 6, "cement", "rubber_tapping", "", "rubber tapping in Wuzhishan"},
	{"469005", 5, "cement", "coconut_palms", "", "coconut palms in Wenchang"},
	{"140728", 3, "flagstone", "old_man_cane", "", "an old lane in Pingyao"},
	{"341021", 4, "flagstone", "tea_picking", "", "tea in Shexian"},
	{"110118", 10, "cement", "combine_maize", "", "maize harvest in Miyun"},
	{"130133", 4, "cement", "pear_blossom", "", "pear blossom in Zhaoxian"},
	{"110117", 4, "cement", "peach_blossom", "", "peach blossom in Pinggu"},
	{"540402", 4, "cement", "peach_blossom", "", "wild peach blossom in Nyingchi"},
	{"321281", 3, "cement", "rapeseed_bloom", "", "rapeseed in Xinghua"},
	{"632221", 7, "cement", "rapeseed_bloom_north", "", "rapeseed in Menyuan"},
	{"230184", 5, "cement", "rice_transplanting", "", "rice transplanting in Wuchang"},
	{"440783", 3, "cement", "early_rice_transplanting", "", "early rice in Kaiping"},
	{"421083", 11, "cement", "lotus_root_digging", "", "lotus roots in Honghu"},
	{"150785", 9, "cement", "golden_larch", "", "golden larch in Genhe"},
	{"653221", 10, "cement", "desert_poplars", "", "desert poplars near Hotan"},
	{"620982", 7, "cement", "desert_dunes", "", "dunes at Dunhuang"},
	{"532528", 1, "cement", "terraced_paddies", "", "Yuanyang terraces in January"},
	{"411282", 10, "cement", "apple_picking", "", "apples in Lingbao"},
	{"141124", 9, "cement", "jujube_knocking", "", "jujubes in Linxian"},
	{"110111", 10, "cement", "persimmon_drying", "", "persimmons in Fangshan"},
	{"500240", 9, "cement", "chilli_drying", "", "chillies in Shizhu"},
	{"370783", 12, "cement", "vegetable_greenhouses", "", "greenhouses in Shouguang"},
	{"150621", 8, "cement", "sunflower_field", "", "sunflowers in Dalad"},
	{"654321", 1, "cement", "snow_shovelling", "", "snow shovelling in Burqin"},
	{"230883", 1, "cement", "snowman", "", "a snowman in Fuyuan"},
	{"222405", 1, "cement", "ice_sliding", "", "ice sledges in Longjing"},
	{"513232", 7, "cement", "horse_racing_festival", "", "horse racing in Zoige"},
	{"654027", 7, "cement", "horses_grazing", "", "horses in Tekes"},
	{"640122", 8, "cement", "grape_harvest", "", "grapes in Helan"},
	{"360428", 10, "cement", "cotton_hand_picking", "", "cotton in Duchang"},
	{"620982", 9, "cement", "cotton_hand_picking", "", "cotton in Dunhuang"},
	{"350627", 6, "cement", "lychee_picking", "", "lychees in Nanjing county"},
	{"451424", 1, "cement", "sugarcane_harvest", "", "sugarcane in Daxin"},
	{"361023", 11, "cement", "citrus_picking", "", "tangerines in Nanfeng"},
	{"450328", 9, "cement", "rice_drying", "", "rice drying in Longsheng"},
	{"513337", 4, "cement", "yak_plough", "", "yaks ploughing in Daocheng"},
	{"623027", 1, "cement", "prayer_flags", "", "prayer flags in Xiahe"},
	{"130828", 1, "dirt", "horse_sleigh", "", "a horse sleigh on the Bashang grassland"},
	{"230883", 9, "cement", "combine_rice", "", "rice harvest in Fuyuan"},
	{"433123", 5, "flagstone", "back_basket_villager", "", "back baskets in Fenghuang"},
	{"450321", 7, "flagstone", "water_buffalo", "", "buffalo in Yangshuo"},
	{"610723", 3, "cement", "rapeseed_bloom", "", "rapeseed in Yangxian"},
	{"640502", 5, "cement", "camels", "", "camels at Shapotou"},
	{"632801", 6, "cement", "camels", "", "camels near Golmud"},
	{"650402", 1, "cement", "donkey_cart", "", "a donkey cart in Turpan"},
	{"232721", 8, "cement", "combine_spring_wheat", "", "wheat harvest in Huma"},
	{"140881", 6, "cement", "combine_wheat", "", "wheat harvest in Yongji"},
	{"310118", 7, "cement", "lotus_pond", "", "lotus in Qingpu"},
	{"130632", 9, "cement", "reeds", "", "reeds at Baiyangdian"},
	{"371082", 7, "cement", "angler", "", "an angler in Rongcheng"},
	{"520423", 5, "flagstone", "kids_playing", "", "a stone village in Zhenning"},
	{"532901", 3, "flagstone", "market_day", "", "market day in Dali"},
}

// weatherCase is one weather × climate case.
type weatherCase struct {
	county  string
	month   int
	weather string
	ok      bool
	why     string
}

var weatherCases = []weatherCase{
	{"632701", 12, plan.WeatherLightRain, false, "rain in Yushu in December (−15 °C)"},
	{"623027", 12, plan.WeatherLightRain, false, "rain in Xiahe in December"},
	{"513232", 12, plan.WeatherLightRain, false, "rain in Zoige in December"},
	{"540223", 12, plan.WeatherLightRain, false, "rain in Tingri in December"},
	{"650402", 7, plan.WeatherLightRain, false, "drizzle in hyper-arid Turpan"},
	{"620982", 7, plan.WeatherLightRain, false, "drizzle in hyper-arid Dunhuang"},
	{"653125", 1, plan.WeatherLightSnow, false, "lying snow in Yarkand in January"},
	{"650402", 1, plan.WeatherLightSnow, false, "lying snow in Turpan in January"},
	{"232701", 1, plan.WeatherLightRain, false, "rain in Mohe in January"},
	{"232701", 1, plan.WeatherFrost, false, "a snowless frosty night in snowbound Mohe"},
	{"469002", 7, plan.WeatherFrost, false, "frost in Hainan in July"},
	{"469002", 7, plan.WeatherLightSnow, false, "snow in Hainan"},
	{"110115", 1, plan.WeatherLightRain, false, "rain in Beijing in January"},
	{"540222", 1, plan.WeatherLightSnow, false, "lying snow in Gyantse in January"},
	{"632801", 7, plan.WeatherLightRain, false, "drizzle in hyper-arid Golmud"},
	{"310120", 7, plan.WeatherFrost, false, "frost in Shanghai in July"},
	{"232701", 1, plan.WeatherLightSnow, true, "snow in Mohe in January"},
	{"540223", 12, plan.WeatherFrost, true, "a frosty clear night in Tingri"},
	{"650402", 7, plan.WeatherClear, true, "a clear night in Turpan"},
	{"653125", 1, plan.WeatherFrost, true, "a frosty night in Yarkand"},
	{"310120", 7, plan.WeatherLightRain, true, "rain in Shanghai in July"},
	{"530324", 7, plan.WeatherLightRain, true, "rain in Luoping in July"},
	{"110115", 1, plan.WeatherFrost, true, "a frosty night in Daxing"},
	{"632701", 12, plan.WeatherFrost, true, "a frosty night in Yushu"},
	{"654321", 1, plan.WeatherLightSnow, true, "snow in Burqin"},
	{"540402", 7, plan.WeatherLightRain, true, "rain in Nyingchi in July"},
	{"513401", 1, plan.WeatherClear, true, "a clear dry night in Xichang"},
	{"469002", 1, plan.WeatherSunny, true, "sun in Qionghai"},
}

// TestPlausibilityTable: ≥ 60 implausible combinations are refused by manual
// mode and by CheckManual (presets) with the rule that breaks; ≥ 60
// plausible ones are accepted by both; weather × climate cases are judged by
// CheckVariant, and a group's own variants always pass it.
func TestPlausibilityTable(t *testing.T) {
	t.Parallel()
	s := real(t)
	p := newPlanner(t, nil)
	ctx := context.Background()
	bad := 0
	for _, w := range weatherCases {
		if !w.ok {
			bad++
		}
	}
	require.GreaterOrEqual(t, len(implausible)+bad, 60)
	require.GreaterOrEqual(t, len(implausible), 60)
	require.GreaterOrEqual(t, len(plausible), 60)

	for _, c := range implausible {
		t.Run("refuse "+c.why, func(t *testing.T) {
			req := plan.ManualRequest{UserID: "u", County: c.county, Month: c.month, Road: c.road, Elements: []string{c.elem}}
			_, errManual := p.Manual(ctx, s, req)
			_, errPreset := p.CheckManual(s, req)
			for _, err := range []error{errManual, errPreset} {
				require.Error(t, err)
				fe := fault.As(err)
				require.NotNil(t, fe, "%v", err)
				if c.rule == "road_place" {
					require.ErrorIs(t, err, plan.ErrRoadUnfit)
					require.Equal(t, "road_place", fe.Params["rule"])
					require.Contains(t, fe.Detail, c.road)
					continue
				}
				require.ErrorIs(t, err, plan.ErrElementUnfit, fe.Detail)
				var rules []string
				for _, u := range fe.Params["unfit"].([]plan.UnfitElement) {
					require.Equal(t, c.elem, u.Element)
					for _, r := range u.Reasons {
						rules = append(rules, r.Rule)
					}
				}
				require.Contains(t, rules, c.rule, fe.Detail)
				require.Contains(t, fe.Detail, c.elem)
			}
		})
	}
	for _, c := range plausible {
		t.Run("accept "+c.why, func(t *testing.T) {
			req := plan.ManualRequest{UserID: "u", County: c.county, Month: c.month, Road: c.road, Elements: []string{c.elem}}
			got, err := p.Manual(ctx, s, req)
			require.NoError(t, err)
			_, err = p.CheckManual(s, req)
			require.NoError(t, err)
			for _, v := range got.Groups[0].Variants {
				require.NoError(t, p.CheckVariant(s, got.Groups[0].Combination, v.Spec()), v.ID)
			}
		})
	}
	for _, w := range weatherCases {
		t.Run(fmt.Sprintf("weather %v %s", w.ok, w.why), func(t *testing.T) {
			c := plan.Combination{CountyCode: w.county, Month: w.month, Road: "cement", Elements: []string{"village_dog"}}.Canonical()
			err := p.CheckVariant(s, c, plan.VariantSpec{ID: "x", Time: plan.TimeNight, Weather: w.weather})
			if w.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, plan.ErrWeatherUnfit)
			require.Contains(t, fault.As(err).Detail, "Weather does not fit")
		})
	}
}
