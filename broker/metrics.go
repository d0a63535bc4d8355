package broker

import "sync/atomic"

// metrics are the broker's internal counters. They are exported to
// Prometheus by the HTTP layer.
type metrics struct {
	connections atomic.Int64
	requests    [128]atomic.Int64 // by API key
	bytesIn     atomic.Int64
	recordsIn   atomic.Int64
	bytesOut    atomic.Int64
}

func newMetrics() *metrics { return &metrics{} }

func (m *metrics) request(key int16) {
	if key >= 0 && int(key) < len(m.requests) {
		m.requests[key].Add(1)
	}
}

func (m *metrics) produced(p *partition, bytes, records int) {
	m.bytesIn.Add(int64(bytes))
	m.recordsIn.Add(int64(records))
}
