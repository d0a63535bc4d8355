package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The raw client ("Client: raw") is a load generator that costs little CPU
// per record, so that a benchmark on a small machine measures the broker
// rather than the client. The producer pre-encodes a pool of valid record
// batches of random values and sends them over its own connections with
// several ProduceRequests in flight per connection, patching only the
// timestamps and the CRC before each send. The consumer counts fetched
// records from batch headers without decoding records. Both speak the
// Kafka protocol through kmsg and work against any broker.

// rawPoolBytes bounds the pre-encoded batches of one raw connection.
const rawPoolBytes = 16 << 20

// rawProducer is a set of connected raw senders, one per connection.
type rawProducer struct {
	senders []*rawSender
	acks    int16
}

// rawSender owns one connection and the batches it sends.
type rawSender struct {
	c       *rawConn
	version int16 // Produce version
	idx     int   // index among all senders, for rate scheduling
	parts   []int32
	enc     *batchEncoder
	pool    []*rawBatch
	maxRecs int // records per full batch
}

// parseAcks maps the acks setting to the protocol value.
func parseAcks(acks string) (int16, error) {
	switch acks {
	case "all", "-1":
		return -1, nil
	case "1", "leader":
		return 1, nil
	case "0", "none":
		return 0, nil
	}
	return 0, fmt.Errorf("invalid acks %q (want all, 1 or 0)", acks)
}

// startRawProducer opens cfg.Producers connections to the leader of each
// of cfg.Topic's partitions and pre-encodes their batch pools. Each
// connection sends to all partitions of its broker in turn, one batch per
// request.
func startRawProducer(ctx context.Context, cfg Config) (*rawProducer, error) {
	acks, err := parseAcks(cfg.Acks)
	if err != nil {
		return nil, err
	}
	if _, _, err := codecByName(cfg.Compression); err != nil {
		return nil, err
	}
	if cfg.Rate > 0 && cfg.Compression != "none" {
		return nil, errors.New("bench: the raw client sends pre-compressed batches and cannot follow a rate; use --compression none or --client kgo")
	}
	layout, err := rawMetadata(ctx, cfg.Brokers, cfg.Topic)
	if err != nil {
		return nil, err
	}
	maxBytes := int(cfg.BatchMaxBytes)
	if maxBytes <= 0 {
		maxBytes = defaultBatchMaxBytes
	}
	rp := &rawProducer{acks: acks}
	addrs, parts := layout.byLeader()
	for _, addr := range addrs {
		ps := parts[addr]
		for j := range cfg.Producers {
			c, err := dialRaw(ctx, addr)
			if err != nil {
				rp.close()
				return nil, err
			}
			s := &rawSender{c: c, idx: len(rp.senders)}
			rp.senders = append(rp.senders, s)
			if s.version, err = c.version(kmsg.Produce, 11, 3); err != nil {
				rp.close()
				return nil, err
			}
			// Start each connection at a different partition.
			for i := range ps {
				s.parts = append(s.parts, ps[(i+j)%len(ps)])
			}
			if s.enc, err = newBatchEncoder(cfg.Compression, cfg.RecordSize, uint64(s.idx)); err != nil {
				rp.close()
				return nil, err
			}
			s.maxRecs = s.enc.recordsFor(maxBytes)
			if cfg.Records > 0 {
				s.maxRecs = int(min(int64(s.maxRecs), cfg.Records))
			}
			for len(s.pool) == 0 || len(s.pool) < 16 && (len(s.pool)+1)*len(s.pool[0].buf) <= rawPoolBytes {
				b, err := s.enc.encode(s.maxRecs)
				if err != nil {
					rp.close()
					return nil, err
				}
				s.pool = append(s.pool, b)
			}
		}
	}
	cfg.Logger.Debug("raw producer ready", "connections", len(rp.senders), "records_per_batch", rp.senders[0].maxRecs,
		"batch_bytes", len(rp.senders[0].pool[0].buf), "pool", len(rp.senders[0].pool))
	return rp, nil
}

func (rp *rawProducer) warmups() int { return 0 }

func (rp *rawProducer) close() {
	for _, s := range rp.senders {
		s.c.Close()
	}
}

// rawRun is the shared state of one raw producing run.
type rawRun struct {
	cfg      Config
	acks     int16
	start    time.Time
	deadline time.Time // zero: none
	senders  int
	claimed  atomic.Int64
	requests atomic.Int64
	st       *produceStats
	lastAck  atomic.Int64 // unix nanos of the last response
}

// sched returns the scheduled send time of record k of sender idx at the
// configured rate: the senders interleave to give an even aggregate rate.
func (r *rawRun) sched(idx, k int) time.Time {
	return r.start.Add(time.Duration(float64(k*r.senders+idx) / r.cfg.Rate * float64(time.Second)))
}

// dueBy returns how many records of sender idx are due at t.
func (r *rawRun) dueBy(idx int, t time.Time) int {
	x := (t.Sub(r.start).Seconds()*r.cfg.Rate - float64(idx)) / float64(r.senders)
	if x < 0 {
		return 0
	}
	return int(x) + 1
}

// claim takes up to n records from the run's record budget.
func (r *rawRun) claim(n int) int {
	if r.cfg.Records <= 0 {
		return n
	}
	for {
		cur := r.claimed.Load()
		left := r.cfg.Records - cur
		if left <= 0 {
			return 0
		}
		take := min(int64(n), left)
		if r.claimed.CompareAndSwap(cur, cur+take) {
			return int(take)
		}
	}
}

func (r *rawRun) fail(n int, err error) {
	r.st.failed.Add(int64(n))
	r.st.errOnce.Do(func() { r.st.firstErr = err })
}

// run produces until the record or time budget is spent and every sent
// request is answered, recording ack latencies in ack: one sample per
// request from its send time, or with a Rate one per record from its
// scheduled send time.
func (rp *rawProducer) run(ctx context.Context, cfg Config, ack *Histogram) *produceStats {
	r := &rawRun{cfg: cfg, acks: rp.acks, senders: len(rp.senders), st: new(produceStats)}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, rp.close) // unblock reads and writes
	defer stop()
	r.start = time.Now()
	if cfg.Duration > 0 {
		r.deadline = r.start.Add(cfg.Duration)
	}
	var wg sync.WaitGroup
	hists := make([]*Histogram, len(rp.senders))
	for i, s := range rp.senders {
		hists[i] = NewHistogram()
		wg.Go(func() { s.run(ctx, r, hists[i]) })
	}
	wg.Wait()
	r.st.elapsed = time.Since(r.start)
	if l := r.lastAck.Load(); l > 0 && r.acks != 0 {
		r.st.elapsed = time.Unix(0, l).Sub(r.start)
	}
	r.st.requests = r.requests.Load()
	for _, h := range hists {
		ack.Merge(h)
	}
	cfg.Logger.Debug("raw producing done", "acked", r.st.acked.Load(), "failed", r.st.failed.Load(),
		"requests", r.st.requests, "elapsed", r.st.elapsed)
	return r.st
}

// sentReq is a request awaiting its response.
type sentReq struct {
	corr  int32
	sent  time.Time
	first int // index of its first record among the sender's records
	n     int
}

// run sends requests until the budget is spent, with a reader goroutine
// matching responses to requests in order.
func (s *rawSender) run(ctx context.Context, r *rawRun, ack *Histogram) {
	inflight := max(r.cfg.InFlight, 1)
	slots := make(chan struct{}, inflight)
	pending := make(chan sentReq, inflight)
	var reader sync.WaitGroup
	if r.acks != 0 {
		reader.Go(func() { s.readLoop(r, pending, slots, ack) })
	}
	defer func() {
		close(pending)
		reader.Wait()
	}()

	req := kmsg.NewPtrProduceRequest()
	req.Version = s.version
	req.Acks = r.acks
	req.TimeoutMillis = 30000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = r.cfg.Topic
	rt.Partitions = []kmsg.ProduceRequestTopicPartition{kmsg.NewProduceRequestTopicPartition()}
	req.Topics = []kmsg.ProduceRequestTopic{rt}
	rpart := &req.Topics[0].Partitions[0]

	linger := max(r.cfg.Linger, 0)
	for next, seq := 0, 0; ctx.Err() == nil; seq++ {
		n := s.maxRecs
		if r.cfg.Rate > 0 {
			due := r.sched(s.idx, next)
			if !r.deadline.IsZero() && !due.Before(r.deadline) {
				return
			}
			// Wait for a linger's worth of records, or a full batch.
			wake := due.Add(linger)
			if full := r.sched(s.idx, next+s.maxRecs-1); full.Before(wake) {
				wake = full
			}
			if !sleepUntil(ctx, wake) {
				return
			}
		}
		if r.acks != 0 {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
		}
		now := time.Now()
		if r.cfg.Rate > 0 {
			n = min(max(r.dueBy(s.idx, now)-next, 1), s.maxRecs)
			if !r.deadline.IsZero() {
				for n > 1 && !r.sched(s.idx, next+n-1).Before(r.deadline) {
					n--
				}
			}
		} else if !r.deadline.IsZero() && !now.Before(r.deadline) {
			return
		}
		if n = r.claim(n); n == 0 {
			return
		}
		b := s.pool[seq%len(s.pool)]
		if b.recEnd == nil && n < b.numRecords {
			// A compressed batch cannot be cut: encode the last, short one.
			var err error
			if b, err = s.enc.encode(n); err != nil {
				r.fail(n, err)
				return
			}
		}
		first := next
		sentAt := func(int) time.Time { return now }
		if r.cfg.Rate > 0 {
			sentAt = func(i int) time.Time { return r.sched(s.idx, first+i) }
		}
		rpart.Partition = s.parts[seq%len(s.parts)]
		rpart.Records = b.prepare(n, sentAt)
		corr, err := s.c.send(req)
		if err != nil {
			r.fail(n, fmt.Errorf("sending produce request: %w", ctxErr(ctx, err)))
			return
		}
		next += n
		r.requests.Add(1)
		m := sentReq{corr: corr, sent: now, first: first, n: n}
		if r.acks == 0 {
			// No response: the records count as acknowledged once written.
			s.acked(r, m, time.Now(), ack)
			continue
		}
		pending <- m
	}
}

// readLoop reads the responses of the requests in pending, in order. After
// an error it closes the connection and only drains pending.
func (s *rawSender) readLoop(r *rawRun, pending <-chan sentReq, slots <-chan struct{}, ack *Histogram) {
	var broken error
	for m := range pending {
		if broken != nil {
			<-slots
			r.fail(m.n, broken)
			continue
		}
		resp := kmsg.NewPtrProduceResponse()
		resp.Version = s.version
		err := s.c.recv(m.corr, resp)
		now := time.Now()
		<-slots
		if err != nil {
			broken = fmt.Errorf("reading produce response: %w", err)
			s.c.Close()
			r.fail(m.n, broken)
			continue
		}
		r.lastAck.Store(now.UnixNano())
		if err := produceError(resp); err != nil {
			r.fail(m.n, err)
			continue
		}
		s.acked(r, m, now, ack)
	}
}

// acked counts the records of request m as acknowledged at now.
func (s *rawSender) acked(r *rawRun, m sentReq, now time.Time, ack *Histogram) {
	r.st.acked.Add(int64(m.n))
	r.st.bytes.Add(int64(m.n * s.enc.valueSize))
	if r.cfg.Rate > 0 {
		for i := range m.n {
			ack.Record(now.Sub(r.sched(s.idx, m.first+i)))
		}
	} else {
		ack.Record(now.Sub(m.sent))
	}
}

// produceError returns the first partition error of a produce response.
func produceError(resp *kmsg.ProduceResponse) error {
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				if p.ErrorMessage != nil {
					return fmt.Errorf("%w: %s", err, *p.ErrorMessage)
				}
				return err
			}
		}
	}
	return nil
}
