package plan

import (
	"fmt"
	"strings"

	"github.com/ludeng/ludeng/internal/fault"
)

// Binding constraints named by a Diagnosis.
const (
	BindingFilters       = "filters"        // the filters leave no scene
	BindingPlausibility  = "plausibility"   // no element fits the scenes left
	BindingCounties      = "counties"       // fewer counties than groups
	BindingSameProvince  = "same_province"  // fewer provinces than groups
	BindingHistory       = "history"        // history blocks too much
	BindingSameCounty    = "same_county"    // batch rule: one county per group
	BindingMinDimensions = "min_dimensions" // batch rule: ≥ 2 dimensions differ
	BindingThreshold     = "threshold"      // batch rule: weighted distance
)

// Suggestions offered by a Diagnosis, most relevant first.
const (
	SuggestWidenFilters      = "widen_filters"
	SuggestAllowSameProvince = "allow_same_province"
	SuggestArchiveHistory    = "archive_history"
	SuggestFewerGroups       = "fewer_groups"
)

// Removed counts what each rule removed. Filters and Plausibility count
// scenes (county × month × road); the history counts are of sampled
// candidates; the batch-rule counts are of the candidates left when the best
// greedy run could not add another group, each counted under the first rule
// it breaks.
type Removed struct {
	Filters             int `json:"filters"`
	Plausibility        int `json:"plausibility"`
	HistoryIdentical    int `json:"history_identical"`
	HistoryOneDimension int `json:"history_one_dimension"`
	SameCounty          int `json:"same_county"`
	SameProvince        int `json:"same_province"`
	MinDimensions       int `json:"min_dimensions"`
	Threshold           int `json:"threshold"`
}

// Diagnosis explains an infeasible smart plan. It is the Err of the
// plan_infeasible *fault.Error (errors.As finds it); the same facts are in the
// fault's Params for API clients.
type Diagnosis struct {
	Requested int `json:"requested"`
	// Found is the size of the best partial plan, or the most groups the
	// filters admit when the request is impossible on its face.
	Found int `json:"found"`
	// Binding is the constraint that binds (Binding* constants).
	Binding     string      `json:"binding"`
	Removed     Removed     `json:"removed"`
	Suggestions []string    `json:"suggestions"`
	Search      SearchStats `json:"search"`
}

func (d *Diagnosis) Error() string {
	return fmt.Sprintf("plan infeasible: %d of %d groups, binding %s", d.Found, d.Requested, d.Binding)
}

func (s *search) infeasible(best *attempt) error {
	n := s.req.Groups
	var found string
	if best == nil {
		// Decided before searching: Found is the structural upper bound.
		best = &attempt{removed: map[rule]int{}}
		limit := s.plausibleBy.counties
		if !s.req.AllowSameProvince {
			limit = min(limit, s.plausibleBy.provinces)
		}
		for range min(limit, n) {
			best.chosen = append(best.chosen, -1)
		}
		found = fmt.Sprintf("at most %d are possible", len(best.chosen))
	} else {
		found = fmt.Sprintf("the best plan found has %d", len(best.chosen))
	}
	d := &Diagnosis{
		Requested: n, Found: len(best.chosen), Search: s.stats,
		Removed: Removed{
			Filters:             s.stats.ScenesTotal - s.stats.ScenesFiltered,
			Plausibility:        s.stats.ScenesFiltered - s.stats.ScenesPlausible,
			HistoryIdentical:    s.identical,
			HistoryOneDimension: s.oneDim,
			SameCounty:          best.removed[ruleSameCounty],
			SameProvince:        best.removed[ruleSameProvince],
			MinDimensions:       best.removed[ruleMinDims],
			Threshold:           best.removed[ruleThreshold],
		},
	}
	// Counties and provinces that survive history (all scenes were sampled
	// by now: the search only gives up when none is left).
	counties, provinces := map[int]bool{}, map[int]bool{}
	for _, c := range s.cands {
		counties[c.region] = true
		provinces[c.prov] = true
	}
	blocked := s.identical + s.oneDim
	var why string
	switch {
	case s.stats.ScenesFiltered == 0:
		d.Binding = BindingFilters
		why = "the filters leave no county, month and road to choose from"
	case s.stats.ScenesPlausible == 0:
		d.Binding = BindingPlausibility
		why = "no scene element of the chosen categories fits the counties, months and roads the filters leave"
	case !s.req.AllowSameProvince && s.plausibleBy.provinces < n:
		d.Binding = BindingSameProvince
		why = fmt.Sprintf("every group needs its own province (another county of a used province is not allowed) and the filters leave %d", s.plausibleBy.provinces)
	case s.plausibleBy.counties < n:
		d.Binding = BindingCounties
		why = fmt.Sprintf("every group needs its own county and the filters leave %d", s.plausibleBy.counties)
	case len(s.cands) == 0 || (blocked > 0 && (len(counties) < n || (!s.req.AllowSameProvince && len(provinces) < n))):
		d.Binding = BindingHistory
		why = fmt.Sprintf("your history blocks %d of %d candidates (the same combination, or one dimension away from it)", blocked, s.stats.Sampled)
	default:
		d.Binding, why = s.batchBinding(d.Removed, blocked)
	}
	d.Suggestions = s.suggestions(d)

	parts := []string{fmt.Sprintf("filters %d of %d scenes", d.Removed.Filters, s.stats.ScenesTotal),
		fmt.Sprintf("plausibility %d", d.Removed.Plausibility)}
	if s.stats.Sampled > 0 {
		parts = append(parts, fmt.Sprintf("history %d of %d candidates (%d identical, %d one dimension away)",
			blocked, s.stats.Sampled, d.Removed.HistoryIdentical, d.Removed.HistoryOneDimension))
		r := d.Removed
		if r.SameCounty+r.SameProvince+r.MinDimensions+r.Threshold > 0 {
			parts = append(parts, fmt.Sprintf("at the last step %d candidates shared a county, %d a province, %d differed in fewer than 2 dimensions, %d were closer than %.2f",
				r.SameCounty, r.SameProvince, r.MinDimensions, r.Threshold, s.cfg.Threshold))
		}
	}
	detail := fmt.Sprintf("Cannot plan %s (%s): %s. Removed: %s. Try: %s.",
		plural(n, "group"), found, why, strings.Join(parts, "; "), suggestionText(d.Suggestions))
	e := ErrInfeasible.With("requested", n).With("found", d.Found).With("binding", d.Binding).
		With("removed", d.Removed).With("suggestions", d.Suggestions).Wrap(d)
	e.Detail = detail
	return e
}

// batchBinding picks the rule that removed the most candidates.
func (s *search) batchBinding(r Removed, blocked int) (string, string) {
	type item struct {
		binding string
		n       int
		why     string
	}
	items := []item{
		{BindingHistory, blocked, fmt.Sprintf("your history blocks %d of %d candidates", blocked, s.stats.Sampled)},
		{BindingSameProvince, r.SameProvince, "every group needs its own province (another county of a used province is not allowed)"},
		{BindingMinDimensions, r.MinDimensions, "every two groups must differ in at least 2 of county, month, road and elements"},
		{BindingThreshold, r.Threshold, fmt.Sprintf("every two groups must be at least %.2f apart", s.cfg.Threshold)},
		{BindingSameCounty, r.SameCounty, "every group needs its own county"},
	}
	best := items[0]
	for _, it := range items[1:] {
		if it.n > best.n {
			best = it
		}
	}
	return best.binding, best.why
}

func (s *search) suggestions(d *Diagnosis) []string {
	var out []string
	add := func(v string) {
		for _, o := range out {
			if o == v {
				return
			}
		}
		out = append(out, v)
	}
	filters := s.req.Filters.any()
	switch d.Binding {
	case BindingFilters, BindingPlausibility, BindingCounties:
		add(SuggestWidenFilters)
	case BindingSameProvince:
		if !s.req.AllowSameProvince {
			add(SuggestAllowSameProvince)
		}
	case BindingHistory:
		add(SuggestArchiveHistory)
	}
	if filters {
		add(SuggestWidenFilters)
	}
	if !s.req.AllowSameProvince && s.req.Groups > 1 && d.Binding != BindingFilters && d.Binding != BindingPlausibility {
		add(SuggestAllowSameProvince)
	}
	if d.Removed.HistoryIdentical+d.Removed.HistoryOneDimension > 0 {
		add(SuggestArchiveHistory)
	}
	if d.Found > 0 {
		add(SuggestFewerGroups)
	}
	return out
}

var suggestionTexts = map[string]string{
	SuggestWidenFilters:      "widen the filters (more provinces, months, roads or element categories)",
	SuggestAllowSameProvince: "allow another county of an already used province",
	SuggestArchiveHistory:    "archive old history",
	SuggestFewerGroups:       "ask for fewer groups",
}

func suggestionText(ss []string) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = suggestionTexts[s]
	}
	if len(parts) == 0 {
		return "nothing to suggest"
	}
	return strings.Join(parts, "; ")
}

// DiagnosisOf returns the Diagnosis of a plan_infeasible error.
func DiagnosisOf(err error) (*Diagnosis, bool) {
	fe := fault.As(err)
	if fe == nil || fe.Code != ErrInfeasible.Code {
		return nil, false
	}
	d, ok := fe.Err.(*Diagnosis)
	return d, ok
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
