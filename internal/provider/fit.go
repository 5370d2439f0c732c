package provider

import (
	"image"
	"math"
	"sync"
)

// fitYCbCr is Fit for a decoded JPEG, with the same geometry (cover, centre
// crop) and the same Lanczos-3 filter, but resampled plane by plane in
// Y'CbCr: Fit's generic path converts every pixel to NRGBA and filters four
// channels, and the JPEG encoder then converts back; here luma is filtered
// at full resolution and each chroma plane at its own, and the 4:2:0 result
// is what image/jpeg writes without any conversion. That is about a quarter
// of the work (docs/benchmarks.md). It returns nil for layouts it does not
// handle (the caller then uses Fit).
func fitYCbCr(src *image.YCbCr, w, h int) *image.YCbCr {
	fx, fy, ok := subsampling(src.SubsampleRatio)
	b := src.Bounds()
	sw, sh := b.Dx(), b.Dy()
	if !ok || b.Min != (image.Point{}) || sw <= 0 || sh <= 0 || w <= 0 || h <= 0 {
		return nil
	}
	// The centred source window with the output's aspect ratio, rounded as
	// imaging.Fill rounds it; filter taps may reach past its edges into the
	// rest of the picture, which only makes the borders smoother.
	ox, oy, cw, ch := 0, 0, sw, sh
	if float64(sw)/float64(sh) < float64(w)/float64(h) {
		ch = int(math.Max(1, float64(sw)*float64(h)/float64(w)) + 0.5)
		oy = (sh - ch) / 2
	} else {
		cw = int(math.Max(1, float64(sh)*float64(w)/float64(h)) + 0.5)
		ox = (sw - cw) / 2
	}
	dst := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	dcw, dch := (w+1)/2, (h+1)/2
	scw, sch := (sw+fx-1)/fx, (sh+fy-1)/fy
	cwx, cwy := lanczosTaps(dcw, scw, ox, cw, w, 2, fx), lanczosTaps(dch, sch, oy, ch, h, 2, fy)
	var wg sync.WaitGroup
	wg.Go(func() {
		resample(dst.Y, dst.YStride, w, h, src.Y, src.YStride,
			lanczosTaps(w, sw, ox, cw, w, 1, 1), lanczosTaps(h, sh, oy, ch, h, 1, 1))
	})
	wg.Go(func() { resample(dst.Cb, dst.CStride, dcw, dch, src.Cb, src.CStride, cwx, cwy) })
	resample(dst.Cr, dst.CStride, dcw, dch, src.Cr, src.CStride, cwx, cwy)
	wg.Wait()
	return dst
}

// subsampling returns the chroma plane's horizontal and vertical factors.
func subsampling(r image.YCbCrSubsampleRatio) (fx, fy int, ok bool) {
	switch r {
	case image.YCbCrSubsampleRatio444:
		return 1, 1, true
	case image.YCbCrSubsampleRatio422:
		return 2, 1, true
	case image.YCbCrSubsampleRatio420:
		return 2, 2, true
	case image.YCbCrSubsampleRatio440:
		return 1, 2, true
	case image.YCbCrSubsampleRatio411:
		return 4, 1, true
	case image.YCbCrSubsampleRatio410:
		return 4, 2, true
	}
	return 0, 0, false
}

// taps are the filter weights of one output sample: source samples
// start, start+1, … weighted by w.
type taps struct {
	start int
	w     []float32
}

// lanczosTaps computes, along one axis, the Lanczos-3 weights of n output
// samples taken from m source samples. The window [off, off+win) of the
// source (in full-resolution pixels) becomes d output pixels; the planes
// are subsampled by fs (source) and fo (output), each sample sitting at the
// centre of the pixels it covers, as in JPEG. Weights of taps outside the
// plane are dropped and the rest renormalised, as imaging does.
func lanczosTaps(n, m, off, win, d, fo, fs int) []taps {
	du := float64(win) / float64(d)
	step := float64(fo) * du / float64(fs) // source samples per output sample
	scale := max(step, 1)
	support := 3 * scale
	out := make([]taps, n)
	for i := range out {
		c := (float64(off)+float64(fo)*(float64(i)+0.5)*du)/float64(fs) - 0.5
		lo := max(int(math.Ceil(c-support)), 0)
		hi := min(int(math.Floor(c+support)), m-1)
		if hi < lo { // the window lies inside the picture, so this cannot happen
			lo = min(max(int(math.Round(c)), 0), m-1)
			hi = lo
		}
		wf := make([]float64, hi-lo+1)
		var sum float64
		for j := range wf {
			wf[j] = lanczos3((float64(lo+j) - c) / scale)
			sum += wf[j]
		}
		ws := make([]float32, len(wf))
		for j := range ws {
			if sum != 0 {
				ws[j] = float32(wf[j] / sum)
			} else {
				ws[j] = float32(1 / float64(len(ws)))
			}
		}
		out[i] = taps{start: lo, w: ws}
	}
	return out
}

func lanczos3(x float64) float64 {
	x = math.Abs(x)
	switch {
	case x == 0:
		return 1
	case x < 3:
		px := math.Pi * x
		return 3 * math.Sin(px) * math.Sin(px/3) / (px * px)
	}
	return 0
}

// resample filters one 8-bit plane: vertically into a float buffer over the
// source columns the horizontal taps need, then horizontally into dst.
func resample(dst []uint8, dstStride, dw, dh int, src []uint8, srcStride int, wx, wy []taps) {
	c0 := wx[0].start
	c1 := wx[0].start + len(wx[0].w)
	for _, t := range wx {
		c0 = min(c0, t.start)
		c1 = max(c1, t.start+len(t.w))
	}
	tw := c1 - c0
	tmp := make([]float32, tw)
	for y := range dh {
		clear(tmp)
		t := wy[y]
		for k, wt := range t.w {
			off := (t.start+k)*srcStride + c0
			row := src[off : off+tw]
			for x, v := range row {
				tmp[x] += wt * float32(v)
			}
		}
		out := dst[y*dstStride : y*dstStride+dw]
		for x := range out {
			t := wx[x]
			in := tmp[t.start-c0 : t.start-c0+len(t.w)]
			var s float32
			for k, wt := range t.w {
				s += wt * in[k]
			}
			switch {
			case s <= 0:
				out[x] = 0
			case s >= 255:
				out[x] = 255
			default:
				out[x] = uint8(s + 0.5)
			}
		}
	}
}
