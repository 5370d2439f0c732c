// Package upload is the intake for product photos: it turns an untrusted
// byte stream into a clean, re-encoded image ready to be stored, or refuses
// it with a specific *fault.Error.
//
// # Pipeline
//
// Each step runs only if the previous one passed; the cheap checks come
// first so hostile input costs little:
//
//  1. disk guard (507 disk_full)
//  2. spool to a temp file, at most MaxBytes+1 read (413 upload_too_large,
//     400 upload_empty); memory use is one copy buffer
//  3. malware scan of the raw bytes via clamd, when configured
//     (422 upload_malware, 503 scanner_unavailable)
//  4. magic-byte sniff: JPEG, PNG or WebP only; the file name and the
//     client's Content-Type are never consulted (415 upload_unsupported_type)
//  5. header only (image.DecodeConfig): dimensions, pixel count, short side,
//     aspect ratio and an estimate of decode memory, all before any pixel
//     buffer exists (422 upload_too_many_pixels / too_small / bad_aspect;
//     422 upload_corrupt when the header is unreadable); for JPEG also a
//     count of the scans (SOS markers) by walking the markers, since every
//     progressive scan is a decoder pass over all blocks (422
//     upload_too_many_scans past MaxJPEGScans, default 32)
//  6. EXIF read with a bounded parser of our own: orientation, camera and
//     time are kept; GPS and personal fields are reported as removed
//  7. full decode behind a semaphore of DecodeConcurrency, within a
//     wall-clock budget of DecodeTimeout (422 upload_corrupt,
//     422 upload_decode_budget)
//  8. orientation applied to the pixels, then re-encoded: JPEG (quality 92)
//     for opaque images, PNG for PNG sources and WebP with transparency.
//     The encoders write no metadata, so GPS, personal fields and anything
//     appended to the file (a ZIP in a JPEG+ZIP polyglot, a script after
//     the PNG IEND) are gone from what is stored. The SHA-256 is of these
//     stored bytes.
//  9. 150×150 thumbnail and ≤800 px preview from the decoded pixels, so the
//     image is decoded once.
//
// # Memory
//
// Decoders allocate the full pixel buffer, whose size depends on the
// format, not the file size (a 5 MiB file can declare 40 MP). Per decode,
// in bytes per pixel:
//
//	JPEG baseline YCbCr 4:2:0   1.5     (4000×3000: 18 MB)
//	JPEG baseline YCbCr 4:4:4   3
//	JPEG progressive            ×5 of the above (int32 coefficients kept)
//	JPEG CMYK / YCCK            4, progressive 20
//	PNG 8-bit gray / paletted   1
//	PNG 8-bit RGB(A)            4
//	PNG 16-bit RGB(A)           8
//	WebP lossy (+alpha)         1.5 (2.5)
//	WebP lossless               4
//	EXIF rotation               + the same again for YCbCr/gray images
//	                            (planes are rotated), else + 4 (NRGBA copy)
//
// MaxPixels (40 MP) refuses large headers outright; MaxDecodeBytes
// (256 MiB) refuses images whose estimate from this table is larger. The
// worst case per decode is therefore 256 MiB plus ~20 MB of resize buffers,
// and DecodeConcurrency (2) of them run at once: about 550 MB for a
// deliberately pathological pair. The common case, a 12 MP 4:2:0 phone
// JPEG, needs ~20 MB (36 MB when rotated); the whole process stays under
// 150 MB (bench/files/uploadrss, docs/files.md).
package upload

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/clamav"
	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/imaging"
	"github.com/prometheus/client_golang/prometheus"
)

// Scanner inspects raw upload bytes for malware; *clamav.Client implements
// it. It must return an error rather than a clean verdict when it cannot
// scan.
type Scanner interface {
	Scan(ctx context.Context, r io.Reader) (clamav.Verdict, error)
}

// SpaceChecker refuses work when storage is low; blob.Guard implements it.
type SpaceChecker interface {
	Check(ctx context.Context) error
}

// Deps are the optional collaborators of an Intake.
type Deps struct {
	// Scanner, when not nil, scans every upload. Leave it nil (not a nil
	// *clamav.Client) when LUDENG_CLAMD_ADDR is unset.
	Scanner Scanner
	// Space, when not nil, is checked before anything is written.
	Space SpaceChecker
	// Registerer receives the intake's metrics when not nil:
	// ludeng_upload_results_total{code} ("ok" or the refusal code) and
	// ludeng_upload_duration_seconds.
	Registerer prometheus.Registerer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Warning is a non-fatal observation about an accepted upload.
type Warning struct {
	// Code is stable, e.g. "upload_low_resolution".
	Code string `json:"code"`
	// Detail is an English sentence.
	Detail string `json:"detail"`
	// Params are machine values for the UI.
	Params map[string]any `json:"params,omitempty"`
}

// Image is an accepted upload: the re-encoded bytes wait in a temp file
// until the caller stores them (Save) and calls Close.
type Image struct {
	// SHA256 is the lowercase hex digest of the stored bytes.
	SHA256 string `json:"sha256"`
	// MIME is the stored format's media type (image/jpeg or image/png).
	MIME string `json:"mime"`
	// Ext is the stored format's extension without a dot.
	Ext string `json:"ext"`
	// Width and Height are after orientation.
	Width  int `json:"width"`
	Height int `json:"height"`
	// Size is the stored byte count.
	Size int64 `json:"bytes"`
	// SourceMIME and SourceSize describe what the client sent.
	SourceMIME string `json:"source_mime"`
	SourceSize int64  `json:"source_bytes"`
	// EXIF is the kept metadata.
	EXIF EXIF `json:"exif"`
	// Warnings are non-fatal observations (low resolution…).
	Warnings []Warning `json:"warnings"`
	// Thumb and Preview are the encoded JPEG variants.
	Thumb   []byte `json:"-"`
	Preview []byte `json:"-"`

	path string
}

// Open returns the stored bytes for reading.
func (im *Image) Open() (*os.File, error) {
	if im.path == "" {
		return nil, errors.New("upload: image already closed")
	}
	return os.Open(im.path)
}

// Close removes the temp file. It is safe to call more than once.
func (im *Image) Close() error {
	if im.path == "" {
		return nil
	}
	err := os.Remove(im.path)
	im.path = ""
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Intake validates and normalises uploads. It is safe for concurrent use.
type Intake struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	sem     chan struct{}
	results *prometheus.CounterVec
	seconds prometheus.Histogram
}

// New returns an Intake. cfg zero fields take defaults; TempDir is required.
func New(cfg Config, deps Deps) (*Intake, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// A typed nil (*clamav.Client)(nil) in the interface would pass the
	// nil check and panic on the first upload; treat it as "no scanner".
	if c, ok := deps.Scanner.(*clamav.Client); ok && c == nil {
		deps.Scanner = nil
	}
	in := &Intake{
		cfg:  cfg,
		deps: deps,
		log:  deps.Logger,
		sem:  make(chan struct{}, cfg.DecodeConcurrency),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ludeng_upload_results_total",
			Help: "Upload intake outcomes by code (ok, or the refusal code).",
		}, []string{"code"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ludeng_upload_duration_seconds",
			Help:    "Time to validate, decode and re-encode one upload.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}),
	}
	if in.log == nil {
		in.log = slog.Default()
	}
	if deps.Registerer != nil {
		for _, c := range []prometheus.Collector{in.results, in.seconds} {
			if err := deps.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("upload: register metrics: %w", err)
			}
		}
	}
	return in, nil
}

// Config returns the effective configuration (defaults applied).
func (in *Intake) Config() Config { return in.cfg }

// Process reads one upload from r and returns the accepted image, or a
// *fault.Error refusal. On any error nothing is left on disk; on success
// the caller owns the Image and must Close it.
func (in *Intake) Process(ctx context.Context, r io.Reader) (*Image, error) {
	start := time.Now()
	img, err := in.process(ctx, r)
	in.seconds.Observe(time.Since(start).Seconds())
	code := "ok"
	if err != nil {
		code = "internal"
		if fe := asFault(err); fe != "" {
			code = fe
		}
	}
	in.results.WithLabelValues(code).Inc()
	return img, err
}

func (in *Intake) process(ctx context.Context, r io.Reader) (*Image, error) {
	if in.deps.Space != nil {
		if err := in.deps.Space.Check(ctx); err != nil {
			return nil, err
		}
	}
	spool, size, err := in.spool(ctx, r)
	if err != nil {
		return nil, err
	}
	defer func() {
		spool.Close()
		os.Remove(spool.Name())
	}()

	if in.deps.Scanner != nil {
		v, err := in.deps.Scanner.Scan(ctx, io.NewSectionReader(spool, 0, size))
		if err != nil {
			return nil, fmt.Errorf("scan upload: %w", err)
		}
		if v.Infected {
			in.log.WarnContext(ctx, "upload rejected by malware scanner", slog.String("signature", v.Signature))
			return nil, ErrMalware.With("signature", v.Signature)
		}
	}

	head := make([]byte, 512)
	n, _ := spool.ReadAt(head, 0)
	head = head[:n]
	format, ok := imaging.Sniff(head)
	if !ok {
		return nil, ErrUnsupportedType.With("detected", detect(head)).With("allowed", []string{"image/jpeg", "image/png", "image/webp"})
	}

	cfg, err := imaging.DecodeConfig(format, bufio.NewReader(io.NewSectionReader(spool, 0, size)))
	if err != nil {
		return nil, decodeErr(err)
	}
	var ji jpegInfo
	if format == imaging.JPEG {
		if ji, err = scanJPEG(spool, size); err != nil {
			return nil, ErrCorrupt.Wrap(err)
		}
		// Baseline files have one scan per component at most, but the
		// decoder re-walks repeated scans too, so every JPEG is counted.
		n, err := countJPEGScans(spool, size, in.cfg.MaxJPEGScans)
		if err != nil {
			return nil, ErrCorrupt.Wrap(err)
		}
		if n > in.cfg.MaxJPEGScans {
			return nil, ErrTooManyScans.With("scans_max", in.cfg.MaxJPEGScans)
		}
	}
	if err := in.checkGeometry(format, cfg, ji); err != nil {
		return nil, err
	}

	var meta EXIF
	if raw := rawEXIF(format, spool, size, ji); raw != nil {
		if meta, err = parseEXIF(raw); err != nil {
			// Unreadable EXIF is not a reason to refuse a photo that decodes;
			// it is dropped like all other metadata.
			in.log.DebugContext(ctx, "ignoring unreadable EXIF", slog.String("error", err.Error()))
			meta = EXIF{}
		}
	}
	if est := decodeCost(format, cfg, ji, meta.Orientation); est > in.cfg.MaxDecodeBytes {
		return nil, ErrTooManyPixels.With("width", cfg.Width).With("height", cfg.Height).
			With("max_pixels", in.cfg.MaxPixels).With("estimated_bytes", est).With("max_decode_bytes", in.cfg.MaxDecodeBytes)
	}

	select {
	case in.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-in.sem }()

	return in.normalise(ctx, spool, size, format, cfg, meta)
}

// spool copies at most MaxBytes+1 bytes into a new temp file.
func (in *Intake) spool(ctx context.Context, r io.Reader) (*os.File, int64, error) {
	f, err := os.CreateTemp(in.cfg.TempDir, "upload-*.spool")
	if err != nil {
		return nil, 0, diskErr("create spool file", err)
	}
	fail := func(err error) (*os.File, int64, error) {
		f.Close()
		os.Remove(f.Name())
		return nil, 0, err
	}
	n, err := io.Copy(f, io.LimitReader(ctxReader{ctx, r}, in.cfg.MaxBytes+1))
	if err != nil {
		// The HTTP layer's http.MaxBytesReader reports its limit this way;
		// matching the text keeps net/http out of this domain package.
		if strings.HasSuffix(err.Error(), "request body too large") {
			return fail(ErrTooLarge.With("max_bytes", in.cfg.MaxBytes))
		}
		return fail(diskErr("spool upload", err))
	}
	if n > in.cfg.MaxBytes {
		return fail(ErrTooLarge.With("max_bytes", in.cfg.MaxBytes))
	}
	if n == 0 {
		return fail(ErrEmpty)
	}
	return f, n, nil
}

func (in *Intake) checkGeometry(format imaging.Format, cfg image.Config, ji jpegInfo) error {
	w, h := cfg.Width, cfg.Height
	if w <= 0 || h <= 0 {
		return ErrCorrupt.With("width", w).With("height", h)
	}
	if px := int64(w) * int64(h); px > in.cfg.MaxPixels {
		return ErrTooManyPixels.With("width", w).With("height", h).With("max_pixels", in.cfg.MaxPixels)
	}
	short, long := min(w, h), max(w, h)
	if short < in.cfg.MinSide {
		return ErrTooSmall.With("width", w).With("height", h).With("min_side", in.cfg.MinSide)
	}
	if float64(long)/float64(short) > in.cfg.MaxAspect {
		return ErrBadAspect.With("width", w).With("height", h).With("max_aspect", in.cfg.MaxAspect)
	}
	return nil
}

// decodeCost estimates the bytes the decoder (and orientation) allocate,
// following the table in the package doc.
func decodeCost(format imaging.Format, cfg image.Config, ji jpegInfo, orientation int) int64 {
	px := float64(cfg.Width) * float64(cfg.Height)
	var perPixel float64
	planar := false
	switch {
	case format == imaging.JPEG:
		samples := ji.samples
		if samples == 0 {
			samples = 4 // unknown layout: assume the worst common one
		}
		perPixel = samples
		if ji.progressive {
			perPixel += 4 * samples // one int32 per coefficient
		}
		planar = cfg.ColorModel == color.YCbCrModel || cfg.ColorModel == color.GrayModel
	default:
		perPixel, planar = modelBytes(cfg.ColorModel)
	}
	est := px * perPixel
	if orientation >= 2 && orientation <= 8 {
		if planar {
			est += px * perPixel
		} else {
			est += px * 4
		}
	}
	return int64(math.Min(est, math.MaxInt64/2))
}

// modelBytes returns the decoded bytes per pixel of a colour model and
// whether orientation can transform it plane by plane.
func modelBytes(m color.Model) (float64, bool) {
	switch m {
	case color.GrayModel:
		return 1, true
	case color.Gray16Model:
		return 2, false
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel:
		return 4, false
	case color.RGBA64Model, color.NRGBA64Model:
		return 8, false
	case color.YCbCrModel:
		return 1.5, true // WebP lossy is always 4:2:0
	case color.NYCbCrAModel:
		return 2.5, false
	}
	if _, ok := m.(color.Palette); ok {
		return 1, false
	}
	return 8, false // unknown: assume the largest
}

// normalise decodes, orients, re-encodes and makes variants.
func (in *Intake) normalise(ctx context.Context, spool *os.File, size int64, format imaging.Format, cfg image.Config, meta EXIF) (*Image, error) {
	// The decoders cannot be interrupted, but they read as they go: a reader
	// that fails once the budget is spent stops a decode that is slow for
	// any reason the header checks did not foresee.
	dctx, cancel := context.WithTimeout(ctx, in.cfg.DecodeTimeout)
	defer cancel()
	src, err := imaging.Decode(format, bufio.NewReaderSize(ctxReader{dctx, io.NewSectionReader(spool, 0, size)}, 16<<10))
	if err != nil {
		if ctx.Err() == nil && dctx.Err() != nil {
			return nil, ErrDecodeBudget.With("decode_timeout_seconds", int(in.cfg.DecodeTimeout/time.Second))
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, decodeErr(err)
	}
	if b := src.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, ErrCorrupt.Wrap(fmt.Errorf("decoded %v, header said %dx%d", b, cfg.Width, cfg.Height))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	img := orient(src, meta.Orientation)
	src = nil //nolint:ineffassign,wastedassign // let the GC take the unrotated pixels early

	out := imaging.JPEG
	if format == imaging.PNG || (format == imaging.WebP && !imaging.Opaque(img)) {
		out = imaging.PNG
	}
	stored, err := os.CreateTemp(in.cfg.TempDir, "upload-*.stored")
	if err != nil {
		return nil, diskErr("create stored file", err)
	}
	ok := false
	defer func() {
		if !ok {
			stored.Close()
			os.Remove(stored.Name())
		}
	}()
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(stored, h), 64<<10)
	if out == imaging.JPEG {
		err = jpeg.Encode(bw, img, &jpeg.Options{Quality: in.cfg.JPEGQuality})
	} else {
		err = (&png.Encoder{CompressionLevel: png.DefaultCompression}).Encode(bw, img)
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return nil, diskErr("encode stored image", err)
	}
	st, err := stored.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat stored image: %w", err)
	}
	if err := stored.Close(); err != nil {
		return nil, diskErr("close stored image", err)
	}
	variants, err := imaging.MakeVariants(img)
	if err != nil {
		return nil, fmt.Errorf("make variants: %w", err)
	}
	b := img.Bounds()
	res := &Image{
		SHA256:     hex.EncodeToString(h.Sum(nil)),
		MIME:       out.MIME(),
		Ext:        out.Ext(),
		Width:      b.Dx(),
		Height:     b.Dy(),
		Size:       st.Size(),
		SourceMIME: format.MIME(),
		SourceSize: size,
		EXIF:       meta,
		Warnings:   []Warning{},
		Thumb:      variants.Thumb,
		Preview:    variants.Preview,
		path:       stored.Name(),
	}
	if short := min(b.Dx(), b.Dy()); short < in.cfg.RecommendedSide {
		res.Warnings = append(res.Warnings, Warning{
			Code:   "upload_low_resolution",
			Detail: fmt.Sprintf("The image's shorter side is %d px; %d px or more gives sharper results.", short, in.cfg.RecommendedSide),
			Params: map[string]any{"short_side": short, "recommended_side": in.cfg.RecommendedSide},
		})
	}
	ok = true
	return res, nil
}

// decodeErr classifies a decoder error: formats or features the decoders
// do not implement (arithmetic-coded JPEG, 12-bit…) are 415, everything
// else (truncation, bad checksums, garbage) is 422.
func decodeErr(err error) error {
	var ju jpeg.UnsupportedError
	var pu png.UnsupportedError
	if errors.As(err, &ju) || errors.As(err, &pu) {
		return ErrUnsupportedType.With("detected", "unsupported variant").Wrap(err)
	}
	return ErrCorrupt.Wrap(err)
}

// diskErr classifies write failures: ENOSPC/EDQUOT become 507 disk_full.
func diskErr(what string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return blob.ErrDiskFull.Wrap(fmt.Errorf("%s: %w", what, err))
	}
	if asFault(err) != "" || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// asFault returns the code of a *fault.Error in err's chain, or "".
func asFault(err error) string {
	if fe := fault.As(err); fe != nil {
		return fe.Code
	}
	return ""
}

// ctxReader stops reading when the request context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
