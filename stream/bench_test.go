package stream

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/eddy-streaming/eddy/stream/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The record path of one task, in process: no broker, a collector that
// drops what is written. Figures are per input record (b.N records):
// go test ./stream -run XXX -bench . -benchmem

// discard counts what it is sent and gives the sinks' records back at
// once, as the App does when they are produced.
type discard struct {
	n    int
	recs *sinkRecords
}

func (d *discard) send(r *kgo.Record) {
	d.n++
	d.recs.put(r)
}

func benchTask(b *testing.B, top *Topology, caching bool) *task {
	b.Helper()
	recs := newSinkRecords()
	e := &env{appID: "bench", dlq: "bench-dlq", log: slog.New(slog.DiscardHandler), out: &discard{recs: recs}, metrics: &Metrics{},
		wallNow: func() int64 { return 0 }, caching: caching, records: recs}
	t, err := newTask(e, top, top.subs[len(top.subs)-1], 0)
	if err != nil {
		b.Fatal(err)
	}
	return t
}

func inputs(topic string, n, keys int) []*kgo.Record {
	rs := make([]*kgo.Record, n)
	base := time.UnixMilli(1_700_000_000_000)
	for i := range rs {
		rs[i] = &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("key-%d", i%keys)), Value: []byte(fmt.Sprintf("value-%08d", i)),
			Timestamp: base.Add(time.Duration(i) * time.Millisecond), Offset: int64(i)}
	}
	return rs
}

func runBench(b *testing.B, t *task, rs []*kgo.Record) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := t.process(rs[i%len(rs)]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkStateless: decode, Filter, MapValues, encode, produce.
func BenchmarkStateless(b *testing.B) {
	bl := NewBuilder()
	s := From(bl, "in", serde.String, serde.String)
	MapValues(s.Filter(func(k, v string) bool { return len(v) > 3 }), func(_ string, v string) string { return v[:6] }).
		WithSerdes(serde.String, serde.String).To("out")
	top, _ := bl.Build()
	runBench(b, benchTask(b, top, true), inputs("in", 4096, 1000))
}

// BenchmarkStatelessBatches: the stateless path as the runtime drives it,
// a poll's records (batches of 100) at a time, with ("metrics": the
// per-task record count published and the latency observed once per
// batch, as App does) and without the per-batch metrics work.
func BenchmarkStatelessBatches(b *testing.B) {
	bl := NewBuilder()
	s := From(bl, "in", serde.String, serde.String)
	MapValues(s.Filter(func(k, v string) bool { return len(v) > 3 }), func(_ string, v string) string { return v[:6] }).
		WithSerdes(serde.String, serde.String).To("out")
	top, _ := bl.Build()
	rs := inputs("in", 4000, 1000) // whole batches
	for _, metrics := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "metrics"}[metrics], func(b *testing.B) {
			t := benchTask(b, top, true)
			parts := make([][]*kgo.Record, 1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += 100 {
				j := i % len(rs)
				parts[0] = rs[j:min(j+100, j+b.N-i)]
				var err error
				if metrics {
					err = t.runBatch(parts, time.Now())
				} else {
					err = processMerged(t, parts)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if metrics && t.stats.processed.Load() != int64(b.N) {
				b.Fatalf("counted %d of %d records", t.stats.processed.Load(), b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkFilterOnly: decode and a filter that drops everything (the
// operator chain's own cost).
func BenchmarkFilterOnly(b *testing.B) {
	bl := NewBuilder()
	From(bl, "in", serde.Bytes, serde.Bytes).Filter(func(k, v []byte) bool { return false }).To("out")
	top, _ := bl.Build()
	runBench(b, benchTask(b, top, true), inputs("in", 4096, 1000))
}

// BenchmarkCount: GroupByKey().Count() with the store's write cache, as in
// an App (the changelog is written at flush, once per commit).
func BenchmarkCount(b *testing.B) {
	bl := NewBuilder()
	From(bl, "in", serde.String, serde.String).GroupByKey().Count(InMemory()).ToStream().To("out")
	top, _ := bl.Build()
	t := benchTask(b, top, true)
	rs := inputs("in", 4096, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := t.process(rs[i%len(rs)]); err != nil {
			b.Fatal(err)
		}
		if i%10000 == 9999 {
			t.flush()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkTumblingCount: a 1 s tumbling window count, final results only.
func BenchmarkTumblingCount(b *testing.B) {
	bl := NewBuilder()
	WindowedBy(From(bl, "in", serde.String, serde.String).GroupByKey(), TumblingWindows(time.Second)).EmitFinal().
		Count(InMemory()).ToStream().WithSerdes(WindowedSerde(serde.String), serde.Int64).To("out")
	top, _ := bl.Build()
	t := benchTask(b, top, true)
	rs := inputs("in", 1<<16, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := rs[i%len(rs)]
		r.Timestamp = time.UnixMilli(1_700_000_000_000 + int64(i))
		if err := t.process(r); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
