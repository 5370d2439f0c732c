package upload

import (
	"errors"
	"fmt"
	"time"

	"github.com/ludeng/ludeng/internal/config"
)

// Defaults, each overridable through the environment (see ConfigFromEnv).
const (
	// DefaultMaxBytes is the largest accepted file: 5 MiB (DESIGN.md §6).
	DefaultMaxBytes int64 = 5 << 20
	// DefaultMaxPixels bounds width×height before any decoding: 40 MP
	// covers every phone and most cameras that fit in 5 MiB.
	DefaultMaxPixels int64 = 40_000_000
	// DefaultMaxDecodeBytes bounds the estimated memory of one decode (see
	// the package doc's worst-case table). 256 MiB admits a 40 MP baseline
	// JPEG or 8-bit PNG and refuses the pathological progressive 4:4:4,
	// CMYK and 16-bit encodings at that size, whose decoders need 8–20
	// bytes per pixel.
	DefaultMaxDecodeBytes int64 = 256 << 20
	// DefaultMinSide refuses images too small to generate from.
	DefaultMinSide = 256
	// DefaultRecommendedSide: below this short side the upload is accepted
	// with a warning, because generated scenes will show the product soft.
	DefaultRecommendedSide = 1024
	// DefaultMaxAspect refuses banners and strips (longer/shorter side).
	DefaultMaxAspect = 4.0
	// DefaultDecodeConcurrency is how many images are decoded at once.
	DefaultDecodeConcurrency = 2
	// DefaultMaxJPEGScans bounds the scans of a progressive JPEG. libjpeg's
	// and mozjpeg's progressive scripts write 6–10 scans for colour images;
	// a decoder pass per scan makes thousands of tiny scans a CPU bomb.
	DefaultMaxJPEGScans = 32
	// DefaultDecodeTimeout is the wall-clock budget of one full decode.
	DefaultDecodeTimeout = 20 * time.Second
	// DefaultJPEGQuality for the re-encoded original: high enough that the
	// generation model sees no artefacts, ~1.5 bits/pixel.
	DefaultJPEGQuality = 92
)

// Config configures the intake. Zero fields take the defaults above.
type Config struct {
	// MaxBytes is the largest accepted file. Env LUDENG_UPLOAD_MAX_BYTES.
	MaxBytes int64
	// MaxPixels bounds the header's width×height. Env LUDENG_UPLOAD_MAX_PIXELS.
	MaxPixels int64
	// MaxDecodeBytes bounds the estimated decode memory of one image.
	// Env LUDENG_UPLOAD_MAX_DECODE_BYTES.
	MaxDecodeBytes int64
	// MinSide is the smallest accepted short side in pixels.
	// Env LUDENG_UPLOAD_MIN_SIDE.
	MinSide int
	// RecommendedSide: a shorter short side adds a warning.
	// Env LUDENG_UPLOAD_RECOMMENDED_SIDE.
	RecommendedSide int
	// MaxAspect is the largest accepted long/short side ratio.
	// Env LUDENG_UPLOAD_MAX_ASPECT.
	MaxAspect float64
	// DecodeConcurrency bounds simultaneous decodes (the memory-heavy part).
	// Env LUDENG_UPLOAD_DECODE_CONCURRENCY.
	DecodeConcurrency int
	// MaxJPEGScans refuses JPEGs with more scans (SOS markers).
	// Env LUDENG_UPLOAD_MAX_JPEG_SCANS.
	MaxJPEGScans int
	// DecodeTimeout bounds one decode. Env LUDENG_UPLOAD_DECODE_TIMEOUT.
	DecodeTimeout time.Duration
	// JPEGQuality of the stored re-encoded JPEG (1–100).
	JPEGQuality int
	// TempDir receives spooled uploads and re-encoded files before they are
	// stored. Required; use blob.Local.TempDir() so cleanup sweeps it and
	// the disk guard covers it.
	TempDir string
}

// ConfigFromEnv reads the LUDENG_UPLOAD_* variables; TempDir is left for
// the caller (it derives from the data dir).
func ConfigFromEnv(env *config.Env) Config {
	return Config{
		MaxBytes:          env.Bytes("LUDENG_UPLOAD_MAX_BYTES", DefaultMaxBytes),
		MaxPixels:         int64(env.Int("LUDENG_UPLOAD_MAX_PIXELS", int(DefaultMaxPixels), 1, 1<<40)),
		MaxDecodeBytes:    env.Bytes("LUDENG_UPLOAD_MAX_DECODE_BYTES", DefaultMaxDecodeBytes),
		MinSide:           env.Int("LUDENG_UPLOAD_MIN_SIDE", DefaultMinSide, 1, 1<<20),
		RecommendedSide:   env.Int("LUDENG_UPLOAD_RECOMMENDED_SIDE", DefaultRecommendedSide, 1, 1<<20),
		MaxAspect:         env.Float("LUDENG_UPLOAD_MAX_ASPECT", DefaultMaxAspect),
		DecodeConcurrency: env.Int("LUDENG_UPLOAD_DECODE_CONCURRENCY", DefaultDecodeConcurrency, 1, 64),
		MaxJPEGScans:      env.Int("LUDENG_UPLOAD_MAX_JPEG_SCANS", DefaultMaxJPEGScans, 1, 1000),
		DecodeTimeout:     env.Duration("LUDENG_UPLOAD_DECODE_TIMEOUT", DefaultDecodeTimeout),
	}
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxPixels == 0 {
		c.MaxPixels = DefaultMaxPixels
	}
	if c.MaxDecodeBytes == 0 {
		c.MaxDecodeBytes = DefaultMaxDecodeBytes
	}
	if c.MinSide == 0 {
		c.MinSide = DefaultMinSide
	}
	if c.RecommendedSide == 0 {
		c.RecommendedSide = DefaultRecommendedSide
	}
	if c.MaxAspect == 0 {
		c.MaxAspect = DefaultMaxAspect
	}
	if c.DecodeConcurrency == 0 {
		c.DecodeConcurrency = DefaultDecodeConcurrency
	}
	if c.JPEGQuality == 0 {
		c.JPEGQuality = DefaultJPEGQuality
	}
	if c.MaxJPEGScans == 0 {
		c.MaxJPEGScans = DefaultMaxJPEGScans
	}
	if c.DecodeTimeout == 0 {
		c.DecodeTimeout = DefaultDecodeTimeout
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.MaxBytes < 1 {
		errs = append(errs, fmt.Errorf("LUDENG_UPLOAD_MAX_BYTES: must be positive, got %d", c.MaxBytes))
	}
	if c.MaxPixels < 1 || c.MaxDecodeBytes < 1 {
		errs = append(errs, errors.New("LUDENG_UPLOAD_MAX_PIXELS / LUDENG_UPLOAD_MAX_DECODE_BYTES: must be positive"))
	}
	if c.MinSide < 1 || c.RecommendedSide < c.MinSide {
		errs = append(errs, fmt.Errorf("LUDENG_UPLOAD_MIN_SIDE (%d) must be ≥1 and ≤ LUDENG_UPLOAD_RECOMMENDED_SIDE (%d)", c.MinSide, c.RecommendedSide))
	}
	if c.MaxAspect < 1 {
		errs = append(errs, fmt.Errorf("LUDENG_UPLOAD_MAX_ASPECT: must be ≥ 1, got %g", c.MaxAspect))
	}
	if c.DecodeConcurrency < 1 {
		errs = append(errs, errors.New("LUDENG_UPLOAD_DECODE_CONCURRENCY: must be ≥ 1"))
	}
	if c.JPEGQuality < 1 || c.JPEGQuality > 100 {
		errs = append(errs, fmt.Errorf("upload: JPEG quality must be 1–100, got %d", c.JPEGQuality))
	}
	if c.TempDir == "" {
		errs = append(errs, errors.New("upload: TempDir is required"))
	}
	return errors.Join(errs...)
}

// MaxRequestBytes is a body limit for the whole multipart request: the file
// limit plus room for boundaries and part headers. The HTTP layer should
// wrap the body with http.MaxBytesReader at this size.
func (c Config) MaxRequestBytes() int64 {
	return c.withDefaults().MaxBytes + 64<<10
}
