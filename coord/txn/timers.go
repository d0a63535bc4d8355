package txn

import (
	"container/heap"
	"time"
)

// Each transactional id has at most one deadline: the transaction timeout
// while Ongoing, the id's expiry while Empty or Complete*, none while
// Prepare*. Arming pushes an entry on the coordinator's heap and remembers
// the entry's sequence number; re-arming or disarming changes the number,
// so the old entry goes stale and is skipped when it surfaces.
type timer struct {
	at  time.Time
	seq uint64 // 0: disarmed
}

func (t *timer) armed() bool { return t.seq != 0 }

type timerEntry struct {
	at  time.Time
	seq uint64
	id  string
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

// arm sets t's timer to fire at at.
func (c *Coordinator) arm(t *transaction, at time.Time) {
	if t.timer.armed() {
		c.stale++
	}
	c.seq++
	t.timer.at, t.timer.seq = at, c.seq
	heap.Push(&c.timers, timerEntry{at: at, seq: c.seq, id: t.id})
}

// disarm cancels tm.
func (c *Coordinator) disarm(tm *timer) {
	if tm.armed() {
		c.stale++
		tm.seq = 0
	}
}

// lookup finds the timer an entry was armed for, or nil if its id is gone.
func (c *Coordinator) lookup(e timerEntry) *timer {
	if t := c.txns[e.id]; t != nil {
		return &t.timer
	}
	return nil
}

// maybeCompactTimers rebuilds the heap without stale entries once they
// are the majority.
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
