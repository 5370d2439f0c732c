package httpapi_test

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	pooldata "github.com/ludeng/ludeng/data/pool"
	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/httpapi"
	"github.com/ludeng/ludeng/internal/pipeline"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/poolsync"
	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/provider/fake"
	"github.com/ludeng/ludeng/internal/provider/sim"
	"github.com/ludeng/ludeng/internal/signedurl"
	"github.com/ludeng/ludeng/internal/similarity"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/upload"
	"riverqueue.com/riverui"
	"riverqueue.com/riverui/uiendpoints"
)

type batchOpts struct {
	// fakeGemini serves images from the fake Gemini API over HTTP (else the simulator).
	fakeGemini bool
	// price per image in micros (fake provider only).
	price int64
	// estimate per image in micros (default price).
	estimate int64
	cfg      pipeline.Config
}

type batchBundle struct {
	*testBundle
	fake *fake.Server
	pipe *pipeline.Pipeline
}

// setupBatches builds the fully wired server of setupFull plus the
// pipeline (River workers started, stopped at cleanup).
func setupBatches(t *testing.T, engine store.Engine, o batchOpts) *batchBundle {
	t.Helper()
	b := setup(t, engine)
	ctx := context.Background()
	require.NoError(t, func() error { _, err := pipeline.Migrate(ctx, b.db); return err }())
	dataDir := t.TempDir()
	blobs, err := blob.NewLocal(dataDir)
	require.NoError(t, err)
	guard := blob.Guard{Dir: dataDir, Min: 1, FreeFunc: func(string) (int64, error) { return 1 << 40, nil }}
	intake, err := upload.New(upload.Config{TempDir: blobs.TempDir()}, upload.Deps{Space: guard})
	require.NoError(t, err)
	reg := b.registry2()
	signer := signedurl.Signer{Key: []byte("test-secret-key-test-secret-key!"), Now: b.clock.Now}
	pm := poolsync.New(b.db, nil)
	require.NoError(t, pm.Start(ctx, pooldata.FS()))
	deps := httpapi.Deps{DB: b.db, Registry: reg, Now: b.clock.Now, Pool: pm,
		Uploads: &httpapi.UploadDeps{Blobs: blobs, Intake: intake, Signer: signer}}

	bb := &batchBundle{testBundle: b}
	pcfg := provider.Config{}
	if o.fakeGemini {
		bb.fake = fake.New(fake.Options{}, nil)
		fsrv := httptest.NewServer(bb.fake)
		t.Cleanup(fsrv.Close)
		pcfg.Providers = []provider.ProviderConfig{{Name: "gemini", APIKey: "test-key", BaseURL: fsrv.URL + "/gemini",
			Timeout: time.Minute, PricePerImageMicros: o.price, PricePerImage1536Micros: o.price,
			Limits: provider.Limits{RPM: 100000, IPM: 100000, Concurrency: 16}}}
		pcfg.Retry = provider.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond, MaxJitter: time.Millisecond}
	}
	ledger := storeLedger{b.db}
	pdeps := provider.Deps{Registerer: prometheus.NewRegistry(), Ledger: ledger, Simulator: sim.New(sim.Options{})}
	svc, err := provider.New(pcfg, pdeps)
	require.NoError(t, err)
	deps.Providers = svc
	enh, err := provider.NewEnhancer(provider.DeepSeekConfig{}, provider.Deps{Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	planner, err := plan.New(plan.Config{}, b.db)
	require.NoError(t, err)
	cfg := o.cfg
	cfg.FetchPollInterval = 50 * time.Millisecond
	if o.fakeGemini && cfg.QC == (similarity.Thresholds{}) {
		// The fakes render a group's four variants from the prompt alone and
		// they are often pHash-close (distance ≈ 8); tests of budgets and
		// failure classes switch the similarity criterion off so that only
		// what they inject decides.
		cfg.QC = similarity.Thresholds{MinHamming: -1, MaxSSIM: 2}
	}
	est := o.estimate
	if est == 0 {
		est = o.price
	}
	cfg.PricePerImage, cfg.PricePerImage1536 = est, est
	hooks := testWebhookClient(t)
	pipe, err := pipeline.New(cfg, pipeline.Deps{DB: b.db, Planner: planner, Pool: pm, Images: svc, Enhancer: enh, Blobs: blobs,
		Registerer: reg, Webhooks: hooks})
	require.NoError(t, err)
	deps.Batches = &httpapi.BatchDeps{Pipeline: pipe, Blobs: blobs, Signer: signer}
	enableIntegrations(&deps, pipe, hooks)
	enableLive(t, b.db, &deps)
	api := newAPI(t, httpapi.Config{DataDir: dataDir, PasswordParams: testParams(), APIRate: 1000, APIBurst: 1000}, deps)
	require.NoError(t, pipe.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = pipe.Stop(sctx)
	})
	bb.pipe = pipe
	b.replace(t, api)
	return bb
}

// enableBatchRoutes adds the batch routes to deps with a pipeline whose
// workers are not started.
func enableBatchRoutes(t *testing.T, b *testBundle, deps *httpapi.Deps, pm *poolsync.Manager, svc *provider.Service,
	blobs *blob.Local, signer signedurl.Signer) {
	t.Helper()
	require.NoError(t, func() error { _, err := pipeline.Migrate(context.Background(), b.db); return err }())
	enh, err := provider.NewEnhancer(provider.DeepSeekConfig{}, provider.Deps{})
	require.NoError(t, err)
	planner, err := plan.New(plan.Config{}, b.db)
	require.NoError(t, err)
	hooks := testWebhookClient(t)
	pipe, err := pipeline.New(pipeline.Config{}, pipeline.Deps{DB: b.db, Planner: planner, Pool: pm, Images: svc, Enhancer: enh, Blobs: blobs,
		Webhooks: hooks})
	require.NoError(t, err)
	deps.Batches = &httpapi.BatchDeps{Pipeline: pipe, Blobs: blobs, Signer: signer}
	enableIntegrations(deps, pipe, hooks)
	enableLive(t, b.db, deps)
	enableRiverUI(t, deps, pipe)
}

// enableRiverUI mounts River UI as the cli does.
func enableRiverUI(t *testing.T, deps *httpapi.Deps, pipe *pipeline.Pipeline) {
	t.Helper()
	var ep uiendpoints.Bundle
	switch c := pipe.RiverClient().(type) {
	case *river.Client[*sql.Tx]:
		ep = riverui.NewEndpoints(c, nil)
	case *river.Client[pgx.Tx]:
		ep = riverui.NewEndpoints(c, nil)
	}
	h, err := riverui.NewHandler(&riverui.HandlerOpts{Endpoints: ep, Prefix: "/riverui", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	require.NoError(t, h.Start(ctx))
	deps.RiverUI = h
}

// TestRiverUIAdminsOnly: River UI answers admins, 403 for operators, 401
// without a session.
func TestRiverUIAdminsOnly(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b := setupFull(t, engine, true)
		b.createUser(t, "ops", store.RoleOperator)
		b.createUser(t, "boss", store.RoleAdmin)
		admin, ops := b.login(t, "boss"), b.login(t, "ops")
		res := admin.do("GET", "/riverui/", nil)
		require.Equal(t, http.StatusOK, res.status)
		require.Contains(t, res.header.Get("Content-Type"), "text/html")
		res = admin.do("GET", "/riverui/api/jobs?state=available", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		require.Equal(t, http.StatusForbidden, ops.do("GET", "/riverui/", nil).status)
		require.Equal(t, http.StatusUnauthorized, b.client(t).do("GET", "/riverui/", nil).status)
	})
}

// storeLedger is the cli's ledger adapter (the ledger rows of provider calls).
type storeLedger struct{ db *store.DB }

func (l storeLedger) Begin(ctx context.Context, e provider.LedgerEntry) (string, error) {
	return l.db.BeginUsage(ctx, store.UsageBegin{RequestID: e.Ref.RequestID, UserID: e.Ref.UserID, BatchID: e.Ref.BatchID,
		GroupID: e.Ref.GroupID, ImageID: e.Ref.ImageID, Provider: e.Provider, Model: e.Model, Operation: e.Operation,
		Attempt: e.Attempt, EstimatedCostMicros: e.EstimatedCostMicros, StartedAt: e.StartedAt})
}

func (l storeLedger) Settle(ctx context.Context, id string, s provider.Settlement) error {
	return l.db.SettleUsage(context.WithoutCancel(ctx), id, store.UsageSettle{Outcome: s.Outcome, ErrorCode: s.ErrorCode,
		InputTokens: s.InputTokens, OutputTokens: s.OutputTokens, Images: s.Images, CostMicros: s.CostMicros,
		Latency: s.Latency, FinishedAt: s.FinishedAt})
}

func uploadPhoto(t *testing.T, c *client) string {
	t.Helper()
	res := c.upload(part{"file", "lamp.jpg", "image/jpeg", testPhoto(900, 1200, 3)})
	require.Equal(t, http.StatusCreated, res.status, string(res.body))
	return res.json(t)["id"].(string)
}

// waitTerminal polls the batch until it reaches a terminal state.
func waitTerminal(t *testing.T, c *client, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		res := c.do("GET", "/api/v1/batches/"+id, nil)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		v := res.json(t)
		if store.BatchTerminal(v["status"].(string)) {
			return v
		}
		require.True(t, time.Now().Before(deadline), "batch %s still %s", id, v["status"])
		time.Sleep(100 * time.Millisecond)
	}
}

func groupKeys(v map[string]any) []string {
	var out []string
	for _, g := range v["groups"].([]any) {
		out = append(out, g.(map[string]any)["key"].(string))
	}
	return out
}

func readZip(t *testing.T, body []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	require.NoError(t, err)
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		rc.Close()
		require.NoError(t, err)
		out[f.Name] = b
	}
	return out
}

// TestBatchEndToEnd: smart 8 groups → 32 images → zip with 8 folders and
// the manifest; a second request right away plans other combinations.
func TestBatchEndToEnd(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b := setupBatches(t, engine, batchOpts{})
		b.createUser(t, "ops", store.RoleOperator)
		c := b.login(t, "ops")
		up := uploadPhoto(t, c)

		// Dry run: the plan and the estimate, nothing stored.
		res := c.do("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "smart", "groups": 8, "seed": 42, "dry_run": true})
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		dry := res.json(t)
		require.Len(t, dry["plan"].(map[string]any)["groups"], 8)
		require.EqualValues(t, 32, dry["estimate"].(map[string]any)["images"])
		list := c.do("GET", "/api/v1/batches", nil).json(t)
		require.Empty(t, list["items"])

		res = c.do("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "smart", "groups": 8, "seed": 42})
		require.Equal(t, http.StatusAccepted, res.status, string(res.body))
		first := res.json(t)
		id := first["id"].(string)
		require.Equal(t, "/api/v1/batches/"+id, res.header.Get("Location"))
		require.Len(t, first["groups"], 8)

		// Submitted right away: different combinations (history reserved at submit).
		res = c.do("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "smart", "groups": 8, "seed": 42})
		require.Equal(t, http.StatusAccepted, res.status, string(res.body))
		second := res.json(t)
		k1, k2 := groupKeys(first), groupKeys(second)
		for _, k := range k2 {
			require.NotContains(t, k1, k)
		}
		// The upload is in use while the batches run.
		require.Equal(t, http.StatusConflict, c.do("DELETE", "/api/v1/uploads/"+up, nil).status)

		done := waitTerminal(t, c, id)
		require.Equal(t, store.BatchSucceeded, done["status"], string(mustJSON(done)))
		require.EqualValues(t, 32, done["progress"].(map[string]any)["succeeded"])
		for _, g := range done["groups"].([]any) {
			gm := g.(map[string]any)
			require.Equal(t, store.GroupSucceeded, gm["status"])
			for _, im := range gm["images"].([]any) {
				imm := im.(map[string]any)
				require.Equal(t, store.ImageSucceeded, imm["status"])
				require.Equal(t, provider.SourceTemplate, imm["prompt_source"])
			}
		}
		// One image's content in every size.
		img := done["groups"].([]any)[0].(map[string]any)["images"].([]any)[0].(map[string]any)
		for _, size := range []string{"thumb", "preview", "full"} {
			r := c.do("GET", img["urls"].(map[string]any)[size].(string), nil)
			require.Equal(t, http.StatusOK, r.status, size)
			require.Equal(t, "image/jpeg", r.header.Get("Content-Type"))
		}

		zr := c.do("GET", "/api/v1/batches/"+id+"/download", nil)
		require.Equal(t, http.StatusOK, zr.status, string(zr.body))
		files := readZip(t, zr.body)
		folders := map[string]int{}
		for name := range files {
			if dir, _, ok := strings.Cut(name, "/"); ok {
				folders[dir]++
			}
		}
		require.Len(t, folders, 8)
		for dir, n := range folders {
			require.Equal(t, 4, n, dir)
		}
		require.Contains(t, files, "manifest.json")
		require.Contains(t, files, "manifest.csv")
		var manifest struct {
			Meta struct {
				Plan plan.Plan `json:"plan"`
			} `json:"meta"`
		}
		require.NoError(t, json.Unmarshal(files["manifest.json"], &manifest))
		require.Len(t, manifest.Meta.Plan.Groups, 8)
		require.EqualValues(t, 42, manifest.Meta.Plan.Seed)

		// Every state change is an event with consecutive sequence numbers.
		ev := c.do("GET", "/api/v1/batches/"+id+"/events", nil).json(t)
		items := ev["items"].([]any)
		for i, e := range items {
			require.EqualValues(t, i+1, e.(map[string]any)["seq"])
		}
		require.Equal(t, "batch.created", items[0].(map[string]any)["type"])

		// History: the first batch's groups are used.
		hist := c.do("GET", "/api/v1/history?state=used", nil).json(t)
		require.GreaterOrEqual(t, len(hist["items"].([]any)), 8)
		require.Equal(t, store.BatchSucceeded, waitTerminal(t, c, second["id"].(string))["status"])
		require.Equal(t, http.StatusNoContent, c.do("DELETE", "/api/v1/uploads/"+up, nil).status)
	})
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// TestBatchManualXingtai: 河北 邢台县, July, dirt road, tricycle → one group of 4.
func TestBatchManualXingtai(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b := setupBatches(t, engine, batchOpts{})
		b.createUser(t, "ops", store.RoleOperator)
		c := b.login(t, "ops")
		up := uploadPhoto(t, c)
		req := map[string]any{"upload_id": up, "mode": "manual", "enhance": "off",
			"manual": map[string]any{"county": "邢台县", "month": 7, "road": "dirt", "elements": []string{"tricycle"}}}
		res := c.do("POST", "/api/v1/batches", req)
		require.Equal(t, http.StatusAccepted, res.status, string(res.body))
		id := res.json(t)["id"].(string)
		done := waitTerminal(t, c, id)
		require.Equal(t, store.BatchSucceeded, done["status"])
		groups := done["groups"].([]any)
		require.Len(t, groups, 1)
		g := groups[0].(map[string]any)
		require.Len(t, g["images"], 4)
		scene := g["scene"].(map[string]any)
		require.Equal(t, "summer", scene["season"])
		require.Contains(t, scene["province"], "河北")
		combo := g["combination"].(map[string]any)
		require.EqualValues(t, 7, combo["month"])
		require.Equal(t, "dirt", combo["road"])
		require.Equal(t, []any{"tricycle"}, combo["elements"])

		// Listing with filters.
		for _, tc := range []struct {
			query string
			want  int
		}{
			{"", 1},
			{"?status=succeeded&mode=manual", 1},
			{"?status=running", 0},
			{"?status=running,succeeded", 1},
			{"?mode=smart", 0},
			{"?month=7", 1},
			{"?road=dirt", 1},
			{"?q=nowhere", 0},
			// Filters combine (AND): each used to overwrite the one before,
			// so only the last applied.
			{"?q=nowhere&month=7", 0},
			{"?road=nowhere&month=7", 0},
			{"?month=8&road=dirt", 0},
			{"?month=7&road=dirt", 1},
		} {
			res := c.do("GET", "/api/v1/batches"+tc.query, nil)
			require.Equal(t, http.StatusOK, res.status, tc.query)
			require.Len(t, res.json(t)["items"], tc.want, tc.query)
		}
		// A filter list is capped (it was a 500 at 33,000 values on SQLite).
		res = c.do("GET", "/api/v1/batches?status="+strings.Repeat("x,", 33000), nil)
		require.Equal(t, http.StatusUnprocessableEntity, res.status, string(res.body))
		require.Equal(t, "too_many_filter_values", res.json(t)["code"])
		require.Equal(t, http.StatusOK, c.do("GET", "/api/v1/batches?status=queued,queued", nil).status)
		many := make([]string, 17)
		for i := range many {
			many[i] = fmt.Sprintf("s%d", i)
		}
		res = c.do("GET", "/api/v1/batches?status="+strings.Join(many, ","), nil)
		require.Equal(t, http.StatusUnprocessableEntity, res.status, string(res.body))
		require.Equal(t, "too_many_filter_values", res.json(t)["code"])
		item := c.do("GET", "/api/v1/batches", nil).json(t)["items"].([]any)[0].(map[string]any)
		require.Equal(t, map[string]any{"done": 4.0, "total": 4.0, "succeeded": 4.0, "failed": 0.0}, item["progress"])

		// The same combination again is refused (422, used history).
		res = c.do("POST", "/api/v1/batches", req)
		require.Equal(t, http.StatusUnprocessableEntity, res.status, string(res.body))
		// Rerun of a used manual combination: 422 with the archive hint.
		res = c.do("POST", "/api/v1/batches/"+id+"/rerun", nil)
		require.Equal(t, http.StatusUnprocessableEntity, res.status, string(res.body))
		require.Equal(t, "archive_history", res.json(t)["params"].(map[string]any)["hint"])
	})
}

// TestBatchBudget: refused at submit (402 budget_exceeded with estimate and
// remaining), by the daily budget and by the batch's own cap.
func TestBatchBudget(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b := setupBatches(t, engine, batchOpts{fakeGemini: true, price: 100_000}) // 0.10 per image
		u := b.createUser(t, "ops", store.RoleOperator)
		b.createUser(t, "boss", store.RoleAdmin)
		admin := b.login(t, "boss")
		c := b.login(t, "ops")
		up := uploadPhoto(t, c)

		res := c.do("PUT", "/api/v1/admin/users/"+u.ID+"/budget", map[string]any{"daily": "1"})
		require.Equal(t, http.StatusForbidden, res.status)
		res = admin.do("PUT", "/api/v1/admin/users/"+u.ID+"/budget", map[string]any{"daily": "1.00", "monthly": "50"})
		require.Equal(t, http.StatusOK, res.status, string(res.body))

		// 8 groups × 4 × 0.10 = 3.20 > 1.00 a day.
		res = c.do("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "smart", "groups": 8, "enhance": "off"})
		require.Equal(t, http.StatusPaymentRequired, res.status, string(res.body))
		p := res.json(t)
		require.Equal(t, "budget_exceeded", p["code"])
		params := p["params"].(map[string]any)
		require.Equal(t, "3.20", params["estimate"])
		require.Equal(t, "1.00", params["remaining"])
		require.Equal(t, "daily", params["budget"])

		// A batch cap below the estimate is refused too.
		res = c.do("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "smart", "groups": 2, "budget": "0.50", "enhance": "off"})
		require.Equal(t, http.StatusPaymentRequired, res.status, string(res.body))
		require.Equal(t, "batch", res.json(t)["params"].(map[string]any)["budget"])

		// 2 groups (0.80) fit; a second one does not fit what remains (0.20)
		// while the first may still spend its estimate.
		res = c.do("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "smart", "groups": 2, "enhance": "off"})
		require.Equal(t, http.StatusAccepted, res.status, string(res.body))
		id := res.json(t)["id"].(string)
		res = c.do("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "smart", "groups": 1, "enhance": "off"})
		require.Equal(t, http.StatusPaymentRequired, res.status, string(res.body))
		done := waitTerminal(t, c, id)
		require.Equal(t, store.BatchSucceeded, done["status"], string(mustJSON(done["report"])))
		require.Equal(t, "0.80", done["cost"].(map[string]any)["amount"])
		usage := c.do("GET", "/api/v1/usage", nil).json(t)
		require.Equal(t, "0.80", usage["spent_today"].(map[string]any)["amount"])
		require.Equal(t, "0.20", usage["remaining_today"].(map[string]any)["amount"])
	})
}

// TestBatchCapMidBatch: the provider bills more than estimated (0.20 against
// 0.10), so the batch cap (0.80, the estimate) is reached after 4 images:
// paid calls stop, the other images fail with budget_cap and the batch
// says so.
func TestBatchCapMidBatch(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b := setupBatches(t, engine, batchOpts{fakeGemini: true, price: 200_000, estimate: 100_000, cfg: pipeline.Config{Concurrency: 1}})
		b.createUser(t, "ops", store.RoleOperator)
		c := b.login(t, "ops")
		up := uploadPhoto(t, c)
		res := c.do("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "smart", "groups": 2, "budget": "0.80", "enhance": "off"})
		require.Equal(t, http.StatusAccepted, res.status, string(res.body))
		id := res.json(t)["id"].(string)
		done := waitTerminal(t, c, id)
		require.Equal(t, store.BatchPartiallyFailed, done["status"], string(mustJSON(done)))
		require.Contains(t, done["message"], "budget cap")
		report := done["report"].(map[string]any)
		require.EqualValues(t, 4, report["reasons"].(map[string]any)["budget_cap"], string(mustJSON(done)))
		require.EqualValues(t, 4, report["counts"].(map[string]any)["succeeded"])
		require.Equal(t, "0.80", done["cost"].(map[string]any)["amount"])
		ledger, err := b.db.LedgerCount(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, map[string]int{"gemini/ok": 4}, ledger)
		require.Equal(t, 4, b.fake.Stats()["gemini"]["ok"])
	})
}

// TestBatchFailureInjection scripts the fake Gemini API: 5xx, 429 with a
// delay (retried by the client, then snoozed by the pipeline), a safety
// block and no-image answers (nudged retries), then a group whose every
// answer is blocked. The report gives the counts and reasons, and the
// ledger has exactly one row per call the fake counted.
func TestBatchFailureInjection(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b := setupBatches(t, engine, batchOpts{fakeGemini: true, price: 10_000, cfg: pipeline.Config{Concurrency: 1}})
		b.createUser(t, "ops", store.RoleOperator)
		c := b.login(t, "ops")
		up := uploadPhoto(t, c)
		ctx := context.Background()
		calls := func() int {
			n := 0
			for _, v := range b.fake.Stats()["gemini"] {
				n += v
			}
			return n
		}
		ledgerRows := func(id string) int {
			m, err := b.db.LedgerCount(ctx, id)
			require.NoError(t, err)
			n := 0
			for _, v := range m {
				n += v
			}
			return n
		}

		require.NoError(t, b.fake.Script("gemini", "503", "ok", "429:1s", "429:1s", "ok", "blocked", "ok", "no_image", "no_image", "ok"))
		res := c.do("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "smart", "groups": 1, "enhance": "off"})
		require.Equal(t, http.StatusAccepted, res.status, string(res.body))
		id := res.json(t)["id"].(string)
		done := waitTerminal(t, c, id)
		require.Equal(t, store.BatchSucceeded, done["status"], string(mustJSON(done["report"])))
		report := done["report"].(map[string]any)
		require.Equal(t, map[string]any{"blocked": 1.0, "no_image": 1.0}, report["qc_rejects"])
		require.EqualValues(t, 4, report["counts"].(map[string]any)["succeeded"])
		require.Equal(t, 10, calls())
		require.Equal(t, 10, ledgerRows(id))

		// Every answer blocked: each image is tried 1 + 3 nudged times, then
		// fails with its reason; the group's reservation is released.
		b.fake.Reset()
		steps := make([]string, 16)
		for i := range steps {
			steps[i] = "blocked"
		}
		require.NoError(t, b.fake.Script("gemini", steps...))
		res = c.do("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "smart", "groups": 1, "enhance": "off"})
		require.Equal(t, http.StatusAccepted, res.status, string(res.body))
		id = res.json(t)["id"].(string)
		done = waitTerminal(t, c, id)
		require.Equal(t, store.BatchFailed, done["status"])
		report = done["report"].(map[string]any)
		require.Equal(t, map[string]any{"blocked": 4.0}, report["reasons"])
		require.Equal(t, map[string]any{"blocked": 16.0}, report["qc_rejects"])
		require.Equal(t, 16, calls())
		require.Equal(t, 16, ledgerRows(id))
		g := done["groups"].([]any)[0].(map[string]any)
		require.Equal(t, store.GroupFailed, g["status"])
		hist := c.do("GET", "/api/v1/history?state=released", nil).json(t)
		require.Len(t, hist["items"], 1)
		// The nudges changed time of day / weather only, never the combination.
		for _, im := range g["images"].([]any) {
			v := im.(map[string]any)["variant"].(map[string]any)
			require.True(t, strings.HasSuffix(v["id"].(string), "~3"), v["id"])
		}

		// Retry of the failed group: the fake answers ok again.
		res = c.do("POST", "/api/v1/batches/"+id+"/retry", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		done = waitTerminal(t, c, id)
		require.Equal(t, store.BatchSucceeded, done["status"], string(mustJSON(done["report"])))
		// Reserved again at retry, used now (the released row stays as a record).
		require.Len(t, c.do("GET", "/api/v1/history?state=used", nil).json(t)["items"], 2)
	})
}

// jobsParkedBeyond counts the batch's generate jobs that are scheduled to
// run no sooner than horizon from now.
func jobsParkedBeyond(ctx context.Context, p *pipeline.Pipeline, batchID string, horizon time.Duration) (int, error) {
	params := river.NewJobListParams().Kinds(pipeline.GenerateArgs{}.Kind()).
		States(rivertype.JobStateScheduled).TagsAny("batch_" + batchID).First(10_000)
	var res *river.JobListResult
	var err error
	switch c := p.RiverClient().(type) {
	case *river.Client[*sql.Tx]:
		res, err = c.JobList(ctx, params)
	case *river.Client[pgx.Tx]:
		res, err = c.JobList(ctx, params)
	default:
		return 0, fmt.Errorf("unexpected River client %T", c)
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, j := range res.Jobs {
		if time.Until(j.ScheduledAt) >= horizon {
			n++
		}
	}
	return n, nil
}

// TestBatchCancelPauseResume: pause and resume change the state with
// events; cancel mid-batch stops the rest (no further provider calls),
// keeps finished images, releases the groups without any, and only then
// may the batch be deleted.
// TestBatchCancelDeletesWaitingJobs: a paused batch's generate jobs sit
// snoozed in River; cancelling deletes them instead of leaving them to wake.
func TestBatchCancelDeletesWaitingJobs(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b := setupBatches(t, engine, batchOpts{fakeGemini: true, price: 1, cfg: pipeline.Config{Concurrency: 1, PausedPoll: time.Hour}})
		b.createUser(t, "ops", store.RoleOperator)
		c := b.login(t, "ops")
		up := uploadPhoto(t, c)
		res := c.do("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "smart", "groups": 2, "enhance": "off"})
		require.Equal(t, http.StatusAccepted, res.status, string(res.body))
		id := res.json(t)["id"].(string)
		res = c.do("POST", "/api/v1/batches/"+id+"/pause", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		// Every image not yet done has a snoozed job and none is running.
		ctx := context.Background()
		require.Eventually(t, func() bool {
			queued, running := 0, 0
			res := c.do("GET", "/api/v1/batches/"+id, nil)
			var v struct {
				Groups []any `json:"groups"`
			}
			if res.status != http.StatusOK || json.Unmarshal(res.body, &v) != nil {
				t.Logf("GET batch: %d %s", res.status, res.body)
				return false
			}
			for _, g := range v.Groups {
				for _, im := range g.(map[string]any)["images"].([]any) {
					switch im.(map[string]any)["status"] {
					case store.ImageQueued:
						queued++
					case store.ImageRunning:
						running++
					}
				}
			}
			n, err := b.pipe.WaitingJobs(ctx, id)
			if err != nil {
				t.Logf("waiting jobs: %v", err)
				return false
			}
			// Until every job has run once since the pause, some sit in a
			// short fair-share snooze (1–3 s); one of those can wake and be
			// running while the cancel lists the jobs, then snooze again
			// for PausedPoll. Only jobs parked by the pause itself are
			// certain to be waiting when the cancel runs.
			parked, err := jobsParkedBeyond(ctx, b.pipe, id, 10*time.Minute)
			if err != nil {
				t.Logf("parked jobs: %v", err)
				return false
			}
			return running == 0 && queued > 0 && n == queued && parked == queued
		}, time.Minute, 20*time.Millisecond)
		res = c.do("POST", "/api/v1/batches/"+id+"/cancel", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		n, err := b.pipe.WaitingJobs(ctx, id)
		require.NoError(t, err)
		require.Zero(t, n, "waiting jobs deleted with the cancel")
		require.Equal(t, store.BatchCancelled, waitTerminal(t, c, id)["status"])
	})
}

func TestBatchCancelPauseResume(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b := setupBatches(t, engine, batchOpts{fakeGemini: true, price: 1, cfg: pipeline.Config{Concurrency: 1}})
		b.createUser(t, "ops", store.RoleOperator)
		c := b.login(t, "ops")
		up := uploadPhoto(t, c)
		// Every call takes a while, so the batch is mid-way when cancelled.
		steps := make([]string, 8)
		for i := range steps {
			steps[i] = "slow:300ms"
		}
		require.NoError(t, b.fake.Script("gemini", steps...))
		res := c.do("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "smart", "groups": 2, "enhance": "off"})
		require.Equal(t, http.StatusAccepted, res.status, string(res.body))
		id := res.json(t)["id"].(string)

		res = c.do("POST", "/api/v1/batches/"+id+"/pause", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		require.Equal(t, store.BatchPaused, res.json(t)["status"])
		require.Equal(t, http.StatusConflict, c.do("POST", "/api/v1/batches/"+id+"/pause", nil).status)
		res = c.do("POST", "/api/v1/batches/"+id+"/resume", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.body))

		deadline := time.Now().Add(2 * time.Minute)
		for {
			v := c.do("GET", "/api/v1/batches/"+id, nil).json(t)
			if v["progress"].(map[string]any)["succeeded"].(float64) >= 1 {
				break
			}
			require.True(t, time.Now().Before(deadline))
			time.Sleep(20 * time.Millisecond)
		}
		require.Equal(t, http.StatusConflict, c.do("DELETE", "/api/v1/batches/"+id, nil).status)
		res = c.do("POST", "/api/v1/batches/"+id+"/cancel", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		require.Equal(t, store.BatchCancelled, res.json(t)["status"])
		done := waitTerminal(t, c, id)
		require.Equal(t, store.BatchCancelled, done["status"])
		counts := done["report"].(map[string]any)["counts"].(map[string]any)
		ok := int(counts["succeeded"].(float64))
		require.Positive(t, int(counts["cancelled"].(float64)))
		require.Equal(t, 8, ok+int(counts["cancelled"].(float64)))
		// Queued jobs made no call after the cancel: at most the one in flight.
		calls := 0
		for _, n := range b.fake.Stats()["gemini"] {
			calls += n
		}
		require.LessOrEqual(t, calls, ok+1)

		// Finalized: groups without images are released, the others used.
		require.Eventually(t, func() bool {
			used := len(c.do("GET", "/api/v1/history?state=used", nil).json(t)["items"].([]any))
			released := len(c.do("GET", "/api/v1/history?state=released", nil).json(t)["items"].([]any))
			reserved := len(c.do("GET", "/api/v1/history?state=reserved", nil).json(t)["items"].([]any))
			return used+released == 2 && reserved == 0 && used >= 1
		}, time.Minute, 20*time.Millisecond)

		require.Equal(t, http.StatusNoContent, c.do("DELETE", "/api/v1/batches/"+id, nil).status)
		require.Equal(t, http.StatusNotFound, c.do("GET", "/api/v1/batches/"+id, nil).status)

		// Metrics are exposed without user labels.
		m := c.do("GET", "/metrics", nil)
		require.Contains(t, string(m.body), "ludeng_pipeline_jobs_total")
		require.Contains(t, string(m.body), "ludeng_pipeline_queue_depth")
		require.NotContains(t, string(m.body), "user_id")
	})
}
