package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record batch (magic 2) layout: the fields the raw client patches or
// reads in place. Batches are built and validated with kmsg.RecordBatch;
// these offsets only serve the per-send patching and the header-only
// reading of fetched batches.
const (
	batchHeaderLen   = 61 // everything before the first record
	batchLogOverhead = 12 // FirstOffset and Length, outside Length's count
	offLength        = 8
	offMagic         = 16
	offCRC           = 17
	offAttributes    = 21 // the CRC covers everything from here on
	offLastDelta     = 23
	offFirstTS       = 27
	offMaxTS         = 35
	offNumRecords    = 57
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// defaultBatchMaxBytes is franz-go's default producer batch size limit,
// which the raw client follows.
const defaultBatchMaxBytes = 1000012

// codecByName maps a compression name to the batch attribute codec and the
// franz-go codec used to compress.
func codecByName(name string) (int8, kgo.CompressionCodec, error) {
	codec, err := CompressionCodec(name)
	if err != nil {
		return 0, codec, err
	}
	attr := map[string]int8{"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}[strings.ToLower(name)]
	return attr, codec, nil
}

// rawBatch is one pre-encoded record batch of the raw producer. Before each
// send its timestamps are patched and its CRC recomputed (patch), so that a
// pool of them can be sent over and over with real timestamps.
type rawBatch struct {
	buf        []byte
	numRecords int
	valueSize  int
	// For uncompressed batches: recEnd[i] is the offset in buf just past
	// record i, so the batch can be cut to its first k records, and
	// slot[i] is the offset of record i's send-time slot (nil if values
	// are shorter than TimestampSize). Both are nil when compressed: a
	// compressed batch is sent whole, with only the header patched.
	recEnd []int32
	slot   []int32
}

// batchEncoder builds raw batches of random, incompressible values.
type batchEncoder struct {
	codec     int8
	comp      kgo.Compressor // nil for no compression
	valueSize int
	rng       *rand.ChaCha8
	value     []byte
	recs      []byte
	cbuf      bytes.Buffer
}

func newBatchEncoder(compression string, valueSize int, seed uint64) (*batchEncoder, error) {
	codec, kc, err := codecByName(compression)
	if err != nil {
		return nil, err
	}
	e := &batchEncoder{codec: codec, valueSize: valueSize, value: make([]byte, valueSize)}
	if codec != 0 {
		if e.comp, err = kgo.DefaultCompressor(kc); err != nil {
			return nil, err
		}
	}
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	copy(s[8:], "eddy-bench-raw")
	e.rng = rand.NewChaCha8(s)
	return e, nil
}

// recordsFor returns how many records fit in a batch of at most maxBytes
// (at least one). Compression is not accounted for: the values are
// incompressible.
func (e *batchEncoder) recordsFor(maxBytes int) int {
	// A record is a length varint, attributes, timestamp delta (0),
	// offset delta, null key (-1), value length and value, and a header
	// count (0). Offset deltas grow up to 3 bytes for large batches.
	per := 1 + 1 + 1 + 3 + 1 + varintLen(int64(e.valueSize)) + e.valueSize + 1
	per += varintLen(int64(per))
	return max(1, (maxBytes-batchHeaderLen)/per)
}

func varintLen(v int64) int {
	return len(binary.AppendVarint(nil, v))
}

// encode builds a batch of n records with fresh random values.
func (e *batchEncoder) encode(n int) (*rawBatch, error) {
	if n <= 0 {
		return nil, errors.New("bench: empty batch")
	}
	b := &rawBatch{numRecords: n, valueSize: e.valueSize}
	e.recs = e.recs[:0]
	var slots, ends []int32
	if e.codec == 0 {
		ends = make([]int32, 0, n)
		if e.valueSize >= TimestampSize {
			slots = make([]int32, 0, n)
		}
	}
	for i := range n {
		_, _ = e.rng.Read(e.value)
		r := kmsg.Record{OffsetDelta: int32(i), Value: e.value}
		// Length counts what follows it: encode once with a zero
		// length (one byte) to measure.
		before := len(e.recs)
		e.recs = r.AppendTo(e.recs)
		r.Length = int32(len(e.recs) - before - 1)
		e.recs = r.AppendTo(e.recs[:before])
		if e.codec == 0 {
			end := batchHeaderLen + len(e.recs)
			ends = append(ends, int32(end))
			if slots != nil {
				// The value is followed only by the header count.
				slots = append(slots, int32(end-1-e.valueSize))
			}
		}
	}
	records, codec := e.recs, e.codec
	if e.comp != nil {
		e.cbuf.Reset()
		out, used := e.comp.Compress(&e.cbuf, e.recs)
		if used < 0 {
			return nil, fmt.Errorf("bench: compressing a batch with codec %d failed", e.codec)
		}
		records, codec = out, int8(used)
	}
	now := time.Now().UnixMilli()
	rb := kmsg.RecordBatch{
		Length:               int32(batchHeaderLen - batchLogOverhead + len(records)),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           int16(codec),
		LastOffsetDelta:      int32(n - 1),
		FirstTimestamp:       now,
		MaxTimestamp:         now,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(n),
		Records:              records,
	}
	b.buf = rb.AppendTo(make([]byte, 0, batchHeaderLen+len(records)))
	b.recEnd, b.slot = ends, slots
	if codec != 0 {
		b.recEnd, b.slot = nil, nil
	}
	setCRC(b.buf)
	return b, nil
}

func setCRC(b []byte) {
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], crc32c))
}

// prepare readies the batch for sending its first k records (all of them if
// compressed) and returns the bytes to send: record i carries sent(i) in
// its value slot, the header's timestamps are those of the first and last
// record, and the CRC is recomputed. The returned slice aliases b and is
// valid until the next prepare.
func (b *rawBatch) prepare(k int, sent func(i int) time.Time) []byte {
	if b.recEnd == nil || k > b.numRecords {
		k = b.numRecords
	}
	buf := b.buf
	if b.recEnd != nil {
		end := int(b.recEnd[k-1])
		buf = b.buf[:end]
		binary.BigEndian.PutUint32(buf[offLength:], uint32(end-batchLogOverhead))
		binary.BigEndian.PutUint32(buf[offLastDelta:], uint32(k-1))
		binary.BigEndian.PutUint32(buf[offNumRecords:], uint32(k))
	}
	first := sent(0)
	if b.slot != nil {
		for i := range k {
			t := first
			if i > 0 {
				t = sent(i)
			}
			binary.BigEndian.PutUint64(buf[b.slot[i]:], uint64(t.UnixNano()))
		}
	}
	// Every record's own timestamp delta is 0 (deltas are varints and
	// cannot be patched in place), so both header timestamps are the
	// first record's send time, in milliseconds.
	ms := uint64(first.UnixMilli())
	binary.BigEndian.PutUint64(buf[offFirstTS:], ms)
	binary.BigEndian.PutUint64(buf[offMaxTS:], ms)
	setCRC(buf)
	return buf
}

// batchHeader is what the raw consumer reads of a fetched batch.
type batchHeader struct {
	baseOffset int64
	size       int // whole batch, header included
	lastDelta  int32
	numRecords int32
	codec      int8
}

// nextBatch cuts the first record batch off b. It returns ok=false when b
// does not start with a whole batch (a truncated trailing batch, which a
// broker may send when a size limit cuts through it).
func nextBatch(b []byte) (h batchHeader, batch, rest []byte, ok bool, err error) {
	if len(b) < batchHeaderLen {
		return h, nil, b, false, nil
	}
	h.baseOffset = int64(binary.BigEndian.Uint64(b))
	l := int64(int32(binary.BigEndian.Uint32(b[offLength:])))
	if l < batchHeaderLen-batchLogOverhead {
		return h, nil, b, false, fmt.Errorf("record batch at offset %d: length %d", h.baseOffset, l)
	}
	if magic := int8(b[offMagic]); magic != 2 {
		return h, nil, b, false, fmt.Errorf("record batch at offset %d: magic %d, the raw client reads only magic 2", h.baseOffset, magic)
	}
	if int64(len(b)) < l+batchLogOverhead {
		return h, nil, b, false, nil
	}
	h.size = int(l) + batchLogOverhead
	h.lastDelta = int32(binary.BigEndian.Uint32(b[offLastDelta:]))
	h.numRecords = int32(binary.BigEndian.Uint32(b[offNumRecords:]))
	h.codec = int8(binary.BigEndian.Uint16(b[offAttributes:]) & 0x7)
	return h, b[:h.size], b[h.size:], true, nil
}

// walkValues calls fn with the offset delta and value of every record of
// an uncompressed batch, reading only record framing.
func walkValues(batch []byte, n int32, fn func(offsetDelta int64, value []byte)) error {
	b := batch[batchHeaderLen:]
	for i := int32(0); i < n; i++ {
		l, m := binary.Varint(b)
		if m <= 0 || l < 0 || int64(len(b)-m) < l {
			return fmt.Errorf("record %d: bad length", i)
		}
		rec := b[m : m+int(l)]
		b = b[m+int(l):]
		if len(rec) < 1 {
			return fmt.Errorf("record %d: empty", i)
		}
		rec = rec[1:] // attributes
		var vals [4]int64
		for j := range 3 { // timestamp delta, offset delta, key length
			v, m := binary.Varint(rec)
			if m <= 0 {
				return fmt.Errorf("record %d: bad varint", i)
			}
			vals[j], rec = v, rec[m:]
			if j == 2 && v > 0 {
				if int64(len(rec)) < v {
					return fmt.Errorf("record %d: bad key length", i)
				}
				rec = rec[v:]
			}
		}
		vl, m := binary.Varint(rec)
		if m <= 0 {
			return fmt.Errorf("record %d: bad value length", i)
		}
		rec = rec[m:]
		var value []byte
		if vl > 0 {
			if int64(len(rec)) < vl {
				return fmt.Errorf("record %d: bad value length", i)
			}
			value = rec[:vl]
		}
		fn(vals[1], value)
	}
	return nil
}
