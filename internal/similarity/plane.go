package similarity

import (
	"image"
	"math"
)

// plane is a grayscale picture of float64 luma values in [0, 255]. Every
// measure in this package works on planes so that decoding formats (YCbCr from
// JPEG, NRGBA from PNG…) and sizes stop mattering before comparison.
type plane struct {
	w, h int
	pix  []float64
}

func (p plane) at(x, y int) float64 { return p.pix[y*p.w+x] }

// fitLongSide returns the dimensions of a w×h rectangle scaled so its longer
// side is at most max, keeping the aspect ratio and never upscaling.
func fitLongSide(w, h, max int) (int, int) {
	if w <= max && h <= max {
		return w, h
	}
	if w >= h {
		return max, int(math.Max(1, math.Round(float64(h)*float64(max)/float64(w))))
	}
	return int(math.Max(1, math.Round(float64(w)*float64(max)/float64(h)))), max
}

// tap is one source sample's share of a resampled target sample.
type tap struct {
	src    int
	weight float64
}

// boxTaps computes, for each of m targets covering n sources, the exact area
// each source sample contributes. Area averaging (rather than point sampling)
// is what makes hashes stable across resizes and re-encodes: every source
// pixel counts, so JPEG noise and resampling phase average out.
func boxTaps(n, m int) [][]tap {
	scale := float64(n) / float64(m)
	out := make([][]tap, m)
	for i := range out {
		start, end := float64(i)*scale, float64(i+1)*scale
		j0 := int(math.Floor(start))
		j1 := int(math.Ceil(end))
		if j1 > n {
			j1 = n
		}
		taps := make([]tap, 0, j1-j0)
		total := 0.0
		for j := j0; j < j1; j++ {
			w := math.Min(end, float64(j+1)) - math.Max(start, float64(j))
			if w > 0 {
				taps = append(taps, tap{j, w})
				total += w
			}
		}
		for k := range taps {
			taps[k].weight /= total
		}
		out[i] = taps
	}
	return out
}

// lumaPlane returns a box-filtered w×h grayscale copy of img. It reads the
// source one row at a time, so a 4000×3000 photo never becomes a 96 MB float
// buffer: only the horizontally reduced w×srcH intermediate is kept.
func lumaPlane(img image.Image, w, h int) plane {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	if sw <= 0 || sh <= 0 || w <= 0 || h <= 0 {
		return plane{w: max(w, 0), h: max(h, 0), pix: make([]float64, max(w, 0)*max(h, 0))}
	}
	xt := boxTaps(sw, w)
	row := make([]float64, sw)
	mid := make([]float64, w*sh)
	for y := 0; y < sh; y++ {
		lumaRow(img, b.Min.Y+y, row)
		dst := mid[y*w : (y+1)*w]
		for x, taps := range xt {
			s := 0.0
			for _, t := range taps {
				s += row[t.src] * t.weight
			}
			dst[x] = s
		}
	}
	return resampleRows(mid, w, sh, h)
}

// resampleRows reduces (or expands) a w×sh buffer vertically to w×h.
func resampleRows(src []float64, w, sh, h int) plane {
	yt := boxTaps(sh, h)
	out := plane{w: w, h: h, pix: make([]float64, w*h)}
	for y, taps := range yt {
		dst := out.pix[y*w : (y+1)*w]
		for _, t := range taps {
			s := src[t.src*w : (t.src+1)*w]
			for x := range dst {
				dst[x] += s[x] * t.weight
			}
		}
	}
	return out
}

// resize resamples a plane to w×h with the same box filter.
func (p plane) resize(w, h int) plane {
	if p.w == w && p.h == h {
		return p
	}
	xt := boxTaps(p.w, w)
	mid := make([]float64, w*p.h)
	for y := 0; y < p.h; y++ {
		src := p.pix[y*p.w : (y+1)*p.w]
		dst := mid[y*w : (y+1)*w]
		for x, taps := range xt {
			s := 0.0
			for _, t := range taps {
				s += src[t.src] * t.weight
			}
			dst[x] = s
		}
	}
	return resampleRows(mid, w, p.h, h)
}

// lumaRow fills row with the Rec. 601 luma of image row y. The common decoder
// outputs get direct pixel access; JPEG's Y channel is used as is, which is
// the same formula, so a PNG and a JPEG of one picture produce the same plane.
func lumaRow(img image.Image, y int, row []float64) {
	b := img.Bounds()
	switch m := img.(type) {
	case *image.YCbCr:
		off := (y - m.Rect.Min.Y) * m.YStride
		for x := range row {
			row[x] = float64(m.Y[off+b.Min.X-m.Rect.Min.X+x])
		}
	case *image.Gray:
		off := m.PixOffset(b.Min.X, y)
		for x := range row {
			row[x] = float64(m.Pix[off+x])
		}
	case *image.RGBA:
		off := m.PixOffset(b.Min.X, y)
		for x := range row {
			p := m.Pix[off+4*x : off+4*x+3 : off+4*x+3]
			row[x] = 0.299*float64(p[0]) + 0.587*float64(p[1]) + 0.114*float64(p[2])
		}
	case *image.NRGBA:
		off := m.PixOffset(b.Min.X, y)
		for x := range row {
			p := m.Pix[off+4*x : off+4*x+3 : off+4*x+3]
			row[x] = 0.299*float64(p[0]) + 0.587*float64(p[1]) + 0.114*float64(p[2])
		}
	default:
		for x := range row {
			r, g, bl, _ := img.At(b.Min.X+x, y).RGBA()
			row[x] = (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257
		}
	}
}
