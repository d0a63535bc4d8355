package stream

import (
	"fmt"
	"strings"
	"time"

	"github.com/eddy-streaming/eddy/stream/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Stream is a typed stream of records (Kafka Streams' KStream). Streams are
// built with From and the operators below; they are cheap handles, and
// operators never modify the stream they are called on.
type Stream[K, V any] struct {
	b  *Builder
	n  *node
	ks serde.Serde[K] // nil when unknown (after an operator changed the type)
	vs serde.Serde[V]
	// keyChanged is set when an operator may have changed the key since
	// the source, so grouping or joining must repartition first.
	keyChanged bool
}

// Option configures an operator.
type Option func(*opConfig)

type opConfig struct {
	name      string
	extractor func(*kgo.Record) int64
	inMemory  bool
	stores    []string
}

// InMemory keeps an operator's store in memory instead of Pebble (its
// changelog topic still makes it durable).
func InMemory() Option { return func(c *opConfig) { c.inMemory = true } }

// WithStores connects state stores (added with AddKeyValueStore) to a
// processor.
func WithStores(names ...string) Option {
	return func(c *opConfig) { c.stores = append(c.stores, names...) }
}

// Named names an operator; a stateful operator's store (and its changelog
// topic, ${app}-NAME-changelog) gets the same name. Names must be unique.
func Named(name string) Option { return func(c *opConfig) { c.name = name } }

// WithTimestampExtractor sets the event time of records read by From or
// TableFrom from the raw record (the default is the record's timestamp).
// To take the event time from a decoded value, use Stream.WithTimestamp.
// f must not keep r: the runtime reuses fetched records.
func WithTimestampExtractor(f func(r *kgo.Record) int64) Option {
	return func(c *opConfig) { c.extractor = f }
}

func options(opts []Option) opConfig {
	var c opConfig
	for _, o := range opts {
		o(&c)
	}
	return c
}

// fanout combines children's input functions into one.
func fanout[K, V any](down []any) func(Record[K, V]) {
	switch len(down) {
	case 0:
		return func(Record[K, V]) {}
	case 1:
		return down[0].(func(Record[K, V]))
	}
	fs := make([]func(Record[K, V]), len(down))
	for i, d := range down {
		fs[i] = d.(func(Record[K, V]))
	}
	return func(r Record[K, V]) {
		for _, f := range fs {
			f(r)
		}
	}
}

// then adds an operator below s whose output has types K2, V2. mk builds
// the operator's input function for a task, given its output function.
func then[K, V, K2, V2 any](s *Stream[K, V], kind, name string, mk func(t *task, down func(Record[K2, V2])) func(Record[K, V])) *node {
	b := s.b
	n := &node{name: b.newName(kind, name)}
	n.build = func(t *task, down []any) any { return mk(t, fanout[K2, V2](down)) }
	return b.addNode(n, s.n)
}

func decode[T any](s serde.Serde[T], b []byte) (T, error) {
	if b == nil {
		var zero T
		return zero, nil
	}
	return s.Decode(b)
}

// From reads a topic as a stream, decoding keys and values with ks and vs.
// A record with no key (or no value) gets K's (V's) zero value. Records the
// serdes reject are dead-lettered (see ErrorPolicy).
func From[K, V any](b *Builder, topic string, ks serde.Serde[K], vs serde.Serde[V], opts ...Option) *Stream[K, V] {
	c := options(opts)
	if ks == nil || vs == nil {
		b.fail(fmt.Errorf("stream: From(%q): nil serde", topic))
	}
	n := &node{name: b.newName("source", c.name), source: &topicRef{name: topic}}
	n.build = func(t *task, down []any) any {
		return sourceFunc(t, ks, vs, c.extractor, fanout[K, V](down))
	}
	b.addNode(n)
	return &Stream[K, V]{b: b, n: n, ks: ks, vs: vs}
}

func sourceFunc[K, V any](t *task, ks serde.Serde[K], vs serde.Serde[V], extract func(*kgo.Record) int64, down func(Record[K, V])) func(*kgo.Record) {
	return func(r *kgo.Record) {
		k, err := decode(ks, r.Key)
		if err != nil {
			t.fail(StageDeserialize, fmt.Errorf("key: %w", err))
			return
		}
		v, err := decode(vs, r.Value)
		if err != nil {
			t.fail(StageDeserialize, fmt.Errorf("value: %w", err))
			return
		}
		var ts int64
		if extract != nil {
			ts = extract(r)
		} else {
			ts = r.Timestamp.UnixMilli()
		}
		t.observe(ts)
		down(Record[K, V]{Key: k, Value: v, Timestamp: ts, Headers: r.Headers})
	}
}

// WithSerdes returns the stream with serdes for its keys and values, for
// operators that need them (To, repartitioning, stores) after an operator
// that changed a type.
func (s *Stream[K, V]) WithSerdes(ks serde.Serde[K], vs serde.Serde[V]) *Stream[K, V] {
	c := *s
	c.ks, c.vs = ks, vs
	return &c
}

func (s *Stream[K, V]) derive(n *node) *Stream[K, V] {
	c := *s
	c.n = n
	return &c
}

// Filter keeps the records for which keep returns true.
func (s *Stream[K, V]) Filter(keep func(K, V) bool, opts ...Option) *Stream[K, V] {
	return s.derive(then(s, "filter", options(opts).name, func(_ *task, down func(Record[K, V])) func(Record[K, V]) {
		return func(r Record[K, V]) {
			if keep(r.Key, r.Value) {
				down(r)
			}
		}
	}))
}

// FilterNot drops the records for which drop returns true.
func (s *Stream[K, V]) FilterNot(drop func(K, V) bool, opts ...Option) *Stream[K, V] {
	return s.Filter(func(k K, v V) bool { return !drop(k, v) }, opts...)
}

// Peek calls f for every record and passes the record on.
func (s *Stream[K, V]) Peek(f func(K, V), opts ...Option) *Stream[K, V] {
	return s.derive(then(s, "peek", options(opts).name, func(_ *task, down func(Record[K, V])) func(Record[K, V]) {
		return func(r Record[K, V]) {
			f(r.Key, r.Value)
			down(r)
		}
	}))
}

// ForEach calls f for every record (a terminal operator).
func (s *Stream[K, V]) ForEach(f func(K, V), opts ...Option) {
	then(s, "foreach", options(opts).name, func(_ *task, _ func(Record[K, V])) func(Record[K, V]) {
		return func(r Record[K, V]) { f(r.Key, r.Value) }
	})
}

// WithTimestamp sets each record's event time (ms) from its key, value and
// current timestamp: how to use a time field of the value as event time.
func (s *Stream[K, V]) WithTimestamp(f func(k K, v V, ts int64) int64, opts ...Option) *Stream[K, V] {
	return s.derive(then(s, "timestamp", options(opts).name, func(t *task, down func(Record[K, V])) func(Record[K, V]) {
		return func(r Record[K, V]) {
			r.Timestamp = f(r.Key, r.Value, r.Timestamp)
			t.observe(r.Timestamp)
			down(r)
		}
	}))
}

// Merge returns a stream with the records of s and of others.
func (s *Stream[K, V]) Merge(others ...*Stream[K, V]) *Stream[K, V] {
	b := s.b
	n := &node{name: b.newName("merge", "")}
	n.build = func(_ *task, down []any) any { return fanout[K, V](down) }
	parents := []*node{s.n}
	changed := s.keyChanged
	for _, o := range others {
		parents = append(parents, o.n)
		changed = changed || o.keyChanged
	}
	b.addNode(n, parents...)
	out := s.derive(n)
	out.keyChanged = changed
	return out
}

// Branch splits the stream: a record goes to the stream of the first
// predicate it matches, or nowhere if it matches none. Kafka Streams calls
// this split().branch().
func (s *Stream[K, V]) Branch(preds ...func(K, V) bool) []*Stream[K, V] {
	b := s.b
	split := &node{name: b.newName("branch", "")}
	b.addNode(split, s.n)
	outs := make([]*Stream[K, V], len(preds))
	branches := make([]*node, len(preds))
	for i := range preds {
		bn := &node{name: b.newName("branch-out", "")}
		bn.build = func(_ *task, down []any) any { return fanout[K, V](down) }
		branches[i] = b.addNode(bn, split)
		outs[i] = s.derive(bn)
	}
	split.build = func(_ *task, down []any) any {
		fs := make([]func(Record[K, V]), len(down))
		for i, d := range down {
			fs[i] = d.(func(Record[K, V]))
		}
		return func(r Record[K, V]) {
			for i, p := range preds {
				if p(r.Key, r.Value) {
					fs[i](r)
					return
				}
			}
		}
	}
	return outs
}

// To writes the stream to a topic with the stream's serdes (set them with
// WithSerdes after an operator that changed a type). Records are
// partitioned by the murmur2 hash of the key, as Kafka's producers do.
func (s *Stream[K, V]) To(topic string, opts ...Option) {
	if s.ks == nil || s.vs == nil {
		s.b.fail(fmt.Errorf("stream: To(%q): serdes unknown after a type-changing operator: call WithSerdes first", topic))
		return
	}
	toTopic(s, topicRef{name: topic}, options(opts).name, "sink")
}

func toTopic[K, V any](s *Stream[K, V], ref topicRef, name, kind string) *node {
	ks, vs := s.ks, s.vs
	n := then(s, kind, name, func(t *task, _ func(Record[K, V])) func(Record[K, V]) {
		topic := ref.resolve(t.env.appID)
		recs := t.env.records
		hint := 64 // value and key share one buffer, sized by what was seen
		return func(r Record[K, V]) {
			rec := recs.get()
			buf := rec.Value[:0]
			if cap(buf) < hint {
				buf = make([]byte, 0, hint)
			}
			// The value first, so that its slice keeps the buffer for
			// reuse once the record is produced.
			vb, err := vs.Encode(buf, r.Value)
			if err != nil {
				t.fail(StageSerialize, fmt.Errorf("value for %s: %w", topic, err))
				return
			}
			kb, err := ks.Encode(vb[len(vb):], r.Key)
			if err != nil {
				t.fail(StageSerialize, fmt.Errorf("key for %s: %w", topic, err))
				return
			}
			kb = kb[:len(kb):len(kb)]
			if n := len(kb) + len(vb); n > hint {
				hint = n
			}
			if len(kb) == 0 {
				kb = nil
			}
			rec.Topic, rec.Key, rec.Value, rec.Headers, rec.Partition = topic, kb, vb, r.Headers, -1
			rec.Timestamp = time.UnixMilli(r.Timestamp)
			recs.lent(rec, buf)
			t.send(rec)
		}
	})
	n.sink = &ref
	return n
}

// Map changes each record's key and value. Grouping or joining the result
// repartitions it (the key may have changed).
func Map[K, V, K2, V2 any](s *Stream[K, V], f func(K, V) (K2, V2), opts ...Option) *Stream[K2, V2] {
	n := then(s, "map", options(opts).name, func(_ *task, down func(Record[K2, V2])) func(Record[K, V]) {
		return func(r Record[K, V]) {
			k, v := f(r.Key, r.Value)
			down(Record[K2, V2]{Key: k, Value: v, Timestamp: r.Timestamp, Headers: r.Headers})
		}
	})
	return &Stream[K2, V2]{b: s.b, n: n, keyChanged: true}
}

// MapValues changes each record's value; the key (and its partitioning)
// stays.
func MapValues[K, V, V2 any](s *Stream[K, V], f func(K, V) V2, opts ...Option) *Stream[K, V2] {
	n := then(s, "mapvalues", options(opts).name, func(_ *task, down func(Record[K, V2])) func(Record[K, V]) {
		return func(r Record[K, V]) {
			down(Record[K, V2]{Key: r.Key, Value: f(r.Key, r.Value), Timestamp: r.Timestamp, Headers: r.Headers})
		}
	})
	return &Stream[K, V2]{b: s.b, n: n, ks: s.ks, keyChanged: s.keyChanged}
}

// SelectKey gives each record a new key computed from it.
func SelectKey[K, V, K2 any](s *Stream[K, V], f func(K, V) K2, opts ...Option) *Stream[K2, V] {
	n := then(s, "selectkey", options(opts).name, func(_ *task, down func(Record[K2, V])) func(Record[K, V]) {
		return func(r Record[K, V]) {
			down(Record[K2, V]{Key: f(r.Key, r.Value), Value: r.Value, Timestamp: r.Timestamp, Headers: r.Headers})
		}
	})
	return &Stream[K2, V]{b: s.b, n: n, vs: s.vs, keyChanged: true}
}

// FlatMap turns each record into zero or more records: f calls emit for
// each output.
func FlatMap[K, V, K2, V2 any](s *Stream[K, V], f func(k K, v V, emit func(K2, V2)), opts ...Option) *Stream[K2, V2] {
	n := then(s, "flatmap", options(opts).name, func(_ *task, down func(Record[K2, V2])) func(Record[K, V]) {
		var cur Record[K, V]
		emit := func(k K2, v V2) {
			down(Record[K2, V2]{Key: k, Value: v, Timestamp: cur.Timestamp, Headers: cur.Headers})
		}
		return func(r Record[K, V]) {
			cur = r
			f(r.Key, r.Value, emit)
		}
	})
	return &Stream[K2, V2]{b: s.b, n: n, keyChanged: true}
}

// FlatMapValues turns each record into zero or more records with the same
// key: f calls emit for each output value.
func FlatMapValues[K, V, V2 any](s *Stream[K, V], f func(k K, v V, emit func(V2)), opts ...Option) *Stream[K, V2] {
	n := then(s, "flatmapvalues", options(opts).name, func(_ *task, down func(Record[K, V2])) func(Record[K, V]) {
		var cur Record[K, V]
		emit := func(v V2) {
			down(Record[K, V2]{Key: cur.Key, Value: v, Timestamp: cur.Timestamp, Headers: cur.Headers})
		}
		return func(r Record[K, V]) {
			cur = r
			f(r.Key, r.Value, emit)
		}
	})
	return &Stream[K, V2]{b: s.b, n: n, ks: s.ks, keyChanged: s.keyChanged}
}

// Repartition writes the stream through an internal topic
// (${app}-NAME-repartition) partitioned by the current key and reads it
// back, so that records with the same key meet in the same task. Grouping
// and joining do this automatically after a key change.
func (s *Stream[K, V]) Repartition(opts ...Option) *Stream[K, V] {
	c := options(opts)
	b := s.b
	if s.ks == nil || s.vs == nil {
		b.fail(fmt.Errorf("stream: repartitioning %s needs serdes for key and value: call WithSerdes after the operator that changed the type", s.n.name))
		return s
	}
	// The operator's own name (a join's or grouping's) is the base: the
	// repartition registers only base-repartition.
	var name string
	if c.name != "" {
		name = strings.TrimSuffix(b.newName("", c.name+"-repartition"), "-repartition")
	} else {
		name = b.newName("repartition", "")
	}
	ref := topicRef{name: name + "-repartition", internal: true}
	toTopic(s, ref, name+"-sink", "repartition-sink")
	ks, vs := s.ks, s.vs
	src := &node{name: name + "-source", source: &ref}
	src.build = func(t *task, down []any) any {
		return sourceFunc(t, ks, vs, nil, fanout[K, V](down))
	}
	b.addNode(src)
	return &Stream[K, V]{b: b, n: src, ks: ks, vs: vs}
}

// repartitionIfNeeded repartitions s when its key may have changed.
func (s *Stream[K, V]) repartitionIfNeeded(name string) *Stream[K, V] {
	if !s.keyChanged {
		return s
	}
	var opts []Option
	if name != "" {
		opts = append(opts, Named(name))
	}
	return s.Repartition(opts...)
}
