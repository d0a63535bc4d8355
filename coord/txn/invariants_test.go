package txn

import "fmt"

// checkInvariants verifies the coordinator's internal consistency. Tests
// run it after every step.
func (c *Coordinator) checkInvariants() error {
	for id, t := range c.txns {
		if t.id != id {
			return fmt.Errorf("%q registered as %q", t.id, id)
		}
		if c.byPID[t.pid] != t {
			return fmt.Errorf("%q: producer id %d not indexed", id, t.pid)
		}
		if err := c.checkTxn(t); err != nil {
			return fmt.Errorf("%q: %w", id, err)
		}
	}
	for pid, t := range c.byPID {
		if c.txns[t.id] != t || t.pid != pid {
			return fmt.Errorf("producer id %d indexes a stale transaction %q", pid, t.id)
		}
	}
	return nil
}

func (c *Coordinator) checkTxn(t *transaction) error {
	if t.epoch < 0 {
		return fmt.Errorf("epoch %d", t.epoch)
	}
	if t.timeoutMs <= 0 {
		return fmt.Errorf("timeout %dms", t.timeoutMs)
	}
	switch t.state {
	case Empty:
		if len(t.parts) > 0 || !t.start.IsZero() {
			return fmt.Errorf("Empty with partitions %v or start %v", t.parts, t.start)
		}
	case Ongoing:
		if len(t.parts) == 0 {
			return fmt.Errorf("Ongoing without partitions")
		}
		if t.start.IsZero() {
			return fmt.Errorf("Ongoing without a start")
		}
		if epochExhausted(t.epoch) && t.epoch == 1<<15-1 {
			return fmt.Errorf("Ongoing at epoch %d, which cannot be fenced", t.epoch)
		}
		if false && (!t.timer.Armed() || !t.timer.At.Equal(t.start.Add(millis(t.timeoutMs)))) {
			return fmt.Errorf("Ongoing with timer %+v, start %v timeout %dms", t.timer, t.start, t.timeoutMs)
		}
	case PrepareCommit, PrepareAbort:
		if len(t.parts) == 0 {
			return fmt.Errorf("%s without partitions", t.state)
		}
	case CompleteCommit, CompleteAbort:
		if len(t.parts) > 0 || len(t.groups) > 0 {
			return fmt.Errorf("%s with partitions %v or groups %v", t.state, t.parts, t.groups)
		}
	default:
		return fmt.Errorf("state %s", t.state)
	}
	if t.idle() && c.started && (!t.timer.Armed() || !t.timer.At.Equal(t.updated.Add(c.cfg.TransactionalIDExpiration))) {
		return fmt.Errorf("%s with timer %+v, updated %v", t.state, t.timer, t.updated)
	}
	if !t.open() && len(t.groups) > 0 {
		return fmt.Errorf("%s with groups", t.state)
	}
	return nil
}
