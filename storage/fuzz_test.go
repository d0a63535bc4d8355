package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/storage/codec"
	"github.com/eddy-streaming/eddy/storage/vfs"
)

// fuzzSeedBatches are valid batches of every kind, for seeding.
func fuzzSeedBatches(t testing.TB) [][]byte {
	out := [][]byte{
		buildBatch(t, batchSpec{records: []testRecord{{ts: 1}}, producerID: -1}),
		buildBatch(t, batchSpec{records: []testRecord{{ts: 7, key: []byte("k"), value: []byte("value")}, {ts: 3, value: []byte{}}, {ts: 9}}, producerID: 5, producerEpoch: 1, firstSequence: 0}),
		buildBatch(t, batchSpec{records: []testRecord{{ts: 1, value: []byte("v"), headers: []kmsg.Header{{Key: "a", Value: []byte("b")}, {Key: "n"}}}}, producerID: -1}),
		buildBatch(t, batchSpec{records: []testRecord{{ts: 1}}, attrs: AttrTransactional, producerID: 9}),
	}
	for _, c := range []int8{codec.Gzip, codec.Snappy, codec.LZ4, codec.Zstd} {
		out = append(out, buildBatch(t, batchSpec{records: []testRecord{{ts: 5, value: []byte("hello hello hello")}, {ts: 6, value: []byte("hello")}}, codec: c, producerID: -1}))
	}
	lat := buildBatch(t, batchSpec{records: []testRecord{{ts: 1}, {ts: 2}}, producerID: -1})
	SetLogAppendTime(lat, 99)
	return append(out, lat)
}

func FuzzValidateBatch(f *testing.F) {
	for _, b := range fuzzSeedBatches(f) {
		f.Add(b, false)
		f.Add(b[:len(b)-1], false)
		bad := bytes.Clone(b)
		bad[len(bad)-1] ^= 1
		f.Add(bad, false)
		f.Add(bad, true)
	}
	f.Add(rawBatch(rawRecords(goodRaw(0), goodRaw(1)), 2, 1, 0), true)
	f.Add(rawBatch(rawRecords(func() rawRecord { r := goodRaw(0); r.keyLen = 40; return r }()), 1, 0, 0), true)
	f.Add([]byte{}, false)
	// fixCRC makes the fuzzer's mutations get past the CRC check, to reach
	// the rest of the validation.
	f.Fuzz(func(t *testing.T, data []byte, fixCRCFirst bool) {
		if fixCRCFirst && len(data) >= batchHeaderLen {
			data = bytes.Clone(data)
			fixCRC(data)
		}
		info, err := ValidateBatch(data, 0)
		if err != nil {
			if !errors.Is(err, ErrCorruptBatch) && !errors.Is(err, ErrUnsupportedMagic) && !errors.Is(err, ErrControlBatch) {
				t.Fatalf("error %v is none of the sentinels", err)
			}
			if info != (BatchInfo{}) {
				t.Fatalf("rejected batch returned info %+v", info)
			}
			return
		}
		checkInfoAgainstKmsg(t, data, info)
		again, err := ValidateBatch(data, 0)
		if err != nil || again != info {
			t.Fatalf("re-validation: %+v, %v; first %+v", again, err, info)
		}
		if _, err := ValidateBatch(data, len(data)); err != nil {
			t.Fatalf("at exactly max bytes: %v", err)
		}
		if _, err := ValidateBatch(data, len(data)-1); !errors.Is(err, ErrBatchTooLarge) {
			t.Fatalf("one byte over max bytes: %v", err)
		}
		bs, err := SplitBatches(data)
		if err != nil || len(bs) != 1 || !bytes.Equal(bs[0], data) {
			t.Fatalf("SplitBatches of a valid batch: %d batches, %v", len(bs), err)
		}
		// The log's own header parsing agrees.
		h, err := parseHeader(data)
		if err != nil || h.size != len(data) || h.lastOffsetDelta != info.LastOffsetDelta || h.maxTimestamp != info.MaxTimestamp ||
			h.attributes != info.Attributes || h.producerID != info.ProducerID || h.producerEpoch != info.ProducerEpoch {
			t.Fatalf("parseHeader = %+v, %v; info %+v", h, err, info)
		}
		// Patching the offset and epoch, and LogAppendTime, keep it valid.
		c := bytes.Clone(data)
		setBaseOffset(c, 1<<40)
		setLeaderEpoch(c, 0)
		SetLogAppendTime(c, 12345)
		if info2, err := ValidateBatch(c, 0); err != nil || info2.MaxTimestamp != 12345 || !checkCRC(c) {
			t.Fatalf("after patching: %+v, %v", info2, err)
		}
		// Uncompressed records decode with the codec package too, with
		// offset deltas 0..n-1.
		if info.Compression() == 0 {
			recs, n, err := codec.BatchRecords(data, len(data))
			if err != nil || n != info.NumRecords {
				t.Fatalf("BatchRecords: %d records, %v", n, err)
			}
			i := int32(0)
			if err := codec.ReadRecords(recs, n, func(r *codec.Record) error {
				if r.OffsetDelta != i {
					t.Fatalf("record %d offset delta %d", i, r.OffsetDelta)
				}
				i++
				return nil
			}); err != nil {
				t.Fatalf("ReadRecords: %v", err)
			}
		}
	})
}

// fuzzBase is a closed log with a rolled segment and an active one.
type fuzzBase struct {
	fs      *vfs.MemFS
	batches []storedBatch
	active  int64 // base of the active segment
	size    int64 // of the active segment file
	cfg     Config
}

func newFuzzBase(t testing.TB) *fuzzBase {
	mem := vfs.NewMem()
	cfg := testConfig()
	cfg.SegmentBytes = 600
	cfg.IndexIntervalBytes = 100
	l := openLog(t, mem, cfg, nil)
	var m model
	for i, b := range fuzzSeedBatches(t) {
		m.append(t, l, bytes.Clone(b))
		m.append(t, l, simpleBatch(t, 1+i%3, int64(100+i), 20, i))
	}
	l.mu.Lock()
	segs := len(l.mu.segs)
	active := l.mu.segs[segs-1]
	fb := &fuzzBase{batches: m.batches, active: active.base, size: active.size, cfg: cfg}
	l.mu.Unlock()
	if segs < 2 || fb.size == 0 {
		t.Fatalf("fuzz base has %d segments, active %d bytes", segs, fb.size)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	fb.fs = mem
	return fb
}

// Modes of FuzzRecovery.
const (
	fuzzAppend     = iota // data appended to the active segment
	fuzzReplace           // data is the whole active segment
	fuzzCutAppend         // the active segment cut at cut, then data
	fuzzNewSegment        // data is a new active segment after the old one
	fuzzCRCBatches        // data made into CRC-valid batches appended to the active segment
	fuzzRolled            // data replaces the rolled segment (not CRC-checked by design)
	numFuzzModes
)

// crcBatches turns data into record batches with valid CRCs and arbitrary
// header fields, so that the fuzzer reaches past the CRC check.
func crcBatches(data []byte, next int64) []byte {
	var out []byte
	for len(data) >= 10 {
		hdr := data[:10]
		data = data[10:]
		n := int(hdr[0]) % (len(data) + 1)
		recs := data[:n]
		data = data[n:]
		delta := int32(binary.BigEndian.Uint16(hdr[3:])) - 2
		if hdr[8]&1 != 0 {
			delta = int32(binary.BigEndian.Uint32(hdr[3:])) // anything at all
		}
		rb := kmsg.RecordBatch{
			FirstOffset:     next + int64(int8(hdr[1])%4) - 1, // mostly the right offset
			Length:          int32(batchHeaderLen - batchLogOverhead + len(recs)),
			Magic:           2,
			Attributes:      int16(hdr[2]) & 0x1f,
			LastOffsetDelta: delta,
			FirstTimestamp:  int64(int8(hdr[5])),
			MaxTimestamp:    int64(int8(hdr[6])) * 10,
			ProducerID:      -1,
			NumRecords:      int32(int8(hdr[7])),
			Records:         recs,
		}
		if hdr[9]&1 != 0 {
			rb.MaxTimestamp = int64(binary.BigEndian.Uint32(hdr[5:])) << (hdr[9] & 63)
		}
		b := rb.AppendTo(nil)
		fixCRC(b)
		out = append(out, b...)
		if rb.LastOffsetDelta >= 0 {
			next = rb.FirstOffset + int64(rb.LastOffsetDelta) + 1
		}
	}
	return out
}

func FuzzRecovery(f *testing.F) {
	base := newFuzzBase(f)
	seeds := fuzzSeedBatches(f)
	for mode := range uint8(numFuzzModes) {
		f.Add(mode, uint16(0), []byte{})
		f.Add(mode, uint16(100), seeds[1])
		f.Add(mode, uint16(61), append(bytes.Clone(seeds[0]), seeds[5]...))
		f.Add(mode, uint16(3), seeds[2][:40])
		f.Add(mode, uint16(500), make([]byte, 100))
	}
	f.Add(uint8(fuzzCRCBatches), uint16(0), []byte{7, 1, 0, 0, 2, 1, 5, 1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
	f.Add(uint8(fuzzCRCBatches), uint16(0), []byte{
		0, 1, 0, 0x7f, 0xff, 0xff, 0xff, 1, 1, 0,
		0, 1, 0, 0x7f, 0xff, 0xff, 0xff, 1, 1, 0,
		0, 1, 0, 0, 0, 0, 3, 1, 1, 0,
	})
	f.Fuzz(func(t *testing.T, mode uint8, cut uint16, data []byte) {
		mode %= numFuzzModes
		fs := base.fs.CrashClone()
		active := segFile(base.active, logSuffix)
		orig, err := fs.ReadFile(active)
		if err != nil {
			t.Fatal(err)
		}
		keep := len(base.batches) // original batches that must survive
		var keepEnd int64 = base.size
		switch mode {
		case fuzzAppend:
			rewriteFile(t, fs, active, append(bytes.Clone(orig), data...))
		case fuzzReplace:
			rewriteFile(t, fs, active, data)
			keepEnd = 0
		case fuzzCutAppend:
			c := int64(cut) % (base.size + 1)
			rewriteFile(t, fs, active, append(bytes.Clone(orig[:c]), data...))
			keepEnd = c
		case fuzzNewSegment:
			rewriteFile(t, fs, segFile(base.batches[len(base.batches)-1].next(), logSuffix), data)
		case fuzzCRCBatches:
			rewriteFile(t, fs, active, append(bytes.Clone(orig), crcBatches(data, base.batches[len(base.batches)-1].next())...))
		case fuzzRolled:
			rewriteFile(t, fs, segFile(0, logSuffix), data)
		}
		if keepEnd < base.size {
			// Keep the batches wholly inside the kept part of the active segment.
			pos := int64(0)
			keep = 0
			for i, b := range base.batches {
				if b.base < base.active {
					keep = i + 1
					continue
				}
				pos += int64(len(b.bytes))
				if pos > keepEnd {
					break
				}
				keep = i + 1
			}
		}

		l, err := tryOpen(fs, base.cfg, nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer l.Close()
		if mode == fuzzRolled {
			// Rolled segments are trusted (they were fsynced before the
			// roll): only check that nothing panics.
			offs := l.Offsets()
			for off := offs.LogStart; off < offs.HighWatermark; off++ {
				l.Read(off, 1000, -1)
			}
			l.OffsetForTimestamp(0)
			l.MaxTimestamp()
			return
		}
		got := fuzzReadAll(t, l)
		if len(got) < keep {
			t.Fatalf("recovery kept %d batches, want at least the %d before the change", len(got), keep)
		}
		for i := range keep {
			if !bytes.Equal(got[i], base.batches[i].bytes) {
				t.Fatalf("batch %d changed by recovery", i)
			}
		}
		offs := l.Offsets()
		for _, ts := range []int64{-1, 0, 5, 50, 105, 1000} {
			off, _, found, err := l.OffsetForTimestamp(ts)
			if err == nil && found && (off < offs.LogStart || off >= offs.HighWatermark) {
				t.Fatalf("OffsetForTimestamp(%d) = %d outside [%d, %d)", ts, off, offs.LogStart, offs.HighWatermark)
			}
		}
		if off, _, found := l.MaxTimestamp(); found && (off < offs.LogStart || off >= offs.HighWatermark) {
			t.Fatalf("MaxTimestamp offset %d outside [%d, %d)", off, offs.LogStart, offs.HighWatermark)
		}
		checkActiveFileTruncated(t, fs, l)

		// Appends go on at the log end, and a second recovery changes nothing.
		b := simpleBatch(t, 2, 1, 10, 1)
		info := mustValidate(t, b)
		if bo, err := l.Append(b, &info); err != nil || bo != offs.LogEnd {
			t.Fatalf("Append after recovery: %d, %v; want %d", bo, err, offs.LogEnd)
		}
		got = append(got, b)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l2, err := tryOpen(fs, base.cfg, nil)
		if err != nil {
			t.Fatalf("second Open: %v", err)
		}
		defer l2.Close()
		if o2 := l2.Offsets(); o2.LogStart != offs.LogStart || o2.LogEnd != offs.LogEnd+2 {
			t.Fatalf("second recovery: %+v, first %+v plus 2", o2, offs)
		}
		again := fuzzReadAll(t, l2)
		if len(again) != len(got) {
			t.Fatalf("second recovery: %d batches, want %d", len(again), len(got))
		}
		for i := range got {
			if !bytes.Equal(again[i], got[i]) {
				t.Fatalf("second recovery: batch %d differs", i)
			}
		}
	})
}

// fuzzReadAll reads the whole log offset by offset, checking every batch
// it is served: CRC-valid, well framed, and holding the offsets asked for,
// contiguously.
func fuzzReadAll(t *testing.T, l *Log) [][]byte {
	t.Helper()
	offs := l.Offsets()
	if offs.HighWatermark != offs.LogEnd || offs.LogStart > offs.LogEnd {
		t.Fatalf("offsets after recovery: %+v", offs)
	}
	var out [][]byte
	off := offs.LogStart
	for off < offs.HighWatermark {
		data, err := l.Read(off, 1000, -1)
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		if len(data) == 0 {
			t.Fatalf("Read(%d) below the high watermark %d returned nothing", off, offs.HighWatermark)
		}
		bs, err := SplitBatches(data)
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		for i, b := range bs {
			h, err := parseHeader(b)
			if err != nil || h.size != len(b) || !checkCRC(b) {
				t.Fatalf("Read(%d) served a corrupt batch (%v)", off, err)
			}
			if i == 0 && (h.baseOffset > off || h.lastOffset() < off) {
				t.Fatalf("Read(%d) returned a batch [%d, %d]", off, h.baseOffset, h.lastOffset())
			}
			if i > 0 && h.baseOffset != off {
				t.Fatalf("Read: batch at %d follows one ending before %d", h.baseOffset, off)
			}
			if h.nextOffset() > offs.LogEnd {
				t.Fatalf("Read: batch [%d, %d] past the log end %d", h.baseOffset, h.lastOffset(), offs.LogEnd)
			}
			off = h.nextOffset()
			out = append(out, b)
			// A read at the batch's first and last offsets (through the
			// index) starts with it.
			for _, o := range []int64{max(h.baseOffset, offs.LogStart), h.lastOffset()} {
				d, err := l.Read(o, 1, -1)
				if err != nil || !bytes.Equal(d, b) {
					t.Fatalf("Read(%d) = %d bytes, %v; want the batch [%d, %d]", o, len(d), err, h.baseOffset, h.lastOffset())
				}
			}
		}
	}
	return out
}
