package stream_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streaming/eddy/stream"
	"github.com/eddy-streaming/eddy/stream/serde"
	"github.com/eddy-streaming/eddy/stream/streamtest"
)

func wordCount(t *testing.T) *stream.Topology {
	b := stream.NewBuilder()
	lines := stream.From(b, "lines", serde.String, serde.String)
	words := stream.FlatMapValues(lines, func(_ string, l string, emit func(string)) {
		for _, w := range strings.Fields(l) {
			emit(strings.ToLower(w))
		}
	}).WithSerdes(serde.String, serde.String)
	stream.GroupBy(words, func(_, w string) string { return w }, serde.String, stream.Named("words")).
		Count(stream.Named("counts")).ToStream().To("counts")
	return build(t, b)
}

func TestWordCountRepartitionsAndRestores(t *testing.T) {
	for _, parts := range []int{1, 3} {
		t.Run(fmt.Sprint(parts, " partitions"), func(t *testing.T) {
			d := streamtest.New(t, wordCount(t), streamtest.Partitions(parts), streamtest.AppID("wc"))
			in := streamtest.Input(d, "lines", serde.String, serde.String)
			in.Pipe("l1", "the cat and the hat", 1)
			in.Pipe("l2", "The end", 2)
			out := streamtest.Output(d, "counts", serde.String, serde.Int64)
			last := map[string]int64{}
			for _, r := range out.ReadKeyValues() {
				last[r.Key] = r.Value
			}
			equal(t, last, map[string]int64{"the": 3, "cat": 1, "and": 1, "hat": 1, "end": 1})
			if n := len(d.Records("wc-words-repartition")); n != 7 {
				t.Fatalf("%d records in the repartition topic", n)
			}
			if n := len(d.Records("wc-counts-changelog")); n != 7 {
				t.Fatalf("%d records in the changelog", n)
			}
			// After a restart the counts continue from the changelog.
			d.Restart()
			in.Pipe("l3", "the", 3)
			equal(t, out.ReadKeyValues(), []stream.KeyValue[string, int64]{kv("the", int64(4))})
			if d.Metrics().RestoredRecords.Load() != 7 {
				t.Fatalf("restored %d", d.Metrics().RestoredRecords.Load())
			}
		})
	}
}

func TestReduceAndAggregate(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.From(b, "in", serde.String, serde.Int64)
	g := s.GroupByKey()
	g.Reduce(func(a, v int64) int64 { return max(a, v) }, stream.Named("max")).ToStream().To("max")
	type stats struct{ N, Sum int64 }
	stream.Aggregate(g, func() stats { return stats{} }, func(_ string, v int64, a stats) stats {
		return stats{a.N + 1, a.Sum + v}
	}, serde.JSON[stats](), stream.Named("stats")).ToStream().To("stats")
	d := streamtest.New(t, build(t, b))
	in := streamtest.Input(d, "in", serde.String, serde.Int64)
	in.Pipe("a", 3, 1)
	in.Pipe("a", 1, 2)
	in.Pipe("b", 7, 3)
	in.Pipe("a", 5, 4)
	equal(t, streamtest.Output(d, "max", serde.String, serde.Int64).ReadKeyValues(),
		[]stream.KeyValue[string, int64]{kv("a", int64(3)), kv("a", int64(3)), kv("b", int64(7)), kv("a", int64(5))})
	got := streamtest.Output(d, "stats", serde.String, serde.JSON[stats]()).ReadKeyValues()
	equal(t, got[len(got)-1], kv("a", stats{3, 9}))
	st := streamtest.KeyValueStore[string, stats](d, "stats")
	v, ok, err := st.Get("b")
	if err != nil || !ok || v != (stats{1, 7}) {
		t.Fatalf("store b = %v %v %v", v, ok, err)
	}
	if len(d.Records("test-in-repartition")) != 0 {
		t.Fatal("repartitioned without a key change")
	}
}

func TestTableFromFilterMapValues(t *testing.T) {
	b := stream.NewBuilder()
	users := stream.TableFrom(b, "users", serde.String, serde.String, stream.Named("users"))
	adults := users.Filter(func(_ string, v string) bool { return strings.HasSuffix(v, "+") }, stream.Named("adults"))
	stream.TableMapValues(adults, func(_ string, v string) int64 { return int64(len(v)) }, serde.Int64).To("lens")
	d := streamtest.New(t, build(t, b))
	in := streamtest.Input(d, "users", serde.String, serde.String)
	in.Pipe("u1", "ann+", 1)
	in.Pipe("u2", "bob", 2)
	in.Pipe("u1", "ann", 3) // stops matching: deleted from adults
	in.Pipe("u2", "bob+", 4)
	in.PipeTombstone("u2", 5)
	recs := d.Records("lens")
	var got []string
	for _, r := range recs {
		if r.Value == nil {
			got = append(got, string(r.Key)+"=<deleted>")
		} else {
			n, _ := serde.Int64.Decode(r.Value)
			got = append(got, fmt.Sprintf("%s=%d", r.Key, n))
		}
	}
	equal(t, got, []string{"u1=4", "u1=<deleted>", "u2=4", "u2=<deleted>"})
	st := streamtest.KeyValueStore[string, string](d, "users")
	if _, ok, _ := st.Get("u2"); ok {
		t.Fatal("tombstone did not delete u2")
	}
	if v, _, _ := st.Get("u1"); v != "ann" {
		t.Fatalf("u1 = %q", v)
	}
}

// dedup is a Processor API example: it forwards the first record per key,
// remembers keys in a store, and forgets them on a wall-clock punctuator;
// a stream-time punctuator forwards a marker.
type dedup struct {
	ctx  *stream.ProcessorContext[string, string]
	seen stream.KeyValueStore[string, int64]
}

func (p *dedup) Init(ctx *stream.ProcessorContext[string, string]) error {
	p.ctx = ctx
	var err error
	if p.seen, err = stream.GetKeyValueStore[string, int64](ctx, "seen"); err != nil {
		return err
	}
	ctx.Schedule(time.Minute, stream.PunctuateWallClock, func(now int64) {
		var keys []string
		p.seen.All(func(k string, _ int64) bool { keys = append(keys, k); return true })
		for _, k := range keys {
			p.seen.Delete(k)
		}
	})
	ctx.Schedule(10*time.Millisecond, stream.PunctuateStreamTime, func(ts int64) {
		ctx.Forward(stream.Record[string, string]{Key: "tick", Value: fmt.Sprint(ts), Timestamp: ts})
	})
	return nil
}

func (p *dedup) Process(r stream.Record[string, string]) error {
	if r.Value == "bad" {
		return fmt.Errorf("bad value for %s", r.Key)
	}
	if _, ok, err := p.seen.Get(r.Key); err != nil || ok {
		return err
	}
	if err := p.seen.Put(r.Key, r.Timestamp); err != nil {
		return err
	}
	p.ctx.Forward(r)
	return nil
}

func (p *dedup) Close() error { return nil }

func TestProcessorAPIStoresAndPunctuators(t *testing.T) {
	b := stream.NewBuilder()
	stream.AddKeyValueStore(b, "seen", serde.String, serde.Int64)
	s := stream.From(b, "in", serde.String, serde.String)
	stream.Process(s, func() stream.Processor[string, string, string, string] { return &dedup{} }, stream.WithStores("seen")).
		WithSerdes(serde.String, serde.String).To("out")
	d := streamtest.New(t, build(t, b))
	in := streamtest.Input(d, "in", serde.String, serde.String)
	out := streamtest.Output(d, "out", serde.String, serde.String)
	in.Pipe("a", "1", 100) // first record: stream time starts at 100
	in.Pipe("a", "2", 105)
	in.Pipe("b", "3", 111) // 111 >= 110: stream-time punctuator fires
	equal(t, out.ReadKeyValues(), []stream.KeyValue[string, string]{kv("a", "1"), kv("b", "3"), kv("tick", "111")})
	in.Pipe("a", "4", 112)
	if !out.IsEmpty() {
		t.Fatal("duplicate forwarded")
	}
	d.AdvanceWallClock(time.Minute) // forgets every key
	in.Pipe("a", "5", 113)
	equal(t, out.ReadKeyValues(), []stream.KeyValue[string, string]{kv("a", "5")})
	in.Pipe("c", "bad", 114)
	if len(d.DeadLetters()) != 1 {
		t.Fatal("processor error not dead-lettered")
	}
}
