package similarity

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"testing"

	dimg "github.com/disintegration/imaging"
	"github.com/stretchr/testify/require"
)

// fill paints r with c.
func fill(m draw.Image, r image.Rectangle, c color.Color) {
	draw.Draw(m, r, &image.Uniform{c}, image.Point{}, draw.Src)
}

// disc paints a filled circle.
func disc(m *image.RGBA, cx, cy, rad int, c color.RGBA) {
	for y := cy - rad; y <= cy+rad; y++ {
		for x := cx - rad; x <= cx+rad; x++ {
			if (x-cx)*(x-cx)+(y-cy)*(y-cy) <= rad*rad && image.Pt(x, y).In(m.Rect) {
				m.SetRGBA(x, y, c)
			}
		}
	}
}

// dayScene draws a daytime village street: gradient sky, sun, houses,
// a field with furrows and a street light.
func dayScene(w, h int, seed uint64) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(seed, 1))
	horizon := h * 11 / 20
	for y := 0; y < horizon; y++ {
		t := float64(y) / float64(horizon)
		fill(m, image.Rect(0, y, w, y+1), color.RGBA{uint8(90 + 100*t), uint8(150 + 80*t), 235, 255})
	}
	disc(m, w*4/5, h/6, w/14, color.RGBA{255, 240, 180, 255})
	for y := horizon; y < h; y++ {
		g := uint8(110 + 40*((y/(h/40+1))%2))
		fill(m, image.Rect(0, y, w, y+1), color.RGBA{70, g, 50, 255})
	}
	for i := 0; i < 7; i++ {
		x := rng.IntN(w * 3 / 4)
		bw, bh := w/12+rng.IntN(w/12), h/10+rng.IntN(h/8)
		fill(m, image.Rect(x, horizon-bh, x+bw, horizon), color.RGBA{uint8(150 + rng.IntN(80)), 120, 100, 255})
		fill(m, image.Rect(x+bw/3, horizon-bh/2, x+bw/2, horizon-bh/4), color.RGBA{40, 40, 60, 255})
	}
	// Street light: pole and head.
	fill(m, image.Rect(w/3, h/5, w/3+w/60+1, h*9/10), color.RGBA{60, 60, 70, 255})
	fill(m, image.Rect(w/3-w/20, h/5, w/3+w/15, h/5+h/40+1), color.RGBA{30, 30, 40, 255})
	return m
}

// nightScene draws a night road through mountains: dark sky with stars,
// triangular ridges, a perspective road with a centre line.
func nightScene(w, h int, seed uint64) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(seed, 2))
	fill(m, m.Rect, color.RGBA{10, 14, 40, 255})
	for i := 0; i < 300; i++ {
		x, y := rng.IntN(w), rng.IntN(h/2)
		fill(m, image.Rect(x, y, x+2, y+2), color.RGBA{230, 230, 255, 255})
	}
	for x := 0; x < w; x++ {
		ridge := h/3 + int(float64(h)/6*math.Abs(math.Sin(float64(x)/float64(w)*7)))
		fill(m, image.Rect(x, ridge, x+1, h), color.RGBA{25, 45, 35, 255})
	}
	for y := h / 2; y < h; y++ {
		t := float64(y-h/2) / float64(h/2)
		half := int(float64(w) * (0.05 + 0.45*t))
		fill(m, image.Rect(w/2-half, y, w/2+half, y+1), color.RGBA{80, 80, 85, 255})
		if (y/(h/24+1))%2 == 0 {
			fill(m, image.Rect(w/2-2, y, w/2+2, y+1), color.RGBA{240, 220, 80, 255})
		}
	}
	disc(m, w/6, h/8, w/20, color.RGBA{240, 240, 210, 255})
	return m
}

func reencodeJPEG(t *testing.T, img image.Image, q int) image.Image {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}))
	out, err := jpeg.Decode(&buf)
	require.NoError(t, err)
	return out
}

func roundTripPNG(t *testing.T, img image.Image) image.Image {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	out, err := png.Decode(&buf)
	require.NoError(t, err)
	return out
}

func TestHamming(t *testing.T) {
	t.Parallel()
	require.Equal(t, 0, Hamming(0xdeadbeef, 0xdeadbeef))
	require.Equal(t, 64, Hamming(0, ^uint64(0)))
	require.Equal(t, 2, Hamming(0b1010, 0b0000))
}

func TestSimilarVariantsOfOneImage(t *testing.T) {
	t.Parallel()
	base := dayScene(1024, 1024, 7)
	tests := []struct {
		name string
		make func(t *testing.T) image.Image
	}{
		{"identical", func(t *testing.T) image.Image { return base }},
		{"png round trip", func(t *testing.T) image.Image { return roundTripPNG(t, base) }},
		{"jpeg q90", func(t *testing.T) image.Image { return reencodeJPEG(t, base, 90) }},
		{"jpeg q60", func(t *testing.T) image.Image { return reencodeJPEG(t, base, 60) }},
		{"resized 95%", func(t *testing.T) image.Image { return dimg.Resize(base, 973, 973, dimg.Lanczos) }},
		{"resized to 512 and jpeg", func(t *testing.T) image.Image {
			return reencodeJPEG(t, dimg.Resize(base, 512, 512, dimg.Linear), 80)
		}},
		{"slightly brighter", func(t *testing.T) image.Image { return dimg.AdjustBrightness(base, 5) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			other := tt.make(t)
			r := Compare(base, other, Thresholds{})
			require.True(t, r.Similar, "scores %+v", r)
			require.LessOrEqual(t, r.Hamming, DefaultMinHamming)
			require.GreaterOrEqual(t, r.SSIM, DefaultMaxSSIM)
			similar, scores := Similar(base, other, Thresholds{})
			require.True(t, similar)
			require.Equal(t, r.Scores, scores)
		})
	}
}

func TestDifferentScenes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b image.Image
	}{
		{"day vs night", dayScene(1024, 1024, 1), nightScene(1024, 1024, 1)},
		{"day vs night other sizes", dayScene(1024, 768, 2), nightScene(1536, 1024, 3)},
		{"night vs day mirrored", nightScene(800, 800, 4), dimg.FlipH(dayScene(800, 800, 4))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := Compare(tt.a, tt.b, Thresholds{})
			require.False(t, r.Similar, "scores %+v", r)
			require.Greater(t, r.Hamming, DefaultMinHamming)
			require.Less(t, r.SSIM, DefaultMaxSSIM)
			require.Empty(t, r.Reason)
		})
	}
}

func TestThresholds(t *testing.T) {
	t.Parallel()
	a, b := dayScene(512, 512, 1), nightScene(512, 512, 1)
	r := Compare(a, b, Thresholds{})
	// Raising MinHamming above the measured distance makes the pair similar by hash only.
	strict := Compare(a, b, Thresholds{MinHamming: r.Hamming, MaxSSIM: 2})
	require.True(t, strict.Similar)
	require.Equal(t, "phash", strict.Reason)
	// SSIM only: hash disabled, SSIM threshold below the measured value.
	bySSIM := Compare(a, b, Thresholds{MinHamming: -1, MaxSSIM: r.SSIM - 0.01})
	require.True(t, bySSIM.Similar)
	require.Equal(t, "ssim", bySSIM.Reason)
	same := Compare(a, a, Thresholds{})
	require.Equal(t, "phash+ssim", same.Reason)
	require.Equal(t, 0, same.Hamming)
	require.InDelta(t, 1.0, same.SSIM, 1e-9)
}

func TestSignatureMatchesFunctions(t *testing.T) {
	t.Parallel()
	img := dayScene(640, 480, 9)
	s := NewSignature(img)
	require.Equal(t, PHash(img), s.PHash)
	other := nightScene(640, 480, 9)
	require.InDelta(t, SSIM(img, other), s.Compare(NewSignature(other), Thresholds{}).SSIM, 1e-12)
}

func TestBlank(t *testing.T) {
	t.Parallel()
	solid := image.NewRGBA(image.Rect(0, 0, 1024, 1024))
	fill(solid, solid.Rect, color.RGBA{255, 255, 255, 255})
	red := image.NewNRGBA(image.Rect(0, 0, 300, 200))
	fill(red, red.Rect, color.NRGBA{200, 20, 20, 255})
	gradient := image.NewGray(image.Rect(0, 0, 1024, 1024))
	for y := 0; y < 1024; y++ {
		for x := 0; x < 1024; x++ {
			gradient.SetGray(x, y, color.Gray{uint8((x + y) / 8)})
		}
	}
	dot := image.NewRGBA(image.Rect(0, 0, 1000, 1000))
	fill(dot, dot.Rect, color.RGBA{250, 250, 250, 255})
	fill(dot, image.Rect(480, 480, 520, 520), color.RGBA{0, 0, 0, 255})
	noise := image.NewGray(image.Rect(0, 0, 512, 512))
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range noise.Pix {
		noise.Pix[i] = uint8(rng.IntN(256))
	}

	tests := []struct {
		name   string
		img    image.Image
		blank  bool
		reason string
	}{
		{"solid white", solid, true, "solid"},
		{"solid red jpeg", reencodeJPEG(t, red, 50), true, "solid"},
		{"empty", image.NewRGBA(image.Rect(0, 0, 0, 0)), true, "empty"},
		{"smooth gradient", gradient, true, "low_detail"},
		{"white with a dot", dot, true, "near_uniform"},
		{"day scene", dayScene(1024, 1024, 3), false, ""},
		{"night scene jpeg", reencodeJPEG(t, nightScene(1024, 1024, 3), 75), false, ""},
		{"noise", noise, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			blank, reason := Blank(tt.img)
			require.Equal(t, tt.blank, blank, reason)
			require.Equal(t, tt.reason, reason)
		})
	}
}

func TestOddShapesDoNotPanic(t *testing.T) {
	t.Parallel()
	sizes := []image.Rectangle{
		image.Rect(0, 0, 1, 1), image.Rect(0, 0, 5, 3), image.Rect(0, 0, 3000, 7),
		image.Rect(10, 20, 40, 60), image.Rect(0, 0, 11, 11),
	}
	for _, r := range sizes {
		img := image.NewRGBA(r)
		for i := range img.Pix {
			img.Pix[i] = uint8(i * 31)
		}
		ycc := image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
		res := Compare(img, ycc, Thresholds{})
		require.False(t, math.IsNaN(res.SSIM), "rect %v", r)
		_, _ = Blank(img)
		_ = PHash(ycc)
	}
}

func BenchmarkPHash1024(b *testing.B) {
	img := reencodeJPEGB(b, dayScene(1024, 1024, 1))
	b.ResetTimer()
	for b.Loop() {
		_ = PHash(img)
	}
}

func BenchmarkSSIM1024(b *testing.B) {
	x := reencodeJPEGB(b, dayScene(1024, 1024, 1))
	y := reencodeJPEGB(b, nightScene(1024, 1024, 1))
	b.ResetTimer()
	for b.Loop() {
		_ = SSIM(x, y)
	}
}

func BenchmarkSignatureCompare(b *testing.B) {
	x := NewSignature(dayScene(1024, 1024, 1))
	y := NewSignature(nightScene(1024, 1024, 1))
	b.ResetTimer()
	for b.Loop() {
		_ = x.Compare(y, Thresholds{})
	}
}

func reencodeJPEGB(b *testing.B, img image.Image) image.Image {
	var buf bytes.Buffer
	require.NoError(b, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}))
	out, err := jpeg.Decode(&buf)
	require.NoError(b, err)
	return out
}

func BenchmarkNewSignature1024(b *testing.B) {
	img := reencodeJPEGB(b, dayScene(1024, 1024, 1))
	b.ResetTimer()
	for b.Loop() {
		_ = NewSignature(img)
	}
}

func BenchmarkBlank1024(b *testing.B) {
	img := reencodeJPEGB(b, dayScene(1024, 1024, 1))
	b.ResetTimer()
	for b.Loop() {
		_, _ = Blank(img)
	}
}
