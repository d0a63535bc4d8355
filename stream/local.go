package stream

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"

	"github.com/eddy-streaming/eddy/stream/internal/testhook"
	"github.com/twmb/franz-go/pkg/kgo"
)

func init() {
	testhook.NewRunner = func(top any, cfg testhook.Config) (testhook.Runner, error) {
		t, ok := top.(*Topology)
		if !ok {
			return nil, fmt.Errorf("stream: not a *Topology: %T", top)
		}
		return newLocal(t, cfg)
	}
}

// local runs a topology in memory for the test driver: every topic is a
// list of records, every task runs in the calling goroutine, and records
// written to topics the topology reads (repartition topics, or user
// topics read back) are processed before Pipe returns.
type local struct {
	top    *Topology
	env    *env
	parts  int32
	wall   int64
	topics map[string][]*kgo.Record
	tasks  map[string]*task // by topic/partition key
	all    []*task
	queue  []*kgo.Record
	rr     int32
}

func newLocal(top *Topology, cfg testhook.Config) (*local, error) {
	if cfg.Partitions <= 0 {
		cfg.Partitions = 1
	}
	l := &local{top: top, parts: cfg.Partitions, wall: cfg.WallStart, topics: map[string][]*kgo.Record{}}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dlq := cfg.DLQ
	if dlq == "" {
		dlq = cfg.AppID + "-dlq"
	}
	l.env = &env{
		appID: cfg.AppID, dlq: dlq, policy: ErrorPolicy(cfg.Policy), log: log,
		out: l, metrics: &Metrics{}, wallNow: func() int64 { return l.wall },
	}
	if err := l.createTasks(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *local) createTasks() error {
	l.tasks = map[string]*task{}
	l.all = nil
	if g := l.top.global; g != nil {
		t, err := newTask(l.env, l.top, g, 0)
		if err != nil {
			return err
		}
		l.env.global = t
		l.all = append(l.all, t)
		for _, src := range g.sources {
			l.tasks[src.resolve(l.env.appID)+"/*"] = t
		}
		if err := l.restore(t, true); err != nil {
			return err
		}
	}
	for _, g := range l.top.subs {
		for p := int32(0); p < l.parts; p++ {
			t, err := newTask(l.env, l.top, g, p)
			if err != nil {
				return err
			}
			l.all = append(l.all, t)
			for _, src := range g.sources {
				l.tasks[fmt.Sprintf("%s/%d", src.resolve(l.env.appID), p)] = t
			}
			if err := l.restore(t, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// restore replays the changelog records of t's stores.
func (l *local) restore(t *task, global bool) error {
	for _, s := range t.sub.stores {
		topic := s.changelog.resolve(l.env.appID)
		st := t.stores[s.name]
		for _, r := range l.topics[topic] {
			if !global && r.Partition != t.partition {
				continue
			}
			if err := st.restore(r.Key, r.Value); err != nil {
				return err
			}
			l.env.metrics.RestoredRecords.Add(1)
		}
	}
	return nil
}

// send implements collector.
func (l *local) send(r *kgo.Record) {
	if r.Partition < 0 {
		if r.Key != nil {
			r.Partition = partitionFor(r.Key, l.parts)
		} else {
			r.Partition = l.rr % l.parts
			l.rr++
		}
	}
	r.Offset = int64(len(l.topics[r.Topic]))
	l.topics[r.Topic] = append(l.topics[r.Topic], r)
	if l.route(r) != nil {
		l.queue = append(l.queue, r)
	}
}

func (l *local) route(r *kgo.Record) *task {
	if t := l.tasks[r.Topic+"/*"]; t != nil {
		return t
	}
	return l.tasks[fmt.Sprintf("%s/%d", r.Topic, r.Partition)]
}

// Pipe implements testhook.Runner.
func (l *local) Pipe(r *kgo.Record) error {
	if l.tasks[r.Topic+"/*"] == nil && l.tasks[r.Topic+"/0"] == nil {
		return fmt.Errorf("streamtest: the topology does not read topic %q", r.Topic)
	}
	l.send(r)
	return l.drain()
}

func (l *local) drain() error {
	for len(l.queue) > 0 {
		r := l.queue[0]
		l.queue = l.queue[1:]
		if err := l.route(r).process(r); err != nil {
			l.queue = nil
			return err
		}
	}
	return nil
}

// Records implements testhook.Runner.
func (l *local) Records(topic string) []*kgo.Record { return l.topics[topic] }

// AdvanceWallClock implements testhook.Runner.
func (l *local) AdvanceWallClock(ms int64) error {
	l.wall += ms
	for _, t := range l.all {
		if err := t.wallTick(); err != nil {
			return err
		}
		if err := l.drain(); err != nil {
			return err
		}
	}
	return nil
}

// EndInput implements testhook.Runner: every task's input ends, upstream
// sub-topologies first, each one's outputs processed before the next
// ends.
func (l *local) EndInput() error {
	for _, g := range l.top.subOrder() {
		for _, t := range l.all {
			if t.sub != g {
				continue
			}
			if err := t.endInput(); err != nil {
				return err
			}
			if err := l.drain(); err != nil {
				return err
			}
		}
	}
	return nil
}

// WallClock implements testhook.Runner.
func (l *local) WallClock() int64 { return l.wall }

// Store implements testhook.Runner.
func (l *local) Store(name string, partition int32) (any, error) {
	for _, t := range l.all {
		if st, ok := t.stores[name]; ok && (t.sub.id < 0 || t.partition == partition) {
			return st, nil
		}
	}
	var names []string
	for n := range l.top.stores {
		names = append(names, n)
	}
	sort.Strings(names)
	return nil, fmt.Errorf("streamtest: no store %q for partition %d (stores: %v)", name, partition, names)
}

// Restart implements testhook.Runner.
func (l *local) Restart() error {
	if err := l.closeTasks(); err != nil {
		return err
	}
	return l.createTasks()
}

// Metrics implements testhook.Runner.
func (l *local) Metrics() any { return l.env.metrics }

func (l *local) closeTasks() error {
	var errs []error
	for _, t := range l.all {
		errs = append(errs, t.flush(), t.close())
	}
	l.all = nil
	return errors.Join(errs...)
}

// Close implements testhook.Runner.
func (l *local) Close() error { return l.closeTasks() }
