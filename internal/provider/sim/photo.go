package sim

import (
	"bytes"
	"image"
	"image/color"
	"math"

	"github.com/disintegration/imaging"

	_ "image/jpeg" // product photos
	_ "image/png"

	_ "golang.org/x/image/webp"
)

// cutout decodes a product photo, makes a plain light background
// transparent (product shots are usually on white) and trims to the product.
func cutout(data []byte) (*image.NRGBA, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if cfg.Width*cfg.Height > 40_000_000 {
		return nil, errTooLarge
	}
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	// Work at ≤ 1200 px: the product never covers more than that.
	if b := src.Bounds(); max(b.Dx(), b.Dy()) > 1200 {
		src = imaging.Fit(src, 1200, 1200, imaging.Linear)
	}
	img := imaging.Clone(src)
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	// Background = average of the four corners, if they agree and are light.
	var bg [3]float64
	corners := [][2]int{{0, 0}, {w - 1, 0}, {0, h - 1}, {w - 1, h - 1}}
	var cs []color.NRGBA
	for _, c := range corners {
		p := img.NRGBAAt(c[0], c[1])
		cs = append(cs, p)
		bg[0] += float64(p.R) / 4
		bg[1] += float64(p.G) / 4
		bg[2] += float64(p.B) / 4
	}
	uniform := true
	for _, p := range cs {
		if math.Abs(float64(p.R)-bg[0])+math.Abs(float64(p.G)-bg[1])+math.Abs(float64(p.B)-bg[2]) > 45 {
			uniform = false
		}
	}
	if uniform && bg[0]+bg[1]+bg[2] > 3*200 {
		for i := 0; i < len(img.Pix); i += 4 {
			d := math.Abs(float64(img.Pix[i])-bg[0]) + math.Abs(float64(img.Pix[i+1])-bg[1]) + math.Abs(float64(img.Pix[i+2])-bg[2])
			switch {
			case d < 30:
				img.Pix[i+3] = 0
			case d < 60:
				img.Pix[i+3] = uint8(float64(img.Pix[i+3]) * (d - 30) / 30)
			}
		}
	}
	// Trim to the opaque bounding box so the product stands on the ground.
	minX, minY, maxX, maxY := w, h, -1, -1
	for y := range h {
		for x := range w {
			if img.Pix[y*img.Stride+x*4+3] > 40 {
				minX, minY = min(minX, x), min(minY, y)
				maxX, maxY = max(maxX, x), max(maxY, y)
			}
		}
	}
	if maxX < minX || maxY < minY {
		return nil, errEmpty
	}
	return imaging.Crop(img, image.Rect(minX, minY, maxX+1, maxY+1)), nil
}

func scaleNRGBA(img image.Image, w, h int) *image.NRGBA {
	return imaging.Resize(img, w, h, imaging.Linear)
}

type simError string

func (e simError) Error() string { return string(e) }

const (
	errTooLarge = simError("product photo too large")
	errEmpty    = simError("product photo has no visible product")
)
