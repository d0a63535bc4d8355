package stream

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/eddy-streaming/eddy/stream/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// collector receives every record a task writes: sink output, repartition
// records, changelog updates and dead letters. Partition -1 means
// "partition by key"; otherwise the record goes to that partition.
type collector interface {
	send(r *kgo.Record)
}

// env is what the tasks of one running topology share: names, policies,
// the collector, clocks and counters.
type env struct {
	appID    string
	dlq      string
	policy   ErrorPolicy
	log      *slog.Logger
	out      collector
	metrics  *Metrics
	wallNow  func() int64 // wall-clock time in ms; the test driver controls it
	stateDir string       // where persistent stores live ("" = none used)
	caching  bool         // store write caches (off in the test driver)
	records  *sinkRecords // records sinks lend and out gives back (nil: out keeps them)
	global   *task        // the global-table task, if any
}

// task runs one sub-topology for one partition: its operators, stores,
// stream time and punctuators. A task is used by one goroutine at a time.
type task struct {
	env       *env
	top       *Topology
	sub       *subTopology
	partition int32
	id        string

	inputs     map[string]func(*kgo.Record) // by resolved topic
	stores     map[string]storeInstance
	streamTime int64
	cur        *kgo.Record // input record being processed (for dead letters)
	puncts     []*punctuator
	closers    []func() error
	fatal      error
	seqN       uint64
	shared     map[string]any // per-task state shared by an operator's nodes (joins)
	processed  int64          // input records, published to stats.processed per batch
	stats      taskStats
	// warm holds, while the task is built, the stores of the standby it is
	// promoted from; restoreFrom the changelog offsets (by topic) they
	// (or persistent stores with a checkpoint) hold up to: restoring
	// starts there.
	warm        map[string]state.Store
	restoreFrom map[string]int64
	// uncommitted: the stores took writes since the last committed
	// transaction (exactly-once), so they cannot outlive the task.
	uncommitted bool
	enders      []ender // what operators do at the end of a bounded input
	ended       bool    // endInput ran: stream time is EndOfTime
}

// ender is what one operator does when the task's input ends.
type ender struct {
	n  *node
	fn func()
}

// EndOfTime is the stream time of a task whose input ended: at the end of
// a bounded run (StopAtEnd, TimeRange), or when a streamtest driver calls
// EndInput. Every window is closed then, and stream-time punctuators fire
// once more with it.
const EndOfTime int64 = math.MaxInt64

// atEnd registers what operator n does when the input ends.
func (t *task) atEnd(n *node, fn func()) { t.enders = append(t.enders, ender{n, fn}) }

// endInput advances the task's stream time to EndOfTime, as a bounded
// input that is over: operator by operator, upstream first (so that what
// one emits reaches the next before that one closes), windows emit their
// final results and are deleted, stream-stream joins emit and drop their
// buffered records, and stream-time punctuators fire with EndOfTime.
func (t *task) endInput() error {
	t.streamTime = EndOfTime
	t.ended = true
	for _, n := range topoOrder(t.sub.nodes) {
		for _, e := range t.enders {
			if e.n == n {
				e.fn()
			}
		}
		for _, p := range t.puncts {
			if p.n == n && p.typ == PunctuateStreamTime && !p.cancelled {
				p.fn(EndOfTime)
			}
		}
		if t.fatal != nil {
			break
		}
	}
	t.publish()
	return t.fatal
}

// topoOrder returns nodes with every node after its parents among them.
func topoOrder(nodes []*node) []*node {
	in := make(map[*node]bool, len(nodes))
	for _, n := range nodes {
		in[n] = true
	}
	done := make(map[*node]bool, len(nodes))
	out := make([]*node, 0, len(nodes))
	var visit func(n *node)
	visit = func(n *node) {
		if done[n] {
			return
		}
		done[n] = true
		for _, p := range n.parents {
			if in[p] {
				visit(p)
			}
		}
		out = append(out, n)
	}
	for _, n := range nodes {
		visit(n)
	}
	return out
}

// publish makes the task's record count visible to TaskMetrics; the
// runtime calls it once per batch of records.
func (t *task) publish() { t.stats.processed.Store(t.processed) }

// seq returns a number unique within the task's input: the input record's
// offset shifted, plus a counter for records produced from one input.
func (t *task) seq() uint64 {
	t.seqN++
	if t.cur != nil {
		return uint64(t.cur.Offset)<<16 | t.seqN&0xffff
	}
	return t.seqN
}

const noTime = math.MinInt64

func newTask(e *env, top *Topology, sub *subTopology, partition int32) (*task, error) {
	return newTaskFrom(e, top, sub, partition, nil)
}

// newTaskFrom builds a task whose stores are the given warm stores (by
// name; a promoted standby's) where there is one. The warm stores belong
// to the task, even when it fails.
func newTaskFrom(e *env, top *Topology, sub *subTopology, partition int32, warm map[string]state.Store) (*task, error) {
	t := &task{
		env: e, top: top, sub: sub, partition: partition,
		inputs:     map[string]func(*kgo.Record){},
		stores:     map[string]storeInstance{},
		shared:     map[string]any{},
		streamTime: noTime,
		warm:       warm,
	}
	defer func() {
		for _, st := range t.warm { // not taken: the build failed
			st.Close()
		}
		t.warm = nil
	}()
	if sub.id < 0 {
		t.id = "global"
	} else {
		t.id = fmt.Sprintf("%d_%d", sub.id, partition)
	}
	t.stats.id = t.id
	for _, s := range sub.stores {
		st, err := s.open(t)
		if err != nil {
			t.close()
			return nil, fmt.Errorf("stream: task %s: opening store %q: %w", t.id, s.name, err)
		}
		t.stores[s.name] = st
	}
	built := map[*node]any{}
	var build func(n *node) any
	build = func(n *node) any {
		if v, ok := built[n]; ok {
			return v
		}
		down := make([]any, len(n.children))
		for i, c := range n.children {
			down[i] = build(c)
		}
		v := n.build(t, down)
		built[n] = v
		return v
	}
	for _, n := range sub.nodes {
		v := build(n)
		if n.source != nil {
			t.inputs[n.source.resolve(e.appID)] = v.(func(*kgo.Record))
		}
	}
	if t.fatal != nil {
		t.close()
		return nil, t.fatal
	}
	return t, nil
}

// process runs one input record through the task. It returns an error only
// when the task must stop (error policy Stop, or a store failure).
func (t *task) process(r *kgo.Record) (err error) {
	in := t.inputs[r.Topic]
	if in == nil {
		return fmt.Errorf("stream: task %s has no source for topic %q", t.id, r.Topic)
	}
	t.cur = r
	defer func() {
		if p := recover(); p != nil {
			t.fail(StageProcess, fmt.Errorf("panic: %v", p))
		}
		t.cur = nil
		if err == nil {
			err = t.fatal
		}
	}()
	in(r)
	t.env.metrics.RecordsProcessed.Add(1)
	t.processed++
	t.punctuate(PunctuateStreamTime, t.streamTime)
	return nil
}

// observe moves the task's stream time forward to ts.
func (t *task) observe(ts int64) {
	if ts > t.streamTime {
		t.streamTime = ts
	}
}

// send hands a record to the collector.
func (t *task) send(r *kgo.Record) { t.env.out.send(r) }

// Stage says where a record failed.
type Stage string

// The stages recorded in the eddy.dlq.stage header.
const (
	StageDeserialize Stage = "deserialize"
	StageProcess     Stage = "process"
	StageSerialize   Stage = "serialize"
	StageLate        Stage = "late"
)

// Dead-letter headers: every dead letter is the original input record
// (key, value, timestamp, headers) plus these.
const (
	HeaderReason    = "eddy.dlq.reason"
	HeaderStage     = "eddy.dlq.stage"
	HeaderTopic     = "eddy.dlq.topic"
	HeaderPartition = "eddy.dlq.partition"
	HeaderOffset    = "eddy.dlq.offset"
)

// ErrorPolicy says what happens to a record that cannot be deserialized or
// processed. Late records always go to the dead-letter topic.
type ErrorPolicy int

const (
	// DeadLetter writes the input record to the dead-letter topic with the
	// reason in headers and goes on (the default).
	DeadLetter ErrorPolicy = iota
	// Skip logs the error and goes on.
	Skip
	// Stop stops the application with the error.
	Stop
)

// fail handles a record that failed at stage: counts it and applies the
// error policy. Late records always go to the dead-letter topic.
func (t *task) fail(stage Stage, err error) {
	m := t.env.metrics
	t.stats.errors.Add(1)
	switch stage {
	case StageDeserialize:
		m.DeserializationErrors.Add(1)
	case StageLate:
		m.LateRecords.Add(1)
	default:
		m.ProcessingErrors.Add(1)
	}
	policy := t.env.policy
	if stage == StageLate {
		policy = DeadLetter
	}
	cur := t.cur
	switch {
	case policy == Stop:
		if t.fatal == nil {
			t.fatal = fmt.Errorf("stream: task %s: %s error: %w", t.id, stage, err)
		}
	case policy == Skip || cur == nil:
		m.Skipped.Add(1)
		t.env.log.Warn("skipping record", "task", t.id, "stage", string(stage), "err", err, "topic", topicOf(cur), "offset", offsetOf(cur))
	default:
		hs := make([]Header, 0, len(cur.Headers)+5)
		hs = append(hs, cur.Headers...)
		hs = append(hs,
			Header{Key: HeaderReason, Value: []byte(err.Error())},
			Header{Key: HeaderStage, Value: []byte(stage)},
			Header{Key: HeaderTopic, Value: []byte(cur.Topic)},
			Header{Key: HeaderPartition, Value: strconv.AppendInt(nil, int64(cur.Partition), 10)},
			Header{Key: HeaderOffset, Value: strconv.AppendInt(nil, cur.Offset, 10)},
		)
		m.DeadLettered.Add(1)
		t.stats.deadLettered.Add(1)
		t.send(&kgo.Record{Topic: t.env.dlq, Key: cur.Key, Value: cur.Value, Timestamp: cur.Timestamp, Headers: hs, Partition: -1})
	}
}

func topicOf(r *kgo.Record) string {
	if r == nil {
		return ""
	}
	return r.Topic
}

func offsetOf(r *kgo.Record) int64 {
	if r == nil {
		return -1
	}
	return r.Offset
}

// flush writes every store's cached updates to the store and its
// changelog. The caller commits input offsets only after flush succeeds
// and the changelog records are acknowledged.
func (t *task) flush() error {
	var errs []error
	for _, s := range t.sub.stores {
		if st := t.stores[s.name]; st != nil {
			errs = append(errs, st.flush())
		}
	}
	return errors.Join(errs...)
}

// close closes processors and stores.
func (t *task) close() error { return t.closeAs(false) }

// closeAs closes processors and stores; crash: as a crash would (see
// closeStore).
func (t *task) closeAs(crash bool) error {
	var errs []error
	for _, c := range t.closers {
		errs = append(errs, c())
	}
	for _, st := range t.stores {
		if crash {
			errs = append(errs, closeStore(st.backing(), true))
		} else {
			errs = append(errs, st.close())
		}
	}
	return errors.Join(errs...)
}

// closeStore closes s; crash: as a crash would, losing what a Pebble store
// did not flush from its memtables (the killed instances of tests).
func closeStore(s state.Store, crash bool) error {
	if p, ok := s.(interface{ Abandon() error }); ok && crash {
		return p.Abandon()
	}
	return s.Close()
}

// release closes the task's processors and returns its stores' backing
// stores, still open, for a standby to keep.
func (t *task) release() map[string]state.Store {
	for _, c := range t.closers {
		if err := c(); err != nil {
			t.env.log.Warn("closing processor", "task", t.id, "err", err)
		}
	}
	out := make(map[string]state.Store, len(t.stores))
	for name, st := range t.stores {
		out[name] = st.backing()
	}
	return out
}

// wallTick runs the wall-clock punctuators that are due (none once the
// input ended).
func (t *task) wallTick() error {
	if t.ended {
		return nil
	}
	t.punctuate(PunctuateWallClock, t.env.wallNow())
	return t.fatal
}

func msToTime(ms int64) time.Time { return time.UnixMilli(ms) }
