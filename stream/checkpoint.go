package stream

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/eddy-streaming/eddy/stream/state"
	"github.com/twmb/franz-go/pkg/kadm"
)

// Local state checkpoints (Kafka Streams' .checkpoint files). A store in
// Pebble (StateDir) keeps, inside the store, a checkpoint: the changelog
// offset its content corresponds to. On start a task whose stores have a
// checkpoint they can trust restores only the changelog after it; any
// other store is emptied and restored in full.
//
// The checkpoint is written, without a sync, into Pebble's write-ahead
// log after the writes it describes, and the first write after it
// rewrites it as inexact before the write itself: whatever part of the log
// survives a crash, a checkpoint that says Exact means the store holds
// exactly the changelog up to its offset. Pebble's Close syncs the log.
//
//   - Exact checkpoints are written after every commit (at least once:
//     the store's changelog records acknowledged and the input offsets
//     committed; exactly once: the transaction committed), at the
//     changelog offset after the task's last acknowledged record; after
//     every restore, at the offset restored up to; by standby tasks,
//     after every changelog fetch they apply.
//   - At least once trusts any checkpoint: after a crash the store holds
//     the changelog up to the checkpoint, then some writes of which the
//     changelog may miss the last ones. The input after the committed
//     offsets is processed again over it, which at least once allows.
//   - Exactly once trusts only exact checkpoints, so a store written
//     after its last commit by an instance that then died (Kafka Streams:
//     an unclean shutdown) is emptied and restored in full, as are the
//     stores of a task whose transaction aborted.
//   - Either way a checkpoint is not trusted, and the store is restored
//     in full, if it cannot be decoded, names another changelog topic id
//     (the changelog was deleted and created again) or partition, or its
//     offset is outside the changelog's [start, end].

// checkpointed is a Pebble store of a task (or standby task) with its
// checkpoint. It is used by one goroutine at a time, as its task; ack is
// written by the producer's promises.
type checkpointed struct {
	*state.Pebble
	topicID   [16]byte // of the changelog (zero: not known yet)
	partition int32
	offset    int64 // of the last checkpoint written or trusted
	// exact: the content is exactly the changelog up to some offset
	// (false after restoring from an inexact checkpoint: the writes
	// beyond it that the changelog missed stay in the store).
	exact bool
	dirty bool // written after the checkpoint, which says inexact on disk
	ack   *changelogAck
}

// changelogAck is the Context of a persistent store's changelog records:
// the App's promise records the offset after each one acknowledged.
type changelogAck struct {
	context.Context
	next atomic.Int64
}

func (c *changelogAck) acked(offset int64) {
	for {
		n := c.next.Load()
		if offset+1 <= n || c.next.CompareAndSwap(n, offset+1) {
			return
		}
	}
}

func newCheckpointed(p *state.Pebble, partition int32) *checkpointed {
	return &checkpointed{Pebble: p, partition: partition, exact: true,
		ack: &changelogAck{Context: context.Background()}}
}

func (c *checkpointed) record(exact bool) state.Checkpoint {
	return state.Checkpoint{TopicID: c.topicID, Partition: c.partition, Offset: c.offset, Exact: exact}
}

// written marks the store as taking a write that the changelog does not
// hold yet: the first one after a checkpoint makes it inexact on disk.
func (c *checkpointed) written() error {
	if c.dirty {
		return nil
	}
	c.dirty = true
	return c.SetCheckpoint(c.record(false))
}

// save records that the store holds the changelog up to offset.
func (c *checkpointed) save(offset int64) error {
	c.offset, c.dirty = max(offset, c.offset), false
	return c.SetCheckpoint(c.record(c.exact))
}

// committed saves the checkpoint of a store written since its last one,
// once its changelog records are acknowledged (and committed).
func (c *checkpointed) committed() error {
	if !c.dirty {
		return nil
	}
	// Every write is in the changelog now: a lower offset (offsets not
	// known) only means restoring some of them again.
	return c.save(c.ack.next.Load())
}

// checkpointTasks saves the checkpoints of the stores of ts written since
// their last one, after a successful commit. A failure is logged: the
// store then stays inexact.
func (a *App) checkpointTasks(ts map[taskKey]*task) {
	for _, t := range ts {
		for name, st := range t.stores {
			if c, ok := st.backing().(*checkpointed); ok {
				if err := c.committed(); err != nil {
					a.log.Warn("writing store checkpoint", "task", t.id, "store", name, "err", err)
				}
			}
		}
	}
}

// changelogBounds lists, for a restore, the start and end offsets of
// changelog topics (the end: see listChangelogEnds) and their topic ids.
type changelogBounds struct {
	starts, ends kadm.ListedOffsets
	ids          map[string][16]byte
}

func (a *App) listChangelogBounds(ctx context.Context, topics []string) (changelogBounds, error) {
	var b changelogBounds
	var err error
	if b.ends, err = listChangelogEnds(ctx, a.adm, a.cfg.exactlyOnce, topics); err != nil {
		return b, fmt.Errorf("stream: listing changelog end offsets of %v: %w", topics, err)
	}
	b.starts, err = a.adm.ListStartOffsets(ctx, topics...)
	if err == nil {
		err = b.starts.Error()
	}
	if err != nil {
		return b, fmt.Errorf("stream: listing changelog start offsets: %w", err)
	}
	td, err := a.adm.ListTopics(ctx, topics...)
	if err != nil {
		return b, fmt.Errorf("stream: describing changelog topics: %w", err)
	}
	b.ids = map[string][16]byte{}
	for name, d := range td {
		b.ids[name] = d.ID
	}
	return b, nil
}

// start returns the start offset of a changelog partition (0 if not
// listed).
func (b changelogBounds) start(topic string, p int32) int64 {
	if o, ok := b.starts.Lookup(topic, p); ok {
		return o.Offset
	}
	return 0
}

// end returns the end offset of a changelog partition, ok false if not
// listed.
func (b changelogBounds) end(topic string, p int32) (int64, bool) {
	o, ok := b.ends.Lookup(topic, p)
	return o.Offset, ok
}

// checkpointVerdict says whether a store's checkpoint can be trusted:
// why not (reason "" = trusted). cp/ok/err are what the store returned,
// id the changelog's topic id now (zero: unknown), [start, end] its
// offsets now.
func checkpointVerdict(cp state.Checkpoint, ok bool, err error, id [16]byte, partition int32, start, end int64, eos bool) string {
	var zero [16]byte
	switch {
	case err != nil:
		return fmt.Sprintf("unreadable checkpoint: %v", err)
	case !ok:
		return "no checkpoint"
	case cp.TopicID != zero && id != zero && cp.TopicID != id:
		return "the changelog topic was created again (another topic id)"
	case cp.Partition != partition:
		return fmt.Sprintf("checkpoint of changelog partition %d", cp.Partition)
	case cp.Offset > end:
		return fmt.Sprintf("checkpoint offset %d is after the changelog end %d", cp.Offset, end)
	case cp.Offset < start:
		return fmt.Sprintf("checkpoint offset %d is before the changelog start %d", cp.Offset, start)
	case eos && !cp.Exact:
		return "written after its last checkpoint by an instance that did not stop cleanly (exactly-once)"
	}
	return ""
}

// openCheckpoint decides where store c restores topic from: its
// checkpoint's offset if trusted, else the changelog start after emptying
// the store. It records the topic id and the position in c.
func (a *App) openCheckpoint(c *checkpointed, task, store, topic string, b changelogBounds) (int64, error) {
	start := b.start(topic, c.partition)
	end, listed := b.end(topic, c.partition)
	if !listed {
		end = start
	}
	id := b.ids[topic]
	cp, ok, err := c.Checkpoint()
	reason := checkpointVerdict(cp, ok, err, id, c.partition, start, end, a.cfg.exactlyOnce)
	c.topicID, c.dirty = id, false
	if reason == "" {
		c.offset, c.exact = cp.Offset, cp.Exact
		if cp.Offset > start || !cp.Exact {
			a.log.Info("store restores from its checkpoint", "task", task, "store", store, "offset", cp.Offset, "end", end, "exact", cp.Exact)
		}
		return cp.Offset, nil
	}
	empty, err := c.Empty()
	if err != nil {
		return 0, err
	}
	if !empty {
		a.log.Info("store restored in full", "task", task, "store", store, "reason", reason)
		if err := c.Clear(); err != nil {
			return 0, err
		}
	}
	c.offset, c.exact = start, true
	return start, nil
}
