// Package storage holds Eddy's durable partition logs.
//
// A Log is one partition: a directory of segments (see segment.go) holding
// record batches exactly as producers sent them, with offsets assigned by
// patching each batch's base offset. All file access goes through vfs.FS.
//
// Durability: with Config.Fsync set (the default), the high watermark is the
// end of what has been fsynced. A background syncer per log coalesces
// fsyncs (group commit): every append asks for a sync, and one fsync covers
// every batch written before it started. Producers with acks=all wait for
// the high watermark to pass their batch (WaitDurable); consumers never see
// a record that a crash could take back.
package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path"
	"sort"
	"sync"
	"time"

	"github.com/eddy-streaming/eddy/storage/vfs"
)

// Errors of the log. The protocol layer maps them to Kafka error codes.
var (
	// ErrOffsetOutOfRange: the offset is below the log start or above the end.
	ErrOffsetOutOfRange = errors.New("offset out of range")
	// ErrFailed wraps the I/O error that made a log stop accepting writes
	// (KAFKA_STORAGE_ERROR). A failed fsync leaves the page cache in an
	// unknown state, so the log refuses further appends until it is reopened.
	ErrFailed = errors.New("log failed")
	// ErrClosed: the log was closed.
	ErrClosed = errors.New("log closed")
)

// maxBatchBytes bounds any single stored batch; larger length fields are
// treated as corruption by recovery.
const maxBatchBytes = 256 << 20

// Config holds the per-partition settings the log uses. The broker maps
// topic configs onto it.
type Config struct {
	SegmentBytes       int64 // segment.bytes: roll when the active segment would exceed this
	SegmentMs          int64 // segment.ms: roll an active segment older than this; 0 = never
	RetentionMs        int64 // retention.ms: delete segments whose newest record is older; <0 = forever
	RetentionBytes     int64 // retention.bytes: delete oldest segments while the log is larger; <0 = unlimited
	IndexIntervalBytes int   // index.interval.bytes: bytes between sparse index entries
	// ProducerExpirationMs (producer.id.expiration.ms) forgets idempotent
	// producers idle this long; 0 never forgets them.
	ProducerExpirationMs int64
	// Fsync makes the high watermark (and acks=all) wait for fsync. Without
	// it, data is visible and acknowledged once written to the OS, which
	// survives a process crash but not a power loss.
	Fsync bool
}

// DefaultConfig returns Kafka's defaults (with fsync on).
func DefaultConfig() Config {
	return Config{
		SegmentBytes:         1 << 30,
		SegmentMs:            7 * 24 * 3600 * 1000,
		RetentionMs:          7 * 24 * 3600 * 1000,
		RetentionBytes:       -1,
		IndexIntervalBytes:   4096,
		ProducerExpirationMs: 24 * 3600 * 1000,
		Fsync:                true,
	}
}

// Options for Open.
type Options struct {
	FS     vfs.FS
	Dir    string
	Config Config
	Logger *slog.Logger
	Now    func() time.Time // defaults to time.Now
	// OnSync, if set, is told how long each fsync of the group commit
	// took (for metrics); it must not block.
	OnSync func(time.Duration)
}

// Log is one partition's durable log. It is safe for concurrent use.
type Log struct {
	fs     vfs.FS
	dir    string
	logger *slog.Logger
	now    func() time.Time
	onSync func(time.Duration) // see Options.OnSync; nil: none

	syncReq  chan struct{} // buffered(1): a sync is wanted
	closing  chan struct{}
	syncDone chan struct{}

	// mu guards everything in it and the mutable fields of every segment.
	mu struct {
		sync.Mutex
		cfg      Config
		segs     []*segment // ordered by base; the last is active
		logStart int64
		leo      int64         // log end offset: next offset to assign
		hw       int64         // high watermark: end of what readers may see
		hwCh     chan struct{} // closed and replaced when hw moves or the log fails
		failed   error
		closed   bool
		// tombstonesDue is when the oldest tombstone the cleaner kept may
		// be removed (0: unknown, as after a restart; MaxInt64: none).
		tombstonesDue int64
		producers     *producerState // see producers.go
	}
}

// Open opens (creating if needed) the log in opts.Dir, recovering its tail:
// see recovery.go.
func Open(opts Options) (*Log, error) {
	if opts.FS == nil {
		return nil, errors.New("storage: Options.FS is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Config.SegmentBytes <= 0 {
		opts.Config.SegmentBytes = DefaultConfig().SegmentBytes
	}
	if opts.Config.IndexIntervalBytes <= 0 {
		opts.Config.IndexIntervalBytes = DefaultConfig().IndexIntervalBytes
	}
	l := &Log{
		fs:       opts.FS,
		dir:      opts.Dir,
		logger:   opts.Logger.With("dir", opts.Dir),
		now:      opts.Now,
		onSync:   opts.OnSync,
		syncReq:  make(chan struct{}, 1),
		closing:  make(chan struct{}),
		syncDone: make(chan struct{}),
	}
	l.mu.cfg = opts.Config
	l.mu.hwCh = make(chan struct{})
	if err := l.recover(); err != nil {
		for _, s := range l.mu.segs {
			s.f.Close()
		}
		return nil, err
	}
	go l.syncLoop()
	return l, nil
}

// SetConfig changes the log's settings; they apply to the next append,
// roll and retention pass.
func (l *Log) SetConfig(cfg Config) {
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = DefaultConfig().SegmentBytes
	}
	if cfg.IndexIntervalBytes <= 0 {
		cfg.IndexIntervalBytes = DefaultConfig().IndexIntervalBytes
	}
	l.mu.Lock()
	l.mu.cfg = cfg
	if !cfg.Fsync {
		l.setHWLocked(l.mu.leo)
	}
	l.mu.Unlock()
	if cfg.Fsync {
		l.requestSync()
	}
}

// Offsets of the log.
type Offsets struct {
	LogStart      int64
	HighWatermark int64
	LogEnd        int64
	// LastStable is the last stable offset: the high watermark, or the
	// first offset of the oldest open transaction if that is lower.
	// read_committed consumers read only below it.
	LastStable int64
}

// Offsets returns the log start offset, high watermark, last stable
// offset and log end offset.
func (l *Log) Offsets() Offsets {
	l.mu.Lock()
	defer l.mu.Unlock()
	lso := l.mu.hw
	if first := l.mu.producers.firstUnstable(); first >= 0 && first < lso {
		lso = first
	}
	return Offsets{LogStart: l.mu.logStart, HighWatermark: l.mu.hw, LogEnd: l.mu.leo, LastStable: lso}
}

// AbortedTransactions lists the aborted transactions with records in
// [from, to), for read_committed fetches.
func (l *Log) AbortedTransactions(from, to int64) []AbortedTxn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.producers.abortedIn(from, to)
}

// OpenTransaction reports the first offset of a producer's open
// transaction on this partition, or -1.
func (l *Log) OpenTransaction(pid int64) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.mu.producers.Producers[pid]; e != nil {
		return e.TxnFirst
	}
	return -1
}

// AppendMarker writes a transaction marker (a control batch) for a
// producer: commit or abort of its open transaction on this partition. It
// returns the marker's offset; the marker is durable once
// WaitDurable(offset+1) returns.
func (l *Log) AppendMarker(pid int64, epoch int16, commit bool, coordinatorEpoch int32) (int64, error) {
	batch := encodeMarker(pid, epoch, commit, coordinatorEpoch, l.now().UnixMilli())
	info := BatchInfo{
		Size: len(batch), NumRecords: 1, ProducerID: pid, ProducerEpoch: epoch, FirstSequence: -1,
		Attributes: AttrControl | AttrTransactional, FirstTimestamp: batchFirstTimestamp(batch), MaxTimestamp: batchMaxTimestamp(batch),
	}
	return l.Append(batch, &info)
}

// HighWatermark returns the offset after the last record readers may see.
func (l *Log) HighWatermark() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.hw
}

// Watch returns a channel that is closed the next time the high watermark
// moves (or the log fails or closes). Fetch long-polls on it.
func (l *Log) Watch() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.hwCh
}

// Size returns the bytes stored in all segments.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for _, s := range l.mu.segs {
		n += s.size
	}
	return n
}

// NumSegments returns how many segments the log has.
func (l *Log) NumSegments() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.mu.segs)
}

// Append writes one validated batch (see ValidateBatch), assigning it the
// next offsets by patching its base offset in place. It returns the batch's
// base offset. The batch is durable once WaitDurable(base+NumRecords)
// returns.
func (l *Log) Append(batch []byte, info *BatchInfo) (int64, error) {
	l.mu.Lock()
	base, err := l.appendLocked(batch, info)
	fsync := l.mu.cfg.Fsync
	l.mu.Unlock()
	if err == nil && fsync {
		l.requestSync()
	}
	return base, err
}

func (l *Log) appendLocked(batch []byte, info *BatchInfo) (int64, error) {
	if l.mu.closed {
		return 0, ErrClosed
	}
	if l.mu.failed != nil {
		return 0, l.mu.failed
	}
	// Idempotent and transactional producers: refuse zombies and gaps,
	// answer a retried batch with its original offsets.
	var marker *controlMarker
	if info.ProducerID >= 0 {
		if info.Control() {
			m, err := parseMarker(batch)
			if err != nil {
				return 0, fmt.Errorf("%w: %v", ErrCorruptBatch, err)
			}
			if e := l.mu.producers.Producers[info.ProducerID]; e != nil && info.ProducerEpoch < e.Epoch {
				return 0, fmt.Errorf("%w: marker epoch %d, current %d", ErrInvalidProducerEpoch, info.ProducerEpoch, e.Epoch)
			}
			marker = m
		} else {
			dup, err := l.mu.producers.check(info)
			if err != nil {
				return 0, err
			}
			if dup != nil {
				return dup.BaseOffset, ErrDuplicate
			}
		}
	}
	seg := l.mu.segs[len(l.mu.segs)-1]
	now := l.now().UnixMilli()
	if l.shouldRollLocked(seg, len(batch), int64(info.LastOffsetDelta), now) {
		if err := l.rollLocked(); err != nil {
			return 0, err
		}
		seg = l.mu.segs[len(l.mu.segs)-1]
	}
	base := l.mu.leo
	setBaseOffset(batch, base)
	setLeaderEpoch(batch, 0)
	pos := seg.size
	if _, err := seg.f.Write(batch); err != nil {
		// Undo a partial write so the file ends on a batch boundary. If even
		// that fails, the file's tail is unknown: stop writing.
		if terr := seg.f.Truncate(pos); terr != nil {
			l.failLocked(fmt.Errorf("append: %v; truncate after it: %w", err, terr))
			return 0, l.mu.failed
		}
		return 0, fmt.Errorf("%w: append: %w", ErrFailed, err)
	}
	h := header{
		baseOffset:      base,
		size:            len(batch),
		lastOffsetDelta: info.LastOffsetDelta,
		maxTimestamp:    batchMaxTimestamp(batch),
		attributes:      info.Attributes,
		producerID:      info.ProducerID,
		producerEpoch:   info.ProducerEpoch,
	}
	if seg.size == 0 && l.mu.cfg.SegmentMs > 0 {
		seg.rollAt = now + l.mu.cfg.SegmentMs
	}
	seg.addBatch(pos, &h, l.mu.cfg.IndexIntervalBytes)
	l.mu.leo = h.nextOffset()
	if info.ProducerID >= 0 {
		l.mu.producers.update(info.ProducerID, info.ProducerEpoch, info.FirstSequence, base, h.lastOffset(), info.Attributes, now, marker)
	}
	if !l.mu.cfg.Fsync {
		l.setHWLocked(l.mu.leo)
	}
	return base, nil
}

func (l *Log) shouldRollLocked(seg *segment, n int, lastDelta int64, now int64) bool {
	if seg.size == 0 {
		return false
	}
	switch {
	case seg.size+int64(n) > l.mu.cfg.SegmentBytes,
		seg.size+int64(n) > math.MaxUint32,
		l.mu.leo+lastDelta-seg.base > math.MaxUint32,
		seg.rollAt > 0 && now >= seg.rollAt:
		return true
	}
	return false
}

// rollLocked makes the active segment durable, writes its indexes, and
// starts a new active segment at the log end offset.
func (l *Log) rollLocked() error {
	old := l.mu.segs[len(l.mu.segs)-1]
	if err := old.f.Sync(); err != nil {
		l.failLocked(fmt.Errorf("roll: sync %s: %w", old.path, err))
		return l.mu.failed
	}
	if l.mu.cfg.Fsync {
		l.setHWLocked(l.mu.leo)
	}
	if len(l.mu.producers.Producers) > 0 {
		l.writeSnapshotLocked()
	}
	if err := l.writeIndexes(old); err != nil {
		// Indexes are hints that recovery rebuilds; a failure here is not fatal.
		l.logger.Warn("writing segment indexes", "segment", old.path, "err", err)
	}
	seg, err := l.createSegment(l.mu.leo)
	if err != nil {
		return fmt.Errorf("%w: roll: %w", ErrFailed, err)
	}
	l.mu.segs = append(l.mu.segs, seg)
	return nil
}

func (l *Log) createSegment(base int64) (*segment, error) {
	p := path.Join(l.dir, segmentName(base))
	f, err := l.fs.Create(p + logSuffix)
	if err != nil {
		return nil, err
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		f.Close()
		l.fs.Remove(p + logSuffix)
		return nil, err
	}
	return &segment{base: base, f: f, path: p, next: base, maxTs: -1, maxTsOffset: -1}, nil
}

func (l *Log) writeIndexes(s *segment) error {
	name := segmentName(s.base)
	if err := vfs.WriteFileAtomic(l.fs, l.dir, name+indexSuffix, appendIndexSum(encodeIndex(s.index), s.base, s.size)); err != nil {
		return err
	}
	return vfs.WriteFileAtomic(l.fs, l.dir, name+timeIndexSuffix, appendIndexSum(encodeTimeIndex(s.tindex), s.base, s.size))
}

func (l *Log) setHWLocked(off int64) {
	if off > l.mu.hw {
		l.mu.hw = off
		close(l.mu.hwCh)
		l.mu.hwCh = make(chan struct{})
	}
}

func (l *Log) failLocked(err error) {
	if l.mu.failed != nil {
		return
	}
	l.mu.failed = fmt.Errorf("%w: %w", ErrFailed, err)
	l.logger.Error("log failed; refusing writes until restart", "err", err)
	close(l.mu.hwCh)
	l.mu.hwCh = make(chan struct{})
}

// Err returns the error that failed the log, if any.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.failed
}

func (l *Log) requestSync() {
	select {
	case l.syncReq <- struct{}{}:
	default:
	}
}

// syncLoop is the group commit: each fsync covers everything appended
// before it began, however many producers wrote it.
func (l *Log) syncLoop() {
	defer close(l.syncDone)
	for {
		select {
		case <-l.syncReq:
		case <-l.closing:
			return
		}
		l.syncOnce()
	}
}

func (l *Log) syncOnce() {
	l.mu.Lock()
	if l.mu.failed != nil || l.mu.hw >= l.mu.leo || len(l.mu.segs) == 0 {
		l.mu.Unlock()
		return
	}
	target := l.mu.leo
	seg := l.mu.segs[len(l.mu.segs)-1]
	seg.acquire()
	l.mu.Unlock()

	start := time.Now()
	err := seg.f.Sync()
	seg.release()
	if l.onSync != nil && err == nil {
		l.onSync(time.Since(start))
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		if !l.mu.closed {
			l.failLocked(fmt.Errorf("fsync %s: %w", seg.path, err))
		}
		return
	}
	if l.mu.cfg.Fsync {
		l.setHWLocked(target)
	}
}

// Sync makes everything appended so far durable and visible, without
// waiting for the background syncer.
func (l *Log) Sync() error {
	l.mu.Lock()
	target := l.mu.leo
	if !l.mu.cfg.Fsync && !l.mu.closed && l.mu.failed == nil {
		// Without Config.Fsync the high watermark is already at the log
		// end and the syncer has nothing to wait for: fsync here. Rolled
		// segments were fsynced when they were rolled.
		seg := l.mu.segs[len(l.mu.segs)-1]
		seg.acquire()
		l.mu.Unlock()
		err := seg.f.Sync()
		seg.release()
		if err != nil {
			l.mu.Lock()
			l.failLocked(fmt.Errorf("fsync %s: %w", seg.path, err))
			err = l.mu.failed
			l.mu.Unlock()
		}
		return err
	}
	l.mu.Unlock()
	l.requestSync()
	return l.WaitDurable(context.Background(), target)
}

// WaitDurable blocks until every offset below end is durable (and so
// visible), the log fails, or ctx ends.
func (l *Log) WaitDurable(ctx context.Context, end int64) error {
	for {
		l.mu.Lock()
		if l.mu.hw >= end {
			l.mu.Unlock()
			return nil
		}
		if l.mu.failed != nil {
			err := l.mu.failed
			l.mu.Unlock()
			return err
		}
		if l.mu.closed {
			l.mu.Unlock()
			return ErrClosed
		}
		ch := l.mu.hwCh
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Read returns whole stored batches starting with the one that holds
// offset, at most maxBytes of them, except that the first batch is returned
// whole even when it is larger (so a consumer always makes progress). It
// never returns a batch at or past upTo (use -1 for the high watermark).
// Reads come from one segment at a time; an empty result at an offset below
// upTo does not happen. Offsets below the log start or above the log end are
// ErrOffsetOutOfRange.
func (l *Log) Read(offset int64, maxBytes int, upTo int64) ([]byte, error) {
	return l.ReadWith(offset, maxBytes, upTo, nil)
}

// ReadWith is Read into a buffer from alloc(n), which returns a slice of
// length n (nil alloc: make). The result is a prefix of that buffer, so
// the caller may recycle it once done with the result.
func (l *Log) ReadWith(offset int64, maxBytes int, upTo int64, alloc func(n int) []byte) ([]byte, error) {
	if alloc == nil {
		alloc = func(n int) []byte { return make([]byte, n) }
	}
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	if offset < l.mu.logStart || offset > l.mu.leo {
		l.mu.Unlock()
		return nil, ErrOffsetOutOfRange
	}
	if upTo < 0 || upTo > l.mu.hw {
		upTo = l.mu.hw
	}
	if offset >= upTo {
		l.mu.Unlock()
		return nil, nil
	}
	segs := l.mu.segs
	i := sort.Search(len(segs), func(i int) bool { return segs[i].base > offset }) - 1
	if i < 0 {
		i = 0
	}
	// Skip segments that end at or before offset (possible after compaction
	// or at a segment boundary).
	for i < len(segs)-1 && segs[i].next <= offset {
		i++
	}
	seg := segs[i]
	size := seg.size
	start := seg.lookup(offset)
	seg.acquire()
	l.mu.Unlock()

	for {
		pos, err := seekBatch(seg.f, start, size, offset)
		if err != nil {
			seg.release()
			return nil, err
		}
		if pos < size {
			data, err := readBatches(seg.f, pos, size, maxBytes, upTo, alloc)
			seg.release()
			return data, err
		}
		// Every batch of this segment ends before offset (compaction
		// removed its tail): continue with the next segment.
		next := l.segmentAfter(seg)
		seg.release()
		if next == nil {
			return nil, nil
		}
		seg, start = next, 0
		l.mu.Lock()
		size = seg.size
		l.mu.Unlock()
	}
}

// segmentAfter returns the segment following s, acquired, or nil.
func (l *Log) segmentAfter(s *segment) *segment {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, x := range l.mu.segs {
		if x == s && i+1 < len(l.mu.segs) {
			n := l.mu.segs[i+1]
			n.acquire()
			return n
		}
	}
	return nil
}

// seekBatch scans batch headers from start to find the first batch whose
// last offset is >= offset.
func seekBatch(f vfs.File, start, size, offset int64) (int64, error) {
	var hdr [batchHeaderLen]byte
	pos := start
	for pos < size {
		if _, err := f.ReadAt(hdr[:], pos); err != nil {
			return 0, fmt.Errorf("%w: read: %w", ErrFailed, err)
		}
		h, err := parseHeader(hdr[:])
		if err != nil {
			return 0, fmt.Errorf("%w: batch header at %d: %w", ErrFailed, pos, err)
		}
		if h.lastOffset() >= offset {
			return pos, nil
		}
		pos += int64(h.size)
	}
	return pos, nil
}

// readBatches reads whole batches from pos: at least one, then as many more
// as fit in maxBytes, stopping before a batch whose base offset is >= upTo.
func readBatches(f vfs.File, pos, size int64, maxBytes int, upTo int64, alloc func(int) []byte) ([]byte, error) {
	var hdr [batchHeaderLen]byte
	if _, err := f.ReadAt(hdr[:], pos); err != nil {
		return nil, fmt.Errorf("%w: read: %w", ErrFailed, err)
	}
	h, err := parseHeader(hdr[:])
	if err != nil {
		return nil, fmt.Errorf("%w: batch header at %d: %w", ErrFailed, pos, err)
	}
	if h.baseOffset >= upTo {
		return nil, nil
	}
	n := int64(max(maxBytes, h.size))
	n = min(n, size-pos)
	buf := alloc(int(n))
	if _, err := f.ReadAt(buf, pos); err != nil {
		return nil, fmt.Errorf("%w: read: %w", ErrFailed, err)
	}
	// Trim to whole batches below upTo.
	end := 0
	for end+batchHeaderLen <= len(buf) {
		h, err := parseHeader(buf[end:])
		if err != nil {
			return nil, fmt.Errorf("%w: batch header at %d: %w", ErrFailed, pos+int64(end), err)
		}
		if h.baseOffset >= upTo || end+h.size > len(buf) {
			break
		}
		end += h.size
	}
	return buf[:end], nil
}

// Close syncs and closes the log, writing the active segment's indexes.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		return nil
	}
	l.mu.closed = true
	close(l.closing)
	l.mu.Unlock()
	<-l.syncDone

	l.mu.Lock()
	defer l.mu.Unlock()
	// A failed log cannot be synced: report why rather than nil, which
	// would claim that everything appended is durable.
	firstErr := l.mu.failed
	if len(l.mu.segs) > 0 && l.mu.failed == nil {
		active := l.mu.segs[len(l.mu.segs)-1]
		if err := active.f.Sync(); err != nil {
			firstErr = err
		} else {
			if l.mu.cfg.Fsync {
				l.setHWLocked(l.mu.leo)
			}
			if l.mu.producers != nil && len(l.mu.producers.Producers) > 0 {
				l.writeSnapshotLocked()
			}
			if err := l.writeIndexes(active); err != nil {
				l.logger.Warn("writing segment indexes", "err", err)
			}
		}
	}
	for _, s := range l.mu.segs {
		s.markRemoved()
	}
	close(l.mu.hwCh)
	l.mu.hwCh = make(chan struct{})
	return firstErr
}
