package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/plan"
)

func TestPlanCommand(t *testing.T) {
	t.Parallel()
	env := map[string]string{"LUDENG_DATA_DIR": t.TempDir()}
	code, _, errOut := runCLI(t, env, "", "user", "add", "--name", "planner", "--password", "a-long-password")
	require.Zero(t, code, errOut)

	smart := func(args ...string) (int, string, string) {
		return runCLI(t, env, "", append([]string{"plan", "--user", "planner"}, args...)...)
	}
	decode := func(out string) *plan.Plan {
		var p plan.Plan
		require.NoError(t, json.Unmarshal([]byte(out), &p), out)
		return &p
	}

	// Same seed, same plan; recording it makes the next plan avoid it.
	code, out, errOut := smart("--groups", "6", "--seed", "11", "--json")
	require.Zero(t, code, errOut)
	first := decode(out)
	require.Len(t, first.Groups, 6)
	require.EqualValues(t, 11, first.Seed)
	code, again, _ := smart("--groups", "6", "--seed", "11", "--json", "--record")
	require.Zero(t, code)
	require.Equal(t, out, again)
	code, out, errOut = smart("--groups", "6", "--seed", "11", "--json")
	require.Zero(t, code, errOut)
	second := decode(out)
	for _, g := range second.Groups {
		for _, h := range first.Groups {
			require.GreaterOrEqual(t, len(g.Combination.DiffDims(h.Combination)), 2)
		}
	}

	// Filters and the table output.
	code, out, errOut = smart("--groups", "3", "--province", "13", "--province", "410000", "--allow-same-province", "--month", "7,8")
	require.Zero(t, code, errOut)
	require.Contains(t, out, "smart plan, 3 groups")

	// Manual mode by old code; the plan's variants carry prompts.
	code, out, errOut = smart("--manual", "--county", "130521", "--month", "7", "--road", "dirt", "--element", "tricycle", "--json")
	require.Zero(t, code, errOut)
	m := decode(out)
	require.Equal(t, "manual", m.Mode)
	require.Equal(t, "130503", m.Groups[0].Combination.CountyCode)
	require.Len(t, m.Groups[0].Variants, 4)
	require.Contains(t, m.Groups[0].Variants[0].PromptZH, "三轮车")

	// Errors: infeasible (with a JSON body under --json), unfit element,
	// unknown user, usage.
	code, out, errOut = smart("--groups", "3", "--province", "13", "--json")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "Cannot plan 3 groups")
	var body struct {
		Error struct {
			Code   string         `json:"code"`
			Params map[string]any `json:"params"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &body), out)
	require.Equal(t, "plan_infeasible", body.Error.Code)
	require.Equal(t, plan.BindingSameProvince, body.Error.Params["binding"])

	code, _, errOut = smart("--manual", "--county", "邢台县", "--month", "7", "--road", "flagstone", "--element", "tricycle")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "tricycle fits only on")

	code, _, errOut = runCLI(t, env, "", "plan", "--user", "nobody", "--groups", "2")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "nobody")

	for _, args := range [][]string{
		{"--groups", "2", "--county", "130503"},
		{"--manual", "--county", "130503", "--month", "7"},
		{"--manual", "--county", "130503", "--month", "7", "--month", "8", "--road", "dirt", "--element", "tricycle"},
	} {
		code, _, errOut = smart(args...)
		require.Equal(t, 2, code, strings.Join(args, " ")+": "+errOut)
	}
	code, _, errOut = runCLI(t, env, "", "plan", "--groups", "2")
	require.Equal(t, 2, code, errOut)

	env["LUDENG_PLAN_THRESHOLD"] = "3"
	code, _, errOut = smart("--groups", "2")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "LUDENG_PLAN_")
}
