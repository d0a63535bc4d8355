package storage

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/eddy-streaming/eddy/storage/codec"
	"github.com/eddy-streaming/eddy/storage/vfs"
)

// compactModel is what a log holds, record by record: offset -> key/value
// (nil value: tombstone) with its timestamp.
type compactRec struct {
	off   int64
	ts    int64
	key   string
	value []byte // nil: tombstone
}

// readRecords decodes every visible record of the log from offset 0.
func readRecords(t *testing.T, l *Log) []compactRec {
	t.Helper()
	var out []compactRec
	for _, b := range readAll(t, l, 0, 1<<20) {
		recs, n, err := codec.BatchRecords(b, 64<<20)
		if err != nil {
			t.Fatal(err)
		}
		base, first := batchBaseOffset(b), batchFirstTimestamp(b)
		if !checkCRC(b) {
			t.Fatalf("batch at %d has a bad CRC", base)
		}
		if err := codec.ReadRecords(recs, n, func(r *codec.Record) error {
			var v []byte
			if r.Value != nil {
				v = append([]byte{}, r.Value...)
			}
			out = append(out, compactRec{off: base + int64(r.OffsetDelta), ts: first + r.TimestampDelta, key: string(r.Key), value: v})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestCompaction writes many updates per key and tombstones, across many
// segments and all codecs, then compacts: a fresh reader must see the
// latest value of every live key at its original offset, no deleted key
// once delete.retention.ms has passed, offsets only ever increasing, and
// the active segment untouched.
func TestCompaction(t *testing.T) {
	for _, cd := range []int8{codec.None, codec.Gzip, codec.Snappy, codec.LZ4, codec.Zstd} {
		t.Run(codec.Name(cd), func(t *testing.T) { testCompaction(t, cd) })
	}
}

func testCompaction(t *testing.T, cd int8) {
	fs := vfs.NewMem()
	clock := &fakeClock{ms: 1_000_000}
	cfg := testConfig()
	cfg.SegmentBytes = 8 << 10
	l := openLog(t, fs, cfg, clock)
	defer func() { l.Close() }()

	rng := rand.New(rand.NewPCG(uint64(cd), 7))
	const keys = 50
	var all []compactRec
	var off int64
	for b := 0; b < 300; b++ {
		n := 1 + rng.IntN(8)
		var recs []testRecord
		for i := 0; i < n; i++ {
			k := fmt.Sprintf("key-%02d", rng.IntN(keys))
			var v []byte
			if rng.IntN(6) != 0 {
				v = fmt.Appendf(nil, "%s=v%d-%x", k, off+int64(i), rng.Uint64())
			}
			ts := clock.Now().UnixMilli()
			recs = append(recs, testRecord{ts: ts, key: []byte(k), value: v})
			all = append(all, compactRec{off: off + int64(i), ts: ts, key: k, value: v})
		}
		batch := buildBatch(t, batchSpec{records: recs, codec: cd, producerID: -1, producerEpoch: -1, firstSequence: -1})
		info := mustValidate(t, batch)
		base, err := l.Append(batch, &info)
		if err != nil {
			t.Fatal(err)
		}
		if base != off {
			t.Fatalf("base %d, want %d", base, off)
		}
		off += int64(n)
		clock.Add(10)
	}
	if l.NumSegments() < 5 {
		t.Fatalf("only %d segments; the test needs many", l.NumSegments())
	}
	before := readRecords(t, l)
	active := l.mu.segs[len(l.mu.segs)-1].base

	// Latest record per key among the cleanable (non-active) segments, and
	// overall.
	latest := map[string]compactRec{}
	for _, r := range all {
		latest[r.key] = r
	}

	check := func(tombstonesGone bool) {
		t.Helper()
		got := readRecords(t, l)
		last := int64(-1)
		seen := map[int64]bool{}
		for _, r := range got {
			if r.off <= last {
				t.Fatalf("offset %d after %d", r.off, last)
			}
			last = r.off
			seen[r.off] = true
			orig := all[r.off]
			if orig.key != r.key || !bytes.Equal(orig.value, r.value) || orig.ts != r.ts {
				t.Fatalf("offset %d holds %s=%q@%d, written as %s=%q@%d", r.off, r.key, r.value, r.ts, orig.key, orig.value, orig.ts)
			}
			if r.off < active && latest[r.key].off != r.off && laterInCleanable(all, r, active) {
				t.Fatalf("offset %d (%s) survived although key %s was written again before the active segment", r.off, r.key, r.key)
			}
			if tombstonesGone && r.value == nil && r.off < active {
				t.Fatalf("tombstone for %s at %d survived delete.retention.ms", r.key, r.off)
			}
		}
		for k, r := range latest {
			if r.value != nil && !seen[r.off] {
				t.Fatalf("latest value of live key %s (offset %d) is gone", k, r.off)
			}
			if r.value == nil && !tombstonesGone && !seen[r.off] {
				t.Fatalf("tombstone of %s at %d removed before delete.retention.ms", k, r.off)
			}
		}
		// Everything in the active segment is untouched.
		for _, r := range all {
			if r.off >= active && !seen[r.off] {
				t.Fatalf("record %d of the active segment is gone", r.off)
			}
		}
	}

	ccfg := CompactionConfig{DeleteRetentionMs: 60_000}
	st, err := l.Compact(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.RecordsGone == 0 || st.Segments == 0 {
		t.Fatalf("compaction removed nothing: %+v", st)
	}
	check(false)
	after := readRecords(t, l)
	if len(after) >= len(before) {
		t.Fatalf("%d records before, %d after", len(before), len(after))
	}

	// Reopen: the cleaned log recovers identically.
	l.Close()
	l = openLog(t, fs, cfg, clock)
	check(false)

	// After delete.retention.ms, tombstones go too.
	clock.Add(120_000)
	if _, err := l.Compact(ccfg); err != nil {
		t.Fatal(err)
	}
	check(true)
	t.Logf("%s: %d records written, %d after compaction, %d after tombstone expiry (%d segments)", codec.Name(cd), len(before), len(after), len(readRecords(t, l)), l.NumSegments())

	// Appends continue at the right offset.
	batch := simpleBatch(t, 3, clock.Now().UnixMilli(), 10, 1)
	info := mustValidate(t, batch)
	if base, err := l.Append(batch, &info); err != nil || base != off {
		t.Fatalf("append after compaction: base %d err %v, want %d", base, err, off)
	}
}

// laterInCleanable reports whether r's key is written again at a higher
// offset below the active segment.
func laterInCleanable(all []compactRec, r compactRec, active int64) bool {
	for _, o := range all[r.off+1 : active] {
		if o.key == r.key {
			return true
		}
	}
	return false
}

// TestCompactionBoundedKeys checks that a key map smaller than the number
// of keys still makes progress over the leading segments and never drops a
// latest value.
func TestCompactionBoundedKeys(t *testing.T) {
	fs := vfs.NewMem()
	clock := &fakeClock{ms: 1_000_000}
	cfg := testConfig()
	cfg.SegmentBytes = 4 << 10
	l := openLog(t, fs, cfg, clock)
	defer l.Close()
	latest := map[string]int64{}
	var off int64
	for b := 0; b < 200; b++ {
		var recs []testRecord
		for i := 0; i < 4; i++ {
			k := fmt.Sprintf("k%d", (b*4+i)%300)
			recs = append(recs, testRecord{ts: clock.Now().UnixMilli(), key: []byte(k), value: []byte("v")})
			latest[k] = off + int64(i)
		}
		batch := buildBatch(t, batchSpec{records: recs, producerID: -1, producerEpoch: -1, firstSequence: -1})
		info := mustValidate(t, batch)
		if _, err := l.Append(batch, &info); err != nil {
			t.Fatal(err)
		}
		off += 4
	}
	for pass := 0; pass < 10; pass++ {
		if _, err := l.Compact(CompactionConfig{MaxKeys: 64}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[int64]bool{}
	for _, r := range readRecords(t, l) {
		seen[r.off] = true
	}
	for k, o := range latest {
		if !seen[o] {
			t.Fatalf("latest record of %s at %d is gone", k, o)
		}
	}
}

// TestCompactionCrash crashes in the middle of compaction at every file
// operation and checks the log reopens with the same records, old or
// cleaned, and never loses a latest value.
func TestCompactionCrash(t *testing.T) {
	build := func() (*vfs.MemFS, []compactRec) {
		fs := vfs.NewMem()
		clock := &fakeClock{ms: 1_000_000}
		cfg := testConfig()
		cfg.SegmentBytes = 2 << 10
		cfg.Fsync = true
		l := openLog(t, fs, cfg, clock)
		var all []compactRec
		var off int64
		for b := 0; b < 40; b++ {
			k := fmt.Sprintf("k%d", b%5)
			v := fmt.Appendf(nil, "v%d-%s", b, bytes.Repeat([]byte("x"), 100))
			batch := buildBatch(t, batchSpec{records: []testRecord{{ts: clock.Now().UnixMilli(), key: []byte(k), value: v}}, producerID: -1, producerEpoch: -1, firstSequence: -1})
			info := mustValidate(t, batch)
			if _, err := l.Append(batch, &info); err != nil {
				t.Fatal(err)
			}
			all = append(all, compactRec{off: off, key: k, value: v})
			off++
		}
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
		l.Close()
		return fs, all
	}
	base, all := build()
	// Count the compaction's file operations.
	efs := vfs.NewErrorFS(base.CrashClone())
	cfg := testConfig()
	cfg.SegmentBytes = 2 << 10
	cfg.Fsync = true
	l := openLog(t, efs, cfg, &fakeClock{ms: 2_000_000})
	start := efs.Ops()
	if _, err := l.Compact(CompactionConfig{}); err != nil {
		t.Fatal(err)
	}
	ops := efs.Ops() - start
	l.Close()
	if ops == 0 {
		t.Fatal("compaction did no file operations")
	}
	latest := map[string]int64{}
	for _, r := range all {
		latest[r.key] = r.off
	}
	for i := 0; i < ops; i++ {
		mem := base.CrashClone()
		efs := vfs.NewErrorFS(mem)
		l := openLog(t, efs, cfg, &fakeClock{ms: 2_000_000})
		efs.FailAfter(i)
		l.Compact(CompactionConfig{}) // may fail
		efs.Disarm()
		crashed := mem.CrashClone()
		l2 := openLog(t, crashed, cfg, &fakeClock{ms: 2_000_000})
		seen := map[int64]bool{}
		for _, r := range readRecords(t, l2) {
			orig := all[r.off]
			if orig.key != r.key || !bytes.Equal(orig.value, r.value) {
				t.Fatalf("op %d: offset %d holds %s=%q", i, r.off, r.key, r.value)
			}
			seen[r.off] = true
		}
		for k, o := range latest {
			if !seen[o] {
				t.Fatalf("op %d: latest record of %s at %d lost", i, k, o)
			}
		}
		l2.Close()
		l.Close()
	}
}
