package upload

import (
	"bytes"
	"context"
	"image"
	"testing"

	"github.com/ludeng/ludeng/internal/clamav"
	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/imaging"
	"github.com/stretchr/testify/require"
)

// TestOrientPlanesMatchGeneric checks the plane-wise YCbCr/Gray transform
// against imaging.Orient pixel by pixel, including odd sizes where chroma
// planes round up.
func TestOrientPlanesMatchGeneric(t *testing.T) {
	t.Parallel()
	ratios := []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440,
		image.YCbCrSubsampleRatio411, // falls back to the generic path on transposes
	}
	for _, size := range []image.Point{{7, 5}, {8, 6}, {1, 3}} {
		var imgs []image.Image
		for _, r := range ratios {
			m := image.NewYCbCr(image.Rect(0, 0, size.X, size.Y), r)
			for i := range m.Y {
				m.Y[i] = uint8(i*37 + 11)
			}
			for i := range m.Cb {
				m.Cb[i], m.Cr[i] = uint8(i*53+7), uint8(255-i*29)
			}
			imgs = append(imgs, m)
		}
		g := image.NewGray(image.Rect(0, 0, size.X, size.Y))
		for i := range g.Pix {
			g.Pix[i] = uint8(i * 41)
		}
		imgs = append(imgs, g)
		for _, img := range imgs {
			for o := 1; o <= 8; o++ {
				got, want := orient(img, o), imaging.Orient(img, o)
				if m, ok := img.(*image.YCbCr); ok && size == (image.Point{8, 6}) && m.SubsampleRatio == image.YCbCrSubsampleRatio420 {
					require.IsType(t, &image.YCbCr{}, got, "aligned 4:2:0 stays planar")
				}
				require.Equal(t, want.Bounds().Size(), got.Bounds().Size(), "o=%d %T", o, img)
				for y := 0; y < want.Bounds().Dy(); y++ {
					for x := 0; x < want.Bounds().Dx(); x++ {
						wr, wg, wb, _ := want.At(x, y).RGBA()
						gr, gg, gb, _ := got.At(got.Bounds().Min.X+x, got.Bounds().Min.Y+y).RGBA()
						// imaging goes through 8-bit NRGBA; compare at 8 bits.
						require.Equal(t, [3]uint32{wr >> 8, wg >> 8, wb >> 8}, [3]uint32{gr >> 8, gg >> 8, gb >> 8}, "o=%d size=%v %T at %d,%d", o, size, img, x, y)
					}
				}
			}
		}
	}
}

func TestDecodeSemaphoreHonoursContext(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config, _ *Deps) { c.DecodeConcurrency = 1 })
	b.intake.sem <- struct{}{} // the only decode slot is busy
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := b.intake.Process(ctx, bytes.NewReader(encodeJPEG(t, photo(300, 300, 1), 80)))
		done <- err
	}()
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	<-b.intake.sem
	requireNothingOnDisk(t, b.root)
}

func TestNilClamavClientMeansNoScanner(t *testing.T) {
	t.Parallel()
	var c *clamav.Client
	b := setup(t, func(_ *Config, d *Deps) { d.Scanner = c })
	img, err := b.intake.Process(context.Background(), bytes.NewReader(encodeJPEG(t, photo(300, 300, 1), 80)))
	require.NoError(t, err)
	require.NoError(t, img.Close())
	require.Nil(t, fault.As(err))
}
