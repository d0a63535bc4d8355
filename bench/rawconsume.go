package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The raw consumer reads each partition's offset range as a number of
// chunks fetched concurrently, so that several fetches per partition are in
// flight on each connection (a consumer reading one offset after another
// could only have one). A chunk owns the batches whose base offset lies in
// [lo, hi): the fetch at lo returns the batch holding lo first, which is
// skipped if it starts before lo (the previous chunk counted it), and the
// chunk ends at the first batch starting at or after hi. Records are
// counted from batch headers (NumRecords), never decoded.

// A chunk is at least fetchChunkResponses fetch responses' and
// chunkBatches record batches' worth of records.
const (
	fetchChunkResponses = 4
	chunkBatches        = 32
)

// rawFetchVersion is the highest Fetch version the raw client uses: v13 and
// later name topics by ID only.
const rawFetchVersion = 12

// fetchCursor is one chunk of a partition being read.
type fetchCursor struct {
	partition int32
	lo, hi    int64 // batches with a base offset in [lo, hi) belong here
	end       int64 // end of the partition's range: later records are not counted
	next      int64 // next fetch offset
	empty     int   // consecutive responses without progress
}

// rawConsume reads the ranges [from[p], to[p]) of cfg.Topic.
func rawConsume(ctx context.Context, cfg Config, from, to map[int32]int64) (*Result, error) {
	layout, err := rawMetadata(ctx, cfg.Brokers, cfg.Topic)
	if err != nil {
		return nil, err
	}
	addrs, parts := layout.byLeader()
	var conns []*rawFetcher
	defer func() {
		for _, f := range conns {
			f.c.Close()
		}
	}()
	byAddr := make(map[string][]*rawFetcher)
	for _, addr := range addrs {
		for range cfg.Producers {
			c, err := dialRaw(ctx, addr)
			if err != nil {
				return nil, err
			}
			f := &rawFetcher{c: c}
			conns = append(conns, f)
			if f.version, err = c.version(kmsg.Fetch, rawFetchVersion, 4); err != nil {
				return nil, err
			}
			byAddr[addr] = append(byAddr[addr], f)
		}
	}

	// Estimate the bytes per record and per batch from the first
	// batches, to size the chunks and the fetches.
	bpr, bpb := float64(cfg.RecordSize+12), float64(cfg.FetchMaxBytes)
	for _, p := range layout.partitions {
		if to[p] <= from[p] {
			continue
		}
		f := byAddr[layout.leader[p]][0]
		cur := &fetchCursor{partition: p, lo: from[p], hi: to[p], end: to[p], next: from[p]}
		resp, err := f.c.roundTrip(ctx, f.fetchRequest(cfg, []*fetchCursor{cur}, cfg.FetchMaxBytes, 0))
		if err != nil {
			return nil, fmt.Errorf("probe fetch: %w", err)
		}
		var records, batches, size int64
		err = eachFetched(resp.(*kmsg.FetchResponse), func(_ int32, h batchHeader, _ []byte) error {
			records += int64(h.numRecords)
			batches++
			size += int64(h.size)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("probe fetch: %w", err)
		}
		if records > 0 {
			bpr, bpb = float64(size)/float64(records), float64(size)/float64(batches)
		}
		break
	}
	// A chunk spans several fetches, and enough batches that the one its
	// first fetch returns and skips (it belongs to the previous chunk)
	// costs little.
	chunkBytes := max(fetchChunkResponses*float64(cfg.FetchMaxBytes), chunkBatches*bpb)
	chunkRecs := max(int64(chunkBytes/bpr), 1)

	run := &rawConsumeRun{cfg: cfg, bpr: bpr}
	for _, addr := range addrs {
		fs := byAddr[addr]
		i := 0
		for _, p := range parts[addr] {
			for lo := from[p]; lo < to[p]; lo += chunkRecs {
				cur := &fetchCursor{partition: p, lo: lo, hi: min(lo+chunkRecs, to[p]), end: to[p], next: lo}
				fs[i%len(fs)].cursors = append(fs[i%len(fs)].cursors, cur)
				i++
			}
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		for _, f := range conns {
			f.c.Close()
		}
	})
	defer stop()
	run.cancel = cancel
	run.start = time.Now()
	if cfg.Duration > 0 {
		run.deadline = run.start.Add(cfg.Duration)
	}
	run.last.Store(run.start.UnixNano())
	var wg sync.WaitGroup
	for _, f := range conns {
		if len(f.cursors) > 0 {
			wg.Go(func() { f.run(ctx, run) })
		}
	}
	wg.Wait()

	res := &Result{
		Mode:       "consume",
		Client:     ClientRaw,
		Records:    run.records.Load(),
		Bytes:      run.bytes.Load(),
		BatchBytes: true,
		Requests:   run.requests.Load(),
		Elapsed:    time.Unix(0, run.last.Load()).Sub(run.start),
	}
	res.finish()
	run.errMu.Lock()
	defer run.errMu.Unlock()
	return res, run.err
}

// rawConsumeRun is the shared state of a raw consume run.
type rawConsumeRun struct {
	cfg      Config
	bpr      float64 // estimated bytes per record
	start    time.Time
	deadline time.Time
	cancel   context.CancelFunc

	records, bytes, requests atomic.Int64
	last                     atomic.Int64 // unix nanos of the last response with records

	errMu sync.Mutex
	err   error
}

func (r *rawConsumeRun) fail(err error) {
	r.errMu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.errMu.Unlock()
	r.cancel()
}

// rawFetcher is one raw consumer connection and the chunks it reads.
type rawFetcher struct {
	c       *rawConn
	version int16
	cursors []*fetchCursor
}

// fetchRequest builds a fetch of cursors at their next offsets, each
// limited to partMax bytes.
func (f *rawFetcher) fetchRequest(cfg Config, cursors []*fetchCursor, partMax int32, maxWait time.Duration) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = f.version
	req.ReplicaID = -1
	req.MaxWaitMillis = int32(maxWait / time.Millisecond)
	req.MinBytes = 1
	req.MaxBytes = int32(min(int64(max(cfg.FetchMaxBytes, partMax))*int64(len(cursors)), math.MaxInt32))
	req.SessionEpoch = -1 // no fetch session
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = cfg.Topic
	for _, cur := range cursors {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = cur.partition
		rp.FetchOffset = cur.next
		rp.PartitionMaxBytes = partMax
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// eachFetched calls fn for every whole batch of a fetch response, failing
// on the first partition error.
func eachFetched(resp *kmsg.FetchResponse, fn func(partition int32, h batchHeader, batch []byte) error) error {
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return err
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("partition %d: %w", p.Partition, err)
			}
			b := p.RecordBatches
			for len(b) > 0 {
				h, batch, rest, ok, err := nextBatch(b)
				if err != nil {
					return fmt.Errorf("partition %d: %w", p.Partition, err)
				}
				if !ok {
					break // a truncated last batch
				}
				if err := fn(p.Partition, h, batch); err != nil {
					return err
				}
				b = rest
			}
		}
	}
	return nil
}

// pendingFetch is a fetch awaiting its response.
type pendingFetch struct {
	corr int32
	cur  *fetchCursor
}

// run fetches f's chunks, one partition per request and cfg.InFlight
// requests in flight, until all are read, the time is up or the run fails.
func (f *rawFetcher) run(ctx context.Context, r *rawConsumeRun) {
	ready := make(chan *fetchCursor, len(f.cursors))
	for _, cur := range f.cursors {
		ready <- cur
	}
	slots := make(chan struct{}, r.cfg.InFlight)
	pending := make(chan pendingFetch, r.cfg.InFlight)
	var reader sync.WaitGroup
	reader.Go(func() { f.readLoop(r, ready, pending, slots, len(f.cursors)) })
	defer func() {
		close(pending)
		reader.Wait()
	}()
	for {
		var cur *fetchCursor
		select {
		case c, ok := <-ready:
			if !ok {
				return // every chunk read
			}
			cur = c
		case <-ctx.Done():
			return
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		if !r.deadline.IsZero() && !time.Now().Before(r.deadline) {
			return
		}
		// Ask for what is left of the chunk, by the estimate.
		want := float64(cur.hi-cur.next) * r.bpr
		partMax := int32(min(max(want, 1), float64(r.cfg.FetchMaxBytes)))
		corr, err := f.c.send(f.fetchRequest(r.cfg, []*fetchCursor{cur}, partMax, 500*time.Millisecond))
		if err != nil {
			r.fail(fmt.Errorf("sending fetch request: %w", ctxErr(ctx, err)))
			return
		}
		r.requests.Add(1)
		pending <- pendingFetch{corr: corr, cur: cur}
	}
}

// readLoop reads the responses of the fetches in pending, counts their
// records, and puts unfinished chunks back in ready, closing it once all
// chunks are done.
func (f *rawFetcher) readLoop(r *rawConsumeRun, ready chan<- *fetchCursor, pending <-chan pendingFetch, slots <-chan struct{}, left int) {
	var broken bool
	for m := range pending {
		if broken {
			<-slots
			continue
		}
		_ = f.c.nc.SetReadDeadline(time.Now().Add(r.cfg.DrainTimeout))
		resp := kmsg.NewPtrFetchResponse()
		resp.Version = f.version
		err := f.c.recv(m.corr, resp)
		now := time.Now()
		<-slots
		if err != nil {
			broken = true
			r.fail(fmt.Errorf("reading fetch response: %w", err))
			continue
		}
		cur := m.cur
		var records, size int64
		err = eachFetched(resp, func(_ int32, h batchHeader, _ []byte) error {
			if h.baseOffset >= cur.hi {
				return errChunkDone
			}
			last := h.baseOffset + int64(h.lastDelta)
			if h.baseOffset < cur.lo || last < cur.next {
				cur.next = max(cur.next, last+1)
				return nil // the previous chunk's, or before our offset
			}
			records += min(int64(h.numRecords), cur.end-h.baseOffset)
			size += int64(h.size)
			cur.next = last + 1
			return nil
		})
		done := cur.next >= cur.hi
		if errors.Is(err, errChunkDone) {
			done, err = true, nil
		}
		if err != nil {
			broken = true
			r.fail(fmt.Errorf("fetch of partition %d at %d: %w", cur.partition, cur.next, err))
			continue
		}
		if records > 0 {
			r.records.Add(records)
			r.bytes.Add(size)
			r.last.Store(now.UnixNano())
			cur.empty = 0
		} else if !done {
			if cur.empty++; cur.empty > 100 {
				broken = true
				r.fail(fmt.Errorf("fetch of partition %d at %d: no progress", cur.partition, cur.next))
				continue
			}
		}
		if !done {
			ready <- cur
		} else if left--; left == 0 {
			close(ready)
		}
	}
}

var errChunkDone = errors.New("chunk done")

// rawTail follows the partitions of a topic from given offsets: it is the
// consumer of raw end-to-end runs. Each leader gets one connection with one
// fetch of all its partitions in flight, and records are walked for their
// values (uncompressed batches only) but not otherwise decoded.
type rawTail struct {
	fetchers []*rawFetcher
}

// startRawTail connects to the leaders of cfg.Topic's partitions, to read
// them from the offsets in from.
func startRawTail(ctx context.Context, cfg Config, from map[int32]int64) (*rawTail, error) {
	layout, err := rawMetadata(ctx, cfg.Brokers, cfg.Topic)
	if err != nil {
		return nil, err
	}
	addrs, parts := layout.byLeader()
	t := new(rawTail)
	for _, addr := range addrs {
		c, err := dialRaw(ctx, addr)
		if err != nil {
			t.close()
			return nil, err
		}
		f := &rawFetcher{c: c}
		t.fetchers = append(t.fetchers, f)
		if f.version, err = c.version(kmsg.Fetch, rawFetchVersion, 4); err != nil {
			t.close()
			return nil, err
		}
		for _, p := range parts[addr] {
			f.cursors = append(f.cursors, &fetchCursor{partition: p, next: from[p]})
		}
		sort.Slice(f.cursors, func(i, j int) bool { return f.cursors[i].partition < f.cursors[j].partition })
	}
	return t, nil
}

func (t *rawTail) close() {
	for _, f := range t.fetchers {
		f.c.Close()
	}
}

// run calls onRecord for every record received until ctx is done, and
// closes the connections.
func (t *rawTail) run(ctx context.Context, cfg Config, onRecord func(now time.Time, value []byte)) error {
	defer t.close()
	var wg sync.WaitGroup
	errs := make([]error, len(t.fetchers))
	for i, f := range t.fetchers {
		wg.Go(func() { errs[i] = f.tail(ctx, cfg, onRecord) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// tail is rawTail's loop for one connection.
func (f *rawFetcher) tail(ctx context.Context, cfg Config, onRecord func(now time.Time, value []byte)) error {
	byPart := make(map[int32]*fetchCursor, len(f.cursors))
	for _, cur := range f.cursors {
		byPart[cur.partition] = cur
	}
	for ctx.Err() == nil {
		resp, err := f.c.roundTrip(ctx, f.fetchRequest(cfg, f.cursors, cfg.FetchMaxBytes, 100*time.Millisecond))
		if err != nil {
			return ctxErr(ctx, err)
		}
		now := time.Now()
		err = eachFetched(resp.(*kmsg.FetchResponse), func(p int32, h batchHeader, batch []byte) error {
			cur := byPart[p]
			if cur == nil || h.baseOffset+int64(h.lastDelta) < cur.next {
				return nil
			}
			if h.codec != 0 {
				return errors.New("compressed batch: raw end-to-end runs need uncompressed records")
			}
			err := walkValues(batch, h.numRecords, func(delta int64, value []byte) {
				if h.baseOffset+delta >= cur.next {
					onRecord(now, value)
				}
			})
			cur.next = h.baseOffset + int64(h.lastDelta) + 1
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}
