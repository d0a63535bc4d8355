package storage

import (
	"path"
	"strconv"

	"github.com/eddy-streaming/eddy/storage/vfs"
)

// ApplyRetention deletes whole segments that retention.ms or
// retention.bytes no longer keeps, and segments wholly below the log start
// offset, moving the log start offset forward. An expired active segment is
// rolled first so it can go too. It returns how many segments it deleted.
func (l *Log) ApplyRetention() (int, error) {
	l.mu.Lock()
	if l.mu.closed || l.mu.failed != nil {
		l.mu.Unlock()
		return 0, nil
	}
	cfg := l.mu.cfg
	now := l.now().UnixMilli()
	if cfg.ProducerExpirationMs > 0 {
		l.mu.producers.trim(l.mu.logStart, now-cfg.ProducerExpirationMs)
	}
	expired := func(s *segment) bool {
		return cfg.RetentionMs >= 0 && s.size > 0 && s.maxTs >= 0 && now-s.maxTs > cfg.RetentionMs
	}
	if active := l.mu.segs[len(l.mu.segs)-1]; expired(active) && l.mu.hw == l.mu.leo {
		if err := l.rollLocked(); err != nil {
			l.mu.Unlock()
			return 0, err
		}
	}
	var total int64
	for _, s := range l.mu.segs {
		total += s.size
	}
	// Kafka's rule for retention.bytes: delete the oldest segment while the
	// log minus that segment still holds at least retention.bytes.
	n := 0
	for n < len(l.mu.segs)-1 {
		s := l.mu.segs[n]
		if s.next > l.mu.hw { // never delete what readers cannot see yet
			break
		}
		bySize := cfg.RetentionBytes >= 0 && total-s.size >= cfg.RetentionBytes
		if !(s.next <= l.mu.logStart || expired(s) || bySize) {
			break
		}
		total -= s.size
		n++
	}
	if n == 0 {
		l.mu.Unlock()
		return 0, nil
	}
	// Record the new log start before removing files. A segment file can
	// outlive its removal (the unlink failed, or was not synced before a
	// crash); at the next Open it must not come back as readable records,
	// nor, when a newer segment's removal did happen, as a gap in the
	// offsets.
	start := max(l.mu.logStart, l.mu.segs[n].base)
	if err := vfs.WriteFileAtomic(l.fs, l.dir, logStartFile, []byte(strconv.FormatInt(start, 10)+"\n")); err != nil {
		l.mu.Unlock()
		return 0, err
	}
	removed := append([]*segment(nil), l.mu.segs[:n]...)
	l.mu.segs = append([]*segment(nil), l.mu.segs[n:]...)
	l.mu.logStart = max(l.mu.logStart, l.mu.segs[0].base)
	l.mu.Unlock()

	for _, s := range removed {
		s.markRemoved()
		for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
			if err := l.fs.Remove(s.path + suf); err != nil && !vfs.IsNotExist(err) {
				l.logger.Warn("removing segment file", "file", s.path+suf, "err", err)
			}
		}
	}
	l.logger.Debug("retention deleted segments", "count", len(removed))
	return len(removed), nil
}

// DeleteRecords moves the log start offset to offset (-1: the high
// watermark), making earlier records unreadable, and deletes segments that
// lie wholly below it. Offsets above the high watermark are
// ErrOffsetOutOfRange. It returns the new log start offset.
func (l *Log) DeleteRecords(offset int64) (int64, error) {
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	if offset == -1 {
		offset = l.mu.hw
	}
	if offset < 0 || offset > l.mu.hw {
		l.mu.Unlock()
		return 0, ErrOffsetOutOfRange
	}
	if offset <= l.mu.logStart {
		start := l.mu.logStart
		l.mu.Unlock()
		return start, nil
	}
	// Move the log start only once it is on disk: a caller told that
	// DeleteRecords failed must not see the records gone until a restart
	// brings them back.
	if err := vfs.WriteFileAtomic(l.fs, l.dir, logStartFile, []byte(strconv.FormatInt(offset, 10)+"\n")); err != nil {
		l.mu.Unlock()
		return 0, err
	}
	l.mu.logStart = offset
	l.mu.Unlock()
	if _, err := l.ApplyRetention(); err != nil {
		return 0, err
	}
	return offset, nil
}

// Remove closes the log and deletes its directory.
func (l *Log) Remove() error {
	l.Close()
	return l.fs.RemoveAll(l.dir)
}

// Dir returns the log's directory.
func (l *Log) Dir() string { return l.dir }

// segmentPath is the path of a segment file, for tests.
func (l *Log) segmentPath(base int64) string { return path.Join(l.dir, segmentName(base)) + logSuffix }
