package stream

import (
	"fmt"
	"time"

	"github.com/eddy-streaming/eddy/stream/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Table is a changelog stream seen as the latest value per key (Kafka
// Streams' KTable), materialized in a key-value store with a changelog
// topic. Tables come from TableFrom, aggregations and table operators.
type Table[K, V any] struct {
	b     *Builder
	n     *node // outputs Record[K, change[V]]
	ks    serde.Serde[K]
	vs    serde.Serde[V]
	store string
}

// StoreName returns the name of the table's store (for
// streamtest.KeyValueStore).
func (t *Table[K, V]) StoreName() string { return t.store }

// tableNode adds a node below parent that keeps a store of the table and
// forwards its changes. mk builds the node's input function given the
// task's store and the output function.
func tableNode[K, V, KIn, VIn any](b *Builder, parent *node, kind string, c opConfig, ks serde.Serde[K], vs serde.Serde[V],
	mk func(t *task, st *kvStore[K, V], down func(Record[K, change[V]])) func(Record[KIn, VIn])) *Table[K, V] {
	if ks == nil || vs == nil {
		b.fail(fmt.Errorf("stream: %s needs serdes for its store: call WithSerdes first", kind))
	}
	name := b.newName(kind, c.name)
	addKVStore(b, name, ks, vs, c.inMemory)
	n := &node{name: name, stores: []string{name}}
	n.build = func(t *task, down []any) any {
		return mk(t, taskStore[*kvStore[K, V]](t, name), fanout[K, change[V]](down))
	}
	if parent != nil {
		b.addNode(n, parent)
	} else {
		b.addNode(n)
	}
	return &Table[K, V]{b: b, n: n, ks: ks, vs: vs, store: name}
}

// TableFrom reads a (compacted) topic as a table: each record is the new
// value of its key; a record without a value deletes the key.
func TableFrom[K, V any](b *Builder, topic string, ks serde.Serde[K], vs serde.Serde[V], opts ...Option) *Table[K, V] {
	c := options(opts)
	src := &node{name: b.newName("table-source", ""), source: &topicRef{name: topic}}
	src.build = func(t *task, down []any) any {
		d := down[0].(func(Record[[]byte, []byte]))
		return func(r *kgo.Record) {
			ts := r.Timestamp.UnixMilli()
			if c.extractor != nil {
				ts = c.extractor(r)
			}
			t.observe(ts)
			d(Record[[]byte, []byte]{Key: r.Key, Value: r.Value, Timestamp: ts, Headers: r.Headers})
		}
	}
	b.addNode(src)
	return tableNode(b, src, "table", c, ks, vs, func(t *task, st *kvStore[K, V], down func(Record[K, change[V]])) func(Record[[]byte, []byte]) {
		return func(r Record[[]byte, []byte]) {
			k, err := decode(ks, r.Key)
			if err != nil {
				t.fail(StageDeserialize, fmt.Errorf("key: %w", err))
				return
			}
			if r.Value == nil {
				if err := st.Delete(k); err != nil {
					t.fail(StageProcess, err)
					return
				}
				down(Record[K, change[V]]{Key: k, Timestamp: r.Timestamp, Headers: r.Headers})
				return
			}
			v, err := vs.Decode(r.Value)
			if err != nil {
				t.fail(StageDeserialize, fmt.Errorf("value: %w", err))
				return
			}
			if err := st.Put(k, v); err != nil {
				t.fail(StageProcess, err)
				return
			}
			down(Record[K, change[V]]{Key: k, Value: change[V]{v: v, ok: true}, Timestamp: r.Timestamp, Headers: r.Headers})
		}
	})
}

// ToStream returns the table's updates as a stream. Deletions are not
// forwarded (a Go value cannot be null); use Table.To to write them as
// tombstones.
func (t *Table[K, V]) ToStream(opts ...Option) *Stream[K, V] {
	b := t.b
	n := &node{name: b.newName("tostream", options(opts).name)}
	n.build = func(_ *task, down []any) any {
		d := fanout[K, V](down)
		return func(r Record[K, change[V]]) {
			if r.Value.ok {
				d(Record[K, V]{Key: r.Key, Value: r.Value.v, Timestamp: r.Timestamp, Headers: r.Headers})
			}
		}
	}
	b.addNode(n, t.n)
	return &Stream[K, V]{b: b, n: n, ks: t.ks, vs: t.vs}
}

// To writes the table's changes to a topic: updates as records, deletions
// as tombstones (records without a value).
func (t *Table[K, V]) To(topic string, opts ...Option) {
	b := t.b
	ks, vs := t.ks, t.vs
	ref := topicRef{name: topic}
	n := &node{name: b.newName("table-sink", options(opts).name), sink: &ref}
	n.build = func(tk *task, _ []any) any {
		return func(r Record[K, change[V]]) {
			kb, err := ks.Encode(nil, r.Key)
			if err != nil {
				tk.fail(StageSerialize, fmt.Errorf("key for %s: %w", topic, err))
				return
			}
			var vb []byte
			if r.Value.ok {
				if vb, err = vs.Encode(nil, r.Value.v); err != nil {
					tk.fail(StageSerialize, fmt.Errorf("value for %s: %w", topic, err))
					return
				}
				if vb == nil {
					vb = []byte{}
				}
			}
			tk.send(&kgo.Record{Topic: topic, Key: kb, Value: vb, Timestamp: time.UnixMilli(r.Timestamp), Headers: r.Headers, Partition: -1})
		}
	}
	b.addNode(n, t.n)
}

// Filter returns a table of the entries for which keep returns true; an
// entry that stops matching is deleted from it.
func (t *Table[K, V]) Filter(keep func(K, V) bool, opts ...Option) *Table[K, V] {
	return tableNode(t.b, t.n, "table-filter", options(opts), t.ks, t.vs, func(tk *task, st *kvStore[K, V], down func(Record[K, change[V]])) func(Record[K, change[V]]) {
		return func(r Record[K, change[V]]) {
			if r.Value.ok && keep(r.Key, r.Value.v) {
				if err := st.Put(r.Key, r.Value.v); err != nil {
					tk.fail(StageProcess, err)
					return
				}
				down(r)
				return
			}
			_, had, err := st.Get(r.Key)
			if err != nil {
				tk.fail(StageProcess, err)
				return
			}
			if had {
				if err := st.Delete(r.Key); err != nil {
					tk.fail(StageProcess, err)
					return
				}
				down(Record[K, change[V]]{Key: r.Key, Timestamp: r.Timestamp, Headers: r.Headers})
			}
		}
	})
}

// TableMapValues returns a table with each value transformed by f.
func TableMapValues[K, V, V2 any](t *Table[K, V], f func(K, V) V2, vs serde.Serde[V2], opts ...Option) *Table[K, V2] {
	return tableNode(t.b, t.n, "table-mapvalues", options(opts), t.ks, vs, func(tk *task, st *kvStore[K, V2], down func(Record[K, change[V2]])) func(Record[K, change[V]]) {
		return func(r Record[K, change[V]]) {
			out := Record[K, change[V2]]{Key: r.Key, Timestamp: r.Timestamp, Headers: r.Headers}
			var err error
			if r.Value.ok {
				out.Value = change[V2]{v: f(r.Key, r.Value.v), ok: true}
				err = st.Put(r.Key, out.Value.v)
			} else {
				err = st.Delete(r.Key)
			}
			if err != nil {
				tk.fail(StageProcess, err)
				return
			}
			down(out)
		}
	})
}

// Grouped is a stream grouped by key, ready to aggregate (Kafka Streams'
// KGroupedStream).
type Grouped[K, V any] struct {
	s *Stream[K, V]
}

// GroupByKey groups the stream by its key. If an operator may have
// changed the key, the stream is repartitioned first (through
// ${app}-NAME-repartition), which needs the stream's serdes.
func (s *Stream[K, V]) GroupByKey(opts ...Option) *Grouped[K, V] {
	return &Grouped[K, V]{s: s.repartitionIfNeeded(options(opts).name)}
}

// GroupBy groups the stream by a new key computed by f, repartitioning it
// (ks encodes the new key; the stream's value serde must be known).
func GroupBy[K, V, K2 any](s *Stream[K, V], f func(K, V) K2, ks serde.Serde[K2], opts ...Option) *Grouped[K2, V] {
	return SelectKey(s, f).WithSerdes(ks, s.vs).GroupByKey(opts...)
}

// Count counts the records per key.
func (g *Grouped[K, V]) Count(opts ...Option) *Table[K, int64] {
	return Aggregate(g, func() int64 { return 0 }, func(_ K, _ V, n int64) int64 { return n + 1 }, serde.Int64, opts...)
}

// Reduce combines the values per key with f (the first value is kept as
// is).
func (g *Grouped[K, V]) Reduce(f func(agg, v V) V, opts ...Option) *Table[K, V] {
	s := g.s
	return tableNode(s.b, s.n, "reduce", options(opts), s.ks, s.vs, func(t *task, st *kvStore[K, V], down func(Record[K, change[V]])) func(Record[K, V]) {
		return func(r Record[K, V]) {
			old, ok, err := st.Get(r.Key)
			if err != nil {
				t.fail(StageProcess, err)
				return
			}
			v := r.Value
			if ok {
				v = f(old, r.Value)
			}
			if err := st.Put(r.Key, v); err != nil {
				t.fail(StageProcess, err)
				return
			}
			down(Record[K, change[V]]{Key: r.Key, Value: change[V]{v: v, ok: true}, Timestamp: r.Timestamp, Headers: r.Headers})
		}
	})
}

// Aggregate folds the values per key into an A: init gives the start
// value for a new key, f the next one. as encodes A in the store.
func Aggregate[K, V, A any](g *Grouped[K, V], init func() A, f func(k K, v V, agg A) A, as serde.Serde[A], opts ...Option) *Table[K, A] {
	s := g.s
	return tableNode(s.b, s.n, "aggregate", options(opts), s.ks, as, func(t *task, st *kvStore[K, A], down func(Record[K, change[A]])) func(Record[K, V]) {
		return func(r Record[K, V]) {
			agg, ok, err := st.Get(r.Key)
			if err != nil {
				t.fail(StageProcess, err)
				return
			}
			if !ok {
				agg = init()
			}
			agg = f(r.Key, r.Value, agg)
			if err := st.Put(r.Key, agg); err != nil {
				t.fail(StageProcess, err)
				return
			}
			down(Record[K, change[A]]{Key: r.Key, Value: change[A]{v: agg, ok: true}, Timestamp: r.Timestamp, Headers: r.Headers})
		}
	})
}
