package plan_test

import (
	"context"
	"testing"

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
