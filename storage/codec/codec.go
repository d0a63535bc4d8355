// Package codec looks inside stored Kafka record batches (magic 2): it
// compresses and decompresses the records section of a batch with the five
// codecs Kafka defines, and reads and writes the records themselves.
//
// The broker needs this whenever it must see individual records of a batch:
// validating a produced batch, finding the record for a timestamp inside a
// compressed batch, and rebuilding batches during log compaction.
//
// Decompression is bounded: every decompressing function takes a limit and
// fails with [ErrTooLarge] rather than produce more than limit bytes, and
// none of them allocates much more than limit bytes on the way (besides the
// codecs' pooled working buffers, up to 2x4 MiB for lz4), whatever the
// compressed input claims. Malformed input fails with an error wrapping
// [ErrCorrupt]; no input makes these functions panic.
package codec

import (
	"errors"
	"fmt"
	"math"
)

// The compression codecs of a record batch, as stored in the low three bits
// of the batch attributes.
const (
	None   int8 = 0
	Gzip   int8 = 1
	Snappy int8 = 2
	LZ4    int8 = 3
	Zstd   int8 = 4
)

// Errors returned by this package. Errors are wrapped with detail; test for
// them with errors.Is.
var (
	// ErrTooLarge is returned when decompressed data would exceed the
	// caller's limit: a size error for the protocol layer
	// (RECORD_LIST_TOO_LARGE), not corruption.
	ErrTooLarge = errors.New("codec: decompressed data exceeds limit")

	// ErrCorrupt is returned for malformed compressed data, a malformed
	// records section, or a malformed batch header.
	ErrCorrupt = errors.New("codec: corrupt data")

	// ErrUnsupportedCodec is returned for a codec number other than the
	// five Kafka defines.
	ErrUnsupportedCodec = errors.New("codec: unsupported compression codec")
)

// Name returns the Kafka name of a codec ("none", "gzip", "snappy", "lz4",
// "zstd"), or "unknown(n)".
func Name(codec int8) string {
	switch codec {
	case None:
		return "none"
	case Gzip:
		return "gzip"
	case Snappy:
		return "snappy"
	case LZ4:
		return "lz4"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("unknown(%d)", codec)
}

// Decompress returns src decompressed with codec, failing with ErrTooLarge
// instead of producing more than limit bytes (a negative limit counts as
// zero).
//
// For None, src itself is returned, subject to the same limit. Otherwise
// the result is a new slice that does not alias src.
//
// Snappy accepts both the raw snappy block format (librdkafka, franz-go)
// and the xerial snappy-java framing the Java client writes; gzip accepts
// concatenated members; lz4 accepts the LZ4 frame format (not the legacy
// broken-checksum framing of magic 0 and 1 batches); zstd accepts
// concatenated and skippable frames and windows up to 128 MiB, the default
// limit of the reference decoder that Java consumers use. Snappy is decoded
// strictly: the S2 extensions that github.com/klauspost/compress/s2 would
// accept, and that no Java consumer can read, are rejected as corrupt.
func Decompress(codec int8, src []byte, limit int) ([]byte, error) {
	if codec == None {
		if len(src) > max(limit, 0) {
			return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(src), limit)
		}
		return src, nil
	}
	return AppendDecompress(nil, codec, src, limit)
}

// AppendDecompress appends src decompressed with codec to dst and returns
// the extended slice. At most limit bytes are appended (a negative limit
// counts as zero); past that it fails with ErrTooLarge. On error the
// returned slice is nil; dst's spare capacity may have been written to.
//
// It is Decompress for callers that pool their output buffers; for None it
// copies src. dst and src must not overlap.
func AppendDecompress(dst []byte, codec int8, src []byte, limit int) ([]byte, error) {
	limit = max(limit, 0)
	var (
		out []byte
		err error
	)
	switch codec {
	case None:
		if len(src) > limit {
			return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(src), limit)
		}
		return append(dst, src...), nil
	case Gzip:
		out, err = decompressGzip(dst, src, limit)
	case Snappy:
		out, err = decompressSnappy(dst, src, limit)
	case LZ4:
		out, err = decompressLZ4(dst, src, limit)
	case Zstd:
		out, err = decompressZstd(dst, src, limit)
	default:
		return nil, fmt.Errorf("%w: %d", ErrUnsupportedCodec, codec)
	}
	if err != nil {
		return nil, classify(codec, err)
	}
	return out, nil
}

// classify wraps a decoding error so that it matches ErrCorrupt, unless it
// already reports the limit.
func classify(codec int8, err error) error {
	if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrCorrupt) {
		return err
	}
	return fmt.Errorf("%w: %s: %w", ErrCorrupt, Name(codec), err)
}

// Compress returns src compressed with codec, in the format Kafka clients
// expect inside a record batch. For None it returns src itself; otherwise
// the result is a new slice.
//
// Gzip, lz4 and zstd are written the way franz-go's kgo producer writes
// them (default gzip level; an lz4 frame with pierrec/lz4's defaults; a
// zstd frame with its content size and a 64 KiB window). Snappy is written
// in the xerial snappy-java framing with 32 KiB blocks, which is what the
// Java producer and the Java broker's own recompression write, so
// rewritten batches read back exactly like ones Kafka itself produced;
// every client reads it (kgo writes the same framing when it merges
// batches, and librdkafka, sarama and snappy-java detect the header).
func Compress(codec int8, src []byte) ([]byte, error) {
	if codec == None {
		return src, nil
	}
	return AppendCompress(nil, codec, src)
}

// AppendCompress appends src compressed with codec to dst and returns the
// extended slice; for None it appends src unchanged. The compaction cleaner
// uses it to compress a rebuilt records section straight after the batch
// header it has already written. dst and src must not overlap.
func AppendCompress(dst []byte, codec int8, src []byte) ([]byte, error) {
	if len(src) > math.MaxInt32 {
		// No Kafka batch is this large, and snappy cannot frame it.
		return nil, fmt.Errorf("codec: %d bytes is too large to compress", len(src))
	}
	switch codec {
	case None:
		return append(dst, src...), nil
	case Gzip:
		return compressGzip(dst, src)
	case Snappy:
		return compressSnappy(dst, src), nil
	case LZ4:
		return compressLZ4(dst, src)
	case Zstd:
		return compressZstd(dst, src), nil
	}
	return nil, fmt.Errorf("%w: %d", ErrUnsupportedCodec, codec)
}
