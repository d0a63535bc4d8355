package stream

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/eddy-streaming/eddy/stream/serde"
)

type windowKind int

const (
	tumbling windowKind = iota
	hopping
	sliding
	session
)

func (k windowKind) String() string {
	return [...]string{"tumbling", "hopping", "sliding", "session"}[k]
}

// Windows says how records are grouped in time for a windowed
// aggregation. Make one with TumblingWindows, HoppingWindows,
// SlidingWindows or SessionWindows; Grace sets how late records may be.
//
// A window closes when stream time (the largest timestamp the operator
// has seen) reaches its end plus the grace period. A record that only
// belongs to closed windows is late: it goes to the dead-letter topic with
// stage "late" and the reason, and is counted in Metrics.LateRecords.
type Windows struct {
	kind    windowKind
	size    int64 // ms; the gap for session windows
	advance int64
	grace   int64
}

// TumblingWindows are fixed-size, non-overlapping windows aligned to the
// epoch: [0, size), [size, 2*size), ...
func TumblingWindows(size time.Duration) Windows {
	ms := size.Milliseconds()
	return Windows{kind: tumbling, size: ms, advance: ms}
}

// HoppingWindows are fixed-size windows starting every advance (so a
// record belongs to size/advance windows), aligned to the epoch.
func HoppingWindows(size, advance time.Duration) Windows {
	return Windows{kind: hopping, size: size.Milliseconds(), advance: advance.Milliseconds()}
}

// SlidingWindows aggregate, for each record, the records of its key in
// the size before it: the window [ts-size, ts] (both ends included, as in
// Kafka Streams) ends at every record. A record arriving out of order also
// updates the open windows of later records it falls into.
func SlidingWindows(size time.Duration) Windows {
	return Windows{kind: sliding, size: size.Milliseconds()}
}

// SessionWindows group a key's records separated by less than gap of
// inactivity; sessions merge when a record bridges them.
func SessionWindows(gap time.Duration) Windows {
	return Windows{kind: session, size: gap.Milliseconds()}
}

// Grace lets records arrive up to d after their window's end and still be
// counted (default 0, as Kafka Streams' ofSizeWithNoGrace).
func (w Windows) Grace(d time.Duration) Windows {
	w.grace = d.Milliseconds()
	return w
}

func (w Windows) validate() error {
	switch {
	case w.size <= 0:
		return fmt.Errorf("stream: %s windows need a positive size", w.kind)
	case w.kind == hopping && (w.advance <= 0 || w.advance > w.size):
		return fmt.Errorf("stream: hopping windows need 0 < advance <= size")
	case w.grace < 0:
		return fmt.Errorf("stream: negative grace")
	}
	return nil
}

// WindowedGrouped is a grouped stream with windows, ready to aggregate.
type WindowedGrouped[K, V any] struct {
	g     *Grouped[K, V]
	w     Windows
	final bool
}

// WindowedBy groups the records of g in time windows. (A function, not a
// method: a method would let Go instantiate windows of windows of ...
// forever.)
func WindowedBy[K, V any](g *Grouped[K, V], w Windows) *WindowedGrouped[K, V] {
	if err := w.validate(); err != nil {
		g.s.b.fail(err)
	}
	return &WindowedGrouped[K, V]{g: g, w: w}
}

// EmitFinal makes the aggregation emit one result per window, when the
// window closes (Kafka Streams' suppress(untilWindowCloses)), instead of
// one per update.
func (w *WindowedGrouped[K, V]) EmitFinal() *WindowedGrouped[K, V] {
	c := *w
	c.final = true
	return &c
}

// Count counts the records per key and window.
func (w *WindowedGrouped[K, V]) Count(opts ...Option) *Table[Windowed[K], int64] {
	return windowedAggregate(w, func(_ K, _ V, n int64, _ bool) int64 { return n + 1 },
		func(_ K, a, b int64) int64 { return a + b }, serde.Int64, opts)
}

// Reduce combines the values per key and window with f.
func (w *WindowedGrouped[K, V]) Reduce(f func(agg, v V) V, opts ...Option) *Table[Windowed[K], V] {
	vs := w.g.s.vs
	if vs == nil {
		w.g.s.b.fail(fmt.Errorf("stream: windowed Reduce needs the value serde: call WithSerdes first"))
	}
	return windowedAggregate(w, func(_ K, v V, agg V, exists bool) V {
		if !exists {
			return v
		}
		return f(agg, v)
	}, func(_ K, a, b V) V { return f(a, b) }, vs, opts)
}

// WindowedAggregate folds the values per key and window into an A. For
// session windows use SessionAggregate, which also needs to merge.
func WindowedAggregate[K, V, A any](w *WindowedGrouped[K, V], init func() A, f func(k K, v V, agg A) A, as serde.Serde[A], opts ...Option) *Table[Windowed[K], A] {
	if w.w.kind == session {
		w.g.s.b.fail(fmt.Errorf("stream: session windows need SessionAggregate (with a merger)"))
	}
	return windowedAggregate(w, withInit(init, f), nil, as, opts)
}

func withInit[K, V, A any](init func() A, f func(K, V, A) A) func(K, V, A, bool) A {
	return func(k K, v V, a A, exists bool) A {
		if !exists {
			a = init()
		}
		return f(k, v, a)
	}
}

// SessionAggregate folds the values per key and session into an A; merge
// combines the aggregates of two sessions joined by a record.
func SessionAggregate[K, V, A any](w *WindowedGrouped[K, V], init func() A, f func(k K, v V, agg A) A, merge func(k K, a, b A) A, as serde.Serde[A], opts ...Option) *Table[Windowed[K], A] {
	return windowedAggregate(w, withInit(init, f), merge, as, opts)
}

// WindowedSerde encodes a windowed key as the key's bytes followed by the
// window start and end (8 bytes big-endian each).
func WindowedSerde[K any](ks serde.Serde[K]) serde.Serde[Windowed[K]] { return windowedSerde[K]{ks} }

type windowedSerde[K any] struct{ ks serde.Serde[K] }

func (s windowedSerde[K]) Encode(dst []byte, w Windowed[K]) ([]byte, error) {
	dst, err := s.ks.Encode(dst, w.Key)
	if err != nil {
		return dst, err
	}
	dst = binary.BigEndian.AppendUint64(dst, uint64(w.Start))
	return binary.BigEndian.AppendUint64(dst, uint64(w.End)), nil
}

func (s windowedSerde[K]) Decode(b []byte) (Windowed[K], error) {
	if len(b) < 16 {
		return Windowed[K]{}, fmt.Errorf("%w: windowed key needs at least 16 bytes, got %d", serde.ErrSize, len(b))
	}
	n := len(b) - 16
	k, err := s.ks.Decode(b[:n])
	return Windowed[K]{Key: k, Start: int64(binary.BigEndian.Uint64(b[n:])), End: int64(binary.BigEndian.Uint64(b[n+8:]))}, err
}

// appendTime appends ts so that byte order is time order (negative times
// included).
func appendTime(b []byte, ts int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(ts)^(1<<63))
}

func readTime(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

// appendKey appends a length-prefixed key, so that key-first layouts have
// no prefix ambiguity.
func appendKey(b, k []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(k)))
	return append(b, k...)
}

// windowOp is the state shared by the windowed aggregation operators of
// one task.
type windowOp[K, V, A any] struct {
	t        *task
	w        Windows
	final    bool
	ks       serde.Serde[K]
	st       *rawStore[A]
	vals     *rawStore[V]          // sliding windows: the records
	add      func(K, V, A, bool) A // the bool: an aggregate exists
	merge    func(K, A, A) A
	down     func(Record[Windowed[K], change[A]])
	observed int64
	// nextScan is the stream time at which some stored window may close;
	// the store is scanned for closed windows only then.
	nextScan int64
	kbuf     []byte
	sbuf     []byte
	// open indexes the time windows in the store by start (store keys),
	// so closing them needs no store scan; rebuilt from the store by the
	// first record after the task starts (indexed false).
	open    map[int64][]string
	indexed bool
}

func windowedAggregate[K, V, A any](wg *WindowedGrouped[K, V], f func(K, V, A, bool) A, merge func(K, A, A) A, as serde.Serde[A], opts []Option) *Table[Windowed[K], A] {
	s := wg.g.s
	b := s.b
	c := options(opts)
	w, final := wg.w, wg.final
	ks, vs := s.ks, s.vs
	if ks == nil {
		b.fail(fmt.Errorf("stream: windowed aggregation needs the key serde: call WithSerdes first"))
	}
	if w.kind == sliding && vs == nil {
		b.fail(fmt.Errorf("stream: sliding windows keep the records: the value serde is needed (WithSerdes)"))
	}
	name := b.newName("window-"+w.kind.String(), c.name)
	spec := &storeSpec{name: name, inMemory: c.inMemory, changelog: topicRef{name: name + "-changelog", internal: true}}
	spec.open = func(t *task) (storeInstance, error) { return newRawStore(t, spec, as) }
	b.stores[name] = spec
	stores := []string{name}
	valsName := name + "-records"
	if w.kind == sliding {
		vspec := &storeSpec{name: valsName, inMemory: c.inMemory, changelog: topicRef{name: valsName + "-changelog", internal: true}}
		vspec.open = func(t *task) (storeInstance, error) { return newRawStore(t, vspec, vs) }
		b.stores[valsName] = vspec
		stores = append(stores, valsName)
	}
	n := &node{name: name, stores: stores}
	n.build = func(t *task, down []any) any {
		op := &windowOp[K, V, A]{t: t, w: w, final: final, ks: ks, st: taskStore[*rawStore[A]](t, name),
			add: f, merge: merge, down: fanout[Windowed[K], change[A]](down), observed: noTime, nextScan: math.MaxInt64}
		if w.kind == sliding {
			op.vals = taskStore[*rawStore[V]](t, valsName)
		}
		if err := op.recoverScan(); err != nil {
			t.fatal = err
		}
		t.atEnd(n, op.end)
		switch w.kind {
		case session:
			return op.session
		case sliding:
			return op.sliding
		}
		return op.timeWindows
	}
	b.addNode(n, s.n)
	return &Table[Windowed[K], A]{b: b, n: n, ks: WindowedSerde(ks), vs: as, store: name}
}

// end closes every window (EmitFinal: emits its result) and deletes it:
// the input ended, stream time is EndOfTime.
func (op *windowOp[K, V, A]) end() {
	op.observed = EndOfTime
	switch op.w.kind {
	case session:
		op.closeKeyFirst(op.w.size + op.w.grace)
	case sliding:
		op.closeSliding()
	default:
		if op.indexed || op.indexWindows() {
			op.closeWindows()
		}
	}
}

// recoverScan makes the first record after a restore scan for closed
// windows.
func (op *windowOp[K, V, A]) recoverScan() error {
	op.nextScan = math.MinInt64 + 1
	return nil
}

func (op *windowOp[K, V, A]) emit(k K, start, end int64, a A, ok bool, r Record[K, V]) {
	op.down(Record[Windowed[K], change[A]]{Key: Windowed[K]{Key: k, Start: start, End: end}, Value: change[A]{v: a, ok: ok}, Timestamp: r.Timestamp, Headers: r.Headers})
}

func (op *windowOp[K, V, A]) late(r Record[K, V], why string) {
	op.t.fail(StageLate, fmt.Errorf("late record: %s (event time %d, stream time %d, grace %dms)", why, r.Timestamp, op.observed, op.w.grace))
}

func (op *windowOp[K, V, A]) encodeKey(k K) ([]byte, bool) {
	kb, err := op.ks.Encode(op.kbuf[:0], k)
	if err != nil {
		op.t.fail(StageProcess, fmt.Errorf("encoding key: %w", err))
		return nil, false
	}
	op.kbuf = kb
	return kb, true
}

// timeWindows handles tumbling and hopping windows. Store key: window
// start | key bytes, so closed windows are a prefix of the store.
func (op *windowOp[K, V, A]) timeWindows(r Record[K, V]) {
	if r.Timestamp > op.observed {
		op.observed = r.Timestamp
	}
	if !op.indexed && !op.indexWindows() {
		return
	}
	kb, ok := op.encodeKey(r.Key)
	if !ok {
		return
	}
	w := op.w
	closeBefore := op.observed - w.grace // windows with end <= this are closed
	first := r.Timestamp - r.Timestamp%w.advance
	if r.Timestamp < 0 && r.Timestamp%w.advance != 0 {
		first -= w.advance
	}
	updated := false
	for start := first; start > r.Timestamp-w.size; start -= w.advance {
		end := start + w.size
		if end <= closeBefore {
			continue
		}
		sk := appendTime(op.sbuf[:0], start)
		sk = append(sk, kb...)
		op.sbuf = sk
		agg, found, err := op.st.get(sk)
		if err != nil {
			op.t.fail(StageProcess, err)
			return
		}
		agg = op.add(r.Key, r.Value, agg, found)
		if err := op.st.put(sk, agg); err != nil {
			op.t.fail(StageProcess, err)
			return
		}
		if !found {
			op.open[start] = append(op.open[start], string(sk))
		}
		if end+w.grace < op.nextScan {
			op.nextScan = end + w.grace
		}
		if !op.final {
			op.emit(r.Key, start, end, agg, true, r)
		}
		updated = true
	}
	if !updated {
		op.late(r, fmt.Sprintf("its %s windows closed", w.kind))
	}
	op.closeWindows()
}

// indexWindows builds the index of open windows from the store (after a
// restore).
func (op *windowOp[K, V, A]) indexWindows() bool {
	op.open = map[int64][]string{}
	op.nextScan = math.MaxInt64
	err := op.st.rangeRaw(nil, nil, func(key []byte, _ A) bool {
		start := readTime(key)
		op.open[start] = append(op.open[start], string(key))
		op.nextScan = min(op.nextScan, start+op.w.size+op.w.grace)
		return true
	})
	if err != nil {
		op.t.fail(StageProcess, err)
		return false
	}
	op.indexed = true
	return true
}

// closeWindows emits (EmitFinal) and deletes the windows that closed:
// end + grace <= observed.
func (op *windowOp[K, V, A]) closeWindows() {
	if op.observed < op.nextScan {
		return
	}
	w := op.w
	var starts []int64
	next := int64(math.MaxInt64)
	for start := range op.open {
		if start+w.size+w.grace <= op.observed {
			starts = append(starts, start)
		} else {
			next = min(next, start+w.size+w.grace)
		}
	}
	op.nextScan = next
	slices.Sort(starts)
	for _, start := range starts {
		keys := op.open[start]
		if op.final {
			// The window's keys are the store keys under its start: the
			// ones the cache no longer holds are read by one scan.
			found, err := op.st.getAll(keys, appendTime(nil, start), appendTime(nil, start+1), func(kb []byte, agg A) {
				k, err := op.ks.Decode(kb[8:])
				if err != nil {
					op.t.fail(StageProcess, err)
					return
				}
				op.down(Record[Windowed[K], change[A]]{Key: Windowed[K]{Key: k, Start: start, End: start + w.size}, Value: change[A]{v: agg, ok: true}, Timestamp: start + w.size - 1})
			})
			if err == nil && found != len(keys) {
				err = fmt.Errorf("%d of its %d keys not in the store", len(keys)-found, len(keys))
			}
			if err != nil {
				op.t.fail(StageProcess, fmt.Errorf("closing window [%d, %d): %w", start, start+w.size, err))
			}
		}
		for _, key := range keys {
			if err := op.st.del([]byte(key)); err != nil {
				op.t.fail(StageProcess, err)
			}
		}
		delete(op.open, start)
	}
}

// session handles session windows. Store key: len|key | end | start.
func (op *windowOp[K, V, A]) session(r Record[K, V]) {
	if r.Timestamp > op.observed {
		op.observed = r.Timestamp
	}
	kb, ok := op.encodeKey(r.Key)
	if !ok {
		return
	}
	gap := op.w.size
	prefix := appendKey(nil, kb)
	from := appendTime(append([]byte(nil), prefix...), r.Timestamp-gap)
	to := appendTime(append([]byte(nil), prefix...), math.MaxInt64)
	start, end := r.Timestamp, r.Timestamp
	var agg A
	have := false
	type old struct {
		key        []byte
		start, end int64
	}
	var merged []old
	err := op.st.rangeRaw(from, to, func(key []byte, a A) bool {
		e := readTime(key[len(prefix):])
		s := readTime(key[len(prefix)+8:])
		if s > r.Timestamp+gap {
			return true
		}
		merged = append(merged, old{append([]byte(nil), key...), s, e})
		start, end = min(start, s), max(end, e)
		if have {
			agg = op.merge(r.Key, agg, a)
		} else {
			agg, have = a, true
		}
		return true
	})
	if err != nil {
		op.t.fail(StageProcess, err)
		return
	}
	if end < op.observed-op.w.grace {
		op.late(r, "its session closed")
		return
	}
	agg = op.add(r.Key, r.Value, agg, have)
	for _, m := range merged {
		if err := op.st.del(m.key); err != nil {
			op.t.fail(StageProcess, err)
			return
		}
		if !op.final {
			var zero A
			op.emit(r.Key, m.start, m.end, zero, false, r)
		}
	}
	nk := appendTime(appendTime(prefix, end), start)
	if err := op.st.put(nk, agg); err != nil {
		op.t.fail(StageProcess, err)
		return
	}
	if !op.final {
		op.emit(r.Key, start, end, agg, true, r)
	}
	if c := end + gap + op.w.grace; c < op.nextScan {
		op.nextScan = c
	}
	op.closeSessions()
}

// closeSessions emits (EmitFinal) and deletes sessions no record can
// reach any more: end + gap < observed - grace.
func (op *windowOp[K, V, A]) closeSessions() {
	if op.observed >= op.nextScan {
		op.closeKeyFirst(op.w.size + op.w.grace)
	}
}

// closeKeyFirst emits (EmitFinal) and deletes the windows of a key-first
// store (len|key | end | start) with end + slack < observed, and sets
// nextScan for the first window left.
func (op *windowOp[K, V, A]) closeKeyFirst(slack int64) {
	next := int64(math.MaxInt64)
	var done [][]byte
	var aggs []A
	err := op.st.rangeRaw(nil, nil, func(key []byte, a A) bool {
		n, sz := binary.Uvarint(key)
		end := readTime(key[sz+int(n):])
		if end+slack < op.observed {
			done = append(done, append([]byte(nil), key...))
			aggs = append(aggs, a)
		} else {
			next = min(next, end+slack+1)
		}
		return true
	})
	if err != nil {
		op.t.fail(StageProcess, err)
		return
	}
	op.nextScan = next
	for i, key := range done {
		n, sz := binary.Uvarint(key)
		tail := key[sz+int(n):]
		if op.final {
			k, err := op.ks.Decode(key[sz : sz+int(n)])
			if err != nil {
				op.t.fail(StageProcess, err)
				continue
			}
			end := readTime(tail)
			op.down(Record[Windowed[K], change[A]]{Key: Windowed[K]{Key: k, Start: readTime(tail[8:]), End: end}, Value: change[A]{v: aggs[i], ok: true}, Timestamp: end})
		}
		if err := op.st.del(key); err != nil {
			op.t.fail(StageProcess, err)
		}
	}
}

// sliding handles sliding windows. The records are kept under
// len|key | ts | seq; the window ending at a record is recomputed from
// them.
func (op *windowOp[K, V, A]) sliding(r Record[K, V]) {
	prev := op.observed
	if r.Timestamp > op.observed {
		op.observed = r.Timestamp
	}
	if prev != noTime && r.Timestamp+op.w.grace < prev {
		op.late(r, "its sliding window closed")
		return
	}
	kb, ok := op.encodeKey(r.Key)
	if !ok {
		return
	}
	prefix := appendKey(nil, kb)
	seq := op.t.seq()
	rk := binary.BigEndian.AppendUint64(appendTime(append([]byte(nil), prefix...), r.Timestamp), seq)
	if err := op.vals.put(rk, r.Value); err != nil {
		op.t.fail(StageProcess, err)
		return
	}
	// Windows ending at this record and at later records it falls into.
	size := op.w.size
	from := appendTime(append([]byte(nil), prefix...), r.Timestamp-size)
	to := appendTime(append([]byte(nil), prefix...), r.Timestamp+size+1)
	type entry struct {
		ts int64
		v  V
	}
	var es []entry
	if err := op.vals.rangeRaw(from, to, func(key []byte, v V) bool {
		es = append(es, entry{readTime(key[len(prefix):]), v})
		return true
	}); err != nil {
		op.t.fail(StageProcess, err)
		return
	}
	closeBefore := op.observed - op.w.grace
	for i, e := range es {
		if e.ts < r.Timestamp || e.ts < closeBefore || (i+1 < len(es) && es[i+1].ts == e.ts) {
			continue // before this record, closed, or not the last record at that time
		}
		var agg A
		have := false
		for _, x := range es {
			if x.ts >= e.ts-size && x.ts <= e.ts {
				agg, have = op.add(r.Key, x.v, agg, have), true
			}
		}
		wk := appendTime(appendTime(append([]byte(nil), prefix...), e.ts), e.ts-size)
		if err := op.st.put(wk, agg); err != nil {
			op.t.fail(StageProcess, err)
			return
		}
		if !op.final {
			op.emit(r.Key, e.ts-size, e.ts, agg, true, r)
		}
	}
	if c := r.Timestamp + op.w.grace + 1; c < op.nextScan {
		op.nextScan = c
	}
	op.closeSliding()
}

// closeSliding emits (EmitFinal) and deletes closed sliding windows, and
// deletes records no open window can contain.
func (op *windowOp[K, V, A]) closeSliding() {
	if op.observed < op.nextScan {
		return
	}
	op.closeKeyFirst(op.w.grace)
	closeBefore := op.observed - op.w.grace
	// Records older than every open window.
	var old [][]byte
	op.vals.rangeRaw(nil, nil, func(key []byte, _ V) bool {
		n, sz := binary.Uvarint(key)
		if readTime(key[sz+int(n):]) < closeBefore-op.w.size {
			old = append(old, append([]byte(nil), key...))
		}
		return true
	})
	for _, k := range old {
		op.vals.del(k)
	}
}
