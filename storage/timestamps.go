package storage

import (
	"fmt"

	"github.com/eddy-streaming/eddy/storage/codec"
)

// lookupLimit caps how far a compressed batch may inflate while the log
// looks inside it for a timestamp: a batch can hold at most
// max.message.bytes compressed, and codecs rarely exceed 20x on real data.
const lookupLimit = 64 << 20

// OffsetForTimestamp returns the first offset at or after the log start
// whose record timestamp is >= ts, with that record's timestamp (Kafka's
// ListOffsets by timestamp). found is false when no visible record is that
// new. It uses the time index to skip older batches and inflates at most
// one batch, with a cap.
func (l *Log) OffsetForTimestamp(ts int64) (offset, recordTs int64, found bool, err error) {
	type segView struct {
		s     *segment
		size  int64
		start int64 // from the time index, which appends modify: read under mu
	}
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		return 0, 0, false, ErrClosed
	}
	hw, logStart := l.mu.hw, l.mu.logStart
	var views []segView
	for _, s := range l.mu.segs {
		if s.next <= logStart || s.maxTs < ts {
			continue
		}
		s.acquire()
		views = append(views, segView{s, s.size, s.lookupTime(ts)})
	}
	l.mu.Unlock()
	defer func() {
		for _, v := range views {
			v.s.release()
		}
	}()

	for _, v := range views {
		var rerr error
		_, err := scanSegment(v.s.f, v.start, v.size, true, func(_ int64, h *header, batch []byte) bool {
			if h.baseOffset >= hw {
				return false
			}
			if h.maxTimestamp >= ts && h.lastOffset() >= logStart {
				// A batch straddling the log start may hold its new
				// enough records only below it: then keep looking.
				offset, recordTs, found, rerr = recordAtOrAfter(batch, ts, logStart)
				return !found && rerr == nil
			}
			return true
		})
		if err != nil {
			return 0, 0, false, fmt.Errorf("%w: %w", ErrFailed, err)
		}
		if rerr != nil || found {
			return offset, recordTs, found, rerr
		}
	}
	return 0, 0, false, nil
}

// recordAtOrAfter finds, inside one batch whose max timestamp is >= ts, the
// first record at or after minOffset with a timestamp >= ts. found is false
// when the batch's only records that new lie below minOffset.
func recordAtOrAfter(batch []byte, ts, minOffset int64) (int64, int64, bool, error) {
	base := batchBaseOffset(batch)
	attr := batchAttributes(batch)
	if attr&AttrTimestampType != 0 { // LogAppendTime: every record has MaxTimestamp
		return max(base, minOffset), batchMaxTimestamp(batch), true, nil
	}
	recs, n, err := codec.BatchRecords(batch, lookupLimit)
	if err != nil {
		return 0, 0, false, fmt.Errorf("%w: reading batch at offset %d: %w", ErrFailed, base, err)
	}
	first := batchFirstTimestamp(batch)
	off, rts, found, newer := int64(0), int64(0), false, false
	err = codec.ReadRecords(recs, n, func(r *codec.Record) error {
		o := base + int64(r.OffsetDelta)
		t := first + r.TimestampDelta
		newer = newer || t >= ts
		if !found && o >= minOffset && t >= ts {
			off, rts, found = o, t, true
		}
		return nil
	})
	if err != nil {
		return 0, 0, false, fmt.Errorf("%w: reading batch at offset %d: %w", ErrFailed, base, err)
	}
	if !newer { // max timestamp said otherwise; trust the header
		return max(base, minOffset), batchMaxTimestamp(batch), true, nil
	}
	return off, rts, found, nil
}

// MaxTimestamp returns the largest record timestamp among visible batches
// and the offset of the last record of the batch that holds it (Kafka's
// ListOffsets MAX_TIMESTAMP). found is false for an empty log.
func (l *Log) MaxTimestamp() (offset, ts int64, found bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ts = -1
	for _, s := range l.mu.segs {
		if s.next <= l.mu.logStart || s.maxTsOffset < 0 || s.maxTsOffset >= l.mu.hw {
			continue
		}
		if s.maxTs >= ts {
			ts, offset, found = s.maxTs, s.maxTsOffset, true
		}
	}
	return offset, ts, found
}
