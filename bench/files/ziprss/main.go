// Command ziprss measures the peak resident memory of the whole process
// while a zip of about 1 GB of images streams to a writer, the acceptance
// check of issue 6 (RSS under 100 MB).
//
//	go run ./bench/files/ziprss                       # 200 × 5 MB to io.Discard
//	go run ./bench/files/ziprss -out /tmp/batch.zip   # to a file, then: unzip -t /tmp/batch.zip
//
// The input files are random-ish bytes (incompressible, like JPEG data)
// generated once into -dir and reused by later runs. Linux only (reads
// /proc/self/status).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/ludeng/ludeng/internal/zipstream"
)

func main() {
	dir := flag.String("dir", filepath.Join(os.TempDir(), "ziprss-input"), "directory of input files (generated when missing)")
	n := flag.Int("n", 200, "number of files")
	size := flag.Int64("size", 5_000_000, "bytes per file")
	out := flag.String("out", "", "write the zip to this file instead of io.Discard")
	flag.Parse()
	if err := run(*dir, *n, *size, *out); err != nil {
		log.Fatal(err)
	}
}

func run(dir string, n int, size int64, out string) error {
	start := time.Now()
	paths, err := ensureInputs(dir, n, size)
	if err != nil {
		return err
	}
	fmt.Printf("inputs: %d × %d bytes in %s (%s)\n", n, size, dir, time.Since(start).Round(time.Millisecond))
	fmt.Printf("before zip: %s\n", memLine())

	// Group the files in folders of 4 like a batch download.
	entries := make([]zipstream.Entry, len(paths))
	rows := make([][]string, len(paths))
	for i, p := range paths {
		folder := zipstream.FolderName(i/4+1, "河北邢台县", fmt.Sprintf("%d月", (i/4)%12+1), "土路")
		name := fmt.Sprintf("%s/%d.jpg", folder, i%4+1)
		entries[i] = zipstream.Entry{
			Path:     name,
			Size:     size,
			Modified: time.Now(),
			Open:     func() (io.ReadCloser, error) { return os.Open(p) },
		}
		rows[i] = []string{name, fmt.Sprint(i/4 + 1), "太阳能路灯 sunny morning"}
	}
	var w io.Writer = io.Discard
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	cw := &countWriter{w: w}
	start = time.Now()
	err = zipstream.Write(context.Background(), cw, entries, zipstream.Options{
		Manifest: &zipstream.Manifest{Columns: []string{"file", "group", "prompt"}, Rows: rows},
	})
	if err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Printf("zip: %d bytes (%.2f GB) in %s, %.0f MB/s\n", cw.n, float64(cw.n)/1e9, el.Round(time.Millisecond), float64(cw.n)/1e6/el.Seconds())
	fmt.Printf("after zip:  %s\n", memLine())
	return nil
}

// ensureInputs creates the input files unless they already exist with the
// right size. A 1 MiB buffer is refilled per file, so generation stays
// small in memory too.
func ensureInputs(dir string, n int, size int64) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	rng := rand.NewChaCha8([32]byte{'l', 'u', 'd', 'e', 'n', 'g'})
	buf := make([]byte, 1<<20)
	paths := make([]string, n)
	for i := range paths {
		p := filepath.Join(dir, fmt.Sprintf("img%04d.jpg", i))
		paths[i] = p
		if st, err := os.Stat(p); err == nil && st.Size() == size {
			continue
		}
		f, err := os.Create(p)
		if err != nil {
			return nil, err
		}
		for left := size; left > 0; {
			rng.Read(buf)
			k := min(left, int64(len(buf)))
			if _, err := f.Write(buf[:k]); err != nil {
				f.Close()
				return nil, err
			}
			left -= k
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

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

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
