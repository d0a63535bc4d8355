// Package deadline is the timer queue of Eddy's I/O-free coordinators
// (coord/group, coord/txn): deadlines owned by pieces of their state, kept
// in one heap, fired in order by the coordinator's own calls. No clock, no
// goroutine.
//
// Arming pushes an entry and remembers its sequence number in the owner's
// Timer; re-arming or disarming changes the number, so the old entry goes
// stale and is skipped when it surfaces. Stale entries are dropped in bulk
// once they are the majority, so frequent re-arming (heartbeats) does not
// grow the heap without bound.
package deadline

import (
	"container/heap"
	"time"
)

// Timer is one owner's deadline. The zero Timer is disarmed.
type Timer struct {
	At  time.Time // the deadline, meaningful while Armed
	seq uint64    // 0: disarmed
}

// Armed reports whether the timer is set.
func (t *Timer) Armed() bool { return t.seq != 0 }

type entry[K any] struct {
	at  time.Time
	seq uint64
	key K
}

type entries[K any] []entry[K]

// entries order by deadline, then by arming order.
func (h entries[K]) Len() int { return len(h) }
func (h entries[K]) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h entries[K]) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *entries[K]) Push(x any)   { *h = append(*h, x.(entry[K])) }
func (h *entries[K]) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// Queue holds the deadlines of a coordinator. K names an owner; the
// coordinator's lookup function turns a K back into the owner's Timer, or
// nil when the owner is gone. The zero Queue is empty and ready.
type Queue[K any] struct {
	h     entries[K]
	seq   uint64 // last sequence number handed out
	stale int    // entries whose timer was re-armed or disarmed since
}

// Arm sets t to fire at at on behalf of key.
func (q *Queue[K]) Arm(t *Timer, at time.Time, key K) {
	if t.Armed() {
		q.stale++
	}
	q.seq++
	t.At, t.seq = at, q.seq
	heap.Push(&q.h, entry[K]{at: at, seq: q.seq, key: key})
}

// Disarm cancels t.
func (q *Queue[K]) Disarm(t *Timer) {
	if t.Armed() {
		q.stale++
		t.seq = 0
	}
}

func (q *Queue[K]) live(e entry[K], lookup func(K) *Timer) *Timer {
	if t := lookup(e.key); t != nil && t.seq == e.seq {
		return t
	}
	return nil
}

func (q *Queue[K]) dropTop() {
	heap.Pop(&q.h)
	q.stale = max(q.stale-1, 0)
}

// Next returns the earliest armed deadline, and false if none is armed.
func (q *Queue[K]) Next(lookup func(K) *Timer) (time.Time, bool) {
	for len(q.h) > 0 {
		e := q.h[0]
		if q.live(e, lookup) != nil {
			return e.at, true
		}
		q.dropTop()
	}
	return time.Time{}, false
}

// PopDue removes the earliest armed deadline at or before now, disarms its
// timer and returns its key and time; false when none is due.
func (q *Queue[K]) PopDue(now time.Time, lookup func(K) *Timer) (K, time.Time, bool) {
	for len(q.h) > 0 {
		e := q.h[0]
		if e.at.After(now) {
			break
		}
		t := q.live(e, lookup)
		if t == nil {
			q.dropTop()
			continue
		}
		heap.Pop(&q.h)
		t.seq = 0
		return e.key, e.at, true
	}
	var zero K
	return zero, time.Time{}, false
}

// Compact rebuilds the heap without stale entries once they are the
// majority (and at least 64).
func (q *Queue[K]) Compact(lookup func(K) *Timer) {
	if q.stale < 64 || q.stale < len(q.h)/2 {
		return
	}
	live := q.h[:0]
	for _, e := range q.h {
		if q.live(e, lookup) != nil {
			live = append(live, e)
		}
	}
	clear(q.h[len(live):])
	q.h = live
	heap.Init(&q.h)
	q.stale = 0
}

// Len returns the number of entries, stale ones included.
func (q *Queue[K]) Len() int { return len(q.h) }
