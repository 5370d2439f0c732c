package httpapi

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
	inflight prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ludeng_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern, method and status. Unknown paths share route=\"unmatched\".",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method", "status"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ludeng_http_errors_total",
			Help: "Problem responses by machine code.",
		}, []string{"code"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ludeng_http_requests_in_flight",
			Help: "Requests being served.",
		}),
	}
	reg.MustRegister(m.duration, m.errors, m.inflight)
	return m
}
