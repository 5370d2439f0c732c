package provider

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// scene is a smooth picture with hard edges: a sky gradient, a dark road
// wedge, a bright disc and a coloured bar.
func scene(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			c := color.RGBA{uint8(60 + 150*fy), uint8(120 + 100*fx), uint8(230 - 120*fy), 255}
			if fy > 0.55 && math.Abs(fx-0.5) < (fy-0.55)*0.9 {
				c = color.RGBA{50, 50, 55, 255}
			}
			if dx, dy := fx-0.7, fy-0.3; dx*dx+dy*dy < 0.01 {
				c = color.RGBA{250, 240, 200, 255}
			}
			if fx > 0.1 && fx < 0.16 && fy > 0.2 && fy < 0.8 {
				c = color.RGBA{200, 30, 40, 255}
			}
			m.SetRGBA(x, y, c)
		}
	}
	return m
}

// toYCbCr converts m with the given chroma subsampling (chroma sampled at
// the top-left pixel of each block, enough for a test picture).
func toYCbCr(m *image.RGBA, r image.YCbCrSubsampleRatio) *image.YCbCr {
	out := image.NewYCbCr(m.Bounds(), r)
	for y := range m.Bounds().Dy() {
		for x := range m.Bounds().Dx() {
			c := m.RGBAAt(x, y)
			yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
			out.Y[out.YOffset(x, y)] = yy
			out.Cb[out.COffset(x, y)] = cb
			out.Cr[out.COffset(x, y)] = cr
		}
	}
	return out
}

// meanDiff is the mean absolute RGB difference of two same-sized images.
func meanDiff(t *testing.T, a, b image.Image) float64 {
	require.Equal(t, a.Bounds().Size(), b.Bounds().Size())
	var sum float64
	ab, bb := a.Bounds(), b.Bounds()
	for y := range ab.Dy() {
		for x := range ab.Dx() {
			r1, g1, b1, _ := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			r2, g2, b2, _ := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			sum += math.Abs(float64(r1>>8)-float64(r2>>8)) + math.Abs(float64(g1>>8)-float64(g2>>8)) +
				math.Abs(float64(b1>>8)-float64(b2>>8))
		}
	}
	return sum / float64(3*ab.Dx()*ab.Dy())
}

// TestFitYCbCrMatchesFit: the plane-wise fit gives the exact size and the
// same picture as the generic Lanczos fill, on the same sampling grid, for
// every chroma layout JPEG decoders produce, down- and upscaling, cropping
// either axis.
func TestFitYCbCrMatchesFit(t *testing.T) {
	t.Parallel()
	// Quarter-scale versions of real cases (the test runs under -race in
	// CI); TestNormalizeJPEG has Gemini's 896×1200 → 768×1024 at full size.
	sizes := []struct{ sw, sh, w, h int }{
		{224, 300, 192, 256}, // Gemini 3:4 1K → 3:4@1024
		{256, 384, 288, 384}, // OpenAI portrait → 3:4@1536 (upscale)
		{225, 299, 144, 256}, // odd source, 9:16 (crop the width)
		{256, 256, 192, 256}, // square source, crop the width
		{344, 192, 256, 256}, // landscape source, square output
	}
	ratios := []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio444,
		image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio440}
	for _, sz := range sizes {
		rgb := scene(sz.sw, sz.sh)
		for _, r := range ratios {
			src := toYCbCr(rgb, r)
			got := fitYCbCr(src, sz.w, sz.h)
			require.NotNil(t, got)
			require.Equal(t, image.Rect(0, 0, sz.w, sz.h), got.Bounds())
			want := Fit(src, sz.w, sz.h)
			// Within rounding: Fit rounds to 8 bits between its passes and
			// clamps in RGB; at quarter scale more pixels sit near edges.
			d := meanDiff(t, got, want)
			require.Less(t, d, 2.0, "%dx%d → %dx%d %v: mean difference %.2f", sz.sw, sz.sh, sz.w, sz.h, r, d)
			// Geometry: on ramps (red along x, green along y) any offset
			// of the sampling grid would show as a signed mean difference.
			ramp := toYCbCr(rampImage(sz.sw, sz.sh), r)
			dx, dy := signedDiff(fitYCbCr(ramp, sz.w, sz.h), Fit(ramp, sz.w, sz.h))
			require.InDelta(t, 0, dx, 0.1, "%dx%d → %dx%d %v: x offset", sz.sw, sz.sh, sz.w, sz.h, r)
			require.InDelta(t, 0, dy, 0.1, "%dx%d → %dx%d %v: y offset", sz.sw, sz.sh, sz.w, sz.h, r)
		}
	}
}

// rampImage is red rising along x and green along y.
func rampImage(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetRGBA(x, y, color.RGBA{uint8(20 + x*200/w), uint8(20 + y*200/h), 128, 255})
		}
	}
	return m
}

// signedDiff is the mean signed difference of red and of green between a
// and b, away from the borders.
func signedDiff(a, b image.Image) (dr, dg float64) {
	s := a.Bounds().Size()
	n := 0
	for y := 8; y < s.Y-8; y++ {
		for x := 8; x < s.X-8; x++ {
			r1, g1, _, _ := a.At(x, y).RGBA()
			r2, g2, _, _ := b.At(x, y).RGBA()
			dr += float64(r1>>8) - float64(r2>>8)
			dg += float64(g1>>8) - float64(g2>>8)
			n++
		}
	}
	return dr / float64(n), dg / float64(n)
}

// TestFitYCbCrFallsBack: layouts it does not handle are left to Fit.
func TestFitYCbCrFallsBack(t *testing.T) {
	t.Parallel()
	src := image.NewYCbCr(image.Rect(10, 10, 110, 110), image.YCbCrSubsampleRatio420)
	require.Nil(t, fitYCbCr(src, 64, 64))
	require.Nil(t, fitYCbCr(&image.YCbCr{SubsampleRatio: image.YCbCrSubsampleRatio(99)}, 64, 64))
}

// TestNormalizeJPEG: a JPEG of the wrong size comes back as a JPEG of the
// exact size showing the same picture; one of the right size untouched.
func TestNormalizeJPEG(t *testing.T) {
	t.Parallel()
	rgb := scene(896, 1200)
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, rgb, &jpeg.Options{Quality: 92}))
	out, mime, err := Normalize(buf.Bytes(), 768, 1024)
	require.NoError(t, err)
	require.Equal(t, "image/jpeg", mime)
	got, err := jpeg.Decode(bytes.NewReader(out))
	require.NoError(t, err)
	require.Equal(t, image.Rect(0, 0, 768, 1024), got.Bounds())
	require.Less(t, meanDiff(t, got, Fit(rgb, 768, 1024)), 3.0)

	same, mime, err := Normalize(out, 768, 1024)
	require.NoError(t, err)
	require.Equal(t, "image/jpeg", mime)
	require.Equal(t, out, same)

	_, _, err = Normalize(buf.Bytes()[:len(buf.Bytes())/2], 768, 1024)
	require.Error(t, err)
}

func BenchmarkFit(b *testing.B) {
	var buf bytes.Buffer
	require.NoError(b, jpeg.Encode(&buf, scene(896, 1200), &jpeg.Options{Quality: 92}))
	src, err := jpeg.Decode(bytes.NewReader(buf.Bytes()))
	require.NoError(b, err)
	b.Run("ycbcr", func(b *testing.B) {
		for b.Loop() {
			fitYCbCr(src.(*image.YCbCr), 768, 1024)
		}
	})
	b.Run("generic", func(b *testing.B) {
		for b.Loop() {
			Fit(src, 768, 1024)
		}
	})
}
