// Package pipeline_test measures a whole batch through the pipeline: the
// fake Gemini API answers each image after 2 s, the fake DeepSeek after
// 0.2 s, generation concurrency is 5, and an 8-group batch (32 images) is
// timed from submit to its terminal state, on SQLite and (with
// LUDENG_TEST_DATABASE_URL) on PostgreSQL. Acceptance: within
// 1.1 × (14 s + enhancer time) + 1 s, i.e. ≈ 16.6 s with one 0.2 s enhance
// round.
//
//	go test -run '^$' -bench . -benchtime 1x ./bench/pipeline/
//
// The fakes render a group's four variants from the prompt alone and some
// are pHash-close to each other, which QC would reject and regenerate;
// LUDENG_BENCH_QC=on keeps the similarity check (the time then includes
// those retries), the default measures the pipeline with decode, size and
// blank checks only.
package pipeline_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	pooldata "github.com/ludeng/ludeng/data/pool"
	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/pipeline"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/poolsync"
	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/provider/fake"
	"github.com/ludeng/ludeng/internal/similarity"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/store/storetest"
)

type ledger struct{ db *store.DB }

func (l ledger) Begin(ctx context.Context, e provider.LedgerEntry) (string, error) {
	return l.db.BeginUsage(ctx, store.UsageBegin{UserID: e.Ref.UserID, BatchID: e.Ref.BatchID, GroupID: e.Ref.GroupID,
		ImageID: e.Ref.ImageID, Provider: e.Provider, Model: e.Model, Operation: e.Operation, Attempt: e.Attempt,
		EstimatedCostMicros: e.EstimatedCostMicros, StartedAt: e.StartedAt})
}

func (l ledger) Settle(ctx context.Context, id string, s provider.Settlement) error {
	return l.db.SettleUsage(context.WithoutCancel(ctx), id, store.UsageSettle{Outcome: s.Outcome, ErrorCode: s.ErrorCode,
		Images: s.Images, CostMicros: s.CostMicros, Latency: s.Latency, FinishedAt: s.FinishedAt})
}

func photo() []byte {
	m := image.NewRGBA(image.Rect(0, 0, 900, 1200))
	for y := range 1200 {
		for x := range 900 {
			m.SetRGBA(x, y, color.RGBA{uint8(x * 7), uint8(y * 5), uint8(x * y), 255})
		}
	}
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, m, &jpeg.Options{Quality: 85})
	return buf.Bytes()
}

func BenchmarkBatch8Groups(b *testing.B) {
	for _, engine := range storetest.Engines() {
		b.Run(string(engine), func(b *testing.B) {
			ctx := context.Background()
			db := openDB(b, engine)
			_, err := pipeline.Migrate(ctx, db)
			require.NoError(b, err)
			f := fake.New(fake.Options{PerAPI: map[string]fake.Profile{
				"gemini":   {Latency: fake.Latency{Base: fake.Duration(2 * time.Second)}},
				"deepseek": {Latency: fake.Latency{Base: fake.Duration(200 * time.Millisecond)}},
			}}, nil)
			srv := httptest.NewServer(f)
			defer srv.Close()
			svc, err := provider.New(provider.Config{Providers: []provider.ProviderConfig{{Name: "gemini", APIKey: "k",
				BaseURL: srv.URL + "/gemini", Timeout: time.Minute, Limits: provider.Limits{Concurrency: 5}}}},
				provider.Deps{Ledger: ledger{db}})
			require.NoError(b, err)
			enh, err := provider.NewEnhancer(provider.DeepSeekConfig{APIKey: "k", BaseURL: srv.URL + "/deepseek"}, provider.Deps{Ledger: ledger{db}})
			require.NoError(b, err)
			pm := poolsync.New(db, nil)
			require.NoError(b, pm.Start(ctx, pooldata.FS()))
			planner, err := plan.New(plan.Config{}, db)
			require.NoError(b, err)
			blobs, err := blob.NewLocal(b.TempDir())
			require.NoError(b, err)
			cfg := pipeline.Config{Concurrency: 5, FetchPollInterval: 50 * time.Millisecond}
			if os.Getenv("LUDENG_BENCH_QC") != "on" {
				cfg.QC = similarity.Thresholds{MinHamming: -1, MaxSSIM: 2}
			}
			p, err := pipeline.New(cfg, pipeline.Deps{DB: db, Planner: planner, Pool: pm, Images: svc, Enhancer: enh, Blobs: blobs})
			require.NoError(b, err)
			require.NoError(b, p.Start(ctx))
			defer func() { _ = p.Stop(ctx) }()

			var user *store.User
			up := &store.Upload{MIME: "image/jpeg", Width: 900, Height: 1200, EXIF: "{}", Warnings: "[]"}
			data := photo()
			info, _, err := blob.PutContent(ctx, blobs, sha(data), bytes.NewReader(data))
			require.NoError(b, err)
			up.SHA256, up.Bytes = sha(data), info.Size
			require.NoError(b, db.InTx(ctx, func(tx *store.Tx) error {
				if user, err = db.CreateUser(ctx, tx, "bench", "x", store.RoleOperator); err != nil {
					return err
				}
				up.UserID = user.ID
				return db.CreateUpload(ctx, tx, up)
			}))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				s, err := p.Submit(ctx, pipeline.Caller{UserID: user.ID}, pipeline.SubmitRequest{UploadID: up.ID, Mode: "smart", Groups: 8, Enhance: "balanced"})
				require.NoError(b, err)
				var bt *store.Batch
				for {
					bt, err = db.BatchByID(ctx, s.Batch.ID)
					require.NoError(b, err)
					if store.BatchTerminal(bt.Status) {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				took := time.Since(start)
				b.ReportMetric(took.Seconds(), "s/batch")
				imgs, err := db.ImagesOf(ctx, s.Batch.ID)
				require.NoError(b, err)
				ok, calls := 0, 0
				for _, im := range imgs {
					if im.Status == store.ImageSucceeded {
						ok++
					}
					calls += 1 + im.QCTries
				}
				b.ReportMetric(float64(ok), "images_ok")
				b.ReportMetric(float64(calls), "generations")
				b.Logf("%s: %s, %d/32 images, %d generation calls, %.2fs (bound 1.1×(14 s + 0.2 s) + 1 s = 16.6 s)",
					engine, bt.Status, ok, calls, took.Seconds())
			}
		})
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// openDB is storetest.Open with a production-sized PostgreSQL pool (the
// test helper caps it at 4 connections, which River and 5 workers share).
func openDB(b *testing.B, engine store.Engine) *store.DB {
	if engine == store.SQLite {
		return storetest.Open(b, engine)
	}
	ctx := context.Background()
	url := os.Getenv(storetest.EnvURL)
	schema := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	conn, err := pgx.Connect(ctx, url)
	require.NoError(b, err)
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(b, err)
	b.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		_ = conn.Close(context.Background())
	})
	db, err := store.Open(ctx, store.Options{URL: url, PGSchema: schema, MaxConns: 20})
	require.NoError(b, err)
	b.Cleanup(func() { _ = db.Close() })
	_, err = db.Migrate(ctx)
	require.NoError(b, err)
	return db
}

// BenchmarkProviderOnly is the floor the pipeline is measured against: the
// same 32 calls to the same fake (2 s each) through provider.Service, 5 at
// a time, without the pipeline. On a 2-core machine the fake's rendering
// and the client's exact-size fit run inside each call's time.
func BenchmarkProviderOnly(b *testing.B) {
	f := fake.New(fake.Options{PerAPI: map[string]fake.Profile{"gemini": {Latency: fake.Latency{Base: fake.Duration(2 * time.Second)}}}}, nil)
	srv := httptest.NewServer(f)
	defer srv.Close()
	svc, err := provider.New(provider.Config{Providers: []provider.ProviderConfig{{Name: "gemini", APIKey: "k",
		BaseURL: srv.URL + "/gemini", Timeout: time.Minute, Limits: provider.Limits{Concurrency: 5}}}}, provider.Deps{})
	require.NoError(b, err)
	data := photo()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		work := make(chan int, 32)
		for k := range 32 {
			work <- k
		}
		close(work)
		errs := make(chan error, 32)
		for range 5 {
			go func() {
				for k := range work {
					_, err := svc.Generate(context.Background(), provider.Request{Photo: data, PhotoMIME: "image/jpeg",
						Prompt: fmt.Sprintf("a solar street light in county %d, morning, sunny, asphalt road", k)})
					errs <- err
				}
			}()
		}
		for range 32 {
			require.NoError(b, <-errs)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/32images")
		b.Logf("32 provider calls, 5 at a time: %.2fs (ideal 14 s)", time.Since(start).Seconds())
	}
}
