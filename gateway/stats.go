package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// Stats is a snapshot of the metrics the console charts: cumulative
// counters (the console derives rates from successive snapshots) and
// current gauges, read from the gatherer given with WithMetrics.
type Stats struct {
	Time        int64                  `json:"time"` // ms since the epoch
	Connections float64                `json:"connections"`
	Topics      map[string]*TopicStats `json:"topics"`
	Groups      map[string]*GroupStats `json:"groups"`
	// Processors are the stream runtime's series (eddy_stream_*), if
	// any are registered: one entry per series.
	Processors []Series      `json:"processors"`
	Alerts     []AlertStatus `json:"alerts"`
}

// TopicStats are one topic's counters and size.
type TopicStats struct {
	BytesIn    float64 `json:"bytes_in"`
	RecordsIn  float64 `json:"records_in"`
	BytesOut   float64 `json:"bytes_out"`
	RecordsOut float64 `json:"records_out"`
	LogBytes   float64 `json:"log_bytes"`
}

// GroupStats is one group's lag, in total and per partition
// ("topic/partition" keys).
type GroupStats struct {
	Lag        float64            `json:"lag"`
	Partitions map[string]float64 `json:"partitions"`
}

// Series is one metric series.
type Series struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
	Value  float64           `json:"value"`
}

// Stats reads a snapshot of the metrics.
func (s *Server) Stats(ctx context.Context) Stats {
	st := Stats{Time: time.Now().UnixMilli(), Topics: map[string]*TopicStats{}, Groups: map[string]*GroupStats{}, Processors: []Series{}}
	if s.cfg.gatherer != nil {
		mfs, err := s.cfg.gatherer.Gather()
		if err != nil {
			s.logger.Debug("gathering metrics", "err", err)
		}
		for _, mf := range mfs {
			s.addFamily(&st, mf)
		}
	}
	st.Alerts = s.alerts.status()
	return st
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	case m.Summary != nil:
		return float64(m.Summary.GetSampleCount())
	}
	return 0
}

func (s *Server) addFamily(st *Stats, mf *dto.MetricFamily) {
	name := mf.GetName()
	topic := func(m *dto.Metric) *TopicStats {
		t := label(m, "topic")
		ts := st.Topics[t]
		if ts == nil {
			ts = &TopicStats{}
			st.Topics[t] = ts
		}
		return ts
	}
	for _, m := range mf.GetMetric() {
		v := value(m)
		switch name {
		case "eddy_open_connections":
			st.Connections = v
		case "eddy_topic_bytes_in_total":
			topic(m).BytesIn = v
		case "eddy_topic_records_in_total":
			topic(m).RecordsIn = v
		case "eddy_topic_bytes_out_total":
			topic(m).BytesOut = v
		case "eddy_topic_records_out_total":
			topic(m).RecordsOut = v
		case "eddy_partition_log_size_bytes":
			topic(m).LogBytes += v
		case "eddy_group_lag":
			g := label(m, "group")
			gs := st.Groups[g]
			if gs == nil {
				gs = &GroupStats{Partitions: map[string]float64{}}
				st.Groups[g] = gs
			}
			gs.Lag += v
			gs.Partitions[label(m, "topic")+"/"+label(m, "partition")] = v
		default:
			if strings.HasPrefix(name, "eddy_stream_") {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if h := m.GetHistogram(); h != nil {
					// Histograms as their count and sum: the console
					// derives means from their rates.
					st.Processors = append(st.Processors, Series{Name: name + "_count", Labels: labels, Value: v},
						Series{Name: name + "_sum", Labels: labels, Value: h.GetSampleSum()})
					continue
				}
				st.Processors = append(st.Processors, Series{Name: name, Labels: labels, Value: v})
			}
		}
	}
	sort.SliceStable(st.Processors, func(i, j int) bool { return st.Processors[i].Name < st.Processors[j].Name })
}

// statsHub fans the latest snapshot out to SSE subscribers. Each
// subscriber has a one-slot mailbox that keeps only the newest snapshot:
// a slow browser skips snapshots instead of queueing them.
type statsHub struct {
	mu   sync.Mutex
	subs map[chan []byte]struct{}
	last []byte
}

func newStatsHub(*Server) *statsHub { return &statsHub{subs: map[chan []byte]struct{}{}} }

func (h *statsHub) publish(st Stats) {
	data, err := json.Marshal(st)
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = data
	for ch := range h.subs {
		select {
		case <-ch: // drop the unread older snapshot
		default:
		}
		ch <- data
	}
}

func (h *statsHub) subscribe() (chan []byte, []byte) {
	ch := make(chan []byte, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs[ch] = struct{}{}
	return ch, h.last
}

func (h *statsHub) unsubscribe(ch chan []byte) {
	h.mu.Lock()
	delete(h.subs, ch)
	h.mu.Unlock()
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.Stats(r.Context()))
	return nil
}

// handleStatsStream sends a "stats" event with a Stats snapshot every
// stats interval (1 s by default).
func (s *Server) handleStatsStream(w http.ResponseWriter, r *http.Request) error {
	ch, last := s.stats.subscribe()
	defer s.stats.unsubscribe(ch)
	sse, err := startSSE(w)
	if err != nil {
		return err
	}
	if last == nil {
		last, _ = json.Marshal(s.Stats(r.Context()))
	}
	if sse.event("stats", last) != nil {
		return nil
	}
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-s.ctx.Done():
			return nil
		case data := <-ch:
			if sse.event("stats", data) != nil {
				return nil
			}
		}
	}
}
