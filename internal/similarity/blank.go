package similarity

import (
	"image"
	"math"
)

// Blank-detection thresholds, on the 0–255 luma scale of the ≤256 px copy.
// They are deliberately far from anything a real scene produces: a scene
// photo has luma spread in the tens and edges on several percent of its
// pixels, while a failed generation is one colour, a smooth wash, or a
// near-empty canvas.
const (
	// solidMaxStdDev: below this luma standard deviation the image is one
	// colour (JPEG noise on a flat image stays under ~1).
	solidMaxStdDev = 2.0
	// uniformBand and uniformMinShare: when this share of pixels lies within
	// ±uniformBand of the most common level, the picture is an almost empty
	// canvas (e.g. white with a tiny mark).
	uniformBand     = 6
	uniformMinShare = 0.97
	// edgeMinStep and edgeMinShare: a pixel is an edge when its horizontal
	// plus vertical luma step exceeds edgeMinStep; fewer edge pixels than
	// edgeMinShare means a smooth wash or heavy blur with no scene in it.
	edgeMinStep  = 12.0
	edgeMinShare = 0.005
)

// Blank reports whether img is unusable as a scene and why: "empty" (no
// pixels), "solid" (one colour), "near_uniform" (≥97 % of pixels at one
// level) or "low_detail" (almost no edges: a smooth gradient or blur).
func Blank(img image.Image) (bool, string) {
	return blankPlane(ssimPlane(img))
}

func blankPlane(p plane) (bool, string) {
	n := len(p.pix)
	if n == 0 {
		return true, "empty"
	}
	var sum, sq float64
	var hist [256]int
	for _, v := range p.pix {
		sum += v
		sq += v * v
		hist[clampLevel(v)]++
	}
	mean := sum / float64(n)
	if std := math.Sqrt(math.Max(0, sq/float64(n)-mean*mean)); std < solidMaxStdDev {
		return true, "solid"
	}
	// The largest population within a ±uniformBand window of levels.
	best, window := 0, 0
	for i := 0; i < 256; i++ {
		window += hist[i]
		if i >= 2*uniformBand+1 {
			window -= hist[i-2*uniformBand-1]
		}
		best = max(best, window)
	}
	if float64(best) >= uniformMinShare*float64(n) {
		return true, "near_uniform"
	}
	if p.w < 2 || p.h < 2 {
		return false, ""
	}
	edges := 0
	for y := 0; y < p.h-1; y++ {
		for x := 0; x < p.w-1; x++ {
			v := p.at(x, y)
			if math.Abs(p.at(x+1, y)-v)+math.Abs(p.at(x, y+1)-v) > edgeMinStep {
				edges++
			}
		}
	}
	if float64(edges) < edgeMinShare*float64((p.w-1)*(p.h-1)) {
		return true, "low_detail"
	}
	return false, ""
}

func clampLevel(v float64) int {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return int(v + 0.5)
}
