// Package streamprom exports a stream.App's counters (stream.Metrics) as
// Prometheus series, eddy_stream_*{app="..."}, and its tasks' counters
// (stream.App.TaskMetrics) as eddy_stream_task_*{app,task}, on any
// registry (the broker's, in `eddy demo`), where the console's processor
// page and the Grafana dashboard find them.
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
	newCounter("eddy_stream_standby_records_total", "Changelog records applied to standby tasks' stores.", func(m *stream.Metrics) *atomic.Int64 { return &m.StandbyRecords }),
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

// Per-task series, labelled app and task (e.g. "0_3", "global"), read from
// a snapshot at each scrape: a task that closed or moved to another
// instance disappears from /metrics.
var (
	taskLabels    = []string{"app", "task"}
	taskRecords   = prometheus.NewDesc("eddy_stream_task_records_total", "Input records taken through the task.", taskLabels, nil)
	taskErrors    = prometheus.NewDesc("eddy_stream_task_errors_total", "Records of the task that failed (deserialization, processing, late).", taskLabels, nil)
	taskDead      = prometheus.NewDesc("eddy_stream_task_dead_letters_total", "Records of the task written to the dead-letter topic.", taskLabels, nil)
	taskRestored  = prometheus.NewDesc("eddy_stream_task_restored_records", "Changelog offsets the task's stores restored since the task started.", taskLabels, nil)
	taskRemaining = prometheus.NewDesc("eddy_stream_task_restore_remaining_records", "Changelog offsets the task's stores still have to restore (0 once running).", taskLabels, nil)
	taskRunning   = prometheus.NewDesc("eddy_stream_task_running", "1 if the task processes records, 0 while it restores its stores (or is a standby).", taskLabels, nil)
	taskStandby   = prometheus.NewDesc("eddy_stream_task_standby", "1 if the task is a standby: a warm copy of the stores of a task another instance runs.", taskLabels, nil)
	taskLag       = prometheus.NewDesc("eddy_stream_task_standby_lag_records", "Changelog offsets a standby task has not applied yet (-1 until known; 0 for active tasks).", taskLabels, nil)
	taskLatency   = prometheus.NewDesc("eddy_stream_task_process_latency_seconds",
		"Per task and poll: time from when the runtime starts on the poll's records until the task has handed the outputs of its last record to the producer client.", taskLabels, nil)
)

type taskCollector struct {
	app   string
	tasks func() []stream.TaskStats
}

// RegisterTasks adds the per-task series of app to r; tasks is called at
// every scrape (stream.App.TaskMetrics).
func RegisterTasks(r prometheus.Registerer, app string, tasks func() []stream.TaskStats) error {
	return r.Register(&taskCollector{app: app, tasks: tasks})
}

func (c *taskCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{taskRecords, taskErrors, taskDead, taskRestored, taskRemaining, taskRunning, taskStandby, taskLag, taskLatency} {
		ch <- d
	}
}

func (c *taskCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.tasks() {
		running, standby := 0.0, 0.0
		switch s.State {
		case stream.TaskRunning:
			running = 1
		case stream.TaskStandby:
			standby = 1
		}
		for _, m := range []struct {
			d *prometheus.Desc
			t prometheus.ValueType
			v float64
		}{
			{taskRecords, prometheus.CounterValue, float64(s.Processed)},
			{taskErrors, prometheus.CounterValue, float64(s.Errors)},
			{taskDead, prometheus.CounterValue, float64(s.DeadLettered)},
			{taskRestored, prometheus.GaugeValue, float64(s.Restored)},
			{taskRemaining, prometheus.GaugeValue, float64(s.RestoreTotal - s.Restored)},
			{taskRunning, prometheus.GaugeValue, running},
			{taskStandby, prometheus.GaugeValue, standby},
			{taskLag, prometheus.GaugeValue, float64(s.Lag)},
		} {
			ch <- prometheus.MustNewConstMetric(m.d, m.t, m.v, c.app, s.ID)
		}
		buckets := make(map[float64]uint64, len(stream.LatencyBounds))
		var cum uint64
		for i, b := range stream.LatencyBounds {
			cum += s.Latency.Counts[i]
			buckets[b.Seconds()] = cum
		}
		ch <- prometheus.MustNewConstHistogram(taskLatency, s.Latency.Count, s.Latency.Sum.Seconds(), buckets, c.app, s.ID)
	}
}
