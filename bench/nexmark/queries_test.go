package nexmark

import (
	"testing"

	"github.com/eddy-streaming/eddy/stream"
	"github.com/eddy-streaming/eddy/stream/serde"
	"github.com/eddy-streaming/eddy/stream/streamtest"
)

// encodedEvents returns the events of cfg as encoded values with their
// timestamps.
func encodedEvents(t testing.TB, cfg Config) (vals [][]byte, ts []int64) {
	t.Helper()
	gen := newGen(t, cfg)
	var ev Event
	for n := range cfg.Events {
		gen.Event(n, &ev)
		vals = append(vals, AppendEvent(nil, &ev))
		ts = append(ts, ev.Time())
	}
	return vals, ts
}

// driveQuery starts a test driver for query q reading "events" and writing
// "out"; q "floor" reads the events and drops them undecoded.
func driveQuery(tb testing.TB, q string) (*streamtest.Driver, *streamtest.InputTopic[OptionalBid, OptionalBid]) {
	tb.Helper()
	b := stream.NewBuilder()
	if q == "floor" {
		stream.From(b, "events", serde.Void, serde.Void).Filter(func(noKey, noKey) bool { return false })
	} else if err := buildQuery(b, q, "events", "out", QueryConfig{}); err != nil {
		tb.Fatal(err)
	}
	top, err := b.Build()
	if err != nil {
		tb.Fatal(err)
	}
	d := streamtest.New(tb, top)
	return d, streamtest.Input(d, "events", OptionalBidSerde{}, OptionalBidSerde{})
}

// TestQueriesInMemory runs every query written with the DSL through the
// stream test driver (no broker), ends the input, and compares its output
// with the reference.
func TestQueriesInMemory(t *testing.T) {
	vals, ts := encodedEvents(t, ciConfig)
	gen := newGen(t, ciConfig)
	for _, q := range Queries {
		t.Run(q, func(t *testing.T) {
			d, in := driveQuery(t, q)
			for i := range vals {
				if err := in.PipeRaw(nil, vals[i], ts[i]); err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
			}
			d.EndInput() // the windows still open emit, as at the end of a bounded run
			if dl := d.DeadLetters(); len(dl) > 0 {
				t.Fatalf("%d dead letters, first: %v", len(dl), dl[0].Headers)
			}
			got := NewDigest(1000)
			o := newOutputReader(q, got)
			for _, r := range d.Records("out") {
				if err := o.add(r); err != nil {
					t.Fatal(err)
				}
			}
			o.finish()
			want, err := Reference(q, gen, QueryConfig{}, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if err := Compare(want, got); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d rows match the reference", q, got.Rows)
		})
	}
}

// BenchmarkQueryInMemory measures a query's hot path without a broker: the
// stream test driver pipes pre-encoded events through the topology (one op
// is one event). Output and internal topics are kept in memory by the
// driver.
func BenchmarkQueryInMemory(b *testing.B) {
	const n = 200_000
	vals, ts := encodedEvents(b, Config{Events: n, EventsPerSecond: 10_000_000})
	// "floor": the driver's and the source's own cost per record, to
	// subtract from the queries'.
	for _, q := range append([]string{"floor"}, Queries...) {
		b.Run(q, func(b *testing.B) {
			_, in := driveQuery(b, q)
			b.ReportAllocs()
			cpu0 := processCPU()
			for i := 0; b.Loop(); i++ {
				// Past the generated range, time moves on so that windows
				// keep closing.
				if err := in.PipeRaw(nil, vals[i%n], ts[i%n]+int64(i/n)*ts[n-1]); err != nil {
					b.Fatal(err)
				}
			}
			// The machine may be shared: CPU time says what the events
			// cost, wall time what they took.
			cpu := processCPU() - cpu0
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
		})
	}
}
