package provider

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// entry is one configured provider with its resilience state. Service holds
// one per provider; the enhancer holds one for DeepSeek.
type entry struct {
	cfg    ProviderConfig
	kind   Kind
	be     backend
	lim    *limiter
	shared SharedLimiter
	held   atomic.Int64 // calls holding a shared slot, for Status
	br     *breaker
	clk    Clock
	m      *metrics
	ledger Ledger
	log    *slog.Logger
	policy RetryPolicy
	svc    Config // cooldowns and Location

	mu           sync.Mutex
	skipUntil    time.Time
	skipReason   string
	lastErr      string
	lastErrAt    time.Time
	lastOKAt     time.Time
	spendDay     string
	spendMicros  int64
	lastProbe    time.Time
	lastProbeErr string
}

// usage is what one attempt consumed.
type usage struct {
	in, out int64
	images  int
	cost    int64
}

func newEntry(pc ProviderConfig, be backend, deps Deps, m *metrics, svc Config) *entry {
	e := &entry{
		cfg: pc, kind: Kind(pc.Name), be: be, lim: newLimiter(pc.Limits), shared: deps.Shared, clk: deps.Clock, m: m,
		ledger: deps.Ledger, log: deps.Logger.With(slog.String("provider", pc.Name)),
		policy: svc.Retry, svc: svc,
	}
	e.br = newBreaker(svc.Breaker, func(s BreakerState) {
		m.breaker.WithLabelValues(pc.Name).Set(float64(s))
	})
	m.breaker.WithLabelValues(pc.Name).Set(0)
	m.quota.WithLabelValues(pc.Name).Set(0)
	return e
}

// acquire takes a rate grant and a concurrency slot, cluster-wide when a
// shared limiter is configured.
func (e *entry) acquire(ctx context.Context, images int) (func(), error) {
	if e.shared == nil || e.kind == KindSimulator {
		return e.lim.acquire(ctx, e.clk, images)
	}
	release, err := e.shared.Acquire(ctx, "provider:"+e.cfg.Name, e.cfg.Limits, images)
	if err != nil {
		return nil, err
	}
	e.held.Add(1)
	return func() { e.held.Add(-1); release() }, nil
}

// usable reports whether the provider may be called now: not in a quota or
// auth cooldown and the breaker not open.
func (e *entry) usable(now time.Time) bool {
	e.mu.Lock()
	skip := now.Before(e.skipUntil)
	e.mu.Unlock()
	return !skip && e.br.current(now) != BreakerOpen
}

// attempt makes one bookkept call: breaker, rate limits, ledger row before,
// timeout, metrics, ledger settlement and status after. fn does the call.
func (e *entry) attempt(ctx context.Context, ref Ref, op string, n, images int, est int64,
	fn func(ctx context.Context) (usage, error),
) error {
	if !e.br.allow(e.clk.Now()) {
		e.m.requests.WithLabelValues(e.cfg.Name, e.cfg.Model, "circuit_open").Inc()
		return &Error{Class: ClassUnavailable, Provider: e.cfg.Name, Code: "circuit_open"}
	}
	release, err := e.acquire(ctx, images)
	if err != nil {
		e.br.release()
		return err
	}
	defer release()
	start := e.clk.Now()
	id, err := e.ledger.Begin(ctx, LedgerEntry{Ref: ref, Provider: e.cfg.Name, Model: e.cfg.Model, Operation: op,
		Attempt: n, StartedAt: start, EstimatedCostMicros: est})
	if err != nil {
		// No pending row, no paid call: the ledger is how budgets are enforced.
		e.br.release()
		return errors.Join(errors.New("ledger begin"), err)
	}
	actx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	u, err := fn(actx)
	timedOut := actx.Err() != nil
	cancel()
	end := e.clk.Now()
	latency := end.Sub(start)

	outcome, code := "ok", ""
	var pe *Error
	switch {
	case err == nil:
	case ctx.Err() != nil:
		// The caller gave up: not the provider's fault, not retried.
		e.br.release()
		outcome, code = "canceled", "canceled"
	default:
		if !errors.As(err, &pe) {
			cls := ClassUnavailable
			code := "internal"
			if timedOut || errors.Is(err, context.DeadlineExceeded) {
				code = "timeout"
			}
			pe = &Error{Class: cls, Code: code, Err: err}
		} else if timedOut && pe.Code == "transport" {
			pe.Code = "timeout"
		}
		pe.Provider = e.cfg.Name
		outcome, code = pe.Class.String(), pe.Code
	}
	if outcome != "canceled" {
		e.br.record(end, pe != nil && pe.Class == ClassUnavailable)
	}

	labels := []string{e.cfg.Name, e.cfg.Model, outcome}
	e.m.requests.WithLabelValues(labels...).Inc()
	e.m.latency.WithLabelValues(labels...).Observe(latency.Seconds())
	if u.in > 0 {
		e.m.tokens.WithLabelValues(e.cfg.Name, e.cfg.Model, "input").Add(float64(u.in))
	}
	if u.out > 0 {
		e.m.tokens.WithLabelValues(e.cfg.Name, e.cfg.Model, "output").Add(float64(u.out))
	}
	if u.images > 0 {
		e.m.images.WithLabelValues(e.cfg.Name, e.cfg.Model).Add(float64(u.images))
	}
	if u.cost > 0 {
		e.m.cost.WithLabelValues(e.cfg.Name, e.cfg.Model).Add(float64(u.cost))
	}

	// Settle even when the caller is gone: the money may be spent.
	if serr := e.ledger.Settle(context.WithoutCancel(ctx), id, Settlement{
		Outcome: outcome, InputTokens: u.in, OutputTokens: u.out, Images: u.images, CostMicros: u.cost,
		Latency: latency, ErrorCode: code, FinishedAt: end,
	}); serr != nil {
		e.log.ErrorContext(ctx, "ledger settle failed", slog.String("ledger_id", id), slog.Any("error", serr))
	}

	e.mu.Lock()
	day := end.In(e.svc.Location).Format(time.DateOnly)
	if day != e.spendDay {
		e.spendDay, e.spendMicros = day, 0
	}
	e.spendMicros += u.cost
	if pe != nil {
		e.lastErr, e.lastErrAt = pe.Error(), end
	} else if err == nil {
		e.lastOKAt = end
	}
	e.mu.Unlock()

	attrs := []any{
		slog.String("request_id", ref.RequestID), slog.String("op", op), slog.String("model", e.cfg.Model),
		slog.Int("attempt", n), slog.String("outcome", outcome), slog.Duration("latency", latency),
		slog.Int64("cost_micros", u.cost),
	}
	switch {
	case pe != nil:
		e.log.WarnContext(ctx, "provider call failed", append(attrs, slog.String("code", pe.Code),
			slog.String("message", pe.Message), slog.Int("status", pe.Status))...)
	case err != nil:
		e.log.InfoContext(ctx, "provider call canceled", attrs...)
		return err
	default:
		e.log.InfoContext(ctx, "provider call", attrs...)
	}
	if pe != nil {
		return pe
	}
	return nil
}

// afterFailure applies the cooldowns a failure implies: quota-exhausted
// until its reset, auth and model-gone for AuthCooldown.
func (e *entry) afterFailure(pe *Error) {
	now := e.clk.Now()
	switch pe.Class {
	case ClassQuotaExhausted:
		until := pe.Until
		if until.IsZero() || !until.After(now) {
			until = now.Add(e.svc.QuotaCooldown)
			pe.Until = until
		}
		e.skip(until, "quota_exhausted")
		e.m.quota.WithLabelValues(e.cfg.Name).Set(1)
		e.log.Warn("provider quota exhausted; skipping it until reset",
			slog.Time("until", until), slog.String("code", pe.Code))
	case ClassAuth, ClassModelGone:
		reason := "auth_failed"
		if pe.Class == ClassModelGone {
			reason = "model_gone"
		}
		e.skip(now.Add(e.svc.AuthCooldown), reason)
		e.log.Error("provider refused credentials or model; skipping it for a while",
			slog.String("reason", reason), slog.String("code", pe.Code))
	}
}

func (e *entry) skip(until time.Time, reason string) {
	e.mu.Lock()
	if until.After(e.skipUntil) {
		e.skipUntil, e.skipReason = until, reason
	}
	e.mu.Unlock()
}

func (e *entry) reset() {
	e.mu.Lock()
	e.skipUntil, e.skipReason, e.lastErr, e.lastErrAt = time.Time{}, "", "", time.Time{}
	e.mu.Unlock()
	e.br.reset()
	e.m.quota.WithLabelValues(e.cfg.Name).Set(0)
}

// skipped returns the active cooldown, if any.
func (e *entry) skipped(now time.Time) (until time.Time, reason string, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if now.Before(e.skipUntil) {
		return e.skipUntil, e.skipReason, true
	}
	if e.skipReason == "quota_exhausted" {
		e.m.quota.WithLabelValues(e.cfg.Name).Set(0)
	}
	e.skipReason = ""
	return time.Time{}, "", false
}

// Status is one provider's state for the admin view and /readyz.
type Status struct {
	Name      string `json:"name"`
	Model     string `json:"model"`
	Simulated bool   `json:"simulated"`
	// State is ok, degraded (last call failed), circuit_open,
	// quota_exhausted, auth_failed, model_gone or not_configured.
	State   string `json:"state" enum:"ok,degraded,circuit_open,quota_exhausted,auth_failed,model_gone,not_configured"`
	Breaker string `json:"breaker"`
	// QuotaUntil is when a quota/auth cooldown ends (nil when none).
	QuotaUntil       *time.Time `json:"quota_until,omitempty"`
	LastError        string     `json:"last_error,omitempty"`
	LastErrorAt      *time.Time `json:"last_error_at,omitempty"`
	LastSuccessAt    *time.Time `json:"last_success_at,omitempty"`
	LastProbeAt      *time.Time `json:"last_probe_at,omitempty"`
	LastProbeError   string     `json:"last_probe_error,omitempty"`
	SpendTodayMicros int64      `json:"spend_today_micros"`
	InFlight         int        `json:"in_flight"`
}

func (e *entry) status(now time.Time) Status {
	br := e.br.current(now)
	until, reason, skipping := e.skipped(now)
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Status{Name: e.cfg.Name, Model: e.cfg.Model, Simulated: e.kind == KindSimulator, State: "ok",
		Breaker: br.String(), LastError: e.lastErr, InFlight: e.lim.inFlight() + int(e.held.Load()), LastProbeError: e.lastProbeErr}
	if e.spendDay == now.In(e.svc.Location).Format(time.DateOnly) {
		s.SpendTodayMicros = e.spendMicros
	}
	t := func(v time.Time) *time.Time {
		if v.IsZero() {
			return nil
		}
		v = v.UTC()
		return &v
	}
	s.LastErrorAt, s.LastSuccessAt, s.LastProbeAt = t(e.lastErrAt), t(e.lastOKAt), t(e.lastProbe)
	switch {
	case skipping:
		s.State, s.QuotaUntil = reason, t(until)
	case br == BreakerOpen:
		s.State = "circuit_open"
	case e.lastErrAt.After(e.lastOKAt):
		s.State = "degraded"
	}
	return s
}

// ProbeResult is one health probe's answer.
type ProbeResult struct {
	Name    string        `json:"name"`
	OK      bool          `json:"ok"`
	Detail  string        `json:"detail,omitempty"`
	Latency time.Duration `json:"latency_ns"`
}

func (e *entry) probe(ctx context.Context) ProbeResult {
	start := e.clk.Now()
	pctx, cancel := context.WithTimeout(ctx, e.cfg.ProbeTimeout)
	err := e.be.probe(pctx)
	cancel()
	r := ProbeResult{Name: e.cfg.Name, OK: err == nil, Latency: e.clk.Now().Sub(start)}
	if err != nil {
		r.Detail = err.Error()
	}
	e.mu.Lock()
	e.lastProbe, e.lastProbeErr = e.clk.Now(), r.Detail
	e.mu.Unlock()
	return r
}
