package sim

import (
	"testing"

	"github.com/stretchr/testify/require"
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
