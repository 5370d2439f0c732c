package batchview

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/store"
)

func TestSizeKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		size, wantKey, wantType, wantCode string
	}{
		{"", "results/b/g/i.png", "image/png", ""},
		{"full", "results/b/g/i.png", "image/png", ""},
		{"thumb", "results/b/g/i.thumb.jpg", "image/jpeg", ""},
		{"preview", "results/b/g/i.preview.jpg", "image/jpeg", ""},
		{"card", "results/b/g/i.card.jpg", "image/jpeg", ""},
		{"huge", "", "", "bad_size"},
	}
	for _, tc := range tests {
		t.Run(tc.size, func(t *testing.T) {
			t.Parallel()
			key, ctype, err := SizeKey("results/b/g/i.png", "image/png", tc.size)
			if tc.wantCode != "" {
				require.Equal(t, tc.wantCode, fault.As(err).Code)
				require.Equal(t, fault.Invalid, fault.KindOf(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantKey, key)
			require.Equal(t, tc.wantType, ctype)
		})
	}
}

func TestResultURLs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		im   *store.Image
		want ImageURLs
	}{
		{"no result yet", &store.Image{ID: "i"}, ImageURLs{}},
		{"versioned by the result", &store.Image{ID: "i", ResultKey: "results/k.jpg"}, ImageURLs{
			Thumb:    "/api/v1/images/i/content?v=" + ResultTag("results/k.jpg") + "&size=thumb",
			Card:     "/api/v1/images/i/content?v=" + ResultTag("results/k.jpg") + "&size=card",
			Preview:  "/api/v1/images/i/content?v=" + ResultTag("results/k.jpg") + "&size=preview",
			Full:     "/api/v1/images/i/content?v=" + ResultTag("results/k.jpg") + "&size=full",
			Download: "/api/v1/images/i/download"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, ResultURLs(tc.im))
		})
	}
	require.Len(t, ResultTag("a"), 12)
	require.NotEqual(t, ResultTag("a"), ResultTag("b"), "a new result gets new URLs")
}

func TestMakeSizes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	blobs, err := blob.NewLocal(t.TempDir())
	require.NoError(t, err)
	m := image.NewRGBA(image.Rect(0, 0, 1024, 768))
	for y := 0; y < 768; y++ {
		for x := 0; x < 1024; x++ {
			m.Set(x, y, color.RGBA{uint8(x), uint8(y), 90, 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, m, nil))
	const result = "results/b/g/i.jpg"
	_, err = blobs.Put(ctx, result, bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	require.NoError(t, MakeSizes(ctx, blobs, result))
	for _, size := range []string{"thumb", "preview", "card"} {
		key, _, err := SizeKey(result, "image/jpeg", size)
		require.NoError(t, err)
		rc, _, err := blobs.Get(ctx, key)
		require.NoError(t, err, size)
		b, err := io.ReadAll(rc)
		rc.Close()
		require.NoError(t, err)
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
		require.NoError(t, err, size)
		require.Less(t, cfg.Width, 1024, "%s is smaller than the result", size)
	}
	require.Error(t, MakeSizes(ctx, blobs, "results/missing.jpg"))
}
