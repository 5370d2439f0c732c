package plan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ludeng/ludeng/internal/pool"
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
	// WeatherFrost is a clear, frosty night or morning: months below 0 °C
	// without lying snow (it never rains then).
	WeatherFrost = "frost"
	// WeatherClear is clear, dry weather: dry months and hyper-arid
	// counties, where drizzle is not plausible.
	WeatherClear = "clear"
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
// season is snow-covered, the standard set otherwise. Planned groups use
// VariantsFor, which follows the county's climate.
func VariantSpecs(snowCover bool) []VariantSpec {
	if snowCover {
		return append([]VariantSpec(nil), winterVariants...)
	}
	return append([]VariantSpec(nil), standardVariants...)
}

// NightWeather is the weather of the night variant in a county-month: light
// snow where snow lies, a frosty clear night in freezing months without
// snow, a clear dry night in dry months and hyper-arid counties, light rain
// otherwise. A month of unknown climate keeps the old standard set (rain).
func NightWeather(cm pool.ClimateMonth, hyperArid bool) string {
	switch {
	case cm.Snow:
		return WeatherLightSnow
	case cm.Freezing():
		return WeatherFrost
	case hyperArid || cm.Precip == pool.PrecipArid || cm.Precip == pool.PrecipDry:
		return WeatherClear
	}
	return WeatherLightRain
}

var nightIDs = map[string]string{
	WeatherLightRain: "rain_night", WeatherLightSnow: "snow_night",
	WeatherFrost: "frost_night", WeatherClear: "clear_night",
}

// VariantsFor returns the four variants of a group in a county-month: sunny
// morning, sunny evening, overcast noon and a night whose weather follows
// the climate (NightWeather). The four are always distinct.
func VariantsFor(cm pool.ClimateMonth, hyperArid bool) []VariantSpec {
	w := NightWeather(cm, hyperArid)
	out := append([]VariantSpec(nil), standardVariants[:3]...)
	return append(out, VariantSpec{ID: nightIDs[w], Time: TimeNight, Weather: w})
}

// weatherUnfit says why a weather cannot happen in a county-month ("" when
// it can). Sunny and overcast always can.
func weatherUnfit(w string, cm pool.ClimateMonth, hyperArid bool, county string, month int) string {
	mn := monthNamesEN[month]
	switch w {
	case WeatherLightRain:
		switch {
		case cm.Snow:
			return fmt.Sprintf("snow lies in %s in %s; precipitation falls as snow, not rain", county, mn)
		case cm.Freezing():
			return fmt.Sprintf("%s is below freezing in %s (%s); it does not rain", county, mn, cm.Temp)
		case hyperArid:
			return fmt.Sprintf("%s is hyper-arid; drizzle is not a plausible weather there", county)
		case cm.Precip == pool.PrecipArid || cm.Precip == pool.PrecipDry:
			return fmt.Sprintf("%s is %s in %s; a rainy night is not typical", county, cm.Precip, mn)
		}
	case WeatherLightSnow:
		if !cm.Snow && cm.Temp != "" {
			return fmt.Sprintf("no snow lies in %s in %s (%s, %s)", county, mn, cm.Temp, cm.Precip)
		}
	case WeatherFrost:
		if !cm.Freezing() || cm.Snow {
			return fmt.Sprintf("%s in %s is %s%s; a frosty snowless night needs a freezing month without lying snow",
				county, mn, cm.Temp, map[bool]string{true: " with lying snow", false: ""}[cm.Snow])
		}
	case WeatherClear:
		if cm.Snow {
			return fmt.Sprintf("snow lies in %s in %s; a dry snowless night does not fit", county, mn)
		}
	}
	return ""
}

// CheckVariant refuses a variant whose weather cannot happen in the
// combination's county and month (rain in a freezing month, snow where none
// lies, drizzle in a hyper-arid desert), with the reason.
func (p *Planner) CheckVariant(s *pool.Snapshot, c Combination, v VariantSpec) error {
	if !ValidVariant(v) {
		return fmt.Errorf("unknown variant time %q or weather %q", v.Time, v.Weather)
	}
	x := p.index(s)
	r, err := s.Region(c.CountyCode)
	if err != nil {
		return ErrUnknownCounty.With("county", c.CountyCode).Wrap(err)
	}
	cm, hyper := x.climateOf(r.Code, c.Month)
	if why := weatherUnfit(v.Weather, cm, hyper, r.Name, c.Month); why != "" {
		e := ErrWeatherUnfit.With("county", r.Code).With("month", c.Month).With("weather", v.Weather)
		e.Detail = "Weather does not fit: " + why + "."
		return e
	}
	return nil
}

// Times and Weathers list every value in a stable order (the pipeline nudges a
// failed image to another time or weather).
var (
	Times    = []string{TimeMorning, TimeNoon, TimeEvening, TimeNight}
	Weathers = []string{WeatherSunny, WeatherOvercast, WeatherLightRain, WeatherLightSnow, WeatherFrost, WeatherClear}
)

// phrase is a bilingual label and description used by the prompt builder.
type phrase struct {
	labelEN, labelZH string
	descEN, descZH   string
}

// timePhrases describe the light of a time of day and the lamp's state. The
// shadows belong to the weather (weatherLight), so that an overcast noon
// never says "short shadows" and "shadowless" at once.
var timePhrases = map[string]phrase{
	TimeMorning: {"early morning", "清晨", "low sun from the side; the lamp is off", "太阳低斜从侧面照来；路灯未亮"},
	TimeNoon:    {"midday", "正午", "the lamp is off", "路灯未亮"},
	TimeEvening: {"dusk", "黄昏", "just after sunset; the lamp has just come on", "日落之后；路灯刚亮起"},
	TimeNight:   {"night", "夜晚", "the lamp is on, lighting the road; surroundings dim", "路灯亮着，照亮路面；周围景物昏暗"},
}

var weatherPhrases = map[string]phrase{
	WeatherSunny:     {"sunny", "晴", "clear sky", "天空晴朗"},
	WeatherOvercast:  {"overcast", "阴", "even grey cloud, soft diffuse light", "灰云均匀，光线柔和漫射"},
	WeatherLightRain: {"light rain", "小雨", "fine rain, wet road reflecting the light", "细雨，湿润的路面映着灯光"},
	WeatherLightSnow: {"light snow", "小雪", "light snow falling, fresh snow on the ground", "小雪飘落，地面覆盖新雪"},
	WeatherFrost:     {"frosty clear", "霜冻晴夜", "frosty clear air, white hoarfrost on grass and roofs", "晴朗无风，草叶和屋顶上结着白霜"},
	WeatherClear:     {"clear and dry", "晴朗干燥", "clear dry air, dry ground", "空气干爽，地面干燥"},
}

// weatherLight is the shadow and sky detail of a sunny variant by time of
// day; other weathers are the same at every time.
var weatherLight = map[string][2]string{
	TimeMorning: {"clear sky, long soft shadows", "天空晴朗，影子细长柔和"},
	TimeNoon:    {"clear sky, high sun, short crisp shadows", "天空晴朗，太阳高悬，影子短而清晰"},
	TimeEvening: {"clear sky glowing orange and blue", "晴空泛着橙蓝色的余晖"},
	TimeNight:   {"clear starry sky", "晴朗的星空"},
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
// the next weather, attempt 3 changes both. The weather only moves among
// sunny, overcast and v's own weather (which the planner chose from the
// county's climate), plus light snow where snow lies, so a nudge never
// brings rain into a freezing month or drizzle into a desert. The ID records
// the nudge ("rain_night~2"). The combination is unchanged, so history and
// keys are unaffected; build its prompts with Planner.Prompts.
func Nudge(v VariantSpec, n int, snowCover bool) VariantSpec {
	next := func(list []string, cur string) string {
		i := indexOf(list, cur)
		return list[(i+1)%len(list)]
	}
	weathers := []string{WeatherSunny, WeatherOvercast}
	if !slices.Contains(weathers, v.Weather) && ValidVariant(VariantSpec{ID: "x", Time: TimeNoon, Weather: v.Weather}) {
		weathers = append(weathers, v.Weather)
	}
	if snowCover && !slices.Contains(weathers, WeatherLightSnow) {
		weathers = append(weathers, WeatherLightSnow)
	}
	out := v
	switch {
	case n <= 1:
		out.Time = next(Times, v.Time)
	case n == 2:
		out.Weather = next(weathers, v.Weather)
	default:
		out.Time = next(Times, v.Time)
		out.Weather = next(weathers, v.Weather)
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
