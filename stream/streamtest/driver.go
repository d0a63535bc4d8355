// Package streamtest runs a stream topology in memory, with no broker and
// with time under the test's control: the stream library's equivalent of
// Kafka Streams' TopologyTestDriver.
//
//	d := streamtest.New(t, top)
//	in := streamtest.Input(d, "words", serde.String, serde.String)
//	out := streamtest.Output(d, "counts", serde.String, serde.Int64)
//	in.Pipe("", "a b a", 1000)
//	got := out.ReadKeyValues() // [{a 1} {b 1} {a 2}]
//
// Every topic is an in-memory list of records. Records are processed
// synchronously: when Pipe returns, everything the record caused
// (including records through repartition topics) has been processed and
// written. Stream time advances with the timestamps of piped records; the
// wall clock only moves with AdvanceWallClock. Stores are written through
// (no caching), so every update appears at once in outputs, stores and
// changelog topics.
package streamtest

import (
	"testing"
	"time"

	"github.com/eddy-streaming/eddy/stream"
	"github.com/eddy-streaming/eddy/stream/internal/testhook"
	"github.com/eddy-streaming/eddy/stream/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Driver runs one topology in memory.
type Driver struct {
	tb    testing.TB
	r     testhook.Runner
	appID string
}

// Option configures a Driver.
type Option func(*testhook.Config)

// AppID sets the application id (default "test"): internal topics are
// named ${app}-NAME-repartition and ${app}-NAME-changelog, and the
// dead-letter topic ${app}-dlq.
func AppID(id string) Option { return func(c *testhook.Config) { c.AppID = id } }

// Partitions sets the number of partitions of every topic (default 1).
// Records are partitioned by key as Kafka producers do; each partition
// gets its own task and stores.
func Partitions(n int) Option { return func(c *testhook.Config) { c.Partitions = int32(n) } }

// WallClock sets the wall clock's start (default the Unix epoch).
func WallClock(t time.Time) Option { return func(c *testhook.Config) { c.WallStart = t.UnixMilli() } }

// OnError sets the error policy (default stream.DeadLetter).
func OnError(p stream.ErrorPolicy) Option { return func(c *testhook.Config) { c.Policy = int(p) } }

// DeadLetterTopic names the dead-letter topic (default ${app}-dlq).
func DeadLetterTopic(name string) Option { return func(c *testhook.Config) { c.DLQ = name } }

// New starts a driver for top; it is closed when the test ends.
func New(tb testing.TB, top *stream.Topology, opts ...Option) *Driver {
	tb.Helper()
	cfg := testhook.Config{AppID: "test", Partitions: 1}
	for _, o := range opts {
		o(&cfg)
	}
	r, err := testhook.NewRunner(top, cfg)
	if err != nil {
		tb.Fatalf("streamtest: %v", err)
	}
	d := &Driver{tb: tb, r: r, appID: cfg.AppID}
	tb.Cleanup(func() { r.Close() })
	return d
}

// AdvanceWallClock moves the wall clock by dur and runs the wall-clock
// punctuators that became due.
func (d *Driver) AdvanceWallClock(dur time.Duration) {
	d.tb.Helper()
	if err := d.r.AdvanceWallClock(dur.Milliseconds()); err != nil {
		d.tb.Fatalf("streamtest: %v", err)
	}
}

// EndInput ends the input as a bounded run (StopAtEnd, TimeRange) does
// once its inputs are done: stream time advances to stream.EndOfTime in
// every task, sub-topology by sub-topology (upstream first; what one emits
// is processed before the next ends). Every window closes, and with
// EmitFinal emits its result; left and outer stream-stream joins emit
// their unmatched records; stream-time punctuators fire once with
// stream.EndOfTime; wall-clock punctuators stop. Records piped afterwards
// are late for every window; Restart starts over with fresh stream time,
// as the next run does.
func (d *Driver) EndInput() {
	d.tb.Helper()
	if err := d.r.EndInput(); err != nil {
		d.tb.Fatalf("streamtest: end of input: %v", err)
	}
}

// Restart closes every task and starts it again with its stores restored
// from their changelog topics, as after a rebalance or a crash.
func (d *Driver) Restart() {
	d.tb.Helper()
	if err := d.r.Restart(); err != nil {
		d.tb.Fatalf("streamtest: restart: %v", err)
	}
}

// Metrics returns the counters of the run.
func (d *Driver) Metrics() *stream.Metrics { return d.r.Metrics().(*stream.Metrics) }

// Records returns every raw record written to topic so far (outputs,
// repartition and changelog topics, the dead-letter topic).
func (d *Driver) Records(topic string) []*kgo.Record { return d.r.Records(topic) }

// DeadLetters returns the records in the dead-letter topic.
func (d *Driver) DeadLetters() []*kgo.Record { return d.r.Records(d.appID + "-dlq") }

// InternalTopic returns the full name of an internal topic, e.g.
// InternalTopic("counts-changelog").
func (d *Driver) InternalTopic(name string) string { return d.appID + "-" + name }

// KeyValueStore returns a key-value store of the task for partition 0, or
// of the given partition.
func KeyValueStore[K, V any](d *Driver, name string, partition ...int32) stream.KeyValueStore[K, V] {
	d.tb.Helper()
	p := int32(0)
	if len(partition) > 0 {
		p = partition[0]
	}
	st, err := d.r.Store(name, p)
	if err != nil {
		d.tb.Fatalf("%v", err)
	}
	kv, ok := st.(stream.KeyValueStore[K, V])
	if !ok {
		d.tb.Fatalf("streamtest: store %q is %T, not a KeyValueStore of these types", name, st)
	}
	return kv
}

// InputTopic pipes typed records into a topic the topology reads.
type InputTopic[K, V any] struct {
	d     *Driver
	topic string
	ks    serde.Serde[K]
	vs    serde.Serde[V]
}

// Input returns an input topic.
func Input[K, V any](d *Driver, topic string, ks serde.Serde[K], vs serde.Serde[V]) *InputTopic[K, V] {
	return &InputTopic[K, V]{d: d, topic: topic, ks: ks, vs: vs}
}

// Pipe writes one record with timestamp ts (ms) and processes it. The
// test fails if the topology stops with an error (policy Stop); use
// PipeErr to check such an error.
func (in *InputTopic[K, V]) Pipe(k K, v V, ts int64, headers ...stream.Header) {
	in.d.tb.Helper()
	if err := in.PipeErr(k, v, ts, headers...); err != nil {
		in.d.tb.Fatalf("streamtest: pipe to %s: %v", in.topic, err)
	}
}

// PipeErr is Pipe returning the topology's error.
func (in *InputTopic[K, V]) PipeErr(k K, v V, ts int64, headers ...stream.Header) error {
	kb, err := in.ks.Encode(nil, k)
	if err != nil {
		return err
	}
	vb, err := in.vs.Encode(nil, v)
	if err != nil {
		return err
	}
	if vb == nil {
		vb = []byte{}
	}
	return in.PipeRaw(kb, vb, ts, headers...)
}

// PipeTombstone writes a record with no value (a deletion for tables).
func (in *InputTopic[K, V]) PipeTombstone(k K, ts int64) {
	in.d.tb.Helper()
	kb, err := in.ks.Encode(nil, k)
	if err == nil {
		err = in.PipeRaw(kb, nil, ts)
	}
	if err != nil {
		in.d.tb.Fatalf("streamtest: pipe to %s: %v", in.topic, err)
	}
}

// PipeRaw writes a record of raw bytes (to test what bad input does).
func (in *InputTopic[K, V]) PipeRaw(key, value []byte, ts int64, headers ...stream.Header) error {
	if len(key) == 0 {
		key = nil
	}
	return in.d.r.Pipe(&kgo.Record{Topic: in.topic, Key: key, Value: value, Timestamp: time.UnixMilli(ts), Headers: headers, Partition: -1})
}

// OutputTopic reads typed records from a topic the topology writes.
type OutputTopic[K, V any] struct {
	d     *Driver
	topic string
	ks    serde.Serde[K]
	vs    serde.Serde[V]
	pos   int
}

// Output returns an output topic reader, positioned at the first record.
func Output[K, V any](d *Driver, topic string, ks serde.Serde[K], vs serde.Serde[V]) *OutputTopic[K, V] {
	return &OutputTopic[K, V]{d: d, topic: topic, ks: ks, vs: vs}
}

// IsEmpty says whether every record has been read.
func (o *OutputTopic[K, V]) IsEmpty() bool { return o.pos >= len(o.d.r.Records(o.topic)) }

// ReadRecord returns the next record; the test fails if there is none.
// A record without a value (a tombstone) has V's zero value and no
// Value; use ReadRecords and Driver.Records to see tombstones.
func (o *OutputTopic[K, V]) ReadRecord() stream.Record[K, V] {
	o.d.tb.Helper()
	rs := o.d.r.Records(o.topic)
	if o.pos >= len(rs) {
		o.d.tb.Fatalf("streamtest: no more records in %s (read %d)", o.topic, o.pos)
	}
	r := rs[o.pos]
	o.pos++
	var out stream.Record[K, V]
	var err error
	if r.Key != nil {
		if out.Key, err = o.ks.Decode(r.Key); err != nil {
			o.d.tb.Fatalf("streamtest: decoding key in %s: %v", o.topic, err)
		}
	}
	if r.Value != nil {
		if out.Value, err = o.vs.Decode(r.Value); err != nil {
			o.d.tb.Fatalf("streamtest: decoding value in %s: %v", o.topic, err)
		}
	}
	out.Timestamp = r.Timestamp.UnixMilli()
	out.Headers = r.Headers
	return out
}

// ReadKeyValue returns the next record's key and value.
func (o *OutputTopic[K, V]) ReadKeyValue() stream.KeyValue[K, V] {
	o.d.tb.Helper()
	r := o.ReadRecord()
	return stream.KeyValue[K, V]{Key: r.Key, Value: r.Value}
}

// ReadRecords returns every record not yet read.
func (o *OutputTopic[K, V]) ReadRecords() []stream.Record[K, V] {
	o.d.tb.Helper()
	var out []stream.Record[K, V]
	for !o.IsEmpty() {
		out = append(out, o.ReadRecord())
	}
	return out
}

// ReadKeyValues returns the keys and values of every record not yet read.
func (o *OutputTopic[K, V]) ReadKeyValues() []stream.KeyValue[K, V] {
	o.d.tb.Helper()
	var out []stream.KeyValue[K, V]
	for !o.IsEmpty() {
		out = append(out, o.ReadKeyValue())
	}
	return out
}
