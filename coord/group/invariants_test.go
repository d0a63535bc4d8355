package group

import (
	"fmt"
	"maps"
)

// checkInvariants verifies the coordinator's internal consistency. Tests
// run it after every step.
func (c *Coordinator) checkInvariants() error {
	for name, g := range c.groups {
		if err := c.checkGroup(g); err != nil {
			return fmt.Errorf("group %q: %w", name, err)
		}
		if g.name != name {
			return fmt.Errorf("group %q registered as %q", g.name, name)
		}
	}
	if c.started && !c.cleanup.Armed() {
		return fmt.Errorf("retention sweep not armed")
	}
	return c.checkTxnOffsets()
}

// checkTxnOffsets verifies the two indexes of pending transactional
// offsets against each other: no empty maps, every offset positioned in
// the log, and every group with pending offsets registered.
func (c *Coordinator) checkTxnOffsets() error {
	n := 0
	for pid, byGroup := range c.txnOffsets {
		if len(byGroup) == 0 {
			return fmt.Errorf("producer %d: no pending groups", pid)
		}
		for name, byTopic := range byGroup {
			if _, ok := c.txnGroups[name][pid]; !ok {
				return fmt.Errorf("producer %d: group %q not indexed", pid, name)
			}
			if c.groups[name] == nil {
				return fmt.Errorf("producer %d: pending offsets in unknown group %q", pid, name)
			}
			n++
			if len(byTopic) == 0 {
				return fmt.Errorf("producer %d: group %q: no pending topics", pid, name)
			}
			for topic, ps := range byTopic {
				if len(ps) == 0 {
					return fmt.Errorf("producer %d: group %q: topic %q: no pending partitions", pid, name, topic)
				}
				for p, o := range ps {
					if o.pos == 0 || o.pos > c.pos {
						return fmt.Errorf("producer %d: %s %s:%d at log position %d of %d", pid, name, topic, p, o.pos, c.pos)
					}
				}
			}
		}
	}
	m := 0
	for name, pids := range c.txnGroups {
		if len(pids) == 0 {
			return fmt.Errorf("group %q: empty producer set", name)
		}
		m += len(pids)
	}
	if n != m {
		return fmt.Errorf("%d (producer, group) pairs pending, %d indexed", n, m)
	}
	return nil
}

func (c *Coordinator) checkGroup(g *group) error {
	if g.state == Dead {
		return fmt.Errorf("dead group still registered")
	}
	if len(g.byID) != len(g.members) {
		return fmt.Errorf("%d members by id, %d in order", len(g.byID), len(g.members))
	}
	counts := map[string]int{}
	awaiting := 0
	static := map[string]string{}
	for _, m := range g.members {
		if g.byID[m.id] != m {
			return fmt.Errorf("member %s not indexed", m.id)
		}
		if _, ok := g.pending[m.id]; ok {
			return fmt.Errorf("member %s also pending", m.id)
		}
		for _, p := range m.protocols {
			counts[p.name]++
		}
		if m.join != nil {
			awaiting++
			if g.state != PreparingRebalance {
				return fmt.Errorf("member %s has a JoinGroup parked in %s", m.id, g.state)
			}
		}
		if m.sync != nil && g.state != CompletingRebalance {
			return fmt.Errorf("member %s has a SyncGroup parked in %s", m.id, g.state)
		}
		if c.started && !m.session.Armed() && m.join == nil && m.sync == nil {
			return fmt.Errorf("member %s has no session timer", m.id)
		}
		if m.protocolType != g.protocolType {
			return fmt.Errorf("member %s protocol type %q, group %q", m.id, m.protocolType, g.protocolType)
		}
		if m.instanceID != nil {
			static[*m.instanceID] = m.id
		}
		if g.state == Stable && m.assignment == nil {
			return fmt.Errorf("member %s of a Stable group has no assignment", m.id)
		}
		if (g.state == CompletingRebalance || g.state == Stable) && !m.supports(g.protocol) {
			return fmt.Errorf("member %s does not support the group's protocol %q", m.id, g.protocol)
		}
	}
	if !maps.Equal(counts, g.protocolCount) && !(len(counts) == 0 && len(g.protocolCount) == 0) {
		return fmt.Errorf("protocol counts %v, want %v", g.protocolCount, counts)
	}
	if awaiting != g.awaitingJoin {
		return fmt.Errorf("awaitingJoin %d, %d parked", g.awaitingJoin, awaiting)
	}
	if !maps.Equal(static, g.static) && !(len(static) == 0 && len(g.static) == 0) {
		return fmt.Errorf("static members %v, want %v", g.static, static)
	}
	switch {
	case len(g.members) == 0 && g.leader != "":
		return fmt.Errorf("leader %s of no members", g.leader)
	case len(g.members) > 0 && g.byID[g.leader] == nil:
		return fmt.Errorf("leader %q is not a member", g.leader)
	}
	switch g.state {
	case Empty:
		if len(g.members) > 0 {
			return fmt.Errorf("Empty with %d members", len(g.members))
		}
	case PreparingRebalance:
		if c.started && !g.joinTimer.Armed() {
			return fmt.Errorf("PreparingRebalance without a join timer")
		}
	case CompletingRebalance, Stable:
		if len(g.members) == 0 {
			return fmt.Errorf("%s without members", g.state)
		}
		if g.protocol == "" {
			return fmt.Errorf("%s without a protocol", g.state)
		}
		if len(g.pendingSync) > 0 && (!g.syncTimer.Armed() || g.syncGen != g.generation) {
			return fmt.Errorf("members %v pending sync without a timer", g.pendingSync)
		}
		if g.joinTimer.Armed() {
			return fmt.Errorf("%s with a join timer", g.state)
		}
	}
	for id := range g.pendingSync {
		if g.byID[id] == nil {
			return fmt.Errorf("pending sync %s is not a member", id)
		}
	}
	for id, p := range g.pending {
		if p.id != id || (c.started && !p.session.Armed()) {
			return fmt.Errorf("pending member %s broken", id)
		}
	}
	return nil
}

func (m *member) supports(proto string) bool {
	for _, p := range m.protocols {
		if p.name == proto {
			return true
		}
	}
	return false
}
