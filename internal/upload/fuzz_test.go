package upload

import (
	"bytes"
	"context"
	"image"
	"os"
	"testing"

	"github.com/ludeng/ludeng/internal/fault"
	_ "golang.org/x/image/webp" // image.DecodeConfig below must know every stored format
)

// FuzzIntake feeds arbitrary bytes to the intake and checks its contract:
// no panic, either an accepted image whose stored bytes decode to the
// reported size, or a refusal that is a *fault.Error with a known code, and
// in both cases nothing left in the temp directory.
//
//	go test -fuzz=FuzzIntake -fuzztime=15s ./internal/upload
func FuzzIntake(f *testing.F) {
	small := photo(64, 48, 1)
	jpg := encodeJPEG(f, small, 80)
	f.Add(jpg)
	f.Add(withAPP1(jpg, cameraEXIF(6)))
	f.Add(jpg[:len(jpg)/2])
	f.Add(append(append([]byte{}, jpg...), zipArchive(f)...))
	f.Add(encodePNG(f, small))
	f.Add(withPNGEXIF(encodePNG(f, small), cameraEXIF(3)))
	f.Add(pngHeaderOnly(100000, 100000, 8, 6))
	f.Add(pngHeaderOnly(64, 64, 16, 6))
	f.Add(webpFixture(f, "tux.lossless.webp"))
	f.Add(webpWithEXIF(f, webpFixture(f, "blue-purple-pink-large.no-filter.lossy.webp"), 600, 400, cameraEXIF(8)))
	f.Add([]byte("<svg onload=alert(1)>"))
	f.Add([]byte{})

	dir := f.TempDir()
	in, err := New(Config{
		TempDir:         dir,
		MaxBytes:        1 << 20,
		MaxPixels:       1 << 20, // keeps each iteration fast
		MaxDecodeBytes:  32 << 20,
		MinSide:         1,
		RecommendedSide: 1,
		MaxAspect:       1000,
	}, Deps{})
	if err != nil {
		f.Fatal(err)
	}
	known := map[string]bool{
		"upload_too_large": true, "upload_unsupported_type": true, "upload_corrupt": true,
		"upload_too_many_pixels": true, "upload_too_small": true, "upload_bad_aspect": true,
		"upload_empty": true,
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := in.Process(context.Background(), bytes.NewReader(data))
		if err != nil {
			fe := fault.As(err)
			if fe == nil || !known[fe.Code] {
				t.Fatalf("refusal is not a known fault: %v", err)
			}
		} else {
			f, err := img.Open()
			if err != nil {
				t.Fatal(err)
			}
			cfg, _, err := image.DecodeConfig(f)
			f.Close()
			if err != nil {
				t.Fatalf("stored bytes do not decode: %v", err)
			}
			if cfg.Width != img.Width || cfg.Height != img.Height || len(img.SHA256) != 64 {
				t.Fatalf("inconsistent result %+v vs %dx%d", img, cfg.Width, cfg.Height)
			}
			if err := img.Close(); err != nil {
				t.Fatal(err)
			}
		}
		left, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != 0 {
			t.Fatalf("left %d files in the temp dir", len(left))
		}
	})
}
