package codec

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// BatchHeaderLen is the size of a magic 2 record batch header: everything
// before the records section.
const BatchHeaderLen = 61

// batchLogOverhead is the part of the header its Length field does not
// count: FirstOffset and Length themselves.
const batchLogOverhead = 12

// BatchRecords returns the records section of a whole magic 2 record batch,
// decompressed with the codec in the batch attributes, and the number of
// records the header announces; pass both to ReadRecords or a
// RecordReader. At most limit bytes are decompressed, as Decompress
// describes.
//
// For an uncompressed batch the records alias batch. An empty records
// section announcing no records is returned as is, whatever the codec:
// that is how compaction leaves a batch whose records it all removed.
//
// BatchRecords checks the header's magic and length and that the record
// count is not negative, but not the CRC; verify that first where the
// bytes are untrusted.
func BatchRecords(batch []byte, limit int) (records []byte, numRecords int32, err error) {
	if len(batch) < BatchHeaderLen {
		return nil, 0, fmt.Errorf("%w: %d byte batch is shorter than a batch header", ErrCorrupt, len(batch))
	}
	var b kmsg.RecordBatch
	if err := b.UnsafeReadFrom(batch); err != nil {
		return nil, 0, fmt.Errorf("%w: batch header: %w", ErrCorrupt, err)
	}
	switch {
	case b.Magic != 2:
		return nil, 0, fmt.Errorf("%w: batch magic %d, want 2", ErrCorrupt, b.Magic)
	case int64(b.Length) != int64(len(batch)-batchLogOverhead):
		return nil, 0, fmt.Errorf("%w: batch length %d for a %d byte batch", ErrCorrupt, b.Length, len(batch))
	case b.NumRecords < 0:
		return nil, 0, fmt.Errorf("%w: negative record count %d", ErrCorrupt, b.NumRecords)
	}
	if b.NumRecords == 0 && len(b.Records) == 0 {
		return b.Records, 0, nil
	}
	records, err = Decompress(int8(b.Attributes&0x07), b.Records, limit)
	if err != nil {
		return nil, 0, err
	}
	return records, b.NumRecords, nil
}
