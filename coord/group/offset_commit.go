package group

// OffsetCommit (key 8), v0-v9.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetCommit serves OffsetCommit v0-v9. Each accepted partition's offset
// is stored and written as an offset record; the reply is meant to be sent
// only once those records are durable.
//
// A member commits with its member id and the current generation, in
// PreparingRebalance or Stable (which also counts as a heartbeat). A
// "simple" commit, with generation -1 and no member id (v0, admin tools,
// consumers that assign partitions themselves), is only accepted while the
// group has no members, and creates the group if needed; such a group has
// no protocol type. v2-v4's retention time sets an explicit expiry (as
// Kafka, the record then uses value version 1); v1's per-partition
// timestamp replaces the commit time. A nil metadata string is stored as
// "".
//
// A partition may also have offsets pending in open transactions
// (TxnOffsetCommit): the commit is seen at once all the same, and stays
// when such a transaction commits, whose offset was written before it (see
// CompleteTransaction).
//
// Errors, on every partition: ILLEGAL_GENERATION (also, before v9, for a
// non-simple commit to an unknown group), GROUP_ID_NOT_FOUND (v9+, a
// non-simple commit to an unknown group), UNKNOWN_MEMBER_ID,
// FENCED_INSTANCE_ID, REBALANCE_IN_PROGRESS (during CompletingRebalance);
// per partition: OFFSET_METADATA_TOO_LARGE. The broker answers
// UNKNOWN_TOPIC_OR_PARTITION for partitions that do not exist, without
// passing them on.
func (c *Coordinator) OffsetCommit(now time.Time, req *kmsg.OffsetCommitRequest, to ReplyTo) Output {
	c.begin(now)
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	code, codes := c.offsetCommit(req)
	for i, rt := range req.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for j, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = code
			if codes != nil {
				sp.ErrorCode = codes[i][j]
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	c.reply(to, resp)
	return c.flush()
}

// offsetCommit stores what it can. It returns either an error code for
// every partition, or (with codes non-nil) one per partition, indexed like
// the request.
func (c *Coordinator) offsetCommit(req *kmsg.OffsetCommitRequest) (code int16, codes [][]int16) {
	g := c.groups[req.Group]
	if g == nil {
		switch {
		case req.Generation < 0:
			g = c.newGroup(req.Group)
			defer c.dropIfUnused(g)
		case req.Version >= 9:
			return kerr.GroupIDNotFound.Code, nil
		default:
			return kerr.IllegalGeneration.Code, nil
		}
	}
	if code := c.validateOffsetCommit(g, req); code != 0 {
		return code, nil
	}

	var expire time.Time
	if req.Version >= 2 && req.Version <= 4 && req.RetentionTimeMillis != -1 {
		expire = c.now.Add(time.Duration(req.RetentionTimeMillis) * time.Millisecond)
	}
	codes = make([][]int16, len(req.Topics))
	for i, rt := range req.Topics {
		codes[i] = make([]int16, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			md := ""
			if rp.Metadata != nil {
				md = *rp.Metadata
			}
			if len(md) > c.cfg.MaxOffsetMetadataBytes {
				codes[i][j] = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			o := &offset{
				offset:      rp.Offset,
				leaderEpoch: rp.LeaderEpoch,
				metadata:    md,
				commitTime:  c.now,
				expireTime:  expire,
			}
			if req.Version == 1 && rp.Timestamp != -1 {
				o.commitTime = time.UnixMilli(rp.Timestamp)
			}
			if req.Version < 6 {
				o.leaderEpoch = -1
			}
			c.storeOffset(g, rt.Topic, rp.Partition, o)
		}
	}
	if m := g.byID[req.MemberID]; m != nil && (g.state == Stable || g.state == PreparingRebalance) {
		c.arm(&m.session, c.now.Add(m.sessionTimeout), kindSession, g.name, m.id)
	}
	return 0, codes
}

// validateOffsetCommit is Kafka's ClassicGroup.validateOffsetCommit.
func (c *Coordinator) validateOffsetCommit(g *group, req *kmsg.OffsetCommitRequest) int16 {
	if req.Generation < 0 && g.state == Empty {
		return 0 // a simple commit
	}
	if req.Generation >= 0 || req.MemberID != "" || req.InstanceID != nil {
		if code := g.validateMember(req.MemberID, req.InstanceID); code != 0 {
			return code
		}
		if req.Generation != g.generation {
			return kerr.IllegalGeneration.Code
		}
	} else if g.state != Empty {
		return kerr.UnknownMemberID.Code // a simple commit to a group with members
	}
	if g.state == CompletingRebalance {
		return kerr.RebalanceInProgress.Code
	}
	return 0
}

// storeOffset keeps o and writes its record.
func (c *Coordinator) storeOffset(g *group, topic string, partition int32, o *offset) {
	ps := g.offsets[topic]
	if ps == nil {
		ps = make(map[int32]*offset)
		g.offsets[topic] = ps
	}
	ps[partition] = o
	o.pos = c.record(offsetKey(g.name, topic, partition), offsetValue(o))
}

// deleteOffset forgets an offset and writes its tombstone.
func (c *Coordinator) deleteOffset(g *group, topic string, partition int32) {
	ps := g.offsets[topic]
	if _, ok := ps[partition]; !ok {
		return
	}
	delete(ps, partition)
	if len(ps) == 0 {
		delete(g.offsets, topic)
	}
	c.record(offsetKey(g.name, topic, partition), nil)
}
