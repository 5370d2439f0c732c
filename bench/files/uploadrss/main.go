// Command uploadrss measures the peak resident memory of the whole process
// while one large photo goes through the upload intake and into the blob
// store, the acceptance check of issue 6: a 4000×3000 JPEG of about 5 MiB
// must upload with VmHWM ≤ 150 MB.
//
//	go run ./bench/files/uploadrss                 # 4000×3000, ~5 MiB
//	go run ./bench/files/uploadrss -orientation 6  # plus an EXIF rotation
//	go run ./bench/files/uploadrss -parallel 2     # two uploads at once
//
// By default the photo is generated in the measured process, so VmHWM is an
// upper bound including the generator (~30 MB). For a clean number,
// generate first and measure a fresh process:
//
//	go run ./bench/files/uploadrss -gen /tmp/photo.jpg
//	go run ./bench/files/uploadrss -in /tmp/photo.jpg
//
// The test photo is generated procedurally (an image.Image whose At
// computes each pixel), so making it costs no pixel buffer and does not
// distort the measurement. Linux only (reads /proc/self/status).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/upload"
)

func main() {
	w := flag.Int("w", 4000, "width of the generated photo")
	h := flag.Int("h", 3000, "height of the generated photo")
	target := flag.Int64("bytes", upload.DefaultMaxBytes, "largest file size to aim for")
	orientation := flag.Int("orientation", 1, "EXIF orientation to embed (1 = none)")
	parallel := flag.Int("parallel", 1, "concurrent uploads of the same photo")
	in := flag.String("in", "", "use this file instead of generating one")
	gen := flag.String("gen", "", "only generate the photo into this file and exit")
	flag.Parse()
	if *gen != "" {
		q, size, err := generate(*gen, *w, *h, *target, *orientation)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("generated %s: %dx%d JPEG q%d, %d bytes\n", *gen, *w, *h, q, size)
		return
	}
	if err := run(*w, *h, *target, *orientation, *parallel, *in); err != nil {
		log.Fatal(err)
	}
}

func run(w, h int, target int64, orientation, parallel int, in string) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "uploadrss")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	if in == "" {
		in = filepath.Join(dir, "photo.jpg")
		start := time.Now()
		q, size, err := generate(in, w, h, target, orientation)
		if err != nil {
			return err
		}
		fmt.Printf("generated %dx%d JPEG q%d: %d bytes (%.2f MiB) in %s\n", w, h, q, size, float64(size)/(1<<20), time.Since(start).Round(time.Millisecond))
	}
	fmt.Printf("before upload: %s\n", memLine())

	store, err := blob.NewLocal(filepath.Join(dir, "data"))
	if err != nil {
		return err
	}
	intake, err := upload.New(upload.Config{TempDir: store.TempDir()}, upload.Deps{Space: blob.Guard{Dir: store.Root(), Min: blob.DefaultMinFree}})
	if err != nil {
		return err
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, parallel)
	results := make([]string, parallel)
	for i := range parallel {
		wg.Go(func() {
			f, err := os.Open(in)
			if err != nil {
				errs[i] = err
				return
			}
			defer f.Close()
			img, err := intake.Process(ctx, f)
			if err != nil {
				errs[i] = err
				return
			}
			results[i] = fmt.Sprintf("%s %dx%d %d bytes (from %d) sha256 %s…", img.MIME, img.Width, img.Height, img.Size, img.SourceSize, img.SHA256[:12])
			_, errs[i] = upload.Save(ctx, store, img)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	for i := range parallel {
		if errs[i] != nil {
			return errs[i]
		}
		fmt.Printf("stored: %s\n", results[i])
	}
	fmt.Printf("intake+save of %d upload(s): %s\n", parallel, elapsed.Round(time.Millisecond))
	fmt.Printf("after upload:  %s\n", memLine())
	return nil
}

// memLine returns VmHWM (peak RSS) and VmRSS from /proc/self/status plus
// the Go heap's high-water view.
func memLine() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unavailable: " + err.Error()
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") || strings.HasPrefix(line, "VmRSS:") {
			out = append(out, strings.Join(strings.Fields(line), " "))
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out = append(out, fmt.Sprintf("Go HeapSys: %d MB", ms.HeapSys>>20))
	return strings.Join(out, ", ")
}

// photo is a procedural "photo": gradients, texture and fine noise, enough
// entropy that a high-quality JPEG of 12 MP lands near 5 MiB. At computes
// each pixel, so encoding it needs no pixel buffer.
type photo struct{ w, h int }

func (p photo) ColorModel() color.Model { return color.RGBAModel }
func (p photo) Bounds() image.Rectangle { return image.Rect(0, 0, p.w, p.h) }
func (p photo) At(x, y int) color.Color {
	n := uint32(x)*0x9E3779B1 ^ uint32(y)*0x85EBCA77
	n ^= n >> 15
	n *= 0x2C1B3C6D
	n ^= n >> 12
	noise := int(n & 0x1F)
	tex := int(((x/7)^(y/5))&0xF) * 3
	r := 60 + x*120/p.w + noise + tex
	g := 80 + y*100/p.h + noise/2 + tex
	b := 150 - y*60/p.h + noise
	return color.RGBA{clamp(r), clamp(g), clamp(b), 255}
}

func clamp(v int) uint8 { return uint8(max(0, min(255, v))) }

// generate writes the largest-quality JPEG not exceeding target bytes.
func generate(path string, w, h int, target int64, orientation int) (int, int64, error) {
	var app1 []byte
	if orientation > 1 {
		app1 = orientationAPP1(orientation)
	}
	size := func(q int) int64 {
		var c countWriter
		jpeg.Encode(&c, photo{w, h}, &jpeg.Options{Quality: q})
		return int64(c) + int64(len(app1))
	}
	lo, hi := 50, 100 // binary search the quality
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if size(mid) <= target {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var enc bytes.Buffer
	bw := bufio.NewWriter(f)
	if err := jpeg.Encode(&enc, photo{w, h}, &jpeg.Options{Quality: lo}); err != nil {
		return 0, 0, err
	}
	data := enc.Bytes()
	bw.Write(data[:2])
	bw.Write(app1)
	bw.Write(data[2:])
	if err := bw.Flush(); err != nil {
		return 0, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	return lo, st.Size(), nil
}

// orientationAPP1 is an EXIF APP1 segment holding only an Orientation tag.
func orientationAPP1(o int) []byte {
	tiff := []byte("II*\x00\x08\x00\x00\x00\x01\x00")
	entry := make([]byte, 12)
	binary.LittleEndian.PutUint16(entry[0:], 0x0112)
	binary.LittleEndian.PutUint16(entry[2:], 3)
	binary.LittleEndian.PutUint32(entry[4:], 1)
	binary.LittleEndian.PutUint16(entry[8:], uint16(o))
	tiff = append(tiff, entry...)
	tiff = append(tiff, 0, 0, 0, 0)
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	return append(seg, payload...)
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}
