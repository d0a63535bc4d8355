package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/eddy-streaming/eddy/storage/codec"
	"github.com/eddy-streaming/eddy/storage/vfs"
)

// checkRecovered checks a log reopened after a crash against the batches
// appended before it: it must serve a contiguous run of them, byte for
// byte with their offsets, ending on a batch boundary at or after ackedEnd
// (everything acknowledged survives) and starting at or before keepFrom
// (the log start the writer last saw: retention may come back after a
// crash, never go further). It returns the run's bounds in m.batches.
func checkRecovered(t testing.TB, l *Log, m *model, ackedEnd, keepFrom int64) (int, int) {
	t.Helper()
	offs := l.Offsets()
	if offs.LogEnd < ackedEnd {
		t.Fatalf("log end %d after recovery: acknowledged records up to %d lost", offs.LogEnd, ackedEnd)
	}
	if offs.HighWatermark != offs.LogEnd {
		t.Fatalf("after recovery high watermark %d != log end %d", offs.HighWatermark, offs.LogEnd)
	}
	j := 0
	for j < len(m.batches) && m.batches[j].next() <= offs.LogEnd {
		j++
	}
	if offs.LogEnd != 0 && (j == 0 || m.batches[j-1].next() != offs.LogEnd) {
		t.Fatalf("log end %d after recovery is not the end of an appended batch", offs.LogEnd)
	}
	if offs.LogStart > keepFrom {
		t.Fatalf("log start %d after recovery is past %d, the last one the writer saw", offs.LogStart, keepFrom)
	}
	i := j
	if offs.LogStart < offs.LogEnd {
		i = m.indexOf(offs.LogStart)
		if i < 0 {
			t.Fatalf("log start %d is not in an appended batch", offs.LogStart)
		}
	}
	checkContents(t, l, m.batches[i:j])
	return i, j
}

// crashCase is one randomized crash scenario.
type crashCase struct {
	seed      uint64
	torn      bool // CrashWithTornTails instead of Crash
	retention bool // apply retention.bytes during the workload
}

func runCrashCase(t *testing.T, c crashCase) {
	rng := rand.New(rand.NewPCG(c.seed, 0xc7a5))
	mem := vfs.NewMem()
	cfg := testConfig()
	cfg.Fsync = true
	cfg.SegmentBytes = int64(400 + rng.IntN(2000))
	cfg.IndexIntervalBytes = 1 + rng.IntN(600)
	if c.retention {
		cfg.RetentionBytes = cfg.SegmentBytes * 3
	}
	l := openLog(t, mem, cfg, nil)
	var m model
	var ackedEnd, keepFrom int64
	steps := 1 + rng.IntN(120)
	for step := 0; step < steps; step++ {
		segs := l.NumSegments()
		var b []byte
		if rng.IntN(4) == 0 {
			cd := []int8{codec.Gzip, codec.Snappy, codec.LZ4, codec.Zstd}[rng.IntN(4)]
			recs := make([]testRecord, 1+rng.IntN(5))
			for i := range recs {
				recs[i] = testRecord{ts: int64(step*10 + i), value: fillValue(rng.IntN(1000), rng.IntN(80))}
			}
			b = buildBatch(t, batchSpec{records: recs, codec: cd, producerID: -1})
		} else {
			b = randomBatch(t, rng, 5, int64(step*10), 120)
		}
		sb := m.append(t, l, b)
		switch r := rng.IntN(10); {
		case r < 3:
			if err := waitDurable(t, l, sb.next()); err != nil {
				t.Fatalf("WaitDurable: %v", err)
			}
			ackedEnd = sb.next()
		case r == 3 && c.retention:
			if _, err := l.ApplyRetention(); err != nil {
				t.Fatalf("ApplyRetention: %v", err)
			}
			keepFrom = l.Offsets().LogStart
		case r == 4 && rng.IntN(8) == 0:
			// A clean restart in the middle: Close writes the active
			// segment's indexes, which go stale as it grows again.
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			ackedEnd = sb.next()
			l = openLog(t, mem, cfg, nil)
		}
		if l.NumSegments() > segs && rng.IntN(3) == 0 {
			break // crash right after a roll
		}
	}
	if c.torn {
		mem.CrashWithTornTails(rng)
	} else {
		mem.Crash()
	}
	l.Close() // files are stale after the crash; this only stops the syncer

	l = openLog(t, mem, cfg, nil)
	_, j := checkRecovered(t, l, &m, ackedEnd, keepFrom)
	checkIndexes(t, mem, l, true)
	checkActiveFileTruncated(t, mem, l)
	ls := l.Offsets().LogStart
	var targets []int64
	for x := int64(-10); x < int64(steps*10+20); x += 7 {
		targets = append(targets, x)
	}
	rm := model{batches: m.batches[:j]}
	checkOffsetForTimestamp(t, l, &rm, targets)
	off, ts, found := l.MaxTimestamp()
	woff, wts, wfound := rm.maxTimestamp(ls)
	if off != woff || ts != wts || found != wfound {
		t.Fatalf("MaxTimestamp after recovery = (%d, %d, %v), want (%d, %d, %v)", off, ts, found, woff, wts, wfound)
	}

	// Appends continue right after what survived.
	m.batches = m.batches[:j]
	for i := range 3 {
		sb := m.append(t, l, simpleBatch(t, 2, 1, 30, 10_000+i))
		if i == 0 && sb.base != l.Offsets().LogEnd-2 {
			t.Fatalf("append after recovery at %d", sb.base)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	// A second crash loses nothing that was synced.
	mem.Crash()
	l.Close()
	l = openLog(t, mem, cfg, nil)
	defer l.Close()
	checkRecovered(t, l, &m, m.end(), keepFrom)
	checkIndexes(t, mem, l, true)
}

// checkActiveFileTruncated checks that recovery cut the active segment's
// file to its last good batch, so that appends follow it.
func checkActiveFileTruncated(t testing.TB, fs vfs.FS, l *Log) {
	t.Helper()
	l.mu.Lock()
	s := l.mu.segs[len(l.mu.segs)-1]
	p, want := s.path+logSuffix, s.size
	l.mu.Unlock()
	size, _, err := fs.Stat(p)
	if err != nil || size != want {
		t.Fatalf("active segment file %s: %d bytes (%v), want %d", p, size, err, want)
	}
}

func TestCrashRecovery(t *testing.T) {
	n := 500
	if testing.Short() {
		n = 20
	}
	for seed := range uint64(n) {
		for _, c := range []crashCase{
			{seed: seed},
			{seed: seed, torn: true},
			{seed: seed, torn: true, retention: true},
		} {
			name := fmt.Sprintf("seed=%d/torn=%v/retention=%v", c.seed, c.torn, c.retention)
			if !t.Run(name, func(t *testing.T) { runCrashCase(t, c) }) {
				return
			}
		}
	}
}

// A crash at every point of a short workload, with every torn-tail shape
// the rng picks: the acknowledged prefix always survives.
func TestCrashAtEveryAppend(t *testing.T) {
	cfg := testConfig()
	cfg.Fsync = true
	cfg.SegmentBytes = 700
	cfg.IndexIntervalBytes = 150
	rng := rand.New(rand.NewPCG(11, 12))
	var batches [][]byte
	for i := range 40 {
		batches = append(batches, randomBatch(t, rng, 4, int64(i), 90))
	}
	for crashAt := 0; crashAt <= len(batches); crashAt++ {
		for variant := range 4 {
			mem := vfs.NewMem()
			l := openLog(t, mem, cfg, nil)
			var m model
			var acked int64
			for i := range crashAt {
				sb := m.append(t, l, bytes.Clone(batches[i]))
				if (i+variant)%3 == 0 {
					if err := waitDurable(t, l, sb.next()); err != nil {
						t.Fatal(err)
					}
					acked = sb.next()
				}
			}
			if variant == 0 {
				mem.Crash()
			} else {
				mem.CrashWithTornTails(rand.New(rand.NewPCG(uint64(crashAt), uint64(variant))))
			}
			l.Close()
			l = openLog(t, mem, cfg, nil)
			checkRecovered(t, l, &m, acked, 0)
			checkIndexes(t, mem, l, true)
			l.Close()
		}
	}
}

// A byte flipped anywhere in a batch of the active segment (except the
// leader epoch, which nothing covers and nothing reads) makes recovery cut
// the segment at that batch.
func TestRecoveryTruncatesCorruptBatch(t *testing.T) {
	mem := vfs.NewMem()
	cfg := testConfig()
	cfg.IndexIntervalBytes = 100
	l := openLog(t, mem, cfg, nil)
	var m model
	for i := range 12 {
		if i%4 == 3 {
			m.append(t, l, buildBatch(t, batchSpec{records: []testRecord{{ts: 1, value: []byte("compressed")}, {ts: 2}}, codec: codec.Zstd, producerID: -1}))
		} else {
			m.append(t, l, simpleBatch(t, 1+i%3, int64(i), 20, i))
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	name := segFile(0, logSuffix)
	orig, err := mem.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var pos []int64 // file position of each batch
	var p int64
	for _, b := range m.batches {
		pos = append(pos, p)
		p += int64(len(b.bytes))
	}
	for _, k := range []int{0, 1, 6, 11} {
		for off := range len(m.batches[k].bytes) {
			if off >= batchEpochOff && off < batchEpochOff+4 {
				continue
			}
			for _, flip := range []byte{0x01, 0x80} {
				fs := mem.CrashClone()
				data := bytes.Clone(orig)
				data[pos[k]+int64(off)] ^= flip
				rewriteFile(t, fs, name, data)
				l, err := tryOpen(fs, cfg, nil)
				if err != nil {
					t.Fatalf("batch %d byte %d: Open: %v", k, off, err)
				}
				offs := l.Offsets()
				if offs.LogEnd != m.batches[k].base {
					l.Close()
					t.Fatalf("batch %d byte %d ^%#x: log end %d after recovery, want %d (cut at the corrupt batch)", k, off, flip, offs.LogEnd, m.batches[k].base)
				}
				checkContents(t, l, m.batches[:k])
				checkActiveFileTruncated(t, fs, l)
				mm := model{batches: slices.Clone(m.batches[:k])}
				if sb := mm.append(t, l, simpleBatch(t, 1, 1, 1, 1)); sb.base != m.batches[k].base {
					t.Fatalf("append after recovery at %d", sb.base)
				}
				checkContents(t, l, mm.batches)
				l.Close()
			}
		}
	}
}

// Garbage after the last batch of the active segment is cut off, whatever
// it looks like.
func TestRecoveryTruncatesGarbageTail(t *testing.T) {
	mem := vfs.NewMem()
	cfg := testConfig()
	l := openLog(t, mem, cfg, nil)
	var m model
	for i := range 5 {
		m.append(t, l, simpleBatch(t, 2, int64(i), 20, i))
	}
	l.Close()
	name := segFile(0, logSuffix)
	orig, _ := mem.ReadFile(name)
	last := m.batches[len(m.batches)-1]
	dup := bytes.Clone(last.bytes) // a valid batch repeating offsets
	jump := bytes.Clone(last.bytes)
	binary.BigEndian.PutUint64(jump, uint64(last.next()+5)) // a valid batch skipping offsets
	huge := bytes.Clone(last.bytes)
	binary.BigEndian.PutUint32(huge[batchLengthOff:], 1<<30) // a length past maxBatchBytes
	tails := map[string][]byte{
		"zeros":        make([]byte, 4096),
		"one byte":     {2},
		"header only":  last.bytes[:batchHeaderLen],
		"torn batch":   last.bytes[:len(last.bytes)-1],
		"duplicate":    dup,
		"offset jump":  jump,
		"huge length":  huge,
		"random bytes": fillValue(99, 1000),
	}
	for name2, tail := range tails {
		fs := mem.CrashClone()
		rewriteFile(t, fs, name, append(bytes.Clone(orig), tail...))
		l := openLog(t, fs, cfg, nil)
		checkContents(t, l, m.batches)
		checkActiveFileTruncated(t, fs, l)
		if sb := (&model{batches: slices.Clone(m.batches)}).append(t, l, simpleBatch(t, 1, 1, 1, 1)); sb.base != m.end() {
			t.Fatalf("%s: append after recovery at %d, want %d", name2, sb.base, m.end())
		}
		l.Close()
	}
}

// Index files of rolled segments that are missing or do not fit the
// segment are rebuilt, and reads, timestamp lookups and the rebuilt files
// are right.
func TestIndexFilesRebuilt(t *testing.T) {
	mem := vfs.NewMem()
	cfg := testConfig()
	cfg.SegmentBytes = 1500
	cfg.IndexIntervalBytes = 100
	l := openLog(t, mem, cfg, nil)
	rng := rand.New(rand.NewPCG(13, 14))
	var m model
	for i := range 80 {
		m.append(t, l, randomBatch(t, rng, 4, int64(1000+i*3), 80))
	}
	var bases []int64
	l.mu.Lock()
	for _, s := range l.mu.segs {
		bases = append(bases, s.base)
	}
	l.mu.Unlock()
	if len(bases) < 4 {
		t.Fatalf("%d segments", len(bases))
	}
	l.Close()
	target := bases[1]
	idxName, tidxName := segFile(target, indexSuffix), segFile(target, timeIndexSuffix)
	origIdx, _ := mem.ReadFile(idxName)
	origTidx, _ := mem.ReadFile(tidxName)
	if len(origIdx) < 3*indexEntryLen || len(origTidx) < 2*timeEntryLen {
		t.Fatalf("index %d bytes, time index %d bytes: too few entries", len(origIdx), len(origTidx))
	}
	otherIdx, _ := mem.ReadFile(segFile(bases[2], indexSuffix))
	otherTidx, _ := mem.ReadFile(segFile(bases[2], timeIndexSuffix))

	type change struct {
		name string
		f    func(fs vfs.FS)
	}
	write := func(name string, data []byte) func(vfs.FS) {
		return func(fs vfs.FS) { rewriteFile(t, fs, name, data) }
	}
	remove := func(name string) func(vfs.FS) {
		return func(fs vfs.FS) {
			if err := fs.Remove(name); err != nil {
				t.Fatal(err)
			}
		}
	}
	targetSize, _, _ := mem.Stat(segFile(target, logSuffix))
	// edit changes an index file's entries and gives it a valid checksum,
	// so that what recovery rejects is the entries themselves.
	edit := func(orig []byte, f func(b []byte) []byte) []byte {
		entries, ok := checkIndexSum(orig, target, targetSize)
		if !ok {
			t.Fatal("index file checksum mismatch")
		}
		return appendIndexSum(f(bytes.Clone(entries)), target, targetSize)
	}
	same := func(b []byte) []byte { return b }
	changes := []change{
		{"no index", remove(idxName)},
		{"no time index", remove(tidxName)},
		{"neither", func(fs vfs.FS) { remove(idxName)(fs); remove(tidxName)(fs) }},
		{"all indexes gone", func(fs vfs.FS) {
			for _, b := range bases {
				remove(segFile(b, indexSuffix))(fs)
				remove(segFile(b, timeIndexSuffix))(fs)
			}
		}},
		{"empty index file", write(idxName, nil)},
		{"empty time index file", write(tidxName, nil)},
		{"no index entries", write(idxName, edit(origIdx, func([]byte) []byte { return nil }))},
		{"index truncated", write(idxName, origIdx[:len(origIdx)-3])},
		{"time index truncated", write(tidxName, origTidx[:len(origTidx)-1])},
		{"index odd length", write(idxName, edit(origIdx, func(b []byte) []byte { return b[:len(b)-3] }))},
		{"time index odd length", write(tidxName, edit(origTidx, func(b []byte) []byte { return b[:len(b)-1] }))},
		{"index checksum", write(idxName, func() []byte { b := bytes.Clone(origIdx); b[len(b)-1] ^= 1; return b }())},
		{"index for a shorter segment", write(idxName, appendIndexSum(bytes.Clone(must(checkIndexSum(origIdx, target, targetSize))), target, targetSize-1))},
		{"index of the segment under another name", write(idxName, appendIndexSum(bytes.Clone(must(checkIndexSum(origIdx, target, targetSize))), target+1, targetSize))},
		{"index re-summed unchanged", write(idxName, edit(origIdx, same))},
		{"index position past the end", write(idxName, edit(origIdx, func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[len(b)-4:], 1<<20)
			return b
		}))},
		{"index offset past the end", write(idxName, edit(origIdx, func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[len(b)-8:], 1<<20)
			return b
		}))},
		{"index unsorted", write(idxName, edit(origIdx, func(b []byte) []byte {
			e1 := bytes.Clone(b[8:16])
			copy(b[8:16], b[16:24])
			copy(b[16:24], e1)
			return b
		}))},
		{"index first entry not zero", write(idxName, edit(origIdx, func(b []byte) []byte { return b[8:] }))},
		{"time index decreasing", write(tidxName, edit(origTidx, func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[timeEntryLen:], 0)
			return b
		}))},
		{"time index offset past the end", write(tidxName, edit(origTidx, func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[len(b)-4:], 1<<20)
			return b
		}))},
		{"time index newer than any batch", write(tidxName, edit(origTidx, func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[len(b)-timeEntryLen:], 1<<40)
			return b
		}))},
		{"random index", write(idxName, fillValue(5, len(origIdx)))},
		{"random time index", write(tidxName, fillValue(6, len(origTidx)))},
		{"random index entries", write(idxName, edit(origIdx, func(b []byte) []byte { return fillValue(7, len(b)) }))},
		{"random time index entries", write(tidxName, edit(origTidx, func(b []byte) []byte { return fillValue(8, len(b)) }))},
		{"another segment's indexes", func(fs vfs.FS) { write(idxName, otherIdx)(fs); write(tidxName, otherTidx)(fs) }},
		{"index missing its last entries", write(idxName, edit(origIdx, func(b []byte) []byte { return b[:2*indexEntryLen] }))},
		{"leftover temporary files", func(fs vfs.FS) {
			write(idxName+".tmp", []byte("junk"))(fs)
			write(segFile(1<<40, indexSuffix), origIdx)(fs) // an index with no segment
		}},
	}
	check := func(fs vfs.FS, name string) {
		t.Helper()
		l, err := tryOpen(fs, cfg, nil)
		if err != nil {
			t.Fatalf("%s: Open: %v", name, err)
		}
		defer l.Close()
		checkContents(t, l, m.batches)
		checkIndexes(t, fs, l, true)
		var targets []int64
		for x := int64(900); x < 1300; x += 3 {
			targets = append(targets, x)
		}
		checkOffsetForTimestamp(t, l, &m, targets)
		off, ts, found := l.MaxTimestamp()
		woff, wts, _ := m.maxTimestamp(0)
		if !found || off != woff || ts != wts {
			t.Fatalf("%s: MaxTimestamp = (%d, %d, %v), want (%d, %d)", name, off, ts, found, woff, wts)
		}
		for _, n := range listDir(t, fs) {
			if len(n) > 4 && n[len(n)-4:] == ".tmp" || n == segmentName(1<<40)+indexSuffix {
				t.Fatalf("%s: leftover %s", name, n)
			}
		}
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			fs := mem.CrashClone()
			c.f(fs)
			check(fs, c.name)
			// A second open finds good indexes.
			check(fs, c.name+" (again)")
		})
	}
}

func must(b []byte, ok bool) []byte {
	if !ok {
		panic("must")
	}
	return b
}

// Any single flipped bit in a rolled segment's index files must not make
// reads, timestamp lookups or MaxTimestamp wrong.
func TestIndexFilesBitFlips(t *testing.T) {
	mem := vfs.NewMem()
	cfg := testConfig()
	cfg.SegmentBytes = 1500
	cfg.IndexIntervalBytes = 100
	l := openLog(t, mem, cfg, nil)
	rng := rand.New(rand.NewPCG(15, 16))
	var m model
	for i := range 30 {
		m.append(t, l, randomBatch(t, rng, 4, int64(1000+i*3), 80))
	}
	l.Close()
	for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
		name := segFile(0, suffix)
		orig, _ := mem.ReadFile(name)
		for i := range len(orig) * 8 {
			fs := mem.CrashClone()
			data := bytes.Clone(orig)
			data[i/8] ^= 1 << (i % 8)
			rewriteFile(t, fs, name, data)
			l := openLog(t, fs, cfg, nil)
			t.Run(fmt.Sprintf("%s/bit%d", suffix, i), func(t *testing.T) {
				checkContents(t, l, m.batches)
				checkIndexes(t, fs, l, false)
				var targets []int64
				for x := int64(900); x < 1200; x += 5 {
					targets = append(targets, x)
				}
				checkOffsetForTimestamp(t, l, &m, targets)
				off, ts, _ := l.MaxTimestamp()
				woff, wts, _ := m.maxTimestamp(0)
				if off != woff || ts != wts {
					t.Fatalf("MaxTimestamp = (%d, %d), want (%d, %d)", off, ts, woff, wts)
				}
			})
			l.Close()
		}
	}
}

// With fsync off, DeleteRecords may persist a log start past what a power
// loss keeps. Records appended after the restart must not be hidden by it
// at the next restart.
func TestLogStartPastCrashedEnd(t *testing.T) {
	mem := vfs.NewMem()
	cfg := testConfig() // fsync off
	l := openLog(t, mem, cfg, nil)
	var m model
	for i := range 3 {
		m.append(t, l, simpleBatch(t, 2, 1, 10, i))
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		m.append(t, l, simpleBatch(t, 2, 1, 10, 3+i)) // not durable
	}
	if _, err := l.DeleteRecords(-1); err != nil { // log start 12, on disk
		t.Fatal(err)
	}
	mem.Crash()
	l.Close()
	l = openLog(t, mem, cfg, nil)
	if offs := l.Offsets(); offs.LogStart != 6 || offs.LogEnd != 6 {
		t.Fatalf("after crash: %+v, want start and end 6", offs)
	}
	m.batches = nil
	for i := range 5 {
		m.append(t, l, simpleBatch(t, 2, 1, 10, 10+i)) // offsets 6..15
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, mem, cfg, nil)
	defer l.Close()
	checkContents(t, l, m.batches)
}
