package group

import (
	"time"

	"github.com/eddy-streaming/eddy/coord/internal/deadline"
)

// A timer is a deadline owned by a group, a member, a pending member or the
// coordinator, kept in the coordinator's deadline.Queue under a timerKey.
type timer = deadline.Timer

type timerKind uint8

const (
	kindJoin    timerKind = iota // group: rebalance timeout or initial delay
	kindSync                     // group: members that have not sent SyncGroup
	kindSession                  // member: session timeout
	kindPending                  // KIP-394 pending member: unused member id
	kindCleanup                  // coordinator: offset-retention sweep
)

// timerKey names a timer's owner.
type timerKey struct {
	kind   timerKind
	group  string
	member string
}

// arm sets t to fire at at.
func (c *Coordinator) arm(t *timer, at time.Time, kind timerKind, group, member string) {
	c.timers.Arm(t, at, timerKey{kind: kind, group: group, member: member})
}

// disarm cancels t.
func (c *Coordinator) disarm(t *timer) { c.timers.Disarm(t) }

// lookup finds the timer an entry was armed for, or nil if its owner is
// gone.
func (c *Coordinator) lookup(e timerKey) *timer {
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
