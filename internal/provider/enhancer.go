package provider

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ludeng/ludeng/internal/fault"
)

// Enhancer rewrites a template prompt into a richer one. Implementations
// degrade instead of failing: the only errors are a cancelled context and an
// invalid request.
type Enhancer interface {
	Enhance(ctx context.Context, req EnhanceRequest) (Enhanced, error)
}

// Mode selects how freely the enhancer rewrites.
type Mode string

// The modes and what they mean (settings in deepSeekModes):
//   - creative: temperature 1.3, top_p 0.95; adds atmosphere, light and
//     composition details beyond the template.
//   - balanced (default): temperature 1.0; enriches wording, adds few new facts.
//   - precise: temperature 0.3; rephrases only, keeps every stated fact and
//     adds nothing.
const (
	ModeCreative Mode = "creative"
	ModeBalanced Mode = "balanced"
	ModePrecise  Mode = "precise"
)

// EnhanceRequest is one prompt to enhance.
type EnhanceRequest struct {
	// Prompt is the template prompt from the prompt builder.
	Prompt string
	// Mode defaults to the configured mode.
	Mode Mode
	Ref  Ref
}

// Where an Enhanced prompt came from.
const (
	SourceDeepSeek = "deepseek"
	SourceCache    = "cache"
	SourceTemplate = "template"
)

// Enhanced is the enhancer's answer.
type Enhanced struct {
	Prompt string
	// Negative lists what to avoid (may be empty).
	Negative string
	// Source is deepseek, cache or template.
	Source string
	// Degraded is true when the template was used because the enhancer
	// failed (not when it is simply not configured); Reason says why.
	Degraded bool
	Reason   string
	Mode     Mode
	// Tokens and cost of the call (0 from cache or template).
	InputTokens, OutputTokens int64
	CostMicros                int64
}

// PromptEnhancer is the Enhancer ludeng uses: DeepSeek when a key is
// configured, the template otherwise, with an in-memory cache by input hash.
type PromptEnhancer struct {
	cfg   DeepSeekConfig
	ds    *deepSeek // nil without a key
	entry *entry
	log   *slog.Logger

	mu    sync.Mutex
	cache map[string]*list.Element
	order *list.List // front = most recent
}

type cacheItem struct {
	key string
	val Enhanced
}

// NewEnhancer builds the enhancer. Without cfg.APIKey it only returns
// template prompts (Source "template", not Degraded).
func NewEnhancer(cfg DeepSeekConfig, deps Deps) (*PromptEnhancer, error) {
	deps = deps.withDefaults()
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://api.deepseek.com"
	}
	if cfg.Model == "" {
		cfg.Model = "deepseek-flash"
	}
	if cfg.Mode == "" {
		cfg.Mode = ModeBalanced
	}
	if _, ok := deepSeekModes[cfg.Mode]; !ok {
		return nil, fmt.Errorf("DeepSeek.Mode: unknown mode %q", cfg.Mode)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 3 * time.Minute
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	m, err := newMetrics(deps.Registerer)
	if err != nil {
		return nil, err
	}
	e := &PromptEnhancer{cfg: cfg, log: deps.Logger, cache: map[string]*list.Element{}, order: list.New()}
	pc := ProviderConfig{Name: "deepseek", BaseURL: trimSlash(cfg.BaseURL), Model: cfg.Model, Timeout: cfg.Timeout,
		ProbeTimeout: 10 * time.Second, Limits: Limits{Concurrency: 64}}
	e.entry = newEntry(pc, nil, deps, m, Config{
		Retry:   RetryPolicy{MaxAttempts: cfg.MaxAttempts},
		Breaker: BreakerConfig{},
	}.withDefaults())
	if cfg.APIKey != "" {
		e.ds = &deepSeek{cfg: cfg, hc: deps.HTTPClient, clk: deps.Clock}
		e.entry.be = e.ds
	}
	return e, nil
}

// Enhance returns the enhanced prompt, from cache when the same (model,
// mode, prompt) was enhanced before, or the template when DeepSeek is not
// configured or fails.
func (e *PromptEnhancer) Enhance(ctx context.Context, req EnhanceRequest) (Enhanced, error) {
	if req.Prompt == "" {
		return Enhanced{}, fault.New(fault.Invalid, "prompt_required", "The prompt to enhance is empty.")
	}
	if req.Mode == "" {
		req.Mode = e.cfg.Mode
	}
	if _, ok := deepSeekModes[req.Mode]; !ok {
		return Enhanced{}, fault.Newf(fault.Invalid, "enhance_mode_invalid",
			"Enhancement mode must be creative, balanced or precise.").With("mode", string(req.Mode))
	}
	tmpl := Enhanced{Prompt: req.Prompt, Source: SourceTemplate, Mode: req.Mode}
	if e.ds == nil {
		return tmpl, nil
	}
	key := cacheKey(e.cfg.Model, req.Mode, req.Prompt)
	if v, ok := e.cached(key); ok {
		v.Source, v.InputTokens, v.OutputTokens, v.CostMicros = SourceCache, 0, 0, 0
		return v, nil
	}
	out, err := e.call(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return Enhanced{}, ctx.Err()
		}
		tmpl.Degraded, tmpl.Reason = true, reasonOf(err)
		e.log.WarnContext(ctx, "prompt enhancer failed; using the template prompt",
			slog.String("request_id", req.Ref.RequestID), slog.String("reason", tmpl.Reason))
		return tmpl, nil
	}
	e.store(key, out)
	return out, nil
}

func (e *PromptEnhancer) call(ctx context.Context, req EnhanceRequest) (Enhanced, error) {
	if !e.entry.usable(e.entry.clk.Now()) {
		return Enhanced{}, &Error{Class: ClassUnavailable, Provider: "deepseek", Code: "skipped"}
	}
	var out Enhanced
	empty := 0
	for attempt := 1; ; attempt++ {
		err := e.entry.attempt(ctx, req.Ref, OpEnhance, attempt, 0, 0, func(actx context.Context) (usage, error) {
			r, u, err := e.ds.enhance(actx, req)
			out = r
			return u, err
		})
		if err == nil {
			out.Mode = req.Mode
			return out, nil
		}
		var pe *Error
		if !errors.As(err, &pe) {
			return Enhanced{}, err
		}
		e.entry.afterFailure(pe)
		if pe.Class == ClassNoImage {
			empty++
		}
		// Empty or non-JSON content is DeepSeek's documented JSON-mode
		// failure: retry it up to MaxAttempts, unlike an image no-image.
		ok, hint := e.entry.policy.retryable(pe, attempt, 0)
		if pe.Class == ClassNoImage {
			ok = attempt < e.entry.policy.MaxAttempts
		}
		if !ok {
			return Enhanced{}, pe
		}
		e.entry.m.retries.WithLabelValues("deepseek", e.cfg.Model, pe.Class.String()).Inc()
		if err := e.entry.clk.Sleep(ctx, e.entry.policy.Delay(attempt, hint, e.entry.clk.Rand())); err != nil {
			return Enhanced{}, err
		}
	}
}

// Status reports the enhancer like an image provider.
func (e *PromptEnhancer) Status() Status {
	s := e.entry.status(e.entry.clk.Now())
	if e.ds == nil {
		s.State = "not_configured"
	}
	return s
}

// Reset clears the enhancer's breaker and cooldowns.
func (e *PromptEnhancer) Reset() { e.entry.reset() }

// Probe checks DeepSeek without spending (GET /models).
func (e *PromptEnhancer) Probe(ctx context.Context) ProbeResult {
	if e.ds == nil {
		return ProbeResult{Name: "deepseek", OK: true, Detail: "not configured: template prompts"}
	}
	return e.entry.probe(ctx)
}

func (e *PromptEnhancer) cached(key string) (Enhanced, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	el, ok := e.cache[key]
	if !ok {
		return Enhanced{}, false
	}
	e.order.MoveToFront(el)
	return el.Value.(*cacheItem).val, true
}

func (e *PromptEnhancer) store(key string, v Enhanced) {
	if e.cfg.CacheSize == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if el, ok := e.cache[key]; ok {
		el.Value.(*cacheItem).val = v
		e.order.MoveToFront(el)
		return
	}
	e.cache[key] = e.order.PushFront(&cacheItem{key: key, val: v})
	for e.order.Len() > e.cfg.CacheSize {
		last := e.order.Back()
		e.order.Remove(last)
		delete(e.cache, last.Value.(*cacheItem).key)
	}
}

func cacheKey(model string, mode Mode, prompt string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s", model, mode, prompt)
	return hex.EncodeToString(h.Sum(nil))
}

func reasonOf(err error) string {
	var pe *Error
	if errors.As(err, &pe) {
		if pe.Code != "" {
			return pe.Class.String() + ": " + pe.Code
		}
		return pe.Class.String()
	}
	return "error"
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}
