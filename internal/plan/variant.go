package plan

import (
	"strconv"
	"strings"
)

// Times of day of a variant.
const (
	TimeMorning = "morning"
	TimeNoon    = "noon"
	TimeEvening = "evening"
	TimeNight   = "night"
)

// Weathers of a variant.
const (
	WeatherSunny     = "sunny"
	WeatherOvercast  = "overcast"
	WeatherLightRain = "light_rain"
	WeatherLightSnow = "light_snow"
)

// VariantSpec is the time of day and weather of one image of a group.
type VariantSpec struct {
	ID      string `json:"id"`
	Time    string `json:"time"`
	Weather string `json:"weather"`
}

// The standard set: every group gets these four.
var standardVariants = []VariantSpec{
	{ID: "sunny_morning", Time: TimeMorning, Weather: WeatherSunny},
	{ID: "sunny_evening", Time: TimeEvening, Weather: WeatherSunny},
	{ID: "overcast_noon", Time: TimeNoon, Weather: WeatherOvercast},
	{ID: "rain_night", Time: TimeNight, Weather: WeatherLightRain},
}

// The winter set replaces rain with snow where the season table marks the
// zone and month with snow cover.
var winterVariants = []VariantSpec{
	{ID: "sunny_morning", Time: TimeMorning, Weather: WeatherSunny},
	{ID: "sunny_evening", Time: TimeEvening, Weather: WeatherSunny},
	{ID: "overcast_noon", Time: TimeNoon, Weather: WeatherOvercast},
	{ID: "snow_night", Time: TimeNight, Weather: WeatherLightSnow},
}

// VariantSpecs returns the four variants of a group: the winter set when the
// season is snow-covered, the standard set otherwise.
func VariantSpecs(snowCover bool) []VariantSpec {
	if snowCover {
		return append([]VariantSpec(nil), winterVariants...)
	}
	return append([]VariantSpec(nil), standardVariants...)
}

// Times and Weathers list every value in a stable order (the pipeline nudges a
// failed image to another time or weather).
var (
	Times    = []string{TimeMorning, TimeNoon, TimeEvening, TimeNight}
	Weathers = []string{WeatherSunny, WeatherOvercast, WeatherLightRain, WeatherLightSnow}
)

// phrase is a bilingual label and description used by the prompt builder.
type phrase struct {
	labelEN, labelZH string
	descEN, descZH   string
}

var timePhrases = map[string]phrase{
	TimeMorning: {"early morning", "清晨",
		"low soft golden sunlight from the side, long shadows, fresh clear air; the street light is off",
		"低角度柔和的金色阳光从侧面照来，影子细长，空气清新；路灯未亮"},
	TimeNoon: {"noon", "正午",
		"the sun high overhead, short shadows; the street light is off",
		"太阳高悬，影子很短；路灯未亮"},
	TimeEvening: {"evening", "傍晚",
		"sunset glow low on the horizon, warm orange and blue sky; the street light has just switched on and glows softly",
		"夕阳低垂，天空橙蓝交织；路灯刚刚亮起，发出柔和的光"},
	TimeNight: {"night", "夜晚",
		"dark night sky; the street light is on and casts a bright, warm pool of light on the road, the surroundings dimly visible",
		"夜空漆黑；路灯点亮，在路面投下明亮温暖的光圈，周围景物隐约可见"},
}

var weatherPhrases = map[string]phrase{
	WeatherSunny: {"sunny", "晴天",
		"clear sky with a few light clouds",
		"天空晴朗，飘着几朵淡云"},
	WeatherOvercast: {"overcast", "阴天",
		"a uniform soft grey sky, diffuse shadowless light",
		"天空灰白均匀，光线柔和、几乎没有阴影"},
	WeatherLightRain: {"light rain", "小雨",
		"fine drizzle, the road surface wet and reflecting the light, raindrops visible in the lamp light",
		"细雨蒙蒙，路面湿润反光，灯光里可见细密雨丝"},
	WeatherLightSnow: {"light snow", "小雪",
		"light snowfall, snowflakes drifting through the lamp light, fresh snow on the ground",
		"小雪纷飞，雪花在灯光中飘落，地面覆盖着新雪"},
}

// TimeLabel returns the English and Chinese label of a time of day ("early
// morning", "清晨"); the prompts contain them verbatim.
func TimeLabel(t string) (en, zh string) {
	p := timePhrases[t]
	return p.labelEN, p.labelZH
}

// WeatherLabel returns the English and Chinese label of a weather ("light
// rain", "小雨"); the prompts contain them verbatim.
func WeatherLabel(w string) (en, zh string) {
	p := weatherPhrases[w]
	return p.labelEN, p.labelZH
}

// ValidVariant reports whether v names a known time and weather.
func ValidVariant(v VariantSpec) bool {
	_, okT := timePhrases[v.Time]
	_, okW := weatherPhrases[v.Weather]
	return okT && okW && v.ID != ""
}

// Nudge returns the variant to retry with after attempt n (1-based) of v
// failed visual QC: attempt 1 moves to the next time of day, attempt 2 to
// the next weather, attempt 3 changes both. Snow is used only where the
// season is snow-covered, rain only where it is not. The ID records the
// nudge ("rain_night~2"). The combination is unchanged, so history and keys
// are unaffected; build its prompts with Planner.Prompts.
func Nudge(v VariantSpec, n int, snowCover bool) VariantSpec {
	next := func(list []string, cur string, skip string) string {
		i := indexOf(list, cur)
		for k := 1; k <= len(list); k++ {
			c := list[(i+k)%len(list)]
			if c != skip {
				return c
			}
		}
		return cur
	}
	skipWeather := WeatherLightSnow
	if snowCover {
		skipWeather = WeatherLightRain
	}
	out := v
	switch {
	case n <= 1:
		out.Time = next(Times, v.Time, "")
	case n == 2:
		out.Weather = next(Weathers, v.Weather, skipWeather)
	default:
		out.Time = next(Times, v.Time, "")
		out.Weather = next(Weathers, v.Weather, skipWeather)
	}
	base := v.ID
	if i := strings.IndexByte(base, '~'); i >= 0 {
		base = base[:i]
	}
	out.ID = base + "~" + strconv.Itoa(max(n, 1))
	return out
}

func indexOf[T comparable](list []T, v T) int {
	for i, x := range list {
		if x == v {
			return i
		}
	}
	return -1
}
