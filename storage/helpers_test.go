package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math/rand/v2"
	"path"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/storage/codec"
	"github.com/eddy-streaming/eddy/storage/vfs"
)

// testRecord is one record of a test batch.
type testRecord struct {
	ts         int64
	key, value []byte
	headers    []kmsg.Header
}

// batchSpec describes a batch for buildBatch.
type batchSpec struct {
	records       []testRecord
	codec         int8
	producerID    int64
	producerEpoch int16
	firstSequence int32
	attrs         int16 // extra attribute bits (transactional, control, ...)
}

// buildBatch encodes a magic 2 record batch as a client would send it:
// base offset 0, leader epoch -1, CRC-32C over the bytes from Attributes on.
func buildBatch(t testing.TB, spec batchSpec) []byte {
	t.Helper()
	if len(spec.records) == 0 {
		t.Fatal("buildBatch: no records")
	}
	first := spec.records[0].ts
	maxTs := first
	var recs []byte
	for i, r := range spec.records {
		maxTs = max(maxTs, r.ts)
		kr := kmsg.Record{
			TimestampDelta64: r.ts - first,
			TimestampDelta:   int32(r.ts - first),
			OffsetDelta:      int32(i),
			Key:              r.key,
			Value:            r.value,
			Headers:          r.headers,
		}
		// The length prefix counts the bytes after itself.
		body := kr.AppendTo(nil)
		kr.Length = int32(len(body) - 1) // the varint of 0 is one byte
		recs = kr.AppendTo(recs)
	}
	if spec.codec != 0 {
		c, err := codec.Compress(spec.codec, recs)
		if err != nil {
			t.Fatalf("compress with %s: %v", codec.Name(spec.codec), err)
		}
		recs = c
	}
	rb := kmsg.RecordBatch{
		FirstOffset:          0,
		Length:               int32(batchHeaderLen - batchLogOverhead + len(recs)),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           int16(spec.codec) | spec.attrs,
		LastOffsetDelta:      int32(len(spec.records) - 1),
		FirstTimestamp:       first,
		MaxTimestamp:         maxTs,
		ProducerID:           spec.producerID,
		ProducerEpoch:        spec.producerEpoch,
		FirstSequence:        spec.firstSequence,
		NumRecords:           int32(len(spec.records)),
		Records:              recs,
	}
	b := rb.AppendTo(nil)
	fixCRC(b)
	return b
}

// fixCRC recomputes a batch's CRC after a test edits it.
func fixCRC(b []byte) {
	binary.BigEndian.PutUint32(b[batchCRCOff:], testCRC(b[batchAttrOff:]))
}

// testCRC is CRC-32C, computed independently of the package's table.
func testCRC(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }

// simpleBatch builds an uncompressed batch of n records with timestamps
// ts0, ts0+1, ... and values of valueLen bytes derived from tag.
func simpleBatch(t testing.TB, n int, ts0 int64, valueLen int, tag int) []byte {
	recs := make([]testRecord, n)
	for i := range recs {
		recs[i] = testRecord{ts: ts0 + int64(i), key: fmt.Appendf(nil, "k%d-%d", tag, i), value: fillValue(tag*1000+i, valueLen)}
	}
	return buildBatch(t, batchSpec{records: recs, producerID: -1, producerEpoch: -1, firstSequence: -1})
}

func fillValue(seed, n int) []byte {
	v := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range v {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		v[i] = byte(x)
	}
	return v
}

// randomBatch builds an uncompressed batch of 1..maxRecs records with
// random timestamps around ts and random value sizes up to maxValue.
func randomBatch(t testing.TB, rng *rand.Rand, maxRecs int, ts int64, maxValue int) []byte {
	n := 1 + rng.IntN(maxRecs)
	recs := make([]testRecord, n)
	for i := range recs {
		recs[i] = testRecord{ts: ts + int64(rng.IntN(100)) - 50, value: fillValue(rng.IntN(1<<30), rng.IntN(maxValue+1))}
		if rng.IntN(3) == 0 {
			recs[i].key = fillValue(rng.IntN(1<<30), rng.IntN(8))
		}
	}
	return buildBatch(t, batchSpec{records: recs, producerID: -1, producerEpoch: -1, firstSequence: -1})
}

// mustValidate validates b and fails the test if it is not valid.
func mustValidate(t testing.TB, b []byte) BatchInfo {
	t.Helper()
	info, err := ValidateBatch(b, 0)
	if err != nil {
		t.Fatalf("ValidateBatch: %v", err)
	}
	return info
}

// storedBatch is a batch the test appended, as the log stores it (base
// offset patched, leader epoch 0).
type storedBatch struct {
	base  int64
	last  int64
	bytes []byte
	ts    []int64 // record timestamps
}

func (b storedBatch) next() int64 { return b.last + 1 }

// model is what a test expects a log to hold.
type model struct{ batches []storedBatch }

func (m *model) end() int64 {
	if len(m.batches) == 0 {
		return 0
	}
	return m.batches[len(m.batches)-1].next()
}

// indexOf returns the index of the batch holding off, or -1.
func (m *model) indexOf(off int64) int {
	for i, b := range m.batches {
		if b.base <= off && off <= b.last {
			return i
		}
	}
	return -1
}

// appendBatch appends b (which must be valid) to l and records it in m.
func (m *model) append(t testing.TB, l *Log, b []byte) storedBatch {
	t.Helper()
	info := mustValidate(t, b)
	base, err := l.Append(b, &info)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if want := m.end(); len(m.batches) > 0 && base != want {
		t.Fatalf("Append assigned base offset %d, want %d", base, want)
	}
	sb := storedBatch{base: base, last: base + int64(info.LastOffsetDelta), bytes: bytes.Clone(b), ts: recordTimestamps(t, b)}
	m.batches = append(m.batches, sb)
	return sb
}

// recordTimestamps decodes the timestamps of a batch's records, or
// returns MaxTimestamp for each record of a LogAppendTime batch.
func recordTimestamps(t testing.TB, b []byte) []int64 {
	t.Helper()
	n := int(batchLastOffsetDelta(b)) + 1
	out := make([]int64, 0, n)
	if batchAttributes(b)&AttrTimestampType != 0 {
		for range n {
			out = append(out, batchMaxTimestamp(b))
		}
		return out
	}
	recs, cnt, err := codec.BatchRecords(b, 1<<30)
	if err != nil {
		t.Fatalf("BatchRecords: %v", err)
	}
	first := batchFirstTimestamp(b)
	if err := codec.ReadRecords(recs, cnt, func(r *codec.Record) error {
		out = append(out, first+r.TimestampDelta)
		return nil
	}); err != nil {
		t.Fatalf("ReadRecords: %v", err)
	}
	return out
}

// quietLogger discards log output.
var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	ms int64
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.UnixMilli(c.ms)
}

func (c *fakeClock) Set(ms int64) {
	c.mu.Lock()
	c.ms = ms
	c.mu.Unlock()
}

func (c *fakeClock) Add(ms int64) {
	c.mu.Lock()
	c.ms += ms
	c.mu.Unlock()
}

const testDir = "/log"

// testConfig is a small-segment config with fsync off unless asked.
func testConfig() Config {
	return Config{
		SegmentBytes:       1 << 20,
		SegmentMs:          0,
		RetentionMs:        -1,
		RetentionBytes:     -1,
		IndexIntervalBytes: 4096,
	}
}

func openLog(t testing.TB, fs vfs.FS, cfg Config, clock *fakeClock) *Log {
	t.Helper()
	l, err := tryOpen(fs, cfg, clock)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func tryOpen(fs vfs.FS, cfg Config, clock *fakeClock) (*Log, error) {
	opts := Options{FS: fs, Dir: testDir, Config: cfg, Logger: quietLogger}
	if clock != nil {
		opts.Now = clock.Now
	}
	return Open(opts)
}

// readAll reads every visible batch from off to the high watermark, one
// Read at a time, checking that Read makes progress, and returns them.
func readAll(t testing.TB, l *Log, off int64, maxBytes int) [][]byte {
	t.Helper()
	hw := l.HighWatermark()
	var out [][]byte
	for off < hw {
		data, err := l.Read(off, maxBytes, -1)
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		if len(data) == 0 {
			t.Fatalf("Read(%d) below high watermark %d returned nothing", off, hw)
		}
		bs, err := SplitBatches(data)
		if err != nil {
			t.Fatalf("Read(%d) returned unsplittable data: %v", off, err)
		}
		for _, b := range bs {
			out = append(out, b)
			off = batchBaseOffset(b) + int64(batchLastOffsetDelta(b)) + 1
		}
	}
	return out
}

// checkContents checks that l serves exactly the batches of want, byte for
// byte, from its log start to its high watermark, and that reading at
// every offset returns the batch holding that offset first.
func checkContents(t testing.TB, l *Log, want []storedBatch) {
	t.Helper()
	offs := l.Offsets()
	var wantStart, wantEnd int64
	if len(want) > 0 {
		wantStart, wantEnd = want[0].base, want[len(want)-1].next()
		if offs.LogStart < wantStart || offs.LogStart > want[0].last {
			t.Fatalf("log start %d is not inside the first batch [%d, %d]", offs.LogStart, want[0].base, want[0].last)
		}
		wantStart = offs.LogStart
	} else {
		wantStart, wantEnd = offs.LogStart, offs.LogStart
	}
	if offs.HighWatermark != wantEnd || offs.LogEnd != wantEnd {
		t.Fatalf("offsets %+v, want high watermark and log end %d", offs, wantEnd)
	}
	got := readAll(t, l, wantStart, 1<<20)
	if len(got) != len(want) {
		t.Fatalf("read %d batches, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i].bytes) {
			t.Fatalf("batch %d (base %d) differs:\n got %x\nwant %x", i, want[i].base, head(got[i]), head(want[i].bytes))
		}
	}
	for _, b := range want {
		for off := max(b.base, wantStart); off <= b.last; off++ {
			data, err := l.Read(off, 1, -1)
			if err != nil {
				t.Fatalf("Read(%d): %v", off, err)
			}
			if !bytes.Equal(data, b.bytes) {
				t.Fatalf("Read(%d, 1 byte) returned %d bytes starting at base %d, want the batch at %d", off, len(data), baseOf(data), b.base)
			}
		}
	}
}

func baseOf(b []byte) int64 {
	if len(b) < 8 {
		return -1
	}
	return batchBaseOffset(b)
}

func head(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}

// checkIndexes checks the in-memory indexes of every segment of l, and
// the index files of every rolled segment: entries must point at the
// batch with that offset, in order, and time entries must hold the max
// timestamp of the batches up to them.
func checkIndexes(t testing.TB, fs vfs.FS, l *Log, files bool) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, s := range l.mu.segs {
		checkSegmentIndex(t, s, s.index, s.tindex)
		if files && i < len(l.mu.segs)-1 {
			ib, err := fs.ReadFile(s.path + indexSuffix)
			if err != nil {
				t.Fatalf("segment %d: reading index: %v", s.base, err)
			}
			ib, ok := checkIndexSum(ib, s.base, s.size)
			if !ok {
				t.Fatalf("segment %d: index file checksum mismatch", s.base)
			}
			idx, ok := decodeIndex(ib, s.size, s.base, s.next)
			if !ok {
				t.Fatalf("segment %d: index file does not decode", s.base)
			}
			tb, err := fs.ReadFile(s.path + timeIndexSuffix)
			if err != nil {
				t.Fatalf("segment %d: reading time index: %v", s.base, err)
			}
			if tb, ok = checkIndexSum(tb, s.base, s.size); !ok {
				t.Fatalf("segment %d: time index file checksum mismatch", s.base)
			}
			tidx, ok := decodeTimeIndex(tb, s.base, s.next)
			if !ok {
				t.Fatalf("segment %d: time index file does not decode", s.base)
			}
			checkSegmentIndex(t, s, idx, tidx)
		}
	}
}

func checkSegmentIndex(t testing.TB, s *segment, idx []indexEntry, tidx []timeEntry) {
	t.Helper()
	// Walk the batches, remembering position, base and max ts so far.
	type at struct {
		pos   int64
		maxTs int64
	}
	byRel := map[uint32]at{}
	maxTs := int64(-1)
	_, err := scanSegment(s.f, 0, s.size, false, func(pos int64, h *header, _ []byte) bool {
		maxTs = max(maxTs, h.maxTimestamp)
		byRel[uint32(h.baseOffset-s.base)] = at{pos, maxTs}
		return true
	})
	if err != nil {
		t.Fatalf("segment %d: scan: %v", s.base, err)
	}
	if s.size > 0 && len(idx) == 0 {
		t.Fatalf("segment %d: no index entry for %d bytes", s.base, s.size)
	}
	for _, e := range idx {
		a, ok := byRel[e.rel]
		if !ok || a.pos != int64(e.pos) {
			t.Fatalf("segment %d: index entry (rel %d, pos %d) does not point at that batch (found %v %+v)", s.base, e.rel, e.pos, ok, a)
		}
	}
	for _, e := range tidx {
		a, ok := byRel[e.rel]
		if !ok || a.maxTs != e.ts {
			t.Fatalf("segment %d: time index entry (ts %d, rel %d): batch found %v, max timestamp so far %d", s.base, e.ts, e.rel, ok, a.maxTs)
		}
	}
}

// listDir lists the log directory.
func listDir(t testing.TB, fs vfs.FS) []string {
	t.Helper()
	names, err := fs.List(testDir)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func segFile(base int64, suffix string) string {
	return path.Join(testDir, segmentName(base)+suffix)
}

// rewriteFile replaces a MemFS file's content durably.
func rewriteFile(t testing.TB, fs vfs.FS, name string, data []byte) {
	t.Helper()
	f, err := fs.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := fs.SyncDir(path.Dir(name)); err != nil {
		t.Fatal(err)
	}
}

// gateFS wraps an FS so that File.Sync blocks while the gate is closed.
type gateFS struct {
	vfs.FS
	mu     sync.Mutex
	open   bool
	wake   chan struct{}
	syncs  int
	inSync chan struct{} // receives a value each time a Sync starts waiting
}

func newGateFS(inner vfs.FS) *gateFS {
	return &gateFS{FS: inner, open: true, wake: make(chan struct{}), inSync: make(chan struct{}, 100)}
}

func (g *gateFS) setOpen(open bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if open && !g.open {
		close(g.wake)
	}
	if !open && g.open {
		g.wake = make(chan struct{})
	}
	g.open = open
}

func (g *gateFS) Syncs() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.syncs
}

func (g *gateFS) wait() {
	g.mu.Lock()
	g.syncs++
	open, wake := g.open, g.wake
	g.mu.Unlock()
	if !open {
		g.inSync <- struct{}{}
		<-wake
	}
}

func (g *gateFS) Create(name string) (vfs.File, error) {
	f, err := g.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return &gateFile{f, g}, nil
}

func (g *gateFS) OpenAppend(name string) (vfs.File, error) {
	f, err := g.FS.OpenAppend(name)
	if err != nil {
		return nil, err
	}
	return &gateFile{f, g}, nil
}

type gateFile struct {
	vfs.File
	g *gateFS
}

func (f *gateFile) Sync() error {
	f.g.wait()
	return f.File.Sync()
}

// waitDurable waits for end with a generous bound so that a hang fails
// the test instead of the whole run.
func waitDurable(t testing.TB, l *Log, end int64) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := l.WaitDurable(ctx, end)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitDurable(%d) hung", end)
	}
	return err
}

// sizedBatch builds an uncompressed batch of n records stamped ts0, ts0+1,
// ... that is exactly size bytes long, by growing the first record's value.
func sizedBatch(t testing.TB, n int, ts0 int64, size int, tag int) []byte {
	t.Helper()
	recs := make([]testRecord, n)
	for i := range recs {
		recs[i] = testRecord{ts: ts0 + int64(i), value: []byte{byte(tag), byte(tag >> 8), byte(i)}}
	}
	spec := batchSpec{records: recs, producerID: -1, producerEpoch: -1, firstSequence: -1}
	for vl := 0; ; vl++ {
		recs[0].value = fillValue(tag, vl)
		b := buildBatch(t, spec)
		switch {
		case len(b) == size:
			return b
		case len(b) > size+2: // a varint may grow by a byte
			t.Fatalf("sizedBatch: cannot make a %d byte batch of %d records (got %d)", size, n, len(b))
		}
	}
}
