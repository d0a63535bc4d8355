package group

import "time"

// expireOffsets is the offset-retention sweep (Kafka's cleanupGroupMetadata):
// it deletes the offsets whose retention passed, then every Empty group
// left without offsets.
//
// An offset with an explicit expiry (OffsetCommit v2-v4) expires then.
// Otherwise OffsetsRetention counts from when the group became Empty, from
// the commit for a simple group (no protocol type), and, in a Stable
// consumer group, from the commit for topics no member subscribes to
// (KIP-496). Other offsets do not expire. An offset does not expire while
// an open transaction has an offset pending for its partition, nor is a
// group removed while it has pending offsets (as Kafka's
// OffsetMetadataManager.cleanupExpiredOffsets).
func (c *Coordinator) expireOffsets() {
	for _, g := range c.sortedGroups() {
		base := c.expiryBase(g)
		if base == nil {
			continue
		}
		all := len(c.txnGroups[g.name]) == 0
		for _, topic := range sortedKeys(g.offsets) {
			if g.state != Empty && g.isSubscribed(topic) {
				all = false
				continue
			}
			for _, p := range sortedKeys(g.offsets[topic]) {
				o := g.offsets[topic][p]
				if c.expired(o, base(o)) && !c.hasTxnOffset(g.name, topic, p) {
					c.deleteOffset(g, topic, p)
				} else {
					all = false
				}
			}
		}
		if all && g.state == Empty {
			c.removeGroup(g)
		}
	}
}

// expiryBase returns from when an offset's retention counts, or nil if the
// group's offsets do not expire now.
func (c *Coordinator) expiryBase(g *group) func(*offset) time.Time {
	commit := func(o *offset) time.Time { return o.commitTime }
	switch {
	case g.protocolType == "":
		return commit
	case g.state == Empty:
		if g.stateSince.IsZero() { // restored from a version 0-1 record
			return commit
		}
		return func(*offset) time.Time { return g.stateSince }
	case g.state == Stable && g.protocolType == consumerProtocolType && g.subscribedKnown:
		return commit
	}
	return nil
}

func (c *Coordinator) expired(o *offset, base time.Time) bool {
	if !o.expireTime.IsZero() {
		return !c.now.Before(o.expireTime)
	}
	return c.now.Sub(base) >= c.cfg.OffsetsRetention
}
