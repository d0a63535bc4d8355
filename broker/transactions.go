package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/coord/txn"
	"github.com/eddy-streaming/eddy/storage"
)

// txns wraps the I/O-free transaction coordinator (coord/txn) as groups.go
// wraps the group coordinator: calls are serialized, the records each call
// asks for are appended to __transaction_state and made durable before its
// replies are sent and before any marker it asks for is written. Markers
// (commit/abort control batches) go to every partition of the
// transaction; once all are durable the coordinator is told
// (MarkersWritten) and records the transaction complete. A reply that
// comes with markers (EndTxn) is sent once they are written, bounded by
// markerReplyWait. A marker on
// __consumer_offsets also settles the transaction's pending offsets in the
// group coordinator.
type txns struct {
	b    *Broker
	part *partition // __transaction_state-0
	deadlines

	mu struct {
		sync.Mutex
		c *txn.Coordinator
	}
}

func (b *Broker) txnConfig() txn.Config {
	cfg := txn.DefaultConfig()
	cfg.TransactionMaxTimeout = time.Duration(b.settings.long("transaction.max.timeout.ms")) * time.Millisecond
	cfg.TransactionalIDExpiration = time.Duration(b.settings.long("transactional.id.expiration.ms")) * time.Millisecond
	cfg.AllocateProducerID = b.pids.allocate
	return cfg
}

// startTxns opens __transaction_state, replays it, finishes transactions a
// crash left half-committed, and starts the timer loop.
func (b *Broker) startTxns() error {
	t, err := b.ensureInternalTopic(transactionStateTopic, 1)
	if err != nil {
		return err
	}
	x := &txns{b: b, part: t.parts[0], deadlines: newDeadlines()}
	c, n, err := x.load()
	if err != nil {
		return err
	}
	x.mu.c = c
	b.txns = x
	// TxnOffsetCommit is accepted only from a producer whose open
	// transaction holds the group's __consumer_offsets partition
	// (AddOffsetsToTxn came first).
	b.groups.setTxnOffsetsAllowed(func(pid int64, epoch int16, group string) error {
		x.mu.Lock()
		defer x.mu.Unlock()
		if !x.mu.c.IsPartitionInTxn(pid, epoch, consumerOffsetsTopic, txn.PartitionFor(group, 1)) {
			return kerr.InvalidTxnState
		}
		return nil
	})
	out := c.Recover(b.cfg.now())
	end, err := x.appendLocked(out)
	if err != nil {
		return err
	}
	x.deliver(out, end, nil)
	b.logger.Info("transaction coordinator ready", "records_replayed", n, "markers_pending", len(out.Markers))
	b.wg.Add(1)
	go x.timerLoop()
	return nil
}

func (x *txns) load() (*txn.Coordinator, int, error) {
	c, err := txn.New(x.b.txnConfig())
	if err != nil {
		return nil, 0, err
	}
	n := 0
	if err := x.b.replayInternal(x.part, func(k, v []byte) error {
		n++
		return c.Restore(k, v)
	}); err != nil {
		return nil, n, fmt.Errorf("replaying %s: %w", transactionStateTopic, err)
	}
	return c, n, nil
}

// handle runs one transaction API request through the coordinator.
func (x *txns) handle(c *conn, req kmsg.Request, p *pending) (kmsg.Response, error) {
	x.mu.Lock()
	out, ok := x.mu.c.Handle(x.b.cfg.now(), req, p)
	end, err := x.appendLocked(out)
	x.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("transaction coordinator does not serve %s", kmsg.NameForKey(req.Key()))
	}
	x.poke()
	x.deliver(out, end, err)
	return nil, nil
}

// appendLocked appends out's records; on failure the coordinator is
// rebuilt from what is durable.
func (x *txns) appendLocked(out txn.Output) (int64, error) {
	if len(out.Records) == 0 {
		return x.part.log.Offsets().LogEnd, nil
	}
	recs := make([]internalRecord, len(out.Records))
	for i, r := range out.Records {
		recs[i] = internalRecord{Key: r.Key, Value: r.Value}
	}
	end, err := x.b.appendInternal(x.part, recs)
	if err != nil {
		x.resetLocked()
	}
	return end, err
}

func (x *txns) resetLocked() {
	c, _, err := x.load()
	if err != nil {
		x.b.logger.Error("reloading the transaction coordinator", "err", err)
		return
	}
	x.mu.c = c
	// Transactions the log shows mid-commit get their markers again.
	out := c.Recover(x.b.cfg.now())
	go x.writeMarkers(out.Markers)
}

// deliver waits until everything appended up to end is durable (records of
// earlier calls too: replies may describe them), then sends the replies and
// writes the markers.
func (x *txns) deliver(out txn.Output, end int64, err error) {
	if len(out.Replies) == 0 && len(out.Markers) == 0 {
		return
	}
	go func() {
		if err == nil {
			ctx, cancel := context.WithTimeout(x.b.ctx, 30*time.Second)
			err = x.part.log.WaitDurable(ctx, end)
			cancel()
			if err != nil && x.b.ctx.Err() == nil {
				x.mu.Lock()
				x.resetLocked()
				x.mu.Unlock()
			}
		}
		if err == nil && len(out.Markers) > 0 && len(out.Replies) > 0 {
			// An EndTxn is answered once its markers are written (or after
			// markerReplyWait): the transaction is then complete, and the
			// client's next transaction, begun at once, is not refused with
			// CONCURRENT_TRANSACTIONS, which clients back off from for
			// 20ms or more (Kafka answers after PrepareCommit only, but
			// writes markers without an fsync each).
			done := make(chan struct{})
			go func() {
				defer close(done)
				x.writeMarkers(out.Markers)
			}()
			select {
			case <-done:
			case <-time.After(markerReplyWait):
			case <-x.b.ctx.Done():
			}
			out.Markers = nil
		}
		for _, r := range out.Replies {
			p := r.To.(*pending)
			if err != nil {
				p.finish(nil, fmt.Errorf("persisting transaction state: %w", err))
				continue
			}
			p.finish(r.Response, nil)
		}
		if err == nil {
			x.writeMarkers(out.Markers)
		}
	}()
}

// markerReplyWait bounds how long an EndTxn reply waits for the
// transaction's markers: the commit or abort decision is durable before,
// so the reply is correct either way.
const markerReplyWait = 5 * time.Second

// writeMarkers ends each transaction on its partitions, all at once (each
// partition's log fsyncs on its own, so the waits overlap), and reports
// back. A partition that no longer exists is skipped; a storage error is
// retried until the broker stops, as Kafka's marker channel does.
func (x *txns) writeMarkers(all []txn.Markers) {
	for _, m := range all {
		var wg sync.WaitGroup
		for _, tp := range m.Partitions {
			wg.Go(func() { x.writeMarkerRetrying(m, tp) })
		}
		wg.Wait()
		if x.b.ctx.Err() != nil {
			return
		}
		x.mu.Lock()
		out := x.mu.c.MarkersWritten(x.b.cfg.now(), m.TransactionalID, m.ProducerID, m.ProducerEpoch)
		end, err := x.appendLocked(out)
		x.mu.Unlock()
		x.deliver(out, end, err)
	}
}

// writeMarkerRetrying writes one marker until it is durable or the broker
// stops.
func (x *txns) writeMarkerRetrying(m txn.Markers, tp txn.TopicPartition) {
	for attempt := 0; ; attempt++ {
		err := x.writeMarker(m, tp)
		if err == nil || x.b.ctx.Err() != nil {
			return
		}
		x.b.logger.Warn("writing transaction marker; retrying", "transactional_id", m.TransactionalID,
			"topic", tp.Topic, "partition", tp.Partition, "err", err)
		select {
		case <-x.b.ctx.Done():
			return
		case <-time.After(time.Duration(min(attempt+1, 10)) * 100 * time.Millisecond):
		}
	}
}

// writeMarker appends one marker and waits until it is durable.
func (x *txns) writeMarker(m txn.Markers, tp txn.TopicPartition) error {
	t := x.b.topic(tp.Topic)
	if t == nil {
		return nil // deleted: nothing to end
	}
	part := x.b.partition(t, tp.Partition)
	if part == nil {
		return nil
	}
	off, err := part.log.AppendMarker(m.ProducerID, m.ProducerEpoch, m.Commit, m.CoordinatorEpoch)
	if errors.Is(err, storage.ErrInvalidProducerEpoch) {
		// The partition saw a newer epoch of this producer: the
		// transaction this marker ends was already ended there.
		return nil
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(x.b.ctx, 30*time.Second)
	defer cancel()
	if err := part.log.WaitDurable(ctx, off+1); err != nil {
		return err
	}
	if tp.Topic == consumerOffsetsTopic && x.b.groups != nil {
		x.b.groups.completeTransaction(m.ProducerID, m.Commit)
	}
	return nil
}

// timerLoop ticks the coordinator at its next deadline (transaction
// timeouts, id expiry).
func (x *txns) timerLoop() {
	defer x.b.wg.Done()
	x.run(x.b.ctx, func() (time.Time, bool) {
		x.mu.Lock()
		defer x.mu.Unlock()
		return x.mu.c.NextDeadline()
	}, func() {
		x.mu.Lock()
		out := x.mu.c.Tick(x.b.cfg.now())
		end, err := x.appendLocked(out)
		x.mu.Unlock()
		x.deliver(out, end, err)
	})
}

// txnHandler is the handler of every transaction API.
func txnHandler(c *conn, req kmsg.Request, p *pending) (kmsg.Response, error) {
	return c.b.txns.handle(c, req, p)
}
