package sim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/similarity"
)

func TestSceneFromPromptPrefersLabelledLines(t *testing.T) {
	t.Parallel()
	prompt := "Place it beside a dirt road (dusty in dry weather, muddy after rain, frozen at night in winter).\n" +
		"Time of day: golden evening — low sun.\nWeather: sunny — clear sky.\n"
	s := SceneFromPrompt(prompt)
	require.Equal(t, "evening", s.TimeOfDay)
	require.Equal(t, "sunny", s.Weather)
	zh := SceneFromPrompt("把路灯立在土路旁（雨后泥泞）。\n时间：清晨，薄雾。\n天气：阴天，云层厚。\n")
	require.Equal(t, "morning", zh.TimeOfDay)
	require.Equal(t, "overcast", zh.Weather)
	// Unlabelled prompts still use the first matching word.
	require.Equal(t, "night", SceneFromPrompt("a street at night in the rain").TimeOfDay)
}

// TestFrostyNightIsNotSnowyNight: the planner's frosty clear night and
// snowy night (issue #12) are parsed from prompt v2 lines and drawn
// differently: a viewer (and QC) can tell them apart.
func TestFrostyNightIsNotSnowyNight(t *testing.T) {
	t.Parallel()
	frostP := "Month: January, freezing cold and very dry.\nTime of day: night, the lamp is on.\nWeather: frosty clear: frosty clear air, white hoarfrost on grass and roofs."
	snowP := "Month: January, bitterly cold; snow lying on the ground.\nTime of day: night, the lamp is on.\nWeather: light snow: light snow falling, fresh snow on the ground."
	require.Equal(t, frost, SceneFromPrompt(frostP).Weather)
	require.Equal(t, snow, SceneFromPrompt(snowP).Weather)
	require.Equal(t, sunny, normalize(SceneFromPrompt("Time of day: night.\nWeather: clear and dry: clear dry air, starry sky.")).Weather)

	base := provider.Scene{TimeOfDay: night, Season: "winter", Month: 1, Road: "cement", Key: "same place"}
	fs, ss := base, base
	fs.Weather, ss.Weather = frost, snow
	a := render(normalize(fs), nil, 240, 320, "")
	b := render(normalize(ss), nil, 240, 320, "")
	r := similarity.Compare(a, b, similarity.Thresholds{})
	require.False(t, r.Similar, "frost vs snow night: %+v", r.Scores)
}
