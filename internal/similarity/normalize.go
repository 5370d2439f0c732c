package similarity

// equalize returns p after contrast-limited histogram equalisation of its
// luma: values are remapped through their clipped cumulative distribution,
// so that every image spans the full 0–255 range before pHash and SSIM.
//
// Why: both measures are nearly blind to what lies in the dark. pHash
// compares DCT coefficients with their median, so a night scene whose low
// frequencies are dominated by the lamp's glow and the sky gradient hashes
// like any other night scene with the lamp in the same place (distance 0 was
// seen between two groups' night images); SSIM's stabilising constants
// dominate at low luminance and variance, so two dark images score high
// whatever their content. Equalising first makes the fields, roads and
// buildings in the dark count as much as they do by day. A monotonic
// brightness or contrast change of the same picture maps to (almost) the
// same equalised plane, so real duplicates stay duplicates.
//
// The clip limit (clipFactor × the mean bin count, excess spread evenly)
// keeps a large flat region — a black sky — from stretching its JPEG noise
// over the whole range, as plain equalisation would.
func equalize(p plane) plane {
	const bins = 256
	const clipFactor = 4.0
	n := len(p.pix)
	if n == 0 {
		return p
	}
	var hist [bins]float64
	for _, v := range p.pix {
		hist[bin(v)]++
	}
	limit := clipFactor * float64(n) / bins
	excess := 0.0
	for i, c := range hist {
		if c > limit {
			excess += c - limit
			hist[i] = limit
		}
	}
	add := excess / bins
	var cdf [bins + 1]float64
	for i, c := range hist {
		cdf[i+1] = cdf[i] + c + add
	}
	total := cdf[bins]
	out := plane{w: p.w, h: p.h, pix: make([]float64, n)}
	for i, v := range p.pix {
		b := bin(v)
		// Interpolate within the bin so that equalisation is smooth in v.
		frac := v - float64(b)
		if frac < 0 {
			frac = 0
		} else if frac > 1 {
			frac = 1
		}
		c := cdf[b] + (cdf[b+1]-cdf[b])*frac
		out.pix[i] = 255 * c / total
	}
	return out
}

func bin(v float64) int {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return int(v)
}
