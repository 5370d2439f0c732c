package provider

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"

	"github.com/disintegration/imaging"
	"github.com/ludeng/ludeng/internal/fault"

	_ "golang.org/x/image/webp" // providers and uploads may be WebP
)

// Kind names a provider API family. Each has its own size options.
type Kind string

// The provider kinds.
const (
	KindGemini     Kind = "gemini"
	KindOpenRouter Kind = "openrouter"
	KindOpenAI     Kind = "openai"
	KindKie        Kind = "kie"
	KindSimulator  Kind = "simulator"
)

// Tier is what a provider is asked for and what it returns natively for one
// (aspect, resolution). The client then scales/crops to OutputSize, so every
// provider yields the same exact size and QC checks against one table.
type Tier struct {
	// Aspect is the provider's aspect token ("3:4").
	Aspect string
	// Size is the provider's size token: "1K"/"2K" (Gemini, OpenRouter),
	// "1024x1536" (OpenAI), "1K"/"2K" for kie's resolution field.
	Size string
	// Width and Height are the documented native output size.
	Width, Height int
}

type tierKey struct {
	kind   Kind
	aspect Aspect
	res    int
}

// The documented native sizes (see docs/providers.md): Gemini 3.x / 2.1
// family for gemini and openrouter; gpt-image sizes for openai; the
// nano-banana-edit (2.5 flash, 1K only) table for kie.
var tiers = map[tierKey]Tier{
	{KindGemini, Aspect3x4, 1024}:  {"3:4", "1K", 896, 1200},
	{KindGemini, Aspect3x4, 1536}:  {"3:4", "2K", 1792, 2400},
	{KindGemini, Aspect9x16, 1024}: {"9:16", "1K", 768, 1376},
	{KindGemini, Aspect9x16, 1536}: {"9:16", "2K", 1536, 2752},
	{KindGemini, Aspect1x1, 1024}:  {"1:1", "1K", 1024, 1024},
	{KindGemini, Aspect1x1, 1536}:  {"1:1", "2K", 2048, 2048},

	{KindOpenAI, Aspect3x4, 1024}:  {"3:4", "1024x1536", 1024, 1536},
	{KindOpenAI, Aspect3x4, 1536}:  {"3:4", "1024x1536", 1024, 1536},
	{KindOpenAI, Aspect9x16, 1024}: {"9:16", "1024x1536", 1024, 1536},
	{KindOpenAI, Aspect9x16, 1536}: {"9:16", "1024x1536", 1024, 1536},
	{KindOpenAI, Aspect1x1, 1024}:  {"1:1", "1024x1024", 1024, 1024},
	{KindOpenAI, Aspect1x1, 1536}:  {"1:1", "1024x1024", 1024, 1024},

	{KindKie, Aspect3x4, 1024}:  {"3:4", "1K", 864, 1184},
	{KindKie, Aspect3x4, 1536}:  {"3:4", "2K", 1792, 2400},
	{KindKie, Aspect9x16, 1024}: {"9:16", "1K", 768, 1344},
	{KindKie, Aspect9x16, 1536}: {"9:16", "2K", 1536, 2752},
	{KindKie, Aspect1x1, 1024}:  {"1:1", "1K", 1024, 1024},
	{KindKie, Aspect1x1, 1536}:  {"1:1", "2K", 2048, 2048},
}

// OutputSize is the exact size of every delivered image: the long side is
// resolution, the short side follows the aspect (all multiples of 16).
func OutputSize(a Aspect, resolution int) (w, h int, err error) {
	if resolution != Resolution1024 && resolution != Resolution1536 {
		return 0, 0, fault.New(fault.Invalid, "resolution_invalid", "Resolution must be 1024 or 1536.").
			With("resolution", resolution)
	}
	switch a {
	case Aspect3x4:
		return resolution * 3 / 4, resolution, nil
	case Aspect9x16:
		return resolution * 9 / 16, resolution, nil
	case Aspect1x1:
		return resolution, resolution, nil
	}
	return 0, 0, fault.New(fault.Invalid, "aspect_invalid", "Aspect must be 3:4, 9:16 or 1:1.").
		With("aspect", string(a))
}

// TierFor returns what to ask kind for. OpenRouter uses Gemini's table.
func TierFor(kind Kind, a Aspect, resolution int) (Tier, error) {
	if kind == KindOpenRouter || kind == KindSimulator {
		kind = KindGemini
	}
	t, ok := tiers[tierKey{kind, a, resolution}]
	if !ok {
		return Tier{}, fmt.Errorf("no size tier for %s %s@%d", kind, a, resolution)
	}
	return t, nil
}

// Fit scales img to cover w×h and crops the centre, so any provider's native
// size becomes the exact output size without distortion.
func Fit(img image.Image, w, h int) image.Image {
	b := img.Bounds()
	if b.Dx() == w && b.Dy() == h {
		return img
	}
	return imaging.Fill(img, w, h, imaging.Center, imaging.Lanczos)
}

// Normalize decodes data, fits it to w×h and re-encodes it in its own format
// (JPEG stays JPEG at quality 92, everything else becomes PNG). Data already
// at the right size is returned untouched. An undecodable image is an error.
// A JPEG is fitted in Y'CbCr (fitYCbCr), other images by Fit.
func Normalize(data []byte, w, h int) (out []byte, mime string, err error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("decode image header: %w", err)
	}
	// Refuse decompression bombs before a full decode.
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > 50_000_000 {
		return nil, "", fmt.Errorf("image is %dx%d", cfg.Width, cfg.Height)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("decode image: %w", err)
	}
	if cfg.Width == w && cfg.Height == h && (format == "jpeg" || format == "png") {
		return data, "image/" + format, nil
	}
	if y, ok := img.(*image.YCbCr); ok && format == "jpeg" {
		if out := fitYCbCr(y, w, h); out != nil {
			return Encode(out, true)
		}
	}
	return Encode(Fit(img, w, h), format == "jpeg")
}

// Encode writes img as JPEG (quality 92) or PNG.
func Encode(img image.Image, asJPEG bool) ([]byte, string, error) {
	var buf bytes.Buffer
	if asJPEG {
		// image/jpeg only has fast paths for RGBA and YCbCr; an opaque NRGBA
		// (what imaging returns) has the same bytes as an RGBA, and the
		// generic path costs one allocation per pixel.
		if n, ok := img.(*image.NRGBA); ok && opaque(n) {
			img = &image.RGBA{Pix: n.Pix, Stride: n.Stride, Rect: n.Rect}
		}
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 92}); err != nil {
			return nil, "", fmt.Errorf("encode jpeg: %w", err)
		}
		return buf.Bytes(), "image/jpeg", nil
	}
	if err := png.Encode(&buf, img); err != nil {
		return nil, "", fmt.Errorf("encode png: %w", err)
	}
	return buf.Bytes(), "image/png", nil
}

func opaque(n *image.NRGBA) bool {
	for i := 3; i < len(n.Pix); i += 4 {
		if n.Pix[i] != 0xff {
			return false
		}
	}
	return true
}
