package provider_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/provider/fake"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

const testKey = "test-key-0123456789"

// photo is a small product shot on white.
func photo(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 200, 300))
	for y := range 300 {
		for x := range 200 {
			c := color.RGBA{255, 255, 255, 255}
			if x > 90 && x < 110 || y < 40 && x > 40 && x < 160 {
				c = color.RGBA{40, 60, 120, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, nil))
	return buf.Bytes()
}

// memLedger records ledger rows in memory.
type memLedger struct {
	mu      sync.Mutex
	entries []provider.LedgerEntry
	settled map[string]provider.Settlement
}

func (l *memLedger) Begin(_ context.Context, e provider.LedgerEntry) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, e)
	return fmt.Sprint(len(l.entries)), nil
}

func (l *memLedger) Settle(_ context.Context, id string, s provider.Settlement) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.settled == nil {
		l.settled = map[string]provider.Settlement{}
	}
	l.settled[id] = s
	return nil
}

func (l *memLedger) rows() ([]provider.LedgerEntry, map[string]provider.Settlement) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := map[string]provider.Settlement{}
	for k, v := range l.settled {
		m[k] = v
	}
	return append([]provider.LedgerEntry(nil), l.entries...), m
}

type bundle struct {
	fake   *fake.Server
	url    string
	ledger *memLedger
	reg    *prometheus.Registry
	slept  *[]time.Duration
	mu     *sync.Mutex
}

func newBundle(t *testing.T, opts fake.Options) *bundle {
	t.Helper()
	f := fake.New(opts, nil)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return &bundle{fake: f, url: srv.URL, ledger: &memLedger{}, reg: prometheus.NewRegistry(),
		slept: new([]time.Duration), mu: &sync.Mutex{}}
}

// pc is a provider config pointing at the fake.
func (b *bundle) pc(name string) provider.ProviderConfig {
	base := map[string]string{
		"gemini": "/gemini", "openrouter": "/openrouter/api/v1", "openai": "/openai/v1", "kie": "/kie",
	}[name]
	return provider.ProviderConfig{Name: name, APIKey: testKey, BaseURL: b.url + base, Timeout: time.Minute,
		PollInterval: time.Millisecond, PollMaxInterval: time.Millisecond}
}

// clock records sleeps and sleeps at most 1 ms for real (kie polls).
func (b *bundle) clock(now func() time.Time) provider.Clock {
	return provider.Clock{
		Now: now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			b.mu.Lock()
			*b.slept = append(*b.slept, d)
			b.mu.Unlock()
			t := time.NewTimer(time.Millisecond)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		},
		Rand: func() float64 { return 0.5 },
	}
}

func (b *bundle) service(t *testing.T, cfg provider.Config, clk provider.Clock) *provider.Service {
	t.Helper()
	s, err := provider.New(cfg, provider.Deps{Registerer: b.reg, Ledger: b.ledger, Clock: clk})
	require.NoError(t, err)
	return s
}

func request(t testing.TB) provider.Request {
	return provider.Request{Photo: photo(t), PhotoMIME: "image/jpeg", Prompt: "河北邢台 7月 土路 三轮车 傍晚 晴",
		// 1:1 at 1024 is every fake's native size, so tests skip the resize
		// (slow under -race); TestGenerateSuccess covers the other sizes.
		Aspect: provider.Aspect1x1, Resolution: 1024, Ref: provider.Ref{RequestID: "req-1", UserID: "u1", ImageID: "img-1"}}
}

func TestGenerateSuccess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		provider string
		aspect   provider.Aspect
		res      int
		png      bool
	}{
		{"gemini", provider.Aspect3x4, 1024, false},
		{"gemini", provider.Aspect9x16, 1536, true},
		{"openrouter", provider.Aspect1x1, 1024, false},
		{"openai", provider.Aspect3x4, 1536, false},
		{"openai", provider.Aspect1x1, 1024, true},
		{"kie", provider.Aspect9x16, 1024, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s %s@%d png=%v", tc.provider, tc.aspect, tc.res, tc.png), func(t *testing.T) {
			t.Parallel()
			b := newBundle(t, fake.Options{APIKey: testKey, PNG: tc.png})
			pc := b.pc(tc.provider)
			pc.PricePerImageMicros, pc.PricePerImage1536Micros = 30_000, 45_000
			svc := b.service(t, provider.Config{Providers: []provider.ProviderConfig{pc}}, b.clock(time.Now))
			req := request(t)
			req.Aspect, req.Resolution = tc.aspect, tc.res
			res, err := svc.Generate(context.Background(), req)
			require.NoError(t, err)
			w, h, _ := provider.OutputSize(tc.aspect, tc.res)
			img, format, err := image.Decode(bytes.NewReader(res.Image))
			require.NoError(t, err)
			require.Equal(t, image.Pt(w, h), img.Bounds().Size())
			require.Equal(t, "image/"+format, res.MIME)
			require.Equal(t, w, res.Width)
			require.Equal(t, tc.provider, res.Provider)
			wantCost := int64(30_000)
			if tc.res == 1536 {
				wantCost = 45_000
			}
			require.Equal(t, wantCost, res.CostMicros)
			require.Equal(t, 1, res.Attempts)
			entries, settled := b.ledger.rows()
			require.Len(t, entries, 1)
			require.Equal(t, "img-1", entries[0].Ref.ImageID)
			require.Equal(t, provider.OpGenerate, entries[0].Operation)
			require.Equal(t, "ok", settled["1"].Outcome)
			require.Equal(t, wantCost, settled["1"].CostMicros)
			require.Equal(t, 1, settled["1"].Images)
			require.InDelta(t, 1, testutil.ToFloat64(collector(t, b.reg, "ludeng_provider_images_total")), 0)
		})
	}
}

// collector returns the first metric family's sum for name.
func collector(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
			sum := 0.0
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
			g.Set(sum)
			return g
		}
	}
	t.Fatalf("metric %s not found", name)
	return nil
}

// TestErrorClasses drives every failure step of every image provider and
// checks its classification. One attempt each, so no retries hide it.
func TestErrorClasses(t *testing.T) {
	t.Parallel()
	type tc struct {
		step  string
		class provider.Class
		code  string
	}
	common := []tc{
		{"500", provider.ClassUnavailable, ""},
		{"503", provider.ClassUnavailable, ""},
		{"502", provider.ClassUnavailable, ""},
		{"429", provider.ClassRateLimited, ""},
		{"quota", provider.ClassQuotaExhausted, ""},
		{"malformed", provider.ClassUnavailable, "malformed_response"},
		{"auth", provider.ClassAuth, ""},
		{"model_not_found", provider.ClassModelGone, ""},
		{"bad_request", provider.ClassBadRequest, ""},
		{"blocked", provider.ClassBlocked, ""},
		{"timeout", provider.ClassUnavailable, "timeout"},
	}
	cases := map[string][]tc{
		"gemini": append(append([]tc{}, common...),
			tc{"429_bare", provider.ClassRateLimited, "RESOURCE_EXHAUSTED"},
			tc{"no_image", provider.ClassNoImage, "NO_IMAGE"},
			tc{"blocked_output", provider.ClassBlocked, "IMAGE_SAFETY"},
			tc{"location", provider.ClassAuth, "FAILED_PRECONDITION"},
			tc{"504", provider.ClassUnavailable, "DEADLINE_EXCEEDED"}),
		"openrouter": append(append([]tc{}, common...),
			tc{"no_image", provider.ClassNoImage, "no_image"},
			tc{"blocked_output", provider.ClassBlocked, "content_filter"},
			tc{"location", provider.ClassAuth, ""},
			tc{"504", provider.ClassUnavailable, ""}),
		"openai": append(append([]tc{}, common...),
			tc{"no_image", provider.ClassNoImage, "no_image"},
			tc{"location", provider.ClassAuth, "unsupported_country_region_territory"},
			tc{"504", provider.ClassUnavailable, ""}),
		"kie": {
			{"500", provider.ClassUnavailable, "500"},
			{"503", provider.ClassUnavailable, "455"},
			{"429", provider.ClassRateLimited, "429"},
			{"quota", provider.ClassQuotaExhausted, "402"},
			{"code402", provider.ClassQuotaExhausted, "402"},
			{"code422", provider.ClassBadRequest, "422"},
			{"code455", provider.ClassUnavailable, "455"},
			{"code501", provider.ClassUnavailable, "501"},
			{"code505", provider.ClassBadRequest, "505"},
			{"malformed", provider.ClassUnavailable, "malformed_response"},
			{"auth", provider.ClassAuth, "401"},
			{"model_not_found", provider.ClassModelGone, "422"},
			{"fail", provider.ClassNoImage, "500"},
			{"fail_safety", provider.ClassBlocked, "400"},
			{"blocked", provider.ClassBlocked, "400"},
			{"no_image", provider.ClassNoImage, "no_result_urls"},
			{"never", provider.ClassUnavailable, "task_timeout"},
			{"timeout", provider.ClassUnavailable, "timeout"},
		},
	}
	for name, list := range cases {
		for _, c := range list {
			t.Run(name+"/"+c.step, func(t *testing.T) {
				t.Parallel()
				b := newBundle(t, fake.Options{APIKey: testKey, StaticImages: true})
				require.NoError(t, b.fake.Script(name, c.step))
				pc := b.pc(name)
				if c.step == "timeout" || c.step == "never" {
					pc.Timeout = 300 * time.Millisecond
				}
				svc := b.service(t, provider.Config{Providers: []provider.ProviderConfig{pc},
					Retry: provider.RetryPolicy{MaxAttempts: 1}}, b.clock(time.Now))
				_, err := svc.Generate(context.Background(), request(t))
				var pe *provider.Error
				require.ErrorAs(t, err, &pe)
				require.Equalf(t, c.class, pe.Class, "%v", err)
				require.Equal(t, name, pe.Provider)
				if c.code != "" {
					require.Equal(t, c.code, pe.Code)
				}
				require.True(t, errors.Is(err, &provider.Error{Class: c.class}))
				if c.step == "429" && name != "kie" {
					require.Equal(t, 2*time.Second, pe.RetryAfter, "Retry-After / RetryInfo honoured")
				}
				require.NotContains(t, err.Error(), testKey)
				_, settled := b.ledger.rows()
				require.Equal(t, c.class.String(), settled["1"].Outcome)
			})
		}
	}
}

// TestRetryTiming: a retry after a server-given delay lands within
// [delay, delay + max jitter]; without one, within the full-jitter ceiling.
func TestRetryTiming(t *testing.T) {
	t.Parallel()
	tests := []struct {
		provider string
		steps    []string
		rnd      float64
		min, max time.Duration
	}{
		{"gemini", []string{"429:3s", "ok"}, 0, 3 * time.Second, 3 * time.Second},
		{"gemini", []string{"429:3s", "ok"}, 0.999, 3 * time.Second, 4 * time.Second},
		{"gemini", []string{"429:0.5s", "ok"}, 0.5, 500 * time.Millisecond, 1500 * time.Millisecond},
		{"openai", []string{"429:7s", "ok"}, 0.999, 7 * time.Second, 8 * time.Second},
		{"openrouter", []string{"429:4s", "ok"}, 0.3, 4 * time.Second, 5 * time.Second},
		{"kie", []string{"429:5s", "ok"}, 0.999, 5 * time.Second, 6 * time.Second},
		{"gemini", []string{"503", "ok"}, 0.999, 0, time.Second},
		{"openai", []string{"500", "ok"}, 0.999, 0, time.Second},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s %v rnd=%v", tc.provider, tc.steps, tc.rnd), func(t *testing.T) {
			t.Parallel()
			b := newBundle(t, fake.Options{APIKey: testKey, StaticImages: true})
			require.NoError(t, b.fake.Script(tc.provider, tc.steps...))
			clk := b.clock(time.Now)
			clk.Rand = func() float64 { return tc.rnd }
			svc := b.service(t, provider.Config{Providers: []provider.ProviderConfig{b.pc(tc.provider)},
				Retry: provider.RetryPolicy{MaxJitter: time.Second, BaseDelay: time.Second}}, clk)
			res, err := svc.Generate(context.Background(), request(t))
			require.NoError(t, err)
			require.Equal(t, 2, res.Attempts)
			b.mu.Lock()
			slept := append([]time.Duration(nil), *b.slept...)
			b.mu.Unlock()
			// kie also sleeps between polls (1 ms poll interval in tests).
			var backoff []time.Duration
			for _, d := range slept {
				if d > time.Millisecond {
					backoff = append(backoff, d)
				}
			}
			if tc.min == 0 {
				backoff = slept[:1]
			}
			require.Len(t, backoff, 1)
			require.GreaterOrEqual(t, backoff[0], tc.min)
			require.LessOrEqual(t, backoff[0], tc.max)
			require.InDelta(t, 1, testutil.ToFloat64(collector(t, b.reg, "ludeng_provider_retries_total")), 0)
		})
	}
}

// TestNoImageRetriedOnce: a text-only answer gets exactly one more try.
func TestNoImageRetriedOnce(t *testing.T) {
	t.Parallel()
	b := newBundle(t, fake.Options{APIKey: testKey, StaticImages: true})
	require.NoError(t, b.fake.Script("gemini", "no_image", "no_image", "ok"))
	svc := b.service(t, provider.Config{Providers: []provider.ProviderConfig{b.pc("gemini")},
		Retry: provider.RetryPolicy{MaxAttempts: 5}}, b.clock(time.Now))
	_, err := svc.Generate(context.Background(), request(t))
	require.ErrorIs(t, err, provider.ErrNoImage)
	require.Equal(t, 2, b.fake.Stats()["gemini"]["no_image"])
	require.Zero(t, b.fake.Stats()["gemini"]["ok"])
}

// TestQuotaFallback: a quota-exhausted provider gets 0 calls until its
// reset and its work goes to the fallback; after the reset it is used again.
func TestQuotaFallback(t *testing.T) {
	t.Parallel()
	b := newBundle(t, fake.Options{APIKey: testKey, StaticImages: true})
	require.NoError(t, b.fake.Script("gemini", "quota"))
	var (
		mu  sync.Mutex
		now = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC) // 02:00 in California
	)
	clk := b.clock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	svc := b.service(t, provider.Config{Providers: []provider.ProviderConfig{b.pc("gemini"), b.pc("openai")}}, clk)

	for i := range 5 {
		res, err := svc.Generate(context.Background(), request(t))
		require.NoError(t, err, "call %d", i)
		require.Equal(t, "openai", res.Provider)
	}
	require.Equal(t, map[string]int{"quota": 1}, b.fake.Stats()["gemini"], "one call, then none until reset")
	require.Equal(t, 5, b.fake.Stats()["openai"]["ok"])

	st := svc.Status()
	require.Equal(t, "quota_exhausted", st[0].State)
	require.NotNil(t, st[0].QuotaUntil)
	// Gemini's per-day quota resets at midnight Pacific: 08:00 UTC next day.
	require.Equal(t, time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC), *st[0].QuotaUntil)
	require.InDelta(t, 1, testutil.ToFloat64(collector(t, b.reg, "ludeng_provider_quota_exhausted")), 0)

	mu.Lock()
	now = st[0].QuotaUntil.Add(time.Second)
	mu.Unlock()
	res, err := svc.Generate(context.Background(), request(t))
	require.NoError(t, err)
	require.Equal(t, "gemini", res.Provider)
	require.Equal(t, "ok", svc.Status()[0].State)
}

func TestQuotaAllExhaustedAndReset(t *testing.T) {
	t.Parallel()
	b := newBundle(t, fake.Options{APIKey: testKey, StaticImages: true})
	require.NoError(t, b.fake.Script("openai", "quota"))
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	svc := b.service(t, provider.Config{Providers: []provider.ProviderConfig{b.pc("openai")},
		QuotaCooldown: time.Hour}, b.clock(func() time.Time { return now }))
	_, err := svc.Generate(context.Background(), request(t))
	var pe *provider.Error
	require.ErrorAs(t, err, &pe)
	require.Equal(t, provider.ClassQuotaExhausted, pe.Class)
	require.Equal(t, now.Add(time.Hour), pe.Until, "no reset time given: the configured cooldown")
	require.False(t, svc.Ready())
	// Skipped without a call.
	_, err = svc.Generate(context.Background(), request(t))
	require.ErrorIs(t, err, provider.ErrQuotaExhausted)
	require.Equal(t, 1, b.fake.Stats()["openai"]["quota"])
	require.Equal(t, "provider_quota_exhausted", pe.Fault().Code)
	// An admin reset (after a top-up) lets calls through again.
	require.NoError(t, svc.Reset("openai"))
	_, err = svc.Generate(context.Background(), request(t))
	require.NoError(t, err)
	require.Error(t, svc.Reset("nope"))
}

// TestBlockedNoFallback: a blocked prompt is not sent to the fallback.
func TestBlockedNoFallback(t *testing.T) {
	t.Parallel()
	b := newBundle(t, fake.Options{APIKey: testKey, StaticImages: true})
	require.NoError(t, b.fake.Script("gemini", "blocked"))
	svc := b.service(t, provider.Config{Providers: []provider.ProviderConfig{b.pc("gemini"), b.pc("openai")}}, b.clock(time.Now))
	_, err := svc.Generate(context.Background(), request(t))
	require.ErrorIs(t, err, provider.ErrBlocked)
	require.Empty(t, b.fake.Stats()["openai"])
}

// TestBreakerFallback: after repeated 503s the breaker opens and later
// requests go straight to the fallback without calling the broken provider.
func TestBreakerFallback(t *testing.T) {
	t.Parallel()
	b := newBundle(t, fake.Options{APIKey: testKey, StaticImages: true})
	require.NoError(t, b.fake.Script("gemini", "503", "503", "503", "503"))
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	svc := b.service(t, provider.Config{Providers: []provider.ProviderConfig{b.pc("gemini"), b.pc("openrouter")},
		Retry: provider.RetryPolicy{MaxAttempts: 2}, Breaker: provider.BreakerConfig{Failures: 4, Cooldown: time.Minute}},
		b.clock(func() time.Time { return now }))
	for range 3 {
		res, err := svc.Generate(context.Background(), request(t))
		require.NoError(t, err)
		require.Equal(t, "openrouter", res.Provider)
	}
	require.Equal(t, map[string]int{"503": 4}, b.fake.Stats()["gemini"])
	require.Equal(t, "circuit_open", svc.Status()[0].State)
	require.Equal(t, "open", svc.Status()[0].Breaker)
}

func TestSimulatorWhenNoProvider(t *testing.T) {
	t.Parallel()
	_, err := provider.New(provider.Config{}, provider.Deps{})
	require.Error(t, err, "no provider and no simulator")
}

func TestProbeSpendsNothing(t *testing.T) {
	t.Parallel()
	b := newBundle(t, fake.Options{APIKey: testKey})
	cfgs := []provider.ProviderConfig{b.pc("gemini"), b.pc("openrouter"), b.pc("openai"), b.pc("kie")}
	svc := b.service(t, provider.Config{Providers: cfgs}, b.clock(time.Now))
	for _, r := range svc.Probe(context.Background()) {
		require.Truef(t, r.OK, "%s: %s", r.Name, r.Detail)
	}
	for api, m := range b.fake.Stats() {
		require.Emptyf(t, m, "%s got main calls", api)
	}
	entries, _ := b.ledger.rows()
	require.Empty(t, entries)

	bad := newBundle(t, fake.Options{APIKey: "other"})
	cfgs = []provider.ProviderConfig{bad.pc("gemini"), bad.pc("openrouter"), bad.pc("openai"), bad.pc("kie")}
	svc = bad.service(t, provider.Config{Providers: cfgs}, bad.clock(time.Now))
	for _, r := range svc.Probe(context.Background()) {
		require.Falsef(t, r.OK, "%s", r.Name)
		require.Contains(t, r.Detail, "auth")
		require.NotContains(t, r.Detail, testKey)
	}
	require.NotEmpty(t, svc.Status()[0].LastProbeError)
}
