package stream

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Bounded runs (StopAtEnd, TimeRange). Each user source partition has a
// stop offset, fixed when Run starts: the end of what a consumer of the
// run's isolation level can read then (the last stable offset in
// exactly-once mode, so a transaction still open does not hold the run
// up; the high watermark otherwise), or the first offset at or after the
// range's end. A partition is done when the consumer's position reaches
// its stop offset; the run then pauses the partition and commits exactly
// the stop offset, never further, so that a later run with the same AppID
// goes on from there.
//
// The position is the offset after the last record the consumer
// delivered (transaction markers included). Records the consumer never
// delivers (aborted transactions in exactly-once mode, compacted batches)
// can end a partition below its stop offset: when a partition has been
// idle for a commit interval, the run reads it with a fetch of its own,
// at the consumer's isolation level, and if nothing deliverable is left
// below the stop offset the partition is done.

// bound is the range of one user source partition in a bounded run. Only
// the run loop's goroutine uses it.
type bound struct {
	start, stop int64
	pos         int64 // offset after the last record delivered; -1: none since the task started
	reached     bool  // paused, with the consumer's offset at stop
	reset       bool  // records came at or beyond stop: set the offset back to stop
	idle        bool  // no record delivered since the last check
}

type bounds map[string]map[int32]*bound

func (bs bounds) get(topic string, partition int32) *bound {
	if bs == nil {
		return nil
	}
	return bs[topic][partition]
}

// take returns the records of rs below the stop offset and moves the
// position.
func (b *bound) take(rs []*kgo.Record) []*kgo.Record {
	if len(rs) == 0 {
		return rs
	}
	b.idle = false
	if b.reached {
		b.reset = true
		return nil
	}
	b.pos = max(b.pos, rs[len(rs)-1].Offset+1)
	n := sort.Search(len(rs), func(i int) bool { return rs[i].Offset >= b.stop })
	if n < len(rs) {
		b.reset = true
	}
	return rs[:n]
}

// setupBounds computes, for bounded runs, the range of each user source
// partition.
func (a *App) setupBounds(ctx context.Context) error {
	if !a.cfg.stopAtEnd && a.cfg.to == 0 {
		return nil
	}
	var user []string
	for t := range a.subOf {
		if a.isUserTopic(t) {
			user = append(user, t)
		}
	}
	list := a.adm.ListEndOffsets
	if a.cfg.exactlyOnce {
		list = a.adm.ListCommittedOffsets // the last stable offsets
	}
	ends, err := list(ctx, user...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("stream: listing end offsets: %w", err)
	}
	starts, err := a.adm.ListStartOffsets(ctx, user...)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return err
	}
	var stop, from kadm.ListedOffsets
	if a.cfg.to != 0 {
		if stop, err = a.adm.ListOffsetsAfterMilli(ctx, a.cfg.to, user...); err != nil {
			return err
		}
		if from, err = a.adm.ListOffsetsAfterMilli(ctx, a.cfg.from, user...); err != nil {
			return err
		}
	}
	a.bounds = bounds{}
	ends.Each(func(o kadm.ListedOffset) {
		b := &bound{stop: o.Offset, pos: -1}
		if s, ok := stop.Lookup(o.Topic, o.Partition); ok && s.Offset >= 0 && s.Offset < b.stop {
			b.stop = s.Offset
		}
		if s, ok := starts.Lookup(o.Topic, o.Partition); ok {
			b.start = s.Offset
		}
		if f, ok := from.Lookup(o.Topic, o.Partition); ok {
			if f.Offset < 0 {
				b.start = o.Offset // nothing at or after from
			} else {
				b.start = max(b.start, f.Offset)
			}
		}
		if a.bounds[o.Topic] == nil {
			a.bounds[o.Topic] = map[int32]*bound{}
		}
		a.bounds[o.Topic][o.Partition] = b
	})
	return nil
}

// restartBounds forgets the position of the bounded partitions of a task
// that starts (again): the consumer goes on from the committed offsets.
func (a *App) restartBounds(t *task) {
	for _, s := range t.sub.sources {
		topic := s.resolve(a.cfg.appID)
		if b := a.bounds.get(topic, t.partition); b != nil {
			if b.reached {
				a.cl.ResumeFetchPartitions(map[string][]int32{topic: {t.partition}})
			}
			*b = bound{start: b.start, stop: b.stop, pos: -1}
		}
	}
}

// finishInterval is the commit interval of a bounded run whose inputs
// reached their stop offsets (if CommitInterval is longer): from there on
// commits and checks move the end downstream.
const finishInterval = 20 * time.Millisecond

// settleBounds pauses the partitions that reached their stop offset and
// sets the consumer's offset back to the stop offset where it fetched
// beyond. Called from the run loop before it allows a rebalance.
func (a *App) settleBounds() {
	pause := map[string][]int32{}
	set := map[string]map[int32]kgo.EpochOffset{}
	a.mu.Lock()
	finishing := len(a.mu.tasks) > 0
	for _, t := range a.mu.tasks {
		for _, s := range t.sub.sources {
			if b := a.bounds.get(s.resolve(a.cfg.appID), t.partition); b != nil && !b.reached && b.pos < b.stop {
				finishing = false
			}
		}
	}
	a.mu.Unlock()
	a.finishing = finishing
	for topic, ps := range a.bounds {
		for p, b := range ps {
			if !b.reached && b.pos >= b.stop {
				b.reached = true
				pause[topic] = append(pause[topic], p)
			}
			if b.reached && b.reset {
				b.reset = false
				if set[topic] == nil {
					set[topic] = map[int32]kgo.EpochOffset{}
				}
				set[topic][p] = kgo.EpochOffset{Epoch: -1, Offset: b.stop}
			}
		}
	}
	if len(pause) > 0 {
		a.cl.PauseFetchPartitions(pause)
	}
	if len(set) > 0 {
		// Never behind what the group committed before (a range that
		// ends before where an earlier run went on to).
		committed := a.cl.CommittedOffsets()
		for topic, ps := range set {
			for p, o := range ps {
				if c, ok := committed[topic][p]; ok && c.Offset > o.Offset {
					o.Offset = c.Offset
					ps[p] = o
				}
			}
		}
		a.cl.SetOffsets(set)
	}
}

// probeIdle checks the partitions this instance consumes that delivered
// nothing since the last check and are below their stop offset: if only
// records the consumer never delivers are left below the stop offset
// (aborted transactions, markers), the partition reached its end.
func (a *App) probeIdle(ctx context.Context) error {
	type idle struct {
		topic     string
		partition int32
		b         *bound
	}
	var probe []idle
	a.mu.Lock()
	for _, t := range a.mu.tasks {
		for _, s := range t.sub.sources {
			topic := s.resolve(a.cfg.appID)
			b := a.bounds.get(topic, t.partition)
			if b == nil || b.reached {
				continue
			}
			if b.idle {
				probe = append(probe, idle{topic, t.partition, b})
			}
			b.idle = true
		}
	}
	a.mu.Unlock()
	if len(probe) == 0 {
		return nil
	}
	committed := a.cl.CommittedOffsets()
	var topics []string
	for _, p := range probe {
		topics = append(topics, p.topic)
	}
	md, err := a.adm.Metadata(ctx, topics...)
	if err != nil {
		return fmt.Errorf("stream: metadata of bounded inputs: %w", err)
	}
	for _, p := range probe {
		from := p.b.pos
		if from < 0 {
			from = p.b.start
			if c, ok := committed[p.topic][p.partition]; ok && c.Offset >= 0 {
				from = c.Offset
			}
		}
		if from >= p.b.stop {
			p.b.pos = from // already there (an earlier run went further)
			continue
		}
		more, err := a.deliverable(ctx, md, p.topic, p.partition, from, p.b.stop)
		if err != nil {
			a.log.Debug("probing a bounded input", "topic", p.topic, "partition", p.partition, "err", err)
			continue // try again at the next check
		}
		if !more {
			p.b.pos, p.b.reset = p.b.stop, true
		}
	}
	a.settleBounds()
	return nil
}

// deliverable reports whether the consumer would deliver a record of
// topic/partition in [from, stop), reading from the partition's leader as
// the consumer does (same isolation level), transaction markers aside.
func (a *App) deliverable(ctx context.Context, md kadm.Metadata, topic string, partition int32, from, stop int64) (bool, error) {
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		return false, fmt.Errorf("no metadata for %s", topic)
	}
	pd, ok := td.Partitions[partition]
	if !ok || pd.Err != nil || pd.Leader < 0 {
		return false, fmt.Errorf("no leader for %s/%d", topic, partition)
	}
	iso := kgo.ReadUncommitted()
	var isoLevel int8
	if a.cfg.exactlyOnce {
		iso, isoLevel = kgo.ReadCommitted(), 1
	}
	for from < stop {
		req := kmsg.NewPtrFetchRequest()
		req.MaxWaitMillis = 0
		req.MaxBytes = 1 << 20
		req.IsolationLevel = isoLevel
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = topic, td.ID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = partition, from, 1<<20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, a.admCl.Broker(int(pd.Leader)))
		if err != nil {
			return false, err
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			return false, fmt.Errorf("fetch response for %d topics", len(resp.Topics))
		}
		got := &resp.Topics[0].Partitions[0]
		if err := kerr.ErrorForCode(got.ErrorCode); err != nil {
			return false, err
		}
		fp, next := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{Offset: from, IsolationLevel: iso, Topic: topic, Partition: partition},
			got, kgo.DefaultDecompressor(), nil)
		if fp.Err != nil {
			return false, fp.Err
		}
		for _, r := range fp.Records {
			if r.Offset < stop {
				return true, nil
			}
		}
		if next <= from {
			// Nothing at from although from is below what the consumer
			// can read: not settled yet.
			return true, nil
		}
		from = next
	}
	return false, nil
}

// endMark is the commit metadata of the source partitions of a task whose
// input ended in a bounded run (its windows closed and emitted, its
// stream-time punctuators fired with EndOfTime): the group's durable
// record, for every instance, of which tasks ended. It is committed with
// the outputs of the end (in their transaction, exactly-once); any later
// commit of the partition (new records in a later run) replaces it.
const endMark = "eddy.stream.end-of-input"

// boundedCheck reads the group's committed offsets and finds the tasks
// whose input may end now (a.endReady), and whether the run is done.
//
// A task's input is over when the group committed each of its source
// partitions up to its end: a user source to its stop offset, an internal
// (repartition) topic to its end offset now. Its input may end when its
// input is over and every sub-topology writing to its internal topics
// ended, so that nothing more will come: the end moves downstream
// sub-topology by sub-topology, as watermarks do. A task ended when its
// input is over and its source partitions carry endMark. The run is done
// when every task ended.
func (a *App) boundedCheck(ctx context.Context) (bool, error) {
	committed, err := a.adm.FetchOffsets(ctx, a.cfg.appID)
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		return false, fmt.Errorf("stream: fetching committed offsets: %w", err)
	}
	// Where each source partition starts being consumed and where its
	// input is over.
	type span struct{ floor, end int64 }
	spans := map[string]map[int32]span{}
	for t, ps := range a.bounds {
		spans[t] = map[int32]span{}
		for p, b := range ps {
			spans[t][p] = span{b.start, b.stop}
		}
	}
	var internal []string
	for t := range a.subOf {
		if !a.isUserTopic(t) {
			internal = append(internal, t)
		}
	}
	if len(internal) > 0 {
		// Listed after the committed offsets: what an upstream task
		// produced before committing its end is in these.
		ends, err := a.adm.ListEndOffsets(ctx, internal...)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			return false, fmt.Errorf("stream: listing end offsets: %w", err)
		}
		starts, err := a.adm.ListStartOffsets(ctx, internal...)
		if err == nil {
			err = starts.Error()
		}
		if err != nil {
			return false, fmt.Errorf("stream: listing start offsets: %w", err)
		}
		ends.Each(func(o kadm.ListedOffset) {
			if spans[o.Topic] == nil {
				spans[o.Topic] = map[int32]span{}
			}
			sp := span{end: o.Offset}
			if s, ok := starts.Lookup(o.Topic, o.Partition); ok {
				sp.floor = s.Offset
			}
			spans[o.Topic][o.Partition] = sp
		})
	}
	// over returns the committed offsets of task g/p's source partitions
	// if its input is over, and whether they all carry endMark.
	over := func(g *subTopology, p int32) (offs map[string]int64, marked bool) {
		offs, marked = map[string]int64{}, true
		for _, s := range g.sources {
			topic := s.resolve(a.cfg.appID)
			sp, ok := spans[topic][p]
			if !ok {
				return nil, false
			}
			at := sp.floor
			o, ok := committed.Lookup(topic, p)
			if ok && o.Err == nil && o.At > at {
				at = o.At
			}
			if at < sp.end {
				return nil, false
			}
			offs[topic] = at
			marked = marked && ok && o.Metadata == endMark
		}
		return offs, marked
	}
	marked := markedOffsets{}
	committed.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.Metadata == endMark {
			marked.add(o.Topic, o.Partition, o.At)
		}
	})
	a.marksMu.Lock()
	a.marked = marked
	a.marksMu.Unlock()
	a.endReady = map[taskKey]map[string]int64{}
	ended := map[*subTopology]bool{}
	done := true
	for _, g := range a.top.subOrder() {
		upstreamEnded := true
		for _, u := range a.top.upstream(g, false) {
			upstreamEnded = upstreamEnded && ended[u]
		}
		all := true
		for p := range spans[g.sources[0].resolve(a.cfg.appID)] {
			offs, marked := over(g, p)
			if offs != nil && marked {
				continue
			}
			all = false
			if offs != nil && upstreamEnded {
				a.endReady[taskKey{g.id, p}] = offs
			}
		}
		ended[g] = all
		done = done && all
	}
	return done, nil
}

// endInputs ends the input of the tasks this instance runs that may end
// (see boundedCheck) and returns their source partitions, to be committed
// at their offsets with endMark.
func (a *App) endInputs() (markedOffsets, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	marks := markedOffsets{}
	for k, offs := range a.endReady {
		t := a.mu.tasks[k]
		if t == nil {
			continue // another instance's
		}
		if !t.ended {
			if err := t.endInput(); err != nil {
				return nil, err
			}
		}
		for topic, o := range offs {
			marks.add(topic, k.partition, o)
		}
	}
	a.endReady = nil
	return marks, a.producedErr()
}

// markedOffsets are source partitions committed with endMark, at their
// offsets.
type markedOffsets map[string]map[int32]int64

func (m markedOffsets) has(topic string, partition int32, offset int64) bool {
	o, ok := m[topic][partition]
	return ok && o == offset
}

func (m markedOffsets) add(topic string, partition int32, offset int64) {
	if m[topic] == nil {
		m[topic] = map[int32]int64{}
	}
	m[topic][partition] = offset
}

// markCtx returns ctx for a commit that keeps endMark on the partitions
// that carry it (when committed again at the same offset, as the client
// may do) and puts it on those of add (adding them to a transaction's
// commit if it lacks them).
func (a *App) markCtx(ctx context.Context, add markedOffsets) context.Context {
	a.marksMu.Lock()
	marked := markedOffsets{}
	for topic, ps := range a.marked {
		marked[topic] = maps.Clone(ps)
	}
	a.marksMu.Unlock()
	for topic, ps := range add {
		for p, o := range ps {
			marked.add(topic, p, o)
		}
	}
	if len(marked) == 0 {
		return ctx
	}
	mark := endMark
	ctx = kgo.PreCommitFnContext(ctx, func(req *kmsg.OffsetCommitRequest) error {
		for i := range req.Topics {
			rt := &req.Topics[i]
			for j := range rt.Partitions {
				if rp := &rt.Partitions[j]; marked.has(rt.Topic, rp.Partition, rp.Offset) {
					rp.Metadata = &mark
				}
			}
		}
		return nil
	})
	return kgo.PreTxnCommitFnContext(ctx, func(req *kmsg.TxnOffsetCommitRequest) error {
		left := markedOffsets{}
		for topic, ps := range add {
			left[topic] = maps.Clone(ps)
		}
		for i := range req.Topics {
			rt := &req.Topics[i]
			for j := range rt.Partitions {
				if rp := &rt.Partitions[j]; marked.has(rt.Topic, rp.Partition, rp.Offset) {
					rp.Metadata = &mark
					delete(left[rt.Topic], rp.Partition)
				}
			}
		}
		for topic, ps := range left {
			if len(ps) == 0 {
				continue
			}
			i := slices.IndexFunc(req.Topics, func(rt kmsg.TxnOffsetCommitRequestTopic) bool { return rt.Topic == topic })
			if i < 0 {
				rt := kmsg.NewTxnOffsetCommitRequestTopic()
				rt.Topic = topic
				req.Topics = append(req.Topics, rt)
				i = len(req.Topics) - 1
			}
			for p, o := range ps {
				rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = p, o, -1, &mark
				req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
			}
		}
		return nil
	})
}

// commitMarks commits the offsets of marks with endMark (at-least-once;
// after the outputs were acknowledged).
func (a *App) commitMarks(ctx context.Context, marks markedOffsets) error {
	offs := map[string]map[int32]kgo.EpochOffset{}
	for topic, ps := range marks {
		offs[topic] = map[int32]kgo.EpochOffset{}
		for p, o := range ps {
			offs[topic][p] = kgo.EpochOffset{Epoch: -1, Offset: o}
		}
	}
	var err error
	a.cl.CommitOffsetsSync(a.markCtx(ctx, marks), offs, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, e error) {
		if e != nil {
			err = e
			return
		}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if e := kerr.ErrorForCode(rp.ErrorCode); e != nil && err == nil {
					err = fmt.Errorf("%s/%d: %w", rt.Topic, rp.Partition, e)
				}
			}
		}
	})
	if err != nil {
		return fmt.Errorf("stream: committing the end of input: %w", err)
	}
	return nil
}
