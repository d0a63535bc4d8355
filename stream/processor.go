package stream

import (
	"fmt"
	"math"
	"time"

	"github.com/eddy-streaming/eddy/stream/serde"
)

// Processor is a custom operator (the Processor API): it gets each record,
// may read and write state stores, forward any number of records and
// schedule punctuators. One instance is created per task.
type Processor[KIn, VIn, KOut, VOut any] interface {
	// Init is called once when the task starts, before any record.
	Init(ctx *ProcessorContext[KOut, VOut]) error
	// Process handles one record. An error sends the input record to the
	// dead-letter topic (see ErrorPolicy).
	Process(r Record[KIn, VIn]) error
	// Close is called when the task closes (rebalance, shutdown).
	Close() error
}

// PunctuationType says which clock drives a punctuator.
type PunctuationType int

const (
	// PunctuateStreamTime fires as the task's stream time (the largest
	// record timestamp seen) advances; it never fires without input.
	PunctuateStreamTime PunctuationType = iota
	// PunctuateWallClock fires on the wall clock, with or without input.
	PunctuateWallClock
)

type punctuator struct {
	n         *node // the processor that scheduled it
	typ       PunctuationType
	interval  int64
	next      int64
	fn        func(ts int64)
	cancelled bool
}

// Cancellable cancels a scheduled punctuator.
type Cancellable interface{ Cancel() }

// Cancel stops the punctuator.
func (p *punctuator) Cancel() { p.cancelled = true }

// punctuate fires the punctuators of type typ that are due at now. A
// punctuator fires at most once per call, however far time jumped.
func (t *task) punctuate(typ PunctuationType, now int64) {
	if now == noTime || typ == PunctuateStreamTime && t.ended {
		return // endInput fired the stream-time punctuators for the last time
	}
	for _, p := range t.puncts {
		if p.typ != typ || p.cancelled {
			continue
		}
		if p.next == noTime {
			p.next = now + p.interval
			continue
		}
		if now < p.next {
			continue
		}
		// The first due time after now, without overflowing.
		if steps := (now-p.next)/p.interval + 1; steps > (math.MaxInt64-p.next)/p.interval {
			p.next = math.MaxInt64
		} else {
			p.next += steps * p.interval
		}
		p.fn(now)
	}
}

func (t *task) schedule(n *node, interval time.Duration, typ PunctuationType, fn func(ts int64)) Cancellable {
	iv := interval.Milliseconds()
	if iv <= 0 {
		iv = 1
	}
	p := &punctuator{n: n, typ: typ, interval: iv, fn: fn, next: noTime}
	now := t.streamTime
	if typ == PunctuateWallClock {
		now = t.env.wallNow()
	}
	if now != noTime {
		p.next = now + iv
	}
	t.puncts = append(t.puncts, p)
	return p
}

// StoreProvider gives access to state stores by name: a ProcessorContext.
type StoreProvider interface {
	storeByName(name string) (any, error)
}

// ProcessorContext is a processor's view of its task.
type ProcessorContext[K, V any] struct {
	t    *task
	n    *node
	down func(Record[K, V])
}

// Forward sends a record to the operators downstream.
func (c *ProcessorContext[K, V]) Forward(r Record[K, V]) { c.down(r) }

// Schedule calls fn every interval of stream time or wall-clock time with
// the current time (ms). Use the returned value to cancel. When the input
// of a bounded run ends, stream-time punctuators fire once more with
// EndOfTime (after the operators upstream of the processor closed their
// windows), and wall-clock punctuators stop.
func (c *ProcessorContext[K, V]) Schedule(interval time.Duration, typ PunctuationType, fn func(ts int64)) Cancellable {
	return c.t.schedule(c.n, interval, typ, fn)
}

// StreamTime returns the task's stream time: the largest record timestamp
// seen so far (math.MinInt64 before the first record, EndOfTime once the
// input of a bounded run ended).
func (c *ProcessorContext[K, V]) StreamTime() int64 { return c.t.streamTime }

// WallClockTime returns the runtime's wall clock in ms (controlled by the
// test driver in tests).
func (c *ProcessorContext[K, V]) WallClockTime() int64 { return c.t.env.wallNow() }

// TaskID returns the task's id, "subtopology_partition".
func (c *ProcessorContext[K, V]) TaskID() string { return c.t.id }

// Partition returns the input partition of the task.
func (c *ProcessorContext[K, V]) Partition() int32 { return c.t.partition }

// RecordSource returns the topic and offset of the input record being
// processed (empty and -1 in a punctuator).
func (c *ProcessorContext[K, V]) RecordSource() (topic string, offset int64) {
	return topicOf(c.t.cur), offsetOf(c.t.cur)
}

func (c *ProcessorContext[K, V]) storeByName(name string) (any, error) {
	st := c.t.stores[name]
	if st == nil && c.t.env.global != nil {
		st = c.t.env.global.stores[name]
	}
	if st == nil {
		return nil, fmt.Errorf("stream: store %q is not connected to this processor (list it with WithStores)", name)
	}
	return st, nil
}

// GetKeyValueStore returns the key-value store name of a processor's task
// with its types.
func GetKeyValueStore[K, V any](p StoreProvider, name string) (KeyValueStore[K, V], error) {
	st, err := p.storeByName(name)
	if err != nil {
		return nil, err
	}
	kv, ok := st.(KeyValueStore[K, V])
	if !ok {
		return nil, fmt.Errorf("stream: store %q is a %T, not a KeyValueStore of these types", name, st)
	}
	return kv, nil
}

// AddKeyValueStore adds a key-value store for processors; connect it to
// one with WithStores. Options: Named is ignored (the store is name),
// InMemory keeps it out of Pebble.
func AddKeyValueStore[K, V any](b *Builder, name string, ks serde.Serde[K], vs serde.Serde[V], opts ...Option) {
	addKVStore(b, name, ks, vs, options(opts).inMemory)
}

// Process runs a custom processor: newProcessor is called once per task.
// Stores the processor uses must be named with WithStores.
func Process[KIn, VIn, KOut, VOut any](s *Stream[KIn, VIn], newProcessor func() Processor[KIn, VIn, KOut, VOut], opts ...Option) *Stream[KOut, VOut] {
	c := options(opts)
	var n *node
	n = then(s, "processor", c.name, func(t *task, down func(Record[KOut, VOut])) func(Record[KIn, VIn]) {
		p := newProcessor()
		ctx := &ProcessorContext[KOut, VOut]{t: t, n: n, down: down}
		if err := p.Init(ctx); err != nil {
			t.fatal = fmt.Errorf("stream: task %s: processor init: %w", t.id, err)
		}
		t.closers = append(t.closers, p.Close)
		return func(r Record[KIn, VIn]) {
			if err := p.Process(r); err != nil {
				t.fail(StageProcess, err)
			}
		}
	})
	n.stores = append(n.stores, c.stores...)
	return &Stream[KOut, VOut]{b: s.b, n: n, keyChanged: true}
}
