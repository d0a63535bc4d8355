package storage

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/storage/codec"
	"github.com/eddy-streaming/eddy/storage/vfs"
)

// Producer state: what a partition remembers of idempotent and
// transactional producers, as Kafka's ProducerStateManager does.
//
// For every producer id it keeps the epoch, the sequence ranges and
// offsets of its last five batches (so a retried batch is answered with
// its original offsets instead of being written twice, and a gap is
// refused), and the first offset of its open transaction. Open
// transactions bound the last stable offset (LSO): read_committed
// consumers never read past the first offset of a transaction that is
// still open. Aborted transactions are listed so that Fetch can tell
// read_committed consumers which records to drop.
//
// The state is a pure function of the log: recovery rebuilds it by
// replaying batch headers (and control records) from the last snapshot,
// which is written when a segment rolls and when the log closes.

// Errors of idempotent and transactional appends; the protocol layer maps
// them to Kafka error codes.
var (
	// ErrDuplicate: the batch was already written; Append returns the
	// original base offset with it.
	ErrDuplicate = errors.New("duplicate batch")
	// ErrOutOfOrderSequence: the batch's sequence does not follow the last
	// one written (OUT_OF_ORDER_SEQUENCE_NUMBER).
	ErrOutOfOrderSequence = errors.New("out of order sequence number")
	// ErrInvalidProducerEpoch: the batch's epoch is older than the
	// producer's current one (INVALID_PRODUCER_EPOCH): a zombie.
	ErrInvalidProducerEpoch = errors.New("producer epoch is older than the current one")
	// ErrUnknownProducerID: no state for this producer and the batch does
	// not start at sequence 0 (UNKNOWN_PRODUCER_ID).
	ErrUnknownProducerID = errors.New("unknown producer id")
	// ErrInvalidTxnState: a non-transactional batch from a producer with an
	// open transaction, or a marker for none (INVALID_TXN_STATE).
	ErrInvalidTxnState = errors.New("invalid transaction state")
)

// maxProducerBatches is how many recent batches a producer's dedup window
// holds: clients keep at most five requests in flight per partition.
const maxProducerBatches = 5

type producerBatch struct {
	FirstSeq   int32 `json:"fs"`
	LastSeq    int32 `json:"ls"`
	BaseOffset int64 `json:"bo"`
	LastOffset int64 `json:"lo"`
}

type producerEntry struct {
	Epoch            int16           `json:"e"`
	Batches          []producerBatch `json:"b,omitempty"` // oldest first
	TxnFirst         int64           `json:"t"`           // first offset of the open transaction, -1 if none
	LastWrite        int64           `json:"w"`           // timestamp of the last write, for expiry
	CoordinatorEpoch int32           `json:"c"`
}

// AbortedTxn is one aborted transaction on a partition: its producer and
// the offsets from its first record to its abort marker.
type AbortedTxn struct {
	ProducerID  int64 `json:"p"`
	FirstOffset int64 `json:"f"`
	LastOffset  int64 `json:"l"`
}

type producerState struct {
	Producers map[int64]*producerEntry `json:"producers"`
	Aborted   []AbortedTxn             `json:"aborted,omitempty"` // by LastOffset
}

func newProducerState() *producerState {
	return &producerState{Producers: map[int64]*producerEntry{}}
}

// nextSeq is the sequence after s, wrapping as Kafka's sequences do.
func nextSeq(s int32, n int32) int32 {
	return int32((int64(s) + int64(n)) % (math.MaxInt32 + 1))
}

// check decides whether a data batch from a producer may be appended: it
// returns the duplicate's original batch, or an error. It changes nothing.
//
// A batch with info.Coordinator set is one the broker writes itself on
// behalf of a producer, as Kafka's AppendOrigin.COORDINATOR: the records
// of TxnOffsetCommit in __consumer_offsets, in a transactional batch with
// the producer's id and epoch and no sequence (-1, RecordBatch.NO_SEQUENCE).
// Only its epoch is checked (a fenced producer's batch is refused with
// ErrInvalidProducerEpoch); it has no sequence to deduplicate or to check
// for gaps, and takes no place in the producer's dedup window (update
// skips sequences below 0). Clients cannot set the flag: ValidateBatch
// leaves it false.
func (ps *producerState) check(info *BatchInfo) (*producerBatch, error) {
	e := ps.Producers[info.ProducerID]
	if info.Coordinator {
		switch {
		case e == nil:
		case info.ProducerEpoch < e.Epoch:
			return nil, fmt.Errorf("%w: epoch %d, current %d (producer %d)", ErrInvalidProducerEpoch, info.ProducerEpoch, e.Epoch, info.ProducerID)
		case e.TxnFirst >= 0 && !info.Transactional():
			return nil, fmt.Errorf("%w: producer %d has an open transaction", ErrInvalidTxnState, info.ProducerID)
		}
		return nil, nil
	}
	if e == nil {
		if info.FirstSequence != 0 {
			return nil, fmt.Errorf("%w: producer %d is unknown and its batch starts at sequence %d", ErrUnknownProducerID, info.ProducerID, info.FirstSequence)
		}
		return nil, nil
	}
	switch {
	case info.ProducerEpoch < e.Epoch:
		return nil, fmt.Errorf("%w: epoch %d, current %d (producer %d)", ErrInvalidProducerEpoch, info.ProducerEpoch, e.Epoch, info.ProducerID)
	case info.ProducerEpoch > e.Epoch:
		if info.FirstSequence != 0 {
			return nil, fmt.Errorf("%w: a new epoch %d must start at sequence 0, not %d", ErrOutOfOrderSequence, info.ProducerEpoch, info.FirstSequence)
		}
	default:
		last := nextSeq(info.FirstSequence, info.LastOffsetDelta)
		for i := range e.Batches {
			b := &e.Batches[i]
			if b.FirstSeq == info.FirstSequence && b.LastSeq == last {
				return b, nil
			}
		}
		if len(e.Batches) == 0 {
			if info.FirstSequence != 0 {
				return nil, fmt.Errorf("%w: expected sequence 0, got %d", ErrOutOfOrderSequence, info.FirstSequence)
			}
		} else if want := nextSeq(e.Batches[len(e.Batches)-1].LastSeq, 1); info.FirstSequence != want {
			return nil, fmt.Errorf("%w: expected sequence %d, got %d (producer %d)", ErrOutOfOrderSequence, want, info.FirstSequence, info.ProducerID)
		}
	}
	if e.TxnFirst >= 0 && !info.Transactional() {
		return nil, fmt.Errorf("%w: producer %d has an open transaction", ErrInvalidTxnState, info.ProducerID)
	}
	return nil, nil
}

// update records an appended batch (data or marker) of a producer. It is
// also how recovery replays the log, so it accepts whatever the log holds.
func (ps *producerState) update(pid int64, epoch int16, firstSeq int32, base, last int64, attrs int16, ts int64, marker *controlMarker) {
	e := ps.Producers[pid]
	if e == nil {
		e = &producerEntry{Epoch: epoch, TxnFirst: -1}
		ps.Producers[pid] = e
	}
	if epoch > e.Epoch {
		e.Epoch, e.Batches = epoch, e.Batches[:0]
	}
	e.LastWrite = max(e.LastWrite, ts)
	if marker != nil {
		if e.TxnFirst >= 0 && !marker.commit {
			ps.Aborted = append(ps.Aborted, AbortedTxn{ProducerID: pid, FirstOffset: e.TxnFirst, LastOffset: base})
		}
		e.TxnFirst = -1
		e.CoordinatorEpoch = marker.coordinatorEpoch
		return
	}
	if firstSeq >= 0 {
		e.Batches = append(e.Batches, producerBatch{FirstSeq: firstSeq, LastSeq: nextSeq(firstSeq, int32(last-base)), BaseOffset: base, LastOffset: last})
		if len(e.Batches) > maxProducerBatches {
			e.Batches = append(e.Batches[:0], e.Batches[len(e.Batches)-maxProducerBatches:]...)
		}
	}
	if attrs&AttrTransactional != 0 && e.TxnFirst < 0 {
		e.TxnFirst = base
	}
}

// firstUnstable returns the first offset of the oldest open transaction,
// or -1.
func (ps *producerState) firstUnstable() int64 {
	first := int64(-1)
	for _, e := range ps.Producers {
		if e.TxnFirst >= 0 && (first < 0 || e.TxnFirst < first) {
			first = e.TxnFirst
		}
	}
	return first
}

// abortedIn returns the aborted transactions that overlap [from, to).
func (ps *producerState) abortedIn(from, to int64) []AbortedTxn {
	i := sort.Search(len(ps.Aborted), func(i int) bool { return ps.Aborted[i].LastOffset >= from })
	var out []AbortedTxn
	for ; i < len(ps.Aborted); i++ {
		a := ps.Aborted[i]
		if a.FirstOffset < to {
			out = append(out, a)
		}
	}
	return out
}

// trim forgets aborted transactions wholly below logStart and producers
// idle since before expireBefore with no open transaction.
func (ps *producerState) trim(logStart, expireBefore int64) {
	i := sort.Search(len(ps.Aborted), func(i int) bool { return ps.Aborted[i].LastOffset >= logStart })
	ps.Aborted = append(ps.Aborted[:0], ps.Aborted[i:]...)
	for pid, e := range ps.Producers {
		if e.TxnFirst < 0 && e.LastWrite < expireBefore {
			delete(ps.Producers, pid)
		}
	}
}

func (ps *producerState) clone() *producerState {
	out := &producerState{Producers: make(map[int64]*producerEntry, len(ps.Producers)), Aborted: append([]AbortedTxn(nil), ps.Aborted...)}
	for pid, e := range ps.Producers {
		c := *e
		c.Batches = append([]producerBatch(nil), e.Batches...)
		out.Producers[pid] = &c
	}
	return out
}

// controlMarker is the content of a transaction marker.
type controlMarker struct {
	commit           bool
	coordinatorEpoch int32
}

// parseMarker reads the control record of a stored control batch.
func parseMarker(batch []byte) (*controlMarker, error) {
	recs, n, err := codec.BatchRecords(batch, 1<<20)
	if err != nil {
		return nil, err
	}
	var m *controlMarker
	err = codec.ReadRecords(recs, n, func(r *codec.Record) error {
		var key kmsg.ControlRecordKey
		if err := key.ReadFrom(r.Key); err != nil {
			return fmt.Errorf("control record key: %w", err)
		}
		var val kmsg.EndTxnMarker
		if err := val.ReadFrom(r.Value); err != nil {
			return fmt.Errorf("control record value: %w", err)
		}
		m = &controlMarker{commit: key.Type == kmsg.ControlRecordKeyTypeCommit, coordinatorEpoch: val.CoordinatorEpoch}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("control batch without a record")
	}
	return m, nil
}

// encodeSnapshot and decodeSnapshot store producer state as of an offset.
type producerSnapshot struct {
	Offset int64          `json:"offset"` // state after every batch below this offset
	State  *producerState `json:"state"`
}

func encodeSnapshot(off int64, ps *producerState) ([]byte, error) {
	return json.Marshal(producerSnapshot{Offset: off, State: ps})
}

func decodeSnapshot(b []byte) (int64, *producerState, error) {
	var s producerSnapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return 0, nil, err
	}
	if s.State == nil || s.State.Producers == nil {
		return 0, nil, errors.New("snapshot without state")
	}
	return s.Offset, s.State, nil
}

// encodeMarker builds the control batch of a transaction marker.
func encodeMarker(pid int64, epoch int16, commit bool, coordinatorEpoch int32, ts int64) []byte {
	key := kmsg.ControlRecordKey{Type: kmsg.ControlRecordKeyTypeAbort}
	if commit {
		key.Type = kmsg.ControlRecordKeyTypeCommit
	}
	val := kmsg.EndTxnMarker{CoordinatorEpoch: coordinatorEpoch}
	rec := codec.AppendRecord(nil, &codec.Record{Key: key.AppendTo(nil), Value: val.AppendTo(nil)})
	rb := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           AttrControl | AttrTransactional,
		FirstTimestamp:       ts,
		MaxTimestamp:         ts,
		ProducerID:           pid,
		ProducerEpoch:        epoch,
		FirstSequence:        -1,
		NumRecords:           1,
		Records:              rec,
	}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[batchLengthOff:], uint32(len(b)-batchLogOverhead))
	binary.BigEndian.PutUint32(b[batchCRCOff:], crc32.Checksum(b[batchAttrOff:], crc32c))
	return b
}

const snapshotSuffix = ".snapshot"

// rebuildProducers restores producer state at recovery: from the newest
// snapshot at or below the log end, then by replaying every batch after
// it. Snapshots past the log end (possible when fsync is off and a power
// loss took the tail) are removed.
func (l *Log) rebuildProducers() error {
	ps := newProducerState()
	from := int64(0)
	names, err := l.fs.List(l.dir)
	if err != nil {
		return err
	}
	best := int64(-1)
	for _, n := range names {
		if !strings.HasSuffix(n, snapshotSuffix) {
			continue
		}
		off, err := strconv.ParseInt(strings.TrimSuffix(n, snapshotSuffix), 10, 64)
		if err != nil {
			continue
		}
		p := path.Join(l.dir, n)
		if off > l.mu.leo {
			l.fs.Remove(p)
			continue
		}
		if off <= best {
			continue
		}
		raw, err := l.fs.ReadFile(p)
		if err != nil {
			continue
		}
		soff, st, err := decodeSnapshot(raw)
		if err != nil || soff != off {
			l.logger.Warn("ignoring a damaged producer snapshot", "file", p, "err", err)
			continue
		}
		best, ps, from = off, st, off
	}
	for _, seg := range l.mu.segs {
		if seg.next <= from || seg.size == 0 {
			continue
		}
		start := int64(0)
		if from > seg.base {
			start = seg.lookup(from)
		}
		_, err := scanSegment(seg.f, start, seg.size, true, func(_ int64, h *header, batch []byte) bool {
			if h.lastOffset() < from || h.producerID < 0 {
				return true
			}
			var m *controlMarker
			if h.attributes&AttrControl != 0 {
				if m, err = parseMarker(batch); err != nil {
					l.logger.Warn("unreadable transaction marker", "offset", h.baseOffset, "err", err)
					return true
				}
			}
			ps.update(h.producerID, h.producerEpoch, h.firstSeq, h.baseOffset, h.lastOffset(), h.attributes, h.maxTimestamp, m)
			return true
		})
		if err != nil {
			return err
		}
	}
	l.mu.producers = ps
	return nil
}

// writeSnapshotLocked saves the producer state as of the log end offset,
// which must be durable, and keeps only the two newest snapshots.
func (l *Log) writeSnapshotLocked() {
	raw, err := encodeSnapshot(l.mu.leo, l.mu.producers)
	if err == nil {
		err = vfs.WriteFileAtomic(l.fs, l.dir, segmentName(l.mu.leo)+snapshotSuffix, raw)
	}
	if err != nil {
		l.logger.Warn("writing producer snapshot", "err", err)
		return
	}
	names, err := l.fs.List(l.dir)
	if err != nil {
		return
	}
	var snaps []string
	for _, n := range names {
		if strings.HasSuffix(n, snapshotSuffix) {
			snaps = append(snaps, n) // names sort by offset
		}
	}
	for i := 0; i+2 < len(snaps); i++ {
		l.fs.Remove(path.Join(l.dir, snaps[i]))
	}
}
