package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/storage/codec"
)

// rawBatch wraps an arbitrary records section in a batch header with a
// correct length and CRC.
func rawBatch(records []byte, numRecords, lastOffsetDelta int32, attrs int16) []byte {
	rb := kmsg.RecordBatch{
		Length:               int32(batchHeaderLen - batchLogOverhead + len(records)),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           attrs,
		LastOffsetDelta:      lastOffsetDelta,
		FirstTimestamp:       1000,
		MaxTimestamp:         1000,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           numRecords,
		Records:              records,
	}
	b := rb.AppendTo(nil)
	fixCRC(b)
	return b
}

// rawRecord encodes a record field by field, so tests can get any field
// wrong. Lengths are given separately from the data they describe; a
// negative bodyLen means the correct length.
type rawRecord struct {
	bodyLen     int64
	tsDelta     int64
	offsetDelta int64
	keyLen      int64
	key         []byte
	valueLen    int64
	value       []byte
	numHeaders  int64
	headers     []byte // encoded headers
	trailing    []byte // bytes after the headers, inside the record
}

func (r rawRecord) encode() []byte {
	var body []byte
	body = append(body, 0) // attributes
	body = binary.AppendVarint(body, r.tsDelta)
	body = binary.AppendVarint(body, r.offsetDelta)
	body = binary.AppendVarint(body, r.keyLen)
	body = append(body, r.key...)
	body = binary.AppendVarint(body, r.valueLen)
	body = append(body, r.value...)
	body = binary.AppendVarint(body, r.numHeaders)
	body = append(body, r.headers...)
	body = append(body, r.trailing...)
	n := r.bodyLen
	if n < 0 {
		n = int64(len(body))
	}
	return append(binary.AppendVarint(nil, n), body...)
}

func goodRaw(i int) rawRecord {
	return rawRecord{bodyLen: -1, offsetDelta: int64(i), keyLen: 1, key: []byte("k"), valueLen: 2, value: []byte("vv")}
}

func rawRecords(rs ...rawRecord) []byte {
	var out []byte
	for _, r := range rs {
		out = append(out, r.encode()...)
	}
	return out
}

func TestValidateBatchGood(t *testing.T) {
	var cases []batchSpec
	cases = append(cases,
		batchSpec{records: []testRecord{{ts: 5}}},
		batchSpec{records: []testRecord{{ts: 5, key: []byte{}, value: []byte{}}}},
		batchSpec{records: []testRecord{{ts: 5, value: []byte("v"), headers: []kmsg.Header{{Key: "h", Value: []byte("x")}, {Key: "", Value: nil}}}}},
		batchSpec{records: []testRecord{{ts: 9}, {ts: 3}, {ts: 7}}, producerID: 42, producerEpoch: 3, firstSequence: 17},
		batchSpec{records: []testRecord{{ts: 1}}, attrs: AttrTransactional, producerID: 7},
	)
	many := make([]testRecord, 1000)
	for i := range many {
		many[i] = testRecord{ts: int64(i % 17), value: fillValue(i, i%50)}
	}
	for _, c := range []int8{codec.None, codec.Gzip, codec.Snappy, codec.LZ4, codec.Zstd} {
		cases = append(cases, batchSpec{records: many, codec: c, producerID: -1})
	}
	for i, spec := range cases {
		b := buildBatch(t, spec)
		info, err := ValidateBatch(b, 0)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		checkInfoAgainstKmsg(t, b, info)
		if got := info.Compression(); got != spec.codec {
			t.Fatalf("case %d: compression %d, want %d", i, got, spec.codec)
		}
		if info.Transactional() != (spec.attrs&AttrTransactional != 0) || info.Control() {
			t.Fatalf("case %d: attributes %x", i, info.Attributes)
		}
		if _, err := ValidateBatch(b, len(b)); err != nil {
			t.Fatalf("case %d: at exactly max bytes: %v", i, err)
		}
		// LogAppendTime rewriting keeps the batch valid.
		lat := bytes.Clone(b)
		SetLogAppendTime(lat, 123456)
		info2, err := ValidateBatch(lat, 0)
		if err != nil || info2.MaxTimestamp != 123456 || info2.Attributes&AttrTimestampType == 0 {
			t.Fatalf("case %d: after SetLogAppendTime: %+v, %v", i, info2, err)
		}
	}
}

// checkInfoAgainstKmsg checks that BatchInfo agrees with kmsg's decoding.
func checkInfoAgainstKmsg(t testing.TB, b []byte, info BatchInfo) {
	t.Helper()
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(b); err != nil {
		t.Fatalf("kmsg cannot decode an accepted batch: %v", err)
	}
	want := BatchInfo{
		Size:            len(b),
		NumRecords:      rb.NumRecords,
		LastOffsetDelta: rb.LastOffsetDelta,
		FirstTimestamp:  rb.FirstTimestamp,
		MaxTimestamp:    rb.MaxTimestamp,
		ProducerID:      rb.ProducerID,
		ProducerEpoch:   rb.ProducerEpoch,
		FirstSequence:   rb.FirstSequence,
		Attributes:      rb.Attributes,
	}
	if info != want {
		t.Fatalf("BatchInfo %+v, kmsg says %+v", info, want)
	}
	if rb.Magic != 2 || int(rb.Length)+batchLogOverhead != len(b) {
		t.Fatalf("accepted batch with magic %d, length %d for %d bytes", rb.Magic, rb.Length, len(b))
	}
	if uint32(rb.CRC) != testCRC(b[batchAttrOff:]) {
		t.Fatal("accepted batch with a bad CRC")
	}
	if rb.NumRecords <= 0 || rb.LastOffsetDelta != rb.NumRecords-1 {
		t.Fatalf("accepted %d records with last offset delta %d", rb.NumRecords, rb.LastOffsetDelta)
	}
	if rb.Attributes&AttrControl != 0 || rb.Attributes&AttrCompressionMask > 4 {
		t.Fatalf("accepted attributes %#x", rb.Attributes)
	}
	if rb.Attributes&AttrCompressionMask == 0 {
		// Every record decodes with kmsg, with offset deltas 0, 1, ...
		// (Varints need not be minimal, so records need not re-encode to
		// the same bytes.)
		recs := rb.Records
		for i := int32(0); i < rb.NumRecords; i++ {
			l, n := binary.Varint(recs)
			if n <= 0 || l < 0 || l > int64(len(recs)-n) {
				t.Fatalf("record %d: bad length prefix", i)
			}
			var r kmsg.Record
			if err := r.ReadFrom(recs[:n+int(l)]); err != nil {
				t.Fatalf("record %d: kmsg cannot decode it: %v", i, err)
			}
			if int64(r.Length) != l {
				t.Fatalf("record %d: kmsg reads length %d, want %d", i, r.Length, l)
			}
			if r.OffsetDelta != i {
				t.Fatalf("record %d has offset delta %d", i, r.OffsetDelta)
			}
			recs = recs[n+int(l):]
		}
		if len(recs) != 0 {
			t.Fatalf("%d bytes after the last record", len(recs))
		}
	}
}

func TestValidateBatchRejects(t *testing.T) {
	good := buildBatch(t, batchSpec{records: []testRecord{{ts: 1, value: []byte("a")}, {ts: 2, value: []byte("bb")}, {ts: 3}}, producerID: -1})
	edit := func(f func(b []byte) []byte, recrc bool) []byte {
		b := f(bytes.Clone(good))
		if recrc {
			fixCRC(b)
		}
		return b
	}
	put32 := func(off int, v int32) func([]byte) []byte {
		return func(b []byte) []byte { binary.BigEndian.PutUint32(b[off:], uint32(v)); return b }
	}
	put16 := func(off int, v int16) func([]byte) []byte {
		return func(b []byte) []byte { binary.BigEndian.PutUint16(b[off:], uint16(v)); return b }
	}
	type tc struct {
		name     string
		b        []byte
		maxBytes int
		want     error
	}
	cases := []tc{
		{"empty", nil, 0, ErrCorruptBatch},
		{"short header", good[:batchHeaderLen-1], 0, ErrCorruptBatch},
		{"truncated", good[:len(good)-1], 0, ErrCorruptBatch},
		{"trailing byte", append(bytes.Clone(good), 0), 0, ErrCorruptBatch},
		{"length+1", edit(put32(batchLengthOff, int32(len(good)-batchLogOverhead+1)), false), 0, ErrCorruptBatch},
		{"length-1", edit(put32(batchLengthOff, int32(len(good)-batchLogOverhead-1)), false), 0, ErrCorruptBatch},
		{"length negative", edit(put32(batchLengthOff, -1), false), 0, ErrCorruptBatch},
		{"length tiny", edit(put32(batchLengthOff, 3), false), 0, ErrCorruptBatch},
		{"crc field", edit(func(b []byte) []byte { b[batchCRCOff] ^= 1; return b }, false), 0, ErrCorruptBatch},
		{"crc covered byte", edit(func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }, false), 0, ErrCorruptBatch},
		{"crc attributes", edit(func(b []byte) []byte { b[batchAttrOff+1] ^= AttrTransactional; return b }, false), 0, ErrCorruptBatch},
		{"crc max timestamp", edit(func(b []byte) []byte { b[batchMaxTsOff+7]++; return b }, false), 0, ErrCorruptBatch},
		{"magic 0", edit(func(b []byte) []byte { b[batchMagicOff] = 0; return b }, true), 0, ErrUnsupportedMagic},
		{"magic 1", edit(func(b []byte) []byte { b[batchMagicOff] = 1; return b }, true), 0, ErrUnsupportedMagic},
		{"magic 3", edit(func(b []byte) []byte { b[batchMagicOff] = 3; return b }, true), 0, ErrUnsupportedMagic},
		{"magic -1", edit(func(b []byte) []byte { b[batchMagicOff] = 0xff; return b }, true), 0, ErrUnsupportedMagic},
		{"num records +1", edit(put32(57, 4), true), 0, ErrCorruptBatch},
		{"num records -1", edit(put32(57, 2), true), 0, ErrCorruptBatch},
		{"num records 0", rawBatch(nil, 0, -1, 0), 0, ErrCorruptBatch},
		{"num records 0 delta 0", rawBatch(nil, 0, 0, 0), 0, ErrCorruptBatch},
		{"num records negative", edit(put32(57, -3), true), 0, ErrCorruptBatch},
		{"last offset delta +1", edit(put32(23, 3), true), 0, ErrCorruptBatch},
		{"last offset delta -1", edit(put32(23, 1), true), 0, ErrCorruptBatch},
		{"both +1", edit(func(b []byte) []byte { put32(23, 3)(b); return put32(57, 4)(b) }, true), 0, ErrCorruptBatch},
		{"control", edit(put16(batchAttrOff, AttrControl), true), 0, ErrControlBatch},
		{"control transactional", edit(put16(batchAttrOff, AttrControl|AttrTransactional), true), 0, ErrControlBatch},
		{"codec 5", edit(put16(batchAttrOff, 5), true), 0, ErrCorruptBatch},
		{"codec 7", edit(put16(batchAttrOff, 7), true), 0, ErrCorruptBatch},
		{"too large", good, len(good) - 1, ErrBatchTooLarge},
		{"too large by a lot", good, 1, ErrBatchTooLarge},
		// Uncompressed record framing.
		{"record length past the end", rawBatch(rawRecords(rawRecord{bodyLen: 100, offsetDelta: 0}), 1, 0, 0), 0, ErrCorruptBatch},
		{"record length negative", rawBatch(append(binary.AppendVarint(nil, -5), 0, 0, 0, 1, 1, 0), 1, 0, 0), 0, ErrCorruptBatch},
		{"record empty", rawBatch([]byte{0}, 1, 0, 0), 0, ErrCorruptBatch},
		{"record attributes only", rawBatch([]byte{2, 0}, 1, 0, 0), 0, ErrCorruptBatch},
		{"record unterminated varint", rawBatch([]byte{0x80}, 1, 0, 0), 0, ErrCorruptBatch},
		{"offset delta 1 first", rawBatch(rawRecords(func() rawRecord { r := goodRaw(0); r.offsetDelta = 1; return r }()), 1, 0, 0), 0, ErrCorruptBatch},
		{"offset deltas 0,2", rawBatch(rawRecords(goodRaw(0), goodRaw(2)), 2, 1, 0), 0, ErrCorruptBatch},
		{"offset deltas 0,0", rawBatch(rawRecords(goodRaw(0), goodRaw(0)), 2, 1, 0), 0, ErrCorruptBatch},
		{"offset delta -1", rawBatch(rawRecords(func() rawRecord { r := goodRaw(0); r.offsetDelta = -1; return r }()), 1, 0, 0), 0, ErrCorruptBatch},
		{"fewer records than announced", rawBatch(rawRecords(goodRaw(0), goodRaw(1)), 3, 2, 0), 0, ErrCorruptBatch},
		{"bytes after the last record", rawBatch(append(rawRecords(goodRaw(0)), 0), 1, 0, 0), 0, ErrCorruptBatch},
		{"record after the last record", rawBatch(rawRecords(goodRaw(0), goodRaw(1)), 1, 0, 0), 0, ErrCorruptBatch},
		{"key length past the record", rawBatch(rawRecords(func() rawRecord { r := goodRaw(0); r.keyLen = 50; return r }()), 1, 0, 0), 0, ErrCorruptBatch},
		{"key length -2", rawBatch(rawRecords(func() rawRecord { r := goodRaw(0); r.keyLen = -2; return r }()), 1, 0, 0), 0, ErrCorruptBatch},
		{"value length past the record", rawBatch(rawRecords(func() rawRecord { r := goodRaw(0); r.valueLen = 50; return r }()), 1, 0, 0), 0, ErrCorruptBatch},
		{"header count past the record", rawBatch(rawRecords(func() rawRecord { r := goodRaw(0); r.numHeaders = 9; return r }()), 1, 0, 0), 0, ErrCorruptBatch},
		{"header count negative", rawBatch(rawRecords(func() rawRecord { r := goodRaw(0); r.numHeaders = -1; return r }()), 1, 0, 0), 0, ErrCorruptBatch},
		{"bytes after the headers", rawBatch(rawRecords(func() rawRecord { r := goodRaw(0); r.trailing = []byte{1, 2}; return r }()), 1, 0, 0), 0, ErrCorruptBatch},
		{"record length short of its fields", rawBatch(rawRecords(func() rawRecord { r := goodRaw(0); r.bodyLen = 3; return r }()), 1, 0, 0), 0, ErrCorruptBatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			info, err := ValidateBatch(c.b, c.maxBytes)
			if !errors.Is(err, c.want) {
				t.Fatalf("ValidateBatch = %+v, %v; want %v", info, err, c.want)
			}
			for _, other := range []error{ErrCorruptBatch, ErrUnsupportedMagic, ErrControlBatch, ErrBatchTooLarge} {
				if other != c.want && errors.Is(err, other) {
					t.Fatalf("error %v is also %v", err, other)
				}
			}
			if info != (BatchInfo{}) {
				t.Fatalf("rejected batch returned info %+v", info)
			}
		})
	}
	// The raw record builder itself makes valid records.
	if _, err := ValidateBatch(rawBatch(rawRecords(goodRaw(0), goodRaw(1), goodRaw(2)), 3, 2, 0), 0); err != nil {
		t.Fatalf("good raw records rejected: %v", err)
	}
}

// Compressed batches are stored as sent; but a corrupt CRC, count or codec
// is still caught on them.
func TestValidateBatchCompressed(t *testing.T) {
	for _, c := range []int8{codec.Gzip, codec.Snappy, codec.LZ4, codec.Zstd} {
		b := buildBatch(t, batchSpec{records: []testRecord{{ts: 1}, {ts: 2}}, codec: c, producerID: -1})
		if _, err := ValidateBatch(b, 0); err != nil {
			t.Fatalf("%s: %v", codec.Name(c), err)
		}
		bad := bytes.Clone(b)
		bad[len(bad)-1] ^= 1
		if _, err := ValidateBatch(bad, 0); !errors.Is(err, ErrCorruptBatch) {
			t.Fatalf("%s: corrupt compressed batch: %v", codec.Name(c), err)
		}
	}
}

func TestSplitBatches(t *testing.T) {
	var all []byte
	var want [][]byte
	for i := range 5 {
		b := simpleBatch(t, 1+i, 1, i*30, i)
		want = append(want, b)
		all = append(all, b...)
	}
	got, err := SplitBatches(all)
	if err != nil || len(got) != len(want) {
		t.Fatalf("SplitBatches: %d batches, %v", len(got), err)
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("batch %d differs", i)
		}
		if cap(got[i]) != len(got[i]) {
			t.Fatalf("batch %d can be appended into its neighbour", i)
		}
	}
	one, err := SplitBatches(want[2])
	if err != nil || len(one) != 1 || !bytes.Equal(one[0], want[2]) {
		t.Fatalf("SplitBatches of one batch: %v", err)
	}
	// A short batch header is framed by length only: ValidateBatch rejects it.
	minimal := make([]byte, batchHeaderLen)
	binary.BigEndian.PutUint32(minimal[batchLengthOff:], batchHeaderLen-batchLogOverhead)
	if bs, err := SplitBatches(minimal); err != nil || len(bs) != 1 {
		t.Fatalf("minimal frame: %v", err)
	}

	bad := map[string][]byte{
		"empty":             nil,
		"trailing bytes":    append(bytes.Clone(all), 1, 2, 3),
		"trailing 12 bytes": append(bytes.Clone(all), make([]byte, 12)...),
		"truncated":         all[:len(all)-1],
		"length too small":  func() []byte { b := bytes.Clone(want[0]); binary.BigEndian.PutUint32(b[batchLengthOff:], 48); return b }(),
		"length negative": func() []byte {
			b := bytes.Clone(want[0])
			binary.BigEndian.PutUint32(b[batchLengthOff:], 0xffffff00)
			return b
		}(),
		"length huge": func() []byte {
			b := bytes.Clone(want[0])
			binary.BigEndian.PutUint32(b[batchLengthOff:], 0x7fffffff)
			return b
		}(),
		"garbage": []byte("this is not a record batch at all, not even close to one"),
	}
	for name, b := range bad {
		if bs, err := SplitBatches(b); !errors.Is(err, ErrCorruptBatch) {
			t.Errorf("%s: SplitBatches = %d batches, %v; want ErrCorruptBatch", name, len(bs), err)
		}
	}
}

func TestSplitBatchesGarbageNeverPanics(t *testing.T) {
	for seed := range 2000 {
		b := fillValue(seed, seed%300)
		if seed%3 == 0 && len(b) > 12 {
			binary.BigEndian.PutUint32(b[batchLengthOff:], uint32(len(b)-12-seed%5))
		}
		bs, err := SplitBatches(b)
		if err != nil {
			continue
		}
		n := 0
		for _, x := range bs {
			n += len(x)
		}
		if n != len(b) {
			t.Fatal(fmt.Sprintf("seed %d: split %d of %d bytes", seed, n, len(b)))
		}
	}
}
