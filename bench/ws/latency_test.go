package wsbench_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ludeng/ludeng/internal/ws"
	"github.com/ludeng/ludeng/internal/ws/pghub"
)

// Environment:
//
//	LUDENG_BENCH_SUBSCRIBERS   concurrent clients on the batch (default 1000)
//	LUDENG_BENCH_DATABASE_URL  PostgreSQL for the hub=postgres case (LISTEN/NOTIFY);
//	                           skipped if unset
const batchID = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"

// memLog is the store stand-in: append-only, read by EventsAfter.
type memLog struct {
	mu     sync.RWMutex
	events []ws.Event
}

func (m *memLog) append(data json.RawMessage) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	seq := int64(len(m.events) + 1)
	m.events = append(m.events, ws.Event{Seq: seq, Kind: "progress", At: time.Now(), Data: data})
	return seq
}

func (m *memLog) CanRead(context.Context, string, bool, string) (bool, error) { return true, nil }

func (m *memLog) Snapshot(context.Context, string) (int64, any, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return int64(len(m.events)), map[string]any{"status": "running"}, nil
}

func (m *memLog) EventsAfter(_ context.Context, _ string, after int64, limit int) ([]ws.Event, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if after >= int64(len(m.events)) {
		return nil, nil
	}
	out := m.events[after:]
	return slices.Clone(out[:min(limit, len(out))]), nil
}

func subscribers() int {
	if v := os.Getenv("LUDENG_BENCH_SUBSCRIBERS"); v != "" {
		var n int
		if _, err := fmt.Sscan(v, &n); err == nil && n > 0 {
			return n
		}
	}
	return 1000
}

// BenchmarkDeliveryLatency appends and publishes one event per iteration
// and waits until every subscriber received it; it reports the p50/p99/max
// of the per-client latencies (append → client Read returned) over all
// iterations. Run with -benchtime=200x for 200 events × N clients samples.
func BenchmarkDeliveryLatency(b *testing.B) {
	hubs := map[string]func(b *testing.B) ws.Hub{
		"memory": func(b *testing.B) ws.Hub {
			h, err := ws.NewMemoryHub(0, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = h.Close() })
			return h
		},
	}
	if url := os.Getenv("LUDENG_BENCH_DATABASE_URL"); url != "" {
		hubs["postgres"] = func(b *testing.B) ws.Hub {
			pool, err := pgxpool.New(context.Background(), url)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(pool.Close)
			h, err := pghub.New(pool, pghub.Config{}, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := h.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = h.Stop(context.Background()) })
			return h
		}
	}
	for _, name := range []string{"memory", "postgres"} {
		newHub, ok := hubs[name]
		if !ok {
			continue
		}
		b.Run("hub="+name, func(b *testing.B) { run(b, newHub(b), subscribers()) })
	}
}

func run(b *testing.B, hub ws.Hub, n int) {
	src := &memLog{}
	h, err := ws.NewHandler(ws.Config{SendBuffer: 1024, MaxLifetime: time.Hour}, ws.Deps{
		Source: src, Hub: hub, Registerer: prometheus.NewRegistry(),
		Authenticate: func(*http.Request) (string, bool, error) { return "bench", false, nil },
	})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.MaxHeaderBytes = 1 << 16
	srv.Start()
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	// appended[seq] is the append time in ns; written before Publish.
	appended := make([]atomic.Int64, b.N+1)
	var mu sync.Mutex
	lat := make([]time.Duration, 0, n*b.N)
	received := make(chan struct{}, n)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var ready sync.WaitGroup
	var done sync.WaitGroup
	for i := 0; i < n; i++ {
		c, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			b.Fatalf("dial %d: %v", i, err)
		}
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"subscribe","batch_id":"`+batchID+`"}`)); err != nil {
			b.Fatal(err)
		}
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			defer c.CloseNow()
			local := make([]time.Duration, 0, b.N)
			defer func() {
				mu.Lock()
				lat = append(lat, local...)
				mu.Unlock()
			}()
			for {
				_, data, err := c.Read(ctx)
				if err != nil {
					return
				}
				now := time.Now()
				var m struct {
					Type string `json:"type"`
					Seq  int64  `json:"seq"`
				}
				if json.Unmarshal(data, &m) != nil {
					continue
				}
				if m.Type == "snapshot" {
					ready.Done()
					continue
				}
				local = append(local, now.Sub(time.Unix(0, appended[m.Seq].Load())))
				received <- struct{}{}
			}
		}()
	}
	ready.Wait()

	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		appended[i].Store(time.Now().UnixNano())
		seq := src.append(json.RawMessage(`{"done":1}`))
		if err := hub.Publish(ctx, batchID, seq); err != nil {
			b.Fatal(err)
		}
		for k := 0; k < n; k++ {
			<-received
		}
	}
	b.StopTimer()
	cancel()
	done.Wait()

	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	b.ReportMetric(float64(q(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(q(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(n), "subscribers")
}
