package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/eddy-streaming/eddy/storage/codec"
	"github.com/eddy-streaming/eddy/storage/vfs"
)

// Log compaction (cleanup.policy=compact) keeps at least the latest record
// for every key, never changes an offset, and removes tombstones (records
// with a null value) once they are older than delete.retention.ms.
//
// One pass of Compact:
//  1. picks the cleanable segments: every rolled segment below both the
//     high watermark and the last stable offset whose newest record is
//     older than min.compaction.lag.ms (the active segment is never
//     cleaned, so producers and consumers of the tail are never touched,
//     and neither is a record of a transaction still open);
//  2. builds a map from a 128-bit hash of each key to the offset of its
//     latest record in those segments, bounded to MaxKeys entries: when
//     the keys do not fit, only the leading segments whose keys fit are
//     cleaned this pass (bounded memory, as Kafka's dedupe buffer).
//     Records of aborted transactions never enter the map: an aborted
//     write must not shadow the committed value of its key (an aborted
//     TxnOffsetCommit in __consumer_offsets would otherwise erase the
//     group's committed offset). Records of committed transactions count
//     as ordinary records;
//  3. rewrites each segment 1:1 into <base>.cleaned, keeping a record when
//     it is the latest for its key (or has no key), dropping old
//     tombstones and every record of an aborted transaction; batches left
//     whole are copied byte for byte, others are rebuilt with their
//     surviving records at their original offsets, compressed with the
//     same codec. A transaction marker is kept while any record of its
//     transaction is, so a replay of the log still sees the transaction
//     end; once none is left it goes after delete.retention.ms, as a
//     tombstone does;
//  4. swaps each rewritten segment in: its index files are removed, the
//     .cleaned file is fsynced and renamed over the .log file (the atomic
//     commit point), and new index files are written. Readers holding the
//     old file keep reading it until they finish.
//
// A crash at any point leaves each segment either old or cleaned; recovery
// removes leftover .cleaned files and rebuilds missing indexes. Compaction
// never runs concurrently with itself on one log (the caller runs one
// cleaner), and it takes the log's lock only to snapshot and to swap.

// CompactionConfig is the topic's compaction settings.
type CompactionConfig struct {
	DeleteRetentionMs  int64 // delete.retention.ms: how long tombstones stay
	MinCompactionLagMs int64 // min.compaction.lag.ms: how long a record stays uncompacted
	// MinCleanableRatio (min.cleanable.dirty.ratio) skips a pass while less
	// than this fraction of the cleanable bytes is new since the last pass.
	MinCleanableRatio float64
	// MaxKeys bounds the key map (about 40 bytes per key). 0: 4M keys.
	MaxKeys int
}

// CompactStats describes one compaction pass.
type CompactStats struct {
	Segments       int   // segments rewritten
	BytesBefore    int64 // their size before
	BytesAfter     int64 // and after
	RecordsKept    int64
	RecordsGone    int64
	TombstonesGone int64
	AbortedGone    int64 // records of aborted transactions removed
	MarkersGone    int64 // transaction markers removed (no record of theirs left)

	oldestTombstone int64 // timestamp of the oldest tombstone kept
}

const (
	cleanedSuffix   = ".cleaned"
	cleanerCkptFile = "cleaner-offset-checkpoint"
	defaultMaxKeys  = 4 << 20
)

var errStopScan = errors.New("stop scan")

type keyHash [2]uint64

type keyHasher struct{ a, b maphash.Seed }

func newKeyHasher() keyHasher { return keyHasher{maphash.MakeSeed(), maphash.MakeSeed()} }

func (h keyHasher) sum(key []byte) keyHash {
	return keyHash{maphash.Bytes(h.a, key), maphash.Bytes(h.b, key)}
}

// Compact runs one compaction pass. It returns zero stats when there is
// nothing worth cleaning.
func (l *Log) Compact(cfg CompactionConfig) (CompactStats, error) {
	var stats CompactStats
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = defaultMaxKeys
	}
	now := l.now().UnixMilli()

	type segView struct {
		s    *segment
		size int64
		next int64
	}
	l.mu.Lock()
	if l.mu.closed || l.mu.failed != nil {
		l.mu.Unlock()
		return stats, nil
	}
	stable := l.mu.hw
	if first := l.mu.producers.firstUnstable(); first >= 0 && first < stable {
		stable = first
	}
	aborted := newAbortedSet(l.mu.producers.Aborted)
	var views []segView
	for _, s := range l.mu.segs[:len(l.mu.segs)-1] {
		if s.next > stable || (s.maxTs >= 0 && now-s.maxTs < cfg.MinCompactionLagMs) {
			break // keep order: clean a prefix of the log
		}
		s.acquire()
		views = append(views, segView{s, s.size, s.next})
	}
	checkpoint := l.cleanerCheckpointLocked()
	interval := l.mu.cfg.IndexIntervalBytes
	l.mu.Unlock()
	defer func() {
		for _, v := range views {
			v.s.release()
		}
	}()
	if len(views) == 0 {
		return stats, nil
	}
	var total, dirty int64
	for _, v := range views {
		total += v.size
		if v.next > checkpoint {
			dirty += v.size
		}
	}
	l.mu.Lock()
	due := l.mu.tombstonesDue
	l.mu.Unlock()
	tombstonesDue := due == 0 || now >= due // 0: unknown (after a restart)
	if total == 0 || (float64(dirty)/float64(total) < cfg.MinCleanableRatio && !tombstonesDue) {
		return stats, nil
	}

	// Pass 1: the latest offset of every key, over as many leading
	// segments as fit in MaxKeys.
	hasher := newKeyHasher()
	latest := make(map[keyHash]int64)
	end := 0
	for i, v := range views {
		added := map[keyHash]int64{}
		err := eachRecord(v.s.f, v.size, func(h *header, off int64, _ int64, r *codec.Record) error {
			if r.Key != nil && !aborted.contains(h) {
				added[hasher.sum(r.Key)] = off
			}
			return nil
		})
		if err != nil {
			return stats, err
		}
		grow := 0
		for k := range added {
			if _, ok := latest[k]; !ok {
				grow++
			}
		}
		if len(latest)+grow > cfg.MaxKeys && i > 0 {
			break
		}
		for k, off := range added {
			latest[k] = off
		}
		end = i + 1
	}

	// Pass 2: rewrite and swap each segment.
	horizon := now - cfg.DeleteRetentionMs
	oldestTombstone := int64(math.MaxInt64)
	txns := txnCleaning{aborted: aborted, kept: map[int64]bool{}, snapshotFloor: l.oldestSnapshot()}
	for _, v := range views[:end] {
		st, err := l.cleanSegment(v.s, v.size, latest, hasher, horizon, interval, &txns)
		if err != nil {
			return stats, err
		}
		stats.Segments++
		stats.BytesBefore += v.size
		stats.BytesAfter += st.BytesAfter
		stats.RecordsKept += st.RecordsKept
		stats.RecordsGone += st.RecordsGone
		stats.TombstonesGone += st.TombstonesGone
		stats.AbortedGone += st.AbortedGone
		stats.MarkersGone += st.MarkersGone
		oldestTombstone = min(oldestTombstone, st.oldestTombstone)
	}
	// A later pass must run, however clean the log is, once the oldest
	// kept tombstone may go.
	l.mu.Lock()
	if oldestTombstone == math.MaxInt64 || end < len(views) {
		l.mu.tombstonesDue = math.MaxInt64
		if end < len(views) {
			l.mu.tombstonesDue = 0
		}
	} else {
		l.mu.tombstonesDue = oldestTombstone + cfg.DeleteRetentionMs + 1
	}
	l.mu.Unlock()
	if err := l.setCleanerCheckpoint(views[end-1].next); err != nil {
		return stats, err
	}
	l.logger.Debug("compacted", "segments", stats.Segments, "bytes_before", stats.BytesBefore,
		"bytes_after", stats.BytesAfter, "records_removed", stats.RecordsGone, "tombstones_removed", stats.TombstonesGone)
	return stats, nil
}

// abortedSet answers whether a transactional batch belongs to an aborted
// transaction: the transactions of one producer never overlap, so a batch
// of producer P is aborted when its base offset lies between the first
// offset and the abort marker of one of P's aborted transactions.
type abortedSet map[int64][]AbortedTxn // by producer, ordered by offset

func newAbortedSet(all []AbortedTxn) abortedSet {
	s := abortedSet{}
	for _, a := range all {
		s[a.ProducerID] = append(s[a.ProducerID], a)
	}
	return s
}

func (s abortedSet) contains(h *header) bool {
	if h.attributes&AttrTransactional == 0 || h.attributes&AttrControl != 0 {
		return false
	}
	txns := s[h.producerID]
	i := sort.Search(len(txns), func(i int) bool { return txns[i].LastOffset >= h.baseOffset })
	return i < len(txns) && txns[i].FirstOffset <= h.baseOffset
}

// txnCleaning is what one pass tracks of transactions while it rewrites
// the segments in offset order.
type txnCleaning struct {
	aborted abortedSet
	// kept: producers whose current transaction has a record kept so
	// far; its marker must stay.
	kept map[int64]bool
	// snapshotFloor: markers at or above the oldest producer snapshot
	// stay. Recovery replays the log from a snapshot, which may have been
	// taken inside a transaction: the replay must meet its marker.
	snapshotFloor int64
}

// eachRecord calls fn for every record of the first size bytes of f, with
// its batch's header and the record's offset and timestamp.
func eachRecord(f vfs.File, size int64, fn func(h *header, off, ts int64, r *codec.Record) error) error {
	var rr codec.RecordReader
	var ferr error
	end, err := scanSegment(f, 0, size, true, func(_ int64, h *header, batch []byte) bool {
		if h.attributes&AttrControl != 0 {
			return true
		}
		recs, n, err := codec.BatchRecords(batch, lookupLimit)
		if err != nil {
			ferr = err
			return false
		}
		first, base := batchFirstTimestamp(batch), h.baseOffset
		logAppend := h.attributes&AttrTimestampType != 0
		rr.Reset(recs, n)
		for rr.Next() {
			r := rr.Record()
			ts := first + r.TimestampDelta
			if logAppend {
				ts = h.maxTimestamp
			}
			if err := fn(h, base+int64(r.OffsetDelta), ts, r); err != nil {
				ferr = err
				return false
			}
		}
		if err := rr.Err(); err != nil {
			ferr = err
			return false
		}
		return true
	})
	if ferr != nil {
		return fmt.Errorf("%w: compaction reading batch: %w", ErrFailed, ferr)
	}
	if err != nil {
		return err
	}
	if end != size {
		return fmt.Errorf("%w: compaction found a damaged batch at position %d", ErrFailed, end)
	}
	return nil
}

// cleanSegment rewrites one segment and swaps it in.
func (l *Log) cleanSegment(s *segment, size int64, latest map[keyHash]int64, hasher keyHasher, horizon int64, interval int, txns *txnCleaning) (CompactStats, error) {
	st := CompactStats{oldestTombstone: math.MaxInt64}
	tmp := s.path + cleanedSuffix
	out, err := l.fs.Create(tmp)
	if err != nil {
		return st, err
	}
	fail := func(err error) (CompactStats, error) {
		out.Close()
		l.fs.Remove(tmp)
		return st, err
	}
	ns := &segment{base: s.base, path: s.path, next: s.base, maxTs: -1, maxTsOffset: -1}
	var pos int64
	var rr codec.RecordReader
	var kept []codec.Record
	var rebuilt, scratch []byte
	var werr error
	_, err = scanSegment(s.f, 0, size, true, func(_ int64, h *header, batch []byte) bool {
		write := func(b []byte) bool {
			hh, err := parseHeader(b)
			if err != nil {
				werr = err
				return false
			}
			if _, err := out.Write(b); err != nil {
				werr = err
				return false
			}
			ns.addBatch(pos, &hh, interval)
			pos += int64(len(b))
			return true
		}
		txn := h.attributes&AttrTransactional != 0
		if h.attributes&AttrControl != 0 {
			if txn && !txns.kept[h.producerID] && h.baseOffset < txns.snapshotFloor {
				// No record of its transaction is left: the marker goes
				// after delete.retention.ms, as a tombstone does.
				if h.maxTimestamp < horizon {
					st.MarkersGone++
					return true
				}
				st.oldestTombstone = min(st.oldestTombstone, h.maxTimestamp)
			}
			delete(txns.kept, h.producerID)
			return write(batch)
		}
		recs, n, err := codec.BatchRecords(batch, lookupLimit)
		if err != nil {
			werr = err
			return false
		}
		if txns.aborted.contains(h) {
			st.RecordsGone += int64(n)
			st.AbortedGone += int64(n)
			return true
		}
		first := batchFirstTimestamp(batch)
		logAppend := h.attributes&AttrTimestampType != 0
		kept = kept[:0]
		rr.Reset(recs, n)
		for rr.Next() {
			r := rr.Record()
			off := h.baseOffset + int64(r.OffsetDelta)
			ts := first + r.TimestampDelta
			if logAppend {
				ts = h.maxTimestamp
			}
			keep := true
			if r.Key != nil {
				if lo, ok := latest[hasher.sum(r.Key)]; ok && lo != off {
					keep = false
				} else if r.Value == nil && ts < horizon {
					keep = false
					st.TombstonesGone++
				}
			}
			if !keep {
				st.RecordsGone++
				continue
			}
			if r.Key != nil && r.Value == nil {
				st.oldestTombstone = min(st.oldestTombstone, ts)
			}
			st.RecordsKept++
			rec := *r
			rec.OffsetDelta = int32(off - h.baseOffset) // rebased below
			rec.Headers = append([]codec.Header(nil), r.Headers...)
			kept = append(kept, rec)
		}
		if err := rr.Err(); err != nil {
			werr = err
			return false
		}
		if txn && len(kept) > 0 {
			txns.kept[h.producerID] = true
		}
		switch {
		case len(kept) == int(n):
			return write(batch)
		case len(kept) == 0:
			return true
		}
		rebuilt, scratch, err = rebuildBatch(rebuilt[:0], scratch[:0], batch, h, kept)
		if err != nil {
			werr = err
			return false
		}
		return write(rebuilt)
	})
	if werr == nil {
		werr = err
	}
	if werr != nil {
		return fail(fmt.Errorf("%w: cleaning %s: %w", ErrFailed, s.path, werr))
	}
	if err := out.Sync(); err != nil {
		return fail(err)
	}
	ns.f = out
	ns.size = pos
	st.BytesAfter = pos
	return st, l.swapSegment(s, ns, tmp)
}

// rebuildBatch encodes a batch holding only the kept records of the
// original, at their original offsets and timestamps, with the original's
// attributes and producer fields, compressed with the same codec.
func rebuildBatch(dst, scratch []byte, orig []byte, h *header, kept []codec.Record) ([]byte, []byte, error) {
	base := h.baseOffset + int64(kept[0].OffsetDelta)
	first := batchFirstTimestamp(orig)
	maxTs := int64(-1)
	for i := range kept {
		kept[i].OffsetDelta -= int32(base - h.baseOffset)
		maxTs = max(maxTs, first+kept[i].TimestampDelta)
		scratch = codec.AppendRecord(scratch, &kept[i])
	}
	if h.attributes&AttrTimestampType != 0 {
		maxTs = h.maxTimestamp
	}
	dst = append(dst, orig[:batchHeaderLen]...)
	var err error
	dst, err = codec.AppendCompress(dst, int8(h.attributes&AttrCompressionMask), scratch)
	if err != nil {
		return nil, scratch, err
	}
	setBaseOffset(dst, base)
	binary.BigEndian.PutUint32(dst[batchLengthOff:], uint32(len(dst)-batchLogOverhead))
	binary.BigEndian.PutUint32(dst[23:], uint32(kept[len(kept)-1].OffsetDelta)) // lastOffsetDelta
	binary.BigEndian.PutUint64(dst[batchMaxTsOff:], uint64(maxTs))
	binary.BigEndian.PutUint32(dst[57:], uint32(len(kept))) // record count
	binary.BigEndian.PutUint32(dst[batchCRCOff:], crc32.Checksum(dst[batchAttrOff:], crc32c))
	return dst, scratch, nil
}

// swapSegment replaces old with its cleaned version ns (written at tmp).
func (l *Log) swapSegment(old, ns *segment, tmp string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	idx := -1
	for i, s := range l.mu.segs {
		if s == old {
			idx = i
		}
	}
	if idx < 0 || idx == len(l.mu.segs)-1 || l.mu.closed {
		// Retention removed it meanwhile (or the log closed): drop the work.
		ns.f.Close()
		l.fs.Remove(tmp)
		return nil
	}
	// The old index files describe the old file: remove them first, so a
	// crash after the rename never pairs them with the new one.
	for _, suf := range []string{indexSuffix, timeIndexSuffix} {
		if err := l.fs.Remove(old.path + suf); err != nil && !vfs.IsNotExist(err) {
			ns.f.Close()
			l.fs.Remove(tmp)
			return err
		}
	}
	if err := l.fs.Rename(tmp, old.path+logSuffix); err != nil {
		ns.f.Close()
		l.fs.Remove(tmp)
		return err
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		l.failLocked(fmt.Errorf("compaction: sync dir after swapping %s: %w", old.path, err))
		return l.mu.failed
	}
	// Keep the old end offset so that reads of offsets compacted away at
	// the segment's tail move on to the next segment.
	ns.next = max(ns.next, old.next)
	if ns.maxTs < 0 {
		ns.maxTs = old.maxTs
	}
	l.mu.segs[idx] = ns
	old.markRemoved()
	if err := l.writeIndexes(ns); err != nil {
		l.logger.Warn("writing indexes of a cleaned segment", "segment", ns.path, "err", err)
	}
	return nil
}

// oldestSnapshot is the offset of the oldest producer snapshot, or
// MaxInt64 if there is none (recovery then replays the whole log).
func (l *Log) oldestSnapshot() int64 {
	oldest := int64(math.MaxInt64)
	names, err := l.fs.List(l.dir)
	if err != nil {
		return -1 // unknown: keep every marker
	}
	for _, n := range names {
		if off, err := strconv.ParseInt(strings.TrimSuffix(n, snapshotSuffix), 10, 64); err == nil && strings.HasSuffix(n, snapshotSuffix) {
			oldest = min(oldest, off)
		}
	}
	return oldest
}

func (l *Log) cleanerCheckpointLocked() int64 {
	b, err := l.fs.ReadFile(l.dir + "/" + cleanerCkptFile)
	if err != nil {
		return 0
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0
	}
	return v
}

func (l *Log) setCleanerCheckpoint(off int64) error {
	return vfs.WriteFileAtomic(l.fs, l.dir, cleanerCkptFile, []byte(strconv.FormatInt(off, 10)+"\n"))
}
