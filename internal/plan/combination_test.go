package plan_test

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/plan"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestKeyStrings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		c    plan.Combination
		key  string
		loo  [4]string
	}{
		{
			name: "one element",
			c:    plan.Combination{CountyCode: "130503", Month: 7, Road: "dirt", Elements: []string{"tricycle"}},
			key:  "v1|130503|07|dirt|tricycle",
			loo:  [4]string{"v1|*|07|dirt|tricycle", "v1|130503|*|dirt|tricycle", "v1|130503|07|*|tricycle", "v1|130503|07|dirt|*"},
		},
		{
			name: "elements are sorted and de-duplicated",
			c:    plan.Combination{CountyCode: "650402", Month: 12, Road: "asphalt", Elements: []string{"village_dog", "camels", "village_dog"}},
			key:  "v1|650402|12|asphalt|camels+village_dog",
			loo:  [4]string{"v1|*|12|asphalt|camels+village_dog", "v1|650402|*|asphalt|camels+village_dog", "v1|650402|12|*|camels+village_dog", "v1|650402|12|asphalt|*"},
		},
		{
			name: "no elements",
			c:    plan.Combination{CountyCode: "540222", Month: 1, Road: "flagstone"},
			key:  "v1|540222|01|flagstone|",
			loo:  [4]string{"v1|*|01|flagstone|", "v1|540222|*|flagstone|", "v1|540222|01|*|", "v1|540222|01|flagstone|*"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, tc.c.Validate())
			require.Equal(t, tc.key, tc.c.KeyString())
			require.Equal(t, sha(tc.key), tc.c.Key())
			loo := tc.c.LOOKeys()
			for d := range plan.Dimensions {
				require.Equal(t, tc.loo[d], tc.c.LOOKeyString(plan.Dimension(d)))
				require.Equal(t, sha(tc.loo[d]), loo[d])
			}
			require.Equal(t, tc.c.CountyCode[:2]+"0000", tc.c.Canonical().ProvinceCode)
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := plan.Combination{CountyCode: "130503", Month: 7, Road: "dirt", Elements: []string{"tricycle"}}
	cases := []struct {
		name  string
		edit  func(c *plan.Combination)
		field string
	}{
		{"short code", func(c *plan.Combination) { c.CountyCode = "13050" }, "county_code"},
		{"wildcard code", func(c *plan.Combination) { c.CountyCode = "*" }, "county_code"},
		{"month 0", func(c *plan.Combination) { c.Month = 0 }, "month"},
		{"month 13", func(c *plan.Combination) { c.Month = 13 }, "month"},
		{"road with separator", func(c *plan.Combination) { c.Road = "dirt|x" }, "road"},
		{"element with plus", func(c *plan.Combination) { c.Elements = []string{"a+b"} }, "elements"},
		{"element wildcard", func(c *plan.Combination) { c.Elements = []string{"*"} }, "elements"},
	}
	require.NoError(t, ok.Validate())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := ok
			c.Elements = append([]string(nil), ok.Elements...)
			tc.edit(&c)
			err := c.Validate()
			require.ErrorIs(t, err, plan.ErrBadCombination)
		})
	}
}

// sharesLOO reports whether two combinations share a leave-one-out key of the
// same dimension (how the store looks them up).
func sharesLOO(a, b plan.Combination) bool {
	la, lb := a.LOOKeys(), b.LOOKeys()
	for d := range plan.Dimensions {
		if la[d] == lb[d] {
			return true
		}
	}
	return false
}

// sharesAnyLOO compares every LOO key with every other, across dimensions:
// the property must hold even if keys were pooled in one column.
func sharesAnyLOO(a, b plan.Combination) bool {
	la, lb := a.LOOKeys(), b.LOOKeys()
	for _, x := range la {
		for _, y := range lb {
			if x == y {
				return true
			}
		}
	}
	return false
}

// TestLeaveOneOutProperty proves "differ in ≤ 1 dimension ⇔ share a
// leave-one-out key" exhaustively over a small universe in which every
// dimension takes several values (including the empty element set and sets
// that are subsets of each other), then on random combinations. The number
// of differing dimensions is counted field by field, not through keys.
func TestLeaveOneOutProperty(t *testing.T) {
	t.Parallel()
	counties := []string{"130503", "130133", "650402"}
	months := []int{1, 7, 12}
	roads := []string{"dirt", "cement"}
	sets := [][]string{{}, {"a"}, {"b"}, {"a", "b"}, {"a_b"}, {"ab"}}
	var all []plan.Combination
	for _, c := range counties {
		for _, m := range months {
			for _, r := range roads {
				for _, s := range sets {
					all = append(all, plan.Combination{CountyCode: c, Month: m, Road: r, Elements: s})
				}
			}
		}
	}
	pairs, near := 0, 0
	for _, a := range all {
		for _, b := range all {
			pairs++
			close := fieldsDiffer(a, b) <= 1
			if close {
				near++
			}
			require.Equal(t, close, sharesLOO(a, b), "%s vs %s", a.KeyString(), b.KeyString())
			require.Equal(t, close, sharesAnyLOO(a, b), "%s vs %s", a.KeyString(), b.KeyString())
			require.Equal(t, fieldsDiffer(a, b) == 0, a.Key() == b.Key())
		}
	}
	require.Equal(t, len(all)*len(all), pairs)
	require.Positive(t, near)

	rng := rand.New(rand.NewPCG(1, 2))
	slug := func() string {
		const letters = "ab_1"
		n := 1 + rng.IntN(3)
		s := string("abc"[rng.IntN(3)])
		for range n - 1 {
			s += string(letters[rng.IntN(len(letters))])
		}
		return s
	}
	random := func() plan.Combination {
		var els []string
		for range rng.IntN(4) {
			els = append(els, slug())
		}
		return plan.Combination{
			CountyCode: []string{"110101", "110102", "999999"}[rng.IntN(3)],
			Month:      1 + rng.IntN(2),
			Road:       []string{"dirt", "d", "dirt_2"}[rng.IntN(3)],
			Elements:   els,
		}
	}
	for range 20000 {
		a := random()
		// b is a mutated in 0–4 dimensions, so near pairs are frequent.
		b := a
		b.Elements = append([]string(nil), a.Elements...)
		for _, d := range rng.Perm(4)[:rng.IntN(5)] {
			switch d {
			case 0:
				b.CountyCode = random().CountyCode
			case 1:
				b.Month = random().Month
			case 2:
				b.Road = random().Road
			case 3:
				b.Elements = random().Elements
			}
		}
		require.NoError(t, a.Validate())
		require.NoError(t, b.Validate())
		require.Equal(t, fieldsDiffer(a, b) <= 1, sharesLOO(a, b), "%s vs %s", a.KeyString(), b.KeyString())
	}
}
