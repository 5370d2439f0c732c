package plan

import "math"

// Distance is how different two combinations are, per dimension and in
// total, each in [0, 1]. A dimension's distance is 0 exactly when the two
// combinations agree in it.
type Distance struct {
	// Region: 0 same county, SameProvince for another county of the same
	// province, 1 for another province.
	Region float64 `json:"region"`
	// Month: 0 same month, otherwise ½·circular distance/6 + ½·(1 if the
	// season table puts the two in different seasons).
	Month float64 `json:"month"`
	// Road: 0 same surface, 1 otherwise.
	Road float64 `json:"road"`
	// Elements: Jaccard distance of the element sets.
	Elements float64 `json:"elements"`
	// Total is the weighted mean (weights normalised to sum 1).
	Total float64 `json:"total"`
	// DimsDiffer is how many of the four dimensions differ.
	DimsDiffer int `json:"dims_differ"`
}

// eps absorbs floating-point error when comparing a total to the threshold:
// 0.35 + 0.05 must count as 0.40.
const eps = 1e-9

// monthDistance is season-aware circular month distance: months m1 and m2 in
// seasons s1 and s2 (season indexes from the season table of each county's
// zone). Adjacent months of one season are close (0.083); crossing a season
// boundary adds 0.5; opposite months in different seasons are 1.
func monthDistance(m1, s1, m2, s2 int) float64 {
	if m1 == m2 {
		return 0
	}
	d := m1 - m2
	if d < 0 {
		d = -d
	}
	if d > 6 {
		d = 12 - d
	}
	v := 0.5 * float64(d) / 6
	if s1 != s2 {
		v += 0.5
	}
	return v
}

// jaccardDistance of two sorted, duplicate-free slices.
func jaccardDistance[T int | string](a, b []T) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 0
	}
	inter := 0
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			inter++
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	union := len(a) + len(b) - inter
	return 1 - float64(inter)/float64(union)
}

// total is the weighted mean. The explicit float64 conversions forbid fused
// multiply-adds, so every architecture computes the same bits (a seeded plan
// must not depend on the CPU).
func (c Config) total(d Distance) float64 {
	w := c.Weights
	sum := float64(w.Region*d.Region) + float64(w.Month*d.Month) + float64(w.Road*d.Road) + float64(w.Elements*d.Elements)
	return sum / w.sum()
}

// round4 keeps plan JSON readable; decisions use the exact values.
func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

func (d Distance) rounded() Distance {
	d.Region, d.Month, d.Road, d.Elements, d.Total = round4(d.Region), round4(d.Month), round4(d.Road), round4(d.Elements), round4(d.Total)
	return d
}
