package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// restore fills the stores of tasks from their changelog topics (for the
// global task: from the global tables' source topics, every partition),
// reading each partition from its start (or from where a promoted
// standby's stores are, or from a persistent store's trusted checkpoint:
// see checkpoint.go) to the end offset it had when the restore began,
// where persistent stores then record their checkpoint. In exactly-once
// mode only committed records are read.
// Progress is logged, counted in Metrics.RestoredRecords and in each
// task's TaskStats (offsets restored of offsets to restore); the tasks are
// running once it returns nil.
func (a *App) restore(ctx context.Context, tasks []*task, global bool) (err error) {
	defer func() {
		if err == nil {
			for _, t := range tasks {
				t.stats.running.Store(true)
			}
		}
	}()
	type target struct {
		st           storeInstance
		task         *task
		end, pos     int64 // pos: the next changelog offset to restore
		store, topic string
	}
	parts := map[string]map[int32]*target{}
	var topics []string
	for _, t := range tasks {
		for _, s := range t.sub.stores {
			topic := s.changelog.resolve(a.cfg.appID)
			if parts[topic] == nil {
				parts[topic] = map[int32]*target{}
				topics = append(topics, topic)
			}
			if global {
				parts[topic][-1] = &target{st: t.stores[s.name], task: t, store: s.name, topic: topic}
			} else {
				parts[topic][t.partition] = &target{st: t.stores[s.name], task: t, store: s.name, topic: topic}
			}
		}
	}
	if len(topics) == 0 {
		return nil
	}
	b, err := a.listChangelogBounds(ctx, topics)
	if err != nil {
		return err
	}
	// Persistent stores start from their checkpoints (or are emptied),
	// and record one where the restore ends.
	var saved []*target
	if !global {
		for _, topic := range topics {
			for _, tg := range parts[topic] {
				c, ok := tg.st.backing().(*checkpointed)
				if !ok {
					continue
				}
				saved = append(saved, tg)
				if _, promoted := tg.task.restoreFrom[topic]; promoted {
					continue // a standby's store: its position is known
				}
				if tg.task.restoreFrom == nil {
					tg.task.restoreFrom = map[string]int64{}
				}
				if tg.task.restoreFrom[topic], err = a.openCheckpoint(c, tg.task.id, tg.store, topic, b); err != nil {
					return fmt.Errorf("stream: task %s: store %q: %w", tg.task.id, tg.store, err)
				}
			}
		}
	}
	defer func() {
		if err != nil {
			return
		}
		for _, tg := range saved {
			c := tg.st.backing().(*checkpointed)
			if c.topicID == ([16]byte{}) {
				c.topicID = b.ids[tg.topic]
			}
			if serr := c.save(max(tg.end, tg.task.restoreFrom[tg.topic])); serr != nil {
				a.log.Warn("writing store checkpoint", "task", tg.task.id, "store", tg.store, "err", serr)
			}
		}
	}()
	ends, starts := b.ends, b.starts
	consume := map[string]map[int32]kgo.Offset{}
	remaining := map[string]map[int32]*target{}
	var total int64
	ends.Each(func(o kadm.ListedOffset) {
		tg := parts[o.Topic][o.Partition]
		if global {
			if g := parts[o.Topic][-1]; g != nil {
				tg = &target{st: g.st, task: g.task, store: g.store}
			}
		}
		if tg == nil {
			return
		}
		start := int64(0)
		if s, ok := starts.Lookup(o.Topic, o.Partition); ok {
			start = s.Offset
		}
		if from, ok := tg.task.restoreFrom[o.Topic]; ok && !global && from > start {
			start = from // a promoted standby's stores hold the changelog up to from
		}
		if o.Offset <= start {
			return
		}
		tg.end, tg.pos = o.Offset, start
		tg.task.stats.restoreTotal.Add(o.Offset - start)
		total += o.Offset - start
		if consume[o.Topic] == nil {
			consume[o.Topic] = map[int32]kgo.Offset{}
			remaining[o.Topic] = map[int32]*target{}
		}
		consume[o.Topic][o.Partition] = kgo.NewOffset().At(start)
		remaining[o.Topic][o.Partition] = tg
	})
	if len(consume) == 0 {
		return nil
	}
	opts := []kgo.Opt{kgo.ConsumePartitions(consume), kgo.KeepControlRecords()}
	if a.cfg.exactlyOnce {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(a.clientOpts(opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	began := time.Now()
	lastLog := began
	var applied int64
	a.log.Info("restoring state", "tasks", len(tasks), "topics", topics, "records", total)
	left := 0
	for _, ps := range remaining {
		left += len(ps)
	}
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("stream: restoring from %s/%d: %w", t, p, err) })
		if ferr != nil {
			return ferr
		}
		var aerr error
		fs.EachRecord(func(r *kgo.Record) {
			tg := remaining[r.Topic][r.Partition]
			if tg == nil || aerr != nil {
				return
			}
			if !r.Attrs.IsControl() && r.Offset < tg.end {
				if aerr = tg.st.restore(r.Key, r.Value); aerr != nil {
					return
				}
				applied++
				a.env.metrics.RestoredRecords.Add(1)
			}
			if n := min(r.Offset+1, tg.end) - tg.pos; n > 0 {
				tg.task.stats.restored.Add(n)
				tg.pos += n
			}
			if r.Offset+1 >= tg.end {
				delete(remaining[r.Topic], r.Partition)
				left--
			}
		})
		if aerr != nil {
			return aerr
		}
		if time.Since(lastLog) > 5*time.Second {
			lastLog = time.Now()
			a.log.Info("restoring state", "applied", applied, "of", total)
		}
	}
	a.log.Info("restored state", "tasks", len(tasks), "records", applied, "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// startGlobal builds the global task, restores its tables from their
// source topics, and keeps them up to date in the background until the
// app's client closes.
func (a *App) startGlobal(ctx context.Context) (*task, error) {
	g, err := newTask(a.env, a.top, a.top.global, 0)
	if err != nil {
		return nil, err
	}
	a.env.global = g
	a.mu.Lock()
	a.publishStats()
	a.mu.Unlock()
	if err := a.restore(ctx, []*task{g}, true); err != nil {
		g.close()
		return nil, err
	}
	var topics []string
	for _, s := range a.top.global.sources {
		topics = append(topics, s.resolve(a.cfg.appID))
	}
	ends, err := a.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		g.close()
		return nil, err
	}
	from := map[string]map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if from[o.Topic] == nil {
			from[o.Topic] = map[int32]kgo.Offset{}
		}
		from[o.Topic][o.Partition] = kgo.NewOffset().At(o.Offset)
	})
	cl, err := kgo.NewClient(a.clientOpts(kgo.ConsumePartitions(from))...)
	if err != nil {
		g.close()
		return nil, err
	}
	go func() {
		defer cl.Close()
		for {
			fs := cl.PollFetches(context.Background())
			if fs.IsClientClosed() {
				return
			}
			a.mu.Lock()
			closing := !a.running.Load()
			fs.EachRecord(func(r *kgo.Record) {
				if err := g.process(r); err != nil {
					a.log.Error("global table update failed", "err", err)
				}
			})
			g.publish()
			a.mu.Unlock()
			if closing {
				return
			}
		}
	}()
	// Stop the global consumer when the app's client closes.
	go func() {
		<-a.cl.Context().Done()
		cl.Close()
	}()
	return g, nil
}
