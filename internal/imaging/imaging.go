// Package imaging knows the three image formats ludeng accepts and makes the
// derived sizes every stored picture gets: a 150×150 centre-cropped thumbnail
// and a preview whose longer side is at most 800 px, both JPEG.
//
// Variants are made once, when an upload or a generated result is stored,
// and served as files afterwards: resizing on every request would put a full
// decode (tens of MB) behind each gallery tile.
//
// The format is chosen by magic bytes (Sniff), never by name or declared
// content type, and each decoder is called directly rather than through
// image.Decode's global registry, so the accepted set is exactly
// JPEG/PNG/WebP no matter what other packages register.
package imaging

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"

	dimg "github.com/disintegration/imaging"
	"golang.org/x/image/webp"
)

// Format is an accepted image container.
type Format string

// The accepted formats.
const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
	WebP Format = "webp"
)

// MIME returns the media type of f.
func (f Format) MIME() string {
	switch f {
	case JPEG:
		return "image/jpeg"
	case PNG:
		return "image/png"
	case WebP:
		return "image/webp"
	}
	return "application/octet-stream"
}

// Ext returns the usual file extension of f, without a dot.
func (f Format) Ext() string {
	switch f {
	case JPEG:
		return "jpg"
	case PNG:
		return "png"
	case WebP:
		return "webp"
	}
	return "bin"
}

// SniffLen is how many leading bytes Sniff needs.
const SniffLen = 12

// Sniff identifies the format from the first bytes of a file.
func Sniff(head []byte) (Format, bool) {
	switch {
	case len(head) >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF:
		return JPEG, true
	case len(head) >= 8 && string(head[:8]) == "\x89PNG\r\n\x1a\n":
		return PNG, true
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return WebP, true
	}
	return "", false
}

// ErrUnknownFormat is returned for a Format value outside the three known ones.
var ErrUnknownFormat = errors.New("imaging: unknown format")

// DecodeConfig reads only the header of an image of format f: its
// dimensions and colour model, without allocating the pixel buffer.
func DecodeConfig(f Format, r io.Reader) (image.Config, error) {
	switch f {
	case JPEG:
		return jpeg.DecodeConfig(r)
	case PNG:
		return png.DecodeConfig(r)
	case WebP:
		return webp.DecodeConfig(r)
	}
	return image.Config{}, ErrUnknownFormat
}

// Decode fully decodes an image of format f.
func Decode(f Format, r io.Reader) (image.Image, error) {
	switch f {
	case JPEG:
		return jpeg.Decode(r)
	case PNG:
		return png.Decode(r)
	case WebP:
		return webp.Decode(r)
	}
	return nil, ErrUnknownFormat
}

// Orient returns img transformed so that EXIF orientation o (1–8) becomes
// the normal orientation. Values outside 2–8 return img unchanged.
func Orient(img image.Image, o int) image.Image {
	switch o {
	case 2:
		return dimg.FlipH(img)
	case 3:
		return dimg.Rotate180(img)
	case 4:
		return dimg.FlipV(img)
	case 5:
		return dimg.Transpose(img)
	case 6:
		return dimg.Rotate270(img)
	case 7:
		return dimg.Transverse(img)
	case 8:
		return dimg.Rotate90(img)
	}
	return img
}

// Opaque reports whether every pixel of img is fully opaque. Image types
// that know it answer directly; others are assumed translucent, which only
// costs a flatten.
func Opaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	return false
}

// Variant sizes.
const (
	// ThumbSize is the side of the square thumbnail.
	ThumbSize = 150
	// PreviewMaxSide bounds the longer side of the preview.
	PreviewMaxSide = 800
	// VariantQuality is the JPEG quality of thumbnails and previews: they
	// are viewed small, and 82 keeps a preview around 100 kB.
	VariantQuality = 82
)

// Thumbnail returns the ThumbSize×ThumbSize centre crop of img, scaled to
// cover the square, flattened onto white.
func Thumbnail(img image.Image) image.Image {
	return flatten(dimg.Fill(img, ThumbSize, ThumbSize, dimg.Center, dimg.Lanczos))
}

// Preview returns img scaled down so its longer side is at most
// PreviewMaxSide (never up), flattened onto white.
func Preview(img image.Image) image.Image {
	b := img.Bounds()
	if b.Dx() > PreviewMaxSide || b.Dy() > PreviewMaxSide {
		img = dimg.Fit(img, PreviewMaxSide, PreviewMaxSide, dimg.Lanczos)
	}
	return flatten(img)
}

// flatten composites a translucent image onto white, because JPEG has no
// alpha and the encoder would otherwise turn transparent areas black.
func flatten(img image.Image) image.Image {
	if Opaque(img) {
		return img
	}
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Rect, &image.Uniform{color.White}, image.Point{}, draw.Src)
	draw.Draw(out, out.Rect, img, b.Min, draw.Over)
	return out
}

// EncodeJPEG writes img as a baseline JPEG of the given quality. Metadata is
// never written: Go's encoder emits no EXIF, which is how stored files lose
// GPS and personal fields.
func EncodeJPEG(w io.Writer, img image.Image, quality int) error {
	if err := jpeg.Encode(w, flatten(img), &jpeg.Options{Quality: quality}); err != nil {
		return fmt.Errorf("encode jpeg: %w", err)
	}
	return nil
}

// Variants are the encoded derived sizes of one picture.
type Variants struct {
	// Thumb is the 150×150 JPEG thumbnail.
	Thumb []byte
	// Preview is the ≤800 px JPEG preview.
	Preview []byte
}

// MakeVariants encodes the thumbnail and preview of an already decoded and
// oriented image. The thumbnail is cut from the preview, not the original:
// imaging.Fill crops before it resizes, and cropping a 12 MP original makes
// a 36 MB NRGBA copy, while the 800 px preview has detail enough for 150 px.
func MakeVariants(img image.Image) (Variants, error) {
	var v Variants
	preview := Preview(img)
	var buf bytes.Buffer
	if err := EncodeJPEG(&buf, Thumbnail(preview), VariantQuality); err != nil {
		return v, fmt.Errorf("thumbnail: %w", err)
	}
	v.Thumb = bytes.Clone(buf.Bytes())
	buf.Reset()
	if err := EncodeJPEG(&buf, preview, VariantQuality); err != nil {
		return v, fmt.Errorf("preview: %w", err)
	}
	v.Preview = buf.Bytes()
	return v, nil
}

// DecodeAny sniffs and decodes a whole image from r, for trusted inputs
// such as generated results (uploads go through package upload, which
// checks dimensions before decoding). maxPixels > 0 refuses larger headers.
func DecodeAny(r io.ReadSeeker, maxPixels int64) (image.Image, Format, error) {
	head := make([]byte, SniffLen)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, "", fmt.Errorf("read header: %w", err)
	}
	f, ok := Sniff(head[:n])
	if !ok {
		return nil, "", fmt.Errorf("imaging: not a JPEG, PNG or WebP image")
	}
	if maxPixels > 0 {
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return nil, "", fmt.Errorf("rewind: %w", err)
		}
		cfg, err := DecodeConfig(f, r)
		if err != nil {
			return nil, "", fmt.Errorf("decode %s header: %w", f, err)
		}
		if int64(cfg.Width)*int64(cfg.Height) > maxPixels {
			return nil, "", fmt.Errorf("imaging: %dx%d exceeds %d pixels", cfg.Width, cfg.Height, maxPixels)
		}
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, "", fmt.Errorf("rewind: %w", err)
	}
	img, err := Decode(f, r)
	if err != nil {
		return nil, "", fmt.Errorf("decode %s: %w", f, err)
	}
	return img, f, nil
}

// CardWidth is the width of a contact-sheet card: twice the ~200 CSS px a
// grid column shows, so it stays sharp on 2× screens (a 3:4 image → 400×533).
const CardWidth = 400

// Card returns img scaled to CardWidth wide at its own aspect ratio (never
// up, never cropped), flattened onto white: the grid shows the whole
// picture, product included.
func Card(img image.Image) image.Image {
	if img.Bounds().Dx() > CardWidth {
		img = dimg.Resize(img, CardWidth, 0, dimg.Lanczos)
	}
	return flatten(img)
}
