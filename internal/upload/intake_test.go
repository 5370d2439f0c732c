package upload

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/clamav"
	"github.com/ludeng/ludeng/internal/clamav/clamavtest"
	"github.com/ludeng/ludeng/internal/config"
	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/upload/uploadtest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

type testBundle struct {
	intake *Intake
	store  *blob.Local
	root   string
}

// setup builds an intake whose temp dir is the blob store's, like
// production, with optional config and deps changes.
func setup(t *testing.T, mod func(*Config, *Deps)) testBundle {
	t.Helper()
	root := t.TempDir()
	store, err := blob.NewLocal(root)
	require.NoError(t, err)
	// Small test images keep the race-detector run short; a 500 px
	// recommendation makes ≥500 px images warning-free.
	cfg := Config{TempDir: store.TempDir(), RecommendedSide: 500}
	deps := Deps{Registerer: prometheus.NewRegistry()}
	if mod != nil {
		mod(&cfg, &deps)
	}
	in, err := New(cfg, deps)
	require.NoError(t, err)
	return testBundle{intake: in, store: store, root: root}
}

// requireNothingOnDisk asserts the data dir holds no file at all: no spool,
// no re-encoded temp, no blob.
func requireNothingOnDisk(t *testing.T, root string) {
	t.Helper()
	var files []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	require.Empty(t, files)
}

func requireFault(t *testing.T, err error, kind fault.Kind, code string) *fault.Error {
	t.Helper()
	require.Error(t, err)
	fe := fault.As(err)
	require.NotNil(t, fe, "not a fault: %v", err)
	require.Equal(t, code, fe.Code, "error: %v", err)
	require.Equal(t, kind, fe.Kind)
	return fe
}

func TestCountJPEGScans(t *testing.T) {
	t.Parallel()
	good := encodeJPEG(t, photo(640, 480, 1), 85)
	n, err := countJPEGScans(bytes.NewReader(good), int64(len(good)), 32)
	require.NoError(t, err)
	require.Equal(t, 1, n, "Go's encoder writes one interleaved baseline scan")
	bomb := uploadtest.ScanBombJPEG(1000)
	n, err = countJPEGScans(bytes.NewReader(bomb), int64(len(bomb)), 32)
	require.NoError(t, err)
	require.Equal(t, 33, n, "counting stops one past the limit")
	n, err = countJPEGScans(bytes.NewReader(bomb), int64(len(bomb)), 5000)
	require.NoError(t, err)
	require.Equal(t, 1000, n, "stuffed bytes and restart markers inside scans are data")
}

func TestHostileCorpus(t *testing.T) {
	t.Parallel()
	good := encodeJPEG(t, photo(640, 480, 1), 85)
	tests := []struct {
		name     string
		data     func(t *testing.T) []byte
		kind     fault.Kind
		code     string
		detected string
	}{
		{"zero bytes", func(*testing.T) []byte { return nil }, fault.Invalid, "upload_empty", ""},
		{"5 MiB + 1 byte", func(*testing.T) []byte {
			b := make([]byte, DefaultMaxBytes+1)
			copy(b, good)
			return b
		}, fault.TooLarge, "upload_too_large", ""},
		{"truncated jpeg", func(*testing.T) []byte { return good[:len(good)/2] }, fault.Unprocessable, "upload_corrupt", ""},
		{"jpeg magic only", func(*testing.T) []byte { return []byte("\xFF\xD8\xFF\xE0garbage") }, fault.Unprocessable, "upload_corrupt", ""},
		{"png declaring 100000x100000", func(*testing.T) []byte { return pngHeaderOnly(100000, 100000, 8, 6) }, fault.Unprocessable, "upload_too_many_pixels", ""},
		{"png 16-bit rgba 6000x6000 over decode budget", func(*testing.T) []byte { return pngHeaderOnly(6000, 6000, 16, 6) }, fault.Unprocessable, "upload_too_many_pixels", ""},
		{"png with bad checksum", func(t *testing.T) []byte {
			p := encodePNG(t, photo(300, 300, 2))
			p[len(p)-20] ^= 0xFF
			return p
		}, fault.Unprocessable, "upload_corrupt", ""},
		{"gif named .jpg", func(*testing.T) []byte { return []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00") }, fault.Unsupported, "upload_unsupported_type", "image/gif"},
		{"html named .png", func(*testing.T) []byte {
			return []byte("<!DOCTYPE html><html><script>alert(1)</script></html>")
		}, fault.Unsupported, "upload_unsupported_type", "text/html"},
		{"svg named .jpg", func(*testing.T) []byte {
			return []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`)
		}, fault.Unsupported, "upload_unsupported_type", "image/svg+xml"},
		{"pdf named .webp", func(*testing.T) []byte { return []byte("%PDF-1.7\n1 0 obj\n<<>>\nendobj\n") }, fault.Unsupported, "upload_unsupported_type", "application/pdf"},
		{"elf named .jpg", func(*testing.T) []byte { return minimalELF }, fault.Unsupported, "upload_unsupported_type", "application/x-executable"},
		{"zip named .png", func(t *testing.T) []byte { return zipArchive(t) }, fault.Unsupported, "upload_unsupported_type", "application/zip"},
		{"heic", func(*testing.T) []byte { return []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00") }, fault.Unsupported, "upload_unsupported_type", "image/heic"},
		{"riff wave named .webp", func(*testing.T) []byte { return []byte("RIFF\x24\x00\x00\x00WAVEfmt ") }, fault.Unsupported, "upload_unsupported_type", "application/riff"},
		{"webp header only", func(*testing.T) []byte { return []byte("RIFF\x24\x00\x00\x00WEBPVP8 ") }, fault.Unprocessable, "upload_corrupt", ""},
		{"too small 200x300", func(t *testing.T) []byte { return encodeJPEG(t, photo(200, 300, 3), 80) }, fault.Unprocessable, "upload_too_small", ""},
		{"bad aspect 1500x300", func(t *testing.T) []byte { return encodeJPEG(t, photo(1500, 300, 4), 80) }, fault.Unprocessable, "upload_bad_aspect", ""},
		{"progressive jpeg with 5000 scans", func(*testing.T) []byte { return uploadtest.ScanBombJPEG(5000) }, fault.Unprocessable, "upload_too_many_scans", ""},
		{"progressive jpeg with 33 scans", func(*testing.T) []byte { return uploadtest.ScanBombJPEG(33) }, fault.Unprocessable, "upload_too_many_scans", ""},
		// At the limit the scans are allowed; the bogus entropy data then fails to decode.
		{"progressive jpeg with 32 scans", func(*testing.T) []byte { return uploadtest.ScanBombJPEG(32) }, fault.Unprocessable, "upload_corrupt", ""},
		{"jpeg with corrupt exif and huge frame", func(t *testing.T) []byte {
			// SOF declaring 65535x65535 after a junk APP1.
			b := withAPP1(good, []byte("MM\x00*\xff\xff\xff\xff"))
			i := bytes.Index(b, []byte{0xFF, 0xC0})
			binary.BigEndian.PutUint16(b[i+5:], 65535)
			binary.BigEndian.PutUint16(b[i+7:], 65535)
			return b
		}, fault.Unprocessable, "upload_too_many_pixels", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			img, err := b.intake.Process(context.Background(), bytes.NewReader(tt.data(t)))
			require.Nil(t, img)
			fe := requireFault(t, err, tt.kind, tt.code)
			if tt.detected != "" {
				require.Equal(t, tt.detected, fe.Params["detected"])
			}
			requireNothingOnDisk(t, b.root)
		})
	}
}

func TestAcceptsAndNormalises(t *testing.T) {
	t.Parallel()
	zipBytes := zipArchive(t)
	tests := []struct {
		name       string
		data       func(t *testing.T) []byte
		mime       string
		sourceMIME string
		w, h       int
		warnings   []string
		check      func(t *testing.T, img *Image, stored []byte)
	}{
		{
			name: "plain jpeg", data: func(t *testing.T) []byte { return encodeJPEG(t, photo(800, 600, 1), 85) },
			mime: "image/jpeg", sourceMIME: "image/jpeg", w: 800, h: 600,
		},
		{
			name: "low resolution warns", data: func(t *testing.T) []byte { return encodeJPEG(t, photo(600, 450, 1), 85) },
			mime: "image/jpeg", sourceMIME: "image/jpeg", w: 600, h: 450, warnings: []string{"upload_low_resolution"},
		},
		{
			name: "exif with gps is stripped, camera kept", data: func(t *testing.T) []byte {
				return withAPP1(encodeJPEG(t, photo(600, 500, 5), 85), cameraEXIF(1))
			},
			mime: "image/jpeg", sourceMIME: "image/jpeg", w: 600, h: 500,
			check: func(t *testing.T, img *Image, stored []byte) {
				require.Equal(t, EXIF{
					CameraMake: "Canon", CameraModel: "Canon EOS R6", LensModel: "RF24-105mm F4 L IS USM",
					TakenAt: "2024-07-15T08:29:59+08:00", Orientation: 1, GPSRemoved: true,
					RemovedFields: []string{"artist", "body_serial_number"},
				}, img.EXIF)
				requireNoMetadata(t, stored)
			},
		},
		{
			name: "orientation 6 is applied", data: func(t *testing.T) []byte {
				return withAPP1(encodeJPEG(t, photo(800, 600, 6), 90), cameraEXIF(6))
			},
			mime: "image/jpeg", sourceMIME: "image/jpeg", w: 600, h: 800,
			check: func(t *testing.T, img *Image, stored []byte) {
				require.Equal(t, 6, img.EXIF.Orientation)
				m, err := jpeg.Decode(bytes.NewReader(stored))
				require.NoError(t, err)
				// The marker, stored top-left, is displayed top-right.
				requireRed(t, m, 600-20, 20)
				requireNotRed(t, m, 20, 20)
			},
		},
		{
			name: "jpeg+zip polyglot accepted, zip stripped", data: func(t *testing.T) []byte {
				return append(encodeJPEG(t, photo(600, 600, 7), 85), zipBytes...)
			},
			mime: "image/jpeg", sourceMIME: "image/jpeg", w: 600, h: 600,
			check: func(t *testing.T, img *Image, stored []byte) {
				require.NotContains(t, string(stored), "PK\x03\x04")
				require.NotContains(t, string(stored), "ZIP-PAYLOAD-MARKER")
				require.Less(t, img.Size, img.SourceSize+1<<20)
			},
		},
		{
			name: "png stays png, exif chunk dropped", data: func(t *testing.T) []byte {
				return withPNGEXIF(encodePNG(t, photo(640, 400, 8)), cameraEXIF(3))
			},
			mime: "image/png", sourceMIME: "image/png", w: 640, h: 400, warnings: []string{"upload_low_resolution"},
			check: func(t *testing.T, img *Image, stored []byte) {
				require.True(t, img.EXIF.GPSRemoved)
				require.Equal(t, 3, img.EXIF.Orientation)
				requireNoMetadata(t, stored)
				m, err := png.Decode(bytes.NewReader(stored))
				require.NoError(t, err)
				requireRed(t, m, 640-20, 400-20) // rotated 180°
			},
		},
		{
			name: "lossy webp becomes jpeg", data: func(t *testing.T) []byte {
				return webpFixture(t, "blue-purple-pink-large.no-filter.lossy.webp")
			},
			mime: "image/jpeg", sourceMIME: "image/webp", w: 600, h: 400, warnings: []string{"upload_low_resolution"},
		},
		{
			name: "webp with alpha becomes png", data: func(t *testing.T) []byte {
				return webpFixture(t, "yellow_rose.lossy-with-alpha.webp")
			},
			mime: "image/png", sourceMIME: "image/webp", w: 400, h: 301, warnings: []string{"upload_low_resolution"},
		},
		{
			name: "lossless webp", data: func(t *testing.T) []byte { return webpFixture(t, "tux.lossless.webp") },
			mime: "image/png", sourceMIME: "image/webp", w: 386, h: 395, warnings: []string{"upload_low_resolution"},
		},
		{
			name: "webp with exif orientation 8", data: func(t *testing.T) []byte {
				return webpWithEXIF(t, webpFixture(t, "blue-purple-pink-large.no-filter.lossy.webp"), 600, 400, cameraEXIF(8))
			},
			mime: "image/jpeg", sourceMIME: "image/webp", w: 400, h: 600, warnings: []string{"upload_low_resolution"},
			check: func(t *testing.T, img *Image, stored []byte) {
				require.Equal(t, 8, img.EXIF.Orientation)
				require.True(t, img.EXIF.GPSRemoved)
				requireNoMetadata(t, stored)
			},
		},
		{
			name: "gray jpeg rotated plane-wise", data: func(t *testing.T) []byte {
				g := image.NewGray(image.Rect(0, 0, 640, 480))
				for i := range g.Pix {
					g.Pix[i] = uint8(i % 251)
				}
				return withAPP1(encodeJPEG(t, g, 90), cameraEXIF(5))
			},
			mime: "image/jpeg", sourceMIME: "image/jpeg", w: 480, h: 640, warnings: []string{"upload_low_resolution"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			src := tt.data(t)
			img, err := b.intake.Process(context.Background(), bytes.NewReader(src))
			require.NoError(t, err)
			require.Equal(t, tt.mime, img.MIME)
			require.Equal(t, tt.sourceMIME, img.SourceMIME)
			require.Equal(t, int64(len(src)), img.SourceSize)
			require.Equal(t, tt.w, img.Width)
			require.Equal(t, tt.h, img.Height)
			var codes []string
			for _, w := range img.Warnings {
				codes = append(codes, w.Code)
			}
			require.Equal(t, tt.warnings, codes)

			f, err := img.Open()
			require.NoError(t, err)
			stored, err := io.ReadAll(f)
			require.NoError(t, err)
			f.Close()
			require.Equal(t, img.Size, int64(len(stored)))
			require.Equal(t, img.SHA256, sha(stored))
			cfg, _, err := image.DecodeConfig(bytes.NewReader(stored))
			require.NoError(t, err)
			require.Equal(t, tt.w, cfg.Width)

			thumb, err := jpeg.Decode(bytes.NewReader(img.Thumb))
			require.NoError(t, err)
			require.Equal(t, 150, thumb.Bounds().Dx())
			require.Equal(t, 150, thumb.Bounds().Dy())
			prev, err := jpeg.Decode(bytes.NewReader(img.Preview))
			require.NoError(t, err)
			require.LessOrEqual(t, max(prev.Bounds().Dx(), prev.Bounds().Dy()), 800)

			if tt.check != nil {
				tt.check(t, img, stored)
			}
			require.NoError(t, img.Close())
			require.NoError(t, img.Close())
			requireNothingOnDisk(t, b.root)
		})
	}
}

func requireRed(t *testing.T, m image.Image, x, y int) {
	t.Helper()
	r, g, b, _ := m.At(x, y).RGBA()
	require.True(t, r > 0xC000 && g < 0x4000 && b < 0x4000, "pixel (%d,%d) = %x %x %x, want red", x, y, r, g, b)
}

func requireNotRed(t *testing.T, m image.Image, x, y int) {
	t.Helper()
	r, g, _, _ := m.At(x, y).RGBA()
	require.False(t, r > 0xC000 && g < 0x4000, "pixel (%d,%d) is red", x, y)
}

// requireNoMetadata checks the stored bytes carry no EXIF, no GPS payload
// and none of the personal strings of cameraEXIF.
func requireNoMetadata(t *testing.T, stored []byte) {
	t.Helper()
	s := string(stored)
	for _, needle := range []string{"Exif\x00\x00", "eXIf", "EXIF", "Canon", "Zhang San", "SN-0042-SECRET"} {
		require.NotContains(t, s, needle)
	}
	gps := make([]byte, 0, 24)
	for _, v := range gpsLatitude {
		gps = binary.LittleEndian.AppendUint32(gps, v)
	}
	require.False(t, bytes.Contains(stored, gps), "GPS rationals found in stored bytes")
	if bytes.HasPrefix(stored, []byte{0xFF, 0xD8}) {
		// In JPEG entropy data 0xFF is always stuffed, so FF E1 can only
		// be an APP1 marker.
		require.False(t, bytes.Contains(stored, []byte{0xFF, 0xE1}), "APP1 segment found")
	}
}

func TestExactLimitAccepted(t *testing.T) {
	t.Parallel()
	data := encodeJPEG(t, photo(600, 500, 9), 80)
	b := setup(t, func(c *Config, _ *Deps) { c.MaxBytes = int64(len(data)) })
	img, err := b.intake.Process(context.Background(), bytes.NewReader(data))
	require.NoError(t, err)
	require.NoError(t, img.Close())

	b = setup(t, func(c *Config, _ *Deps) { c.MaxBytes = int64(len(data)) - 1 })
	_, err = b.intake.Process(context.Background(), bytes.NewReader(data))
	fe := requireFault(t, err, fault.TooLarge, "upload_too_large")
	require.Equal(t, int64(len(data))-1, fe.Params["max_bytes"])
	requireNothingOnDisk(t, b.root)
}

// scannerFunc adapts a function to Scanner (a stand-in for clamd where the
// test is about the intake's reaction, not the protocol).
type scannerFunc func(ctx context.Context, r io.Reader) (clamav.Verdict, error)

func (f scannerFunc) Scan(ctx context.Context, r io.Reader) (clamav.Verdict, error) { return f(ctx, r) }

type spaceFunc func(ctx context.Context) error

func (f spaceFunc) Check(ctx context.Context) error { return f(ctx) }

func TestScannerAndDiskGuard(t *testing.T) {
	t.Parallel()
	data := encodeJPEG(t, photo(600, 600, 10), 80)
	tests := []struct {
		name string
		deps func(d *Deps)
		kind fault.Kind
		code string
	}{
		{"infected", func(d *Deps) {
			d.Scanner = scannerFunc(func(ctx context.Context, r io.Reader) (clamav.Verdict, error) {
				got, _ := io.ReadAll(r)
				require.Equal(t, data, got) // the raw bytes are scanned
				return clamav.Verdict{Infected: true, Signature: "Test.Sig"}, nil
			})
		}, fault.Unprocessable, "upload_malware"},
		{"scanner down", func(d *Deps) {
			d.Scanner = scannerFunc(func(context.Context, io.Reader) (clamav.Verdict, error) {
				return clamav.Verdict{}, clamav.ErrUnavailable.Wrap(errors.New("connection refused"))
			})
		}, fault.Unavailable, "scanner_unavailable"},
		{"disk full", func(d *Deps) {
			d.Space = spaceFunc(func(context.Context) error { return blob.ErrDiskFull })
		}, fault.InsufficientStorage, "disk_full"},
		{"real guard over the real disk", func(d *Deps) {
			d.Space = blob.Guard{Dir: os.TempDir(), Min: 1 << 62}
		}, fault.InsufficientStorage, "disk_full"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(_ *Config, d *Deps) { tt.deps(d) })
			_, err := b.intake.Process(context.Background(), bytes.NewReader(data))
			requireFault(t, err, tt.kind, tt.code)
			requireNothingOnDisk(t, b.root)
		})
	}
}

func TestRealClamdRejectsPolyglot(t *testing.T) {
	t.Parallel()
	d := clamavtest.Start(t)
	c, err := clamav.New(clamav.Config{Addr: d.Unix}, nil)
	require.NoError(t, err)
	b := setup(t, func(_ *Config, deps *Deps) { deps.Scanner = c })
	jpg := encodeJPEG(t, photo(600, 600, 11), 80)

	_, err = b.intake.Process(context.Background(), bytes.NewReader(append(append([]byte{}, jpg...), clamavtest.EICAR...)))
	fe := requireFault(t, err, fault.Unprocessable, "upload_malware")
	require.Contains(t, fe.Params["signature"], "Ludeng.Test.EICAR")
	requireNothingOnDisk(t, b.root)

	img, err := b.intake.Process(context.Background(), bytes.NewReader(jpg))
	require.NoError(t, err)
	require.NoError(t, img.Close())
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.intake.Process(ctx, bytes.NewReader(encodeJPEG(t, photo(512, 512, 1), 80)))
	require.ErrorIs(t, err, context.Canceled)
	requireNothingOnDisk(t, b.root)
}

func TestMaxBytesReaderErrorIsTooLarge(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	r := io.MultiReader(strings.NewReader("\xFF\xD8\xFF"), errReader{errors.New("http: request body too large")})
	_, err := b.intake.Process(context.Background(), r)
	requireFault(t, err, fault.TooLarge, "upload_too_large")
	requireNothingOnDisk(t, b.root)
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestConfig(t *testing.T) {
	t.Parallel()
	_, err := New(Config{}, Deps{})
	require.ErrorContains(t, err, "TempDir")
	_, err = New(Config{TempDir: t.TempDir(), MinSide: 2000}, Deps{})
	require.ErrorContains(t, err, "LUDENG_UPLOAD_MIN_SIDE")

	env := config.NewEnv(func(k string) string {
		return map[string]string{
			"LUDENG_UPLOAD_MAX_BYTES":  "10MiB",
			"LUDENG_UPLOAD_MAX_PIXELS": "1000000",
			"LUDENG_UPLOAD_MAX_ASPECT": "3",
		}[k]
	})
	cfg := ConfigFromEnv(env)
	require.NoError(t, env.Err())
	require.Equal(t, int64(10<<20), cfg.MaxBytes)
	require.Equal(t, int64(1_000_000), cfg.MaxPixels)
	require.Equal(t, 3.0, cfg.MaxAspect)
	require.Equal(t, DefaultMinSide, cfg.MinSide)
	require.Equal(t, int64(10<<20+64<<10), cfg.MaxRequestBytes())
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	b := setup(t, func(_ *Config, d *Deps) { d.Registerer = reg })
	_, err := b.intake.Process(context.Background(), strings.NewReader("<html>"))
	require.Error(t, err)
	img, err := b.intake.Process(context.Background(), bytes.NewReader(encodeJPEG(t, photo(512, 512, 1), 80)))
	require.NoError(t, err)
	img.Close()
	require.Equal(t, 1.0, testutil.ToFloat64(b.intake.results.WithLabelValues("upload_unsupported_type")))
	require.Equal(t, 1.0, testutil.ToFloat64(b.intake.results.WithLabelValues("ok")))
}

// multipartBody builds a multipart body from (field, filename, data) parts.
func multipartBody(t *testing.T, parts ...[3]string) (*multipart.Reader, func()) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range parts {
		var pw io.Writer
		var err error
		if p[1] == "" {
			pw, err = w.CreateFormField(p[0])
		} else {
			pw, err = w.CreateFormFile(p[0], p[1])
		}
		require.NoError(t, err)
		pw.Write([]byte(p[2]))
	}
	require.NoError(t, w.Close())
	return multipart.NewReader(&buf, w.Boundary()), func() {}
}

func TestFromMultipart(t *testing.T) {
	t.Parallel()
	jpg := string(encodeJPEG(t, photo(600, 600, 12), 80))
	tests := []struct {
		name     string
		parts    [][3]string
		code     string
		filename string
	}{
		{"one file", [][3]string{{"file", "lamp.jpg", jpg}}, "", "lamp.jpg"},
		{"path traversal name", [][3]string{{"file", "../../../etc/passwd.jpg", jpg}}, "", "passwd.jpg"},
		{"windows traversal name", [][3]string{{"file", `..\..\Windows\win.ini.jpg`, jpg}}, "", "win.ini.jpg"},
		{"image claimed as html by name", [][3]string{{"file", "index.html", jpg}}, "", "index.html"},
		{"second file part", [][3]string{{"file", "a.jpg", jpg}, {"file", "b.jpg", jpg}}, "upload_multiple_parts", ""},
		{"extra form field after file", [][3]string{{"file", "a.jpg", jpg}, {"note", "", "hi"}}, "upload_multiple_parts", ""},
		{"field before file", [][3]string{{"note", "", "hi"}, {"file", "a.jpg", jpg}}, "upload_missing_file", ""},
		{"wrong field name", [][3]string{{"image", "a.jpg", jpg}}, "upload_missing_file", ""},
		{"no parts", nil, "upload_missing_file", ""},
		{"html in file part", [][3]string{{"file", "x.jpg", "<html></html>"}}, "upload_unsupported_type", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			mr, _ := multipartBody(t, tt.parts...)
			img, name, err := b.intake.FromMultipart(context.Background(), mr)
			if tt.code != "" {
				require.Nil(t, img)
				require.Equal(t, tt.code, fault.As(err).Code, "err %v", err)
				requireNothingOnDisk(t, b.root)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.filename, name)
			require.Equal(t, "image/jpeg", img.MIME)
			require.NoError(t, img.Close())
			requireNothingOnDisk(t, b.root)
		})
	}

	b := setup(t, nil)
	broken := "--xyz\r\nContent-Disposition: form-data; name=\"file\"\r\nno header colon\r\n\r\nx\r\n--xyz--\r\n"
	_, _, err := b.intake.FromMultipart(context.Background(), multipart.NewReader(strings.NewReader(broken), "xyz"))
	require.Equal(t, "upload_bad_multipart", fault.As(err).Code)
}

func TestCleanFilename(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"lamp.jpg":                        "lamp.jpg",
		"../../etc/passwd":                "passwd",
		`C:\Users\me\灯.png`:               "灯.png",
		"..":                              "upload",
		"":                                "upload",
		".hidden.jpg":                     "hidden.jpg",
		"a\x00b\r\nc.jpg":                 "abc.jpg",
		`x"; filename*=evil.jpg`:          "x_; filename_=evil.jpg",
		"\u202egpj.exe":                   "gpj.exe",
		strings.Repeat("长", 150) + ".jpg": strings.Repeat("长", 96) + ".jpg",
	}
	for in, want := range tests {
		require.Equal(t, want, CleanFilename(in), "input %q", in)
	}
}

func TestSaveDedupsAndConcurrentUploadsEndWithOneBlob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	data := encodeJPEG(t, photo(600, 600, 13), 85)

	var wg sync.WaitGroup
	results := make([]Stored, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Go(func() {
			img, err := b.intake.Process(ctx, bytes.NewReader(data))
			if err != nil {
				errs[i] = err
				return
			}
			results[i], errs[i] = Save(ctx, b.store, img)
		})
	}
	wg.Wait()
	created := 0
	for i := range results {
		require.NoError(t, errs[i])
		require.Equal(t, results[0].Key, results[i].Key)
		if results[i].Created {
			created++
		}
	}
	require.GreaterOrEqual(t, created, 1)

	var keys []string
	for info, err := range b.store.List(ctx, "") {
		require.NoError(t, err)
		keys = append(keys, info.Key)
	}
	require.ElementsMatch(t, []string{results[0].Key, results[0].ThumbKey, results[0].PreviewKey}, keys)
	tmp, err := os.ReadDir(b.store.TempDir())
	require.NoError(t, err)
	require.Empty(t, tmp)

	// Once stored, a repeat is not created again.
	img, err := b.intake.Process(ctx, bytes.NewReader(data))
	require.NoError(t, err)
	st, err := Save(ctx, b.store, img)
	require.NoError(t, err)
	require.False(t, st.Created)
}

func TestDecodeBudget(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config, _ *Deps) { c.DecodeTimeout = time.Nanosecond })
	img, err := b.intake.Process(context.Background(), bytes.NewReader(encodeJPEG(t, photo(640, 480, 1), 85)))
	require.Nil(t, img)
	fe := requireFault(t, err, fault.Unprocessable, "upload_decode_budget")
	require.Equal(t, 0, fe.Params["decode_timeout_seconds"])
	requireNothingOnDisk(t, b.root)
}
