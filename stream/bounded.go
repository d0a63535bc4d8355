package stream

import (
	"context"
	"fmt"
	"sort"

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

// settleBounds pauses the partitions that reached their stop offset and
// sets the consumer's offset back to the stop offset where it fetched
// beyond. Called from the run loop before it allows a rebalance.
func (a *App) settleBounds() {
	pause := map[string][]int32{}
	set := map[string]map[int32]kgo.EpochOffset{}
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
		if from < p.b.stop {
			more, err := a.deliverable(ctx, md, p.topic, p.partition, from, p.b.stop)
			if err != nil {
				a.log.Debug("probing a bounded input", "topic", p.topic, "partition", p.partition, "err", err)
				continue // try again at the next check
			}
			if more {
				continue
			}
		}
		p.b.pos, p.b.reset = p.b.stop, true
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

// boundedDone reports whether the group has committed every user source
// partition up to its stop offset and every internal topic up to its end.
func (a *App) boundedDone(ctx context.Context) (bool, error) {
	committed, err := a.adm.FetchOffsets(ctx, a.cfg.appID)
	if err != nil {
		return false, err
	}
	at := func(t string, p int32, floor int64) int64 {
		if o, ok := committed.Lookup(t, p); ok && o.Err == nil && o.At > floor {
			return o.At
		}
		return floor
	}
	for t, ps := range a.bounds {
		for p, b := range ps {
			if at(t, p, b.start) < b.stop {
				return false, nil
			}
		}
	}
	// The user inputs are done; internal topics must be drained too.
	var internal []string
	for t := range a.subOf {
		if !a.isUserTopic(t) {
			internal = append(internal, t)
		}
	}
	if len(internal) == 0 {
		return true, nil
	}
	ends, err := a.adm.ListEndOffsets(ctx, internal...)
	if err != nil {
		return false, err
	}
	starts, err := a.adm.ListStartOffsets(ctx, internal...)
	if err != nil {
		return false, err
	}
	done := true
	ends.Each(func(o kadm.ListedOffset) {
		floor := int64(0)
		if s, ok := starts.Lookup(o.Topic, o.Partition); ok {
			floor = s.Offset
		}
		if at(o.Topic, o.Partition, floor) < o.Offset {
			done = false
		}
	})
	return done, nil
}
