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

// windowTest runs records through a windowed count and returns the output
// as "key@start-end=value" strings.
type windowTest struct {
	t   *testing.T
	d   *streamtest.Driver
	in  *streamtest.InputTopic[string, int64]
	out *streamtest.OutputTopic[stream.Windowed[string], int64]
}

func newWindowTest(t *testing.T, w stream.Windows, final bool, agg func(*stream.WindowedGrouped[string, int64]) *stream.Table[stream.Windowed[string], int64]) *windowTest {
	b := stream.NewBuilder()
	wg := stream.WindowedBy(stream.From(b, "in", serde.String, serde.Int64).GroupByKey(), w)
	if final {
		wg = wg.EmitFinal()
	}
	agg(wg).ToStream().To("out")
	d := streamtest.New(t, build(t, b))
	return &windowTest{t: t, d: d,
		in:  streamtest.Input(d, "in", serde.String, serde.Int64),
		out: streamtest.Output(d, "out", stream.WindowedSerde(serde.String), serde.Int64)}
}

func count(w *stream.WindowedGrouped[string, int64]) *stream.Table[stream.Windowed[string], int64] {
	return w.Count(stream.Named("counts"))
}

func sum(w *stream.WindowedGrouped[string, int64]) *stream.Table[stream.Windowed[string], int64] {
	return w.Reduce(func(a, b int64) int64 { return a + b }, stream.Named("sums"))
}

func (w *windowTest) pipe(k string, v, ts int64) { w.t.Helper(); w.in.Pipe(k, v, ts) }

func (w *windowTest) read() []string {
	var out []string
	for _, r := range w.out.ReadKeyValues() {
		out = append(out, fmt.Sprintf("%s@%d-%d=%d", r.Key.Key, r.Key.Start, r.Key.End, r.Value))
	}
	return out
}

func (w *windowTest) lateCount() int {
	n := 0
	for _, r := range w.d.DeadLetters() {
		if headers(r)[stream.HeaderStage] == "late" {
			n++
		}
	}
	return n
}

func TestTumblingEmitOnUpdateAndLate(t *testing.T) {
	w := newWindowTest(t, stream.TumblingWindows(10*time.Millisecond).Grace(5*time.Millisecond), false, count)
	w.pipe("a", 1, 1)
	w.pipe("a", 1, 9)
	w.pipe("b", 1, 12)
	w.pipe("a", 1, 14) // stream time 14: window [0,10) still open (grace until 15)
	w.pipe("a", 1, 3)  // late but within grace
	w.pipe("a", 1, 15) // stream time 15: [0,10) closes
	w.pipe("a", 1, 4)  // too late
	equal(t, w.read(), []string{"a@0-10=1", "a@0-10=2", "b@10-20=1", "a@10-20=1", "a@0-10=3", "a@10-20=2"})
	if w.lateCount() != 1 || w.d.Metrics().LateRecords.Load() != 1 {
		t.Fatalf("late: %d dead letters", w.lateCount())
	}
	r := w.d.DeadLetters()[0]
	if h := headers(r); !strings.Contains(h[stream.HeaderReason], "late record") || h[stream.HeaderOffset] != "6" {
		t.Fatalf("dead letter headers %v", h)
	}
}

func TestTumblingEmitFinalOnClose(t *testing.T) {
	w := newWindowTest(t, stream.TumblingWindows(10*time.Millisecond).Grace(2*time.Millisecond), true, sum)
	w.pipe("a", 5, 1)
	w.pipe("a", 6, 8)
	w.pipe("b", 1, 11)
	equal(t, w.read(), []string(nil)) // nothing closed yet (closes at 12)
	w.pipe("b", 2, 12)
	equal(t, w.read(), []string{"a@0-10=11"})
	w.pipe("c", 1, 35)
	equal(t, w.read(), []string{"b@10-20=3"})
	w.pipe("a", 1, 2)
	if w.lateCount() != 1 {
		t.Fatal("late record not dead-lettered")
	}
}

func TestHoppingWindows(t *testing.T) {
	w := newWindowTest(t, stream.HoppingWindows(10*time.Millisecond, 5*time.Millisecond), false, count)
	w.pipe("a", 1, 7)
	w.pipe("a", 1, 12)
	equal(t, w.read(), []string{"a@5-15=1", "a@0-10=1", "a@10-20=1", "a@5-15=2"})
}

func TestSessionWindowsMerge(t *testing.T) {
	w := newWindowTest(t, stream.SessionWindows(10*time.Millisecond).Grace(100*time.Millisecond), false, count)
	w.pipe("a", 1, 0)
	w.pipe("a", 1, 30) // new session
	w.pipe("a", 1, 15) // bridges both (gap 10: 0..15..30 within 15? no: 15-0 > 10)
	w.pipe("a", 1, 8)  // merges [0] and [15]
	w.pipe("a", 1, 22) // merges [0-15] and [30]
	got := w.read()
	equal(t, got[len(got)-1], "a@0-30=5")
	// Every session that merged away was retracted; the store holds one.
	rs := w.d.Records("out")
	if len(rs) < 5 {
		t.Fatalf("only %d outputs", len(rs))
	}
}

func TestSessionWindowsFinalAndLate(t *testing.T) {
	w := newWindowTest(t, stream.SessionWindows(10*time.Millisecond), true, count)
	w.pipe("a", 1, 0)
	w.pipe("a", 1, 5)
	w.pipe("b", 1, 14) // a's session [0,5] can still be reached by a record at 15
	equal(t, w.read(), []string(nil))
	w.pipe("b", 1, 16) // now 5+10 < 16: closed
	equal(t, w.read(), []string{"a@0-5=2"})
	w.pipe("a", 1, 3)
	if w.lateCount() != 1 {
		t.Fatal("late session record not dead-lettered")
	}
}

func TestSlidingWindows(t *testing.T) {
	w := newWindowTest(t, stream.SlidingWindows(10*time.Millisecond).Grace(20*time.Millisecond), false, count)
	w.pipe("p", 1, 100)
	w.pipe("p", 1, 105)
	w.pipe("p", 1, 111) // [101,111] holds 105 and 111
	w.pipe("p", 1, 103) // out of order: its own window [93,103], and 105's and 111's windows
	equal(t, w.read(), []string{"p@90-100=1", "p@95-105=2", "p@101-111=2",
		"p@93-103=2", "p@95-105=3", "p@101-111=3"})
	w.pipe("p", 1, 150)
	w.pipe("p", 1, 100) // 100 + 20 < 150: late
	if w.lateCount() != 1 {
		t.Fatal("late sliding record not dead-lettered")
	}
}

func TestSlidingWindowsFinal(t *testing.T) {
	w := newWindowTest(t, stream.SlidingWindows(10*time.Millisecond), true, count)
	w.pipe("p", 1, 100)
	w.pipe("p", 1, 105)
	equal(t, w.read(), []string{"p@90-100=1"})
	w.pipe("p", 1, 200)
	equal(t, w.read(), []string{"p@95-105=2"})
}

func TestWindowStateSurvivesRestart(t *testing.T) {
	w := newWindowTest(t, stream.TumblingWindows(10*time.Millisecond).Grace(time.Second), false, count)
	w.pipe("a", 1, 1)
	w.pipe("a", 1, 2)
	w.d.Restart()
	w.pipe("a", 1, 3)
	got := w.read()
	equal(t, got[len(got)-1], "a@0-10=3")
}
