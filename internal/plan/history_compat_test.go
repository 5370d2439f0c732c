package plan_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/plan"
)

// TestHistoryFromBeforeIssue12StillBlocks: testdata/history_pre12.tsv holds
// 240 combinations planned by the planner and pool before issue #12 (place
// tags, climate profiles, prompts v2), with the keys that version stored.
// County, element and road ids are unchanged, the same combinations give the
// same key and leave-one-out keys, and a user's history of them still
// blocks the same combinations: the identical one, and one that differs in a
// single dimension.
func TestHistoryFromBeforeIssue12StillBlocks(t *testing.T) {
	t.Parallel()
	s := real(t)
	f, err := os.Open("testdata/history_pre12.tsv")
	require.NoError(t, err)
	defer f.Close()
	var old []plan.Combination
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		cols := strings.Split(line, "\t")
		require.Len(t, cols, 2+plan.Dimensions)
		parts := strings.Split(cols[0], "|")
		require.Len(t, parts, 5)
		month, err := strconv.Atoi(parts[2])
		require.NoError(t, err)
		c := plan.Combination{CountyCode: parts[1], Month: month, Road: parts[3], Elements: strings.Split(parts[4], "+")}.Canonical()

		_, err = s.Region(c.CountyCode)
		require.NoError(t, err, "county id %s must still exist", c.CountyCode)
		_, err = s.Road(c.Road)
		require.NoError(t, err, "road id %s must still exist", c.Road)
		for _, id := range c.Elements {
			_, err = s.Element(id)
			require.NoError(t, err, "element id %s must still exist", id)
		}
		require.Equal(t, cols[0], c.KeyString())
		require.Equal(t, cols[1], c.Key(), "stored key of %s", cols[0])
		loo := c.LOOKeys()
		require.Equal(t, cols[2:], loo[:], "stored leave-one-out keys of %s", cols[0])
		old = append(old, c)
	}
	require.NoError(t, sc.Err())
	require.Len(t, old, 240)

	h := &memHistory{}
	h.add(plan.StateUsed, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), old...)
	p := newPlanner(t, h)
	ctx := context.Background()
	identical, near := 0, 0
	for _, c := range old {
		req := plan.ManualRequest{UserID: "u", County: c.CountyCode, Month: c.Month, Road: c.Road, Elements: c.Elements}
		if _, err := p.CheckManual(s, req); err != nil {
			// Implausible under the new rules (camels in Jilin): refused
			// anyway, with the reason.
			require.True(t, errorIsAny(err, plan.ErrElementUnfit, plan.ErrRoadUnfit), "%s: %v", c.KeyString(), err)
			continue
		}
		_, err := p.Manual(ctx, s, req)
		require.ErrorIs(t, err, plan.ErrRepeatsHistory, c.KeyString())
		identical++

		// The same scene on another road that still fits differs in one
		// dimension only: blocked as near history.
		for _, road := range []string{"cement", "asphalt", "dirt", "flagstone"} {
			if road == c.Road {
				continue
			}
			req.Road = road
			if _, err := p.CheckManual(s, req); err != nil {
				continue
			}
			_, err := p.Manual(ctx, s, req)
			require.ErrorIs(t, err, plan.ErrNearHistory, c.KeyString()+" on "+road)
			near++
			break
		}
	}
	require.Greater(t, identical, 100)
	require.Greater(t, near, 100)

	// Smart plans on top of that history never repeat or nearly repeat it.
	for seed := int64(1); seed <= 3; seed++ {
		req := plan.SmartRequest{UserID: "u", Groups: 12, Seed: seed}
		got, err := p.Smart(ctx, s, req)
		require.NoError(t, err)
		require.Empty(t, checker{s: s}.violations(got, req, h.blocking()))
	}
}

func errorIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
