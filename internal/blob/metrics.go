package blob

import (
	"context"
	"errors"
	"io"
	"iter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Instrumented wraps a Store with latency, error and byte metrics labelled
// by backend ("local" or "s3"). It forwards the optional interfaces
// (Toucher, Checker, Presigner) of the store it wraps.
type Instrumented struct {
	Store
	backend string
	latency *prometheus.HistogramVec
	errs    *prometheus.CounterVec
	bytes   *prometheus.CounterVec
}

// Checker is implemented by stores that can tell whether they are
// reachable (S3).
type Checker interface {
	Check(ctx context.Context) error
}

// Presigner is implemented by stores that can hand out short-lived direct
// download URLs (S3).
type Presigner interface {
	PresignGet(ctx context.Context, key string, ttl time.Duration, contentType, disposition string) (string, error)
}

// Instrument registers the metrics on reg (nil registers nothing).
func Instrument(s Store, backend string, reg prometheus.Registerer) (*Instrumented, error) {
	in := &Instrumented{
		Store:   s,
		backend: backend,
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ludeng_blob_op_duration_seconds", Help: "Blob store operation latency (Get: until the first byte is available).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"backend", "op"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ludeng_blob_op_errors_total", Help: "Blob store operations that failed (not-found reads excluded).",
		}, []string{"backend", "op"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ludeng_blob_bytes_total", Help: "Bytes written to (direction=write) and read from (direction=read) the blob store.",
		}, []string{"backend", "direction"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{in.latency, in.errs, in.bytes} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	for _, op := range []string{"put", "get", "stat", "delete", "list", "touch", "check"} {
		in.errs.WithLabelValues(backend, op)
	}
	return in, nil
}

// Unwrap returns the wrapped store.
func (in *Instrumented) Unwrap() Store { return in.Store }

func (in *Instrumented) observe(op string, start time.Time, err error) {
	in.latency.WithLabelValues(in.backend, op).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, ErrNotFound) {
		in.errs.WithLabelValues(in.backend, op).Inc()
	}
}

// Put records the bytes that reached the store.
func (in *Instrumented) Put(ctx context.Context, key string, r io.Reader) (Info, error) {
	start := time.Now()
	info, err := in.Store.Put(ctx, key, r)
	in.observe("put", start, err)
	if err == nil {
		in.bytes.WithLabelValues(in.backend, "write").Add(float64(info.Size))
	}
	return info, err
}

// Get counts bytes as they are read.
func (in *Instrumented) Get(ctx context.Context, key string) (io.ReadSeekCloser, Info, error) {
	start := time.Now()
	rc, info, err := in.Store.Get(ctx, key)
	in.observe("get", start, err)
	if err != nil {
		return nil, info, err
	}
	return &countingReader{ReadSeekCloser: rc, c: in.bytes.WithLabelValues(in.backend, "read")}, info, nil
}

// Stat is timed.
func (in *Instrumented) Stat(ctx context.Context, key string) (Info, error) {
	start := time.Now()
	info, err := in.Store.Stat(ctx, key)
	in.observe("stat", start, err)
	return info, err
}

// Delete is timed.
func (in *Instrumented) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := in.Store.Delete(ctx, key)
	in.observe("delete", start, err)
	return err
}

// List counts a failed listing as one error.
func (in *Instrumented) List(ctx context.Context, prefix string) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		for info, err := range in.Store.List(ctx, prefix) {
			if err != nil {
				in.errs.WithLabelValues(in.backend, "list").Inc()
			}
			if !yield(info, err) {
				return
			}
		}
	}
}

// Touch forwards to the wrapped store when it can touch.
func (in *Instrumented) Touch(ctx context.Context, key string) error {
	t, ok := in.Store.(Toucher)
	if !ok {
		return nil
	}
	start := time.Now()
	err := t.Touch(ctx, key)
	in.observe("touch", start, err)
	return err
}

// Check forwards to the wrapped store; a store without one is always up.
func (in *Instrumented) Check(ctx context.Context) error {
	c, ok := in.Store.(Checker)
	if !ok {
		return nil
	}
	start := time.Now()
	err := c.Check(ctx)
	in.observe("check", start, err)
	return err
}

// Presigner returns the wrapped store's presigner, if it has one.
func (in *Instrumented) Presigner() (Presigner, bool) {
	p, ok := in.Store.(Presigner)
	return p, ok
}

type countingReader struct {
	io.ReadSeekCloser
	c prometheus.Counter
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadSeekCloser.Read(p)
	r.c.Add(float64(n))
	return n, err
}
