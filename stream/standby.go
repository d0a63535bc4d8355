package stream

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/eddy-streaming/eddy/stream/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// StandbyReplicas makes every stateful task keep n warm copies of its
// stores on other instances (Kafka Streams' num.standby.replicas; default
// 0). A standby follows the task's changelog topics (read_committed with
// ExactlyOnce) without processing anything; when its instance takes the
// task over, it restores only the changelog records the copy had not
// applied yet. There are at most instances-1 standbys per task.
func StandbyReplicas(n int) AppOption { return func(c *appConfig) { c.standbys = max(n, 0) } }

// standbyTask keeps the stores of a task that this instance does not run
// up to date from their changelogs. It is either a standby of the
// balancer's assignment or a task this instance ran before the last
// rebalance (kept in case it comes back).
type standbyTask struct {
	key     taskKey
	sub     *subTopology
	stores  map[string]state.Store // by store name
	storeOf map[string]string      // changelog topic -> store name
	pos     map[string]int64       // changelog topic -> next offset to apply
	end     map[string]int64       // changelog topic -> end offset last seen (-1: not known)
	stats   taskStats
}

func (st *standbyTask) updateLag() {
	var lag int64
	for topic, end := range st.end {
		if end < 0 {
			lag = -1
			break
		}
		lag += max(end-st.pos[topic], 0)
	}
	st.stats.lag.Store(lag)
}

// position is the sum of the changelog positions: who holds the most
// caught-up copy of a task.
func (st *standbyTask) position() int64 {
	var n int64
	for _, p := range st.pos {
		n += p
	}
	return n
}

func (st *standbyTask) close() error { return st.closeAs(false) }

func (st *standbyTask) closeAs(crash bool) error {
	var errs []error
	for _, s := range st.stores {
		errs = append(errs, closeStore(s, crash))
	}
	return errors.Join(errs...)
}

type topicPartition struct {
	topic     string
	partition int32
}

// standbys runs the standby tasks of an App: one direct consumer of their
// changelog partitions, applied by one goroutine. Tasks are added and
// removed with the App's mu held (lock order: App.mu, then standbys.mu).
type standbys struct {
	a    *App
	cl   *kgo.Client
	adm  *kadm.Client
	done chan struct{}

	mu     sync.Mutex
	tasks  map[taskKey]*standbyTask
	byPart map[topicPartition]*standbyTask
}

func (a *App) startStandbys() error {
	opts := []kgo.Opt{kgo.KeepControlRecords(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	if a.cfg.exactlyOnce {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(a.clientOpts(opts...)...)
	if err != nil {
		return err
	}
	s := &standbys{a: a, cl: cl, adm: kadm.NewClient(cl), done: make(chan struct{}),
		tasks: map[taskKey]*standbyTask{}, byPart: map[topicPartition]*standbyTask{}}
	a.sb = s
	go s.run()
	return nil
}

// stop ends the consumer and closes every standby task (crash: as a
// crash would, see closeStore).
func (s *standbys) stop(crash bool) {
	s.cl.Close()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, st := range s.tasks {
		st.closeAs(crash)
		delete(s.tasks, k)
	}
	clear(s.byPart)
}

// warm returns the tasks held, with their positions, for the balancer.
func (s *standbys) warm() map[taskKey]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[taskKey]int64, len(s.tasks))
	for k, st := range s.tasks {
		out[k] = st.position()
	}
	return out
}

// stats appends the stats of the standby tasks.
func (s *standbys) stats(ss []*taskStats) []*taskStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.tasks {
		ss = append(ss, &st.stats)
	}
	return ss
}

func (s *standbys) run() {
	defer close(s.done)
	eos := s.a.cfg.exactlyOnce
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := s.cl.PollFetches(ctx)
		cancel()
		if fs.IsClientClosed() {
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				s.a.log.Warn("standby fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		s.mu.Lock()
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			st := s.byPart[topicPartition{p.Topic, p.Partition}]
			if st == nil || p.Err != nil {
				return // no longer a standby here
			}
			if err := s.apply(st, p, eos); err != nil {
				s.a.log.Warn("standby task failed; dropping it", "task", st.stats.id, "err", err)
				s.removeLocked(st)
				st.close()
			}
		})
		s.mu.Unlock()
		s.listEnds()
	}
}

// apply applies what a fetch returned for one changelog partition of st.
func (s *standbys) apply(st *standbyTask, p kgo.FetchTopicPartition, eos bool) error {
	store := st.stores[st.storeOf[p.Topic]]
	pos := st.pos[p.Topic]
	var n int64
	for _, r := range p.Records {
		if r.Offset < pos {
			continue // fetched before the task was re-added further on
		}
		if !r.Attrs.IsControl() {
			var err error
			if r.Value == nil {
				err = store.Delete(r.Key)
			} else {
				err = store.Set(r.Key, r.Value)
			}
			if err != nil {
				return fmt.Errorf("applying %s/%d@%d: %w", p.Topic, p.Partition, r.Offset, err)
			}
			n++
		}
		pos = r.Offset + 1
	}
	st.pos[p.Topic] = pos
	if c, ok := store.(*checkpointed); ok && pos > c.offset {
		// The store holds the changelog up to pos: a checkpoint.
		if err := c.save(pos); err != nil {
			return fmt.Errorf("checkpointing store %q: %w", st.storeOf[p.Topic], err)
		}
	}
	end := p.HighWatermark
	if eos {
		end = p.LastStableOffset
	}
	if end > st.end[p.Topic] {
		st.end[p.Topic] = end
	}
	st.stats.processed.Add(n)
	s.a.env.metrics.StandbyRecords.Add(n)
	st.updateLag()
	return nil
}

// listEnds lists the end offsets of the changelog partitions whose end is
// not known yet (new standbys), so that their lag is known before
// anything is fetched.
func (s *standbys) listEnds() {
	s.mu.Lock()
	var topics []string
	seen := map[string]bool{}
	for tp, st := range s.byPart {
		if st.end[tp.topic] < 0 && !seen[tp.topic] {
			seen[tp.topic] = true
			topics = append(topics, tp.topic)
		}
	}
	s.mu.Unlock()
	if len(topics) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := listChangelogEnds(ctx, s.adm, s.a.cfg.exactlyOnce, topics)
	if err != nil {
		s.a.log.Warn("standby: listing changelog end offsets", "err", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ends.Each(func(o kadm.ListedOffset) {
		if st := s.byPart[topicPartition{o.Topic, o.Partition}]; st != nil && st.end[o.Topic] < 0 {
			st.end[o.Topic] = o.Offset
			st.updateLag()
		}
	})
}

// listChangelogEnds lists the end offsets a store can be restored up to:
// the last stable offsets with exactly-once, else the high watermarks.
func listChangelogEnds(ctx context.Context, adm *kadm.Client, eos bool, topics []string) (kadm.ListedOffsets, error) {
	var ends kadm.ListedOffsets
	var err error
	if eos {
		ends, err = adm.ListCommittedOffsets(ctx, topics...)
	} else {
		ends, err = adm.ListEndOffsets(ctx, topics...)
	}
	if err == nil {
		err = ends.Error()
	}
	return ends, err
}

// addLocked makes st a standby and starts following its changelogs from
// its positions.
func (s *standbys) addLocked(st *standbyTask) {
	s.tasks[st.key] = st
	from := map[string]map[int32]kgo.Offset{}
	for topic := range st.storeOf {
		s.byPart[topicPartition{topic, st.key.partition}] = st
		o := kgo.NewOffset().AtStart()
		if p := st.pos[topic]; p > 0 {
			o = kgo.NewOffset().At(p)
		}
		from[topic] = map[int32]kgo.Offset{st.key.partition: o}
	}
	st.updateLag()
	s.cl.AddConsumePartitions(from)
}

func (s *standbys) removeLocked(st *standbyTask) {
	delete(s.tasks, st.key)
	rm := map[string][]int32{}
	for topic := range st.storeOf {
		delete(s.byPart, topicPartition{topic, st.key.partition})
		rm[topic] = []int32{st.key.partition}
	}
	s.cl.RemoveConsumePartitions(rm)
}

// take removes the standby of k, if any, and returns it: its stores and
// positions go to the task that becomes active.
func (s *standbys) take(k taskKey) *standbyTask {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.tasks[k]
	if st != nil {
		s.removeLocked(st)
	}
	return st
}

// update applies an assignment: the standby tasks of the assignment are
// kept or created (empty stores, following the changelogs from their
// start); those that became active here stay until ensureTasks promotes
// them; every other one closes.
func (s *standbys) update(standby []taskKey, active map[taskKey]bool) {
	want := map[taskKey]bool{}
	for _, k := range standby {
		want[k] = true
	}
	s.mu.Lock()
	for k, st := range s.tasks {
		if !want[k] && !active[k] {
			s.removeLocked(st)
			if err := st.close(); err != nil {
				s.a.log.Warn("closing standby task", "task", st.stats.id, "err", err)
			}
		}
	}
	var open []taskKey
	for _, k := range standby {
		if s.tasks[k] != nil || active[k] || k.sub < 0 || k.sub >= len(s.a.top.subs) || len(s.a.top.subs[k.sub].stores) == 0 {
			continue
		}
		open = append(open, k)
	}
	s.mu.Unlock()
	// Opening checks checkpoints against the changelogs: not with the
	// standby goroutine's lock held.
	opened := s.openAll(open)
	s.mu.Lock()
	var ids []string
	for _, st := range opened {
		s.addLocked(st)
		ids = append(ids, st.stats.id)
	}
	s.mu.Unlock()
	if len(ids) > 0 {
		sort.Strings(ids)
		s.a.log.Info("standby tasks started", "tasks", ids)
	}
}

// openAll opens the standby tasks ks: their stores as the state directory
// holds them where their checkpoints are trusted (see checkpoint.go), else
// empty. Called with the App's mu held (the only caller that adds
// standbys).
func (s *standbys) openAll(ks []taskKey) []*standbyTask {
	if len(ks) == 0 {
		return nil
	}
	var b *changelogBounds
	if s.a.cfg.stateDir != "" {
		var topics []string
		seen := map[string]bool{}
		for _, k := range ks {
			for _, spec := range s.a.top.subs[k.sub].stores {
				if t := spec.changelog.resolve(s.a.cfg.appID); !seen[t] {
					seen[t] = true
					topics = append(topics, t)
				}
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		bounds, err := s.a.listChangelogBounds(ctx, topics)
		cancel()
		if err != nil {
			s.a.log.Warn("standby tasks not started: their checkpoints cannot be checked", "err", err)
			return nil
		}
		b = &bounds
	}
	var out []*standbyTask
	for _, k := range ks {
		st, err := s.open(k, b)
		if err != nil {
			s.a.log.Warn("opening standby task", "task", taskID(k), "err", err)
			continue
		}
		out = append(out, st)
	}
	return out
}

func taskID(k taskKey) string { return fmt.Sprintf("%d_%d", k.sub, k.partition) }

// newStandbyTask returns the standby of task k of sub with the given
// stores, which hold the changelogs up to pos (-1: end unknown).
func (a *App) newStandbyTask(k taskKey, sub *subTopology, stores map[string]state.Store, pos map[string]int64) *standbyTask {
	st := &standbyTask{key: k, sub: sub, stores: stores, storeOf: map[string]string{}, pos: map[string]int64{}, end: map[string]int64{}}
	st.stats.id = taskID(k)
	st.stats.standby = true
	for _, spec := range sub.stores {
		topic := spec.changelog.resolve(a.cfg.appID)
		st.storeOf[topic] = spec.name
		st.pos[topic] = pos[topic]
		st.end[topic] = -1
	}
	return st
}

// open creates a standby for task k. Its persistent stores (b lists
// their changelogs) start from their checkpoints or empty, the others
// empty.
func (s *standbys) open(k taskKey, b *changelogBounds) (*standbyTask, error) {
	sub := s.a.top.subs[k.sub]
	stores := map[string]state.Store{}
	pos := map[string]int64{}
	fail := func(err error) (*standbyTask, error) {
		for _, o := range stores {
			o.Close()
		}
		return nil, err
	}
	for _, spec := range sub.stores {
		st, err := openBacking(s.a.env, taskID(k), k.partition, spec)
		if err != nil {
			return fail(fmt.Errorf("opening store %q: %w", spec.name, err))
		}
		stores[spec.name] = st
		if c, ok := st.(*checkpointed); ok && b != nil {
			topic := spec.changelog.resolve(s.a.cfg.appID)
			if pos[topic], err = s.a.openCheckpoint(c, taskID(k), spec.name, topic, *b); err != nil {
				return fail(fmt.Errorf("store %q: %w", spec.name, err))
			}
		}
	}
	return s.a.newStandbyTask(k, sub, stores, pos), nil
}

// retire takes tasks this instance stops running (a rebalance revoked
// them, or an aborted transaction rebuilds them). A task whose stores
// match its changelogs (clean) becomes a standby, so that if it comes
// back here (or this instance keeps a standby of it) only the changelog
// records written meanwhile are restored; the others close. Called with
// a.mu held.
func (a *App) retire(ts map[taskKey]*task, clean func(*task) bool) {
	keep := map[taskKey]*task{}
	var topics []string
	for k, t := range ts {
		if a.sb == nil || k.sub < 0 || len(t.sub.stores) == 0 || !clean(t) {
			if err := t.closeAs(a.killed.Load()); err != nil {
				a.log.Warn("closing task", "task", t.id, "err", err)
			}
			continue
		}
		keep[k] = t
		for _, s := range t.sub.stores {
			topics = append(topics, s.changelog.resolve(a.cfg.appID))
		}
	}
	if len(keep) == 0 {
		return
	}
	// The stores hold everything up to the changelogs' ends: this task
	// was their only writer and its writes are acknowledged (committed,
	// with exactly-once). An end listed lower only means replaying a few
	// records again.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := listChangelogEnds(ctx, a.adm, a.cfg.exactlyOnce, topics)
	a.sb.mu.Lock()
	defer a.sb.mu.Unlock()
	for k, t := range keep {
		stores := t.release()
		if err != nil {
			a.log.Warn("listing changelog end offsets; the task's stores will be restored in full", "task", t.id, "err", err)
			for _, s := range stores {
				s.Close()
			}
			continue
		}
		pos := map[string]int64{}
		for _, s := range t.sub.stores {
			topic := s.changelog.resolve(a.cfg.appID)
			if o, ok := ends.Lookup(topic, k.partition); ok {
				pos[topic] = o.Offset
			}
		}
		if old := a.sb.tasks[k]; old != nil { // cannot happen: a task is active or standby
			a.sb.removeLocked(old)
			old.close()
		}
		st := a.newStandbyTask(k, t.sub, stores, pos)
		for topic, p := range pos {
			st.end[topic] = p
		}
		a.sb.addLocked(st)
	}
}
