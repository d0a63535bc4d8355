package storage

import (
	"fmt"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/eddy-streaming/eddy/storage/vfs"
)

// logStartFile records the log start offset moved by DeleteRecords or by
// retention: segment files below it that survived their removal are not
// part of the log.
const logStartFile = "log-start-offset"

// recover opens the segments in l.dir. Every segment but the last was
// fsynced when it was rolled, so only its index files are checked (and
// rebuilt if missing or inconsistent). The active segment is scanned batch
// by batch with CRC checks, and truncated at the first torn or corrupt
// batch: a crash may leave a partial write there, and nothing past it was
// ever acknowledged under fsync. Leftover temporary files are removed.
func (l *Log) recover() error {
	if err := l.fs.MkdirAll(l.dir); err != nil {
		return err
	}
	names, err := l.fs.List(l.dir)
	if err != nil {
		return err
	}
	var bases []int64
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	for _, n := range names {
		switch {
		case strings.HasSuffix(n, ".tmp"), strings.HasSuffix(n, cleanedSuffix):
			l.fs.Remove(path.Join(l.dir, n))
		case strings.HasSuffix(n, logSuffix):
			b, err := strconv.ParseInt(strings.TrimSuffix(n, logSuffix), 10, 64)
			if err != nil || b < 0 {
				l.logger.Warn("ignoring unexpected file", "file", n)
				continue
			}
			bases = append(bases, b)
		case strings.HasSuffix(n, indexSuffix), strings.HasSuffix(n, timeIndexSuffix):
			stem := strings.TrimSuffix(strings.TrimSuffix(n, indexSuffix), timeIndexSuffix)
			if !have[stem+logSuffix] {
				l.fs.Remove(path.Join(l.dir, n))
			}
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })

	var persistedStart int64
	if b, err := l.fs.ReadFile(path.Join(l.dir, logStartFile)); err == nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && v >= 0 {
			persistedStart = v
		}
	} else if !vfs.IsNotExist(err) {
		// Going on from 0 would bring records DeleteRecords removed back.
		return fmt.Errorf("reading %s: %w", logStartFile, err)
	}

	if len(bases) == 0 {
		if err := l.fs.SyncDir(path.Dir(l.dir)); err != nil {
			return err
		}
		seg, err := l.createSegment(persistedStart)
		if err != nil {
			return err
		}
		l.mu.segs = []*segment{seg}
		l.mu.logStart, l.mu.leo, l.mu.hw = persistedStart, persistedStart, persistedStart
		l.mu.producers = newProducerState()
		return nil
	}

	for i, base := range bases {
		last := i == len(bases)-1
		p := path.Join(l.dir, segmentName(base))
		var f vfs.File
		if last {
			f, err = l.fs.OpenAppend(p + logSuffix)
		} else {
			f, err = l.fs.Open(p + logSuffix)
		}
		if err != nil {
			return err
		}
		seg := &segment{base: base, f: f, path: p, next: base, maxTs: -1, maxTsOffset: -1}
		l.mu.segs = append(l.mu.segs, seg)
		size, err := f.Size()
		if err != nil {
			return err
		}
		if last {
			if err := l.recoverActive(seg, size); err != nil {
				return err
			}
			continue
		}
		limit := bases[i+1]
		if !l.loadIndexes(seg, size, limit) {
			if err := l.rebuild(seg, size, false); err != nil {
				return err
			}
			if err := l.writeIndexes(seg); err != nil {
				l.logger.Warn("writing rebuilt indexes", "segment", p, "err", err)
			}
		}
	}
	l.mu.leo = l.mu.segs[len(l.mu.segs)-1].next
	l.mu.logStart = max(l.mu.segs[0].base, min(persistedStart, l.mu.leo))
	l.mu.hw = l.mu.leo // everything that survived recovery is on disk
	if persistedStart > l.mu.leo {
		// A crash took back records below the recorded log start (with
		// fsync off, DeleteRecords can pass what is durable). Offsets from
		// the log end on will be assigned again: record the start in use,
		// or the next Open would hide those new records.
		if err := vfs.WriteFileAtomic(l.fs, l.dir, logStartFile, []byte(strconv.FormatInt(l.mu.logStart, 10)+"\n")); err != nil {
			return err
		}
	}
	return l.rebuildProducers()
}

// loadIndexes reads a rolled segment's index files and checks them against
// the file; then scans the few batches after the last index entry to learn
// the segment's exact end offset and max timestamp. It reports false when
// the indexes must be rebuilt.
func (l *Log) loadIndexes(seg *segment, size, limit int64) bool {
	ib, err := l.fs.ReadFile(seg.path + indexSuffix)
	if err != nil {
		return false
	}
	ib, ok := checkIndexSum(ib, seg.base, size)
	if !ok {
		return false
	}
	idx, ok := decodeIndex(ib, size, seg.base, limit)
	if !ok {
		return false
	}
	tb, err := l.fs.ReadFile(seg.path + timeIndexSuffix)
	if err != nil {
		return false
	}
	if tb, ok = checkIndexSum(tb, seg.base, size); !ok {
		return false
	}
	tidx, ok := decodeTimeIndex(tb, seg.base, limit)
	if !ok {
		return false
	}
	seg.index, seg.tindex = idx, tidx
	if len(tidx) > 0 {
		seg.maxTs = tidx[len(tidx)-1].ts
	}
	var start int64
	if len(idx) > 0 {
		start = int64(idx[len(idx)-1].pos)
		seg.next = seg.base + int64(idx[len(idx)-1].rel)
	}
	end, err := scanSegment(seg.f, start, size, false, func(pos int64, h *header, _ []byte) bool {
		if h.baseOffset < seg.next || h.nextOffset() > limit {
			return false
		}
		seg.size = pos + int64(h.size)
		seg.next = h.nextOffset()
		if h.maxTimestamp >= seg.maxTs {
			seg.maxTs, seg.maxTsOffset = h.maxTimestamp, h.lastOffset()
		}
		return true
	})
	if err == nil && end == size && seg.maxTs >= 0 && seg.maxTsOffset < 0 {
		// The newest timestamp is in a batch before the last index entry:
		// find the last batch that holds it, starting where the time index
		// says batches that new begin.
		_, err = scanSegment(seg.f, seg.lookupTime(seg.maxTs), start, false, func(_ int64, h *header, _ []byte) bool {
			if h.maxTimestamp >= seg.maxTs {
				seg.maxTs, seg.maxTsOffset = h.maxTimestamp, h.lastOffset()
			}
			return true
		})
		if seg.maxTsOffset < 0 {
			end = -1 // the time index names a timestamp no batch has
		}
	}
	if err != nil || end != size {
		seg.index, seg.tindex, seg.size, seg.next, seg.maxTs = nil, nil, 0, seg.base, -1
		return false
	}
	seg.bytesSinceIndex = int(size - start)
	return true
}

// rebuild scans a segment from the start, rebuilding its indexes. With
// verify (the active segment), each batch's CRC is checked, and so is that
// each batch starts at the offset after the previous one: the CRC does not
// cover the base offset, and the active segment, never compacted, has no
// gaps. It returns the position after the last good batch in seg.size.
func (l *Log) rebuild(seg *segment, size int64, verify bool) error {
	seg.index, seg.tindex, seg.size, seg.next = nil, nil, 0, seg.base
	seg.maxTs, seg.maxTsOffset, seg.bytesSinceIndex = -1, -1, 0
	_, err := scanSegment(seg.f, 0, size, verify, func(pos int64, h *header, _ []byte) bool {
		if h.baseOffset < seg.next || verify && h.baseOffset != seg.next {
			return false
		}
		// Index entries hold 32-bit relative offsets and positions; Append
		// rolls before a segment outgrows them, so a batch that would is
		// not one Append wrote.
		if h.lastOffset()-seg.base > math.MaxUint32 || pos+int64(h.size) > math.MaxUint32 {
			return false
		}
		seg.addBatch(pos, h, l.mu.cfg.IndexIntervalBytes)
		return true
	})
	return err
}

// recoverActive scans the active segment with CRC checks and truncates it
// after the last good batch.
func (l *Log) recoverActive(seg *segment, size int64) error {
	if err := l.rebuild(seg, size, true); err != nil {
		return err
	}
	if seg.size < size {
		l.logger.Warn("truncating torn or corrupt tail of the active segment",
			"segment", seg.path+logSuffix, "valid_bytes", seg.size, "file_bytes", size, "next_offset", seg.next)
		if err := seg.f.Truncate(seg.size); err != nil {
			return fmt.Errorf("truncating %s: %w", seg.path, err)
		}
		if err := seg.f.Sync(); err != nil {
			return fmt.Errorf("syncing %s: %w", seg.path, err)
		}
	}
	if seg.size > 0 && l.mu.cfg.SegmentMs > 0 {
		seg.rollAt = l.now().UnixMilli() + l.mu.cfg.SegmentMs
	}
	return nil
}

// scanSegment walks the batches of f from start up to size, calling fn with
// each well-framed batch (and its bytes when verify is set, after checking
// its CRC). It stops at the first batch that is torn, corrupt, or refused
// by fn, and returns the position where it stopped. Only read errors are
// returned as errors.
func scanSegment(f vfs.File, start, size int64, verify bool, fn func(pos int64, h *header, batch []byte) bool) (int64, error) {
	const chunk = 1 << 20
	var buf []byte
	var bufPos int64 // file position of buf[0]
	pos := start
	for pos < size {
		// Make sure buf holds [pos, pos+need).
		need := int64(batchHeaderLen)
		if pos-bufPos < 0 || pos+need > bufPos+int64(len(buf)) {
			if size-pos < need {
				return pos, nil // torn header
			}
			n := min(int64(chunk), size-pos)
			buf = growBuf(buf, int(n))
			if _, err := f.ReadAt(buf, pos); err != nil {
				return pos, fmt.Errorf("reading segment: %w", err)
			}
			bufPos = pos
		}
		h, err := parseHeader(buf[pos-bufPos:])
		if err != nil || h.size > maxBatchBytes {
			return pos, nil
		}
		if int64(h.size) > size-pos {
			return pos, nil // torn batch
		}
		var batch []byte
		if verify {
			if pos+int64(h.size) > bufPos+int64(len(buf)) {
				n := max(int64(h.size), min(int64(chunk), size-pos))
				buf = growBuf(buf, int(n))
				if _, err := f.ReadAt(buf, pos); err != nil {
					return pos, fmt.Errorf("reading segment: %w", err)
				}
				bufPos = pos
			}
			batch = buf[pos-bufPos : pos-bufPos+int64(h.size)]
			if !checkCRC(batch) {
				return pos, nil
			}
		}
		if !fn(pos, &h, batch) {
			return pos, nil
		}
		pos += int64(h.size)
	}
	return pos, nil
}

func growBuf(b []byte, n int) []byte {
	if cap(b) >= n {
		return b[:n]
	}
	return make([]byte, n)
}
