package storage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sort"
	"sync/atomic"

	"github.com/eddy-streaming/eddy/storage/vfs"
)

// A segment is one file of consecutive record batches, named after the
// offset of its first batch, with two sparse indexes kept in memory and
// written beside it when the segment is rolled or the log is closed:
//
//	00000000000000000000.log        the batches exactly as stored
//	00000000000000000000.index      (uint32 relative offset, uint32 position) every index.interval.bytes
//	00000000000000000000.timeindex  (int64 max timestamp so far, uint32 relative offset)
//
// each index file ending with a checksum (see indexSum).
//
// The index files are hints: recovery rebuilds any that are missing or do
// not agree with the log file.
type segment struct {
	base int64
	f    vfs.File
	path string // without extension

	// Guarded by the owning Log's mu.
	size            int64 // bytes of whole batches in the file
	next            int64 // offset after the last batch
	maxTs           int64 // largest batch MaxTimestamp, -1 if none
	maxTsOffset     int64 // offset of the last record of the batch with maxTs
	index           []indexEntry
	tindex          []timeEntry
	bytesSinceIndex int
	rollAt          int64 // unix millis after which segment.ms rolls this segment; 0 = not set

	refs    atomic.Int32 // readers in flight; the file closes at zero after removal
	removed atomic.Bool
}

type indexEntry struct {
	rel uint32 // offset - base of a batch's first offset
	pos uint32 // position of that batch in the file
}

type timeEntry struct {
	ts  int64  // max timestamp of all batches up to and including this one
	rel uint32 // relative base offset of the batch
}

const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
	indexEntryLen   = 8
	timeEntryLen    = 12
)

func segmentName(base int64) string { return fmt.Sprintf("%020d", base) }

// addBatch records a batch appended at position pos in the in-memory state
// and indexes.
func (s *segment) addBatch(pos int64, h *header, indexInterval int) {
	if len(s.index) == 0 || s.bytesSinceIndex >= indexInterval {
		s.index = append(s.index, indexEntry{rel: uint32(h.baseOffset - s.base), pos: uint32(pos)})
		mx := max(s.maxTs, h.maxTimestamp)
		if len(s.tindex) == 0 || mx > s.tindex[len(s.tindex)-1].ts {
			s.tindex = append(s.tindex, timeEntry{ts: mx, rel: uint32(h.baseOffset - s.base)})
		}
		s.bytesSinceIndex = 0
	}
	s.bytesSinceIndex += h.size
	if h.maxTimestamp >= s.maxTs {
		s.maxTs = h.maxTimestamp
		s.maxTsOffset = h.lastOffset()
	}
	s.size = pos + int64(h.size)
	s.next = h.nextOffset()
}

// lookup returns the file position of the indexed batch with the largest
// base offset <= off, from which a scan finds the batch holding off.
func (s *segment) lookup(off int64) int64 {
	rel := off - s.base
	i := sort.Search(len(s.index), func(i int) bool { return int64(s.index[i].rel) > rel })
	if i == 0 {
		return 0
	}
	return int64(s.index[i-1].pos)
}

// lookupTime returns a file position from which a scan finds the first batch
// whose max timestamp is >= ts.
func (s *segment) lookupTime(ts int64) int64 {
	// Entries are ordered by ts. The last entry with ts < target bounds the
	// batches known to be entirely older; scan from it.
	i := sort.Search(len(s.tindex), func(i int) bool { return s.tindex[i].ts >= ts })
	if i == 0 {
		return 0
	}
	return s.lookup(s.base + int64(s.tindex[i-1].rel))
}

func (s *segment) acquire() { s.refs.Add(1) }

func (s *segment) release() {
	if s.refs.Add(-1) == 0 && s.removed.Load() {
		s.f.Close()
	}
}

// markRemoved closes the file once no reader holds it.
func (s *segment) markRemoved() {
	s.removed.Store(true)
	if s.refs.Load() == 0 {
		s.f.Close()
	}
}

// Index files end with a CRC-32C of their entries, the segment's base
// offset and its size, so that recovery rebuilds a file that is corrupt, or
// belongs to another segment or to an earlier state of this one, rather
// than trust entries that merely look plausible (a wrong position or
// offset makes reads skip records; a wrong timestamp misleads retention).
const indexSumLen = 4

func indexSum(entries []byte, base, size int64) uint32 {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:], uint64(base))
	binary.BigEndian.PutUint64(b[8:], uint64(size))
	return crc32.Update(crc32.Checksum(entries, crc32c), crc32c, b[:])
}

// appendIndexSum appends the checksum trailer to encoded index entries.
func appendIndexSum(entries []byte, base, size int64) []byte {
	return binary.BigEndian.AppendUint32(entries, indexSum(entries, base, size))
}

// checkIndexSum returns the entries of an index file if its trailer matches
// the segment.
func checkIndexSum(b []byte, base, size int64) ([]byte, bool) {
	n := len(b) - indexSumLen
	if n < 0 || binary.BigEndian.Uint32(b[n:]) != indexSum(b[:n], base, size) {
		return nil, false
	}
	return b[:n], true
}

func encodeIndex(idx []indexEntry) []byte {
	b := make([]byte, len(idx)*indexEntryLen)
	for i, e := range idx {
		binary.BigEndian.PutUint32(b[i*indexEntryLen:], e.rel)
		binary.BigEndian.PutUint32(b[i*indexEntryLen+4:], e.pos)
	}
	return b
}

func encodeTimeIndex(idx []timeEntry) []byte {
	b := make([]byte, len(idx)*timeEntryLen)
	for i, e := range idx {
		binary.BigEndian.PutUint64(b[i*timeEntryLen:], uint64(e.ts))
		binary.BigEndian.PutUint32(b[i*timeEntryLen+8:], e.rel)
	}
	return b
}

// decodeIndex parses an index file and checks it is consistent with a
// segment of size bytes whose batches end at offset next: sorted, in range.
func decodeIndex(b []byte, size int64, base, next int64) ([]indexEntry, bool) {
	if len(b)%indexEntryLen != 0 || (len(b) == 0 && size > 0) {
		return nil, false
	}
	idx := make([]indexEntry, len(b)/indexEntryLen)
	for i := range idx {
		e := indexEntry{
			rel: binary.BigEndian.Uint32(b[i*indexEntryLen:]),
			pos: binary.BigEndian.Uint32(b[i*indexEntryLen+4:]),
		}
		if int64(e.pos) >= size || base+int64(e.rel) >= next {
			return nil, false
		}
		if i > 0 && (e.rel <= idx[i-1].rel || e.pos <= idx[i-1].pos) {
			return nil, false
		}
		if i == 0 && (e.rel != 0 || e.pos != 0) {
			return nil, false
		}
		idx[i] = e
	}
	return idx, true
}

func decodeTimeIndex(b []byte, base, next int64) ([]timeEntry, bool) {
	if len(b)%timeEntryLen != 0 {
		return nil, false
	}
	idx := make([]timeEntry, len(b)/timeEntryLen)
	for i := range idx {
		e := timeEntry{
			ts:  int64(binary.BigEndian.Uint64(b[i*timeEntryLen:])),
			rel: binary.BigEndian.Uint32(b[i*timeEntryLen+8:]),
		}
		if base+int64(e.rel) >= next {
			return nil, false
		}
		if i > 0 && (e.rel <= idx[i-1].rel || e.ts < idx[i-1].ts) {
			return nil, false
		}
		idx[i] = e
	}
	return idx, true
}
