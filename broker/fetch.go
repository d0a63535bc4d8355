package broker

// Fetch (key 1), v4-v16.
//
// Returns stored batches byte for byte, from the batch holding each fetch
// offset, up to the high watermark (read_uncommitted) or the last stable
// offset (read_committed; equal to the high watermark while no transaction
// is open). Limits follow KIP-74: partition max bytes and the response's
// MaxBytes are soft only for the first batch of the first non-empty
// partition, which is always returned whole so a consumer makes progress.
//
// Long polling: when fewer than MinBytes are available the request waits
// until a partition's high watermark moves or MaxWaitMs passes, without
// blocking the connection's read loop.
//
// Fetch sessions (v7+, KIP-227): the broker declines to create sessions by
// answering SessionID 0, which the protocol defines as "no session"; clients
// then keep sending full fetch requests. A request naming a session id
// gets FETCH_SESSION_ID_NOT_FOUND.

import (
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/storage"
)

func init() { register(kmsg.Fetch.Int16(), 4, 16, handleFetch) }

func handleFetch(c *conn, req kmsg.Request, p *pending) (kmsg.Response, error) {
	r := req.(*kmsg.FetchRequest)
	if r.Version >= 7 && (r.SessionID != 0 || r.SessionEpoch > 0) {
		resp := r.ResponseKind().(*kmsg.FetchResponse)
		if r.SessionID != 0 {
			resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		} else {
			resp.ErrorCode = kerr.InvalidFetchSessionEpoch.Code
		}
		return resp, nil
	}
	res := c.fetchOnce(r)
	wait := time.Duration(r.MaxWaitMillis) * time.Millisecond
	if res.final(r, wait > 0) {
		p.hold(c, res.held)
		p.bufs = res.bufs
		return res.resp, res.err
	}
	res.discard(c)
	deadline := time.Now().Add(wait)
	go func() {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		for waitAny(c, res.watches, timer.C) {
			res = c.fetchOnce(r)
			if res.final(r, time.Now().Before(deadline)) {
				p.hold(c, res.held)
				p.bufs = res.bufs
				p.finish(res.resp, res.err)
				return
			}
			res.discard(c)
		}
		res = c.fetchOnce(r)
		p.hold(c, res.held)
		p.bufs = res.bufs
		p.finish(res.resp, res.err)
	}()
	return nil, nil
}

// fetchResult is one pass over the requested partitions.
type fetchResult struct {
	resp    *kmsg.FetchResponse
	bytes   int               // record bytes in resp
	watches []<-chan struct{} // nil when a partition had an error: answer at once
	held    int64             // fetch memory reserved for resp
	bufs    [][]byte          // pooled buffers holding resp's records (see pending.bufs)
	err     error             // the connection is closing
}

// discard gives back what a pass that is not the answer holds.
func (f *fetchResult) discard(c *conn) {
	c.releaseFetch(f.held)
	for _, b := range f.bufs {
		putBuf(b)
	}
}

// final reports whether this pass is the answer: enough bytes, an error to
// report, or no time left to wait.
func (f *fetchResult) final(r *kmsg.FetchRequest, canWait bool) bool {
	return f.err != nil || f.bytes >= int(r.MinBytes) || f.watches == nil || !canWait
}

// reserveFetch takes n bytes of fetch memory, first from the connection's
// own allowance (so one slow reader blocks only itself) and then from the
// broker-wide budget. It waits for room: that is the back-pressure.
func (c *conn) reserveFetch(n int64) error {
	if err := c.fetchMem.acquire(c.ctx, n); err != nil {
		return err
	}
	if err := c.b.fetchBudget.acquire(c.ctx, n); err != nil {
		c.fetchMem.release(n)
		return err
	}
	return nil
}

// tryReserveFetch is reserveFetch without waiting.
func (c *conn) tryReserveFetch(n int64) bool {
	if !c.fetchMem.tryAcquire(n) {
		return false
	}
	if !c.b.fetchBudget.tryAcquire(n) {
		c.fetchMem.release(n)
		return false
	}
	return true
}

func (c *conn) releaseFetch(n int64) {
	c.fetchMem.release(n)
	c.b.fetchBudget.release(n)
}

// abortedIn lists the aborted transactions overlapping the returned
// batches, so read_committed clients can drop their records.
func abortedIn(part *partition, from int64, data []byte) []kmsg.FetchResponseTopicPartitionAbortedTransaction {
	end := from
	if batches, err := storage.SplitBatches(data); err == nil {
		last := batches[len(batches)-1]
		var rb kmsg.RecordBatch
		if rb.UnsafeReadFrom(last) == nil {
			end = rb.FirstOffset + int64(rb.LastOffsetDelta) + 1
		}
	}
	var out []kmsg.FetchResponseTopicPartitionAbortedTransaction
	for _, a := range part.log.AbortedTransactions(from, end) {
		at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
		at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
		out = append(out, at)
	}
	return out
}

// waitAny blocks until one of the watched partitions moves (true), or the
// timer fires or the connection closes (false).
func waitAny(c *conn, watches []<-chan struct{}, timer <-chan time.Time) bool {
	if len(watches) == 1 {
		select {
		case <-watches[0]:
			return true
		case <-timer:
		case <-c.ctx.Done():
		}
		return false
	}
	moved := make(chan struct{}, 1)
	stop := make(chan struct{})
	defer close(stop)
	for _, w := range watches {
		go func(w <-chan struct{}) {
			select {
			case <-w:
				select {
				case moved <- struct{}{}:
				default:
				}
			case <-stop:
			}
		}(w)
	}
	select {
	case <-moved:
		return true
	case <-timer:
	case <-c.ctx.Done():
	}
	return false
}

// fetchOnce builds a response from what the logs hold now. It returns the
// bytes of records in it, and the channels to wait on when that is less
// than MinBytes (nil when a partition had an error, so the client should
// hear about it at once).
func (c *conn) fetchOnce(r *kmsg.FetchRequest) fetchResult {
	b := c.b
	resp := r.ResponseKind().(*kmsg.FetchResponse)
	maxBytes := int(r.MaxBytes)
	if limit := int(b.settings.long("fetch.max.bytes")); maxBytes <= 0 || maxBytes > limit {
		maxBytes = limit
	}
	// Memory: each partition's data is reserved from the connection's and
	// the broker's fetch budgets once read. When the budgets are full, a
	// response that already has data stops there; an empty one waits for
	// room (back-pressure). A connection never holds more than
	// fetch.max.bytes, except for one oversized first batch (KIP-74).
	var held int64
	var bufs [][]byte
	total := 0
	var watches []<-chan struct{}
	hadError := false
	resp.Topics = make([]kmsg.FetchResponseTopic, 0, len(r.Topics))
	for _, rt := range r.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		var t *topic
		if r.Version >= 13 {
			t = b.topicByID(rt.TopicID)
		} else {
			t = b.topic(rt.Topic)
		}
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.RecordBatches = []byte{} // Kafka sends empty, never null, records (librdkafka rejects null)
			var part *partition
			if t != nil {
				part = b.partition(t, rp.Partition)
			}
			switch {
			case t == nil && r.Version >= 13:
				sp.ErrorCode = kerr.UnknownTopicID.Code
			case part == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case rp.CurrentLeaderEpoch > 0:
				sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
			}
			if sp.ErrorCode != 0 {
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
				st.Partitions = append(st.Partitions, sp)
				hadError = true
				continue
			}
			watch := part.log.Watch() // before reading, so no move is missed
			offs := part.log.Offsets()
			sp.HighWatermark = offs.HighWatermark
			sp.LastStableOffset = offs.LastStable
			upTo := offs.HighWatermark
			if r.IsolationLevel == 1 { // read_committed
				upTo = offs.LastStable
			}
			sp.LogStartOffset = offs.LogStart
			limit := min(int(rp.PartitionMaxBytes), maxBytes-total)
			if (limit > 0 || total == 0) && rp.FetchOffset < upTo {
				// Reserve before reading, so that nothing read is held while
				// waiting for memory.
				reserve := int64(max(limit, 1))
				if !c.tryReserveFetch(reserve) {
					if total > 0 {
						maxBytes = total // budgets full: send what we have
						watches = append(watches, watch)
						st.Partitions = append(st.Partitions, sp)
						continue
					}
					if err := c.reserveFetch(reserve); err != nil {
						return fetchResult{err: err}
					}
				}
				data, err := part.log.ReadWith(rp.FetchOffset, max(limit, 0), upTo, getBuf)
				switch {
				case errors.Is(err, storage.ErrOffsetOutOfRange):
					sp.ErrorCode = kerr.OffsetOutOfRange.Code
					hadError = true
				case err != nil:
					sp.ErrorCode = kerr.KafkaStorageError.Code
					hadError = true
				case len(data) > limit && total > 0:
					// Only the first non-empty partition may exceed the limits.
					putBuf(data)
				case len(data) > 0:
					b.metrics.fetched(part, data)
					sp.RecordBatches = data
					bufs = append(bufs, data)
					total += len(data)
					if r.IsolationLevel == 1 {
						sp.AbortedTransactions = abortedIn(part, rp.FetchOffset, data)
					}
				}
				// Keep what the data uses (an oversized first batch keeps the
				// whole reservation and overshoots it, as KIP-74 requires).
				keep := min(int64(len(sp.RecordBatches)), reserve)
				c.releaseFetch(reserve - keep)
				held += keep
			} else if rp.FetchOffset > offs.LogEnd || rp.FetchOffset < offs.LogStart {
				sp.ErrorCode = kerr.OffsetOutOfRange.Code
				hadError = true
			}
			watches = append(watches, watch)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if hadError {
		watches = nil
	}
	return fetchResult{resp: resp, bytes: total, watches: watches, held: held, bufs: bufs}
}
