package stream_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/eddy-streaming/eddy/stream"
	"github.com/eddy-streaming/eddy/stream/serde"
	"github.com/eddy-streaming/eddy/stream/streamtest"
	"github.com/twmb/franz-go/pkg/kgo"
)

func build(t *testing.T, b *stream.Builder) *stream.Topology {
	t.Helper()
	top, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return top
}

func kv[K, V any](k K, v V) stream.KeyValue[K, V] { return stream.KeyValue[K, V]{Key: k, Value: v} }

func equal(t *testing.T, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

func TestFilterMapValuesTo(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.From(b, "in", serde.String, serde.Int64)
	big := s.Filter(func(_ string, v int64) bool { return v >= 10 })
	stream.MapValues(big, func(k string, v int64) string { return fmt.Sprintf("%s=%d", k, v) }).
		WithSerdes(serde.String, serde.String).To("out")
	s.FilterNot(func(_ string, v int64) bool { return v >= 10 }).To("small")
	d := streamtest.New(t, build(t, b))
	in := streamtest.Input(d, "in", serde.String, serde.Int64)
	in.Pipe("a", 5, 1)
	in.Pipe("b", 50, 2)
	in.Pipe("c", 10, 3)
	out := streamtest.Output(d, "out", serde.String, serde.String)
	equal(t, out.ReadKeyValues(), []stream.KeyValue[string, string]{kv("b", "b=50"), kv("c", "c=10")})
	small := streamtest.Output(d, "small", serde.String, serde.Int64)
	r := small.ReadRecord()
	equal(t, r, stream.Record[string, int64]{Key: "a", Value: 5, Timestamp: 1})
	if !small.IsEmpty() {
		t.Fatal("more records in small")
	}
}

func TestMapSelectKeyFlatMap(t *testing.T) {
	b := stream.NewBuilder()
	lines := stream.From(b, "lines", serde.String, serde.String)
	words := stream.FlatMap(lines, func(_ string, line string, emit func(string, int64)) {
		for _, w := range strings.Fields(line) {
			emit(w, int64(len(w)))
		}
	}).WithSerdes(serde.String, serde.Int64)
	words.To("words")
	stream.Map(words, func(w string, n int64) (int64, string) { return n, strings.ToUpper(w) }).
		WithSerdes(serde.Int64, serde.String).To("upper")
	stream.SelectKey(lines, func(k, v string) string { return v[:1] }).
		WithSerdes(serde.String, serde.String).To("first")
	stream.FlatMapValues(lines, func(_ string, line string, emit func(int64)) {
		emit(int64(len(line)))
		emit(int64(strings.Count(line, " ")))
	}).WithSerdes(serde.String, serde.Int64).To("lens")
	d := streamtest.New(t, build(t, b))
	streamtest.Input(d, "lines", serde.String, serde.String).Pipe("k", "to be or", 7)
	equal(t, streamtest.Output(d, "words", serde.String, serde.Int64).ReadKeyValues(),
		[]stream.KeyValue[string, int64]{kv("to", int64(2)), kv("be", int64(2)), kv("or", int64(2))})
	equal(t, streamtest.Output(d, "upper", serde.Int64, serde.String).ReadKeyValues(),
		[]stream.KeyValue[int64, string]{kv(int64(2), "TO"), kv(int64(2), "BE"), kv(int64(2), "OR")})
	equal(t, streamtest.Output(d, "first", serde.String, serde.String).ReadKeyValues(),
		[]stream.KeyValue[string, string]{kv("t", "to be or")})
	lens := streamtest.Output(d, "lens", serde.String, serde.Int64).ReadRecords()
	equal(t, lens, []stream.Record[string, int64]{{Key: "k", Value: 8, Timestamp: 7}, {Key: "k", Value: 2, Timestamp: 7}})
}

func TestBranchMergePeekForEach(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.From(b, "in", serde.String, serde.Int64)
	br := s.Branch(
		func(_ string, v int64) bool { return v < 0 },
		func(_ string, v int64) bool { return v%2 == 0 },
	)
	br[0].To("negative")
	br[1].To("even")
	var peeked, each []string
	br[0].Merge(br[1]).Peek(func(k string, v int64) { peeked = append(peeked, k) }).To("merged")
	s.ForEach(func(k string, v int64) { each = append(each, fmt.Sprint(k, v)) })
	d := streamtest.New(t, build(t, b))
	in := streamtest.Input(d, "in", serde.String, serde.Int64)
	for i, v := range []int64{-2, 3, 4, -1, 7} {
		in.Pipe(fmt.Sprint("k", i), v, int64(i))
	}
	equal(t, streamtest.Output(d, "negative", serde.String, serde.Int64).ReadKeyValues(),
		[]stream.KeyValue[string, int64]{kv("k0", int64(-2)), kv("k3", int64(-1))})
	equal(t, streamtest.Output(d, "even", serde.String, serde.Int64).ReadKeyValues(),
		[]stream.KeyValue[string, int64]{kv("k2", int64(4))})
	equal(t, peeked, []string{"k0", "k2", "k3"})
	equal(t, each, []string{"k0-2", "k13", "k24", "k3-1", "k47"})
	if n := len(d.Records("merged")); n != 3 {
		t.Fatalf("merged has %d records", n)
	}
}

func TestWithTimestampAndHeaders(t *testing.T) {
	type ev struct {
		At int64 `json:"at"`
	}
	b := stream.NewBuilder()
	stream.From(b, "in", serde.String, serde.JSON[ev]()).
		WithTimestamp(func(_ string, v ev, _ int64) int64 { return v.At }).
		To("out")
	d := streamtest.New(t, build(t, b))
	streamtest.Input(d, "in", serde.String, serde.JSON[ev]()).Pipe("x", ev{At: 12345}, 1, stream.Header{Key: "h", Value: []byte("1")})
	r := streamtest.Output(d, "out", serde.String, serde.JSON[ev]()).ReadRecord()
	if r.Timestamp != 12345 || len(r.Headers) != 1 || r.Headers[0].Key != "h" {
		t.Fatalf("got %+v", r)
	}
}

func TestDeserializationErrorGoesToDeadLetter(t *testing.T) {
	b := stream.NewBuilder()
	stream.From(b, "in", serde.String, serde.Int64).To("out")
	d := streamtest.New(t, build(t, b))
	in := streamtest.Input(d, "in", serde.String, serde.Int64)
	if err := in.PipeRaw([]byte("k"), []byte("not a long"), 5); err != nil {
		t.Fatal(err)
	}
	in.Pipe("k", 1, 6)
	dl := d.DeadLetters()
	if len(dl) != 1 {
		t.Fatalf("%d dead letters", len(dl))
	}
	h := headers(dl[0])
	if string(dl[0].Value) != "not a long" || h[stream.HeaderStage] != "deserialize" || h[stream.HeaderTopic] != "in" ||
		h[stream.HeaderOffset] != "0" || !strings.Contains(h[stream.HeaderReason], "int64 needs 8 bytes") {
		t.Fatalf("dead letter %q %v", dl[0].Value, h)
	}
	if len(d.Records("out")) != 1 || d.Metrics().DeserializationErrors.Load() != 1 || d.Metrics().DeadLettered.Load() != 1 {
		t.Fatal("wrong counts")
	}
}

func headers(r *kgo.Record) map[string]string {
	m := map[string]string{}
	for _, h := range r.Headers {
		m[h.Key] = string(h.Value)
	}
	return m
}

func TestProcessingPanicPolicies(t *testing.T) {
	top := func() *stream.Topology {
		b := stream.NewBuilder()
		stream.MapValues(stream.From(b, "in", serde.String, serde.Int64), func(_ string, v int64) int64 { return 100 / v }).
			WithSerdes(serde.String, serde.Int64).To("out")
		return build(t, b)
	}
	t.Run("dead-letter", func(t *testing.T) {
		d := streamtest.New(t, top())
		in := streamtest.Input(d, "in", serde.String, serde.Int64)
		in.Pipe("a", 0, 1)
		in.Pipe("b", 5, 2)
		dl := d.DeadLetters()
		if len(dl) != 1 || headers(dl[0])[stream.HeaderStage] != "process" || !strings.Contains(headers(dl[0])[stream.HeaderReason], "divide by zero") {
			t.Fatalf("dead letters %v", dl)
		}
		equal(t, streamtest.Output(d, "out", serde.String, serde.Int64).ReadKeyValues(), []stream.KeyValue[string, int64]{kv("b", int64(20))})
	})
	t.Run("skip", func(t *testing.T) {
		d := streamtest.New(t, top(), streamtest.OnError(stream.Skip))
		in := streamtest.Input(d, "in", serde.String, serde.Int64)
		in.Pipe("a", 0, 1)
		in.Pipe("b", 5, 2)
		if len(d.DeadLetters()) != 0 || d.Metrics().Skipped.Load() != 1 || d.Metrics().ProcessingErrors.Load() != 1 {
			t.Fatal("skip did not skip")
		}
	})
	t.Run("stop", func(t *testing.T) {
		d := streamtest.New(t, top(), streamtest.OnError(stream.Stop))
		err := streamtest.Input(d, "in", serde.String, serde.Int64).PipeErr("a", 0, 1)
		if err == nil || !strings.Contains(err.Error(), "divide by zero") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestBuildErrors(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.From(b, "in", serde.String, serde.String)
	stream.MapValues(s, func(_, v string) int { return len(v) }).To("out")
	if _, err := b.Build(); err == nil || !strings.Contains(err.Error(), "WithSerdes") {
		t.Fatalf("err = %v", err)
	}
	if _, err := stream.NewBuilder().Build(); err == nil {
		t.Fatal("empty topology built")
	}
	b = stream.NewBuilder()
	stream.From(b, "a", serde.String, serde.String, stream.Named("x"))
	stream.From(b, "b", serde.String, serde.String, stream.Named("x"))
	if _, err := b.Build(); err == nil || !strings.Contains(err.Error(), "used twice") {
		t.Fatalf("err = %v", err)
	}
}

var _ = errors.New
