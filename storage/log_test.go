package storage

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/eddy-streaming/eddy/storage/codec"
	"github.com/eddy-streaming/eddy/storage/vfs"
)

func TestAppendReadRoundTrip(t *testing.T) {
	for _, fsync := range []bool{false, true} {
		t.Run(map[bool]string{false: "nofsync", true: "fsync"}[fsync], func(t *testing.T) {
			fs := vfs.NewMem()
			cfg := testConfig()
			cfg.Fsync = fsync
			cfg.IndexIntervalBytes = 300
			l := openLog(t, fs, cfg, nil)
			defer l.Close()
			rng := rand.New(rand.NewPCG(1, 2))
			var m model
			for i := range 300 {
				b := randomBatch(t, rng, 6, int64(1000+i), 120)
				orig := bytes.Clone(b)
				sb := m.append(t, l, b)
				if i == 0 && sb.base != 0 {
					t.Fatalf("first base offset %d, want 0", sb.base)
				}
				// Only the base offset and leader epoch are patched.
				if !bytes.Equal(orig[batchLogOverhead:batchEpochOff], b[batchLogOverhead:batchEpochOff]) ||
					!bytes.Equal(orig[batchMagicOff:], b[batchMagicOff:]) || !bytes.Equal(orig[batchLengthOff:batchEpochOff], b[batchLengthOff:batchEpochOff]) {
					t.Fatalf("Append changed more than the base offset and leader epoch")
				}
				if batchBaseOffset(b) != sb.base || b[batchEpochOff+3] != 0 {
					t.Fatalf("stored batch has base %d, want %d", batchBaseOffset(b), sb.base)
				}
				if !checkCRC(b) {
					t.Fatal("stored batch fails its CRC")
				}
			}
			if fsync {
				if err := l.Sync(); err != nil {
					t.Fatal(err)
				}
			}
			checkContents(t, l, m.batches)
			checkIndexes(t, fs, l, false)

			// One big read of everything (one segment) is the concatenation.
			data, err := l.Read(0, 1<<30, -1)
			if err != nil {
				t.Fatal(err)
			}
			var all []byte
			for _, b := range m.batches {
				all = append(all, b.bytes...)
			}
			if !bytes.Equal(data, all) {
				t.Fatalf("whole read: %d bytes, want %d", len(data), len(all))
			}
		})
	}
}

func TestReadMaxBytes(t *testing.T) {
	fs := vfs.NewMem()
	l := openLog(t, fs, testConfig(), nil)
	defer l.Close()
	var m model
	sizes := []int{10, 500, 20, 3000, 5, 5, 5}
	for i, n := range sizes {
		m.append(t, l, simpleBatch(t, 2, 100, n, i))
	}
	bs := m.batches
	concat := func(from, to int) []byte {
		var out []byte
		for _, b := range bs[from:to] {
			out = append(out, b.bytes...)
		}
		return out
	}
	cases := []struct {
		off      int64
		maxBytes int
		from, to int // batches expected
	}{
		{0, 0, 0, 1},
		{0, -1, 0, 1},
		{0, 1, 0, 1},
		{0, len(bs[0].bytes), 0, 1},
		{0, len(bs[0].bytes) + len(bs[1].bytes) - 1, 0, 1},
		{0, len(bs[0].bytes) + len(bs[1].bytes), 0, 2},
		{bs[3].base, 10, 3, 4}, // a batch larger than maxBytes still comes whole
		{bs[3].base, len(bs[3].bytes) + len(bs[4].bytes) + 1, 3, 5},
		{bs[3].base + 1, 1, 3, 4}, // from the middle of a batch
		{bs[2].base, len(bs[2].bytes) + 1, 2, 3},
		{bs[2].base, len(bs[2].bytes) + len(bs[3].bytes), 2, 4},
		{0, 1 << 30, 0, len(bs)},
		{bs[len(bs)-1].base, 1 << 30, len(bs) - 1, len(bs)},
	}
	for _, c := range cases {
		got, err := l.Read(c.off, c.maxBytes, -1)
		if err != nil {
			t.Fatalf("Read(%d, %d): %v", c.off, c.maxBytes, err)
		}
		if want := concat(c.from, c.to); !bytes.Equal(got, want) {
			bsGot, _ := SplitBatches(got)
			t.Errorf("Read(%d, %d): got %d bytes (%d batches), want batches [%d,%d) (%d bytes)", c.off, c.maxBytes, len(got), len(bsGot), c.from, c.to, len(want))
		}
	}
}

func TestReadUpTo(t *testing.T) {
	fs := vfs.NewMem()
	l := openLog(t, fs, testConfig(), nil)
	defer l.Close()
	var m model
	for i := range 6 {
		m.append(t, l, simpleBatch(t, 3, 100, 10, i)) // offsets 3i..3i+2
	}
	bs := m.batches
	for _, c := range []struct {
		off, upTo int64
		n         int // batches expected from the one holding off
	}{
		{0, 0, 0},
		{0, 1, 1}, // the batch starting below upTo comes whole
		{0, 3, 1},
		{0, 4, 2},
		{0, 9, 3},
		{4, 9, 2},
		{9, 9, 0},
		{10, 9, 0},
		{0, -1, 6},
		{0, 1000, 6}, // clamped to the high watermark
		{17, -1, 1},
		{18, -1, 0},
	} {
		got, err := l.Read(c.off, 1<<20, c.upTo)
		if err != nil {
			t.Fatalf("Read(%d, upTo %d): %v", c.off, c.upTo, err)
		}
		var want []byte
		if c.n > 0 {
			i := int(c.off / 3)
			for _, b := range bs[i : i+c.n] {
				want = append(want, b.bytes...)
			}
		}
		if !bytes.Equal(got, want) {
			t.Errorf("Read(%d, upTo %d): got %d bytes, want %d batches (%d bytes)", c.off, c.upTo, len(got), c.n, len(want))
		}
	}
}

func TestReadOutOfRange(t *testing.T) {
	fs := vfs.NewMem()
	l := openLog(t, fs, testConfig(), nil)
	defer l.Close()
	// An empty log: offset 0 is the end, anything else is out of range.
	if data, err := l.Read(0, 100, -1); err != nil || len(data) != 0 {
		t.Fatalf("Read(0) on empty log: %d bytes, %v", len(data), err)
	}
	for _, off := range []int64{-1, 1, 100} {
		if _, err := l.Read(off, 100, -1); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("Read(%d) on empty log: %v, want ErrOffsetOutOfRange", off, err)
		}
	}
	var m model
	for i := range 4 {
		m.append(t, l, simpleBatch(t, 5, 100, 10, i))
	}
	if data, err := l.Read(20, 100, -1); err != nil || len(data) != 0 {
		t.Fatalf("Read at log end: %d bytes, %v", len(data), err)
	}
	for _, off := range []int64{-1, 21, 1 << 40} {
		if _, err := l.Read(off, 100, -1); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("Read(%d): %v, want ErrOffsetOutOfRange", off, err)
		}
	}
	if _, err := l.DeleteRecords(7); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, 5, 6} {
		if _, err := l.Read(off, 100, -1); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("Read(%d) below log start 7: %v, want ErrOffsetOutOfRange", off, err)
		}
	}
	data, err := l.Read(7, 1, -1)
	if err != nil || !bytes.Equal(data, m.batches[1].bytes) {
		t.Fatalf("Read(7) after DeleteRecords(7): %d bytes, %v; want the batch at 5", len(data), err)
	}
}

func TestRollBySegmentBytes(t *testing.T) {
	fs := vfs.NewMem()
	cfg := testConfig()
	cfg.SegmentBytes = 2000
	cfg.IndexIntervalBytes = 1 // index every batch
	l := openLog(t, fs, cfg, nil)
	rng := rand.New(rand.NewPCG(3, 4))
	var m model
	for i := range 200 {
		m.append(t, l, randomBatch(t, rng, 4, int64(i*10), 150))
	}
	// One oversized batch gets a segment of its own.
	big := m.append(t, l, simpleBatch(t, 2, 5000, 3000, 999))
	m.append(t, l, simpleBatch(t, 2, 5000, 10, 1000))

	checkSegmentLayout := func(l *Log) {
		t.Helper()
		l.mu.Lock()
		defer l.mu.Unlock()
		if len(l.mu.segs) < 10 {
			t.Fatalf("only %d segments", len(l.mu.segs))
		}
		for i, s := range l.mu.segs {
			if s.size > cfg.SegmentBytes && s.base != big.base {
				t.Errorf("segment %d holds %d bytes > segment.bytes", s.base, s.size)
			}
			if i > 0 && l.mu.segs[i-1].next != s.base {
				t.Errorf("segment %d follows one ending at %d", s.base, l.mu.segs[i-1].next)
			}
			if i < len(l.mu.segs)-1 && s.size+int64(len(m.batches[m.indexOf(s.next)].bytes)) <= cfg.SegmentBytes {
				t.Errorf("segment %d rolled early: %d bytes, next batch would fit", s.base, s.size)
			}
			size, _, err := fs.Stat(s.path + logSuffix)
			if err != nil || size != s.size {
				t.Errorf("segment file %s: size %d, %v; want %d", s.path, size, err, s.size)
			}
			if m.indexOf(s.base) < 0 || m.batches[m.indexOf(s.base)].base != s.base {
				t.Errorf("segment %d does not start at a batch", s.base)
			}
		}
	}
	checkSegmentLayout(l)
	checkContents(t, l, m.batches)
	checkIndexes(t, fs, l, true)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, fs, cfg, nil)
	defer l.Close()
	checkSegmentLayout(l)
	checkContents(t, l, m.batches)
	checkIndexes(t, fs, l, true)

	// Reads are per segment: a huge maxBytes stops at the segment's end.
	l.mu.Lock()
	s1 := l.mu.segs[1]
	l.mu.Unlock()
	data, err := l.Read(s1.base, 1<<30, -1)
	if err != nil || int64(len(data)) != s1.size {
		t.Fatalf("Read of segment %d: %d bytes, %v; want %d", s1.base, len(data), err, s1.size)
	}
}

func TestRollBySegmentMs(t *testing.T) {
	fs := vfs.NewMem()
	cfg := testConfig()
	cfg.SegmentMs = 1000
	clock := &fakeClock{ms: 1_000_000}
	l := openLog(t, fs, cfg, clock)
	var m model
	add := func() { m.append(t, l, simpleBatch(t, 1, clock.Now().UnixMilli(), 10, len(m.batches))) }
	add()
	clock.Add(999)
	add()
	if n := l.NumSegments(); n != 1 {
		t.Fatalf("%d segments before segment.ms elapsed, want 1", n)
	}
	clock.Add(1)
	add()
	if n := l.NumSegments(); n != 2 {
		t.Fatalf("%d segments after segment.ms elapsed, want 2", n)
	}
	// The new segment's age counts from its first batch.
	clock.Add(500)
	add()
	if n := l.NumSegments(); n != 2 {
		t.Fatalf("%d segments, want 2", n)
	}
	// An idle log does not roll by itself, but the next append does.
	clock.Add(10_000)
	if n := l.NumSegments(); n != 2 {
		t.Fatalf("%d segments, want 2", n)
	}
	add()
	if n := l.NumSegments(); n != 3 {
		t.Fatalf("%d segments, want 3", n)
	}
	checkContents(t, l, m.batches)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// After reopening, the active segment's age counts from the reopen.
	l = openLog(t, fs, cfg, clock)
	defer l.Close()
	clock.Add(999)
	add()
	if n := l.NumSegments(); n != 3 {
		t.Fatalf("%d segments after reopen, want 3", n)
	}
	clock.Add(1)
	add()
	if n := l.NumSegments(); n != 4 {
		t.Fatalf("%d segments, want 4", n)
	}
	checkContents(t, l, m.batches)
	checkIndexes(t, fs, l, true)
}

// tsModel answers OffsetForTimestamp from the model: the first record at
// or after logStart whose timestamp is >= ts.
func (m *model) offsetForTimestamp(ts, logStart int64) (int64, int64, bool) {
	for _, b := range m.batches {
		for i, rts := range b.ts {
			if off := b.base + int64(i); off >= logStart && rts >= ts {
				return off, rts, true
			}
		}
	}
	return 0, 0, false
}

func checkOffsetForTimestamp(t *testing.T, l *Log, m *model, targets []int64) {
	t.Helper()
	ls := l.Offsets().LogStart
	for _, ts := range targets {
		off, rts, found, err := l.OffsetForTimestamp(ts)
		if err != nil {
			t.Fatalf("OffsetForTimestamp(%d): %v", ts, err)
		}
		woff, wts, wfound := m.offsetForTimestamp(ts, ls)
		if found != wfound || (found && (off != woff || rts != wts)) {
			t.Fatalf("OffsetForTimestamp(%d) with log start %d = (%d, %d, %v), want (%d, %d, %v)", ts, ls, off, rts, found, woff, wts, wfound)
		}
	}
}

func TestOffsetForTimestamp(t *testing.T) {
	for _, c := range []int8{codec.None, codec.Gzip, codec.Snappy, codec.LZ4, codec.Zstd} {
		t.Run(codec.Name(c), func(t *testing.T) {
			fs := vfs.NewMem()
			cfg := testConfig()
			cfg.SegmentBytes = 1500
			cfg.IndexIntervalBytes = 200
			l := openLog(t, fs, cfg, nil)
			defer l.Close()
			rng := rand.New(rand.NewPCG(5, uint64(c)))
			var m model
			// Timestamps wander up with noise, so they are out of order
			// inside and across batches.
			ts := int64(10_000)
			for range 120 {
				n := 1 + rng.IntN(8)
				recs := make([]testRecord, n)
				for j := range recs {
					recs[j] = testRecord{ts: ts + int64(rng.IntN(40)) - 20, value: fillValue(rng.IntN(1000), rng.IntN(60))}
					ts += int64(rng.IntN(6))
				}
				m.append(t, l, buildBatch(t, batchSpec{records: recs, codec: c, producerID: -1, producerEpoch: -1, firstSequence: -1}))
			}
			if l.NumSegments() < 3 {
				t.Fatalf("only %d segments", l.NumSegments())
			}
			var targets []int64
			for x := int64(9_900); x <= ts+100; x += 3 {
				targets = append(targets, x)
			}
			checkOffsetForTimestamp(t, l, &m, targets)
			if _, _, found, _ := l.OffsetForTimestamp(ts + 1000); found {
				t.Fatal("found a record past the newest timestamp")
			}

			// With the log start inside batches, records below it are skipped.
			for _, i := range []int{10, 25, 40, 55} {
				if b := m.batches[i]; b.last > b.base {
					if _, err := l.DeleteRecords(b.base + 1); err != nil {
						t.Fatal(err)
					}
					checkOffsetForTimestamp(t, l, &m, targets)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openLog(t, fs, cfg, nil)
			checkOffsetForTimestamp(t, l, &m, targets)
		})
	}
}

// TestOffsetForTimestampBelowLogStart: a batch straddling the log start
// whose only records new enough lie below the log start must not answer;
// the search goes on to later batches (Kafka's searchForTimestamp).
func TestOffsetForTimestampBelowLogStart(t *testing.T) {
	fs := vfs.NewMem()
	l := openLog(t, fs, testConfig(), nil)
	defer l.Close()
	var m model
	m.append(t, l, buildBatch(t, batchSpec{records: []testRecord{{ts: 500}, {ts: 100}, {ts: 100}}, producerID: -1}))
	m.append(t, l, buildBatch(t, batchSpec{records: []testRecord{{ts: 200}, {ts: 600}}, producerID: -1}))
	if _, err := l.DeleteRecords(1); err != nil {
		t.Fatal(err)
	}
	checkOffsetForTimestamp(t, l, &m, []int64{0, 100, 150, 400, 500, 550, 600, 601})
}

func TestOffsetForTimestampLogAppendTime(t *testing.T) {
	fs := vfs.NewMem()
	cfg := testConfig()
	cfg.SegmentBytes = 800
	l := openLog(t, fs, cfg, nil)
	defer l.Close()
	var m model
	for i := range 40 {
		c := []int8{codec.None, codec.Zstd}[i%2]
		b := buildBatch(t, batchSpec{records: []testRecord{{ts: 5}, {ts: 1}, {ts: 3}}, codec: c, producerID: -1})
		SetLogAppendTime(b, int64(1000+10*(i/2))) // two batches per append time
		if _, err := ValidateBatch(b, 0); err != nil {
			t.Fatalf("SetLogAppendTime broke the batch: %v", err)
		}
		m.append(t, l, b)
	}
	var targets []int64
	for x := int64(0); x < 1300; x += 5 {
		targets = append(targets, x)
	}
	checkOffsetForTimestamp(t, l, &m, targets)
	off, ts, found := l.MaxTimestamp()
	if !found || ts != 1190 || off != m.batches[39].last {
		t.Fatalf("MaxTimestamp = (%d, %d, %v), want (%d, 1190, true)", off, ts, found, m.batches[39].last)
	}
}

// maxTimestamp answers MaxTimestamp from the model: the largest batch max
// timestamp and the last offset of the last batch that has it.
func (m *model) maxTimestamp(logStart int64) (int64, int64, bool) {
	off, ts, found := int64(0), int64(-1), false
	for _, b := range m.batches {
		if b.last < logStart {
			continue
		}
		if mx := slices.Max(b.ts); mx >= ts {
			off, ts, found = b.last, mx, true
		}
	}
	return off, ts, found
}

func TestMaxTimestamp(t *testing.T) {
	for _, tc := range []struct {
		name string
		ts   func(i int) int64 // max timestamp of batch i
	}{
		{"increasing", func(i int) int64 { return int64(1000 + i) }},
		{"peak-early", func(i int) int64 { return int64(1000 + (i*7919)%97) }},
		{"peak-at-start", func(i int) int64 {
			if i%25 == 0 { // the first batch of some segments holds the max
				return 5000 + int64(i)
			}
			return int64(100 + i)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			cfg := testConfig()
			cfg.SegmentBytes = 25 * 100 // 25 batches per segment
			cfg.IndexIntervalBytes = 1
			l := openLog(t, fs, cfg, nil)
			var m model
			if _, _, found := l.MaxTimestamp(); found {
				t.Fatal("MaxTimestamp found something in an empty log")
			}
			for i := range 100 {
				m.append(t, l, sizedBatch(t, 2, tc.ts(i)-1, 100, i))
			}
			check := func(when string) {
				t.Helper()
				off, ts, found := l.MaxTimestamp()
				woff, wts, wfound := m.maxTimestamp(l.Offsets().LogStart)
				if off != woff || ts != wts || found != wfound {
					t.Fatalf("%s: MaxTimestamp = (%d, %d, %v), want (%d, %d, %v)", when, off, ts, found, woff, wts, wfound)
				}
			}
			check("live")
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openLog(t, fs, cfg, nil)
			defer l.Close()
			check("reopened")
			checkIndexes(t, fs, l, true)
			l.mu.Lock()
			for _, s := range l.mu.segs[:len(l.mu.segs)-1] {
				var want segment
				want.maxTs, want.maxTsOffset = -1, -1
				for _, b := range m.batches {
					if b.base >= s.base && b.base < s.next {
						if mx := slices.Max(b.ts); mx >= want.maxTs {
							want.maxTs, want.maxTsOffset = mx, b.last
						}
					}
				}
				if s.maxTs != want.maxTs || s.maxTsOffset != want.maxTsOffset {
					t.Errorf("segment %d: max timestamp (%d at %d), want (%d at %d)", s.base, s.maxTs, s.maxTsOffset, want.maxTs, want.maxTsOffset)
				}
			}
			l.mu.Unlock()
			if _, err := l.DeleteRecords(30); err != nil {
				t.Fatal(err)
			}
			check("after DeleteRecords")
		})
	}
}

func TestRetentionMs(t *testing.T) {
	fs := vfs.NewMem()
	cfg := testConfig()
	cfg.SegmentBytes = 1000
	cfg.RetentionMs = 10_000
	cfg.Fsync = true
	clock := &fakeClock{ms: 100_000}
	l := openLog(t, fs, cfg, clock)
	defer l.Close()
	var m model
	// Batches stamped 100_000, 100_100, ...: ~9 per segment.
	for i := range 60 {
		m.append(t, l, simpleBatch(t, 1, 100_000+int64(i)*100, 50, i))
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	segBounds := func() [][2]int64 {
		l.mu.Lock()
		defer l.mu.Unlock()
		var out [][2]int64
		for _, s := range l.mu.segs {
			out = append(out, [2]int64{s.base, s.maxTs})
		}
		return out
	}
	before := segBounds()
	if len(before) < 5 {
		t.Fatalf("only %d segments", len(before))
	}
	// The oldest segment's newest record is exactly 10 s old: kept.
	clock.Set(before[0][1] + 10_000)
	if n, err := l.ApplyRetention(); n != 0 || err != nil {
		t.Fatalf("ApplyRetention deleted %d segments (%v), want none", n, err)
	}
	// Now the first two segments' newest records are older than 10 s.
	clock.Set(before[1][1] + 10_001)
	n, err := l.ApplyRetention()
	if n != 2 || err != nil {
		t.Fatalf("ApplyRetention deleted %d segments (%v), want 2", n, err)
	}
	if ls := l.Offsets().LogStart; ls != before[2][0] {
		t.Fatalf("log start %d, want %d", ls, before[2][0])
	}
	for _, b := range before[:2] {
		if _, _, err := fs.Stat(segFile(b[0], logSuffix)); !vfs.IsNotExist(err) {
			t.Fatalf("segment %d still on disk: %v", b[0], err)
		}
		if _, _, err := fs.Stat(segFile(b[0], indexSuffix)); !vfs.IsNotExist(err) {
			t.Fatalf("index of segment %d still on disk: %v", b[0], err)
		}
	}
	if _, err := l.Read(0, 100, -1); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Read(0) after retention: %v", err)
	}
	keep := m.batches[m.indexOf(before[2][0]):]
	checkContents(t, l, keep)

	// Everything expired, the active segment included: it is rolled and
	// deleted, leaving an empty log that continues at the old end.
	end := l.Offsets().LogEnd
	clock.Set(100_000 + 59*100 + 10_001)
	if _, err := l.ApplyRetention(); err != nil {
		t.Fatal(err)
	}
	if offs := l.Offsets(); offs.LogStart != end || offs.LogEnd != end || offs.HighWatermark != end || l.NumSegments() != 1 || l.Size() != 0 {
		t.Fatalf("after expiring everything: %+v, %d segments, %d bytes", offs, l.NumSegments(), l.Size())
	}
	m.batches = nil
	sb := m.append(t, l, simpleBatch(t, 2, clock.Now().UnixMilli(), 10, 1))
	if sb.base != end {
		t.Fatalf("append after full retention at %d, want %d", sb.base, end)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	checkContents(t, l, m.batches)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, fs, cfg, clock)
	checkContents(t, l, m.batches)
}

// An expired active segment with records not yet durable is not rolled
// away: retention never deletes what readers cannot see.
func TestRetentionMsSkipsUnsyncedActive(t *testing.T) {
	mem := vfs.NewMem()
	g := newGateFS(mem)
	cfg := testConfig()
	cfg.RetentionMs = 10
	cfg.Fsync = true
	clock := &fakeClock{ms: 1000}
	l := openLog(t, g, cfg, clock)
	defer func() { g.setOpen(true); l.Close() }()
	var m model
	m.append(t, l, simpleBatch(t, 1, 0, 10, 0))
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	g.setOpen(false)
	m.append(t, l, simpleBatch(t, 1, 0, 10, 1))
	<-g.inSync // the syncer is stuck
	if n, err := l.ApplyRetention(); n != 0 || err != nil {
		t.Fatalf("ApplyRetention deleted %d (%v) with an unsynced active segment", n, err)
	}
	if l.NumSegments() != 1 || l.Offsets().LogStart != 0 {
		t.Fatalf("retention changed the log: %+v, %d segments", l.Offsets(), l.NumSegments())
	}
}

func TestRetentionBytes(t *testing.T) {
	for _, retention := range []int64{0, 1, 999, 1000, 1001, 2500, 3000, 3999, 4000, 100_000} {
		fs := vfs.NewMem()
		cfg := testConfig()
		cfg.SegmentBytes = 1000 // 10 batches of 100 bytes per segment
		cfg.RetentionBytes = retention
		l := openLog(t, fs, cfg, nil)
		var m model
		for i := range 45 { // 4 full segments and an active one of 500 bytes
			m.append(t, l, sizedBatch(t, 1, 1000, 100, i))
		}
		if l.NumSegments() != 5 || l.Size() != 4500 {
			t.Fatalf("%d segments of %d bytes", l.NumSegments(), l.Size())
		}
		// Kafka: delete the oldest non-active segment while the log
		// without it is still at least retention.bytes.
		sizes := []int64{1000, 1000, 1000, 1000, 500}
		total, want := int64(4500), 0
		for want < 4 && total-sizes[want] >= retention {
			total -= sizes[want]
			want++
		}
		n, err := l.ApplyRetention()
		if err != nil || n != want {
			t.Fatalf("retention.bytes %d: deleted %d segments (%v), want %d", retention, n, err, want)
		}
		if l.Size() != total || l.Offsets().LogStart != int64(10*want) {
			t.Fatalf("retention.bytes %d: %d bytes, log start %d; want %d, %d", retention, l.Size(), l.Offsets().LogStart, total, 10*want)
		}
		checkContents(t, l, m.batches[10*want:])
		// A second pass changes nothing.
		if n, err := l.ApplyRetention(); n != 0 || err != nil {
			t.Fatalf("second pass deleted %d (%v)", n, err)
		}
		l.Close()
		l = openLog(t, fs, cfg, nil)
		checkContents(t, l, m.batches[10*want:])
		l.Close()
	}
}

func TestDeleteRecords(t *testing.T) {
	mem := vfs.NewMem()
	cfg := testConfig()
	cfg.SegmentBytes = 1000
	cfg.Fsync = true
	l := openLog(t, mem, cfg, nil)
	var m model
	for i := range 45 {
		m.append(t, l, sizedBatch(t, 2, 1000, 100, i)) // offsets 2i, 2i+1
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if l.NumSegments() != 5 {
		t.Fatalf("%d segments", l.NumSegments())
	}
	if _, err := l.DeleteRecords(l.HighWatermark() + 1); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("DeleteRecords past the high watermark: %v", err)
	}
	if _, err := l.DeleteRecords(-5); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("DeleteRecords(-5): %v", err)
	}
	// Inside segment 1 (offsets 20..39), in the middle of a batch.
	ls, err := l.DeleteRecords(25)
	if err != nil || ls != 25 {
		t.Fatalf("DeleteRecords(25) = %d, %v", ls, err)
	}
	if l.NumSegments() != 4 || l.Offsets().LogStart != 25 {
		t.Fatalf("after DeleteRecords(25): %d segments, %+v", l.NumSegments(), l.Offsets())
	}
	if _, _, err := mem.Stat(segFile(0, logSuffix)); !vfs.IsNotExist(err) {
		t.Fatalf("segment 0 not deleted: %v", err)
	}
	checkContents(t, l, m.batches[12:])
	// Moving it back is a no-op.
	if ls, err := l.DeleteRecords(3); err != nil || ls != 25 {
		t.Fatalf("DeleteRecords(3) = %d, %v; want 25", ls, err)
	}
	check := func(l *Log, start int64) {
		t.Helper()
		if got := l.Offsets().LogStart; got != start {
			t.Fatalf("log start %d, want %d", got, start)
		}
		checkContents(t, l, m.batches[start/2:])
		if _, err := l.Read(start-1, 100, -1); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("Read below log start: %v", err)
		}
	}
	// Persisted across a clean reopen...
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, mem, cfg, nil)
	check(l, 25)
	// ... and across a crash.
	if _, err := l.DeleteRecords(61); err != nil {
		t.Fatal(err)
	}
	mem.Crash()
	l.Close()
	l = openLog(t, mem, cfg, nil)
	check(l, 61)
	// Segment removals are not synced: after the crash they may be back,
	// and the next retention pass removes them again.
	if _, err := l.ApplyRetention(); err != nil {
		t.Fatal(err)
	}
	if l.NumSegments() != 2 {
		t.Fatalf("%d segments, want 2", l.NumSegments())
	}
	check(l, 61)

	// -1 means the high watermark: everything goes, appends continue.
	hw := l.HighWatermark()
	if ls, err := l.DeleteRecords(-1); err != nil || ls != hw {
		t.Fatalf("DeleteRecords(-1) = %d, %v; want %d", ls, err, hw)
	}
	if l.NumSegments() != 1 {
		t.Fatalf("%d segments after deleting everything", l.NumSegments())
	}
	m.batches = nil
	if sb := m.append(t, l, simpleBatch(t, 1, 1, 1, 1)); sb.base != hw {
		t.Fatalf("append at %d, want %d", sb.base, hw)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	checkContents(t, l, m.batches)
	l.Close()
	l = openLog(t, mem, cfg, nil)
	defer l.Close()
	checkContents(t, l, m.batches)
}

// DeleteRecords of everything in the active segment: reopening must not
// resurrect the deleted records nor reuse their offsets.
func TestDeleteRecordsEverythingReopen(t *testing.T) {
	mem := vfs.NewMem()
	cfg := testConfig()
	l := openLog(t, mem, cfg, nil)
	var m model
	for i := range 5 {
		m.append(t, l, simpleBatch(t, 3, 1, 10, i))
	}
	if _, err := l.DeleteRecords(15); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = openLog(t, mem, cfg, nil)
	defer l.Close()
	if offs := l.Offsets(); offs.LogStart != 15 || offs.LogEnd != 15 {
		t.Fatalf("reopened: %+v, want start and end 15", offs)
	}
}

func TestReopen(t *testing.T) {
	mem := vfs.NewMem()
	cfg := testConfig()
	cfg.SegmentBytes = 3000
	cfg.IndexIntervalBytes = 500
	cfg.Fsync = true
	rng := rand.New(rand.NewPCG(7, 8))
	var m model
	for round := range 4 {
		l := openLog(t, mem, cfg, nil)
		checkContents(t, l, m.batches)
		for range 50 {
			m.append(t, l, randomBatch(t, rng, 5, 1000, 100))
		}
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
		checkContents(t, l, m.batches)
		checkIndexes(t, mem, l, true)
		offs := l.Offsets()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		// Closed logs refuse work.
		if _, err := l.Read(0, 1, -1); !errors.Is(err, ErrClosed) {
			t.Fatalf("Read after Close: %v", err)
		}
		b := simpleBatch(t, 1, 1, 1, 1)
		info := mustValidate(t, b)
		if _, err := l.Append(b, &info); !errors.Is(err, ErrClosed) {
			t.Fatalf("Append after Close: %v", err)
		}
		if err := l.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		l = openLog(t, mem, cfg, nil)
		if got := l.Offsets(); got != offs {
			t.Fatalf("round %d: reopened offsets %+v, want %+v", round, got, offs)
		}
		checkContents(t, l, m.batches)
		checkIndexes(t, mem, l, true)
		l.Close()
	}
	// No temporary files are left behind.
	for _, n := range listDir(t, mem) {
		if strings.HasSuffix(n, ".tmp") {
			t.Fatalf("leftover %s", n)
		}
	}
}

func TestHighWatermarkWithoutFsync(t *testing.T) {
	mem := vfs.NewMem()
	g := newGateFS(mem)
	l := openLog(t, g, testConfig(), nil)
	defer l.Close()
	var m model
	for i := range 10 {
		w := l.Watch()
		sb := m.append(t, l, simpleBatch(t, 2, 1, 10, i))
		// Visible at once, without an fsync.
		if hw := l.HighWatermark(); hw != sb.next() {
			t.Fatalf("high watermark %d, want %d", hw, sb.next())
		}
		select {
		case <-w:
		default:
			t.Fatal("Watch channel not closed after the high watermark moved")
		}
		if err := l.WaitDurable(context.Background(), sb.next()); err != nil {
			t.Fatal(err)
		}
	}
	if n := g.Syncs(); n != 0 {
		t.Fatalf("%d fsyncs with fsync off", n)
	}
	checkContents(t, l, m.batches)
}

func TestHighWatermarkWithFsync(t *testing.T) {
	mem := vfs.NewMem()
	g := newGateFS(mem)
	cfg := testConfig()
	cfg.Fsync = true
	l := openLog(t, g, cfg, nil)
	defer func() { g.setOpen(true); l.Close() }()
	var m model
	first := m.append(t, l, simpleBatch(t, 2, 1, 10, 0))
	if err := waitDurable(t, l, first.next()); err != nil {
		t.Fatal(err)
	}
	if hw := l.HighWatermark(); hw != first.next() {
		t.Fatalf("high watermark %d, want %d", hw, first.next())
	}

	g.setOpen(false)
	w := l.Watch()
	second := m.append(t, l, simpleBatch(t, 3, 1, 10, 1))
	<-g.inSync // the syncer is inside fsync, held by the gate
	if hw := l.HighWatermark(); hw != first.next() {
		t.Fatalf("high watermark %d moved before fsync returned, want %d", hw, first.next())
	}
	if offs := l.Offsets(); offs.LogEnd != second.next() {
		t.Fatalf("log end %d, want %d", offs.LogEnd, second.next())
	}
	select {
	case <-w:
		t.Fatal("Watch channel closed before the high watermark moved")
	default:
	}
	// Readers do not see the batch yet, even when asking past it.
	if data, err := l.Read(first.next(), 1<<20, -1); err != nil || len(data) != 0 {
		t.Fatalf("Read of an unsynced batch: %d bytes, %v", len(data), err)
	}
	if data, err := l.Read(0, 1<<20, 1000); err != nil || !bytes.Equal(data, first.bytes) {
		t.Fatalf("Read(0) with upTo past the high watermark: %d bytes, %v", len(data), err)
	}
	if _, _, found, _ := l.OffsetForTimestamp(0); !found {
		t.Fatal("OffsetForTimestamp found nothing")
	}
	if off, _, found := l.MaxTimestamp(); found && off >= first.next() {
		t.Fatalf("MaxTimestamp offset %d sees an unsynced batch", off)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.WaitDurable(ctx, second.next()); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitDurable with a cancelled context: %v", err)
	}
	if err := l.WaitDurable(ctx, first.next()); err != nil {
		t.Fatalf("WaitDurable for a durable offset with a cancelled context: %v", err)
	}
	g.setOpen(true)
	if err := waitDurable(t, l, second.next()); err != nil {
		t.Fatal(err)
	}
	<-w
	if hw := l.HighWatermark(); hw != second.next() {
		t.Fatalf("high watermark %d, want %d", hw, second.next())
	}
	checkContents(t, l, m.batches)

	// Group commit: many appends while one fsync is stuck are covered by
	// the next fsync.
	g.setOpen(false)
	third := m.append(t, l, simpleBatch(t, 1, 1, 10, 2))
	<-g.inSync
	for i := range 20 {
		m.append(t, l, simpleBatch(t, 1, 1, 10, 3+i))
	}
	syncs := g.Syncs()
	g.setOpen(true)
	if err := waitDurable(t, l, m.end()); err != nil {
		t.Fatal(err)
	}
	if n := g.Syncs() - syncs; n > 1 {
		t.Fatalf("%d more fsyncs for 20 appends made during one fsync, want at most 1", n)
	}
	_ = third
	checkContents(t, l, m.batches)
}

// With fsync on, a roll makes the old segment durable and moves the high
// watermark to it.
func TestRollMakesDurable(t *testing.T) {
	mem := vfs.NewMem()
	g := newGateFS(mem)
	cfg := testConfig()
	cfg.Fsync = true
	cfg.SegmentBytes = 400
	l := openLog(t, g, cfg, nil)
	defer func() { g.setOpen(true); l.Close() }()
	var m model
	a := m.append(t, l, simpleBatch(t, 1, 1, 100, 0))
	if err := waitDurable(t, l, a.next()); err != nil {
		t.Fatal(err)
	}
	b := m.append(t, l, simpleBatch(t, 1, 1, 100, 1))
	if err := waitDurable(t, l, b.next()); err != nil {
		t.Fatal(err)
	}
	c := m.append(t, l, simpleBatch(t, 1, 1, 100, 2)) // rolls: synced inline
	if l.NumSegments() != 2 {
		t.Fatalf("%d segments", l.NumSegments())
	}
	if hw := l.HighWatermark(); hw < b.next() {
		t.Fatalf("high watermark %d after roll, want >= %d", hw, b.next())
	}
	if err := waitDurable(t, l, c.next()); err != nil {
		t.Fatal(err)
	}
	crashed := mem.CrashClone()
	l2 := openLog(t, crashed, cfg, nil)
	defer l2.Close()
	checkContents(t, l2, m.batches)
}

func TestFsyncFailureFailsLog(t *testing.T) {
	mem := vfs.NewMem()
	efs := vfs.NewErrorFS(mem, vfs.WithOps(vfs.OpSync))
	cfg := testConfig()
	cfg.Fsync = true
	l := openLog(t, efs, cfg, nil)
	defer l.Close()
	var m model
	a := m.append(t, l, simpleBatch(t, 1, 1, 10, 0))
	if err := waitDurable(t, l, a.next()); err != nil {
		t.Fatal(err)
	}
	w := l.Watch()
	efs.FailAfter(0) // one-shot: the next fsync fails, later ones would succeed
	b := m.append(t, l, simpleBatch(t, 1, 1, 10, 1))
	err := waitDurable(t, l, b.next())
	if !errors.Is(err, ErrFailed) || !errors.Is(err, vfs.ErrInjected) {
		t.Fatalf("WaitDurable after failed fsync: %v, want ErrFailed wrapping the injected error", err)
	}
	<-w // failing wakes watchers
	if err := l.Err(); !errors.Is(err, ErrFailed) {
		t.Fatalf("Err() = %v", err)
	}
	if hw := l.HighWatermark(); hw != a.next() {
		t.Fatalf("high watermark %d moved past the failed fsync", hw)
	}
	// Even though the disk would now succeed, the log refuses writes.
	c := simpleBatch(t, 1, 1, 10, 2)
	info := mustValidate(t, c)
	if _, err := l.Append(c, &info); !errors.Is(err, ErrFailed) {
		t.Fatalf("Append after failed fsync: %v, want ErrFailed", err)
	}
	if err := l.Sync(); !errors.Is(err, ErrFailed) {
		t.Fatalf("Sync after failed fsync: %v", err)
	}
	// Acknowledged data is still readable.
	data, err := l.Read(0, 1<<20, -1)
	if err != nil || !bytes.Equal(data, a.bytes) {
		t.Fatalf("Read after failure: %d bytes, %v", len(data), err)
	}
}

func TestRollFsyncFailureFailsLog(t *testing.T) {
	mem := vfs.NewMem()
	efs := vfs.NewErrorFS(mem, vfs.WithOps(vfs.OpSync))
	cfg := testConfig()
	cfg.SegmentBytes = 150
	l := openLog(t, efs, cfg, nil) // fsync off: only rolls fsync
	defer l.Close()
	var m model
	m.append(t, l, simpleBatch(t, 1, 1, 100, 0))
	efs.FailAfter(0)
	b := simpleBatch(t, 1, 1, 100, 1)
	info := mustValidate(t, b)
	if _, err := l.Append(b, &info); !errors.Is(err, ErrFailed) {
		t.Fatalf("Append whose roll failed to fsync: %v", err)
	}
	if _, err := l.Append(b, &info); !errors.Is(err, ErrFailed) {
		t.Fatalf("Append after a failed roll: %v", err)
	}
	if l.NumSegments() != 1 {
		t.Fatalf("%d segments", l.NumSegments())
	}
}

// A failed write that leaves part of the batch in the file is undone, and
// the log goes on at the same offset.
func TestPartialWriteUndone(t *testing.T) {
	mem := vfs.NewMem()
	efs := vfs.NewErrorFS(mem, vfs.WithOps(vfs.OpWrite), vfs.WithPartialWrites(nil))
	cfg := testConfig()
	l := openLog(t, efs, cfg, nil)
	defer l.Close()
	var m model
	m.append(t, l, simpleBatch(t, 2, 1, 50, 0))
	efs.FailAfter(0)
	b := simpleBatch(t, 2, 1, 50, 1)
	info := mustValidate(t, b)
	if _, err := l.Append(b, &info); err == nil {
		t.Fatal("Append succeeded through a failed write")
	}
	if err := l.Err(); err != nil {
		t.Fatalf("a failed but undone write failed the log: %v", err)
	}
	m.append(t, l, simpleBatch(t, 2, 1, 50, 2))
	checkContents(t, l, m.batches)
	if size, _, _ := mem.Stat(segFile(0, logSuffix)); size != l.Size() {
		t.Fatalf("file holds %d bytes, log %d", size, l.Size())
	}
}

// Concurrent appends, reads, timestamp lookups and retention, for the race
// detector.
func TestConcurrentUse(t *testing.T) {
	mem := vfs.NewMem()
	cfg := testConfig()
	cfg.Fsync = true
	cfg.SegmentBytes = 2000
	cfg.IndexIntervalBytes = 100
	cfg.RetentionBytes = 20_000
	l := openLog(t, mem, cfg, nil)
	defer l.Close()
	done := make(chan struct{})
	errc := make(chan error, 4)
	go func() {
		defer close(done)
		for i := range 400 {
			b := simpleBatch(t, 2, int64(i), 40, i)
			info, _ := ValidateBatch(b, 0)
			base, err := l.Append(b, &info)
			if err != nil {
				errc <- err
				return
			}
			if i%10 == 0 {
				if err := l.WaitDurable(context.Background(), base+2); err != nil {
					errc <- err
					return
				}
			}
		}
	}()
	for range 2 {
		go func() {
			for {
				select {
				case <-done:
					errc <- nil
					return
				default:
				}
				offs := l.Offsets()
				if _, err := l.Read(offs.LogStart, 500, -1); err != nil && !errors.Is(err, ErrOffsetOutOfRange) {
					errc <- err
					return
				}
				if _, _, _, err := l.OffsetForTimestamp(offs.HighWatermark / 2); err != nil {
					errc <- err
					return
				}
				l.MaxTimestamp()
				if _, err := l.ApplyRetention(); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	<-done
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
}

// Sync makes what was appended durable even with fsync off (where the
// high watermark does not wait for it).
func TestSyncWithoutFsyncIsDurable(t *testing.T) {
	mem := vfs.NewMem()
	l := openLog(t, mem, testConfig(), nil)
	defer l.Close()
	var m model
	for i := range 5 {
		m.append(t, l, simpleBatch(t, 2, 1, 10, i))
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	l2 := openLog(t, mem.CrashClone(), testConfig(), nil)
	defer l2.Close()
	checkContents(t, l2, m.batches)
}

// Turning fsync on makes the high watermark wait for fsync from then on.
func TestSetConfigFsync(t *testing.T) {
	mem := vfs.NewMem()
	g := newGateFS(mem)
	l := openLog(t, g, testConfig(), nil)
	defer func() { g.setOpen(true); l.Close() }()
	var m model
	a := m.append(t, l, simpleBatch(t, 1, 1, 10, 0))
	if l.HighWatermark() != a.next() {
		t.Fatal("fsync off: high watermark did not move")
	}
	cfg := testConfig()
	cfg.Fsync = true
	l.SetConfig(cfg)
	if err := waitDurable(t, l, a.next()); err != nil {
		t.Fatal(err)
	}
	g.setOpen(false)
	b := m.append(t, l, simpleBatch(t, 1, 1, 10, 1))
	<-g.inSync
	if hw := l.HighWatermark(); hw != a.next() {
		t.Fatalf("fsync on: high watermark %d moved before fsync", hw)
	}
	g.setOpen(true)
	if err := waitDurable(t, l, b.next()); err != nil {
		t.Fatal(err)
	}
	// And off again: visible at once.
	l.SetConfig(testConfig())
	c := m.append(t, l, simpleBatch(t, 1, 1, 10, 2))
	if l.HighWatermark() != c.next() {
		t.Fatal("fsync off again: high watermark did not move")
	}
	checkContents(t, l, m.batches)
}
