package plan

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/pool"
)

// Prompt length limits of the audit (English characters): prompt v2 keeps
// the 95th percentile at most MaxPromptChars so that the product
// instruction is not drowned, and no prompt above HardMaxPromptChars.
const (
	MaxPromptChars     = 900
	HardMaxPromptChars = 1000
)

// AuditOptions configure Audit.
type AuditOptions struct {
	// Plans is the number of smart batches of 12 groups to plan.
	Plans int
	// Seed makes the audit reproducible: it selects each plan's seed and
	// filters.
	Seed int64
}

// Violation is one broken rule found by the audit.
type Violation struct {
	// Rule: range, fit, road, weather, variants, contradiction, placeholder,
	// pinyin, prompt_length, missing_part.
	Rule   string `json:"rule"`
	Where  string `json:"where"`
	Detail string `json:"detail"`
}

// AuditReport is what `ludeng pool audit` prints.
type AuditReport struct {
	PoolVersion string         `json:"pool_version"`
	Plans       int            `json:"plans"`
	Planned     int            `json:"planned"`
	Infeasible  int            `json:"infeasible"`
	Groups      int            `json:"groups"`
	Prompts     int            `json:"prompts"`
	PromptP50   int            `json:"prompt_chars_p50"`
	PromptP95   int            `json:"prompt_chars_p95"`
	PromptMax   int            `json:"prompt_chars_max"`
	ByRule      map[string]int `json:"by_rule"`
	Violations  []Violation    `json:"violations"`
}

// Audit checks the pool and the plans made from it against every rule it
// can check on its own:
//
//   - range: exhaustively, every element that the fit rules admit in a
//     county must be seen in that county's province (an independent table of
//     ranges, auditRanges, written from distribution facts, not from the fit
//     rules: a camel tag on a Jilin county is caught here);
//   - for Plans smart batches of 12 groups over varied filters: each
//     element fits its county, month and road (fit), the road is plausible
//     (road), each variant's weather can happen in the county-month
//     (weather), the four variants are distinct (variants), and each prompt
//     has no contradiction (rain with snow or frost, short shadows with
//     shadowless), no administrative placeholder, no pinyin where an English
//     name exists, all its parts and at most MaxPromptChars characters.
func (p *Planner) Audit(ctx context.Context, s *pool.Snapshot, o AuditOptions) (*AuditReport, error) {
	x := p.index(s)
	rep := &AuditReport{PoolVersion: s.Version(), Plans: o.Plans, ByRule: map[string]int{}, Violations: []Violation{}}
	add := func(v Violation) {
		rep.ByRule[v.Rule]++
		rep.Violations = append(rep.Violations, v)
	}
	x.auditRanges(add)

	rng := rand.New(rand.NewPCG(uint64(o.Seed), pcgStream))
	var lengths []int
	for i := range o.Plans {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		req := SmartRequest{UserID: "audit", Groups: MaxGroups, Seed: rng.Int64N(MaxSeed), Filters: x.auditFilters(rng, i)}
		pl, err := p.Smart(ctx, s, req)
		if err != nil {
			if errors.Is(err, ErrInfeasible) || errors.Is(err, ErrBadFilter) {
				rep.Infeasible++
				continue
			}
			return nil, fmt.Errorf("audit plan %d: %w", i, err)
		}
		rep.Planned++
		for _, g := range pl.Groups {
			rep.Groups++
			where := fmt.Sprintf("plan %d (seed %d) group %d %s", i, req.Seed, g.Index, g.Combination.KeyString())
			for _, v := range x.auditGroup(p, s, g) {
				v.Where = where + v.Where
				add(v)
			}
			for _, v := range g.Variants {
				rep.Prompts++
				lengths = append(lengths, utf8.RuneCountInString(v.PromptEN))
			}
		}
	}
	if len(lengths) > 0 {
		slices.Sort(lengths)
		rep.PromptP50 = lengths[len(lengths)/2]
		rep.PromptP95 = lengths[min(len(lengths)-1, len(lengths)*95/100)]
		rep.PromptMax = lengths[len(lengths)-1]
		if rep.PromptP95 > MaxPromptChars {
			add(Violation{Rule: "prompt_length", Where: "all plans",
				Detail: fmt.Sprintf("the 95th percentile of English prompt length is %d characters, more than %d", rep.PromptP95, MaxPromptChars)})
		}
	}
	return rep, nil
}

// auditFilters varies the filters over the plans: none, one month, one
// season's months, one road, one category, two provinces.
func (x *index) auditFilters(rng *rand.Rand, i int) Filters {
	var f Filters
	switch i % 6 {
	case 1:
		f.Months = []int{1 + rng.IntN(12)}
	case 2:
		start := 1 + 3*rng.IntN(4)
		f.Months = []int{start, start + 1, start + 2}
	case 3:
		f.Roads = []string{x.roads[rng.IntN(len(x.roads))]}
	case 4:
		f.ElementCategories = []string{x.categories[rng.IntN(len(x.categories))]}
	case 5:
		f.Provinces = []string{x.provinces[rng.IntN(len(x.provinces))], x.provinces[rng.IntN(len(x.provinces))]}
	}
	return f
}

// auditGroup checks one planned group.
func (x *index) auditGroup(p *Planner, s *pool.Snapshot, g Group) []Violation {
	var out []Violation
	c := g.Combination
	r, err := s.Region(c.CountyCode)
	if err != nil {
		return []Violation{{Rule: "fit", Detail: "unknown county " + c.CountyCode}}
	}
	if u := s.RoadUnfit(c.Road, r); u != nil {
		out = append(out, Violation{Rule: "road", Detail: u.Detail})
	}
	for _, id := range c.Elements {
		e, err := s.Element(id)
		if err != nil {
			out = append(out, Violation{Rule: "fit", Detail: "unknown element " + id})
			continue
		}
		for _, u := range s.Unfit(e, r, c.Month, c.Road) {
			out = append(out, Violation{Rule: "fit", Detail: u.Detail})
		}
	}
	seen := map[string]bool{}
	for _, v := range g.Variants {
		at := " variant " + v.ID
		key := v.Time + "/" + v.Weather
		if seen[key] {
			out = append(out, Violation{Rule: "variants", Where: at, Detail: "two variants share time and weather " + key})
		}
		seen[key] = true
		if err := p.CheckVariant(s, c, v.Spec()); err != nil {
			out = append(out, Violation{Rule: "weather", Where: at, Detail: fault.As(err).Detail})
		}
		for _, pv := range checkPrompt(v.PromptEN, v.PromptZH, r, s.ProvinceOf(r)) {
			pv.Where = at
			out = append(out, pv)
		}
	}
	if len(g.Variants) != 4 {
		out = append(out, Violation{Rule: "variants", Detail: fmt.Sprintf("%d variants, want 4", len(g.Variants))})
	}
	return out
}

var (
	rainRE        = regexp.MustCompile(`(?i)\b(rain|rainy|drizzle|raindrops?)\b`)
	coldRE        = regexp.MustCompile(`(?i)\b(snow|snowy|snowfall|snowflakes?|frost|frosty|hoarfrost|freezing|sleet|icy)\b`)
	rainZH        = regexp.MustCompile(`雨`)
	coldZH        = regexp.MustCompile(`小雪|积雪|新雪|下雪|雪花|霜|冰冷|严寒`)
	placeholderRE = regexp.MustCompile(`(?i)shixiaqu|shengzhixia|xianji xingzheng|市辖区|省直辖|县级行政区划`)
	// promptParts are the labels every English prompt v2 has, in order.
	promptParts = []string{"Product first:", "Framing:", "Place:", "Month:", "Time of day:", "Weather:"}
)

// CheckPrompt lists the problems of one English/Chinese prompt pair of a
// county: contradictions, placeholders, pinyin where an English name
// exists, missing parts, length. It is what the audit applies to every
// planned prompt.
func CheckPrompt(en, zh string, r *pool.Region, prov *pool.Province) []Violation {
	return checkPrompt(en, zh, r, prov)
}

func checkPrompt(en, zh string, r *pool.Region, prov *pool.Province) []Violation {
	var out []Violation
	add := func(rule, format string, args ...any) {
		out = append(out, Violation{Rule: rule, Detail: fmt.Sprintf(format, args...)})
	}
	if m := rainRE.FindString(en); m != "" {
		if n := coldRE.FindString(en); n != "" {
			add("contradiction", "the English prompt says both %q and %q", m, n)
		}
	}
	if rainZH.MatchString(zh) {
		if n := coldZH.FindString(zh); n != "" {
			add("contradiction", "the Chinese prompt says both 雨 and %q", n)
		}
	}
	low := strings.ToLower(en)
	if strings.Contains(low, "short shadows") || strings.Contains(low, "short crisp shadows") {
		if strings.Contains(low, "shadowless") || strings.Contains(low, "no shadows") {
			add("contradiction", "the prompt says short shadows and shadowless light")
		}
	}
	if m := placeholderRE.FindString(en + "\n" + zh); m != "" {
		add("placeholder", "the prompt contains the administrative placeholder %q", m)
	}
	if r != nil {
		if r.EN != "" && r.Pinyin != "" {
			if py := strings.Fields(r.Pinyin)[0]; !strings.Contains(r.EN, py) && strings.Contains(en, py+",") {
				add("pinyin", "the prompt uses the pinyin %q where the English name is %q", py, r.EN)
			}
		}
		if pe := r.Prefecture.EN; pe != "" {
			if py := strings.Fields(r.Prefecture.Pinyin)[0]; !strings.Contains(pe, py) && strings.Contains(en, py+",") {
				add("pinyin", "the prompt uses the pinyin %q where the English name is %q", py, pe)
			}
		}
	}
	if prov != nil && prov.EN != "" && strings.Contains(en, prov.Pinyin+", China") {
		add("pinyin", "the prompt uses %q where the English name is %q", prov.Pinyin, prov.EN)
	}
	at := 0
	for _, part := range promptParts {
		i := strings.Index(en[at:], part)
		if i < 0 {
			add("missing_part", "the prompt lacks its %q part (or it is out of order)", strings.TrimSuffix(part, ":"))
			continue
		}
		at += i
	}
	for _, must := range []string{"reference photo", "own light colour", "3:4", " m pole", "open sky", "mm lens"} {
		if !strings.Contains(en, must) {
			add("missing_part", "the prompt lacks %q", must)
		}
	}
	if n := utf8.RuneCountInString(en); n > HardMaxPromptChars {
		add("prompt_length", "the English prompt has %d characters, more than %d", n, HardMaxPromptChars)
	}
	return out
}

// SortedRules returns the rule names of a report's counts, sorted.
func (r *AuditReport) SortedRules() []string {
	keys := make([]string, 0, len(r.ByRule))
	for k := range r.ByRule {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
