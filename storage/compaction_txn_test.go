package storage

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/eddy-streaming/eddy/storage/codec"
	"github.com/eddy-streaming/eddy/storage/vfs"
)

// txnRec is one record of a transaction-aware compaction test, as written.
type txnRec struct {
	off   int64
	pid   int64 // -1: not transactional
	key   string
	value string
}

// txnWorkload writes plain records and transactions of several producers,
// interleaved, some committed and some aborted, to a log with small
// segments, and remembers what it wrote.
type txnWorkload struct {
	t        *testing.T
	l        *Log
	clock    *fakeClock
	recs     map[int64]txnRec // by offset
	seq      map[int64]int32  // next sequence per producer
	open     map[int64][]int64
	aborted  map[int64]bool  // offsets of aborted records
	markerOf map[int64]int64 // record offset -> the offset of its transaction's marker
	next     int64
}

func newTxnWorkload(t *testing.T, l *Log, clock *fakeClock) *txnWorkload {
	return &txnWorkload{t: t, l: l, clock: clock, recs: map[int64]txnRec{}, seq: map[int64]int32{},
		open: map[int64][]int64{}, aborted: map[int64]bool{}, markerOf: map[int64]int64{}}
}

// write appends one batch of n records with the given keys; pid -1 writes
// an ordinary batch, otherwise a transactional one of that producer.
func (w *txnWorkload) write(pid int64, keys ...string) {
	w.t.Helper()
	var recs []testRecord
	for i, k := range keys {
		v := fmt.Sprintf("%s@%d", k, w.next+int64(i))
		recs = append(recs, testRecord{ts: w.clock.Now().UnixMilli(), key: []byte(k), value: []byte(v)})
	}
	spec := batchSpec{records: recs, codec: codec.Snappy, producerID: -1, producerEpoch: -1, firstSequence: -1}
	if pid >= 0 {
		spec.producerID, spec.producerEpoch, spec.firstSequence, spec.attrs = pid, 0, w.seq[pid], AttrTransactional
		w.seq[pid] += int32(len(keys))
	}
	b := buildBatch(w.t, spec)
	info := mustValidate(w.t, b)
	base, err := w.l.Append(b, &info)
	if err != nil || base != w.next {
		w.t.Fatalf("append: base %d err %v, want %d", base, err, w.next)
	}
	for i, k := range keys {
		off := base + int64(i)
		w.recs[off] = txnRec{off: off, pid: pid, key: k, value: fmt.Sprintf("%s@%d", k, off)}
		if pid >= 0 {
			w.open[pid] = append(w.open[pid], off)
		}
	}
	w.next += int64(len(keys))
	w.clock.Add(1)
}

// end commits or aborts pid's open transaction.
func (w *txnWorkload) end(pid int64, commit bool) {
	w.t.Helper()
	off, err := w.l.AppendMarker(pid, 0, commit, 0)
	if err != nil || off != w.next {
		w.t.Fatalf("marker: offset %d err %v, want %d", off, err, w.next)
	}
	for _, o := range w.open[pid] {
		w.markerOf[o] = off
		if !commit {
			w.aborted[o] = true
		}
	}
	delete(w.open, pid)
	w.next++
	w.clock.Add(1)
}

// committed is the latest committed (or ordinary) record of every key
// below end, by offset: what a read_committed reader or a replay of the
// log must find once every transaction below end has ended.
func (w *txnWorkload) committed(end int64) map[string]txnRec {
	openOff := map[int64]bool{}
	for _, offs := range w.open {
		for _, o := range offs {
			openOff[o] = true
		}
	}
	out := map[string]txnRec{}
	for off := int64(0); off < end; off++ {
		r, ok := w.recs[off]
		if !ok || w.aborted[off] || openOff[off] {
			continue
		}
		out[r.key] = r
	}
	return out
}

// storedBatchInfo is one batch as the log returns it.
type storedRec struct {
	off     int64
	pid     int64
	txn     bool
	control bool
	commit  bool
	key     string
	value   string
}

// readStored decodes every batch of the log with its producer fields.
func readStored(t *testing.T, l *Log) []storedRec {
	t.Helper()
	var out []storedRec
	for _, b := range readAll(t, l, 0, 1<<20) {
		if !checkCRC(b) {
			t.Fatalf("batch at %d has a bad CRC", batchBaseOffset(b))
		}
		h, err := parseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		if h.attributes&AttrControl != 0 {
			m, err := parseMarker(b)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, storedRec{off: h.baseOffset, pid: h.producerID, txn: true, control: true, commit: m.commit})
			continue
		}
		recs, n, err := codec.BatchRecords(b, 64<<20)
		if err != nil {
			t.Fatal(err)
		}
		if err := codec.ReadRecords(recs, n, func(r *codec.Record) error {
			out = append(out, storedRec{off: h.baseOffset + int64(r.OffsetDelta), pid: h.producerID, txn: h.attributes&AttrTransactional != 0,
				key: string(r.Key), value: string(r.Value)})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// replayCommitted replays a log as the group and transaction coordinators
// do at start: ordinary records apply at once, a transaction's records
// when its commit marker is read (the higher offset wins per key), and
// never if it aborts or is still open.
func replayCommitted(stored []storedRec) map[string]storedRec {
	out := map[string]storedRec{}
	apply := func(r storedRec) {
		if cur, ok := out[r.key]; !ok || cur.off < r.off {
			out[r.key] = r
		}
	}
	pending := map[int64][]storedRec{}
	for _, r := range stored {
		switch {
		case r.control:
			if r.commit {
				for _, p := range pending[r.pid] {
					apply(p)
				}
			}
			delete(pending, r.pid)
		case r.txn:
			pending[r.pid] = append(pending[r.pid], r)
		default:
			apply(r)
		}
	}
	return out
}

// readCommittedView is what a read_committed consumer of the log sees up
// to the last stable offset: every record but those the aborted
// transactions list covers, latest per key.
func readCommittedView(l *Log, stored []storedRec) map[string]storedRec {
	lso := l.Offsets().LastStable
	aborted := newAbortedSet(l.AbortedTransactions(0, lso))
	out := map[string]storedRec{}
	for _, r := range stored {
		if r.off >= lso || r.control {
			continue
		}
		if r.txn && aborted.contains(&header{baseOffset: r.off, producerID: r.pid, attributes: AttrTransactional}) {
			continue
		}
		out[r.key] = r
	}
	return out
}

// checkTxnCompaction checks a compacted log against what was written: no
// record changed; the latest committed record of every key below end is
// there and wins in a replay and for a read_committed reader; no record
// of an aborted transaction is left in the cleaned segments; nothing at or
// after the last stable offset was touched; the marker of every
// transaction with a record left is there.
func checkTxnCompaction(t *testing.T, w *txnWorkload, l *Log, cleanedEnd int64) {
	t.Helper()
	stored := readStored(t, l)
	seen := map[int64]bool{}
	last := int64(-1)
	for _, r := range stored {
		if r.off <= last {
			t.Fatalf("offset %d after %d", r.off, last)
		}
		last = r.off
		seen[r.off] = true
		if r.control {
			continue
		}
		orig, ok := w.recs[r.off]
		if !ok || orig.key != r.key || orig.value != r.value || orig.pid != r.pid {
			t.Fatalf("offset %d holds %s=%s (producer %d), written as %+v", r.off, r.key, r.value, r.pid, orig)
		}
		if w.aborted[r.off] && r.off < cleanedEnd {
			t.Fatalf("record %d of an aborted transaction survived compaction", r.off)
		}
	}
	lso := l.Offsets().LastStable
	for off := lso; off < w.next; off++ {
		if _, ok := w.recs[off]; ok && !seen[off] {
			t.Fatalf("record %d at or after the last stable offset %d was removed", off, lso)
		}
	}
	// Every ended transaction with a record left keeps its marker.
	for _, r := range stored {
		if m, ok := w.markerOf[r.off]; ok && !r.control && !seen[m] {
			t.Fatalf("marker %d removed while record %d of its transaction is kept", m, r.off)
		}
	}
	for k, r := range w.committed(w.next) {
		if got, ok := replayCommitted(stored)[k]; !ok || got.off != r.off || got.value != r.value {
			t.Fatalf("replay: key %s is %+v, want the committed %+v", k, got, r)
		}
	}
	for k, r := range w.committed(lso) {
		if got, ok := readCommittedView(l, stored)[k]; !ok || got.off != r.off || got.value != r.value {
			t.Fatalf("read_committed: key %s is %+v, want the committed %+v", k, got, r)
		}
	}
}

// TestCompactionTransactions is Kafka's transactional cleaning on a small
// log: an aborted write must not shadow the committed value of its key
// (as an aborted TxnOffsetCommit must not erase a group's offset), the
// cleaner stops at an open transaction, committed transactional records
// are compacted like ordinary ones, and markers stay while their
// transaction has records.
func TestCompactionTransactions(t *testing.T) {
	fs := vfs.NewMem()
	clock := &fakeClock{ms: 1_000_000}
	cfg := testConfig()
	cfg.SegmentBytes = 400
	cfg.Fsync = true
	l := openLog(t, fs, cfg, clock)
	defer func() { l.Close() }()
	w := newTxnWorkload(t, l, clock)

	w.write(-1, "g1")      // 0: committed offset, ordinary commit
	w.write(1, "g1", "g2") // 1-2: transaction of producer 1
	w.end(1, true)         // 3: commit
	w.write(2, "g1")       // 4: transaction of producer 2 ...
	w.end(2, false)        // 5: ... aborted: must not shadow offset 1
	w.write(3, "g2")       // 6: transaction of producer 3, open
	for i := 0; i < 10; i++ {
		w.write(-1, fmt.Sprintf("other-%d", i%3))
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if l.NumSegments() < 4 {
		t.Fatalf("only %d segments", l.NumSegments())
	}
	ccfg := CompactionConfig{DeleteRetentionMs: 1000}
	st, err := l.Compact(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.AbortedGone != 1 {
		t.Fatalf("compaction removed %d aborted records, want 1: %+v", st.AbortedGone, st)
	}
	checkTxnCompaction(t, w, l, 6)
	if got := l.Offsets().LastStable; got != 6 {
		t.Fatalf("last stable offset %d, want 6", got)
	}

	// Producer 3 aborts; the cleaner may now go past offset 6.
	w.end(3, false)
	for i := 0; i < 10; i++ {
		w.write(-1, fmt.Sprintf("other-%d", i%3))
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	clock.Add(5000) // markers with no record left may go
	st, err = l.Compact(CompactionConfig{DeleteRetentionMs: 1000, MinCleanableRatio: 0})
	if err != nil {
		t.Fatal(err)
	}
	checkTxnCompaction(t, w, l, w.next-10)
	stored := readStored(t, l)
	for _, r := range stored {
		if r.off == 6 {
			t.Fatal("the aborted record at 6 survived")
		}
	}
	t.Logf("second pass: %+v", st)

	// A restart rebuilds the same view, and the last stable offset is not
	// held back by a transaction whose marker was cleaned away.
	for _, mode := range []string{"reopen", "crash"} {
		var l2 *Log
		if mode == "crash" {
			l2 = openLog(t, fs.CrashClone(), cfg, clock)
		} else {
			l.Close()
			l = openLog(t, fs, cfg, clock)
			l2 = l
			w.l = l
		}
		checkTxnCompaction(t, w, l2, w.next-10)
		if got, want := l2.Offsets().LastStable, l2.Offsets().HighWatermark; got != want {
			t.Fatalf("%s: last stable offset %d, want the high watermark %d", mode, got, want)
		}
		if mode == "crash" {
			l2.Close()
		}
	}
}

// TestCompactionTransactionsRandom runs random interleavings of ordinary
// writes and transactions (committed, aborted, left open) through repeated
// compaction passes, restarts and crashes, checking after each that
// replaying the log and reading it read_committed both give the latest
// committed value of every key, that nothing changed, and that nothing at
// or after the last stable offset was cleaned.
func TestCompactionTransactionsRandom(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			fs := vfs.NewMem()
			clock := &fakeClock{ms: 1_000_000}
			cfg := testConfig()
			cfg.SegmentBytes = 600
			cfg.Fsync = true
			l := openLog(t, fs, cfg, clock)
			defer func() { l.Close() }()
			w := newTxnWorkload(t, l, clock)
			keys := func() []string {
				n := 1 + rng.IntN(3)
				out := make([]string, n)
				for i := range out {
					out[i] = fmt.Sprintf("k%d", rng.IntN(6))
				}
				return out
			}
			for round := 0; round < 6; round++ {
				for op := 0; op < 60; op++ {
					pid := int64(1 + rng.IntN(4))
					switch r := rng.IntN(10); {
					case r < 3:
						w.write(-1, keys()...)
					case r < 7:
						w.write(pid, keys()...)
					default:
						if len(w.open[pid]) > 0 {
							w.end(pid, rng.IntN(2) == 0)
						}
					}
				}
				if err := l.Sync(); err != nil {
					t.Fatal(err)
				}
				clock.Add(int64(rng.IntN(3000)))
				if _, err := l.Compact(CompactionConfig{DeleteRetentionMs: 1000, MaxKeys: 2 + rng.IntN(8)}); err != nil {
					t.Fatal(err)
				}
				checkTxnCompaction(t, w, l, 0)
				switch rng.IntN(3) {
				case 0:
					l.Close()
					l = openLog(t, fs, cfg, clock)
				case 1:
					crashed := fs.CrashClone()
					l.Close()
					fs = crashed
					l = openLog(t, fs, cfg, clock)
				}
				w.l = l
				checkTxnCompaction(t, w, l, 0)
			}
			// End every transaction: the log settles to the committed view.
			for pid := range w.open {
				w.end(pid, rng.IntN(2) == 0)
			}
			w.write(-1, "filler")
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Compact(CompactionConfig{DeleteRetentionMs: 1000}); err != nil {
				t.Fatal(err)
			}
			checkTxnCompaction(t, w, l, 0)
			if got, want := l.Offsets().LastStable, l.Offsets().HighWatermark; got != want {
				t.Fatalf("last stable offset %d, want %d", got, want)
			}
		})
	}
}

// TestCompactionMarkerAtSnapshot: a marker with no record of its
// transaction left stays while a producer snapshot at or below it may be
// replayed from (the replay must see the transaction end), and keeping it
// does not make every later pass due.
func TestCompactionMarkerAtSnapshot(t *testing.T) {
	fs := vfs.NewMem()
	clock := &fakeClock{ms: 1_000_000}
	cfg := testConfig()
	cfg.SegmentBytes = 1 // every batch in a segment of its own, a snapshot at every roll
	cfg.Fsync = true
	l := openLog(t, fs, cfg, clock)
	defer l.Close()
	w := newTxnWorkload(t, l, clock)
	w.write(1, "a")  // 0: transaction of producer 1
	w.write(-1, "a") // 1: supersedes it
	w.end(1, true)   // 2: its commit marker; snapshots at 2 and 3 remain
	w.write(-1, "b") // 3: the active segment
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	clock.Add(10_000)
	ccfg := CompactionConfig{DeleteRetentionMs: 1000, MinCleanableRatio: 0.5}
	st, err := l.Compact(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.MarkersGone != 0 || st.RecordsGone != 1 {
		t.Fatalf("first pass: %+v; want the superseded record gone and the marker kept", st)
	}
	found := false
	for _, r := range readStored(t, l) {
		found = found || (r.control && r.off == 2)
	}
	if !found {
		t.Fatal("the marker above the oldest snapshot was removed")
	}
	checkTxnCompaction(t, w, l, 0)
	if st, err := l.Compact(ccfg); err != nil || st.Segments != 0 {
		t.Fatalf("a pass over a clean log rewrote %d segments (%v): the kept marker made it due", st.Segments, err)
	}
}
