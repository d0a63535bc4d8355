package stream

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/eddy-streaming/eddy/stream/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Join enriches each record of s with the current value of its key in
// table t (stream-table inner join): records whose key is not in the table
// are dropped. The stream is repartitioned first if its key changed; s and
// the table's topic must be co-partitioned.
func Join[K, V, VT, VR any](s *Stream[K, V], t *Table[K, VT], joiner func(k K, v V, vt VT) VR, opts ...Option) *Stream[K, VR] {
	return streamTableJoin(s, t, func(k K, v V, vt VT, ok bool) (VR, bool) {
		if !ok {
			var zero VR
			return zero, false
		}
		return joiner(k, v, vt), true
	}, "join", opts)
}

// LeftJoin is Join keeping the records whose key is not in the table
// (found is false and vt the zero value).
func LeftJoin[K, V, VT, VR any](s *Stream[K, V], t *Table[K, VT], joiner func(k K, v V, vt VT, found bool) VR, opts ...Option) *Stream[K, VR] {
	return streamTableJoin(s, t, func(k K, v V, vt VT, ok bool) (VR, bool) { return joiner(k, v, vt, ok), true }, "leftjoin", opts)
}

func streamTableJoin[K, V, VT, VR any](s *Stream[K, V], t *Table[K, VT], f func(K, V, VT, bool) (VR, bool), kind string, opts []Option) *Stream[K, VR] {
	c := options(opts)
	s = s.repartitionIfNeeded(c.name)
	store := t.store
	n := then(s, kind, c.name, func(tk *task, down func(Record[K, VR])) func(Record[K, V]) {
		st := taskStore[*kvStore[K, VT]](tk, store)
		return func(r Record[K, V]) {
			vt, ok, err := st.Get(r.Key)
			if err != nil {
				tk.fail(StageProcess, err)
				return
			}
			if out, keep := f(r.Key, r.Value, vt, ok); keep {
				down(Record[K, VR]{Key: r.Key, Value: out, Timestamp: r.Timestamp, Headers: r.Headers})
			}
		}
	})
	n.stores = []string{store}
	return &Stream[K, VR]{b: s.b, n: n, ks: s.ks}
}

// GlobalTable is a table replicated in full to every instance (Kafka
// Streams' GlobalKTable): joins with it need no co-partitioning and may
// look up any key computed from the record.
type GlobalTable[K, V any] struct {
	b     *Builder
	ks    serde.Serde[K]
	store string
}

// GlobalTableFrom reads every partition of a (compacted) topic into a
// global table. The topic itself is the table's changelog: on start the
// table is loaded from it before any record is processed.
func GlobalTableFrom[K, V any](b *Builder, topic string, ks serde.Serde[K], vs serde.Serde[V], opts ...Option) *GlobalTable[K, V] {
	c := options(opts)
	name := b.newName("global-table", c.name)
	spec := addKVStore(b, name, ks, vs, c.inMemory)
	// The topic is the table's changelog.
	spec.global, spec.changelog = true, topicRef{name: topic}
	n := &node{name: name, source: &topicRef{name: topic}, global: true, stores: []string{name}}
	n.build = func(t *task, _ []any) any {
		st := taskStore[*kvStore[K, V]](t, name)
		return func(r *kgo.Record) {
			// Keys are stored as they come: the topic is the changelog.
			var err error
			if r.Value == nil {
				err = st.rawStore.del(r.Key)
			} else {
				var v V
				if v, err = vs.Decode(r.Value); err == nil {
					err = st.rawStore.put(r.Key, v)
				}
			}
			if err != nil {
				t.fail(StageDeserialize, err)
			}
		}
	}
	b.addNode(n)
	return &GlobalTable[K, V]{b: b, ks: ks, store: name}
}

// StoreName returns the name of the global table's store.
func (g *GlobalTable[K, V]) StoreName() string { return g.store }

// JoinGlobal enriches each record of s with the global table's value for
// the key keyOf computes; records without one are dropped.
func JoinGlobal[K, V, GK, GV, VR any](s *Stream[K, V], g *GlobalTable[GK, GV], keyOf func(K, V) GK, joiner func(k K, v V, gv GV) VR, opts ...Option) *Stream[K, VR] {
	return globalJoin(s, g, keyOf, func(k K, v V, gv GV, ok bool) (VR, bool) {
		if !ok {
			var zero VR
			return zero, false
		}
		return joiner(k, v, gv), true
	}, "globaljoin", opts)
}

// LeftJoinGlobal is JoinGlobal keeping records without a match (found
// false).
func LeftJoinGlobal[K, V, GK, GV, VR any](s *Stream[K, V], g *GlobalTable[GK, GV], keyOf func(K, V) GK, joiner func(k K, v V, gv GV, found bool) VR, opts ...Option) *Stream[K, VR] {
	return globalJoin(s, g, keyOf, func(k K, v V, gv GV, ok bool) (VR, bool) { return joiner(k, v, gv, ok), true }, "globalleftjoin", opts)
}

func globalJoin[K, V, GK, GV, VR any](s *Stream[K, V], g *GlobalTable[GK, GV], keyOf func(K, V) GK, f func(K, V, GV, bool) (VR, bool), kind string, opts []Option) *Stream[K, VR] {
	store := g.store
	n := then(s, kind, options(opts).name, func(tk *task, down func(Record[K, VR])) func(Record[K, V]) {
		var st *kvStore[GK, GV]
		return func(r Record[K, V]) {
			if st == nil {
				st = taskStore[*kvStore[GK, GV]](tk, store)
			}
			gv, ok, err := st.Get(keyOf(r.Key, r.Value))
			if err != nil {
				tk.fail(StageProcess, err)
				return
			}
			if out, keep := f(r.Key, r.Value, gv, ok); keep {
				down(Record[K, VR]{Key: r.Key, Value: out, Timestamp: r.Timestamp, Headers: r.Headers})
			}
		}
	})
	return &Stream[K, VR]{b: s.b, n: n, ks: s.ks, keyChanged: s.keyChanged}
}

// JoinWindows says how close in time two records must be to join: their
// timestamps differ by at most the window's size. Grace lets records
// arrive late (default 0); unmatched records of left and outer joins are
// emitted when their window closes.
type JoinWindows struct {
	within int64
	grace  int64
}

// JoinWindow joins records at most d apart.
func JoinWindow(d time.Duration) JoinWindows { return JoinWindows{within: d.Milliseconds()} }

// Grace lets records arrive up to d after their join window closed.
func (w JoinWindows) Grace(d time.Duration) JoinWindows {
	w.grace = d.Milliseconds()
	return w
}

// JoinStreams joins two streams on key within a time window (inner join):
// each pair of records with the same key at most the window apart gives
// one output, with the larger timestamp. Both streams need serdes (they
// are buffered in stores) and are repartitioned if their key changed.
func JoinStreams[K, V1, V2, VR any](left *Stream[K, V1], right *Stream[K, V2], w JoinWindows, joiner func(k K, v1 V1, v2 V2) VR, opts ...Option) *Stream[K, VR] {
	return streamStreamJoin(left, right, w, func(k K, v1 V1, ok1 bool, v2 V2, ok2 bool) VR { return joiner(k, v1, v2) }, false, false, opts)
}

// LeftJoinStreams is JoinStreams that also emits each left record that
// found no match (ok2 false) once its window has closed.
func LeftJoinStreams[K, V1, V2, VR any](left *Stream[K, V1], right *Stream[K, V2], w JoinWindows, joiner func(k K, v1 V1, v2 V2, ok2 bool) VR, opts ...Option) *Stream[K, VR] {
	return streamStreamJoin(left, right, w, func(k K, v1 V1, ok1 bool, v2 V2, ok2 bool) VR { return joiner(k, v1, v2, ok2) }, true, false, opts)
}

// OuterJoinStreams is JoinStreams that also emits the records of either
// side that found no match (ok1 or ok2 false) once their window closed.
func OuterJoinStreams[K, V1, V2, VR any](left *Stream[K, V1], right *Stream[K, V2], w JoinWindows, joiner func(k K, v1 V1, ok1 bool, v2 V2, ok2 bool) VR, opts ...Option) *Stream[K, VR] {
	return streamStreamJoin(left, right, w, joiner, true, true, opts)
}

// buffered is a record kept by a stream-stream join, with whether it has
// joined yet.
type buffered[V any] struct {
	v       V
	matched bool
}

type bufferedSerde[V any] struct{ vs serde.Serde[V] }

func (s bufferedSerde[V]) Encode(dst []byte, b buffered[V]) ([]byte, error) {
	flag := byte(0)
	if b.matched {
		flag = 1
	}
	return s.vs.Encode(append(dst, flag), b.v)
}

func (s bufferedSerde[V]) Decode(b []byte) (buffered[V], error) {
	if len(b) < 1 {
		return buffered[V]{}, fmt.Errorf("%w: empty join buffer entry", serde.ErrSize)
	}
	v, err := s.vs.Decode(b[1:])
	return buffered[V]{v: v, matched: b[0] == 1}, err
}

// joinOp is the state of one stream-stream join in one task, shared by
// its two input nodes.
type joinOp[K, V1, V2, VR any] struct {
	t        *task
	w        JoinWindows
	ks       serde.Serde[K]
	ls       *rawStore[buffered[V1]]
	rs       *rawStore[buffered[V2]]
	joiner   func(K, V1, bool, V2, bool) VR
	outerL   bool // emit unmatched left records
	outerR   bool
	down     func(Record[K, VR])
	observed int64
	nextScan int64
	kbuf     []byte
}

func streamStreamJoin[K, V1, V2, VR any](left *Stream[K, V1], right *Stream[K, V2], w JoinWindows, joiner func(K, V1, bool, V2, bool) VR, outerL, outerR bool, opts []Option) *Stream[K, VR] {
	b := left.b
	c := options(opts)
	left = left.repartitionIfNeeded("")
	right = right.repartitionIfNeeded("")
	ks := left.ks
	if ks == nil || left.vs == nil || right.vs == nil {
		b.fail(fmt.Errorf("stream: stream-stream joins buffer records in stores: both streams need serdes (WithSerdes)"))
		return &Stream[K, VR]{b: b, n: left.n}
	}
	name := b.newName("join-streams", c.name)
	lname, rname := name+"-left", name+"-right"
	addRaw(b, lname, c.inMemory, bufferedSerde[V1]{left.vs})
	addRaw(b, rname, c.inMemory, bufferedSerde[V2]{right.vs})
	op := func(t *task) *joinOp[K, V1, V2, VR] {
		if o, ok := t.shared[name]; ok {
			return o.(*joinOp[K, V1, V2, VR])
		}
		o := &joinOp[K, V1, V2, VR]{t: t, w: w, ks: ks, joiner: joiner, outerL: outerL, outerR: outerR,
			ls: taskStore[*rawStore[buffered[V1]]](t, lname), rs: taskStore[*rawStore[buffered[V2]]](t, rname),
			observed: noTime, nextScan: math.MinInt64 + 1}
		t.shared[name] = o
		return o
	}
	out := &node{name: name, stores: []string{lname, rname}}
	out.build = func(t *task, down []any) any {
		o := op(t)
		o.down = fanout[K, VR](down)
		t.atEnd(out, o.end)
		return func(Record[K, VR]) {} // outputs come from the two sides
	}
	b.addNode(out)
	ln := &node{name: name + "-this", stores: []string{lname, rname}}
	ln.build = func(t *task, _ []any) any {
		o := op(t)
		pair := func(k K, v1 V1, v2 V2) VR { return o.joiner(k, v1, true, v2, true) }
		return func(r Record[K, V1]) { joinSide(o, r, o.ls, o.rs, pair) }
	}
	b.addNode(ln, left.n)
	rn := &node{name: name + "-other", stores: []string{lname, rname}}
	rn.build = func(t *task, _ []any) any {
		o := op(t)
		pair := func(k K, v2 V2, v1 V1) VR { return o.joiner(k, v1, true, v2, true) }
		return func(r Record[K, V2]) { joinSide(o, r, o.rs, o.ls, pair) }
	}
	b.addNode(rn, right.n)
	// The output node is built after both sides (it has no parent); make
	// it a child of both so its down function exists before records flow.
	ln.children = append(ln.children, out)
	rn.children = append(rn.children, out)
	out.parents = []*node{ln, rn}
	return &Stream[K, VR]{b: b, n: out, ks: ks}
}

func addRaw[V any](b *Builder, name string, inMemory bool, vs serde.Serde[V]) {
	spec := &storeSpec{name: name, inMemory: inMemory, changelog: topicRef{name: name + "-changelog", internal: true}}
	spec.open = func(t *task) (storeInstance, error) { return newRawStore(t, spec, vs) }
	b.stores[name] = spec
}

// joinSide handles a record of one side: buffer it, join it with the
// other side's records in the window, then expire closed records.
func joinSide[K, V1, V2, VR, VA, VB any](o *joinOp[K, V1, V2, VR], r Record[K, VA], mine *rawStore[buffered[VA]], other *rawStore[buffered[VB]], pair func(K, VA, VB) VR) {
	t := o.t
	if r.Timestamp > o.observed {
		o.observed = r.Timestamp
	}
	if r.Timestamp+o.w.within+o.w.grace < o.observed {
		t.fail(StageLate, fmt.Errorf("late record: its join window closed (event time %d, stream time %d, window %dms, grace %dms)", r.Timestamp, o.observed, o.w.within, o.w.grace))
		return
	}
	kb, err := o.ks.Encode(o.kbuf[:0], r.Key)
	if err != nil {
		t.fail(StageProcess, err)
		return
	}
	o.kbuf = kb
	prefix := appendKey(nil, kb)
	from := appendTime(append([]byte(nil), prefix...), r.Timestamp-o.w.within)
	to := appendTime(append([]byte(nil), prefix...), r.Timestamp+o.w.within+1)
	type hit struct {
		key []byte
		b   buffered[VB]
		ts  int64
	}
	var hits []hit
	if err := other.rangeRaw(from, to, func(key []byte, b buffered[VB]) bool {
		hits = append(hits, hit{append([]byte(nil), key...), b, readTime(key[len(prefix):])})
		return true
	}); err != nil {
		t.fail(StageProcess, err)
		return
	}
	for _, h := range hits {
		ts := max(r.Timestamp, h.ts)
		out := pair(r.Key, r.Value, h.b.v)
		o.down(Record[K, VR]{Key: r.Key, Value: out, Timestamp: ts, Headers: r.Headers})
		if !h.b.matched {
			h.b.matched = true
			if err := other.put(h.key, h.b); err != nil {
				t.fail(StageProcess, err)
				return
			}
		}
	}
	rk := binary.BigEndian.AppendUint64(appendTime(prefix, r.Timestamp), t.seq())
	if err := mine.put(rk, buffered[VA]{v: r.Value, matched: len(hits) > 0}); err != nil {
		t.fail(StageProcess, err)
		return
	}
	if c := r.Timestamp + o.w.within + o.w.grace + 1; c < o.nextScan {
		o.nextScan = c
	}
	o.expire()
}

// end drops every buffered record, emitting the unmatched ones for left
// and outer joins: the input ended, stream time is EndOfTime.
func (o *joinOp[K, V1, V2, VR]) end() {
	o.observed = EndOfTime
	o.expire()
}

// expire drops buffered records whose window closed, emitting the
// unmatched ones for left and outer joins.
func (o *joinOp[K, V1, V2, VR]) expire() {
	if o.observed < o.nextScan {
		return
	}
	o.nextScan = math.MaxInt64
	expireSide(o, o.ls, o.outerL, func(k K, v V1, ts int64) {
		var zero V2
		o.down(Record[K, VR]{Key: k, Value: o.joiner(k, v, true, zero, false), Timestamp: ts})
	})
	expireSide(o, o.rs, o.outerR, func(k K, v V2, ts int64) {
		var zero V1
		o.down(Record[K, VR]{Key: k, Value: o.joiner(k, zero, false, v, true), Timestamp: ts})
	})
}

func expireSide[K, V1, V2, VR, V any](o *joinOp[K, V1, V2, VR], st *rawStore[buffered[V]], emitUnmatched bool, emit func(K, V, int64)) {
	type dead struct {
		key []byte
		b   buffered[V]
	}
	var ds []dead
	err := st.rangeRaw(nil, nil, func(key []byte, b buffered[V]) bool {
		n, sz := binary.Uvarint(key)
		ts := readTime(key[sz+int(n):])
		if c := ts + o.w.within + o.w.grace; c < o.observed {
			ds = append(ds, dead{append([]byte(nil), key...), b})
		} else if c+1 < o.nextScan {
			o.nextScan = c + 1
		}
		return true
	})
	if err != nil {
		o.t.fail(StageProcess, err)
		return
	}
	for _, d := range ds {
		if emitUnmatched && !d.b.matched {
			n, sz := binary.Uvarint(d.key)
			k, err := o.ks.Decode(d.key[sz : sz+int(n)])
			if err != nil {
				o.t.fail(StageProcess, err)
				continue
			}
			emit(k, d.b.v, readTime(d.key[sz+int(n):]))
		}
		if err := st.del(d.key); err != nil {
			o.t.fail(StageProcess, err)
		}
	}
}

// JoinTables joins two tables on key (inner): the result has a value for
// each key present in both, updated when either changes, and deleted when
// either side deletes it. vs encodes the result's store.
func JoinTables[K, V1, V2, VR any](a *Table[K, V1], b *Table[K, V2], joiner func(k K, v1 V1, v2 V2) VR, vs serde.Serde[VR], opts ...Option) *Table[K, VR] {
	return tableTableJoin(a, b, func(k K, v1 V1, ok1 bool, v2 V2, ok2 bool) (VR, bool) {
		if !ok1 || !ok2 {
			var zero VR
			return zero, false
		}
		return joiner(k, v1, v2), true
	}, vs, opts)
}

// LeftJoinTables keeps every key of a (ok2 says whether b has it).
func LeftJoinTables[K, V1, V2, VR any](a *Table[K, V1], b *Table[K, V2], joiner func(k K, v1 V1, v2 V2, ok2 bool) VR, vs serde.Serde[VR], opts ...Option) *Table[K, VR] {
	return tableTableJoin(a, b, func(k K, v1 V1, ok1 bool, v2 V2, ok2 bool) (VR, bool) {
		if !ok1 {
			var zero VR
			return zero, false
		}
		return joiner(k, v1, v2, ok2), true
	}, vs, opts)
}

// OuterJoinTables keeps every key of either table.
func OuterJoinTables[K, V1, V2, VR any](a *Table[K, V1], b *Table[K, V2], joiner func(k K, v1 V1, ok1 bool, v2 V2, ok2 bool) VR, vs serde.Serde[VR], opts ...Option) *Table[K, VR] {
	return tableTableJoin(a, b, func(k K, v1 V1, ok1 bool, v2 V2, ok2 bool) (VR, bool) {
		if !ok1 && !ok2 {
			var zero VR
			return zero, false
		}
		return joiner(k, v1, ok1, v2, ok2), true
	}, vs, opts)
}

func tableTableJoin[K, V1, V2, VR any](a *Table[K, V1], b *Table[K, V2], f func(K, V1, bool, V2, bool) (VR, bool), vs serde.Serde[VR], opts []Option) *Table[K, VR] {
	bl := a.b
	c := options(opts)
	name := bl.newName("join-tables", c.name)
	addKVStore(bl, name, a.ks, vs, c.inMemory)
	aStore, bStore := a.store, b.store
	out := &node{name: name, stores: []string{name, aStore, bStore}}
	update := func(t *task, k K, ts int64, hs []Header) {
		res := taskStore[*kvStore[K, VR]](t, name)
		v1, ok1, err1 := taskStore[*kvStore[K, V1]](t, aStore).Get(k)
		v2, ok2, err2 := taskStore[*kvStore[K, V2]](t, bStore).Get(k)
		if err1 != nil || err2 != nil {
			t.fail(StageProcess, fmt.Errorf("table join lookup: %v %v", err1, err2))
			return
		}
		down := t.shared[name].(func(Record[K, change[VR]]))
		if vr, ok := f(k, v1, ok1, v2, ok2); ok {
			if err := res.Put(k, vr); err != nil {
				t.fail(StageProcess, err)
				return
			}
			down(Record[K, change[VR]]{Key: k, Value: change[VR]{v: vr, ok: true}, Timestamp: ts, Headers: hs})
			return
		}
		if _, had, _ := res.Get(k); had {
			if err := res.Delete(k); err != nil {
				t.fail(StageProcess, err)
				return
			}
			down(Record[K, change[VR]]{Key: k, Timestamp: ts, Headers: hs})
		}
	}
	out.build = func(t *task, down []any) any {
		t.shared[name] = fanout[K, change[VR]](down)
		return func(Record[K, change[VR]]) {}
	}
	bl.addNode(out)
	an := &node{name: name + "-this", stores: []string{name, aStore, bStore}}
	an.build = func(t *task, _ []any) any {
		return func(r Record[K, change[V1]]) { update(t, r.Key, r.Timestamp, r.Headers) }
	}
	bl.addNode(an, a.n)
	bn := &node{name: name + "-other", stores: []string{name, aStore, bStore}}
	bn.build = func(t *task, _ []any) any {
		return func(r Record[K, change[V2]]) { update(t, r.Key, r.Timestamp, r.Headers) }
	}
	bl.addNode(bn, b.n)
	an.children = append(an.children, out)
	bn.children = append(bn.children, out)
	out.parents = []*node{an, bn}
	return &Table[K, VR]{b: bl, n: out, ks: a.ks, vs: vs, store: name}
}
