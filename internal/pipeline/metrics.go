package pipeline

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ludeng/ludeng/internal/store"
)

type metrics struct {
	jobs          *prometheus.CounterVec
	images        *prometheus.CounterVec
	qcRejects     *prometheus.CounterVec
	spend         *prometheus.CounterVec
	batchDuration *prometheus.HistogramVec
	batches       *prometheus.CounterVec
	crashes       prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, db *store.DB) (*metrics, error) {
	m := &metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ludeng_pipeline_jobs_total",
			Help: "Pipeline job runs by kind and outcome (ok, error, snoozed, cancelled)."}, []string{"kind", "outcome"}),
		images: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ludeng_pipeline_images_total",
			Help: "Images finished by outcome (succeeded, failed, cancelled)."}, []string{"outcome"}),
		qcRejects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ludeng_pipeline_qc_rejects_total",
			Help: "Generated images rejected by visual QC, by reason."}, []string{"reason"}),
		spend: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ludeng_pipeline_spend_micros_total",
			Help: "Cost of stored images in micro-units of the currency, by provider."}, []string{"provider"}),
		batchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ludeng_pipeline_batch_duration_seconds",
			Help: "Time from submit to a terminal state.", Buckets: prometheus.ExponentialBuckets(5, 2, 10)}, []string{"status"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ludeng_pipeline_batches_total",
			Help: "Batches that reached a terminal state, by state."}, []string{"status"}),
		crashes: prometheus.NewCounter(prometheus.CounterOpts{Name: "ludeng_pipeline_dead_nodes_total",
			Help: "Nodes found dead (stopped without shutting down) whose work this node recovered."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.jobs, m.images, m.qcRejects, m.spend, m.batchDuration, m.batches, m.crashes,
		&queueCollector{db: db}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// queueCollector reports queue depth and the oldest waiting image at scrape time.
type queueCollector struct{ db *store.DB }

var (
	depthDesc  = prometheus.NewDesc("ludeng_pipeline_queue_depth", "Images waiting to be generated, by state.", []string{"state"}, nil)
	oldestDesc = prometheus.NewDesc("ludeng_pipeline_oldest_waiting_seconds", "Age of the oldest image waiting to be generated.", nil, nil)
)

func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- depthDesc; ch <- oldestDesc }

func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := q.db.QueueStats(ctx)
	if err != nil {
		return
	}
	for state, n := range st.Depth {
		ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(n), state)
	}
	age := 0.0
	if st.Oldest != nil {
		age = time.Since(*st.Oldest).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age)
}
