// Package similarity measures how alike two generated images look, for the
// visual QC step: a batch must not contain two pictures a viewer would call
// "the same", and blank or solid answers from a provider must be caught.
//
// Two independent measures are used because they fail differently: the DCT
// perceptual hash (pHash) captures the coarse layout and survives
// re-encoding, scaling and small colour shifts, while SSIM compares local
// structure on a downscaled grayscale copy and catches near-duplicates whose
// global layout was shifted just enough to move a few hash bits.
//
// Defaults follow DESIGN.md §3: two images are distinct only when the pHash
// Hamming distance exceeds 12 AND the SSIM stays below 0.9.
//
// Everything here is pure computation on image.Image values: no I/O, no
// globals, safe for concurrent use.
package similarity

import (
	"cmp"
	"image"
	"math"
	"math/bits"
	"sort"
	"sync"
)

// Default thresholds (DESIGN.md §3).
const (
	DefaultMinHamming = 12
	DefaultMaxSSIM    = 0.9
)

// ssimSide is the longer side of the grayscale copy SSIM runs on. 256 px
// keeps the structure a viewer perceives at thumbnail-to-preview scale, makes
// SSIM of a 1024² image cost a few milliseconds, and hides JPEG block noise.
const ssimSide = 256

// Thresholds decide when two images count as similar.
type Thresholds struct {
	// MinHamming: images are distinct only if the pHash distance is strictly
	// greater than this. Zero means DefaultMinHamming (12); use a negative
	// value to disable the pHash criterion.
	MinHamming int `json:"min_hamming"`
	// MaxSSIM: images are distinct only if SSIM is strictly below this.
	// Zero means DefaultMaxSSIM (0.9); a value above 1 disables SSIM.
	MaxSSIM float64 `json:"max_ssim"`
}

func (t Thresholds) withDefaults() Thresholds {
	t.MinHamming = cmp.Or(t.MinHamming, DefaultMinHamming)
	t.MaxSSIM = cmp.Or(t.MaxSSIM, DefaultMaxSSIM)
	return t
}

// Scores are the raw measurements between two images.
type Scores struct {
	// Hamming is the pHash distance, 0 (same) … 64.
	Hamming int `json:"phash_distance"`
	// SSIM is the mean structural similarity, about -1 … 1 (1 = identical).
	SSIM float64 `json:"ssim"`
}

// Result is a comparison outcome.
type Result struct {
	Scores
	// Similar is true when either measure says the images are too alike.
	Similar bool `json:"similar"`
	// Reason names the measure(s) that matched: "phash", "ssim" or
	// "phash+ssim"; empty when not similar.
	Reason string `json:"reason,omitempty"`
}

// Hamming returns the number of differing bits between two hashes.
func Hamming(a, b uint64) int { return bits.OnesCount64(a ^ b) }

// PHash returns the 64-bit DCT perceptual hash of img.
//
// The image is area-averaged to 32×32 grayscale, transformed with a 2-D
// DCT-II, and the 8×8 lowest frequencies excluding the DC row and column
// (which only carry overall brightness) are compared with their median: bit
// i is set when coefficient i is above it. This is the pHash.org variant.
func PHash(img image.Image) uint64 {
	// Going through the same equalised 256 px copy as NewSignature keeps
	// PHash(img) and NewSignature(img).PHash bit-identical.
	return phashPlane(equalize(ssimPlane(img)).resize(32, 32))
}

func phashPlane(p plane) uint64 {
	const n = 32
	const k = 9 // frequencies 0..8; 0 is dropped below
	var cos [k][n]float64
	for u := 0; u < k; u++ {
		for x := 0; x < n; x++ {
			cos[u][x] = math.Cos(float64(2*x+1) * float64(u) * math.Pi / (2 * n))
		}
	}
	// Rows first: rowF[y][u] = Σx f(x,y)·cos(u,x).
	var rowF [n][k]float64
	for y := 0; y < n; y++ {
		for u := 0; u < k; u++ {
			s := 0.0
			for x := 0; x < n; x++ {
				s += p.pix[y*n+x] * cos[u][x]
			}
			rowF[y][u] = s
		}
	}
	coeffs := make([]float64, 0, 64)
	for v := 1; v < k; v++ {
		for u := 1; u < k; u++ {
			s := 0.0
			for y := 0; y < n; y++ {
				s += rowF[y][u] * cos[v][y]
			}
			coeffs = append(coeffs, s)
		}
	}
	sorted := append([]float64(nil), coeffs...)
	sort.Float64s(sorted)
	median := (sorted[31] + sorted[32]) / 2
	var h uint64
	for i, c := range coeffs {
		if c > median {
			h |= 1 << uint(i)
		}
	}
	return h
}

// SSIM returns the mean structural similarity of a and b, computed on
// grayscale copies downscaled so the longer side is at most 256 px, with an
// 11×11 Gaussian window (σ = 1.5) and the standard constants K1 = 0.01,
// K2 = 0.03 (Wang et al. 2004). b is resampled to a's downscaled size, so
// images of different aspect ratio are compared stretched.
func SSIM(a, b image.Image) float64 {
	return ssimPlanes(equalize(ssimPlane(a)), equalize(ssimPlane(b)))
}

func ssimPlane(img image.Image) plane {
	w, h := fitLongSide(img.Bounds().Dx(), img.Bounds().Dy(), ssimSide)
	return lumaPlane(img, w, h)
}

// Signature holds what comparisons need from one image, so the QC step can
// compute it once per image and compare it against every other image of the
// batch without decoding or downscaling again. It also caches the blurred
// mean and second moment of its grayscale copy: of SSIM's five Gaussian
// blurs only the cross term depends on both images, so a comparison between
// two signatures of equal size costs one blur instead of five.
type Signature struct {
	// PHash is the image's perceptual hash.
	PHash uint64
	raw   plane     // downscaled luma, for Blank
	gray  plane     // raw after contrast-limited equalisation, for comparisons
	mu    []float64 // blurred luma (valid window positions)
	sq    []float64 // blurred luma²
}

// NewSignature computes the hash and the downscaled grayscale copy of img.
// Both are taken after per-image contrast-limited histogram equalisation
// (see equalize), so that dark pictures are compared by their content.
func NewSignature(img image.Image) *Signature {
	raw := ssimPlane(img)
	g := equalize(raw)
	s := &Signature{PHash: phashPlane(g.resize(32, 32)), raw: raw, gray: g}
	if k := ssimKernel; g.w >= len(k) && g.h >= len(k) {
		sq := make([]float64, len(g.pix))
		for i, v := range g.pix {
			sq[i] = v * v
		}
		s.mu, _, _ = blurValid(g.pix, g.w, g.h, k)
		s.sq, _, _ = blurValid(sq, g.w, g.h, k)
	}
	return s
}

// Compare measures s against o with thresholds t (zero fields take defaults).
func (s *Signature) Compare(o *Signature, t Thresholds) Result {
	t = t.withDefaults()
	r := Result{Scores: Scores{
		Hamming: Hamming(s.PHash, o.PHash),
		SSIM:    s.ssim(o),
	}}
	byHash := t.MinHamming >= 0 && r.Hamming <= t.MinHamming
	bySSIM := r.SSIM >= t.MaxSSIM
	switch {
	case byHash && bySSIM:
		r.Similar, r.Reason = true, "phash+ssim"
	case byHash:
		r.Similar, r.Reason = true, "phash"
	case bySSIM:
		r.Similar, r.Reason = true, "ssim"
	}
	return r
}

// ssimKernel is the SSIM window (11 taps, σ 1.5).
var ssimKernel = gaussian(11, 1.5)

// ssimScratch holds the horizontally blurred cross product of one compare;
// QC compares every new image with each stored one, so it is reused.
var ssimScratch = sync.Pool{New: func() any { return new([]float64) }}

// ssim uses the cached moments when both copies have the same size, and
// the full computation (which resamples o) otherwise. The cross moment is
// blurValid of a·b fused with ssimMean — the same arithmetic in the same
// order, without materialising a·b or the blurred map.
func (s *Signature) ssim(o *Signature) float64 {
	if s.mu == nil || o.mu == nil || s.gray.w != o.gray.w || s.gray.h != o.gray.h {
		return ssimPlanes(s.gray, o.gray)
	}
	const (
		c1 = (0.01 * 255) * (0.01 * 255)
		c2 = (0.03 * 255) * (0.03 * 255)
	)
	k := ssimKernel
	w, h := s.gray.w, s.gray.h
	ow, oh := w-len(k)+1, h-len(k)+1
	buf := ssimScratch.Get().(*[]float64)
	defer ssimScratch.Put(buf)
	if cap(*buf) < ow*h+ow {
		*buf = make([]float64, ow*h+ow)
	}
	mid, row := (*buf)[:ow*h], (*buf)[ow*h:ow*h+ow]
	a, b := s.gray.pix, o.gray.pix
	for y := 0; y < h; y++ {
		ra, rb := a[y*w:(y+1)*w], b[y*w:(y+1)*w]
		dst := mid[y*ow : (y+1)*ow]
		for x := range dst {
			sum := 0.0
			for i, kv := range k {
				sum += ra[x+i] * rb[x+i] * kv
			}
			dst[x] = sum
		}
	}
	total := 0.0
	for y := 0; y < oh; y++ {
		clear(row)
		for i, kv := range k {
			src := mid[(y+i)*ow : (y+i+1)*ow]
			for x := range row {
				row[x] += src[x] * kv
			}
		}
		muA, muB := s.mu[y*ow:(y+1)*ow], o.mu[y*ow:(y+1)*ow]
		sAA, sBB := s.sq[y*ow:(y+1)*ow], o.sq[y*ow:(y+1)*ow]
		for x, sAB := range row {
			ma, mb := muA[x], muB[x]
			va := sAA[x] - ma*ma
			vb := sBB[x] - mb*mb
			cov := sAB - ma*mb
			total += ((2*ma*mb + c1) * (2*cov + c2)) / ((ma*ma + mb*mb + c1) * (va + vb + c2))
		}
	}
	return total / float64(ow*oh)
}

// Blank reports whether the image is blank, solid or carries too little
// detail to be a usable scene (see Blank).
func (s *Signature) Blank() (bool, string) { return blankPlane(s.raw) }

// Compare measures a against b with thresholds t (zero fields take defaults).
func Compare(a, b image.Image, t Thresholds) Result {
	return NewSignature(a).Compare(NewSignature(b), t)
}

// Similar is Compare reduced to its verdict and scores.
func Similar(a, b image.Image, t Thresholds) (bool, Scores) {
	r := Compare(a, b, t)
	return r.Similar, r.Scores
}

// ssimPlanes computes mean SSIM over the valid (fully covered) window
// positions. b is resampled to a's size first.
func ssimPlanes(a, b plane) float64 {
	b = b.resize(a.w, a.h)
	if a.w == 0 || a.h == 0 {
		return 1
	}
	const (
		c1 = (0.01 * 255) * (0.01 * 255)
		c2 = (0.03 * 255) * (0.03 * 255)
	)
	kernel := gaussian(11, 1.5)
	if a.w < len(kernel) || a.h < len(kernel) {
		// Too small for a window: fall back to one global window.
		kernel = nil
	}
	n := len(a.pix)
	aa := make([]float64, n)
	bb := make([]float64, n)
	ab := make([]float64, n)
	for i := range a.pix {
		aa[i] = a.pix[i] * a.pix[i]
		bb[i] = b.pix[i] * b.pix[i]
		ab[i] = a.pix[i] * b.pix[i]
	}
	if kernel == nil {
		mu := func(s []float64) float64 {
			t := 0.0
			for _, v := range s {
				t += v
			}
			return t / float64(len(s))
		}
		ma, mb := mu(a.pix), mu(b.pix)
		va, vb, cov := mu(aa)-ma*ma, mu(bb)-mb*mb, mu(ab)-ma*mb
		return ((2*ma*mb + c1) * (2*cov + c2)) / ((ma*ma + mb*mb + c1) * (va + vb + c2))
	}
	muA, w, h := blurValid(a.pix, a.w, a.h, kernel)
	muB, _, _ := blurValid(b.pix, a.w, a.h, kernel)
	sAA, _, _ := blurValid(aa, a.w, a.h, kernel)
	sBB, _, _ := blurValid(bb, a.w, a.h, kernel)
	sAB, _, _ := blurValid(ab, a.w, a.h, kernel)
	return ssimMean(muA, muB, sAA, sBB, sAB, w*h)
}

// ssimMean averages the SSIM map from blurred means, second moments and
// cross moment.
func ssimMean(muA, muB, sAA, sBB, sAB []float64, n int) float64 {
	const (
		c1 = (0.01 * 255) * (0.01 * 255)
		c2 = (0.03 * 255) * (0.03 * 255)
	)
	total := 0.0
	for i := 0; i < n; i++ {
		ma, mb := muA[i], muB[i]
		va := sAA[i] - ma*ma
		vb := sBB[i] - mb*mb
		cov := sAB[i] - ma*mb
		total += ((2*ma*mb + c1) * (2*cov + c2)) / ((ma*ma + mb*mb + c1) * (va + vb + c2))
	}
	return total / float64(n)
}

// gaussian returns a normalised 1-D Gaussian kernel.
func gaussian(size int, sigma float64) []float64 {
	k := make([]float64, size)
	c := float64(size-1) / 2
	sum := 0.0
	for i := range k {
		d := float64(i) - c
		k[i] = math.Exp(-d * d / (2 * sigma * sigma))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	return k
}

// blurValid applies the separable kernel and keeps only positions where the
// window lies fully inside the image (no border guessing).
func blurValid(src []float64, w, h int, k []float64) ([]float64, int, int) {
	ow, oh := w-len(k)+1, h-len(k)+1
	mid := make([]float64, ow*h)
	for y := 0; y < h; y++ {
		row := src[y*w : (y+1)*w]
		for x := 0; x < ow; x++ {
			s := 0.0
			for i, kv := range k {
				s += row[x+i] * kv
			}
			mid[y*ow+x] = s
		}
	}
	out := make([]float64, ow*oh)
	for y := 0; y < oh; y++ {
		dst := out[y*ow : (y+1)*ow]
		for i, kv := range k {
			s := mid[(y+i)*ow : (y+i+1)*ow]
			for x := range dst {
				dst[x] += s[x] * kv
			}
		}
	}
	return out, ow, oh
}
