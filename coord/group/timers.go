package group

import (
	"container/heap"
	"time"
)

// A timer is a deadline owned by a group, a member, a pending member or the
// coordinator. Arming pushes an entry on the coordinator's heap and
// remembers the entry's sequence number; re-arming or disarming changes the
// number, so the old entry goes stale and is skipped when it surfaces.
type timer struct {
	at  time.Time
	seq uint64 // 0: disarmed
}

func (t *timer) armed() bool { return t.seq != 0 }

type timerKind uint8

const (
	kindJoin    timerKind = iota // group: rebalance timeout or initial delay
	kindSync                     // group: members that have not sent SyncGroup
	kindSession                  // member: session timeout
	kindPending                  // KIP-394 pending member: unused member id
	kindCleanup                  // coordinator: offset-retention sweep
)

type timerEntry struct {
	at     time.Time
	seq    uint64
	kind   timerKind
	group  string
	member string
}

// timerHeap orders entries by deadline, then by arming order.
type timerHeap []timerEntry

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(timerEntry)) }
func (h *timerHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
func (h *timerHeap) pop() timerEntry { return heap.Pop(h).(timerEntry) }

// arm sets t to fire at at.
func (c *Coordinator) arm(t *timer, at time.Time, kind timerKind, group, member string) {
	if t.armed() {
		c.stale++
	}
	c.seq++
	t.at, t.seq = at, c.seq
	heap.Push(&c.timers, timerEntry{at: at, seq: c.seq, kind: kind, group: group, member: member})
}

// disarm cancels t.
func (c *Coordinator) disarm(t *timer) {
	if t.armed() {
		c.stale++
		t.seq = 0
	}
}

// lookup finds the timer an entry was armed for, or nil if its owner is
// gone.
func (c *Coordinator) lookup(e timerEntry) *timer {
	if e.kind == kindCleanup {
		return &c.cleanup
	}
	g := c.groups[e.group]
	if g == nil {
		return nil
	}
	switch e.kind {
	case kindJoin:
		return &g.joinTimer
	case kindSync:
		return &g.syncTimer
	case kindSession:
		if m := g.byID[e.member]; m != nil {
			return &m.session
		}
	case kindPending:
		if p := g.pending[e.member]; p != nil {
			return &p.session
		}
	}
	return nil
}

// maybeCompactTimers rebuilds the heap without stale entries once they are
// the majority, so frequent heartbeats do not grow it without bound.
func (c *Coordinator) maybeCompactTimers() {
	if c.stale < 64 || c.stale < len(c.timers)/2 {
		return
	}
	live := c.timers[:0]
	for _, e := range c.timers {
		if t := c.lookup(e); t != nil && t.seq == e.seq {
			live = append(live, e)
		}
	}
	clear(c.timers[len(live):])
	c.timers = live
	heap.Init(&c.timers)
	c.stale = 0
}
