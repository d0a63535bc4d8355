// Package streamprom exports a stream.App's counters (stream.Metrics) as
// Prometheus series, eddy_stream_*{app="..."}, on any registry (the
// broker's, in `eddy demo`), where the console's processor page and the
// Grafana dashboard find them.
package streamprom

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eddy-streaming/eddy/stream"
)

type collector struct {
	app string
	m   *stream.Metrics
}

type counter struct {
	desc *prometheus.Desc
	get  func(*stream.Metrics) *atomic.Int64
}

func newCounter(name, help string, get func(*stream.Metrics) *atomic.Int64) counter {
	return counter{prometheus.NewDesc(name, help, []string{"app"}, nil), get}
}

var counters = []counter{
	newCounter("eddy_stream_records_processed_total", "Input records taken through the app's tasks.", func(m *stream.Metrics) *atomic.Int64 { return &m.RecordsProcessed }),
	newCounter("eddy_stream_processing_errors_total", "Operator panics, processor errors and serialization failures.", func(m *stream.Metrics) *atomic.Int64 { return &m.ProcessingErrors }),
	newCounter("eddy_stream_deserialization_errors_total", "Keys or values the serdes rejected.", func(m *stream.Metrics) *atomic.Int64 { return &m.DeserializationErrors }),
	newCounter("eddy_stream_late_records_total", "Records later than their window's grace.", func(m *stream.Metrics) *atomic.Int64 { return &m.LateRecords }),
	newCounter("eddy_stream_dead_letter_records_total", "Records written to the dead-letter topic.", func(m *stream.Metrics) *atomic.Int64 { return &m.DeadLettered }),
	newCounter("eddy_stream_skipped_records_total", "Failed records dropped (policy Skip).", func(m *stream.Metrics) *atomic.Int64 { return &m.Skipped }),
	newCounter("eddy_stream_restored_records_total", "Changelog records applied while restoring state stores.", func(m *stream.Metrics) *atomic.Int64 { return &m.RestoredRecords }),
	newCounter("eddy_stream_commits_total", "Offset commits (or transactions) completed.", func(m *stream.Metrics) *atomic.Int64 { return &m.Commits }),
}

// Register adds the counters of app's Metrics to r, labelled app.
func Register(r prometheus.Registerer, app string, m *stream.Metrics) error {
	return r.Register(&collector{app: app, m: m})
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, k := range counters {
		ch <- k.desc
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, k := range counters {
		ch <- prometheus.MustNewConstMetric(k.desc, prometheus.CounterValue, float64(k.get(c.m).Load()), c.app)
	}
}
