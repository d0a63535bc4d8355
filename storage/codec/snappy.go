package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"
)

// Kafka's snappy comes in two shapes. The Java client wraps it in
// snappy-java's stream framing ("xerial"): a 16 byte header, the magic
// below followed by a big-endian version and minimum compatible version,
// then any number of chunks, each a big-endian uint32 length and a raw
// snappy block. librdkafka and franz-go's usual path write one raw snappy
// block. Readers tell them apart by the magic, as snappy-java itself does.

// xerialMagic starts a xerial framed stream.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// xerialHeader is what snappy-java's SnappyOutputStream writes: the magic,
// version 1 and minimum compatible version 1.
var xerialHeader = append(slices.Clip(xerialMagic), 0, 0, 0, 1, 0, 0, 0, 1)

const (
	xerialHeaderLen = 16
	// xerialBlockSize is the block size SnappyOutputStream writes by
	// default, and so the size of the chunks we write.
	xerialBlockSize = 32 << 10
	// maxSnappyRatio bounds how far standard snappy can expand its input:
	// the best element is a 3 byte copy of 64 bytes. A block that claims a
	// larger decoded length than this allows is corrupt, which we check
	// before allocating for it.
	maxSnappyRatio = 22
)

var errXerialFraming = errors.New("malformed xerial snappy framing")

func isXerial(src []byte) bool {
	return len(src) >= xerialHeaderLen && bytes.HasPrefix(src, xerialMagic)
}

func decompressSnappy(dst, src []byte, limit int) ([]byte, error) {
	if !isXerial(src) {
		n, err := snappyLen(src, limit)
		if err != nil {
			return nil, err
		}
		return snappyDecode(dst, src, n)
	}
	// Walk the chunk headers first, summing the decoded lengths the
	// chunks claim, so that dst grows once and an oversized stream fails
	// before anything is decoded.
	body := src[xerialHeaderLen:]
	total := 0
	for rem := body; len(rem) > 0; {
		chunk, rest, err := xerialChunk(rem)
		if err != nil {
			return nil, err
		}
		n, err := snappyLen(chunk, limit-total)
		if err != nil {
			return nil, err
		}
		total += n
		rem = rest
	}
	dst = slices.Grow(dst, total)
	for rem := body; len(rem) > 0; {
		chunk, rest, _ := xerialChunk(rem)
		n, _ := snappy.DecodedLen(chunk)
		var err error
		if dst, err = snappyDecode(dst, chunk, n); err != nil {
			return nil, err
		}
		rem = rest
	}
	return dst, nil
}

// xerialChunk splits the first chunk off a xerial stream's body.
func xerialChunk(b []byte) (chunk, rest []byte, err error) {
	if len(b) < 4 {
		return nil, nil, errXerialFraming
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, errXerialFraming
	}
	return b[4 : 4+n], b[4+n:], nil
}

// snappyLen returns the decoded length a raw snappy block declares,
// checking it against limit and against what the block could possibly
// decode to.
func snappyLen(block []byte, limit int) (int, error) {
	n, err := snappy.DecodedLen(block)
	if err != nil {
		return 0, err
	}
	if n > limit {
		return 0, errTooLarge(uint64(n), limit)
	}
	if n/maxSnappyRatio > len(block) {
		return 0, fmt.Errorf("%w: snappy block of %d bytes claims %d decoded bytes", ErrCorrupt, len(block), n)
	}
	return n, nil
}

// snappyDecode appends the raw snappy block src, of decoded length n, to
// dst. DecodeStrict rejects the S2 extensions that s2.Decode would accept.
func snappyDecode(dst, src []byte, n int) ([]byte, error) {
	dst = slices.Grow(dst, n)
	at := len(dst)
	// With the room there, DecodeStrict decodes in place.
	if _, err := snappy.DecodeStrict(dst[at:at+n], src); err != nil {
		return nil, err
	}
	return dst[:at+n], nil
}

// compressSnappy appends src to dst in xerial framing, as snappy-java's
// SnappyOutputStream writes it.
func compressSnappy(dst, src []byte) []byte {
	blocks := (len(src) + xerialBlockSize - 1) / xerialBlockSize
	dst = slices.Grow(dst, xerialHeaderLen+blocks*(4+s2.MaxEncodedLen(xerialBlockSize)))
	dst = append(dst, xerialHeader...)
	for len(src) > 0 {
		n := min(len(src), xerialBlockSize)
		at := len(dst)
		// EncodeSnappy encodes in place given the room, which Grow made;
		// the length prefix is filled in once the block's size is known.
		block := s2.EncodeSnappy(dst[at+4:cap(dst)], src[:n])
		binary.BigEndian.PutUint32(dst[at:at+4], uint32(len(block)))
		dst = dst[:at+4+len(block)]
		src = src[n:]
	}
	return dst
}
