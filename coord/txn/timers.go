package txn

import (
	"time"

	"github.com/eddy-streaming/eddy/coord/internal/deadline"
)

// Each transactional id has at most one deadline: the transaction timeout
// while Ongoing, the id's expiry while Empty or Complete*, none while
// Prepare*. The coordinator's deadline.Queue holds them, keyed by id.
type timer = deadline.Timer

// arm sets t's timer to fire at at.
func (c *Coordinator) arm(t *transaction, at time.Time) { c.timers.Arm(&t.timer, at, t.id) }

// disarm cancels tm.
func (c *Coordinator) disarm(tm *timer) { c.timers.Disarm(tm) }

// lookup finds the timer of a transactional id, or nil if the id is gone.
func (c *Coordinator) lookup(id string) *timer {
	if t := c.txns[id]; t != nil {
		return &t.timer
	}
	return nil
}
