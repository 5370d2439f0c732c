package plan

// Plan is the one plan shape shared by `ludeng plan --json`, the pipeline's
// dry run and the zip manifest. Fields may be added; the documented ones are
// never renamed.
type Plan struct {
	// Mode is "smart" or "manual".
	Mode string `json:"mode"`
	// Seed of a smart plan (0 for manual plans).
	Seed int64 `json:"seed"`
	// PoolVersion is the content hash of the element pool planned from.
	PoolVersion string `json:"pool_version"`
	// ConfigHash identifies the planner configuration (Config.Hash).
	ConfigHash string `json:"config_hash"`
	// AllowSameProvince and Filters echo a smart request.
	AllowSameProvince bool    `json:"allow_same_province"`
	Filters           Filters `json:"filters"`
	Groups            []Group `json:"groups"`
	// Search describes the work done (smart plans only).
	Search *SearchStats `json:"search,omitempty"`
}

// Group is one combination and its four variants.
type Group struct {
	// Index is the group's position in the plan, from 0.
	Index       int                `json:"index"`
	Combination Combination        `json:"combination"`
	Key         string             `json:"key"`
	LOOKeys     [Dimensions]string `json:"loo_keys"`
	// Distances to every other group of the plan, by group index.
	Distances []PairDistance `json:"distances"`
	// MinDistance is the smallest total distance to another group (absent for
	// a single group).
	MinDistance *float64  `json:"min_distance,omitempty"`
	Scene       Scene     `json:"scene"`
	Variants    []Variant `json:"variants"`
}

// PairDistance is the distance from a group to the group with index Group.
type PairDistance struct {
	Group int `json:"group"`
	Distance
}

// Scene names the combination for people (UI, manifest, CLI).
type Scene struct {
	County       string  `json:"county"`
	CountyPinyin string  `json:"county_pinyin"`
	Prefecture   string  `json:"prefecture"`
	Province     string  `json:"province"`
	Zone         string  `json:"zone"`
	Season       string  `json:"season"`
	SnowCover    bool    `json:"snow_cover"`
	Road         Label   `json:"road"`
	Elements     []Label `json:"elements"`
}

// Label is an id with its Chinese and English names.
type Label struct {
	ID string `json:"id"`
	ZH string `json:"zh"`
	EN string `json:"en"`
}

// Variant is one image of a group: its time, weather and prompts.
type Variant struct {
	ID       string `json:"id"`
	Time     string `json:"time"`
	Weather  string `json:"weather"`
	PromptEN string `json:"prompt_en"`
	PromptZH string `json:"prompt_zh"`
}

// Spec returns the variant's time and weather.
func (v Variant) Spec() VariantSpec { return VariantSpec{ID: v.ID, Time: v.Time, Weather: v.Weather} }

// SearchStats counts what a smart plan looked at.
type SearchStats struct {
	// ScenesTotal is county × month × road of the whole pool.
	ScenesTotal int `json:"scenes_total"`
	// ScenesFiltered remain after the request's filters.
	ScenesFiltered int `json:"scenes_filtered"`
	// ScenesPlausible have at least one fitting element.
	ScenesPlausible int `json:"scenes_plausible"`
	// Sampled candidates (one element set each) drawn by the search.
	Sampled int `json:"sampled"`
	// HistoryBlocked of the sampled candidates.
	HistoryBlocked int `json:"history_blocked"`
	// HistoryQueries is the number of History calls.
	HistoryQueries int `json:"history_queries"`
	// Rounds of sampling.
	Rounds int `json:"rounds"`
}

// Combinations returns the plan's combinations in group order.
func (p *Plan) Combinations() []Combination {
	out := make([]Combination, len(p.Groups))
	for i, g := range p.Groups {
		out[i] = g.Combination
	}
	return out
}
