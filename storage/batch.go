package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/storage/codec"
)

// Record batch layout (magic 2), as Kafka defines it. The header is parsed
// with kmsg.RecordBatch; these offsets are only used to patch fields in place.
const (
	batchHeaderLen   = 61 // bytes before the first record
	batchLengthOff   = 8  // int32 Length: bytes after this field
	batchEpochOff    = 12 // int32 PartitionLeaderEpoch
	batchMagicOff    = 16 // int8 Magic
	batchCRCOff      = 17 // uint32 CRC-32C of everything after it
	batchAttrOff     = 21 // int16 Attributes
	batchMaxTsOff    = 35 // int64 MaxTimestamp
	batchLogOverhead = 12 // FirstOffset + Length
)

// Attribute bits of a record batch.
const (
	AttrCompressionMask = 0x07
	AttrTimestampType   = 0x08 // set: LogAppendTime
	AttrTransactional   = 0x10
	AttrControl         = 0x20
)

// Errors returned by ValidateBatch. The protocol layer maps them to Kafka
// error codes (CORRUPT_MESSAGE, UNSUPPORTED_FOR_MESSAGE_FORMAT, ...).
var (
	ErrCorruptBatch     = errors.New("corrupt record batch")
	ErrUnsupportedMagic = errors.New("unsupported record batch magic")
	ErrControlBatch     = errors.New("clients may not produce control batches")
	ErrBatchTooLarge    = errors.New("record batch larger than max.message.bytes")
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// BatchInfo is what the broker needs to know of a batch it appends.
type BatchInfo struct {
	Size            int   // whole batch size in bytes, header included
	NumRecords      int32 // records in the batch
	LastOffsetDelta int32
	FirstTimestamp  int64
	MaxTimestamp    int64
	ProducerID      int64
	ProducerEpoch   int16
	FirstSequence   int32
	Attributes      int16
	// Coordinator marks a batch the broker writes itself on behalf of a
	// producer, without a sequence (see producerState.check). The caller
	// sets it; ValidateBatch never does.
	Coordinator bool
}

// Compression returns the batch's codec (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
func (b *BatchInfo) Compression() int8 { return int8(b.Attributes & AttrCompressionMask) }

// Transactional reports whether the batch is part of a transaction.
func (b *BatchInfo) Transactional() bool { return b.Attributes&AttrTransactional != 0 }

// Control reports whether the batch is a control batch (commit/abort marker).
func (b *BatchInfo) Control() bool { return b.Attributes&AttrControl != 0 }

// SplitBatches cuts the Records field of a produce request into its record
// batches. It checks only that each batch's length fits; ValidateBatch
// checks the rest.
func SplitBatches(records []byte) ([][]byte, error) {
	var out [][]byte
	for len(records) > 0 {
		if len(records) < batchLogOverhead {
			return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorruptBatch, len(records))
		}
		l := int32(binary.BigEndian.Uint32(records[batchLengthOff:]))
		if l < batchHeaderLen-batchLogOverhead || int64(l) > int64(len(records)-batchLogOverhead) {
			return nil, fmt.Errorf("%w: batch length %d with %d bytes left", ErrCorruptBatch, l, len(records)-batchLogOverhead)
		}
		n := int(l) + batchLogOverhead
		out = append(out, records[:n:n])
		records = records[n:]
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no record batch", ErrCorruptBatch)
	}
	return out, nil
}

// ValidateBatch checks one record batch exactly as a client sent it: magic
// 2, the length field, CRC-32C, the record count against lastOffsetDelta,
// and that it is not a control batch. For uncompressed batches it also walks
// the records and checks their framing and offset deltas; compressed batches
// are not inflated here (they are stored as sent). maxBytes <= 0 disables the
// size check.
func ValidateBatch(b []byte, maxBytes int) (BatchInfo, error) {
	var info BatchInfo
	var rb kmsg.RecordBatch
	if len(b) < batchHeaderLen {
		return info, fmt.Errorf("%w: %d bytes is shorter than a batch header", ErrCorruptBatch, len(b))
	}
	if b[batchMagicOff] != 2 {
		return info, fmt.Errorf("%w: magic %d", ErrUnsupportedMagic, int8(b[batchMagicOff]))
	}
	if err := rb.UnsafeReadFrom(b); err != nil {
		return info, fmt.Errorf("%w: %v", ErrCorruptBatch, err)
	}
	if int(rb.Length)+batchLogOverhead != len(b) {
		return info, fmt.Errorf("%w: length field %d for %d bytes", ErrCorruptBatch, rb.Length, len(b))
	}
	if maxBytes > 0 && len(b) > maxBytes {
		return info, fmt.Errorf("%w: %d > %d bytes", ErrBatchTooLarge, len(b), maxBytes)
	}
	if crc32.Checksum(b[batchAttrOff:], crc32c) != uint32(rb.CRC) {
		return info, fmt.Errorf("%w: CRC mismatch", ErrCorruptBatch)
	}
	if rb.NumRecords <= 0 || rb.LastOffsetDelta != rb.NumRecords-1 {
		return info, fmt.Errorf("%w: %d records with lastOffsetDelta %d", ErrCorruptBatch, rb.NumRecords, rb.LastOffsetDelta)
	}
	if rb.Attributes&AttrControl != 0 {
		return info, ErrControlBatch
	}
	codec := rb.Attributes & AttrCompressionMask
	if codec > 4 {
		return info, fmt.Errorf("%w: unknown compression codec %d", ErrCorruptBatch, codec)
	}
	if codec == 0 {
		if err := checkRecords(rb.Records, rb.NumRecords); err != nil {
			return info, err
		}
	}
	info = BatchInfo{
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
	return info, nil
}

// checkRecords walks n uncompressed records, checking their framing
// strictly, as Kafka does (every length inside its record, each record
// exactly as long as its length prefix says, nothing after the last one),
// and that the offset delta of the i-th is i.
func checkRecords(recs []byte, n int32) error {
	i := int32(0)
	err := codec.ReadRecords(recs, n, func(r *codec.Record) error {
		if r.OffsetDelta != i {
			return fmt.Errorf("%w: record %d has offset delta %d", ErrCorruptBatch, i, r.OffsetDelta)
		}
		i++
		return nil
	})
	if err != nil && !errors.Is(err, ErrCorruptBatch) {
		return fmt.Errorf("%w: %w", ErrCorruptBatch, err)
	}
	return err
}

// header is the part of a stored batch that the log needs when scanning.
type header struct {
	baseOffset      int64
	size            int // whole batch
	lastOffsetDelta int32
	maxTimestamp    int64
	attributes      int16
	producerID      int64
	producerEpoch   int16
	firstSeq        int32
}

func (h *header) lastOffset() int64 { return h.baseOffset + int64(h.lastOffsetDelta) }
func (h *header) nextOffset() int64 { return h.baseOffset + int64(h.lastOffsetDelta) + 1 }

// parseHeader reads a stored batch header from b (at least batchHeaderLen
// bytes). It checks the framing, not the CRC.
func parseHeader(b []byte) (header, error) {
	var h header
	if len(b) < batchHeaderLen {
		return h, ErrCorruptBatch
	}
	h.baseOffset = int64(binary.BigEndian.Uint64(b))
	l := int32(binary.BigEndian.Uint32(b[batchLengthOff:]))
	if l < batchHeaderLen-batchLogOverhead || b[batchMagicOff] != 2 {
		return h, ErrCorruptBatch
	}
	h.size = int(l) + batchLogOverhead
	h.attributes = int16(binary.BigEndian.Uint16(b[batchAttrOff:]))
	h.lastOffsetDelta = int32(binary.BigEndian.Uint32(b[23:]))
	h.maxTimestamp = int64(binary.BigEndian.Uint64(b[batchMaxTsOff:]))
	h.producerID = int64(binary.BigEndian.Uint64(b[43:]))
	h.producerEpoch = int16(binary.BigEndian.Uint16(b[51:]))
	h.firstSeq = int32(binary.BigEndian.Uint32(b[53:]))
	if h.lastOffsetDelta < 0 {
		return h, ErrCorruptBatch
	}
	return h, nil
}

// checkCRC verifies a whole stored batch.
func checkCRC(b []byte) bool {
	if len(b) < batchHeaderLen {
		return false
	}
	return crc32.Checksum(b[batchAttrOff:], crc32c) == binary.BigEndian.Uint32(b[batchCRCOff:])
}

// setBaseOffset and setLeaderEpoch patch fields outside the CRC's reach.
func setBaseOffset(b []byte, off int64)   { binary.BigEndian.PutUint64(b, uint64(off)) }
func setLeaderEpoch(b []byte, ep int32)   { binary.BigEndian.PutUint32(b[batchEpochOff:], uint32(ep)) }
func batchMaxTimestamp(b []byte) int64    { return int64(binary.BigEndian.Uint64(b[batchMaxTsOff:])) }
func batchFirstTimestamp(b []byte) int64  { return int64(binary.BigEndian.Uint64(b[27:])) }
func batchAttributes(b []byte) int16      { return int16(binary.BigEndian.Uint16(b[batchAttrOff:])) }
func batchBaseOffset(b []byte) int64      { return int64(binary.BigEndian.Uint64(b)) }
func batchLastOffsetDelta(b []byte) int32 { return int32(binary.BigEndian.Uint32(b[23:])) }

// SetLogAppendTime rewrites a batch to carry LogAppendTime ts: the timestamp
// type bit is set and MaxTimestamp becomes ts, and the CRC is recomputed.
func SetLogAppendTime(b []byte, ts int64) {
	attr := batchAttributes(b) | AttrTimestampType
	binary.BigEndian.PutUint16(b[batchAttrOff:], uint16(attr))
	binary.BigEndian.PutUint64(b[batchMaxTsOff:], uint64(ts))
	binary.BigEndian.PutUint32(b[batchCRCOff:], crc32.Checksum(b[batchAttrOff:], crc32c))
}
