package provider

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the provider layer's collectors. No user labels: provider,
// model and outcome only.
type metrics struct {
	requests *prometheus.CounterVec   // provider, model, outcome
	latency  *prometheus.HistogramVec // provider, model, outcome
	retries  *prometheus.CounterVec   // provider, model, class
	breaker  *prometheus.GaugeVec     // provider
	quota    *prometheus.GaugeVec     // provider: 1 while exhausted
	tokens   *prometheus.CounterVec   // provider, model, direction
	images   *prometheus.CounterVec   // provider, model
	cost     *prometheus.CounterVec   // provider, model
	fallback *prometheus.CounterVec   // from, reason
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ludeng_provider_requests_total",
			Help: "Provider calls (attempts) by provider, model and outcome (ok or an error class).",
		}, []string{"provider", "model", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ludeng_provider_request_duration_seconds",
			Help: "Duration of provider calls, excluding rate-limit waits.",
			// Image models take 5–90 s; the enhancer well under a second.
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300},
		}, []string{"provider", "model", "outcome"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ludeng_provider_retries_total",
			Help: "Retries at the same provider, by the class of the failure retried.",
		}, []string{"provider", "model", "class"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ludeng_provider_breaker_state",
			Help: "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
		}, []string{"provider"}),
		quota: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ludeng_provider_quota_exhausted",
			Help: "1 while the provider is skipped for an exhausted quota or balance.",
		}, []string{"provider"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ludeng_provider_tokens_total",
			Help: "Tokens reported by providers, by direction (input, output).",
		}, []string{"provider", "model", "direction"}),
		images: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ludeng_provider_images_total",
			Help: "Images delivered by providers.",
		}, []string{"provider", "model"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ludeng_provider_cost_micros_total",
			Help: "Cost of provider calls in micro-units of the configured currency.",
		}, []string{"provider", "model"}),
		fallback: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ludeng_provider_fallbacks_total",
			Help: "Requests moved past a provider to the next in the fallback order, by reason.",
		}, []string{"provider", "reason"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.retries, m.breaker, m.quota,
		m.tokens, m.images, m.cost, m.fallback} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				// Service and Enhancer share these collectors on one registry.
				if err := adopt(m, are); err != nil {
					return nil, err
				}
				continue
			}
			return nil, fmt.Errorf("register provider metrics: %w", err)
		}
	}
	return m, nil
}

// adopt swaps a freshly built collector for the one already registered.
func adopt(m *metrics, are prometheus.AlreadyRegisteredError) error {
	switch ex := are.ExistingCollector.(type) {
	case *prometheus.CounterVec:
		switch are.NewCollector {
		case m.requests:
			m.requests = ex
		case m.retries:
			m.retries = ex
		case m.tokens:
			m.tokens = ex
		case m.images:
			m.images = ex
		case m.cost:
			m.cost = ex
		case m.fallback:
			m.fallback = ex
		}
	case *prometheus.HistogramVec:
		m.latency = ex
	case *prometheus.GaugeVec:
		switch are.NewCollector {
		case m.breaker:
			m.breaker = ex
		case m.quota:
			m.quota = ex
		}
	default:
		return fmt.Errorf("register provider metrics: %w", are)
	}
	return nil
}
