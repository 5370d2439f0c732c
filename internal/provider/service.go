package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/prometheus/client_golang/prometheus"
)

// Deps are the Service's and Enhancer's collaborators. All are optional
// except Simulator when no provider is configured.
type Deps struct {
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// Registerer receives the metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Ledger records every call; nil records nothing.
	Ledger Ledger
	// HTTPClient defaults to NewHTTPClient().
	HTTPClient *http.Client
	// Clock defaults to real time.
	Clock Clock
	// Simulator serves every request when Config.Providers is empty
	// (sim.New in production).
	Simulator ImageGenerator
	// Shared, when set, enforces every provider's Limits across the
	// cluster instead of per process.
	Shared SharedLimiter
}

func (d Deps) withDefaults() Deps {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Ledger == nil {
		d.Ledger = nopLedger{}
	}
	if d.HTTPClient == nil {
		d.HTTPClient = NewHTTPClient()
	}
	d.Clock = d.Clock.withDefaults()
	return d
}

func (c Config) withDefaults() Config {
	c.Retry = c.Retry.withDefaults()
	c.Breaker = c.Breaker.withDefaults()
	if c.QuotaCooldown <= 0 {
		c.QuotaCooldown = time.Hour
	}
	if c.AuthCooldown <= 0 {
		c.AuthCooldown = 10 * time.Minute
	}
	if c.Location == nil {
		c.Location = time.Local
	}
	return c
}

// Service is the ImageGenerator ludeng uses: the configured providers in
// fallback order, each behind the shared resilience, or the simulator.
type Service struct {
	cfg     Config
	entries []*entry
	kie     *kie
	clk     Clock
	log     *slog.Logger
	m       *metrics
}

var _ ImageGenerator = (*Service)(nil)

// New builds the Service from cfg. Metrics are registered on
// deps.Registerer; construct one Service per process so that limits are
// shared by all workers.
func New(cfg Config, deps Deps) (*Service, error) {
	deps = deps.withDefaults()
	cfg = cfg.withDefaults()
	cfg.Providers = append([]ProviderConfig(nil), cfg.Providers...)
	for i := range cfg.Providers {
		cfg.Providers[i] = cfg.Providers[i].withDefaults()
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("provider config: %w", err)
	}
	m, err := newMetrics(deps.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, clk: deps.Clock, log: deps.Logger, m: m}
	for _, pc := range cfg.Providers {
		var be backend
		switch Kind(pc.Name) {
		case KindGemini:
			be = newGemini(pc, deps.HTTPClient, deps.Clock)
		case KindOpenRouter:
			be = &openRouter{cfg: pc, hc: deps.HTTPClient, clk: deps.Clock}
		case KindOpenAI:
			be = &openAI{cfg: pc, hc: deps.HTTPClient, clk: deps.Clock}
		case KindKie:
			s.kie = newKie(pc, deps.HTTPClient, deps.Clock)
			be = s.kie
		}
		s.entries = append(s.entries, newEntry(pc, be, deps, m, cfg))
	}
	if len(s.entries) == 0 {
		if deps.Simulator == nil {
			return nil, errors.New("provider: no provider configured and no simulator given")
		}
		pc := ProviderConfig{Name: string(KindSimulator), Model: "simulator", Timeout: 2 * time.Minute,
			ProbeTimeout: time.Second}
		s.entries = append(s.entries, newEntry(pc, simBackend{deps.Simulator}, deps, m, cfg))
	}
	return s, nil
}

// Simulated reports whether images are simulated (no provider configured);
// the UI must say so plainly.
func (s *Service) Simulated() bool {
	return len(s.entries) == 1 && s.entries[0].kind == KindSimulator
}

// Generate returns one image of exactly OutputSize(req.Aspect,
// req.Resolution). Providers are tried in order; one in a quota or auth
// cooldown or with an open circuit is skipped without a call. A blocked
// prompt, a bad request or a persistent no-image answer is returned at once:
// another provider would not fix the prompt.
func (s *Service) Generate(ctx context.Context, req Request) (Result, error) {
	req, err := req.Normalized()
	if err != nil {
		return Result{}, err
	}
	w, h, _ := OutputSize(req.Aspect, req.Resolution)
	var (
		lastErr  error
		attempts int
		earliest time.Time // earliest moment a skipped provider is usable again
	)
	for i, e := range s.entries {
		now := s.clk.Now()
		if until, reason, ok := e.skipped(now); ok {
			lastErr = &Error{Class: skipClass(reason), Provider: e.cfg.Name, Code: "skipped_" + reason, Until: until}
			earliest = minTime(earliest, until)
			s.fallback(ctx, e, i, reason)
			continue
		}
		res, n, err := e.generate(ctx, req, w, h)
		attempts += n
		if err == nil {
			res.Attempts = attempts
			return res, nil
		}
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		lastErr = err
		var pe *Error
		if !errors.As(err, &pe) {
			return Result{}, err
		}
		switch pe.Class {
		case ClassBlocked, ClassBadRequest, ClassNoImage:
			return Result{}, pe
		case ClassQuotaExhausted:
			earliest = minTime(earliest, pe.Until)
		}
		s.fallback(ctx, e, i, pe.Class.String())
	}
	return Result{}, s.exhausted(lastErr, earliest)
}

func (s *Service) fallback(ctx context.Context, e *entry, i int, reason string) {
	s.m.fallback.WithLabelValues(e.cfg.Name, reason).Inc()
	if i+1 < len(s.entries) {
		s.log.InfoContext(ctx, "falling back to the next provider", slog.String("from", e.cfg.Name),
			slog.String("to", s.entries[i+1].cfg.Name), slog.String("reason", reason))
	}
}

// exhausted is the error when no provider produced an image: the last
// provider's error, or, when every provider was skipped for quota, a
// quota error carrying the earliest reset.
func (s *Service) exhausted(last error, earliest time.Time) error {
	var pe *Error
	if errors.As(last, &pe) {
		c := *pe
		if c.Class == ClassQuotaExhausted && !earliest.IsZero() {
			c.Until = earliest
		}
		if len(s.entries) > 1 {
			c.Message = "no provider could serve the request; last: " + pe.Error()
		}
		return &c
	}
	return last
}

func skipClass(reason string) Class {
	switch reason {
	case "auth_failed":
		return ClassAuth
	case "model_gone":
		return ClassModelGone
	}
	return ClassQuotaExhausted
}

func minTime(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// generate tries one provider with retries. It returns the number of calls made.
func (e *entry) generate(ctx context.Context, req Request, w, h int) (Result, int, error) {
	tier, err := TierFor(e.kind, req.Aspect, req.Resolution)
	if err != nil {
		return Result{}, 0, err
	}
	price := e.cfg.PricePerImageMicros
	if req.Resolution == Resolution1536 {
		price = e.cfg.PricePerImage1536Micros
	}
	var res Result
	noImage := 0
	for attempt := 1; ; attempt++ {
		err := e.attempt(ctx, req.Ref, OpGenerate, attempt, 1, price, func(actx context.Context) (usage, error) {
			start := e.clk.Now()
			raw, err := e.be.generate(actx, req, tier)
			u := usage{in: raw.inputTokens, out: raw.outputTokens}
			if err != nil {
				return u, err
			}
			data, mime, err := Normalize(raw.data, w, h)
			if err != nil {
				return u, &Error{Class: ClassNoImage, Code: "undecodable_image", Err: err}
			}
			u.images, u.cost = 1, price
			res = Result{Image: data, MIME: mime, Width: w, Height: h, Provider: e.cfg.Name, Model: e.cfg.Model,
				InputTokens: u.in, OutputTokens: u.out, CostMicros: price, Latency: e.clk.Now().Sub(start)}
			return u, nil
		})
		if err == nil {
			return res, attempt, nil
		}
		var pe *Error
		if !errors.As(err, &pe) {
			return Result{}, attempt, err
		}
		e.afterFailure(pe)
		if pe.Class == ClassNoImage {
			noImage++
		}
		ok, hint := e.policy.retryable(pe, attempt, noImage)
		if !ok {
			return Result{}, attempt, pe
		}
		d := e.policy.Delay(attempt, hint, e.clk.Rand())
		e.m.retries.WithLabelValues(e.cfg.Name, e.cfg.Model, pe.Class.String()).Inc()
		e.log.InfoContext(ctx, "retrying provider call", slog.String("request_id", req.Ref.RequestID),
			slog.Int("attempt", attempt), slog.String("class", pe.Class.String()), slog.Duration("delay", d))
		if err := e.clk.Sleep(ctx, d); err != nil {
			return Result{}, attempt, err
		}
	}
}

// Status returns every provider's state in fallback order.
func (s *Service) Status() []Status {
	now := s.clk.Now()
	out := make([]Status, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, e.status(now))
	}
	return out
}

// Reset clears a provider's cooldowns, breaker and last error (admin
// action after fixing a key or topping up a balance).
func (s *Service) Reset(name string) error {
	for _, e := range s.entries {
		if e.cfg.Name == name {
			e.reset()
			s.log.Info("provider reset by admin", slog.String("provider", name))
			return nil
		}
	}
	return fault.New(fault.NotFound, "provider_not_found", "No such provider is configured.").With("name", name)
}

// Probe checks every provider without spending anything (model lists,
// credit endpoints), concurrently.
func (s *Service) Probe(ctx context.Context) []ProbeResult {
	out := make([]ProbeResult, len(s.entries))
	var wg sync.WaitGroup
	for i, e := range s.entries {
		wg.Go(func() { out[i] = e.probe(ctx) })
	}
	wg.Wait()
	return out
}

// Ready reports whether at least one provider may be called now (for /readyz).
func (s *Service) Ready() bool {
	now := s.clk.Now()
	for _, e := range s.entries {
		if e.usable(now) {
			return true
		}
	}
	return false
}

// KieCallback handles kie's result callback: secret is the {secret} path
// segment. A wrong secret is fault.NotFound (don't reveal the hook), a bad
// body fault.Invalid. Without a kie provider every secret is wrong.
func (s *Service) KieCallback(ctx context.Context, secret string, body io.Reader) error {
	if s.kie == nil {
		return fault.New(fault.NotFound, "not_found", "Not found.")
	}
	err := s.kie.callback(secret, body)
	switch {
	case errors.Is(err, errHookSecret):
		return fault.New(fault.NotFound, "not_found", "Not found.")
	case errors.Is(err, errHookBody):
		return fault.New(fault.Invalid, "kie_callback_invalid", "The callback body is not a kie task result.").Wrap(err)
	}
	if err == nil {
		s.log.DebugContext(ctx, "kie callback accepted")
	}
	return err
}

// KieHook is the handler for POST /api/v1/hooks/kie/{secret}, exempt from
// session auth (the secret authenticates). Mount it with that pattern so
// r.PathValue("secret") is set. It answers 200 {"code":200,"msg":"ok"} fast;
// 404 for a wrong secret; 400 for a bad body. Errors carry no detail.
func (s *Service) KieHook() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		secret := r.PathValue("secret")
		if secret == "" {
			// Mounted without a pattern: take the last path segment.
			p := r.URL.Path
			for i := len(p) - 1; i >= 0; i-- {
				if p[i] == '/' {
					secret = p[i+1:]
					break
				}
			}
		}
		err := s.KieCallback(r.Context(), secret, http.MaxBytesReader(w, r.Body, 1<<20))
		w.Header().Set("Content-Type", "application/json")
		switch fault.KindOf(err) {
		case fault.NotFound:
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"code":404,"msg":"not found"}`)
		case fault.Invalid:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"code":400,"msg":"bad request"}`)
		default:
			_, _ = io.WriteString(w, `{"code":200,"msg":"ok"}`)
		}
	})
}

// simBackend runs the simulator through the same bookkeeping as a real
// provider, so status, metrics and the ledger look the same.
type simBackend struct{ gen ImageGenerator }

func (b simBackend) generate(ctx context.Context, req Request, _ Tier) (rawImage, error) {
	r, err := b.gen.Generate(ctx, req)
	if err != nil {
		return rawImage{}, err
	}
	return rawImage{data: r.Image, mime: r.MIME}, nil
}

func (simBackend) probe(context.Context) error { return nil }
