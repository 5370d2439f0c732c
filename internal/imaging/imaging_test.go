package imaging

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSniff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		head string
		want Format
		ok   bool
	}{
		{"jpeg", "\xFF\xD8\xFF\xE0\x00\x10JFIF\x00", JPEG, true},
		{"png", "\x89PNG\r\n\x1a\n\x00\x00\x00\x0d", PNG, true},
		{"webp", "RIFF\x10\x00\x00\x00WEBP", WebP, true},
		{"riff wave", "RIFF\x10\x00\x00\x00WAVE", "", false},
		{"gif", "GIF89a\x01\x00\x01\x00\x00\x00", "", false},
		{"html", "<!DOCTYPE html>", "", false},
		{"short jpeg", "\xFF\xD8", "", false},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, ok := Sniff([]byte(tt.head))
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, f)
		})
	}
	require.Equal(t, "image/webp", WebP.MIME())
	require.Equal(t, "jpg", JPEG.Ext())
}

// marked returns a 3×2 image whose top-left pixel is red, the rest black.
func marked() *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	for i := 3; i < len(m.Pix); i += 4 {
		m.Pix[i] = 255
	}
	m.SetNRGBA(0, 0, color.NRGBA{255, 0, 0, 255})
	return m
}

func TestOrient(t *testing.T) {
	t.Parallel()
	// Where the stored top-left marker must land after applying each
	// orientation, per the EXIF spec's row/column meaning.
	tests := []struct {
		o      int
		w, h   int
		marker image.Point
	}{
		{1, 3, 2, image.Pt(0, 0)},
		{2, 3, 2, image.Pt(2, 0)},
		{3, 3, 2, image.Pt(2, 1)},
		{4, 3, 2, image.Pt(0, 1)},
		{5, 2, 3, image.Pt(0, 0)},
		{6, 2, 3, image.Pt(1, 0)},
		{7, 2, 3, image.Pt(1, 2)},
		{8, 2, 3, image.Pt(0, 2)},
		{9, 3, 2, image.Pt(0, 0)},
	}
	for _, tt := range tests {
		out := Orient(marked(), tt.o)
		require.Equal(t, tt.w, out.Bounds().Dx(), "orientation %d", tt.o)
		require.Equal(t, tt.h, out.Bounds().Dy(), "orientation %d", tt.o)
		r, _, _, _ := out.At(tt.marker.X, tt.marker.Y).RGBA()
		require.Equal(t, uint32(0xffff), r, "orientation %d marker at %v", tt.o, tt.marker)
	}
}

func TestVariants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		img         image.Image
		previewW    int
		previewH    int
		cornerWhite bool
	}{
		{"landscape photo", image.NewYCbCr(image.Rect(0, 0, 2000, 1500), image.YCbCrSubsampleRatio420), 800, 600, false},
		{"portrait", image.NewGray(image.Rect(0, 0, 900, 1800)), 400, 800, false},
		{"small stays small", image.NewGray(image.Rect(0, 0, 300, 200)), 300, 200, false},
		{"transparent png flattened on white", image.NewNRGBA(image.Rect(0, 0, 1000, 1000)), 800, 800, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := MakeVariants(tt.img)
			require.NoError(t, err)
			thumb, err := jpeg.Decode(bytes.NewReader(v.Thumb))
			require.NoError(t, err)
			require.Equal(t, image.Rect(0, 0, ThumbSize, ThumbSize), thumb.Bounds())
			prev, err := jpeg.Decode(bytes.NewReader(v.Preview))
			require.NoError(t, err)
			require.Equal(t, image.Rect(0, 0, tt.previewW, tt.previewH), prev.Bounds())
			r, _, _, _ := prev.At(0, 0).RGBA()
			require.Equal(t, tt.cornerWhite, r > 0xf000)
		})
	}
}

func TestDecodeAny(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, image.NewGray(image.Rect(0, 0, 64, 32))))
	img, f, err := DecodeAny(bytes.NewReader(buf.Bytes()), 0)
	require.NoError(t, err)
	require.Equal(t, PNG, f)
	require.Equal(t, 64, img.Bounds().Dx())

	_, _, err = DecodeAny(bytes.NewReader(buf.Bytes()), 1000)
	require.ErrorContains(t, err, "exceeds")
	_, _, err = DecodeAny(bytes.NewReader([]byte("<svg/>")), 0)
	require.ErrorContains(t, err, "not a JPEG")
}
