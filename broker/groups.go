package broker

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/coord/group"
)

// groups wraps the I/O-free group coordinator (coord/group): it serializes
// calls, persists the records each call asks for in __consumer_offsets
// (in the order the coordinator produced them, so the log replays to the
// same state), and sends the replies only once those records are durable,
// so a committed offset is acknowledged only when it would survive a
// crash. A goroutine fires the coordinator's timers (session and
// rebalance timeouts).
//
// Transactional offset commits (TxnOffsetCommit, txn_offset_commit.go)
// are appended in transactional batches of their producer; the
// transaction wiring settles them with completeTransaction once the
// producer's marker on __consumer_offsets-0 is durable, and the replay at
// start passes transactional records and markers to the coordinator in
// log order.
type groups struct {
	b    *Broker
	part *partition // __consumer_offsets-0
	deadlines

	mu struct {
		sync.Mutex
		c *group.Coordinator
		// txnOffsetsAllowed: see setTxnOffsetsAllowed.
		txnOffsetsAllowed func(pid int64, epoch int16, group string) error
	}
}

// setTxnOffsetsAllowed sets the hook asked before a TxnOffsetCommit is
// served: whether producer pid at epoch has an open transaction to which
// AddOffsetsToTxn added group (in coord/txn terms,
// IsPartitionInTxn(pid, epoch, "__consumer_offsets", 0) for a transaction
// that lists group). A non-nil error refuses the request on every
// partition, with the error's code if it is a *kerr.Error
// (kerr.InvalidProducerEpoch, kerr.ProducerFenced, kerr.InvalidTxnState,
// kerr.InvalidProducerIDMapping, kerr.ConcurrentTransactions...) and
// UNKNOWN_SERVER_ERROR otherwise. The hook is called without any lock of
// the group coordinator held. The transaction wiring sets it when it
// starts (after startGroups); without a hook (nil), TxnOffsetCommit is
// served unchecked, and only the log refuses a fenced epoch.
func (g *groups) setTxnOffsetsAllowed(fn func(pid int64, epoch int16, group string) error) {
	g.mu.Lock()
	g.mu.txnOffsetsAllowed = fn
	g.mu.Unlock()
}

// groupConfig maps broker settings onto the coordinator's.
func (b *Broker) groupConfig() group.Config {
	cfg := group.DefaultConfig()
	ms := func(name string) time.Duration { return time.Duration(b.settings.long(name)) * time.Millisecond }
	cfg.InitialRebalanceDelay = ms("group.initial.rebalance.delay.ms")
	cfg.MinSessionTimeout = ms("group.min.session.timeout.ms")
	cfg.MaxSessionTimeout = ms("group.max.session.timeout.ms")
	cfg.MaxGroupSize = int(b.settings.long("group.max.size"))
	cfg.OffsetsRetention = time.Duration(b.settings.long("offsets.retention.minutes")) * time.Minute
	cfg.OffsetsRetentionCheckInterval = ms("offsets.retention.check.interval.ms")
	cfg.MaxOffsetMetadataBytes = int(b.settings.long("offset.metadata.max.bytes"))
	return cfg
}

// startGroups opens __consumer_offsets, replays it into a new coordinator
// and starts its timer loop.
func (b *Broker) startGroups() error {
	t, err := b.ensureInternalTopic(consumerOffsetsTopic, 1)
	if err != nil {
		return err
	}
	g := &groups{b: b, part: t.parts[0], deadlines: newDeadlines()}
	c, n, err := g.load()
	if err != nil {
		return err
	}
	// The first call starts restored members' session timers.
	out := c.Tick(b.cfg.now())
	g.mu.c = c
	if _, err := g.appendLocked(out); err != nil {
		return err
	}
	b.groups = g
	b.logger.Info("group coordinator ready", "records_replayed", n)
	b.wg.Add(1)
	go g.timerLoop()
	return nil
}

// load builds a coordinator from what __consumer_offsets holds: ordinary
// records, records of transactional batches (TxnOffsetCommit, pending in
// their producer's transaction) and transaction markers, in log order.
func (g *groups) load() (*group.Coordinator, int, error) {
	c, err := group.New(g.b.groupConfig())
	if err != nil {
		return nil, 0, err
	}
	n := 0
	if err := g.b.replayInternalEntries(g.part, func(e internalEntry) error {
		n++
		switch {
		case e.Marker:
			return c.RestoreMarker(e.ProducerID, e.Commit)
		case e.Transactional && e.ProducerID >= 0:
			return c.RestoreTxnRecord(e.ProducerID, e.Key, e.Value)
		}
		return c.Restore(e.Key, e.Value)
	}); err != nil {
		return nil, n, fmt.Errorf("replaying %s: %w", consumerOffsetsTopic, err)
	}
	return c, n, nil
}

// resetLocked rebuilds the coordinator from the log after a write failed,
// so its state is again exactly what is durable.
func (g *groups) resetLocked() {
	c, _, err := g.load()
	if err != nil {
		g.b.logger.Error("reloading the group coordinator", "err", err)
		return
	}
	g.mu.c = c
}

// handle runs one group request through the coordinator.
func (g *groups) handle(c *conn, req kmsg.Request, p *pending) (kmsg.Response, error) {
	host := c.nc.RemoteAddr().String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	g.mu.Lock()
	out, ok := g.mu.c.Handle(g.b.cfg.now(), group.Client{ID: c.clientID, Host: "/" + host}, req, p)
	end, err := g.appendLocked(out)
	g.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("group coordinator does not serve %s", kmsg.NameForKey(req.Key()))
	}
	g.poke()
	g.deliver(out, end, err)
	return nil, nil // every reply, including this request's, goes through deliver
}

// appendLocked appends out's records in order: each run of consecutive
// records of one producer's transaction (Record.ProducerID >= 0, same
// epoch) as one transactional batch of that producer, each run of
// ordinary records as one ordinary batch. It returns the offset after the
// last. If an append fails, the coordinator is rebuilt from the log (which
// may hold the batches appended before the failure).
func (g *groups) appendLocked(out group.Output) (int64, error) {
	if len(out.Records) == 0 {
		// Replies may still describe records of earlier calls (an
		// OffsetFetch right after a commit): they wait for those.
		return g.part.log.Offsets().LogEnd, nil
	}
	producer := func(r group.Record) (int64, int16) {
		if r.ProducerID < 0 {
			return -1, -1
		}
		return r.ProducerID, r.ProducerEpoch
	}
	var end int64
	for rs := out.Records; len(rs) > 0; {
		pid, epoch := producer(rs[0])
		n := 1
		for ; n < len(rs); n++ {
			if p, e := producer(rs[n]); p != pid || e != epoch {
				break
			}
		}
		recs := make([]internalRecord, n)
		for i, r := range rs[:n] {
			recs[i] = internalRecord{Key: r.Key, Value: r.Value}
		}
		var err error
		end, err = g.b.appendInternalTxn(g.part, recs, pid, epoch)
		if err != nil {
			g.resetLocked()
			return 0, err
		}
		rs = rs[n:]
	}
	return end, nil
}

// completeTransaction settles producer pid's offsets pending in
// TxnOffsetCommit: they become the committed offsets if commit, and are
// dropped otherwise (group.Coordinator.CompleteTransaction). The
// transaction wiring calls it once the producer's commit or abort marker
// on __consumer_offsets-0 is durable, and before it lets the producer
// start its next transaction. Calling it for a producer with nothing
// pending, or twice, is harmless.
func (g *groups) completeTransaction(pid int64, commit bool) {
	g.mu.Lock()
	out := g.mu.c.CompleteTransaction(g.b.cfg.now(), pid, commit)
	end, err := g.appendLocked(out)
	g.mu.Unlock()
	g.poke()
	g.deliver(out, end, err)
}

// deliver sends the replies of out once its records (appended up to end)
// are durable. If they cannot be made durable, the connections waiting for
// those replies are closed: the clients retry, as after a coordinator
// failover, and nothing unpersisted was acknowledged.
func (g *groups) deliver(out group.Output, end int64, err error) {
	if len(out.Replies) == 0 {
		return
	}
	send := func(err error) {
		for _, r := range out.Replies {
			p := r.To.(*pending)
			if err != nil {
				p.finish(nil, fmt.Errorf("persisting group state: %w", err))
				continue
			}
			p.finish(r.Response, nil)
		}
	}
	if err != nil || g.part.log.HighWatermark() >= end {
		send(err)
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(g.b.ctx, 30*time.Second)
		defer cancel()
		err := g.part.log.WaitDurable(ctx, end)
		if err != nil && g.b.ctx.Err() == nil {
			g.mu.Lock()
			g.resetLocked()
			g.mu.Unlock()
		}
		send(err)
	}()
}

// timerLoop ticks the coordinator at its next deadline.
func (g *groups) timerLoop() {
	defer g.b.wg.Done()
	g.run(g.b.ctx, func() (time.Time, bool) {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.mu.c.NextDeadline()
	}, func() {
		g.mu.Lock()
		out := g.mu.c.Tick(g.b.cfg.now())
		end, err := g.appendLocked(out)
		g.mu.Unlock()
		g.deliver(out, end, err)
	})
}

// groupHandler is the handler of every group API: the files named after
// them register it with their version ranges.
func groupHandler(c *conn, req kmsg.Request, p *pending) (kmsg.Response, error) {
	return c.b.groups.handle(c, req, p)
}
