package plan_test

import (
	"context"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/pool"
)

// TestAuditShippedPoolClean: a short audit of the shipped pool finds nothing
// (CI runs 500 plans in .ci/audit.sh).
func TestAuditShippedPoolClean(t *testing.T) {
	t.Parallel()
	rep, err := newPlanner(t, nil).Audit(context.Background(), real(t), plan.AuditOptions{Plans: 24, Seed: 3})
	require.NoError(t, err)
	require.Greater(t, rep.Planned, 12)
	require.Empty(t, rep.Violations)
	require.LessOrEqual(t, rep.PromptP95, plan.MaxPromptChars)
}

// TestAuditCatchesCamelInJilin: a camel tag on 集安 makes the fit rules admit
// camels there; the audit's independent range table reports it.
func TestAuditCatchesCamelInJilin(t *testing.T) {
	t.Parallel()
	p := real(t).Pool().Clone()
	for i := range p.Regions {
		if p.Regions[i].Code == "220582" {
			p.Regions[i].Tags = append(p.Regions[i].Tags, "camel")
		}
	}
	s, err := pool.NewSnapshot(p)
	require.NoError(t, err)
	rep, err := newPlanner(t, nil).Audit(context.Background(), s, plan.AuditOptions{Plans: 0})
	require.NoError(t, err)
	require.Equal(t, map[string]int{"range": 1}, rep.ByRule)
	require.Contains(t, rep.Violations[0].Where, "camels in 220582")
}

// TestCheckPromptFindsProblems: the prompt checks the audit applies.
func TestCheckPromptFindsProblems(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"light rain on fresh snow":                        "contradiction",
		"noon, short shadows; overcast, shadowless light": "contradiction",
		"Place: Yanqing, Shixiaqu, Beijing, China":        "placeholder",
	}
	for text, rule := range cases {
		var rules []string
		for _, v := range plan.CheckPrompt(text, "", nil, nil) {
			rules = append(rules, v.Rule)
		}
		require.Contains(t, rules, rule, text)
	}
	var rules []string
	for _, v := range plan.CheckPrompt("x", "小雨，地面积雪", nil, nil) {
		rules = append(rules, v.Rule)
	}
	require.Contains(t, rules, "contradiction")
}

// TestEveryCountyMonthPromptClean builds the four prompts of every county ×
// month (village dog, concrete road) and checks each pair: no rain with
// snow or frost terms, no "short shadows" with "shadowless", no
// administrative placeholder, no pinyin where an English name exists, every
// part present, and the English 95th percentile within MaxPromptChars.
func TestEveryCountyMonthPromptClean(t *testing.T) {
	t.Parallel()
	s := real(t)
	p := newPlanner(t, nil)
	var lengths []int
	monthStep := 1
	if raceEnabled {
		monthStep = 3 // every county in each season
	}
	for _, r := range s.Regions() {
		for m := 1; m <= 12; m += monthStep {
			got, err := p.Manual(context.Background(), s, plan.ManualRequest{UserID: "u", County: r.Code, Month: m, Road: "cement", Elements: []string{"village_dog"}})
			require.NoError(t, err)
			g := got.Groups[0]
			require.Len(t, g.Variants, 4)
			for _, v := range g.Variants {
				require.Empty(t, plan.CheckPrompt(v.PromptEN, v.PromptZH, r, s.ProvinceOf(r)), "%s %d %s:\n%s\n%s", r.Code, m, v.ID, v.PromptEN, v.PromptZH)
				require.NoError(t, p.CheckVariant(s, g.Combination, v.Spec()))
				lengths = append(lengths, utf8.RuneCountInString(v.PromptEN))
			}
		}
	}
	slices.Sort(lengths)
	require.LessOrEqual(t, lengths[len(lengths)*95/100], plan.MaxPromptChars)
}
