package broker

import (
	"encoding/binary"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// metrics are the broker's Prometheus metrics, in a registry of the
// broker's own (several brokers may run in one process, as in tests).
// Broker.Registry exposes it: the HTTP layer serves it at /metrics and
// other components (the stream runtime, the gateway) register theirs on
// it.
//
// The hot paths stay cheap: request counters and latency histograms are
// created once per API key at start and indexed by key; per-topic counters
// are created on a topic's first use and cached on the topic struct, so a
// produce or fetch adds to a counter with no map lookup or label
// formatting. Sizes, offsets and group lag are read when scraped
// (collect), not maintained on every write.
type metrics struct {
	reg         *prometheus.Registry
	connections atomic.Int64

	requests [128]prometheus.Counter  // by API key; nil for keys not served
	latency  [128]prometheus.Observer // by API key

	bytesIn, recordsIn, bytesOut, recordsOut *prometheus.CounterVec
	fsync                                    prometheus.Histogram
}

// topicMetrics are one topic's counters, cached on the topic.
type topicMetrics struct {
	bytesIn, recordsIn, bytesOut, recordsOut prometheus.Counter
}

func newMetrics(b *Broker) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eddy_requests_total", Help: "Kafka requests received, by API.",
	}, []string{"api"})
	lat := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "eddy_request_duration_seconds",
		Help:    "Time from a Kafka request being decoded to its response being ready, by API (long-polling fetches and parked group requests included).",
		Buckets: prometheus.ExponentialBuckets(50e-6, 2.5, 14), // 50µs .. ~74s
	}, []string{"api"})
	for key, h := range handlers {
		if h == nil || int(key) >= len(m.requests) {
			continue
		}
		name := kmsg.NameForKey(key)
		m.requests[key] = reqs.WithLabelValues(name)
		m.latency[key] = lat.WithLabelValues(name)
	}
	topicCounter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"topic"})
	}
	m.bytesIn = topicCounter("eddy_topic_bytes_in_total", "Record batch bytes appended by producers, by topic.")
	m.recordsIn = topicCounter("eddy_topic_records_in_total", "Records appended by producers, by topic.")
	m.bytesOut = topicCounter("eddy_topic_bytes_out_total", "Record batch bytes sent to consumers, by topic.")
	m.recordsOut = topicCounter("eddy_topic_records_out_total", "Records sent to consumers (counted from batch headers), by topic.")
	m.fsync = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "eddy_fsync_duration_seconds",
		Help:    "Duration of the partition logs' group-commit fsyncs.",
		Buckets: prometheus.ExponentialBuckets(20e-6, 2.5, 14), // 20µs .. ~30s
	})
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		reqs, lat, m.bytesIn, m.recordsIn, m.bytesOut, m.recordsOut, m.fsync,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "eddy_open_connections", Help: "Kafka client connections open now.",
		}, func() float64 { return float64(m.connections.Load()) }),
		&scrapeCollector{b: b},
	)
	return m
}

// Registry returns the broker's Prometheus registry: the broker's metrics
// are registered on it, and embedding programs may register their own
// (prometheus.Registerer) and serve it (prometheus.Gatherer).
func (b *Broker) Registry() *prometheus.Registry { return b.metrics.reg }

func (m *metrics) request(key int16) {
	if key >= 0 && int(key) < len(m.requests) && m.requests[key] != nil {
		m.requests[key].Inc()
	}
}

// answered records how long a request took until its response was ready.
func (m *metrics) answered(key int16, took time.Duration) {
	if key >= 0 && int(key) < len(m.latency) && m.latency[key] != nil {
		m.latency[key].Observe(took.Seconds())
	}
}

// synced is the storage fsync hook.
func (m *metrics) synced(took time.Duration) { m.fsync.Observe(took.Seconds()) }

// topic returns t's counters, creating them on first use.
func (m *metrics) topic(t *topic) *topicMetrics {
	if tm := t.metrics.Load(); tm != nil {
		return tm
	}
	tm := &topicMetrics{
		bytesIn:    m.bytesIn.WithLabelValues(t.name),
		recordsIn:  m.recordsIn.WithLabelValues(t.name),
		bytesOut:   m.bytesOut.WithLabelValues(t.name),
		recordsOut: m.recordsOut.WithLabelValues(t.name),
	}
	if !t.metrics.CompareAndSwap(nil, tm) {
		return t.metrics.Load()
	}
	return tm
}

// forgetTopic drops a deleted topic's series.
func (m *metrics) forgetTopic(name string) {
	for _, v := range []*prometheus.CounterVec{m.bytesIn, m.recordsIn, m.bytesOut, m.recordsOut} {
		v.DeleteLabelValues(name)
	}
}

func (m *metrics) produced(p *partition, bytes, records int) {
	tm := m.topic(p.topic)
	tm.bytesIn.Add(float64(bytes))
	tm.recordsIn.Add(float64(records))
}

// fetched counts the stored batches read for a consumer; the record count
// comes from the batch headers (Kafka's batch layout: length at byte 8,
// record count at byte 57).
func (m *metrics) fetched(p *partition, data []byte) {
	records := 0
	for rest := data; len(rest) >= 61; {
		n := 12 + int(int32(binary.BigEndian.Uint32(rest[8:])))
		if n < 61 || n > len(rest) {
			break
		}
		records += int(int32(binary.BigEndian.Uint32(rest[57:])))
		rest = rest[n:]
	}
	tm := m.topic(p.topic)
	tm.bytesOut.Add(float64(len(data)))
	tm.recordsOut.Add(float64(records))
}

// scrapeCollector reads partition sizes and offsets and consumer-group
// lag when /metrics is scraped.
type scrapeCollector struct{ b *Broker }

var (
	descLogSize = prometheus.NewDesc("eddy_partition_log_size_bytes",
		"Bytes of a partition's log segments on disk.", []string{"topic", "partition"}, nil)
	descSegments = prometheus.NewDesc("eddy_partition_segments",
		"Segments in a partition's log.", []string{"topic", "partition"}, nil)
	descHW = prometheus.NewDesc("eddy_partition_high_watermark",
		"A partition's high watermark: the offset after the last record consumers may read.", []string{"topic", "partition"}, nil)
	descLogStart = prometheus.NewDesc("eddy_partition_log_start_offset",
		"A partition's first offset still stored.", []string{"topic", "partition"}, nil)
	descGroupOffset = prometheus.NewDesc("eddy_group_committed_offset",
		"A consumer group's committed offset on a partition.", []string{"group", "topic", "partition"}, nil)
	descGroupLag = prometheus.NewDesc("eddy_group_lag",
		"Records between a consumer group's committed offset and the partition's high watermark.", []string{"group", "topic", "partition"}, nil)
	descGroupMembers = prometheus.NewDesc("eddy_group_members",
		"Members of a consumer group.", []string{"group", "state"}, nil)
)

func (s *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLogSize, descSegments, descHW, descLogStart, descGroupOffset, descGroupLag, descGroupMembers} {
		ch <- d
	}
}

func (s *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range s.b.allPartitions() {
		labels := []string{p.topic.name, strconv.Itoa(int(p.index))}
		offs := p.log.Offsets()
		ch <- prometheus.MustNewConstMetric(descLogSize, prometheus.GaugeValue, float64(p.log.Size()), labels...)
		ch <- prometheus.MustNewConstMetric(descSegments, prometheus.GaugeValue, float64(p.log.NumSegments()), labels...)
		ch <- prometheus.MustNewConstMetric(descHW, prometheus.GaugeValue, float64(offs.HighWatermark), labels...)
		ch <- prometheus.MustNewConstMetric(descLogStart, prometheus.GaugeValue, float64(offs.LogStart), labels...)
	}
	for _, g := range s.b.GroupLags() {
		ch <- prometheus.MustNewConstMetric(descGroupMembers, prometheus.GaugeValue, float64(g.Members), g.Group, g.State)
		for _, pl := range g.Partitions {
			labels := []string{g.Group, pl.Topic, strconv.Itoa(int(pl.Partition))}
			ch <- prometheus.MustNewConstMetric(descGroupOffset, prometheus.GaugeValue, float64(pl.Committed), labels...)
			if pl.Lag >= 0 {
				ch <- prometheus.MustNewConstMetric(descGroupLag, prometheus.GaugeValue, float64(pl.Lag), labels...)
			}
		}
	}
}
