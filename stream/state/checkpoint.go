package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Checkpoint says which part of its changelog topic a persistent store's
// content corresponds to (Kafka Streams' .checkpoint file, kept inside
// the store: see Pebble.SetCheckpoint). It is written by the stream
// runtime; on start a store with a checkpoint it trusts restores only the
// changelog records from Offset on.
type Checkpoint struct {
	// TopicID is the changelog topic's id (zero: not known). A changelog
	// deleted and created again has another id.
	TopicID [16]byte
	// Partition is the changelog partition.
	Partition int32
	// Offset is the changelog offset the store holds the changelog up to
	// (exclusive): every changelog record below it is applied.
	Offset int64
	// Exact: the store holds nothing else, i.e. no write after Offset and
	// no write that is missing from the changelog. Without it the store
	// may hold writes beyond Offset, some of which never reached the
	// changelog (the process died between writing the store and the
	// changelog acknowledging).
	Exact bool
}

// ErrBadCheckpoint is returned for a checkpoint record that cannot be
// decoded: truncated, of an unknown version, or failing its checksum.
var ErrBadCheckpoint = errors.New("state: bad checkpoint record")

const (
	checkpointVersion = 1
	checkpointLen     = 1 + 1 + 16 + 4 + 8 + 4 // version, flags, id, partition, offset, crc32c
	flagExact         = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// AppendTo appends the encoding of c to b: version, flags, topic id,
// partition, offset (big endian), then a CRC-32C of what precedes it.
func (c Checkpoint) AppendTo(b []byte) []byte {
	start := len(b)
	var flags byte
	if c.Exact {
		flags |= flagExact
	}
	b = append(b, checkpointVersion, flags)
	b = append(b, c.TopicID[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(c.Partition))
	b = binary.BigEndian.AppendUint64(b, uint64(c.Offset))
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// ParseCheckpoint decodes what AppendTo wrote.
func ParseCheckpoint(b []byte) (Checkpoint, error) {
	var c Checkpoint
	if len(b) != checkpointLen {
		return c, fmt.Errorf("%w: %d bytes, want %d", ErrBadCheckpoint, len(b), checkpointLen)
	}
	if b[0] != checkpointVersion {
		return c, fmt.Errorf("%w: version %d", ErrBadCheckpoint, b[0])
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return c, fmt.Errorf("%w: checksum mismatch", ErrBadCheckpoint)
	}
	c.Exact = b[1]&flagExact != 0
	copy(c.TopicID[:], b[2:18])
	c.Partition = int32(binary.BigEndian.Uint32(b[18:22]))
	c.Offset = int64(binary.BigEndian.Uint64(b[22:30]))
	if c.Offset < 0 {
		return c, fmt.Errorf("%w: offset %d", ErrBadCheckpoint, c.Offset)
	}
	return c, nil
}
