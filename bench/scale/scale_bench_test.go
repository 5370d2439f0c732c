// Package scale_test measures what scaling out costs per operation (issue
// 15): the cluster limiter's round trip per generation call on PostgreSQL,
// and the blob store on S3 (SeaweedFS on loopback) against local disk for
// an upload, an image serve and a 32-image zip. Each benchmark reports
// p50 and p99 besides the mean.
//
//	LUDENG_TEST_DATABASE_URL=postgres:///db?host=/var/run/postgresql \
//	LUDENG_TEST_S3_ENDPOINT=http://127.0.0.1:8333 LUDENG_TEST_S3_ACCESS_KEY_ID=… LUDENG_TEST_S3_SECRET_ACCESS_KEY=… \
//	go test -run '^$' -bench . -benchtime 200x ./bench/scale/
//
// .ci/scale.sh starts such a SeaweedFS; docs/benchmarks.md has the numbers.
package scale_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/clusterlimit"
	"github.com/ludeng/ludeng/internal/config"
	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/store/storetest"
	"github.com/ludeng/ludeng/internal/zipstream"
)

// latencies collects per-operation durations and reports p50/p99.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B) {
	if len(l.d) == 0 {
		return
	}
	slices.Sort(l.d)
	q := func(p float64) float64 { return float64(l.d[int(p*float64(len(l.d)-1))].Microseconds()) }
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}

// BenchmarkClusterLimiter is the overhead one generation call pays on
// PostgreSQL: Acquire (one ludeng_limit_acquire round trip, taking a slot
// and a window stamp) plus Release (one DELETE), with limits that never
// make it wait. parallel=8 is eight workers of one node at once.
func BenchmarkClusterLimiter(b *testing.B) {
	if os.Getenv(storetest.EnvURL) == "" {
		b.Skip(storetest.EnvURL + " not set")
	}
	db := storetest.Open(b, store.Postgres)
	l, err := clusterlimit.New(db.W, clusterlimit.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	lim := provider.Limits{RPM: 1_000_000, IPM: 1_000_000, Concurrency: 64}
	for _, par := range []int{1, 8} {
		b.Run("parallel="+strconv.Itoa(par), func(b *testing.B) {
			var lat latencies
			var wg sync.WaitGroup
			work := make(chan struct{})
			for range par {
				wg.Go(func() {
					for range work {
						start := time.Now()
						release, err := l.Acquire(context.Background(), "bench", lim, 1)
						if err != nil {
							b.Error(err)
							return
						}
						release()
						lat.add(time.Since(start))
					}
				})
			}
			b.ResetTimer()
			for range b.N {
				work <- struct{}{}
			}
			close(work)
			wg.Wait()
			lat.report(b)
		})
	}
}

type backend struct {
	name  string
	store blob.Store
}

func backends(b *testing.B) []backend {
	b.Helper()
	local, err := blob.NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	out := []backend{{"local", local}}
	endpoint := os.Getenv("LUDENG_TEST_S3_ENDPOINT")
	if endpoint == "" {
		b.Log("LUDENG_TEST_S3_ENDPOINT not set: local disk only")
		return out
	}
	env := config.NewEnv(func(k string) string {
		switch k {
		case "LUDENG_BLOB_S3_ENDPOINT":
			return endpoint
		case "LUDENG_BLOB_S3_PATH_STYLE":
			return "true"
		case "LUDENG_BLOB_S3_ACCESS_KEY_ID":
			return os.Getenv("LUDENG_TEST_S3_ACCESS_KEY_ID")
		case "LUDENG_BLOB_S3_SECRET_ACCESS_KEY":
			return os.Getenv("LUDENG_TEST_S3_SECRET_ACCESS_KEY")
		}
		return ""
	})
	bucket := os.Getenv("LUDENG_TEST_S3_BUCKET")
	if bucket == "" {
		bucket = "ludeng-test"
	}
	cfg := blob.S3ConfigFromEnv(env, "url", fmt.Sprintf("s3://%s/bench-%d", bucket, time.Now().UnixNano()))
	if err := env.Err(); err != nil {
		b.Fatal(err)
	}
	s, err := blob.NewS3(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Check(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		for info, err := range s.List(context.Background(), "") {
			if err == nil {
				_ = s.Delete(context.Background(), info.Key)
			}
		}
	})
	return append(out, backend{"s3", s})
}

// imageBytes is the size of a typical 1024 px JPEG result.
func imageBytes() []byte {
	b := make([]byte, 1_200_000)
	_, _ = rand.Read(b)
	return b
}

// BenchmarkBlobUpload stores one 1.2 MB image.
func BenchmarkBlobUpload(b *testing.B) {
	data := imageBytes()
	for _, be := range backends(b) {
		b.Run(be.name, func(b *testing.B) {
			var lat latencies
			b.SetBytes(int64(len(data)))
			for i := range b.N {
				start := time.Now()
				if _, err := be.store.Put(context.Background(), "results/bench/g/"+strconv.Itoa(i)+".jpg", bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
				lat.add(time.Since(start))
			}
			lat.report(b)
		})
	}
}

// BenchmarkImageServe serves one 1.2 MB image over HTTP on loopback the
// way the image endpoint does (Get + http.ServeContent).
func BenchmarkImageServe(b *testing.B) {
	data := imageBytes()
	for _, be := range backends(b) {
		b.Run(be.name, func(b *testing.B) {
			if _, err := be.store.Put(context.Background(), "results/bench/g/serve.jpg", bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rc, _, err := be.store.Get(r.Context(), "results/bench/g/serve.jpg")
				if err != nil {
					http.Error(w, err.Error(), 500)
					return
				}
				defer rc.Close()
				w.Header().Set("Content-Type", "image/jpeg")
				http.ServeContent(w, r, "", time.Time{}, rc)
			}))
			defer srv.Close()
			var lat latencies
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				resp, err := http.Get(srv.URL)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if n != int64(len(data)) {
					b.Fatalf("read %d bytes", n)
				}
				lat.add(time.Since(start))
			}
			lat.report(b)
		})
	}
}

// BenchmarkZip32 streams a zip of 32 images read from the store.
func BenchmarkZip32(b *testing.B) {
	data := imageBytes()
	for _, be := range backends(b) {
		b.Run(be.name, func(b *testing.B) {
			var entries []zipstream.Entry
			for i := range 32 {
				key := "results/bench/zip/" + strconv.Itoa(i) + ".jpg"
				if _, err := be.store.Put(context.Background(), key, bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
				entries = append(entries, zipstream.Entry{Path: "g/" + strconv.Itoa(i) + ".jpg", Size: int64(len(data)),
					Open: func() (io.ReadCloser, error) {
						rc, _, err := be.store.Get(context.Background(), key)
						return rc, err
					}})
			}
			var lat latencies
			b.SetBytes(32 * int64(len(data)))
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				if err := zipstream.Write(context.Background(), io.Discard, entries, zipstream.Options{}); err != nil {
					b.Fatal(err)
				}
				lat.add(time.Since(start))
			}
			lat.report(b)
		})
	}
}
