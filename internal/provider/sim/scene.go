package sim

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/ludeng/ludeng/internal/provider"
)

// Normalised scene vocabulary.
const (
	morning = "morning"
	noon    = "noon"
	evening = "evening"
	night   = "night"

	sunny    = "sunny"
	overcast = "overcast"
	rain     = "rain"
	snow     = "snow"
	// frost is a clear frosty night or morning without lying snow: white
	// hoarfrost on pale ground, no falling flakes.
	frost = "frost"
)

// keywords map words found in prompts (English and Chinese) to scene values.
// Order matters: the first match of each list wins.
var (
	timeWords = [][2]string{
		{"morning", morning}, {"sunrise", morning}, {"dawn", morning}, {"清晨", morning}, {"早晨", morning}, {"上午", morning}, {"日出", morning},
		{"evening", evening}, {"sunset", evening}, {"dusk", evening}, {"傍晚", evening}, {"黄昏", evening}, {"日落", evening},
		{"night", night}, {"夜", night}, {"晚上", night},
		{"noon", noon}, {"midday", noon}, {"中午", noon}, {"正午", noon},
	}
	weatherWords = [][2]string{
		{"frost", frost}, {"霜", frost},
		{"snow", snow}, {"雪", snow},
		{"rain", rain}, {"雨", rain},
		{"overcast", overcast}, {"cloudy", overcast}, {"阴", overcast}, {"多云", overcast},
		{"sunny", sunny}, {"clear", sunny}, {"晴", sunny},
	}
	seasonWords = [][2]string{
		{"spring", "spring"}, {"春", "spring"},
		{"summer", "summer"}, {"夏", "summer"},
		{"autumn", "autumn"}, {"fall", "autumn"}, {"秋", "autumn"},
		{"winter", "winter"}, {"冬", "winter"},
	}
	roadWords = [][2]string{
		{"dirt", "dirt"}, {"土路", "dirt"}, {"泥土", "dirt"}, {"砂石", "dirt"},
		{"cement", "cement"}, {"concrete", "cement"}, {"水泥", "cement"},
		{"asphalt", "asphalt"}, {"柏油", "asphalt"}, {"沥青", "asphalt"},
		{"flagstone", "flagstone"}, {"cobble", "flagstone"}, {"石板", "flagstone"}, {"青石", "flagstone"},
	}
	terrainWords = [][2]string{
		{"mountain", "mountain"}, {"山区", "mountain"}, {"山地", "mountain"}, {"群山", "mountain"},
		{"lake", "water"}, {"river", "water"}, {"sea", "water"}, {"湖边", "water"}, {"湖泊", "water"}, {"河边", "water"}, {"河流", "water"}, {"海边", "water"},
		{"town", "town"}, {"village", "town"}, {"村", "town"}, {"镇", "town"},
		{"forest", "forest"}, {"林", "forest"},
		{"hill", "hills"}, {"丘", "hills"},
		{"plain", "plain"}, {"平原", "plain"}, {"field", "plain"}, {"田", "plain"},
	}
	elementWords = [][2]string{
		{"tricycle", "tricycle"}, {"三轮", "tricycle"},
		{"people", "people"}, {"person", "people"}, {"villager", "people"}, {"行人", "people"}, {"村民", "people"}, {"人", "people"},
		{"car", "vehicles"}, {"truck", "vehicles"}, {"vehicle", "vehicles"}, {"汽车", "vehicles"}, {"车", "vehicles"},
		{"cow", "animals"}, {"ox", "animals"}, {"sheep", "animals"}, {"goat", "animals"}, {"dog", "animals"}, {"chicken", "animals"},
		{"animal", "animals"}, {"牛", "animals"}, {"羊", "animals"}, {"狗", "animals"}, {"鸡", "animals"}, {"鸭", "animals"},
		{"farm", "farm_work"}, {"harvest", "farm_work"}, {"plough", "farm_work"}, {"农", "farm_work"}, {"收割", "farm_work"},
	}
	monthRe   = regexp.MustCompile(`(\d{1,2})\s*月`)
	monthEnRe = regexp.MustCompile(`(?i)\b(january|february|march|april|may|june|july|august|september|october|november|december)\b`)
	// Prompts written by the planner label their time and weather lines;
	// those lines win over incidental words elsewhere (a road description
	// saying "muddy after rain" must not make every variant rainy).
	timeLineRe    = regexp.MustCompile(`(?im)^\s*(?:time of day|时间)\s*[:：]\s*(.+)$`)
	weatherLineRe = regexp.MustCompile(`(?im)^\s*(?:weather|天气)\s*[:：]\s*(.+)$`)
	captionRe     = regexp.MustCompile(`(?i)(?:scene|场景)\s*[:：]\s*([^\n.。;；]{1,60})`)
)

// SceneFromPrompt derives a scene from a free-text prompt, as the fake
// servers must (real APIs only see the prompt). Unknown parts stay empty and
// get the renderer's defaults.
func SceneFromPrompt(prompt string) provider.Scene {
	low := strings.ToLower(prompt)
	firstIn := func(text string, words [][2]string) string {
		best, at := "", -1
		for _, w := range words {
			if i := strings.Index(text, w[0]); i >= 0 && (at < 0 || i < at) {
				best, at = w[1], i
			}
		}
		return best
	}
	first := func(words [][2]string) string { return firstIn(low, words) }
	labelled := func(re *regexp.Regexp, words [][2]string) string {
		if m := re.FindStringSubmatch(prompt); m != nil {
			if v := firstIn(strings.ToLower(m[1]), words); v != "" {
				return v
			}
		}
		return first(words)
	}
	s := provider.Scene{
		TimeOfDay: labelled(timeLineRe, timeWords),
		Weather:   labelled(weatherLineRe, weatherWords),
		Season:    first(seasonWords),
		Road:      first(roadWords),
		Terrain:   first(terrainWords),
	}
	if m := monthRe.FindStringSubmatch(prompt); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil && n >= 1 && n <= 12 {
			s.Month = n
		}
	} else if m := monthEnRe.FindStringSubmatch(prompt); m != nil {
		for i, name := range []string{"january", "february", "march", "april", "may", "june", "july",
			"august", "september", "october", "november", "december"} {
			if strings.EqualFold(m[1], name) {
				s.Month = i + 1
			}
		}
	}
	seen := map[string]bool{}
	for _, w := range elementWords {
		if strings.Contains(low, w[0]) && !seen[w[1]] {
			seen[w[1]] = true
			s.Elements = append(s.Elements, w[1])
		}
	}
	if m := captionRe.FindStringSubmatch(prompt); m != nil {
		s.Caption = strings.TrimSpace(m[1])
	}
	return s
}

// normalize fills defaults and derives the season from the month.
func normalize(s provider.Scene) provider.Scene {
	if s.TimeOfDay == "" {
		s.TimeOfDay = noon
	}
	if s.Weather == "" || s.Weather == "clear" {
		// "clear" is the planner's dry clear night: the sunny light set
		// (stars at night).
		s.Weather = sunny
	}
	if s.Season == "" {
		switch s.Month {
		case 3, 4, 5:
			s.Season = "spring"
		case 6, 7, 8:
			s.Season = "summer"
		case 9, 10, 11:
			s.Season = "autumn"
		case 12, 1, 2:
			s.Season = "winter"
		default:
			s.Season = "summer"
		}
	}
	if s.Road == "" {
		s.Road = "cement"
	}
	return s
}
