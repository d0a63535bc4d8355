package stream_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streaming/eddy/stream"
	"github.com/eddy-streaming/eddy/stream/serde"
	"github.com/eddy-streaming/eddy/stream/streamtest"
)

// At the end of a bounded input every window closes: with EmitFinal the
// windows still open emit their results, for every kind of window.
func TestEndInputClosesOpenWindows(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		name   string
		w      stream.Windows
		before []string // emitted while records come
		after  []string // emitted by EndInput
	}{
		{"tumbling", stream.TumblingWindows(10 * ms), []string{"a@0-10=2"}, []string{"a@10-20=1", "b@10-20=1"}},
		{"hopping", stream.HoppingWindows(10*ms, 5*ms), []string{"a@-5-5=1", "a@0-10=2"},
			[]string{"a@5-15=2", "b@5-15=1", "a@10-20=1", "b@10-20=1"}},
		{"session", stream.SessionWindows(5 * ms), []string{"a@1-5=2"}, []string{"a@12-12=1", "b@13-13=1"}},
		{"sliding", stream.SlidingWindows(5 * ms).Grace(2 * ms), []string{"a@-4-1=1", "a@0-5=2"},
			[]string{"a@7-12=1", "b@8-13=1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWindowTest(t, c.w, true, count)
			w.pipe("a", 1, 1)
			w.pipe("a", 1, 5)
			w.pipe("a", 1, 12)
			w.pipe("b", 1, 13)
			equal(t, w.read(), c.before)
			w.d.EndInput()
			got := w.read()
			equal(t, sortedStrings(got), sortedStrings(c.after))
			if n := w.lateCount(); n != 0 {
				t.Fatalf("%d late records", n)
			}
		})
	}
}

func sortedStrings(s []string) string {
	c := slices.Clone(s)
	slices.Sort(c)
	return strings.Join(c, " ")
}

// Emitting every update, EndInput emits nothing new but deletes the
// windows (tombstones in the changelog); records piped afterwards are
// late; Restart starts over.
func TestEndInputEmitOnUpdate(t *testing.T) {
	w := newWindowTest(t, stream.TumblingWindows(10*time.Millisecond), false, count)
	w.pipe("a", 1, 1)
	w.pipe("a", 1, 12)
	equal(t, w.read(), []string{"a@0-10=1", "a@10-20=1"})
	w.d.EndInput()
	equal(t, w.read(), []string(nil))
	cl := w.d.Records(w.d.InternalTopic("counts-changelog"))
	if last := cl[len(cl)-1]; last.Value != nil {
		t.Fatalf("the open window was not deleted: last changelog record %v", last)
	}
	w.pipe("a", 1, 13)
	if w.lateCount() != 1 {
		t.Fatalf("a record after the end of input: %d late", w.lateCount())
	}
	w.d.Restart()
	w.pipe("a", 1, 14)
	equal(t, w.read(), []string{"a@10-20=1"})
}

// Unmatched records of a left join are emitted when the input ends.
func TestEndInputStreamStreamJoin(t *testing.T) {
	b := stream.NewBuilder()
	l := stream.From(b, "left", serde.String, serde.String)
	r := stream.From(b, "right", serde.String, serde.String)
	stream.LeftJoinStreams(l, r, stream.JoinWindow(10*time.Millisecond), func(_ string, a string, b string, ok bool) string {
		if !ok {
			b = "-"
		}
		return a + "+" + b
	}).WithSerdes(serde.String, serde.String).To("joined")
	d := streamtest.New(t, build(t, b))
	left := streamtest.Input(d, "left", serde.String, serde.String)
	right := streamtest.Input(d, "right", serde.String, serde.String)
	out := streamtest.Output(d, "joined", serde.String, serde.String)
	left.Pipe("k1", "a", 1)
	right.Pipe("k1", "x", 5)
	left.Pipe("k2", "b", 6)
	equal(t, fmt.Sprint(out.ReadKeyValues()), "[{k1 a+x}]")
	d.EndInput()
	equal(t, fmt.Sprint(out.ReadKeyValues()), "[{k2 b+-}]")
}

// endPunctuator forwards, on its stream-time punctuation, the values it
// got and the stream time.
type endPunctuator struct {
	ctx *stream.ProcessorContext[string, string]
	got []string
}

func (p *endPunctuator) Init(ctx *stream.ProcessorContext[string, string]) error {
	p.ctx = ctx
	ctx.Schedule(time.Hour, stream.PunctuateStreamTime, func(ts int64) {
		end := ""
		if ts == stream.EndOfTime && ctx.StreamTime() == stream.EndOfTime {
			end = "end:"
		}
		p.ctx.Forward(stream.Record[string, string]{Key: "p", Value: end + strings.Join(p.got, ","), Timestamp: 0})
	})
	return nil
}

func (p *endPunctuator) Process(r stream.Record[stream.Windowed[string], int64]) error {
	p.got = append(p.got, fmt.Sprintf("%s@%d=%d", r.Key.Key, r.Key.Start, r.Value))
	return nil
}

func (p *endPunctuator) Close() error { return nil }

// Operators end upstream first, across sub-topologies too: a final
// windowed count behind a repartition, then a processor in the same task
// whose stream-time punctuator fires once with EndOfTime after the last
// window reached it, then a second windowed aggregation behind another
// repartition.
func TestEndInputUpstreamFirst(t *testing.T) {
	b := stream.NewBuilder()
	words := stream.From(b, "words", serde.String, serde.String)
	byWord := stream.GroupBy(words, func(_, w string) string { return w }, serde.String) // repartition
	counts := stream.WindowedBy(byWord, stream.TumblingWindows(10*time.Millisecond)).EmitFinal().Count(stream.Named("counts")).ToStream()
	stream.Process(counts, func() stream.Processor[stream.Windowed[string], int64, string, string] { return &endPunctuator{} }).
		WithSerdes(serde.String, serde.String).To("punctuated")
	perWindow := stream.Map(counts, func(k stream.Windowed[string], n int64) (string, int64) { return fmt.Sprint(k.Start), n }).
		WithSerdes(serde.String, serde.Int64)
	stream.WindowedBy(perWindow.GroupByKey(), stream.TumblingWindows(100*time.Millisecond)).EmitFinal(). // repartition
														Reduce(func(a, b int64) int64 { return a + b }, stream.Named("totals")).ToStream().
														To("totals")
	d := streamtest.New(t, build(t, b), streamtest.Partitions(2))
	in := streamtest.Input(d, "words", serde.String, serde.String)
	punct := streamtest.Output(d, "punctuated", serde.String, serde.String)
	totals := streamtest.Output(d, "totals", stream.WindowedSerde(serde.String), serde.Int64)
	for i, w := range []string{"a", "b", "a", "c", "a", "b"} {
		in.Pipe("", w, int64(i*3)) // 0..15: [0,10) closes at 12 in the tasks that see it
	}
	before := len(punct.ReadKeyValues())
	d.EndInput()
	var ends []string
	for _, kv := range punct.ReadKeyValues() {
		if strings.HasPrefix(kv.Value, "end:") {
			ends = append(ends, strings.TrimPrefix(kv.Value, "end:"))
		}
	}
	// Every word's windows reached the punctuators of the two tasks
	// before the last punctuation.
	all := strings.Join(ends, ",")
	for _, want := range []string{"a@0=2", "b@0=1", "c@0=1", "a@10=1", "b@10=1"} {
		if !strings.Contains(all, want) {
			t.Fatalf("end punctuations %q (%d punctuations before) miss %s", ends, before, want)
		}
	}
	if len(ends) != 2 {
		t.Fatalf("end punctuations %q, want one per task", ends)
	}
	var got []string
	for _, kv := range totals.ReadKeyValues() {
		got = append(got, fmt.Sprintf("%s=%d", kv.Key.Key, kv.Value))
	}
	equal(t, sortedStrings(got), "0=4 10=2")
	if n := len(d.DeadLetters()); n != 0 {
		t.Fatalf("%d dead letters", n)
	}
	// After the end, a record is late for the windows and punctuators
	// stay quiet.
	in.Pipe("", "a", 100)
	if n := len(d.DeadLetters()); n != 1 || len(punct.ReadKeyValues()) != 0 {
		t.Fatalf("a record after the end: %d dead letters", n)
	}
}
