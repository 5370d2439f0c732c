package provider_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ludeng/ludeng/internal/config"
	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/provider/clocktest"
	"github.com/ludeng/ludeng/internal/provider/fake"
	"github.com/ludeng/ludeng/internal/provider/sim"
	"github.com/stretchr/testify/require"
)

// TestWorkersShareRateLimit: 5 workers calling the Service with a
// 10/minute limit start ≤10 calls in any sliding 60 s and ≥29 in 3 minutes
// of virtual time; call starts come from the ledger's pending rows.
func TestWorkersShareRateLimit(t *testing.T) {
	t.Parallel()
	b := newBundle(t, fake.Options{APIKey: testKey, StaticImages: true})
	start := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	clk := clocktest.New(start)
	pc := b.pc("gemini")
	pc.Limits = provider.Limits{RPM: 10, IPM: 10, Concurrency: 5}
	svc := b.service(t, provider.Config{Providers: []provider.ProviderConfig{pc}},
		provider.Clock{Now: clk.Now, Sleep: clk.Sleep, Rand: func() float64 { return 0 }})
	end := start.Add(3 * time.Minute)
	var live atomic.Int32
	live.Store(5)
	var wg sync.WaitGroup
	req := request(t)
	for range 5 {
		wg.Go(func() {
			defer func() { live.Add(-1); clk.Notify() }()
			for clk.Now().Before(end) {
				_, err := svc.Generate(context.Background(), req)
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for live.Load() > 0 {
		clk.WaitFor(func(n int) bool { return n >= int(live.Load()) })
		if live.Load() > 0 {
			clk.AdvanceToNext()
		}
	}
	wg.Wait()
	entries, _ := b.ledger.rows()
	var starts []time.Time
	for _, e := range entries {
		if e.StartedAt.Before(end) {
			starts = append(starts, e.StartedAt)
		}
	}
	for _, s := range starts {
		n := 0
		for _, u := range starts {
			if !u.Before(s) && u.Before(s.Add(time.Minute)) {
				n++
			}
		}
		require.LessOrEqual(t, n, 10)
	}
	require.GreaterOrEqual(t, len(starts), 29)
}

func TestEnhancer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		steps    []string
		key      string
		source   string
		degraded bool
		reason   string
	}{
		{"ok", []string{"ok"}, testKey, provider.SourceDeepSeek, false, ""},
		{"empty retried", []string{"empty", "empty", "ok"}, testKey, provider.SourceDeepSeek, false, ""},
		{"invalid json retried", []string{"invalid_json", "ok"}, testKey, provider.SourceDeepSeek, false, ""},
		{"empty every time", []string{"empty", "empty", "empty"}, testKey, provider.SourceTemplate, true, "no_image: empty_content"},
		{"auth", []string{"auth"}, testKey, provider.SourceTemplate, true, "auth"},
		{"balance", []string{"quota"}, testKey, provider.SourceTemplate, true, "quota_exhausted"},
		{"overloaded then ok", []string{"503", "ok"}, testKey, provider.SourceDeepSeek, false, ""},
		{"resource", []string{"resource", "resource", "resource"}, testKey, provider.SourceTemplate, true, "unavailable: insufficient_system_resource"},
		{"model gone", []string{"model_not_found"}, testKey, provider.SourceTemplate, true, "model_gone"},
		{"no key", nil, "", provider.SourceTemplate, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBundle(t, fake.Options{APIKey: testKey, KeepAliveLines: 3})
			if tc.steps != nil {
				require.NoError(t, b.fake.Script("deepseek", tc.steps...))
			}
			e, err := provider.NewEnhancer(provider.DeepSeekConfig{APIKey: tc.key, BaseURL: b.url + "/deepseek",
				PriceInputHitMicros: 6_000, PriceInputMicros: 300_000, PriceOutputMicros: 1_200_000, CacheSize: 10},
				provider.Deps{Registerer: b.reg, Ledger: b.ledger, Clock: b.clock(time.Now)})
			require.NoError(t, err)
			req := provider.EnhanceRequest{Prompt: "河北邢台 七月 土路 三轮车 傍晚；保持产品外观不变", Mode: provider.ModeCreative}
			out, err := e.Enhance(context.Background(), req)
			require.NoError(t, err)
			require.Equal(t, tc.source, out.Source)
			require.Equal(t, tc.degraded, out.Degraded)
			require.True(t, strings.HasPrefix(out.Reason, tc.reason), out.Reason)
			if tc.source == provider.SourceTemplate {
				require.Equal(t, req.Prompt, out.Prompt)
				return
			}
			require.Contains(t, out.Prompt, "河北邢台")
			require.NotEmpty(t, out.Negative)
			// 64 hit + 56 miss + 180 out tokens at the configured prices.
			require.Equal(t, int64((64*6_000+56*300_000+180*1_200_000+500_000)/1_000_000), out.CostMicros)
			again, err := e.Enhance(context.Background(), req)
			require.NoError(t, err)
			require.Equal(t, provider.SourceCache, again.Source)
			require.Equal(t, out.Prompt, again.Prompt)
			other, err := e.Enhance(context.Background(), provider.EnhanceRequest{Prompt: req.Prompt, Mode: provider.ModePrecise})
			require.NoError(t, err)
			require.Equal(t, provider.SourceDeepSeek, other.Source, "the mode is part of the cache key")
		})
	}
}

func TestEnhancerBadMode(t *testing.T) {
	t.Parallel()
	e, err := provider.NewEnhancer(provider.DeepSeekConfig{}, provider.Deps{})
	require.NoError(t, err)
	_, err = e.Enhance(context.Background(), provider.EnhanceRequest{Prompt: "x", Mode: "wild"})
	require.Error(t, err)
	require.Equal(t, "not_configured", e.Status().State)
}

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantErr []string
		check   func(t *testing.T, c provider.Config)
	}{
		{"empty is the simulator", map[string]string{}, nil, func(t *testing.T, c provider.Config) {
			require.Empty(t, c.Providers)
			require.Equal(t, provider.ModeBalanced, c.DeepSeek.Mode)
			require.Equal(t, "deepseek-flash", c.DeepSeek.Model)
		}},
		{"full", map[string]string{
			"LUDENG_IMAGE_PROVIDERS":         "gemini, kie",
			"LUDENG_GEMINI_API_KEY":          "g-key",
			"LUDENG_GEMINI_BASE_URL":         "http://127.0.0.1:8090/gemini/",
			"LUDENG_GEMINI_MODEL":            "gemini-3-pro-image",
			"LUDENG_GEMINI_PRICE_PER_IMAGE":  "0.134",
			"LUDENG_GEMINI_RPM":              "20",
			"LUDENG_GEMINI_RPH":              "600",
			"LUDENG_GEMINI_IPM":              "15",
			"LUDENG_GEMINI_CONCURRENCY":      "3",
			"LUDENG_KIE_API_KEY_FILE":        "/run/creds/kie",
			"LUDENG_KIE_BASE_URL":            "http://127.0.0.1:8090/kie",
			"LUDENG_KIE_CALLBACK_URL":        "https://ludeng.example.com",
			"LUDENG_KIE_CALLBACK_SECRET":     "0123456789abcdef0123",
			"LUDENG_DEEPSEEK_API_KEY":        "sk-x",
			"LUDENG_DEEPSEEK_MODE":           "precise",
			"LUDENG_DEEPSEEK_PRICE_OUTPUT":   "0.6",
			"LUDENG_PROVIDER_MAX_ATTEMPTS":   "4",
			"LUDENG_PROVIDER_QUOTA_COOLDOWN": "2h",
		}, nil, func(t *testing.T, c provider.Config) {
			require.Len(t, c.Providers, 2)
			g, k := c.Providers[0], c.Providers[1]
			require.Equal(t, "gemini", g.Name)
			require.Equal(t, "http://127.0.0.1:8090/gemini", g.BaseURL)
			require.Equal(t, "gemini-3-pro-image", g.Model)
			require.Equal(t, int64(134_000), g.PricePerImageMicros)
			require.Equal(t, int64(134_000), g.PricePerImage1536Micros, "one price set: both sizes")
			require.Equal(t, provider.Limits{RPM: 20, RPH: 600, IPM: 15, Concurrency: 3}, g.Limits)
			require.Equal(t, "kie-secret", k.APIKey)
			require.Equal(t, "http://127.0.0.1:8090/kie", k.UploadURL, "upload follows an overridden base URL")
			require.Equal(t, "google/nano-banana-edit", k.Model)
			require.Equal(t, provider.ModePrecise, c.DeepSeek.Mode)
			require.Equal(t, int64(600_000), c.DeepSeek.PriceOutputMicros)
			require.Equal(t, 4, c.Retry.MaxAttempts)
			require.Equal(t, 2*time.Hour, c.QuotaCooldown)
		}},
		{"errors name the variable", map[string]string{
			"LUDENG_IMAGE_PROVIDERS":     "gemini,dalle,gemini,openai",
			"LUDENG_OPENAI_API_KEY":      "k",
			"LUDENG_OPENAI_RPM":          "lots",
			"LUDENG_OPENAI_BASE_URL":     "ftp://x",
			"LUDENG_OPENAI_QUALITY":      "ultra",
			"LUDENG_DEEPSEEK_MODE":       "wild",
			"LUDENG_KIE_CALLBACK_SECRET": "x",
		}, []string{
			"LUDENG_IMAGE_PROVIDERS: unknown provider \"dalle\"",
			"LUDENG_IMAGE_PROVIDERS: provider \"gemini\" listed twice",
			"LUDENG_GEMINI_API_KEY: required",
			"LUDENG_OPENAI_RPM: not an integer",
			"LUDENG_OPENAI_BASE_URL: not an http(s) URL",
			"LUDENG_OPENAI_QUALITY: must be one of",
			"LUDENG_DEEPSEEK_MODE: must be one of",
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := config.NewEnv(func(k string) string { return tc.env[k] })
			env.ReadFile = func(string) ([]byte, error) { return []byte("kie-secret\n"), nil }
			cfg, err := provider.ConfigFromEnv(env)
			if tc.wantErr == nil {
				require.NoError(t, err)
				require.NoError(t, env.Err())
				tc.check(t, cfg)
				return
			}
			require.Error(t, err)
			for _, w := range tc.wantErr {
				require.Contains(t, err.Error(), w)
			}
			require.Equal(t, env.Err().Error(), err.Error())
		})
	}
}

// TestKieCallback: the callback wakes the poller early; a wrong secret is
// refused; the result still comes from recordInfo.
func TestKieCallback(t *testing.T) {
	t.Parallel()
	const secret = "hook-secret-0123456789"
	f := fake.New(fake.Options{APIKey: testKey, StaticImages: true, KiePolls: 1000,
		KieCallbackDelay: fake.Duration(20 * time.Millisecond)}, nil)
	fsrv := httptest.NewServer(f)
	t.Cleanup(fsrv.Close)

	var svc *provider.Service
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/hooks/kie/{secret}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc.KieHook().ServeHTTP(w, r)
	}))
	app := httptest.NewServer(mux)
	t.Cleanup(app.Close)

	pc := provider.ProviderConfig{Name: "kie", APIKey: testKey, BaseURL: fsrv.URL + "/kie", Timeout: time.Minute,
		CallbackURL: app.URL, CallbackSecret: secret, PollInterval: time.Hour, PollMaxInterval: time.Hour}
	var err error
	svc, err = provider.New(provider.Config{Providers: []provider.ProviderConfig{pc}}, provider.Deps{})
	require.NoError(t, err)
	// Polls every hour: only the callback can make this finish quickly.
	res, err := svc.Generate(context.Background(), request(t))
	require.NoError(t, err)
	require.Equal(t, "kie", res.Provider)
	f.Wait()
	require.Equal(t, 1, f.Stats()["kie"]["callback_200"])

	resp, err := http.Post(app.URL+"/api/v1/hooks/kie/wrong", "application/json", strings.NewReader(`{"code":200,"data":{"taskId":"x"}}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, err = http.Post(app.URL+"/api/v1/hooks/kie/"+secret, "application/json", strings.NewReader(`not json`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, err = http.Post(app.URL+"/api/v1/hooks/kie/"+secret, "application/json", strings.NewReader(`{"code":200,"data":{"taskId":"unknown"}}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestSimulatorService(t *testing.T) {
	t.Parallel()
	b := newBundle(t, fake.Options{})
	svc, err := provider.New(provider.Config{}, provider.Deps{Simulator: sim.New(sim.Options{}), Ledger: b.ledger, Registerer: b.reg})
	require.NoError(t, err)
	require.True(t, svc.Simulated())
	res, err := svc.Generate(context.Background(), request(t))
	require.NoError(t, err)
	require.Equal(t, "simulator", res.Provider)
	require.Equal(t, 1024, res.Width)
	require.Zero(t, res.CostMicros)
	st := svc.Status()
	require.Len(t, st, 1)
	require.True(t, st[0].Simulated)
	require.Equal(t, "ok", st[0].State)
	_, err = svc.Generate(context.Background(), provider.Request{Prompt: "x", Resolution: 999})
	require.Error(t, err)
}
